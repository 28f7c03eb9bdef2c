"""The links of a page: the pages and feeds it leads to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from pipelines.urls import is_http_url, linked_url, split_url

# Files that are no pages: archives, images, audio, video, documents, programs, data.
_SKIPPED = (
    "7z 7zip bz2 rar tar tar.gz xz zip mng pct bmp gif jpg jpeg png pst psp tif tiff ai "
    "drw dxf eps ps svg cdr ico webp mp3 wma ogg wav ra aac mid au aiff 3gp asf asx avi "
    "mov mp4 mpg qt rm swf wmv m4a m4v flv webm xls xlsm xlsx xltm xltx potm potx ppt pptm "
    "pptx pps doc docb docm docx dotm dotx odt ods odg odp css pdf exe bin rss dmg iso apk "
    "jar sh rb js hta bat cpl msi msp py json xml"
)
SKIPPED_EXTENSIONS = tuple(f".{ext}" for ext in _SKIPPED.split())
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
    }
)


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


def _join_base(base: str, origin: str, href: str) -> str:
    """The part of `base` that resolving `href` depends on: none for an absolute URL, the
    scheme for a network-path reference, the origin for an absolute path; so that the menu
    links every page of a site repeats are resolved once (see _target)."""
    scheme, colon, rest = href.partition(":")
    if colon and rest.startswith("//") and SCHEME.fullmatch(scheme):
        return ""
    if href.startswith("//"):
        return origin.partition(":")[0] + ":"
    if href.startswith("/"):
        return origin
    return base


@lru_cache(maxsize=1 << 16)
def _target(base: str, href: str) -> tuple[str | None, bool]:
    """The canonical URL a link leads to, and whether it is a page."""
    target = linked_url(base, href)
    return target, target is not None and _is_page_url(target)


def page_links(tree: HtmlElement, url: str, limit: int) -> PageLinks:
    """Page URLs a page links to (anchors, hreflang alternates, rel=next) and its feeds,
    the first `limit` distinct ones in document order. A repeated href costs a set look-up,
    so a page of a million links costs one pass over them."""
    base = url
    for element in tree.iterfind(".//head/base[@href]"):
        base = linked_url(url, element.get("href", "").strip()) or url
    parts = split_url(base)
    origin = f"{parts.scheme}://{parts.netloc}" if parts is not None else base
    found = PageLinks()
    hrefs: set[str] = set()
    seen: set[str] = set()
    for element in tree.iter("a", "area", "link"):
        href = (element.get("href") or "").strip()
        if not href or href in hrefs or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        hrefs.add(href)
        target, is_page = _target(_join_base(base, origin, href), href)
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
                if is_page:
                    found.pages.append(target)
            continue
        seen.add(target)
        if is_page:
            found.pages.append(target)
    return found
