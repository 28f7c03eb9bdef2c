"""Finding the pages of a portal: feeds, sitemaps and robots.txt (the links of a page are
pipelines.links)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import feedparser
import lxml.etree
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from pipelines.links import FEED_TYPES
from pipelines.urls import canonical_url, is_http_url, linked_url

# What of a feed is parsed: feedparser spends some 50 µs on a tag and 5 µs on an entity
# reference (10 MB of them would hold the crawl for minutes), and the first 10,000 tags of a
# feed hold some 500 entries. A feed is read up to its tag number MAX_FEED_TAGS + 1 or its
# entity number MAX_FEED_ENTITIES + 1, whichever comes first.
MAX_FEED_TAGS = 10_000
MAX_FEED_ENTITIES = 50_000
# Items of a JSON feed read: as many as fit in MAX_FEED_TAGS tags of an XML feed.
MAX_FEED_ENTRIES = MAX_FEED_TAGS // 4
# The first element of a feed, after its XML declaration, comments and doctype. An RDF
# document is a feed (RSS 0.90 or 1.0) when its head names an RSS namespace.
FEED_ROOT = re.compile(
    rb"(?:\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*"
    rb"<(rss|(?:[\w.-]+:)?feed|(?:[\w.-]+:)?RDF)[\s/>]",
    re.S,
)
RSS_NAMESPACES = (b"http://purl.org/rss/1.0/", b"http://my.netscape.com/rdf/simple/0.9/")
JSON_FEED = b"jsonfeed.org/version/"
SNIFFED_BYTES = 2048
# What a gzip sitemap is unpacked to at most: the crawl's DOWNLOAD_MAXSIZE.
MAX_SITEMAP_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FeedEntry:
    url: str
    published: dt.datetime | None = None


def _head(body: bytes) -> bytes:
    """The first bytes of a body, without a byte order mark and leading white space."""
    return body[:SNIFFED_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip()


def _entry_url(feed_url: str, link: object) -> str | None:
    target = linked_url(feed_url, link) if isinstance(link, str) else None
    return target if target and is_http_url(target) else None


def _cut_before(body: bytes, mark: bytes, count: int) -> bytes:
    """`body` cut before its occurrence number `count + 1` of `mark` (`<` for a tag, `&` for
    an entity reference)."""
    if body.count(mark) <= count:
        return body
    position = -1
    for _ in range(count + 1):
        position = body.find(mark, position + 1)
    return body[:position]


def _utc(parsed: time.struct_time | None) -> dt.datetime | None:
    try:
        return dt.datetime(*parsed[:6], tzinfo=dt.UTC) if parsed else None
    except ValueError:
        return None


def _xml_feed_entries(body: bytes, url: str) -> list[FeedEntry]:
    body = _cut_before(_cut_before(body, b"<", MAX_FEED_TAGS), b"&", MAX_FEED_ENTITIES)
    # A string would be opened as a file name or fetched as a URL: the body goes in as a
    # stream. Only links and dates are read, so the entries' HTML is left as it is.
    feed = feedparser.parse(io.BytesIO(body), resolve_relative_uris=False, sanitize_html=False)
    entries = []
    for entry in feed.entries:
        # An entry without a link may still be named by its URL (RSS 1.0's rdf:about, a guid).
        if target := _entry_url(url, entry.get("link") or entry.get("id")):
            published = _utc(entry.get("published_parsed") or entry.get("updated_parsed"))
            entries.append(FeedEntry(target, published))
    return entries


def _json_date(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        date = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return date if date.tzinfo else date.replace(tzinfo=dt.UTC)


def _json_feed_entries(body: bytes, url: str) -> list[FeedEntry]:
    """Entries of a JSON Feed (jsonfeed.org), which feedparser does not read."""
    try:
        feed = json.loads(body)
    except (ValueError, RecursionError):
        return []
    items = feed.get("items") if isinstance(feed, dict) else None
    entries = []
    for item in items[:MAX_FEED_ENTRIES] if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        if target := _entry_url(url, item.get("url") or item.get("external_url")):
            published = _json_date(item.get("date_published") or item.get("date_modified"))
            entries.append(FeedEntry(target, published))
    return entries


def feed_entries(body: bytes, url: str) -> list[FeedEntry]:
    """Entries of an RSS (0.9x, 1.0, 2.0), Atom or JSON feed: their http(s) links, resolved
    against the feed's URL, and their publication dates (aware; UTC when the feed gives no
    offset). Only the head of a large feed is read (MAX_FEED_TAGS); an unparseable feed has
    none."""
    if _head(body).startswith(b"{"):
        return _json_feed_entries(body, url)
    return _xml_feed_entries(body, url)


def is_feed(body: bytes, content_type: str) -> bool:
    """Whether a response is a feed, by its content type or by its first element: feeds
    are often served as text/xml, or even as text/html."""
    if content_type.split(";", 1)[0].strip().lower() in FEED_TYPES:
        return True
    head = _head(body)
    if head.startswith(b"{"):
        return JSON_FEED in head
    root = FEED_ROOT.match(head)
    if root is None:
        return False
    return not root[1].endswith(b"RDF") or any(name in head for name in RSS_NAMESPACES)


@dataclass(slots=True)
class SitemapContent:
    sitemaps: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    # Whether the sitemap listed more entries than were taken.
    truncated: bool = False


def _gunzipped(body: bytes, max_size: int) -> bytes:
    """What a gzip file unpacks to, up to `max_size` bytes (a gzip bomb costs no more); of a
    damaged or cut file, what comes before the damage."""
    unpacked = io.BytesIO()
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as file:
        while unpacked.tell() < max_size:
            try:
                chunk = file.read1(max_size - unpacked.tell())
            except (OSError, EOFError, zlib.error):
                break
            if not chunk:
                break
            unpacked.write(chunk)
    return unpacked.getvalue()


def sitemap_content(body: bytes, limit: int, max_size: int = MAX_SITEMAP_BYTES) -> SitemapContent:
    """Child sitemaps of a sitemap index, or page URLs of a urlset: at most `limit`.

    A gzip sitemap (`.xml.gz`, served without Content-Encoding, so still packed) is read
    up to its first `max_size` bytes unpacked; one that unpacks to more is truncated."""
    content = SitemapContent()
    if body[:2] == b"\x1f\x8b":
        body = _gunzipped(body, max_size)
        content.truncated = len(body) >= max_size
    try:
        sitemap = Sitemap(body)
    except (lxml.etree.XMLSyntaxError, StopIteration):
        return content
    target = content.sitemaps if sitemap.type == "sitemapindex" else content.pages
    for entry in sitemap:
        if len(target) >= limit:
            content.truncated = True
            break
        if is_http_url(entry.get("loc", "")):
            target.append(canonical_url(entry["loc"]))
    return content


def robots_sitemaps(body: bytes, url: str) -> Iterator[str]:
    return (canonical_url(u) for u in sitemap_urls_from_robots(body, base_url=url) if u)
