"""Main content of a page: title, body text and author, without the site's boilerplate."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import trafilatura
from lxml.html import HtmlElement

from pipelines.boilerplate import (
    normalize,
    page_blocks,
    strip_furniture,
    strip_template,
    unwrap_layout_tables,
)
from pipelines.content_vote import best_text

# trafilatura warns about every page without main text; the pipeline reports those itself.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

TITLE_SEPARATORS = re.compile(r"\s+(?:[|/•·»«]|::|[-–—])\s+")
MAX_TITLE = 300
MIN_TITLE_WORDS = 2
MIN_TITLE_COVERAGE = 0.8
WORD = re.compile(r"\w+")
# A headline copy in the body comes first, or after a rubric, date or kicker line.
TITLE_LINES = 3
MAX_MENU_CELL_WORDS = 8
# Words of a dateline: "14:39 | 25.11.2011", "6 января 2012 г.", "Jan 5, 2012 10:00 GMT".
DATELINE_WORDS = (
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря "
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь "
    "january february march april june july august september october november december "
    "jan feb mar apr may jun jul aug sep sept oct nov dec г года мск am pm gmt utc"
)
DATE_WORDS = frozenset(DATELINE_WORDS.split())
DATE_OR_TIME = re.compile(r"\d:\d\d|\d[./-]\d\d?[./-]\d|[^\W\d]{3}")
RELATED_HEADING = re.compile(
    r"^\W*(?:(?:ссылки|новости|статьи|материалы|сайты|также) по теме|по теме|читайте также|"
    r"смотрите также|см\. также|другие новости|похожие новости|see also|related(?: stories|"
    r" articles| news| links| posts)?|more on this(?: story)?|you may also like)\W*$",
    re.IGNORECASE,
)
# A "see also" heading in the first part of a text introduces part of the story.
RELATED_FROM = 0.3
# A copyright line ends the article: the site's footer and its addresses follow.
COPYRIGHT_LINE = re.compile(r"^\W{0,3}(?:©|\(c\)\s|copyright\b)", re.IGNORECASE)
AUTHOR_META = (
    "meta[@name='author']",
    "meta[@property='article:author']",
    "meta[@name='article:author']",
)


@dataclass(slots=True)
class MainContent:
    title: str
    text: str
    author: str | None = None


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _meta(tree: HtmlElement, *paths: str) -> str:
    for path in paths:
        for element in tree.iterfind(f".//{path}"):
            content = " ".join((element.get("content") or "").split())
            if content:
                return content
    return ""


def _site_free(title: str) -> str:
    """A <title> without the site name that pages append or prepend after a separator."""
    parts = TITLE_SEPARATORS.split(title)
    return max(parts, key=len) if len(parts) > 1 else title


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _coverage(heading: str, title: str) -> float:
    """Share of a heading's words that the page title also has."""
    words = _words(heading)
    known = set(_words(title))
    return sum(word in known for word in words) / len(words) if words else 0.0


def find_title(tree: HtmlElement) -> str:
    """The headline: the heading that the page's own title names, else that title itself."""
    head_title = _meta(tree, "meta[@property='og:title']", "meta[@name='twitter:title']")
    element = tree.find(".//title")
    page_title = _text(element) if element is not None else ""
    known = f"{head_title} {page_title}"
    for tags in (("h1",), ("h2", "h3")):
        headings = [_text(h) for h in tree.iter(*tags)]
        matches = [
            h
            for h in headings
            if len(_words(h)) >= MIN_TITLE_WORDS
            and len(h) <= MAX_TITLE
            and _coverage(h, known) >= MIN_TITLE_COVERAGE
        ]
        if matches:
            return max(matches, key=len)
    if head_title or page_title:
        return _site_free(head_title or page_title)
    headings = [_text(h) for h in tree.iter("h1")]
    return next((h for h in headings if h), "")


def find_author(tree: HtmlElement) -> str | None:
    """The byline the page declares in its metadata, if any."""
    return _meta(tree, *AUTHOR_META) or None


def _without_title(text: str, title: str) -> str:
    """Body text without the copy of the headline that often opens it, after a rubric or date."""
    lines = text.split("\n")
    key = normalize(title)
    for index, line in enumerate(lines[:TITLE_LINES]):
        if key and normalize(line) == key:
            del lines[index]
            break
    return "\n".join(lines).strip()


def _is_menu_row(line: str) -> bool:
    """A table row (as trafilatura renders them) of short cells: links, dates, counters."""
    if not line.startswith("|"):
        return False
    return all(len(WORD.findall(cell)) <= MAX_MENU_CELL_WORDS for cell in line.split("|"))


def _is_dateline(line: str) -> bool:
    """A line of nothing but a publication date or time, which the page shows, not the story."""
    words = WORD.findall(line.lower())
    return (
        bool(words)
        and all(word.isdigit() or word in DATE_WORDS for word in words)
        and bool(DATE_OR_TIME.search(line.lower()))
    )


def _before_related(lines: list[str]) -> list[str]:
    """The lines before a "see also" heading or a copyright line in the later part of the
    text: links and the site's footer follow them."""
    for index in range(max(1, int(len(lines) * RELATED_FROM)), len(lines)):
        if RELATED_HEADING.match(lines[index]) or COPYRIGHT_LINE.match(lines[index]):
            return lines[:index]
    return lines


def _without_page_furniture(text: str) -> str:
    """Text without the dates, menus, footers and related links that surround articles.

    Layout tables put navigation rows before and after the story; news pages follow it with
    a list of related stories.
    """
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line and not _is_dateline(line)]
    lines = _before_related(lines)
    start, end = 0, len(lines)
    while start < end and _is_menu_row(lines[start]):
        start += 1
    while end > start and _is_menu_row(lines[end - 1]):
        end -= 1
    return "\n".join(lines[start:end])


def clean_body(
    tree: HtmlElement,
    template: frozenset[str],
    blocks: list[tuple[HtmlElement, str]] | None = None,
) -> HtmlElement | None:
    """The page with generic and site-specific boilerplate removed, in place; `blocks` are
    the page's text blocks (page_blocks) if they were found already."""
    body = tree.find("body")
    if body is None:
        return None
    if template:
        strip_template(page_blocks(body) if blocks is None else blocks, template)
    strip_furniture(body)
    unwrap_layout_tables(body)
    return tree


def extract_content(
    tree: HtmlElement,
    url: str,
    *,
    template: frozenset[str] = frozenset(),
    blocks: list[tuple[HtmlElement, str]] | None = None,
) -> MainContent:
    """The main content of a parsed page; empty text when the page has none. The tree is
    cleaned in place on the way.

    `template` holds fingerprints of blocks known to repeat on the site (see SiteTemplate),
    `blocks` the page's text blocks if they were found already (see page_blocks).
    """
    title = find_title(tree)
    author = find_author(tree)
    page = clean_body(tree, template, blocks)
    text = ""
    if page is not None:
        document = trafilatura.bare_extraction(
            page,
            url=url,
            with_metadata=False,
            include_comments=False,
            include_tables=True,
            favor_precision=True,
            fast=True,
        )
        text = (document.text or "") if document is not None else ""
        text = _without_page_furniture(best_text(page, text.strip()))
    return MainContent(
        title=title,
        text=_without_title(text, title),
        author=author,
    )
