"""Storing articles into a SQLite archive: one transaction per article against batches.

Each run copies an archive that holds --archived synthetic articles already, then stores
--articles new ones in it with ArchiveWriter.save (one transaction each) or save_many (one
transaction per --batch articles), and prints articles per second and milliseconds per
article. The texts are 3-5 KB of Russian-like words with their MinHash signatures
(pipelines.dedup.minhash_signature), computed before the clock starts; one new article in
twenty is a near-duplicate of an archived one, so the duplicate lookup finds something.

    python -m benchmarks.store --archived 1000 20000 --articles 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, event

from archive.db import open_archive
from archive.store import ArchiveWriter
from pipelines.article import ExtractedArticle
from pipelines.dedup import content_hash, minhash_signature

SITES = 5
NEAR_DUPLICATE_SHARE = 20
"""One new article in this many is an archived article's text with a sentence added."""
FETCHED = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
_SYLLABLES = [c + v for c in "бвгдзклмнпрстфхцчш" for v in "аеиоуыя"]
_ENDINGS = ["", "а", "ов", "ами", "ого", "ому", "ая", "ые", "ий", "ость", "ение", "ать"]


def _vocabulary(generator: random.Random, size: int = 20_000) -> list[str]:
    words = set()
    while len(words) < size:
        stem = "".join(generator.choices(_SYLLABLES, k=generator.randint(1, 4)))
        words.add(stem + generator.choice(_ENDINGS))
    return sorted(words)


def _text(generator: random.Random, vocabulary: list[str]) -> str:
    """3-5 KB of sentences (UTF-8: Cyrillic letters take two bytes)."""
    size = generator.randint(3_000, 5_000)
    sentences: list[str] = []
    length = 0
    while length < size:
        words = generator.choices(vocabulary, k=generator.randint(6, 18))
        sentence = " ".join(words).capitalize() + "."
        sentences.append(sentence)
        length += len(sentence.encode()) + 1
    return " ".join(sentences)


def _article(number: int, text: str) -> ExtractedArticle:
    url = f"https://site-{number % SITES}.example/news/{number}/"
    title = f"Новость номер {number}"
    return ExtractedArticle(
        url=url,
        site=f"site-{number % SITES}",
        fetched_at=FETCHED,
        canonical_url=url,
        requested_urls=(f"https://site-{number % SITES}.example/?id={number}",),
        title=title,
        text=text,
        lang="ru",
        published=dt.date(2026, 11, 1) + dt.timedelta(days=number % 30),
        content_hash=content_hash(title, text),
        minhash=minhash_signature(text),
    )


def articles(first: int, count: int, archived: list[str], seed: int) -> list[ExtractedArticle]:
    """Articles number `first` on; every NEAR_DUPLICATE_SHARE-th repeats an archived text."""
    generator = random.Random(seed)
    vocabulary = _vocabulary(random.Random(0))
    made = []
    for number in range(first, first + count):
        if archived and number % NEAR_DUPLICATE_SHARE == 0:
            text = generator.choice(archived) + " " + _text(generator, vocabulary)[:200] + "."
        else:
            text = _text(generator, vocabulary)
        made.append(_article(number, text))
    return made


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _archive(path: Path, items: list[ExtractedArticle]) -> None:
    engine = open_archive(f"sqlite:///{path}")
    writer = ArchiveWriter(engine)
    for batch in _batches(items, 500):
        writer.save_many(batch)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def _count_statements(engine: Engine) -> list[int]:
    sent = [0]

    def count(*_args) -> None:
        sent[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    return sent


def measure(
    base: Path,
    work: Path,
    items: list[ExtractedArticle],
    store: Callable,
    writer_class: type[ArchiveWriter] = ArchiveWriter,
) -> tuple[float, float, float]:
    """Seconds to store the items into a copy of the archive `base`, seconds of this
    process's CPU time, and statements sent per article."""
    path = work / "archive.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, path)
    engine = open_archive(f"sqlite:///{path}")
    writer = writer_class(engine)
    sent = _count_statements(engine)
    started, cpu = time.perf_counter(), time.process_time()
    store(writer, items)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    engine.dispose()
    return elapsed, cpu, sent[0] / len(items)


def one_by_one(writer: ArchiveWriter, items: list[ExtractedArticle]) -> None:
    for item in items:
        writer.save(item)


def in_batches(size: int) -> Callable:
    def store(writer: ArchiveWriter, items: list[ExtractedArticle]) -> None:
        for batch in _batches(items, size):
            writer.save_many(batch)

    return store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archived", type=int, nargs="+", default=[1_000, 20_000])
    parser.add_argument("--articles", type=int, default=2_000, help="new articles to store")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--dir", type=Path, help="where to keep the archives (default: temporary)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="newsarchive-store-", dir=args.dir) as directory:
        work = Path(directory)
        most = max(args.archived)
        print(f"making {most} archived and {args.articles} new articles ...", flush=True)
        existing = articles(0, most, [], seed=1)
        modes = {
            "one per transaction": one_by_one,
            f"batches of {args.batch}": in_batches(args.batch),
        }
        print(
            f"{'archived':>9} {'mode':<22} {'articles/s':>11} {'ms/article':>11}"
            f" {'CPU ms/art':>11} {'stmts/art':>10}"
        )
        for archived in sorted(args.archived):
            base = work / f"base-{archived}.db"
            _archive(base, existing[:archived])
            # New articles, near-duplicates of what this archive holds.
            new = articles(most, args.articles, [item.text for item in existing[:archived]], 2)
            runs: dict[str, list] = {mode: [] for mode in modes}
            for _ in range(args.repeat):  # in turns, so that a busy machine slows both
                for mode, store in modes.items():
                    runs[mode].append(measure(base, work, new, store))
            for mode, measured in runs.items():
                seconds = min(run[0] for run in measured)
                cpu = min(run[1] for run in measured)
                statements = measured[0][2]
                print(
                    f"{archived:>9} {mode:<22} {len(new) / seconds:>11.0f}"
                    f" {1000 * seconds / len(new):>11.2f} {1000 * cpu / len(new):>11.2f}"
                    f" {statements:>10.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
