"""Boilerplate removal before main-content extraction: generic page-furniture rules and
site templates, the blocks that repeat across the pages of one site."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from lxml.html import HtmlElement

# Tags that never hold article prose, whatever their size.
NON_TEXT_TAGS = frozenset(
    {
        "button",
        "embed",
        "iframe",
        "input",
        "noscript",
        "object",
        "script",
        "select",
        "style",
        "svg",
        "template",
        "textarea",
    }
)
# Page-furniture tags; some sites misuse them around the whole page, hence the size checks.
FURNITURE_TAGS = frozenset({"aside", "dialog", "figcaption", "footer", "form", "label", "nav"})

# Words of class/id names of widgets around articles: consent, subscription, sharing, promos.
FURNITURE_WORDS = frozenset(
    {
        "ad",
        "ads",
        "advert",
        "advertisement",
        "banner",
        "breadcrumb",
        "breadcrumbs",
        "comm",
        "comment",
        "comments",
        "consent",
        "cookie",
        "cookies",
        "discussion",
        "disqus",
        "gdpr",
        "modal",
        "newsletter",
        "popup",
        "promo",
        "recommended",
        "related",
        "share",
        "sharing",
        "sidebar",
        "social",
        "sponsored",
        "subscribe",
        "subscription",
        "tags",
    }
)
# Words of names of the containers that hold the article, or of state and layout modifiers.
CONTAINER_WORDS = frozenset(
    {
        "active",
        "article",
        "body",
        "col",
        "column",
        "container",
        "content",
        "detail",
        "enabled",
        "entry",
        "fixed",
        "has",
        "layout",
        "main",
        "no",
        "non",
        "open",
        "page",
        "post",
        "row",
        "story",
        "text",
        "with",
        "wrap",
        "wrapper",
    }
)
NAME_PARTS = re.compile(r"[^a-z]+")

# Short lines that introduce page furniture in the languages of the archive.
FURNITURE_TEXT = re.compile(
    r"^\W*(?:read also|see also|related(?: articles| news)?|also read|читайте также|"
    r"смотрите также|см\. также|по теме|подпишитесь|subscribe|share|поделиться|"
    r"мы используем (?:файлы )?cookie|we use cookies|this (?:site|website) uses cookies|"
    r"я даю согласие|i agree to|i consent to|фото:|photo:)(?!\w)",
    re.IGNORECASE,
)

BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)
# A furniture-looking container holding more of the page's text than this is the page itself.
MAX_FURNITURE_SHARE = 0.5
MIN_LINK_SHARE = 0.5
MAX_FURNITURE_LINE = 300
MAX_TEMPLATE_BLOCK = 2000
# A site template prunes its counts at 64 pages, 128, 256...; it forgets the blocks seen on
# fewer than a quarter of the pages that a template block needs.
FIRST_PRUNING = 64
PRUNED_SHARE = 0.25
DIGITS = re.compile(r"\d+")


def normalize(text: str) -> str:
    """Block text compared across pages: case, spacing and digits (dates, counters) ignored."""
    return " ".join(DIGITS.sub("0", text).split()).lower()


def fingerprint(text: str) -> str:
    """Short stable key of a normalised block text, to keep site templates small."""
    return hashlib.blake2b(normalize(text).encode(), digest_size=8).hexdigest()


def _drop(element: HtmlElement) -> None:
    """Remove an element; one with tail text is emptied instead, as the tail is its parent's."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail and element.tail.strip():
        element.clear(keep_tail=True)
        element.tag = "span"
    else:
        parent.remove(element)


def _name_kind(element: HtmlElement) -> str:
    """'furniture' or 'container' from class and id words, or '' when the names say neither."""
    return _names_kind(f"{element.get('class', '')} {element.get('id', '')}")


@lru_cache(maxsize=4096)
def _names_kind(names: str) -> str:
    """_name_kind of a class and id string; cached, as pages repeat the same few names."""
    kinds = set()
    for token in names.lower().split():
        words = set(NAME_PARTS.split(token))
        furniture, container = words & FURNITURE_WORDS, words & CONTAINER_WORDS
        if furniture and not container:
            kinds.add("furniture")
        elif container and not furniture:
            kinds.add("container")
    if "container" in kinds:
        return "container"
    return "furniture" if kinds else ""


def _removable(element: HtmlElement, page_length: int) -> bool:
    """Furniture is removed unless it holds most of the page's prose (a misused wrapper)."""
    length = len(element.text_content())
    if length <= MAX_FURNITURE_SHARE * page_length:
        return True
    links = sum(len(link.text_content()) for link in element.iter("a"))
    return links >= MIN_LINK_SHARE * length


def _leading_text(element: HtmlElement) -> str:
    if element.text and element.text.strip():
        return element.text.lstrip()
    for chunk in element.itertext():
        if chunk.strip():
            return chunk.lstrip()
    return ""


def _is_furniture(element: HtmlElement, page_length: int) -> bool:
    tag = element.tag
    named = "class" in element.attrib or "id" in element.attrib
    if tag in FURNITURE_TAGS or (named and _name_kind(element) == "furniture"):
        return _removable(element, page_length)
    if tag in BLOCK_TAGS and FURNITURE_TEXT.match(_leading_text(element)):
        return len(element.text_content().strip()) <= MAX_FURNITURE_LINE
    return False


def strip_furniture(body: HtmlElement) -> None:
    """Remove forms, consent and cookie notices, share bars, promos, comments and the like."""
    for element in list(body.iter(*NON_TEXT_TAGS)):
        _drop(element)
    page_length = len(body.text_content())
    stack = list(body)
    while stack:
        element = stack.pop()
        if not isinstance(element.tag, str) or _is_furniture(element, page_length):
            _drop(element)
        else:
            stack.extend(element)


