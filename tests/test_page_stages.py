"""The per-page stages in the crawl's worker processes: a page may not hold up the crawl."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from scrapy.exceptions import DropItem

from archive.cli import DEMO_PORTAL
from crawler.items import ArticleItem
from crawler.page_stages import PageStagesPipeline

ARTICLE = DEMO_PORTAL / "news" / "novyy-rezident-oez-zarechye" / "index.html"


def _page() -> ArticleItem:
    return ArticleItem(
        url="https://zarechye.example/news/novyy-rezident-oez-zarechye/",
        html=ARTICLE.read_text(encoding="utf-8"),
        site="zarechye.example",
        fetched_at=dt.datetime.now(dt.UTC),
    )


def test_a_page_over_the_time_budget_is_skipped_and_its_worker_replaced() -> None:
    pipeline = PageStagesPipeline(workers=1, time_budget=1e-6)
    pipeline.open_spider()
    try:
        first_pool = pipeline.pool
        with pytest.raises(DropItem, match="its extraction took over 1e-06 s"):
            asyncio.run(pipeline.process_item(_page()))
        assert pipeline.pool is not first_pool
        pipeline.time_budget = 60
        stored = asyncio.run(pipeline.process_item(_page()))
    finally:
        pipeline.close_spider()
    assert stored.title == "Компания «ЭкоПолимер» стала резидентом ОЭЗ «Заречье»"
    assert stored.lang == "ru"
