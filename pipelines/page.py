"""All per-page stages in crawl order, in the crawl and outside it. Framework-free: the
crawl runs them through crawler.page_stages."""

from __future__ import annotations

import datetime as dt

from crawler.items import ArticleItem
from pipelines.dedup import FingerprintPipeline
from pipelines.extraction import ExtractionPipeline
from pipelines.language import LanguagePipeline
from pipelines.stage import NotAnArticle, run_stages

PAGE_STAGES = (ExtractionPipeline, LanguagePipeline, FingerprintPipeline)


def new_item(html: str | bytes, url: str, **fields) -> ArticleItem:
    """An item for a page fetched outside a crawl; `fields` are further ArticleItem fields."""
    fields.setdefault("site", "")
    fields["fetched_at"] = fields.get("fetched_at") or dt.datetime.now(dt.UTC)
    return ArticleItem(url=url, html=html, **fields)


def staged_item(item: ArticleItem) -> tuple[ArticleItem, str | None]:
    """The item after every per-page stage, and why it is not an article (None if it is).

    Runs in a worker process when the crawl has them: item and result travel pickled.
    """
    try:
        return run_stages(item, PAGE_STAGES), None
    except NotAnArticle as exc:
        return item, str(exc)


def extract_page(html: str | bytes, url: str, **fields) -> tuple[ArticleItem, str | None]:
    """Every stage's result for one page, and why it would not be stored (None if it would).

    The later stages also run for a page that is no article: `extract` shows what it holds.
    """
    item, rejection = staged_item(new_item(html, url, **fields))
    if rejection:
        run_stages(item, PAGE_STAGES[1:])
    return item, rejection
