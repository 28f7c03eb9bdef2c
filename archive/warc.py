"""The raw archive: fetched pages kept as standard WARC records, and read back.

Crawls write one gzip-compressed WARC file per run; the archive database remembers the
file and offset of each article's response record, so extraction can run again later
without the network, and WARC files of other crawlers can be ingested the same way.

Reading checks every record: a gzip member that is cut short or corrupt, a record shorter
than its Content-Length, or bytes that are no record at all make a damaged stretch. The
reader reports it and reads on from the next record it can find.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from zlib_ng import zlib_ng as zlib

from pipelines.article import RecordLocation

# The body handed to us is already decoded, so these headers would describe it wrongly.
DROPPED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
GZIP_MAGIC = b"\x1f\x8b\x08"
RECORD_STARTS = (GZIP_MAGIC, b"WARC/1.", b"WARC/0.")
CHUNK = 1 << 14
COMPRESSION_LEVEL = 6
LOADER = ArcWarcRecordLoader(verify_http=False, arc2warc=True)


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


class DamagedRecord(ValueError):
    """The bytes at an offset are not a complete, readable record."""


@dataclass(frozen=True, slots=True)
class Damage:
    """An unreadable stretch of a WARC file: where it starts, why, where reading resumed."""

    offset: int
    problem: str
    resumed_at: int | None


class UnreadableWarc(ValueError):
    """A WARC file that could not be read whole; raised after its readable records."""


def _damage_report(path: Path, damages: list[Damage]) -> str:
    first = damages[0]
    where = f"at byte {first.offset} ({first.problem})"
    where = (
        f"{len(damages)} damaged stretches, the first {where}"
        if damages[1:]
        else f"damaged {where}"
    )
    last = damages[-1].resumed_at
    after = f"read on from byte {last}" if last is not None else "nothing readable after it"
    return f"{path}: {where}; {after}"


class WarcFile:
    """Appends request/response record pairs to one gzip-compressed WARC file.

    Each exchange is written whole or not at all: after a failed write (a full disk, a
    file-size limit) the file is cut back to where the exchange began and the OSError
    is raised.
    """

    def __init__(self, directory: Path, name: str, software: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / name
        self.name = name
        self._file = self.path.open("ab", buffering=0)
        self._buffer = BytesIO()
        self._record = BytesIO()
        self._writer = WARCWriter(self._record, gzip=False)
        self._write_record(self._writer.create_warcinfo_record(name, {"software": software}))
        self._append()

    def _write_record(self, record: ArcWarcRecord) -> None:
        """Append one record to the buffer as a gzip member of its own, compressed with
        zlib-ng (the same stream as zlib's, at half its CPU time) at level 6 (warcio would
        compress at level 9: twice the time for a file 1% smaller)."""
        self._writer.write_record(record)
        compressor = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._buffer.write(compressor.compress(self._record.getvalue()) + compressor.flush())
        self._record.seek(0)
        self._record.truncate()

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
        self._write_record(response)
        self._write_record(request)
        return RecordLocation(self.name, self._append())

    def _append(self) -> int:
        """Appends the buffered records to the file; returns the offset they start at."""
        data = memoryview(self._buffer.getvalue())
        self._buffer.seek(0)
        self._buffer.truncate()
        offset = self._file.seek(0, 2)
        try:
            while data:
                data = data[self._file.write(data) :]
        except OSError:
            self._file.truncate(offset)
            raise
        return offset

    def close(self) -> None:
        self._file.close()


def _read_member(stream: BinaryIO, offset: int) -> tuple[BytesIO, int]:
    """The decompressed gzip member at `offset`, and the offset after it."""
    stream.seek(offset)
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    parts = []
    end = offset
    while not decompressor.eof:
        chunk = stream.read(CHUNK)
        if not chunk:
            raise DamagedRecord("gzip data cut short")
        end += len(chunk)
        try:
            parts.append(decompressor.decompress(chunk))
        except zlib.error as exc:
            raise DamagedRecord(f"corrupt gzip data: {exc}") from None
    return BytesIO(b"".join(parts)), end - len(decompressor.unused_data)


def _skip_blank_lines(stream: BinaryIO) -> None:
    while True:
        position = stream.tell()
        line = stream.readline()
        if not line or line.strip():
            stream.seek(position)
            return


def _parse_record(stream: BinaryIO) -> tuple[ArcWarcRecord, bytes]:
    """The record at the stream's position and its content, read to its end."""
    try:
        record = LOADER.parse_record_stream(stream)
    except Exception:  # warcio fails on malformed bytes in many ways
        raise DamagedRecord("not a WARC or ARC record") from None
    if not (record.rec_headers.get_header("Content-Length") or "").strip().isdigit():
        raise DamagedRecord("not a WARC or ARC record")
    wanted = record.rec_type == "response" and record.http_headers is not None
    content = record.content_stream().read() if wanted else b""
    while record.raw_stream.read(CHUNK):
        pass
    if record.raw_stream.limit:
        raise DamagedRecord(f"record cut short, {record.raw_stream.limit} bytes missing")
    _skip_blank_lines(stream)
    return record, content


