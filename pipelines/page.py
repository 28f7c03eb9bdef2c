"""All per-page stages in crawl order, for use outside a crawl."""

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


def process_page(html: str | bytes, url: str, **fields) -> ArticleItem:
    """Run every per-page stage over one page; raises NotAnArticle for a page to skip."""
    return run_stages(new_item(html, url, **fields), PAGE_STAGES)


def extract_page(html: str | bytes, url: str, **fields) -> tuple[ArticleItem, str | None]:
    """Every stage's result for one page, and why it would not be stored (None if it would)."""
    item = new_item(html, url, **fields)
    try:
        run_stages(item, PAGE_STAGES)
    except NotAnArticle as exc:
        run_stages(item, PAGE_STAGES[1:])
        return item, str(exc)
    return item, None
