"""Publication dates of news pages, and of the links on listing pages.

This runs on every crawled page, so it reads the already-parsed tree with precompiled XPath and
regular expressions only; general date guessers are far too slow for that.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
from collections import deque
from collections.abc import Iterator
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from lxml import etree
from lxml.html import HtmlElement

from pipelines.cards import LinkCard, link_cards

MOSCOW = ZoneInfo("Europe/Moscow")
EARLIEST = dt.date(1995, 1, 1)

_MONTH_NAMES = (
    "января январь янв january jan",
    "февраля февраль февр фев february feb",
    "марта март мар march mar",
    "апреля апрель апр april apr",
    "мая май may",
    "июня июнь июн june jun",
    "июля июль июл july jul",
    "августа август авг august aug",
    "сентября сентябрь сент сен september sept sep",
    "октября октябрь окт october oct",
    "ноября ноябрь нояб ноя november nov",
    "декабря декабрь дек december dec",
)
MONTHS = {
    name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
# Every written date has a four-digit year, so text is scanned for years, a cheap search, and
# only the few characters before each year are matched against the full date forms.
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_YEAR_FIRST = re.compile(r"-(?P<month>[01]?\d)-(?P<day>[0-3]?\d)(?!\d)")
_YEAR_LAST = re.compile(
    rf"""
    (?:
        (?<![\d.])(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?P<month>{_MONTH})(?![^\W\d_])\.?,?\s+
      | (?<![^\W\d_])(?P<month_first>{_MONTH})(?![^\W\d_])\.?\s+(?P<day_after>[0-3]?\d)
            (?:st|nd|rd|th)?,?\s+
      | (?<![\d.])(?P<dotted_day>[0-3]?\d)\.(?P<dotted_month>[01]?\d)\.
    )\Z
    """,
    re.IGNORECASE | re.VERBOSE,
)
_YEAR_LAST_REACH = 32
_TIMESTAMP = re.compile(
    r"""\s*(?P<year>\d{4})-(?P<month>\d\d?)-(?P<day>\d\d?)
    (?:[T\s]+(?P<hour>\d\d?):(?P<minute>\d\d)(?::(?P<second>\d\d)(?:[.,]\d+)?)?
        \s*(?P<zone>Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)?)?""",
    re.IGNORECASE | re.VERBOSE,
)
_RFC2822 = re.compile(r"(?:[a-z]{3},\s*)?\d\d?\s+[a-z]{3}\s+\d{4}\s+\d\d?:\d\d", re.IGNORECASE)
_JSON_LD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{4,64})"')

# Lower rank wins: structured article metadata first, generic `date` last.
_META_RANKS = {
    name: rank
    for rank, name in enumerate(
        (
            "article:published_time",
            "og:published_time",
            "datepublished",
            "dc.date.issued",
            "dcterms.issued",
            "pubdate",
            "publishdate",
            "publish-date",
            "parsely-pub-date",
            "sailthru.date",
            "date",
            "dc.date",
        )
    )
}
_ARTICLE_TYPES = frozenset({"article", "report", "pressrelease"})
# Where dates belong to other articles or to the site rather than to the page's own article.
_OFF_ARTICLE_TAGS = frozenset({"aside", "nav", "footer", "form", "menu"})
# A class or id word that starts one of these marks such a block ("col-sidebar", "relatedPosts").
_OFF_ARTICLE = re.compile(
    r"(?:^|[\s_-])(?:sidebar|aside|related|similar|widget|popular|recommend|also|more|other"
    r"|comment|footer|menu|breadcrumb|teaser|promo|banner|share)",
    re.IGNORECASE,
)
_ARTICLE_TAGS = frozenset({"article", "main"})

_JSON_LD = etree.XPath("//script[contains(@type, 'ld+json')]")
_TIMES = etree.XPath("//time | //*[@itemprop='datePublished'][not(self::meta)]")
_TITLES = etree.XPath("//h1")
_DATED = etree.XPath("//body//*[contains(@class, 'date') or contains(@class, 'Date')]")
_DATED_IN = etree.XPath(
    "descendant-or-self::*[contains(@class, 'date') or contains(@class, 'Date')]"
)

_TITLE_LEVELS = 3
_TITLE_SIBLINGS = 3
_LEAD_CHARS = 200
_NEAR_CHARS = 100
_CARD_CHARS = 1000


def published_date(tree: HtmlElement, site_tz: ZoneInfo = MOSCOW) -> dt.date | None:
    """The date the article on this page was published, as a reader in `site_tz` saw it."""
    latest = _latest(site_tz)
    return (
        _json_ld_date(tree, site_tz, latest)
        or _meta_date(tree, site_tz, latest)
        or _body_date(tree, site_tz, latest)
    )


def date_from_text(text: str) -> dt.date | None:
    """The first plausible date written out in `text`, in any Russian or English form sites use."""
    return _date_in(text, _latest(MOSCOW))


def listing_dates(
    tree: HtmlElement,
    base_url: str,
    site_tz: ZoneInfo = MOSCOW,
    cards: list[LinkCard] | None = None,
) -> dict[str, dt.date]:
    """Absolute link URL -> the date shown in the same card of a listing page; `cards`
    are the page's link cards (see pipelines.cards) if they were found already.

    Lets the crawler date articles before fetching them, and skip old ones.
    """
    latest = _latest(site_tz)
    card_dates: dict[HtmlElement, dt.date | None] = {}
    dates: dict[str, dt.date] = {}
    for link in link_cards(tree) if cards is None else cards:
        card = link.card
        if card not in card_dates:
            card_dates[card] = _card_date(card, site_tz, latest)
        if (day := card_dates[card]) is None:
            continue
        try:
            url = urljoin(base_url, link.anchor.get("href", "").strip())
        except ValueError:
            continue
        dates.setdefault(url, day)
    return dates


def _latest(site_tz: ZoneInfo) -> dt.date:
    """Tomorrow on the site: time zones and clock skew allow no later publication."""
    return dt.datetime.now(site_tz).date() + dt.timedelta(days=1)


def _plausible(day: dt.date | None, latest: dt.date) -> dt.date | None:
    return day if day is not None and EARLIEST <= day <= latest else None


def _date_in(text: str, latest: dt.date) -> dt.date | None:
    for year in _YEAR.finditer(text):
        start, end = year.span()
        if text[start - 1 : start] not in ("-", ".") and (match := _YEAR_FIRST.match(text, end)):
            month, day = match["month"], match["day"]
        elif match := _YEAR_LAST.search(text, max(0, start - _YEAR_LAST_REACH), start):
            month, day = _month_and_day(match)
        else:
            continue
        try:
            found = dt.date(int(year[0]), int(month), int(day))
        except ValueError:
            continue
        if EARLIEST <= found <= latest:
            return found
    return None


def _month_and_day(match: re.Match[str]) -> tuple[int | str, str]:
    if match["day"]:
        return MONTHS.get(match["month"].lower(), 0), match["day"]
    if match["day_after"]:
        return MONTHS.get(match["month_first"].lower(), 0), match["day_after"]
    return match["dotted_month"], match["dotted_day"]


def _timestamp_date(value: str, site_tz: ZoneInfo, latest: dt.date) -> dt.date | None:
    """The site-local date of a machine-readable timestamp; one without an offset is local."""
    value = value[:100]
    if (match := _TIMESTAMP.match(value)) is None:
        return _plausible(_rfc2822_date(value, site_tz), latest) or _date_in(value, latest)
    try:
        day = dt.date(int(match["year"]), int(match["month"]), int(match["day"]))
        if match["zone"]:
            moment = dt.datetime.combine(
                day,
                dt.time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0)),
                tzinfo=_utc_offset(match["zone"]),
            )
            day = moment.astimezone(site_tz).date()
    except (ValueError, OverflowError):
        return None
    return _plausible(day, latest)


def _utc_offset(zone: str) -> dt.timezone:
    if zone[0] not in "+-":
        return dt.UTC
    digits = zone[1:].replace(":", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return dt.timezone(-offset if zone[0] == "-" else offset)


def _rfc2822_date(value: str, site_tz: ZoneInfo) -> dt.date | None:
    if not _RFC2822.match(value):
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return (moment.astimezone(site_tz) if moment.tzinfo else moment).date()


def _json_ld_date(tree: HtmlElement, site_tz: ZoneInfo, latest: dt.date) -> dt.date | None:
    """`datePublished` of the page's article, or else of any other node (a WebPage)."""
    fallback = None
    for script in _JSON_LD(tree):
        text = script.text or ""
        try:
            data = json.loads(text, strict=False)
        except (ValueError, RecursionError):
            # Hand-written JSON-LD is often invalid, and its date still readable.
            if match := _JSON_LD_DATE.search(text):
                fallback = fallback or _timestamp_date(match[1], site_tz, latest)
            continue
        for node, is_article in _json_ld_nodes(data):
            value = node.get("datePublished")
            if isinstance(value, list):
                value = value[0] if value else None
            if not isinstance(value, str) or not (day := _timestamp_date(value, site_tz, latest)):
                continue
            if is_article:
                return day
            fallback = fallback or day
    return fallback


