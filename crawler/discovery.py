"""Finding the pages of a portal: links of a page, feeds, sitemaps and robots.txt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import lxml.etree
from lxml.html import HtmlElement
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from pipelines.urls import canonical_url, is_http_url, linked_url

SKIPPED_EXTENSIONS = tuple(f".{ext}" for ext in (*IGNORED_EXTENSIONS, "json", "xml", "rss"))
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass(slots=True)
class PageLinks:
    pages: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    # Whether the page linked to more URLs than were taken.
    truncated: bool = False


def _is_page_url(url: str) -> bool:
    if not is_http_url(url):
        return False
    path = urlsplit(url).path.lower()
    return not path.endswith(SKIPPED_EXTENSIONS)


def page_links(tree: HtmlElement, url: str, limit: int) -> PageLinks:
    """Page URLs a page links to (anchors, hreflang alternates, rel=next) and its feeds,
    the first `limit` distinct ones in document order. A repeated href costs a set look-up,
    so a page of a million links costs one pass over them."""
    base = url
    for element in tree.iterfind(".//head/base[@href]"):
        base = linked_url(url, element.get("href", "").strip()) or url
    found = PageLinks()
    hrefs: set[str] = set()
    seen: set[str] = set()
    for element in tree.iter("a", "area", "link"):
        href = (element.get("href") or "").strip()
        if not href or href in hrefs or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        hrefs.add(href)
        target = linked_url(base, href)
        if target is None or target in seen:
            continue
        if len(seen) >= limit:
            found.truncated = True
            break
        if element.tag == "link":
            rel = (element.get("rel") or "").lower().split()
            if "alternate" in rel and (element.get("type") or "").lower() in FEED_TYPES:
                seen.add(target)
                found.feeds.append(target)
            elif ("alternate" in rel and element.get("hreflang")) or "next" in rel:
                seen.add(target)
                if _is_page_url(target):
                    found.pages.append(target)
            continue
        seen.add(target)
        if _is_page_url(target):
            found.pages.append(target)
    return found


@dataclass(frozen=True, slots=True)
class FeedEntry:
    url: str
    published: dt.datetime | None = None


def _feed_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    value = value.strip()
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        pass
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def feed_entries(body: bytes, url: str) -> list[FeedEntry]:
    """Entries of an RSS or Atom feed; an unparseable feed has none."""
    try:
        root = lxml.etree.fromstring(
            body, parser=lxml.etree.XMLParser(recover=True, resolve_entities=False)
        )
    except lxml.etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    entries = []
    for item in root.iter("item"):
        link = (item.findtext("link") or item.findtext("guid") or "").strip()
        if link and (target := linked_url(url, link)):
            published = _feed_date(item.findtext("pubDate"))
            entries.append(FeedEntry(target, published))
    for entry in root.iter(f"{ATOM}entry"):
        links = entry.findall(f"{ATOM}link")
        hrefs = [ln.get("href") for ln in links if ln.get("rel", "alternate") == "alternate"]
        if hrefs and hrefs[0] and (target := linked_url(url, hrefs[0])):
            published = _feed_date(
                entry.findtext(f"{ATOM}published") or entry.findtext(f"{ATOM}updated")
            )
            entries.append(FeedEntry(target, published))
    return entries


def is_feed(body: bytes, content_type: str) -> bool:
    content_type = content_type.lower()
    if any(kind in content_type for kind in ("rss", "atom")):
        return True
    head = body[:512].lstrip().lower()
    return head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head)


@dataclass(slots=True)
class SitemapContent:
    sitemaps: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    # Whether the sitemap listed more entries than were taken.
    truncated: bool = False


def sitemap_content(body: bytes, limit: int) -> SitemapContent:
    """Child sitemaps of a sitemap index, or page URLs of a urlset: at most `limit`."""
    content = SitemapContent()
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
