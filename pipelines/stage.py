"""The common shape of the per-page stages and the function that runs them all."""

from __future__ import annotations

from collections.abc import Iterable

from crawler.items import ArticleItem


class NotAnArticle(Exception):
    """The page holds no article; the message says why."""


class PageStage:
    """A per-page stage: `apply` fills in fields of the item or raises NotAnArticle.

    `apply` needs no Scrapy, so the same stages run outside a crawl (extract, reprocess);
    a crawl runs them all through crawler.page_stages.PageStagesPipeline.
    """

    @staticmethod
    def apply(item: ArticleItem) -> None:
        raise NotImplementedError


def run_stages(item: ArticleItem, stages: Iterable[type[PageStage]]) -> ArticleItem:
    for stage in stages:
        stage.apply(item)
    return item