def _json_ld_nodes(data: object) -> Iterator[tuple[dict, bool]]:
    """Every object in a JSON-LD document, outermost first, and whether it is an article."""
    queue = deque([data])
    while queue:
        node = queue.popleft()
        if isinstance(node, list):
            queue.extend(node)
        elif isinstance(node, dict):
            queue.extend(value for value in node.values() if isinstance(value, dict | list))
            yield node, _is_article_type(node.get("@type"))


def _is_article_type(declared: object) -> bool:
    for name in declared if isinstance(declared, list) else [declared]:
        if isinstance(name, str):
            name = name.rsplit("/", 1)[-1].lower()
            if name in _ARTICLE_TYPES or name.endswith(("article", "posting")):
                return True
    return False


def _meta_date(tree: HtmlElement, site_tz: ZoneInfo, latest: dt.date) -> dt.date | None:
    candidates = []
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if not content:
            continue
        for attribute in ("property", "name", "itemprop"):
            rank = _META_RANKS.get((meta.get(attribute) or "").strip().lower())
            if rank is not None:
                candidates.append((rank, content, meta))
    candidates.sort(key=lambda candidate: candidate[0])
    for _, content, meta in candidates:
        parent = meta.getparent()
        # Microdata of another article (a related-news card) carries its own datePublished.
        if parent is not None and parent.tag != "head" and _is_off_article(meta, frozenset()):
            continue
        if day := _timestamp_date(content, site_tz, latest):
            return day
    return None


