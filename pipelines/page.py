"""The one page processor: a fetched page in, an article or the reason it is none out, with
what the crawl needs to go on (the page's links, the dates its listing shows next to them,
and the fingerprints of its blocks for the site's template).

The crawl, `reprocess`, `import-warc` and `extract` all call process_page; it needs no
framework, so it runs as well in a crawl's worker processes as anywhere else. Each page is
decoded and parsed once, and each stage below is a plain function that returns a value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from pipelines.article import ExtractedArticle, RecordLocation
from pipelines.boilerplate import TemplateView, page_blocks
from pipelines.cards import link_cards
from pipelines.classify import article_rejection, read_page_signals
from pipelines.content import extract_content
from pipelines.dates import listing_dates, published_date
from pipelines.dedup import content_hash, minhash_signature
from pipelines.encoding import decode_html
from pipelines.html import MAX_TAGS, parse_html, too_many_tags
from pipelines.language import detect_language
from pipelines.links import PageLinks, page_links
from pipelines.urls import canonical_url

MAX_LINKS = 2000


@dataclass(frozen=True, slots=True)
class SiteOptions:
    """A site as the archive knows it, from its profile (or a crawl's arguments) to the page
    processor: its name, where a crawl starts and which hosts it stays on, which URLs can be
    articles and which are never requested, its time zone (for publication dates) and the
    CSS selectors of blocks to remove before extraction."""

    name: str = ""
    start_urls: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    article_url_pattern: str | None = None
    exclude_url_patterns: tuple[str, ...] = ()
    timezone: str = "Europe/Moscow"
    drop_selectors: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True, slots=True)
class PageLimits:
    """What one page may cost: tags parsed, links taken."""

    max_tags: int = MAX_TAGS
    max_links: int = MAX_LINKS


@dataclass(slots=True)
class Page:
    """A fetched page: its body as received (or text already decoded) and what the fetch
    told about it."""

    url: str
    body: bytes | str = field(repr=False)
    content_type: str | None = None
    fetched_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    requested_urls: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    # The date a listing showed next to the link that led to the page.
    listing_published: dt.date | None = None
    warc_location: RecordLocation | None = None


@dataclass(slots=True)
class PageResult:
    """What one page gave: the article (None when the page is no HTML at all) and why it is
    not one (None when it is), the links to follow and their listing dates, and the
    fingerprints of the page's blocks for the site's template (see SiteTemplate.learn)."""

    article: ExtractedArticle | None
    rejection: str | None
    links: PageLinks = field(default_factory=PageLinks)
    listing_dates: dict[str, dt.date] = field(default_factory=dict)
    blocks: frozenset[str] = frozenset()
    # More tags than PageLimits.max_tags: only the links among the first ones were taken.
    oversized: bool = False


DEFAULT_SITE = SiteOptions()
DEFAULT_LIMITS = PageLimits()
NO_TEMPLATE = TemplateView()


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _article(page: Page, site: SiteOptions) -> ExtractedArticle:
    return ExtractedArticle(
        url=page.url,
        site=site.name,
        fetched_at=page.fetched_at,
        requested_urls=page.requested_urls,
        etag=page.etag,
        last_modified=page.last_modified,
        warc_location=page.warc_location,
        canonical_url=page.url,
    )


def _html(page: Page) -> str:
    return page.body if isinstance(page.body, str) else decode_html(page.body, page.content_type)[1]


def page_fingerprints(page: Page, limits: PageLimits = DEFAULT_LIMITS) -> frozenset[str]:
    """The fingerprints of the page's blocks alone, for a site's template (SiteTemplate)."""
    tree = parse_html(_html(page), limits.max_tags)
    body = tree.find("body") if tree is not None else None
    return frozenset(key for _, key in page_blocks(body)) if body is not None else frozenset()


def process_page(
    page: Page,
    site: SiteOptions = DEFAULT_SITE,
    template: TemplateView = NO_TEMPLATE,
    limits: PageLimits = DEFAULT_LIMITS,
    *,
    follow: bool = True,
    whole: bool = False,
) -> PageResult:
    """Everything one page gives, in one pass over one parse of it.

    `template` is the site's template as it stood before this page (SiteTemplate.view);
    with `follow`, the page's links and their listing dates are read too; with `whole`,
    language and fingerprints are computed even for a page that is no article (so that
    `extract` can show what such a page holds).
    """
    html = _html(page)
    article = _article(page, site)
    tree = parse_html(html, limits.max_tags)
    if tree is None:
        return PageResult(None, "not parseable as HTML")
    oversized = too_many_tags(html, limits.max_tags)
    links = page_links(tree, page.url, limits.max_links) if follow else PageLinks()
    cards = [] if oversized else link_cards(tree)
    dates = {}
    if follow and not oversized:
        found = listing_dates(tree, page.url, _zone(site.timezone), cards)
        dates = {canonical_url(link): date for link, date in found.items()}
    if oversized:
        rejection = f"more than {limits.max_tags} tags, more than any article page has"
        return PageResult(article, rejection, links, dates, oversized=True)
    body = tree.find("body")
    blocks = page_blocks(body) if body is not None else []
    fingerprints = frozenset(key for _, key in blocks)
    result = PageResult(article, None, links, dates, fingerprints)
    if site.article_url_pattern and not _pattern(site.article_url_pattern).search(page.url):
        result.rejection = "not an article URL of the site (article_url_pattern)"
        return result

    signals = read_page_signals(tree, page.url, cards)
    published = published_date(tree, _zone(site.timezone)) or page.listing_published
    for selector in site.drop_selectors:
        for element in tree.cssselect(selector):
            element.drop_tree()
    content = extract_content(
        tree, page.url, template=template.template_of(fingerprints), blocks=blocks
    )
    article.canonical_url = signals.canonical_url
    article.title = content.title
    article.text = content.text
    article.author = content.author
    article.published = published
    article.alternates = signals.alternates
    result.rejection = article_rejection(signals, content.text, published)
    if result.rejection and not whole:
        return result

    article.lang = detect_language(article.text)
    article.title_lang = detect_language(article.title, article.lang)
    article.content_hash = content_hash(article.title, article.text)
    article.minhash = minhash_signature(article.text)
    return result


def extract_page(
    html: str | bytes, url: str, site: SiteOptions = DEFAULT_SITE, **fetch
) -> tuple[ExtractedArticle, str | None]:
    """The article of one page read on its own, and why it would not be stored (None if it
    would); `fetch` are further Page fields. The fields are filled in even for a page that
    is no article."""
    result = process_page(Page(url, html, **fetch), site, follow=False, whole=True)
    article = result.article if result.article is not None else _article(Page(url, ""), site)
    return article, result.rejection
