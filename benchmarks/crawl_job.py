"""One crawl of the benchmark mirror, in a process of its own (a Twisted reactor cannot be
started twice): `python -m benchmarks.crawl_job {bare|naive|newsarchive} BASE_URL WORKDIR
[--workers N]`. Prints one JSON line at the end: responses received, items stored, wall and
CPU seconds of the crawl itself and of its child processes, the probe's samples and, for
newsarchive, its page workers.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from multiprocessing import forkserver
from pathlib import Path

from scrapy.crawler import CrawlerProcess

from benchmarks.naive import LinkSpider, NaiveSpider
from benchmarks.probe import ResponseProbe

# Politeness off, as for a local mirror; the same for every crawler measured.
MIRROR_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "32",
    "LOG_LEVEL": "WARNING",
    "EXTENSIONS": {"benchmarks.probe.ResponseProbe": 0},
}
# What newsarchive's settings have and plain Scrapy's lack.
SCRAPY_SETTINGS = {**MIRROR_SETTINGS, "ROBOTSTXT_OBEY": True, "TELNETCONSOLE_ENABLED": False}


def crawl_bare(base_url: str, workdir: Path, overrides: dict[str, str]) -> None:
    process = CrawlerProcess(SCRAPY_SETTINGS)
    process.crawl(LinkSpider, base_url=base_url)
    process.start()


def crawl_naive(base_url: str, workdir: Path, overrides: dict[str, str]) -> None:
    pipelines = {"ITEM_PIPELINES": {"benchmarks.naive.NaivePipeline": 100}}
    process = CrawlerProcess(
        {**SCRAPY_SETTINGS, **pipelines, "NAIVE_DB": str(workdir / "naive.db")}
    )
    process.crawl(NaiveSpider, base_url=base_url)
    process.start()


def crawl_newsarchive(base_url: str, workdir: Path, overrides: dict[str, str]) -> int:
    """newsarchive's crawl of the mirror through its Python API, with its default settings
    but for politeness and the benchmark's `overrides`; the page workers it ran with. (The
    other crawls load nothing of newsarchive.)"""
    from crawler.run import crawl_settings, run_crawl
    from pipelines.page import SiteOptions

    site = SiteOptions("mirror", (f"{base_url}/", f"{base_url}/en/"))
    warc_dir = {"NEWSARCHIVE_WARC_DIR": str(workdir / "warc")}
    settings = crawl_settings(
        f"sqlite:///{workdir}/archive.db", {**MIRROR_SETTINGS, **warc_dir, **overrides}
    )
    run_crawl([site], settings)
    return settings.getint("NEWSARCHIVE_PAGE_WORKERS")


CRAWLS: dict[str, Callable[[str, Path, dict[str, str]], int | None]] = {
    "bare": crawl_bare,
    "naive": crawl_naive,
    "newsarchive": crawl_newsarchive,
}


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crawl", choices=CRAWLS)
    parser.add_argument("base_url")
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--workers", type=int, help="NEWSARCHIVE_PAGE_WORKERS (newsarchive)")
    args = parser.parse_args(argv)
    overrides = {} if args.workers is None else {"NEWSARCHIVE_PAGE_WORKERS": str(args.workers)}
    args.workdir.mkdir(parents=True, exist_ok=True)
    start, cpu, children = (
        time.perf_counter(),
        cpu_seconds(resource.RUSAGE_SELF),
        cpu_seconds(resource.RUSAGE_CHILDREN),
    )
    page_workers = CRAWLS[args.crawl](args.base_url, args.workdir, overrides)
    wall, cpu = time.perf_counter() - start, cpu_seconds(resource.RUSAGE_SELF) - cpu
    # Page workers are forked by multiprocessing's fork server, which reaps them: their CPU
    # time reaches this process's children's once the fork server is reaped in turn.
    forkserver._forkserver._stop()
    children = cpu_seconds(resource.RUSAGE_CHILDREN) - children
    probe = ResponseProbe.last
    samples = [(s.responses, s.seconds - start, s.rss) for s in probe.samples]
    result = {
        "responses": probe.responses,
        "items": probe.items,
        "wall": wall,
        "cpu": cpu,
        "cpu_children": children,
        "samples": samples,
        "page_workers": page_workers,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
