"""A Scrapy extension for the crawl benchmark: every SAMPLE_EVERY responses, the time, the
response count (the `response_received_count` stat) and the crawl process's RSS; at the end,
the responses and the items stored.

It runs inside crawls that benchmarks.crawl_job starts through APIs that keep their crawlers
to themselves, so the last probe made in the process is kept as `ResponseProbe.last`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector

SAMPLE_EVERY = 500
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """The resident set size of this process now (Linux: from /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


@dataclass(frozen=True, slots=True)
class Sample:
    responses: int
    seconds: float
    rss: int


class ResponseProbe:
    last: ClassVar[ResponseProbe | None] = None

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self.samples: list[Sample] = []
        self.next_sample = SAMPLE_EVERY
        self.responses = 0
        self.items = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResponseProbe:
        probe = cls(crawler.stats)
        crawler.signals.connect(probe.response_received, signal=signals.response_received)
        crawler.signals.connect(probe.spider_closed, signal=signals.spider_closed)
        cls.last = probe
        return probe

    def response_received(self) -> None:
        count = self.stats.get_value("response_received_count", 0)
        if count >= self.next_sample:
            self.samples.append(Sample(count, time.perf_counter(), rss_bytes()))
            self.next_sample += SAMPLE_EVERY

    def spider_closed(self) -> None:
        self.responses = self.stats.get_value("response_received_count", 0)
        self.items = self.stats.get_value("item_scraped_count", 0)
