"""Crawl throughput: pages per second of a whole crawl (fetch, parse, every pipeline stage,
WARC record, database) against a local mirror of the benchmark pages on 127.0.0.1.

The mirror serves the pages of both extraction datasets under /p/<key>/ with a list of
links to all of them as its home page, from a separate process as a real site would;
politeness delays are off, as for a local mirror.
"""

from __future__ import annotations

import argparse
import gzip
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import func, select

from archive.cli import DEMO_SETTINGS
from archive.db import open_archive, session_factory
from archive.models import Article, CrawlRun
from crawler.run import CrawlTarget, crawl_settings, run_crawl

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
FOLDERS = ("article-extraction-benchmark", "daniel-ru")
MIRROR_SETTINGS = {
    **DEMO_SETTINGS,
    "CONCURRENT_REQUESTS": "32",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "32",
}


def build_mirror(root: Path, limit: int | None) -> int:
    """Writes the mirror; the number of pages in it."""
    links = []
    for folder in FOLDERS:
        for path in sorted((DATASETS_DIR / folder / "html").glob("*.html.gz"))[:limit]:
            key = path.name.removesuffix(".html.gz")
            page = root / "p" / key
            page.mkdir(parents=True)
            (page / "index.html").write_bytes(gzip.decompress(path.read_bytes()))
            links.append(f'<li><a href="/p/{key}/">{key}</a></li>')
    (root / "index.html").write_text(
        f"<html><body><h1>Mirror</h1><ul>{''.join(links)}</ul></body></html>", encoding="utf-8"
    )
    return len(links)


@contextmanager
def served(root: Path) -> Iterator[str]:
    """The base URL of `root` served by Python's HTTP server in another process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = subprocess.Popen(command, cwd=root, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="pages per dataset")
    parser.add_argument(
        "--workers", type=int, default=0, help="NEWSARCHIVE_PAGE_WORKERS (0: in the crawl process)"
    )
    args = parser.parse_args(argv)
    if not DATASETS_DIR.is_dir():
        sys.exit(f"datasets folder not found: {DATASETS_DIR}")
    with tempfile.TemporaryDirectory() as workdir:
        root, db_url = Path(workdir) / "mirror", f"sqlite:///{workdir}/archive.db"
        pages = build_mirror(root, args.limit)
        with served(root) as base_url:
            # Links from the mirrored pages to their own sites' paths lead nowhere here.
            target = CrawlTarget(
                "mirror",
                (base_url + "/",),
                article_url_pattern="/p/",
                exclude_url_patterns=(rf"^{base_url}/(?!p/[^/]+/$|$)",),
            )
            settings = crawl_settings(
                db_url, {**MIRROR_SETTINGS, "NEWSARCHIVE_PAGE_WORKERS": str(args.workers)}
            )
            settings.set("NEWSARCHIVE_WARC_DIR", str(Path(workdir) / "warc"), priority="cmdline")
            start, start_cpu = time.perf_counter(), time.process_time()
            run_crawl([target], settings)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        with session_factory(open_archive(db_url))() as session:
            fetched = session.scalar(select(CrawlRun.pages_fetched))
            articles = session.scalar(select(func.count(Article.id)))
    print(
        f"crawl of a local mirror: {pages} pages served, {fetched} fetched, {articles} articles "
        f"archived in {elapsed:.1f} s with {args.workers} page workers: "
        f"{fetched / elapsed:.1f} pages/s; the crawl process itself used "
        f"{1000 * cpu / fetched:.0f} ms of CPU per page"
    )


if __name__ == "__main__":
    main()
