"""Crawl throughput and CPU per page, side by side: bare Scrapy, the naive pipeline
(benchmarks.naive) and newsarchive, each crawling the same synthetic portal
(benchmarks.mirror) served on 127.0.0.1 by another process, politeness delays off.

Each crawl runs in a process of its own (benchmarks.crawl_job). Then `reprocess` and
`import-warc` run over the pages newsarchive archived, from its WARC file. With `--pages 20000
--only newsarchive` it also tells whether newsarchive's speed and memory stay flat along
a long crawl.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.mirror import REPO, Served, build, served
from benchmarks.probe import SAMPLE_EVERY

CRAWLS = ("bare", "naive", "newsarchive")
SPEEDUP_TARGET = 3.0
CPU_TARGET_MS = 10.0
# Spans of a crawl's responses compared for flatness, and how far apart they may be.
EARLY, LATE = (2000, 4000), (18000, 20000)
FLATNESS_TARGET = 0.2
OFFLINE_TARGET = 2.0


@dataclass(frozen=True, slots=True)
class Result:
    """What crawl_job reported of one crawl, and the mirror server's CPU time during it."""

    name: str
    crawl: str
    responses: int
    items: int
    wall: float
    cpu: float
    cpu_children: float
    server_cpu: float
    samples: list[tuple[int, float, int]]
    page_workers: int | None

    @property
    def rate(self) -> float:
        return self.responses / self.wall

    def per_page_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.responses

    def span(self, low: int, high: int) -> tuple[float, float] | None:
        """Pages per second and mean RSS (MB) from response `low` to response `high`."""
        inside = [sample for sample in self.samples if low <= sample[0] <= high]
        if len(inside) < 2 or max(inside[0][0] - low, high - inside[-1][0]) >= SAMPLE_EVERY:
            return None
        (first, start, _), (last, end, _) = inside[0], inside[-1]
        rss = sum(sample[2] for sample in inside) / len(inside) / 2**20
        return (last - first) / (end - start), rss


def run(mirror: Served, crawl: str, workdir: Path, workers: int | None) -> Result | None:
    """The crawl's result; None, after saying so, when it failed."""
    command = [sys.executable, "-m", "benchmarks.crawl_job", crawl, mirror.base_url, str(workdir)]
    if workers is not None:
        command += ["--workers", str(workers)]
    server_cpu = mirror.cpu_seconds()
    output = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    server_cpu = mirror.cpu_seconds() - server_cpu
    if output.returncode:
        print(f"the {crawl} crawl failed (exit status {output.returncode}); left out")
        return None
    report = json.loads(output.stdout.splitlines()[-1])
    name = crawl
    if report["page_workers"] is not None:
        name += f", {report['page_workers']} page workers{' (default)' if workers is None else ''}"
    return Result(name, crawl, server_cpu=server_cpu, **report)


def verdict(met: bool) -> str:
    return "target met" if met else "TARGET MISSED"


def report(results: list[Result]) -> None:
    print(
        "| pipeline | responses | items stored | time | pages/s "
        "| CPU of the crawl process per page | CPU of all processes per page |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r.name} | {r.responses} | {r.items} | {r.wall:.1f} s | {r.rate:.1f} "
            f"| {r.per_page_ms(r.cpu):.1f} ms | {r.per_page_ms(r.cpu + r.cpu_children):.1f} ms |"
        )
    print()
    naive = next((r for r in results if r.crawl == "naive"), None)
    for r in results:
        if r.crawl != "newsarchive":
            continue
        if naive:
            speedup = r.rate / naive.rate
            print(
                f"{r.name} / naive pages/s: {speedup:.2f}x "
                f"(target >= {SPEEDUP_TARGET:g}x): {verdict(speedup >= SPEEDUP_TARGET)}"
            )
        cpu = r.per_page_ms(r.cpu)
        print(
            f"{r.name}: {cpu:.1f} ms of crawl-process CPU per page "
            f"(target with page workers: <= {CPU_TARGET_MS:g} ms): {verdict(cpu <= CPU_TARGET_MS)}"
        )
    server = ", ".join(f"{r.name} {r.per_page_ms(r.server_cpu):.2f} ms" for r in results)
    print(f"mirror server's own CPU per page (on the same cores, in no row above): {server}")
    for r in results:
        early, late = r.span(*EARLY), r.span(*LATE)
        if r.crawl == "newsarchive" and early and late:
            print(
                f"{r.name} along the crawl: responses {EARLY[0]}-{EARLY[1]}: "
                f"{early[0]:.1f} pages/s, {early[1]:.0f} MB RSS; responses {LATE[0]}-{LATE[1]}: "
                f"{late[0]:.1f} pages/s, {late[1]:.0f} MB RSS"
            )
            speed, memory = late[0] / early[0] - 1, late[1] / early[1] - 1
            flat = abs(speed) <= FLATNESS_TARGET and abs(memory) <= FLATNESS_TARGET
            print(
                f"  change: speed {speed:+.0%}, RSS {memory:+.0%} "
                f"(target: within {FLATNESS_TARGET:.0%}): {verdict(flat)}"
            )


