"""RobotsPolicyMiddleware announces the sitemaps of each robots.txt it reads, once per host."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from twisted.internet import error as twisted_errors

from crawler.middlewares import RobotsPolicyMiddleware, robots_txt_sitemaps
from tests.sites.server import FixtureServer

SITES = Path(__file__).parent / "sites"
MAX_ROBOTS_BYTES = 1000
SETTINGS = {"ROBOTSTXT_OBEY": True, "NEWSARCHIVE_MAX_ROBOTS_BYTES": MAX_ROBOTS_BYTES}
ROBOTS = b"""User-agent: *
Disallow: /admin/

Sitemap: https://invest.example/sitemap_index.xml
Sitemap: /sitemap-news.xml.gz
"""


class Engine:
    """Answers the middleware's robots.txt downloads from `answers`: (status, body) or an
    exception, after a moment in which the other requests of the host wait."""

    def __init__(self, answers: dict[str, tuple[int, bytes] | Exception]) -> None:
        self.answers = answers
        self.downloaded: list[str] = []

    async def download_async(self, request: Request) -> Response:
        self.downloaded.append(request.url)
        await asyncio.sleep(0.01)
        answer = self.answers[request.url]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return Response(request.url, status=status, body=body, request=request)


def crawl(answers, urls: list[str]):
    """What the middleware says of each of `urls`, requested at once; the signals it sent;
    the robots.txt URLs it downloaded."""
    crawler = get_crawler(settings_dict=SETTINGS)
    crawler.engine = Engine(answers)
    middleware = RobotsPolicyMiddleware.from_crawler(crawler)
    announced = []

    def robots_read(origin: str, sitemaps: list[str]) -> None:
        announced.append((origin, sitemaps))

    crawler.signals.connect(robots_read, signal=robots_txt_sitemaps, weak=False)

    async def verdict(url: str) -> str:
        try:
            await middleware.process_request(Request(url))
        except IgnoreRequest:
            return "forbidden"
        return "allowed"

    async def main() -> list[str]:
        return list(await asyncio.gather(*(verdict(url) for url in urls)))

    return asyncio.run(main()), announced, crawler.engine.downloaded


def test_the_sitemaps_of_each_host_are_announced_once() -> None:
    verdicts, announced, downloaded = crawl(
        {
            "https://invest.example/robots.txt": (200, ROBOTS),
            "http://other.example:8080/robots.txt": (404, b"<html>Sitemap: /no.xml</html>"),
        },
        [
            "https://invest.example/",
            "https://invest.example/admin/",
            "https://invest.example/news/",
            "http://other.example:8080/admin/",
            "http://other.example:8080/",
        ],
    )
    assert verdicts == ["allowed", "forbidden", "allowed", "allowed", "allowed"]
    assert sorted(downloaded) == [
        "http://other.example:8080/robots.txt",
        "https://invest.example/robots.txt",
    ]
    assert sorted(announced) == [
        ("http://other.example:8080", []),
        (
            "https://invest.example",
            [
                "https://invest.example/sitemap_index.xml",
                "https://invest.example/sitemap-news.xml.gz",
            ],
        ),
    ]


def test_a_robots_txt_that_fails_is_announced_with_no_sitemaps() -> None:
    verdicts, announced, _ = crawl(
        {
            "https://down.example/robots.txt": (503, ROBOTS),
            "https://refused.example/robots.txt": twisted_errors.ConnectionRefusedError(),
            "https://ignored.example/robots.txt": IgnoreRequest("offsite"),
        },
        ["https://down.example/", "https://refused.example/", "https://ignored.example/"],
    )
    assert verdicts == ["forbidden", "allowed", "allowed"]
    assert sorted(announced) == [
        ("https://down.example", []),
        ("https://ignored.example", []),
        ("https://refused.example", []),
    ]


def test_sitemaps_past_the_robots_txt_byte_limit_are_not_announced() -> None:
    body = ROBOTS + b"# padding\n" * MAX_ROBOTS_BYTES + b"Sitemap: /late.xml\n"
    _, announced, _ = crawl(
        {"https://invest.example/robots.txt": (200, body)}, ["https://invest.example/"]
    )
    assert announced == [
        (
            "https://invest.example",
            [
                "https://invest.example/sitemap_index.xml",
                "https://invest.example/sitemap-news.xml.gz",
            ],
        )
    ]


PROBE = """
import json, sys
from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from crawler.middlewares import robots_txt_sitemaps

class Probe(Spider):
    name = "probe"

    async def start(self):
        self.crawler.signals.connect(self.announced, signal=robots_txt_sitemaps)
        for path in ("/", "/news/", "/admin/"):
            yield Request(sys.argv[1] + path, callback=self.parse)

    def announced(self, origin, sitemaps):
        print(json.dumps({"origin": origin, "sitemaps": sitemaps}), flush=True)

    def parse(self, response):
        print(json.dumps({"fetched": response.url}), flush=True)

process = CrawlerProcess({
    "ROBOTSTXT_OBEY": True,
    "NEWSARCHIVE_MAX_ROBOTS_BYTES": 512000,
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "crawler.middlewares.RobotsPolicyMiddleware": 100,
    },
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": False,
})
process.crawl(Probe)
process.start()
"""


def test_a_real_crawl_announces_the_sitemaps_of_robots_txt_once() -> None:
    with FixtureServer(SITES / "modern") as site:
        result = subprocess.run(
            [sys.executable, "-c", PROBE, site.base_url],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).parent.parent,
        )
        robots_requests = [r for r in site.requests if r.path == "/robots.txt"]
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line for line in lines if "origin" in line] == [
        {"origin": site.base_url, "sitemaps": [site.url("/sitemap_index.xml")]}
    ]
    assert {line["fetched"] for line in lines if "fetched" in line} == {
        site.url("/"),
        site.url("/news/"),
    }
    assert len(robots_requests) == 1
