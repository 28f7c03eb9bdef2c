"""The raw archive: fetched pages kept as standard WARC records, and read back.

Crawls write one gzip-compressed WARC file per run; the archive database remembers the
file and offset of each article's response record, so extraction can run again later
without the network, and WARC files of other crawlers can be ingested the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# The body handed to us is already decoded, so these headers would describe it wrongly.
DROPPED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


@dataclass(frozen=True, slots=True)
class RecordLocation:
    path: str
    offset: int


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """An HTTP response as a WARC response record holds it."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: dt.datetime
    location: RecordLocation

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value
        return ""


class WarcFile:
    """Appends request/response record pairs to one gzip-compressed WARC file."""

    def __init__(self, path: Path, software: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._stream: BinaryIO = path.open("ab")
        self._writer = WARCWriter(self._stream, gzip=True)
        info = self._writer.create_warcinfo_record(path.name, {"software": software})
        self._writer.write_record(info)

    def write(
        self,
        url: str,
        request_headers: list[tuple[str, str]],
        method: str,
        status: int,
        reason: str,
        response_headers: list[tuple[str, str]],
        body: bytes,
    ) -> RecordLocation:
        """Write one exchange; returns where its response record starts."""
        headers = [(k, v) for k, v in response_headers if k.lower() not in DROPPED_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        response = self._writer.create_warc_record(
            url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(f"{status} {reason}", headers, protocol="HTTP/1.1"),
        )
        target = url.split("://", 1)[-1].partition("/")[2]
        request = self._writer.create_warc_record(
            url,
            "request",
            payload=BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(
                f"{method} /{target} HTTP/1.1", request_headers, is_http_request=True
            ),
        )
        request.rec_headers.add_header(
            "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
        )
        offset = self._stream.tell()
        self._writer.write_record(response)
        self._writer.write_record(request)
        self._stream.flush()
        return RecordLocation(str(self.path), offset)

    def close(self) -> None:
        self._stream.close()


def _page(record, path: str, offset: Callable[[], int]) -> FetchedPage:
    """A response record as a page. The body is read first: a reader knows a record's
    offset only once it has passed the record."""
    body = record.content_stream().read()
    location = RecordLocation(path, offset())
    date = record.rec_headers.get_header("WARC-Date") or ""
    try:
        fetched_at = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        fetched_at = dt.datetime.now(dt.UTC)
    http = record.http_headers
    return FetchedPage(
        url=record.rec_headers.get_header("WARC-Target-URI") or "",
        status=int(http.get_statuscode() or 0) if http else 0,
        headers=list(http.headers) if http else [],
        body=body,
        fetched_at=fetched_at,
        location=location,
    )


def read_response(location: RecordLocation) -> FetchedPage:
    """The response record at `location`; OSError or ValueError if it is not there."""
    with open(location.path, "rb") as stream:
        stream.seek(location.offset)
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                raise ValueError(f"no response record at {location.path}:{location.offset}")
            return _page(record, location.path, lambda: location.offset)
    raise ValueError(f"no record at {location.path}:{location.offset}")


def iter_responses(path: Path) -> Iterator[FetchedPage]:
    """The HTTP response records of a WARC (or ARC) file, gzip-compressed or not."""
    with path.open("rb") as stream:
        records = ArchiveIterator(stream, arc2warc=True)
        for record in records:
            if record.rec_type == "response" and record.http_headers is not None:
                yield _page(record, str(path.resolve()), records.get_record_offset)
