"""Finding the pages of a portal: links of a page, feeds, sitemaps and robots.txt."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import lxml.etree
from lxml.html import HtmlElement
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots

from pipelines.urls import canonical_url, is_http_url

SKIPPED_EXTENSIONS = tuple(f".{ext}" for ext in (*IGNORED_EXTENSIONS, "json", "xml", "rss"))
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass(slots=True)
class PageLinks:
    pages: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)


def _is_page_url(url: str) -> bool:
    if not is_http_url(url):
        return False
    path = urlsplit(url).path.lower()
    return not path.endswith(SKIPPED_EXTENSIONS)


def page_links(tree: HtmlElement, url: str) -> PageLinks:
    """Page URLs a page links to (anchors, hreflang alternates, rel=next) and its feeds."""
    base = url
    for element in tree.iterfind(".//head/base[@href]"):
        base = urljoin(url, element.get("href", "").strip())
    found = PageLinks()
    seen: set[str] = set()
    for element in tree.xpath("//a[@href] | //area[@href] | //link[@href]"):
        href = element.get("href", "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        target = canonical_url(urljoin(base, href))
        if target in seen:
            continue
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
        if link:
            published = _feed_date(item.findtext("pubDate"))
            entries.append(FeedEntry(canonical_url(urljoin(url, link)), published))
    for entry in root.iter(f"{ATOM}entry"):
        links = entry.findall(f"{ATOM}link")
        hrefs = [ln.get("href") for ln in links if ln.get("rel", "alternate") == "alternate"]
        if hrefs and hrefs[0]:
            published = _feed_date(
                entry.findtext(f"{ATOM}published") or entry.findtext(f"{ATOM}updated")
            )
            entries.append(FeedEntry(canonical_url(urljoin(url, hrefs[0])), published))
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


def sitemap_content(body: bytes) -> SitemapContent:
    """Child sitemaps of a sitemap index, or page URLs of a urlset."""
    content = SitemapContent()
    try:
        sitemap = Sitemap(body)
    except (lxml.etree.XMLSyntaxError, StopIteration):
        return content
    target = content.sitemaps if sitemap.type == "sitemapindex" else content.pages
    for entry in sitemap:
        if is_http_url(entry.get("loc", "")):
            target.append(canonical_url(entry["loc"]))
    return content


def robots_sitemaps(body: bytes, url: str) -> list[str]:
    return [canonical_url(u) for u in sitemap_urls_from_robots(body, base_url=url) if u]
