"""Quality and speed of pipelines.content.extract_content on two hand-annotated page sets.

en: the Zyte article-extraction benchmark (body without headline is compared).
ru: DAnIEL-ru (the reference includes the headline, so title and body are compared).
The metric is the benchmark's own: 4-token shingles of `\\w+` tokens, per-page TP/FP/FN
normalised to sum to 1, precision and recall averaged over pages, F1 their harmonic mean.

With `--folds K` the pages are also split by site into K folds (by a hash of the site's
domain, so a site's pages stay together and every run splits alike) and each fold is
scored apart: how far the figure moves from one group of sites to another.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura

from pipelines.content import MainContent, extract_content
from pipelines.html import parse_html

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
F1_TARGETS = {"en": 0.970, "ru": 0.90}
SPEED_TARGET = 60.0
TOKEN_RE = re.compile(r"\w+")
SHINGLE = 4


@dataclass(frozen=True, slots=True)
class Dataset:
    folder: str
    prediction: Callable[[MainContent], str]


DATASETS = {
    "en": Dataset("article-extraction-benchmark", lambda content: content.text),
    "ru": Dataset("daniel-ru", lambda content: f"{content.title}\n{content.text}"),
}


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def shingles(text: str) -> Counter[tuple[str, ...]]:
    """Counted 4-token shingles; a text shorter than that is a single shorter shingle."""
    words = tokens(text)
    grams = (tuple(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1)))
    return Counter(gram for gram in grams if gram)


def tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    """Shingle matches of one page, normalised so that long pages weigh no more than short ones."""
    expected, found = shingles(true), shingles(pred)
    tp = sum((expected & found).values())
    fp = sum((found - expected).values())
    fn = sum((expected - found).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp)


def recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn)


def scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Precision, recall, F1 and accuracy over (true, predicted) texts, as the benchmark scores."""
    counts = [tp_fp_fn(true, pred) for true, pred in pairs]
    p = statistics.mean([precision(*c) for c in counts if c[0] + c[1] > 0] or [0.0])
    r = statistics.mean([recall(*c) for c in counts if c[0] + c[2] > 0] or [0.0])
    exact = sum(tokens(true) == tokens(pred) for true, pred in pairs)
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "accuracy": exact / len(pairs),
    }


def pages(folder: Path, limit: int | None) -> Iterator[tuple[str, bytes, str, str]]:
    """(id, html bytes, url, reference text) of each annotated page, in a stable order."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    for key in sorted(truth)[:limit]:
        html = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        yield key, html, truth[key].get("url") or "", truth[key]["articleBody"]


def site_of(key: str, url: str) -> str:
    """The page's site: its URL's host without `www.`, or else the domain in its file name
    (DAnIEL-ru names its pages DATE_DOMAIN_HASH)."""
    host = (urlsplit(url).hostname or "") if url else ""
    if not host and key.count("_") >= 2:
        host = key.split("_")[1]
    return host.removeprefix("www.")


def fold_of(site: str, folds: int) -> int:
    return int(hashlib.sha1(site.encode()).hexdigest(), 16) % folds


def newsarchive_content(html: bytes, url: str) -> MainContent:
    tree = parse_html(html)
    return extract_content(tree, url) if tree is not None else MainContent("", "")


def trafilatura_content(html: bytes, url: str) -> MainContent:
    """trafilatura with its default settings, for comparison."""
    document = trafilatura.bare_extraction(html, url=url)
    if document is None:
        return MainContent("", "")
    return MainContent(document.title or "", document.text or "")


EXTRACTORS = {"newsarchive": newsarchive_content, "trafilatura": trafilatura_content}


def run(
    name: str, limit: int | None, extractor: Callable[[bytes, str], MainContent], folds: int = 0
) -> tuple[dict[str, float], list[tuple[int, dict[str, float]]]]:
    """The scores of the whole set, and of each fold of its sites (none without `folds`)."""
    dataset = DATASETS[name]
    folder = DATASETS_DIR / dataset.folder
    if not (folder / "ground-truth.json").is_file():
        sys.exit(f"dataset {name!r} not found in {folder}")
    pairs, sites, elapsed = [], [], 0.0
    for key, html, url, reference in pages(folder, limit):
        start = time.perf_counter()
        content = extractor(html, url)
        elapsed += time.perf_counter() - start
        pairs.append((reference, dataset.prediction(content)))
        sites.append(site_of(key, url))
    result = scores(pairs)
    result["pages"] = len(pairs)
    result["pages_per_s"] = len(pairs) / elapsed if elapsed else 0.0
    by_fold = []
    for fold in range(folds):
        inside = [n for n, site in enumerate(sites) if fold_of(site, folds) == fold]
        if inside:
            scored = scores([pairs[n] for n in inside])
            scored["pages"] = len(inside)
            scored["sites"] = len({sites[n] for n in inside})
            by_fold.append((fold, scored))
    return result, by_fold


def verdict(ok: bool) -> str:
    return "target met" if ok else "TARGET MISSED"


def report(name: str, result: dict[str, float]) -> str:
    f1_ok = result["f1"] >= F1_TARGETS[name]
    speed_ok = result["pages_per_s"] >= SPEED_TARGET
    return (
        f"{name}: pages={result['pages']}  precision={result['precision']:.3f}  "
        f"recall={result['recall']:.3f}  F1={result['f1']:.3f} ({verdict(f1_ok)}, "
        f">= {F1_TARGETS[name]:.3f})  accuracy={result['accuracy']:.3f}  "
        f"pages/s={result['pages_per_s']:.1f} ({verdict(speed_ok)}, >= {SPEED_TARGET:.0f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["en", "ru", "all"], default="all")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    parser.add_argument(
        "--extractor",
        choices=list(EXTRACTORS),
        default="newsarchive",
        help="what to measure (trafilatura: the library alone, as a baseline)",
    )
    parser.add_argument(
        "--folds", type=int, default=0, help="also score K groups of sites apart (K >= 2)"
    )
    args = parser.parse_args(argv)
    if not DATASETS_DIR.is_dir():
        sys.exit(f"datasets folder not found: {DATASETS_DIR}")
    names = list(DATASETS) if args.dataset == "all" else [args.dataset]
    if args.folds == 1 or args.folds < 0:
        parser.error("--folds takes 2 or more")
    for name in names:
        result, by_fold = run(name, args.limit, EXTRACTORS[args.extractor], args.folds)
        print(f"{args.extractor} {report(name, result)}", flush=True)
        for fold, scored in by_fold:
            print(
                f"  {name} fold {fold + 1}/{args.folds}: sites={scored['sites']}  "
                f"pages={scored['pages']}  F1={scored['f1']:.3f}"
            )
        if by_fold:
            figures = [scored["f1"] for _, scored in by_fold]
            lowest, mean = min(figures), statistics.mean(figures)
            print(f"  {name} folds: lowest F1 {lowest:.3f}, mean {mean:.3f}")


if __name__ == "__main__":
    main()
