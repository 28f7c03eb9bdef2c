"""The common shape of the per-page pipelines and the function that runs them all."""

from __future__ import annotations

from collections.abc import Iterable

from scrapy.exceptions import DropItem

from crawler.items import ArticleItem


class NotAnArticle(Exception):
    """The page holds no article; the message says why."""


class PageStage:
    """A per-page stage: `apply` fills in fields of the item or raises NotAnArticle.

    `apply` needs no Scrapy, so the same stages run outside a crawl (extract, reprocess).
    A crawl runs them all through pipelines.page.PageStagesPipeline; each is also an item
    pipeline of its own, for Scrapy projects that want just that stage.
    """

    @staticmethod
    def apply(item: ArticleItem) -> None:
        raise NotImplementedError

    def process_item(self, item: object) -> object:
        if not isinstance(item, ArticleItem):
            return item
        try:
            self.apply(item)
        except NotAnArticle as exc:
            raise not_stored(item, str(exc)) from None
        return item


def not_stored(item: ArticleItem, reason: str) -> DropItem:
    """What a pipeline raises for a page it does not store, with the reason in the log."""
    return DropItem(f"not stored, {reason}: {item.url}")


def run_stages(item: ArticleItem, stages: Iterable[type[PageStage]]) -> ArticleItem:
    for stage in stages:
        stage.apply(item)
    return item
