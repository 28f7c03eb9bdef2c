"""Telling article pages from listings, static pages and the rest."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from pipelines.cards import LinkCard, link_cards
from pipelines.urls import canonical_url, linked_url, split_url

ARTICLE_SCHEMA_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "blogposting",
        "analysisnewsarticle",
        "pressrelease",
        "report",
    }
)
# Texts of language-switcher links, and the language they lead to.
SWITCHER_LABELS = {
    "en": "en",
    "eng": "en",
    "english": "en",
    "ru": "ru",
    "rus": "ru",
    "рус": "ru",
    "русский": "ru",
    "russian": "ru",
    "de": "de",
    "deutsch": "de",
    "tt": "tt",
    "татарча": "tt",
    "kz": "kk",
    "қазақша": "kk",
    "中文": "zh",
}
MIN_DATED_TEXT_CHARS = 400
MAX_LINK_TEXT_SHARE = 0.5
# A page whose main text holds this many teasers (linked headlines or the summaries under
# them) is a listing.
MIN_LISTING_TEASERS = 2
MIN_HEADLINE_WORDS = 3
HEADLINE_LINKS = "//h2[.//a[@href]] | //h3[.//a[@href]] | //h4[.//a[@href]]"
HEADLINE_LINKS_IN = ".//h2[.//a[@href]] | .//h3[.//a[@href]] | .//h4[.//a[@href]]"
# The text nodes of all links (links do not nest in parsed HTML, so none counts twice).
_LINK_TEXTS = etree.XPath(".//a//text()", smart_strings=False)
MAX_CARD_DEPTH = 4
# A page whose main text is at least this much teaser cards' text, of two cards or more,
# is a listing: cards side by side, each a link to a page with a summary beside it.
MIN_TEASER_CARDS_SHARE = 1 / 3
MIN_CARDS_IN_LIST = 3
MIN_SUMMARY_CHARS = 60
SUMMARY_PREFIX_CHARS = 40
MAX_CANONICAL_CHARS = 2000
# JSON-LD blocks are a few kilobytes; a bigger one is no page's metadata.
MAX_JSON_LD_CHARS = 200_000


@dataclass(slots=True)
class PageSignals:
    """What the page says about itself in its markup, read before extraction alters the tree."""

    canonical_url: str
    alternates: dict[str, str]
    og_type: str
    schema_types: frozenset[str]
    link_text_share: float
    teasers: tuple[str, ...]
    # The summaries of teaser cards that stand in lists (see _card_teasers): the start of
    # each, and its length.
    card_teasers: tuple[tuple[str, int], ...] = ()


def _schema_types(tree: HtmlElement) -> frozenset[str]:
    types: set[str] = set()
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        text = script.text or ""
        if len(text) > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                declared = node.get("@type")
                for name in declared if isinstance(declared, list) else [declared]:
                    if isinstance(name, str):
                        types.add(name.lower())
                if isinstance(graph := node.get("@graph"), list | dict):
                    stack.append(graph)
    return frozenset(types)


def _words(texts: Iterable[str]) -> int:
    """Words of text nodes, each apart, so that the words of the links are never more than
    those of the page."""
    return len(" ".join(texts).split())


def _link_text_share(tree: HtmlElement) -> float:
    body = tree.find(".//body")
    if body is None:
        return 0.0
    total = _words(body.itertext())
    if not total:
        return 0.0
    return _words(_LINK_TEXTS(body)) / total


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _card_summary(heading: HtmlElement) -> str | None:
    """The summary paragraph of the card a linked heading opens, if it is a teaser card."""
    card = heading
    for _ in range(MAX_CARD_DEPTH):
        card = card.getparent()
        if card is None or card.tag in ("body", "html"):
            return None
        if len(card.xpath(HEADLINE_LINKS_IN)) > 1:
            return None
        if summary := _summary(card, heading):
            return summary[:SUMMARY_PREFIX_CHARS]
    return None


def _summary(card: HtmlElement, headline: HtmlElement) -> str | None:
    """The card's first paragraph or division long enough to be a summary, apart from its
    `headline` (neither in it nor holding it) and holding no heading."""
    around = frozenset(headline.iterancestors())
    for block in card.iter("p", "div"):
        if block is headline or block in around or headline in block.iterancestors():
            continue
        text = _squeeze(block.text_content())
        if len(text) >= MIN_SUMMARY_CHARS and not block.xpath(".//h2 | .//h3 | .//h4"):
            return text
    return None


def _teasers(tree: HtmlElement) -> tuple[str, ...]:
    """Headlines linking to other pages, and the summaries under them: a listing's teasers."""
    teasers = []
    for heading in tree.xpath(HEADLINE_LINKS):
        headline = _squeeze(heading.text_content())
        if len(headline.split()) < MIN_HEADLINE_WORDS:
            continue
        teasers.append(headline)
        if summary := _card_summary(heading):
            teasers.append(summary)
    return tuple(teasers)


