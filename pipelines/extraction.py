"""The extraction stage: parse a page once, decide whether it is an article, extract it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from lxml.html import HtmlElement

from crawler.items import ArticleItem
from pipelines.classify import article_rejection, read_page_signals
from pipelines.content import extract_content
from pipelines.dates import MOSCOW, published_date
from pipelines.html import MAX_TAGS, parse_html, too_many_tags
from pipelines.stage import NotAnArticle, PageStage


@dataclass(slots=True)
class ExtractedArticle:
    title: str
    text: str
    canonical_url: str
    published: dt.date | None = None
    author: str | None = None
    alternates: dict[str, str] = field(default_factory=dict)


def analyse_page(
    html: str | bytes,
    url: str,
    tree: HtmlElement | None = None,
    listing_published: dt.date | None = None,
    site_tz: ZoneInfo = MOSCOW,
    drop_selectors: tuple[str, ...] = (),
    template: frozenset[str] = frozenset(),
) -> tuple[ExtractedArticle, str | None]:
    """The page's main content, and why it is not an article (None when it is one).

    `tree` is the page already parsed by the crawler, so that a page is parsed once;
    `listing_published` is the date shown next to the page's link on a listing; dates are
    taken in the site's time zone `site_tz`; `drop_selectors` are CSS selectors of a site's
    blocks to remove before extraction (a profile hint); `template` holds the fingerprints
    of the blocks that repeat across the site's pages (see SiteTemplate).
    """
    if too_many_tags(html):
        rejection = f"more than {MAX_TAGS} tags, more than any article page has"
        return ExtractedArticle(title="", text="", canonical_url=url), rejection
    if tree is None:
        tree = parse_html(html)
    if tree is None:
        return ExtractedArticle(title="", text="", canonical_url=url), "not parseable as HTML"
    signals = read_page_signals(tree, url)
    published = published_date(tree, site_tz) or listing_published
    for selector in drop_selectors:
        for element in tree.cssselect(selector):
            element.drop_tree()
    content = extract_content(tree, url, template=template)
    article = ExtractedArticle(
        title=content.title,
        text=content.text,
        canonical_url=signals.canonical_url,
        published=published,
        author=content.author,
        alternates=signals.alternates,
    )
    return article, article_rejection(signals, content.text, published)


class ExtractionPipeline(PageStage):
    """Fills in the article fields even for a page it then rejects (`newsarchive extract`
    shows what such a page holds)."""

    @staticmethod
    def apply(item: ArticleItem) -> None:
        article, rejection = analyse_page(
            item.html,
            item.url,
            item.tree,
            item.listing_published,
            ZoneInfo(item.timezone),
            item.drop_selectors,
            item.template,
        )
        item.tree = None
        item.canonical_url = article.canonical_url
        item.title = article.title
        item.text = article.text
        item.published = article.published
        item.author = article.author
        item.alternates = article.alternates
        if rejection:
            raise NotAnArticle(rejection)
