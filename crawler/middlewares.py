"""Downloader middlewares: polite retries, and recrawls that skip what is archived."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from http.client import responses as HTTP_REASONS
from pathlib import Path

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

from archive.db import ArchiveUnavailable, open_archive
from archive.store import ArchiveWriter, KnownArticle
from archive.warc import WarcFile
from pipelines.storage import SKIPPED_STAT, WARC_PATH_STAT
from pipelines.urls import url_key


class BackoffRetryMiddleware(RetryMiddleware):
    """Retries 5xx answers and timeouts after a delay that doubles with each attempt."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")

    async def _after_backoff(self, result: Request | Response | None):
        if isinstance(result, Request):
            attempt = result.meta.get("retry_times", 1)
            await asyncio.sleep(min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))
        return result

    async def process_response(self, request: Request, response: Response):
        return await self._after_backoff(super().process_response(request, response))

    async def process_exception(self, request: Request, exception: Exception):
        return await self._after_backoff(super().process_exception(request, exception))


class RedirectLoop(IgnoreRequest):
    """A redirect leads back to a URL of its own chain."""


class LoopAwareRedirectMiddleware(RedirectMiddleware):
    """Reports a redirect loop as such; otherwise the duplicate filter would drop the
    request that closes the loop without a word."""

    def _redirect(self, redirected: Request, request: Request, reason) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if url_key(redirected.url) in {url_key(url) for url in chain}:
            raise RedirectLoop(f"redirect loop: {' -> '.join([*chain, redirected.url])}")
        return super()._redirect(redirected, request, reason)


class AlreadyArchived(IgnoreRequest):
    """The request is for an archived article that is not due for a revisit."""


class KnownArticlesMiddleware:
    """Makes a recrawl download only what is new or due for a revisit.

    Listings, feeds and sitemaps are always read again; an archived article is skipped
    unless it was last fetched more than NEWSARCHIVE_REVISIT_AFTER_HOURS ago and was
    published within NEWSARCHIVE_REVISIT_WITHIN_DAYS, and then it is asked for with its
    ETag / Last-Modified so that an unchanged page costs a 304.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        try:
            self.writer = ArchiveWriter(open_archive(settings.get("NEWSARCHIVE_DB")))
        except ArchiveUnavailable as exc:
            raise NotConfigured(str(exc)) from exc
        self.crawler = crawler
        self.revisit_after = dt.timedelta(
            hours=settings.getfloat("NEWSARCHIVE_REVISIT_AFTER_HOURS")
        )
        self.revisit_within = dt.timedelta(
            days=settings.getfloat("NEWSARCHIVE_REVISIT_WITHIN_DAYS")
        )
        self.known: dict[str, KnownArticle] = {}
        self.skipped: set[int] = set()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownArticlesMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        for site in getattr(spider, "site_names", []):
            self.known.update(self.writer.known_articles(site))
        spider.logger.info("%d URLs of archived articles known", len(self.known))

    def due_for_revisit(self, known: KnownArticle, now: dt.datetime) -> bool:
        if now - known.last_fetched < self.revisit_after:
            return False
        published = known.published or known.first_seen.date()
        return now.date() - published <= self.revisit_within

    def process_request(self, request: Request) -> None:
        known = self.known.get(url_key(request.url))
        if known is None:
            return
        if not self.due_for_revisit(known, dt.datetime.now(dt.UTC)):
            self.skipped.add(known.article_id)
            self.crawler.stats.set_value(SKIPPED_STAT, len(self.skipped))
            raise AlreadyArchived(f"already archived: {request.url}")
        if known.etag:
            request.headers["If-None-Match"] = known.etag
        if known.last_modified:
            request.headers["If-Modified-Since"] = known.last_modified
        request.meta["handle_httpstatus_list"] = [
            *request.meta.get("handle_httpstatus_list", ()),
            304,
        ]


WARC_LOCATION = "newsarchive_warc_location"


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


class WarcArchiveMiddleware:
    """Keeps every fetched response, with its request, in the run's WARC file.

    It sits after decompression, so the records hold the bodies as the pipelines saw them.
    """

    def __init__(self, crawler: Crawler, directory: Path) -> None:
        self.crawler = crawler
        self.directory = directory
        self.warc: WarcFile | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchiveMiddleware:
        directory = crawler.settings.get("NEWSARCHIVE_WARC_DIR")
        if not directory:
            raise NotConfigured("NEWSARCHIVE_WARC_DIR is empty: no WARC files are written")
        return cls(crawler, Path(directory))

    def spider_opened(self, spider: Spider) -> None:
        site = re.sub(r"[^\w.-]+", "_", getattr(spider, "site", spider.name))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        path = (self.directory / f"{site}-{stamp}-{os.getpid()}.warc.gz").resolve()
        self.warc = WarcFile(path, software=self.crawler.settings.get("USER_AGENT"))
        self.crawler.stats.set_value(WARC_PATH_STAT, str(path))

    def spider_closed(self, spider: Spider) -> None:
        if self.warc is not None:
            self.warc.close()

    def process_response(self, request: Request, response: Response) -> Response:
        if self.warc is not None:
            request.meta[WARC_LOCATION] = self.warc.write(
                response.url,
                _header_pairs(request.headers),
                request.method,
                response.status,
                HTTP_REASONS.get(response.status, ""),
                _header_pairs(response.headers),
                response.body,
            )
        return response