def _card_teasers(cards: list[LinkCard]) -> tuple[tuple[str, int], ...]:
    """The summaries of the teaser cards that stand side by side in lists, whatever their
    markup: a card (see pipelines.cards) whose link has a headline's length, in a list of
    MIN_CARDS_IN_LIST cards or more with one parent."""
    teasers = [
        link
        for link in cards
        if link.card is not link.anchor
        and len(link.anchor.text_content().split()) >= MIN_HEADLINE_WORDS
    ]
    lists = Counter(link.card.getparent() for link in teasers)
    summaries = []
    for link in teasers:
        in_list = lists[link.card.getparent()] >= MIN_CARDS_IN_LIST
        if in_list and (summary := _summary(link.card, link.anchor)):
            summaries.append((summary[:SUMMARY_PREFIX_CHARS], len(summary)))
    return tuple(summaries)


def _switcher_targets(tree: HtmlElement, url: str) -> dict[str, str]:
    """Pages a language switcher links to, by language; a switcher to a section's root
    (a home page) names no translation."""
    targets: dict[str, str] = {}
    for link in tree.iter("a"):
        href = (link.get("href") or "").strip()
        label = (link.get("hreflang") or link.get("lang") or link.text_content()).strip().lower()
        lang = SWITCHER_LABELS.get(label)
        if not lang or not href or href.startswith("#"):
            continue
        target = linked_url(url, href)
        if target and len([part for part in urlsplit(target).path.split("/") if part]) > 1:
            targets.setdefault(lang, target)
    return targets


def _origin(parts: SplitResult) -> tuple[str, int | None]:
    """Host without `www.` and port, the default ports of http and https being one."""
    host = (parts.hostname or "").removeprefix("www.")
    return host, None if parts.port in (80, 443) else parts.port


def _declared_canonical(tree: HtmlElement, url: str) -> str | None:
    """The page's `<link rel=canonical>`, when it is an http(s) URL of no more than
    MAX_CANONICAL_CHARS characters on the fetched URL's host: a canonical link is the
    page's claim, and a page cannot speak for another site."""
    for link in tree.iterfind(".//head/link[@rel='canonical']"):
        if href := (link.get("href") or "").strip():
            break
    else:
        return None
    if len(href) > MAX_CANONICAL_CHARS or not (canonical := linked_url(url, href)):
        return None
    declared, fetched = split_url(canonical), split_url(url)
    if fetched is None or declared.scheme not in ("http", "https"):
        return None
    return canonical if _origin(declared) == _origin(fetched) else None


def read_page_signals(
    tree: HtmlElement, url: str, cards: list[LinkCard] | None = None
) -> PageSignals:
    """What the page says of itself; `cards` are its link cards (see pipelines.cards) if
    they were found already."""
    canonical = _declared_canonical(tree, url) or url
    alternates = {}
    for link in tree.iterfind(".//head/link[@rel='alternate'][@hreflang]"):
        lang = (link.get("hreflang") or "").strip().lower()
        href = (link.get("href") or "").strip()
        if lang and href and lang != "x-default" and (target := linked_url(url, href)):
            alternates[lang] = target
    for lang, target in _switcher_targets(tree, url).items():
        alternates.setdefault(lang, target)
    og_type = ""
    for meta in tree.iterfind(".//head/meta[@property='og:type']"):
        og_type = (meta.get("content") or "").strip().lower()
    return PageSignals(
        canonical_url=canonical_url(canonical),
        alternates=alternates,
        og_type=og_type,
        schema_types=_schema_types(tree),
        link_text_share=_link_text_share(tree),
        teasers=_teasers(tree),
        card_teasers=_card_teasers(link_cards(tree) if cards is None else cards),
    )


def article_rejection(signals: PageSignals, text: str, published: dt.date | None) -> str | None:
    """Why the page is not an article, or None when it is one."""
    if not text.strip():
        return "no main text"
    flat = _squeeze(text)
    teasers = sum(teaser in flat for teaser in signals.teasers)
    if teasers >= MIN_LISTING_TEASERS:
        return f"a listing: {teasers} teaser headlines or summaries in the main text"
    cards = [length for start, length in signals.card_teasers if start in flat]
    if len(cards) >= MIN_LISTING_TEASERS and sum(cards) >= MIN_TEASER_CARDS_SHARE * len(flat):
        return f"a listing: {len(cards)} teaser cards make {sum(cards) / len(flat):.0%} of the text"
    if signals.og_type == "article" or signals.schema_types & ARTICLE_SCHEMA_TYPES:
        return None
    if signals.og_type:
        return f"og:type is {signals.og_type!r}"
    if signals.link_text_share > MAX_LINK_TEXT_SHARE:
        return f"{signals.link_text_share:.0%} of the page's words are links (a listing)"
    if published is None:
        return "no article markup and no date"
    if len(text) < MIN_DATED_TEXT_CHARS:
        return f"only {len(text)} characters of text"
    return None