CELLS = ("td", "th")
TABLE_PARTS = frozenset({"tbody", "thead", "tfoot", "tr", *CELLS})
# Cells holding paragraphs, headings or nested tables lay out a page; data tables hold values.
LAYOUT_CELL_CONTENT = ("p", "div", "table", "h1", "h2", "h3", "h4", "ul", "ol", "blockquote")
MAX_DATA_CELL = 500


def _is_layout_table(table: HtmlElement) -> bool:
    for cell in table.iter(*CELLS):
        if len(cell.text_content()) > MAX_DATA_CELL:
            return True
        if any(True for _ in cell.iterchildren(*LAYOUT_CELL_CONTENT)):
            return True
    return False


def unwrap_layout_tables(body: HtmlElement) -> None:
    """Turn tables that lay out a page into plain blocks, so that extraction reads their cells
    as the paragraphs they hold instead of flattening them into table rows."""
    for table in list(body.iter("table")):
        if not _is_layout_table(table):
            continue
        parts = [table]
        while parts:
            part = parts.pop()
            part.tag = "div"
            parts.extend(child for child in part if child.tag in TABLE_PARTS)


def _leaf_blocks(body: HtmlElement) -> Iterator[tuple[HtmlElement, str]]:
    """The innermost blocks of a page that hold text, with their text.

    Only innermost blocks count: a template widget is gone once its paragraphs are, and
    reading every container's text as well would cost time quadratic in the page's depth.
    One walk up from each block to the nearest enclosing one finds the containers.
    """
    blocks = list(body.iter(*BLOCK_TAGS))
    containers = set()
    for element in blocks:
        parent = element.getparent()
        while parent is not None:
            if parent.tag in BLOCK_TAGS:
                containers.add(parent)
                break
            parent = parent.getparent()
    for element in blocks:
        if element in containers:
            continue
        text = element.text_content()
        if len(text) <= MAX_TEMPLATE_BLOCK and text.strip():
            yield element, text


def page_blocks(body: HtmlElement) -> list[tuple[HtmlElement, str]]:
    """The page's innermost text blocks with their fingerprints, in one walk: what a site's
    template learns from the page and what stripping the template removes."""
    return [(element, fingerprint(text)) for element, text in _leaf_blocks(body)]


def strip_template(blocks: list[tuple[HtmlElement, str]], template: frozenset[str]) -> None:
    """Remove the blocks (see page_blocks) whose fingerprint is in the site's template."""
    for element, key in blocks:
        if key in template:
            _drop(element)


@dataclass(frozen=True, slots=True)
class TemplateView:
    """What one page needs of its site's template, as it stands before the page: enough to
    tell which of the page's blocks are template once the page itself is counted.

    It is small and plain, so that it travels with the page to a worker process.
    """

    pages: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    new_page: bool = True
    min_pages: int = 3
    min_share: float = 0.5

    def template_of(self, fingerprints: Iterable[str]) -> frozenset[str]:
        """The page's blocks that are the site's template, the page counted."""
        extra = int(self.new_page)
        needed = max(self.min_pages, self.min_share * (self.pages + extra))
        counts = self.counts
        return frozenset(key for key in fingerprints if counts.get(key, 0) + extra >= needed)


class SiteTemplate:
    """Learns a site's template: the blocks seen on most of its distinct pages.

    A block counts as template once it is on at least `min_pages` pages and on `min_share`
    of all pages seen: forms, widgets and footers are on nearly every page, while an
    article's lead, repeated as a teaser on a listing or two, is not.

    Each time the number of pages doubles, blocks too rare to become template soon are
    forgotten, so that memory stays bounded on a crawl of any length.
    """

    def __init__(self, min_pages: int = 3, min_share: float = 0.5) -> None:
        self.min_pages = min_pages
        self.min_share = min_share
        self._pages: set[str] = set()
        self._counts: Counter[str] = Counter()
        # Blocks at most one page short of what template needs: the only ones a page can
        # make template. Kept as pages are learned, so that a view costs as many steps as
        # there are such blocks, not as many as the site has.
        self._frequent: set[str] = set()
        self._next_pruning = FIRST_PRUNING

    def learn(self, url: str, fingerprints: Iterable[str]) -> None:
        """Count the blocks of the page at `url` (see page_blocks), once per page."""
        if url in self._pages:
            return
        self._pages.add(url)
        counts = self._counts
        near = self._needed(new_page=False) - 1
        self._frequent = {key for key in self._frequent if counts[key] >= near}
        for key in fingerprints:
            counts[key] += 1
            if counts[key] >= near:
                self._frequent.add(key)
        if len(self._pages) >= self._next_pruning:
            self._prune()

    def _needed(self, new_page: bool) -> float:
        """The pages a block must be on to be template, with a page not learned yet counted."""
        return max(self.min_pages, self.min_share * (len(self._pages) + new_page))

    def _prune(self) -> None:
        keep = self.min_share * len(self._pages) * PRUNED_SHARE
        self._counts = Counter({key: n for key, n in self._counts.items() if n >= keep})
        self._frequent &= self._counts.keys()
        self._next_pruning *= 2

    @property
    def pages(self) -> int:
        """The number of pages learned from."""
        return len(self._pages)

    @property
    def blocks(self) -> frozenset[str]:
        """The fingerprints of the site's template as learned so far."""
        needed = self._needed(new_page=False)
        return frozenset(key for key in self._frequent if self._counts[key] >= needed)

    def view(self, url: str) -> TemplateView:
        """The template as the page at `url` sees it."""
        new_page = url not in self._pages
        needed = self._needed(new_page)
        counts = self._counts
        near = {key: counts[key] for key in self._frequent if counts[key] + new_page >= needed}
        return TemplateView(len(self._pages), near, new_page, self.min_pages, self.min_share)
