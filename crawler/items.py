"""The items that travel from the spider through the pipelines into the archive."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lxml.html import HtmlElement

from archive.warc import RecordLocation


@dataclass(slots=True)
class ArticleItem:
    """A fetched page; the pipeline stages fill in the article fields one by one."""

    url: str
    html: str = field(repr=False)
    site: str
    fetched_at: dt.datetime
    requested_urls: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    listing_published: dt.date | None = None
    warc_location: RecordLocation | None = None
    timezone: str = "Europe/Moscow"
    drop_selectors: tuple[str, ...] = ()
    template: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    tree: HtmlElement | None = field(default=None, repr=False, compare=False)
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


@dataclass(slots=True)
class FetchFailure:
    """A page that could not be fetched, recorded with the crawl run."""

    url: str
    reason: str
    status: int | None = None
    # Whether the log has said it already (one line for all pages of an unreachable host).
    logged: bool = False


@dataclass(slots=True)
class KnownArticleUnchanged:
    """An archived article that answered a revisit with 304 Not Modified."""

    url: str
    fetched_at: dt.datetime