def offline(crawl: Result, workdir: Path) -> None:
    """`reprocess` and `import-warc` over what the crawl archived: the same pages, from its
    WARC file, without fetching; their pages/s beside the crawl's."""
    newsarchive = str(Path(sys.executable).with_name("newsarchive"))
    warcs = sorted(str(path) for path in (workdir / "warc").glob("*.warc.gz"))
    commands = {
        "reprocess": [newsarchive, "reprocess", "--db", f"sqlite:///{workdir}/archive.db",
                      "--warc-dir", str(workdir / "warc")],
        "import-warc": [newsarchive, "import-warc", *warcs, "--db",
                        f"sqlite:///{workdir}/imported.db"],
    }  # fmt: skip
    for name, command in commands.items():
        start = time.perf_counter()
        output = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if output.returncode:
            print(f"{name} failed (exit status {output.returncode}): {output.stderr[-300:]}")
            continue
        pages = crawl.items if name == "reprocess" else crawl.responses
        ratio = pages / wall / crawl.rate
        print(
            f"{name}: {pages} pages in {wall:.1f} s, {pages / wall:.1f} pages/s, {ratio:.2f}x "
            f"the crawl's (target >= {OFFLINE_TARGET:g}x): {verdict(ratio >= OFFLINE_TARGET)}; "
            f"{output.stdout.strip().splitlines()[-1]}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="articles in the mirror")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=CRAWLS, action="append", help="(repeatable)")
    parser.add_argument(
        "--workers", type=int, help="also crawl with NEWSARCHIVE_PAGE_WORKERS=N (newsarchive)"
    )
    parser.add_argument(
        "--no-offline",
        dest="offline",
        action="store_false",
        help="skip reprocess and import-warc over the crawl's pages",
    )
    args = parser.parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir) / "mirror"
        built = build(root, args.pages, args.seed)
        print(
            f"mirror: {built.articles} articles (half ru, half en, "
            f"{built.article_bytes / built.articles / 1024:.1f} KB each on average), "
            f"{built.listings} listings, {built.other_pages} other pages; seed {args.seed}"
        )
        runs = [(crawl, None) for crawl in CRAWLS if crawl in (args.only or CRAWLS)]
        if args.workers is not None and ("newsarchive", None) in runs:
            runs.append(("newsarchive", args.workers))
        with served(root) as mirror:
            results = [
                run(mirror, crawl, Path(workdir) / f"crawl{number}", workers)
                for number, (crawl, workers) in enumerate(runs)
            ]
        print()
        report([result for result in results if result])
        default = next(
            (
                (result, Path(workdir) / f"crawl{number}")
                for number, (result, (_, workers)) in enumerate(zip(results, runs, strict=True))
                if result and result.crawl == "newsarchive" and workers is None
            ),
            None,
        )
        if default and args.offline:
            offline(*default)
    print(
        f"\nthe benchmark took {time.perf_counter() - started:.0f} s; load average at its start "
        f"and end: {load:.1f}, {os.getloadavg()[0]:.1f} (other work on the machine skews it)"
    )


if __name__ == "__main__":
    main()