def _read_record(stream: BinaryIO, offset: int) -> tuple[ArcWarcRecord, bytes, int]:
    """The record at `offset`, its content, and the offset of the next record."""
    stream.seek(offset)
    if stream.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
        stream.seek(offset)
        record, content = _parse_record(stream)
        return record, content, stream.tell()
    member, end = _read_member(stream, offset)
    record, content = _parse_record(member)
    if member.read(1):
        raise DamagedRecord("more than one record in a gzip member")
    return record, content, end


def _next_record_start(stream: BinaryIO, start: int) -> int | None:
    """The offset of the first gzip member or WARC header at or after `start`."""
    stream.seek(start)
    position, tail = start, b""
    while chunk := stream.read(CHUNK):
        window = tail + chunk
        found = [i for i in (window.find(magic) for magic in RECORD_STARTS) if i >= 0]
        if found:
            return position - len(tail) + min(found)
        position += len(chunk)
        tail = window[-8:]
    return None


def _page(record: ArcWarcRecord, body: bytes, location: RecordLocation) -> FetchedPage:
    date = record.rec_headers.get_header("WARC-Date") or ""
    try:
        fetched_at = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        fetched_at = dt.datetime.now(dt.UTC)
    http = record.http_headers
    return FetchedPage(
        url=record.rec_headers.get_header("WARC-Target-URI") or "",
        status=int(http.get_statuscode() or 0),
        headers=list(http.headers),
        body=body,
        fetched_at=fetched_at,
        location=location,
    )


def read_response(location: RecordLocation, warc_dir: Path) -> FetchedPage:
    """The response record at `location`; OSError or ValueError if it is not there whole."""
    path = location.resolve(warc_dir)
    with path.open("rb") as stream:
        if location.offset >= stream.seek(0, 2):
            raise ValueError(f"{path} ends before byte {location.offset}")
        try:
            record, body, _ = _read_record(stream, location.offset)
        except DamagedRecord as exc:
            raise DamagedRecord(f"{path} at byte {location.offset}: {exc}") from None
    if record.rec_type != "response" or record.http_headers is None:
        raise ValueError(f"no response record in {path} at byte {location.offset}")
    return _page(record, body, location)


def _responses(stream: BinaryIO, name: str) -> Generator[FetchedPage, None, list[Damage]]:
    """The response records of a WARC stream; returns the damaged stretches it skipped."""
    damages: list[Damage] = []
    size = stream.seek(0, 2)
    offset = 0
    problem: tuple[int, str] | None = None
    while offset < size:
        try:
            record, body, end = _read_record(stream, offset)
        except DamagedRecord as exc:
            problem = problem or (offset, str(exc))
            resume = _next_record_start(stream, offset + 1)
            if resume is None:
                damages.append(Damage(*problem, None))
                break
            offset = resume
            continue
        if problem is not None:
            damages.append(Damage(*problem, offset))
            problem = None
        if record.rec_type == "response" and record.http_headers is not None:
            yield _page(record, body, RecordLocation(name, offset))
        offset = end
    return damages


def iter_responses(path: Path) -> Iterator[FetchedPage]:
    """The HTTP response records of a WARC (or ARC) file, gzip-compressed or not.

    Damaged stretches are skipped; once every readable record has been yielded,
    UnreadableWarc says where they were, in one line. Locations carry the absolute path.
    """
    try:
        with path.open("rb") as stream:
            damages = yield from _responses(stream, str(path.resolve()))
    except OSError as exc:
        raise UnreadableWarc(f"cannot read {path}: {exc.strerror or exc}") from None
    if damages:
        raise UnreadableWarc(_damage_report(path, damages))
