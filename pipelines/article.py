"""What the per-page core makes of a page that holds an article: plain data, for the
archive, a crawl's feed export or `newsarchive extract` alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RecordLocation:
    """Where a page's WARC record starts: `path` is relative to the WARC directory, or
    absolute."""

    path: str
    offset: int

    def resolve(self, warc_dir: Path) -> Path:
        return warc_dir / self.path


@dataclass(slots=True)
class ExtractedArticle:
    """An article as extracted from one fetch of its page."""

    url: str
    site: str
    fetched_at: dt.datetime
    requested_urls: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    warc_location: RecordLocation | None = None
    canonical_url: str = ""
    title: str = ""
    text: str = field(default="", repr=False)
    author: str | None = None
    published: dt.date | None = None
    lang: str = ""
    title_lang: str = ""
    alternates: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""
    minhash: bytes | None = field(default=None, repr=False)
