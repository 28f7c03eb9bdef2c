"""Cards: the block around a link that holds nothing else the page links to, such as a
teaser on a listing (headline, date, summary) or an item of a menu. Listing dates read the
date of each card; classification tells a page of teaser cards from an article."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml.html import HtmlElement

# A card spans at most this many levels above its link.
CARD_LEVELS = 5
_SKIPPED_HREF = re.compile(r"\s*(?:#|javascript:|mailto:|tel:|data:)", re.IGNORECASE)
# Rubric, tag and author links sit inside the cards of a listing but are not its articles.
_TAXONOMY_HREF = re.compile(
    r"/(?:category|categories|tags?|authors?|rubrics?|rubrika|topics?)/|[?&](?:tag|cat|author)=",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class LinkCard:
    """A link to a page that may be an article, its target and its card."""

    anchor: HtmlElement
    target: str
    card: HtmlElement


def link_cards(tree: HtmlElement) -> list[LinkCard]:
    """The page's links to pages that may be articles, each with its card, in page order."""
    links = [(anchor, target) for anchor in tree.iter("a") if (target := article_target(anchor))]
    within = targets_within(links)
    return [LinkCard(anchor, target, card_of(anchor, target, within)) for anchor, target in links]


def article_target(anchor: HtmlElement) -> str | None:
    """The link's target without its fragment, or None for a link to no article."""
    href = anchor.get("href")
    if not href or _SKIPPED_HREF.match(href) or _TAXONOMY_HREF.search(href):
        return None
    return href.strip().split("#", 1)[0] or None


def targets_within(links: list[tuple[HtmlElement, str]]) -> dict[HtmlElement, set[str]]:
    """The targets linked from within each block that holds a link, up to two: one makes a
    card, more a list. One pass, linear in the page: a target stops rising at a block that
    holds it already or holds two, as every block above holds as much."""
    within: dict[HtmlElement, set[str]] = {}
    for anchor, target in links:
        for block in anchor.iterancestors():
            found = within.setdefault(block, set())
            if target in found or len(found) > 1:
                break
            found.add(target)
    return within


def card_of(
    anchor: HtmlElement,
    target: str,
    within: dict[HtmlElement, set[str]],
    levels: int = CARD_LEVELS,
) -> HtmlElement:
    """The largest block around the link, up to `levels` levels, that links to no other
    target (see targets_within)."""
    card = anchor
    for _ in range(levels):
        parent = card.getparent()
        if parent is None or parent.tag in ("body", "html") or len(within[parent]) > 1:
            break
        card = parent
    return card