def _body_date(tree: HtmlElement, site_tz: ZoneInfo, latest: dt.date) -> dt.date | None:
    """A date from the page's body: a `<time>`, else a date written next to the title."""
    title = _main_title(tree)
    around_title = frozenset(title.iterancestors()) if title is not None else frozenset()
    if day := _time_date(tree, around_title, site_tz, latest):
        return day
    if title is not None and (day := _date_near(title, latest)):
        return day
    for element in _DATED(tree):
        if not _is_off_article(element, around_title) and (
            day := _date_in(_leading_text(element), latest)
        ):
            return day
    return None


def _main_title(tree: HtmlElement) -> HtmlElement | None:
    """The article's `<h1>`, not a logo in an `<h1>` of the site's header."""
    best, best_rank = None, 3
    for title in _TITLES(tree):
        ancestors = {ancestor.tag for ancestor in title.iterancestors()}
        if ancestors & _OFF_ARTICLE_TAGS:
            continue
        rank = 0 if ancestors & _ARTICLE_TAGS else 2 if "header" in ancestors else 1
        if rank < best_rank:
            best, best_rank = title, rank
    return best


def _is_modification(element: HtmlElement) -> bool:
    """Whether the element dates the last edit (WordPress's `<time class="updated">`)."""
    if (element.get("itemprop") or "").lower() == "datemodified":
        return True
    classes = (element.get("class") or "").lower()
    return "published" not in classes and ("updated" in classes or "modified" in classes)


