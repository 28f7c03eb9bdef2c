"""The crawlers newsarchive is measured against: a bare Scrapy spider that only follows the
mirror's links, and the naive pipeline that anyone would write first on top of it:
`trafilatura.extract` with its defaults, `langdetect.detect` on the text, and one SQLite
insert per page.

Settings read: NAIVE_DB (the SQLite file of the naive pipeline).
"""

from __future__ import annotations

import sqlite3

import trafilatura
from langdetect import LangDetectException, detect
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response


class LinkSpider(Spider):
    """Follows every link to the mirror and does nothing else. It requests each URL once
    on its own, as newsarchive does: the menus link to the same pages from every page, and
    Scrapy's duplicate filter costs far more per link than a set."""

    name = "links"

    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base = f"{base_url}/"
        self.start_urls = [self.base, f"{self.base}en/"]
        self.seen = set(self.start_urls)

    def parse(self, response: Response):
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if url.startswith(self.base) and url not in self.seen:
                self.seen.add(url)
                yield Request(url)


class NaiveSpider(LinkSpider):
    """The bare spider, handing every page to the item pipelines as well."""

    name = "naive"

    def parse(self, response: Response):
        yield {"url": response.url, "html": response.text}
        yield from super().parse(response)


class NaivePipeline:
    """Extracts the text, detects its language and stores it, a page at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NaivePipeline:
        return cls(crawler.settings["NAIVE_DB"])

    def open_spider(self) -> None:
        self.db = sqlite3.connect(self.path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, lang TEXT, text TEXT)"
        )

    def close_spider(self) -> None:
        self.db.close()

    def process_item(self, item: dict) -> dict:
        text = trafilatura.extract(item["html"])
        try:
            lang = detect(text) if text else None
        except LangDetectException:
            lang = None
        self.db.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?)", (item["url"], lang, text))
        self.db.commit()
        return {"url": item["url"], "lang": lang}