def _is_off_article(element: HtmlElement, around_title: frozenset[HtmlElement]) -> bool:
    """Whether the element sits in a sidebar, related list, menu or the like.

    The walk up stops at the blocks that hold the title: a wrapper of the whole page may well
    be classed "has-sidebar".
    """
    node = element
    while node is not None and node not in around_title and node.tag not in ("body", "html"):
        if node.tag in _OFF_ARTICLE_TAGS:
            return True
        marks = f"{node.get('class') or ''} {node.get('id') or ''}"
        if marks != " " and _OFF_ARTICLE.search(marks):
            return True
        node = node.getparent()
    return False


def _time_date(
    tree: HtmlElement, around_title: frozenset[HtmlElement], site_tz: ZoneInfo, latest: dt.date
) -> dt.date | None:
    """The best `<time>`: one marked as publication first, then one in the article, then any."""
    best, best_rank = None, 3
    for element in _TIMES(tree):
        rank = _time_rank(element, around_title)
        if rank >= best_rank:
            continue
        value = element.get("datetime") or element.get("content") or element.text_content()
        if day := _timestamp_date(value, site_tz, latest):
            best, best_rank = day, rank
            if rank == 0:
                break
    return best


def _time_rank(element: HtmlElement, around_title: frozenset[HtmlElement]) -> int:
    if _is_modification(element) or _is_off_article(element, around_title):
        return 3
    if (
        (element.get("itemprop") or "").lower() == "datepublished"
        or "published" in (element.get("class") or "").lower()
        or element.get("pubdate") is not None
    ):
        return 0
    for ancestor in element.iterancestors():
        if ancestor.tag in _ARTICLE_TAGS or (ancestor.tag == "header" and ancestor in around_title):
            return 1
    return 2


def _date_near(title: HtmlElement, latest: dt.date) -> dt.date | None:
    """The date in the nearest text around the title, widening a few levels up."""
    node = title
    for _ in range(_TITLE_LEVELS):
        if node.tail and (day := _date_in(_near_text(node.tail), latest)):
            return day
        for sibling in _siblings_nearest_first(node):
            if not isinstance(sibling.tag, str) or sibling.tag in ("script", "style"):
                continue
            if sibling.tag in _OFF_ARTICLE_TAGS or _OFF_ARTICLE.search(sibling.get("class") or ""):
                continue
            text = f"{_near_text(_leading_text(sibling))} {_near_text(sibling.tail or '')}"
            if day := _date_in(text, latest):
                return day
        node = node.getparent()
        if node is None or node.tag in ("body", "html"):
            break
    return None


def _near_text(text: str) -> str:
    """The start of a text: a date deep in a paragraph is an event's, not the dateline."""
    return " ".join(text.split())[:_NEAR_CHARS]


def _siblings_nearest_first(node: HtmlElement) -> Iterator[HtmlElement]:
    following = node.itersiblings()
    preceding = node.itersiblings(preceding=True)
    for _ in range(_TITLE_SIBLINGS):
        for side in (following, preceding):
            if (sibling := next(side, None)) is not None:
                yield sibling


def _leading_text(element: HtmlElement, limit: int = _LEAD_CHARS) -> str:
    """The element's first `limit` or so characters of text, without walking all of it."""
    pieces = []
    size = 0
    for piece in element.itertext():
        pieces.append(piece)
        size += len(piece)
        if size >= limit:
            break
    return " ".join(pieces)


def _card_date(card: HtmlElement, site_tz: ZoneInfo, latest: dt.date) -> dt.date | None:
    """The card's date: a `<time>` first, then an element classed as a date, then any text.

    A date in a title is often that of an event, so the text as a whole comes last.
    """
    for time in card.iter("time"):
        value = time.get("datetime") or time.text_content()
        if not _is_modification(time) and (day := _timestamp_date(value, site_tz, latest)):
            return day
    text = _leading_text(card, _CARD_CHARS)
    if not _YEAR.search(text):
        return None
    for element in _DATED_IN(card):
        if day := _date_in(_leading_text(element), latest):
            return day
    return _date_in(text, latest)
