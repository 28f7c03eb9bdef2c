"""Robustness of the page processor (pipelines.page.process_page) on hostile and broken pages.

Seeded mutations of the sample portal's pages and of the fixture sites' pages (byte flips,
truncation, deleted and duplicated tags, unclosed tags, random bytes, huge attribute values
and lists, deep nesting, broken entities, NUL bytes, mixed encodings, bad URLs and JSON-LD)
go through the spider's per-page work and the whole per-page core. Prints the exceptions
by type, the pages over the time threshold, and the worst time per page.
"""

from __future__ import annotations

import argparse
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from crawler.settings import DOWNLOAD_MAXSIZE
from pipelines.page import Page, process_page

ROOT = Path(__file__).resolve().parents[1]
SEED_FOLDERS = (ROOT / "archive" / "demo_portal", ROOT / "tests" / "sites")
PAGE_URL = "http://portal.example/news/page/"
HANG_SECONDS = 5.0
TAG = b"<div>"
BAD_URLS = (
    b"http://host:abc/",
    b"http://host:99999999/x",
    b"http://[::1/",
    b"http://[zz]/",
    b"http://exa\xe2\x84\x80mple.com/",
    b"http://ho\x00st/",
    b"javascript:alert(1)",
    b"http://a/" + b"x" * 20_000,
)


def seed_pages() -> list[bytes]:
    """The HTML pages the mutations start from, in a stable order."""
    paths = sorted(path for folder in SEED_FOLDERS for path in folder.rglob("*.html"))
    return [path.read_bytes() for path in paths]


def _flip_bytes(page: bytes, rng: random.Random) -> bytes:
    data = bytearray(page)
    for _ in range(rng.randint(1, 50)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _truncate(page: bytes, rng: random.Random) -> bytes:
    return page[: rng.randrange(len(page))]


def _tag_positions(page: bytes) -> list[int]:
    return [index for index, byte in enumerate(page) if byte == 0x3C]


def _delete_tags(page: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 20)):
        if not (starts := _tag_positions(page)):
            break
        start = rng.choice(starts)
        end = page.find(b">", start)
        page = page[:start] + page[end + 1 :] if end > 0 else page[:start]
    return page


def _duplicate_tags(page: bytes, rng: random.Random) -> bytes:
    starts = _tag_positions(page) or [0]
    start = rng.choice(starts)
    end = page.find(b">", start) + 1 or len(page)
    copies = min(rng.randint(2, 2_000), DOWNLOAD_MAXSIZE // max(end - start, 1))
    return page[:start] + page[start:end] * copies + page[start:]


def _unclose_tags(page: bytes, rng: random.Random) -> bytes:
    """Closing tags dropped, and opening tags left without their `>`."""
    for index in sorted(rng.sample(_tag_positions(page), min(page.count(b"<"), 30)), reverse=True):
        end = page.find(b">", index)
        if page[index + 1 : index + 2] == b"/":
            page = page[:index] + page[end + 1 :] if end > 0 else page[:index]
        elif end > 0:
            page = page[:end] + page[end + 1 :]
    return page


def _random_bytes(page: bytes, rng: random.Random) -> bytes:
    noise = rng.randbytes(rng.randint(1, 20_000))
    at = rng.randrange(len(page) + 1)
    return noise if rng.random() < 0.2 else page[:at] + noise + page[at:]


def _huge_attribute(page: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        attributes = b'title="' + b"x" * rng.randint(10_000, 1_000_000) + b'"'
    else:
        attributes = b" ".join(b"a%d=x" % n for n in range(rng.randint(1_000, 100_000)))
    at = page.find(b"<body")
    at = at + 5 if at >= 0 else 0
    return page[:at] + b" " + attributes + page[at:]


def _deep_nesting(page: bytes, rng: random.Random) -> bytes:
    tag = rng.choice((b"<div>", b"<b>", b"<span>", b"<table><tr><td>", b"<ul><li>", b"<p>"))
    at = page.find(b"<body")
    at = page.find(b">", at) + 1 if at >= 0 else 0
    return page[:at] + tag * rng.randint(1_000, 20_000) + page[at:]


def _broken_entities(page: bytes, rng: random.Random) -> bytes:
    entities = (b"&", b"&#", b"&#x;", b"&#99999999999;", b"&amp", b"&nbsp", b"&#xD800;", b"&#0;")
    pieces = page.split(b" ")
    for _ in range(rng.randint(1, 200)):
        index = rng.randrange(len(pieces))
        pieces[index] += rng.choice(entities)
    return b" ".join(pieces)


def _nul_bytes(page: bytes, rng: random.Random) -> bytes:
    data = bytearray(page)
    for _ in range(rng.randint(1, 100)):
        data.insert(rng.randrange(len(data) + 1), 0)
    return bytes(data)


def _mixed_encodings(page: bytes, rng: random.Random) -> bytes:
    text = page.decode("utf-8", errors="replace")
    cut = sorted(rng.randrange(len(text) + 1) for _ in range(2))
    other = rng.choice(("cp1251", "koi8_r", "utf-16", "latin-1"))
    middle = text[cut[0] : cut[1]].encode(other, errors="replace")
    return text[: cut[0]].encode() + middle + text[cut[1] :].encode()


def _bad_urls(page: bytes, rng: random.Random) -> bytes:
    links = b"".join(
        rng.choice(
            (
                b'<link rel="canonical" href="%s">',
                b'<link rel="alternate" hreflang="en" href="%s">',
                b'<a href="%s">English</a>',
                b'<base href="%s">',
            )
        )
        % rng.choice(BAD_URLS)
        for _ in range(rng.randint(1, 10))
    )
    at = page.find(b"</head>")
    return page[:at] + links + page[at:] if at >= 0 else links + page


def _bad_json_ld(page: bytes, rng: random.Random) -> bytes:
    body = rng.choice(
        (
            b"[" * 100_000,
            b'{"@graph": ' * 50_000,
            b'{"@type": "NewsArticle", "@graph": 5, "datePublished": 7}',
            b'[{"@type": "' + b"x" * 1_000_000 + b'"}]',
        )
    )
    script = b'<script type="application/ld+json">' + body + b"</script>"
    at = page.find(b"</head>")
    return page[:at] + script + page[at:] if at >= 0 else script + page


MUTATIONS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    _flip_bytes,
    _truncate,
    _delete_tags,
    _duplicate_tags,
    _unclose_tags,
    _random_bytes,
    _huge_attribute,
    _deep_nesting,
    _broken_entities,
    _nul_bytes,
    _mixed_encodings,
    _bad_urls,
    _bad_json_ld,
)


def mutated_pages(count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """`count` pages, each a seed page under one to three mutations, with the names of the
    mutations; the same pages for one seed. No page is larger than a crawl downloads."""
    rng = random.Random(seed)
    seeds = seed_pages()
    for _ in range(count):
        page = rng.choice(seeds)
        mutations = rng.sample(MUTATIONS, rng.randint(1, 3))
        for mutation in mutations:
            page = mutation(page, rng)[:DOWNLOAD_MAXSIZE] or b" "
        yield " ".join(mutation.__name__.strip("_") for mutation in mutations), page


def run_page(page: bytes) -> None:
    """The per-page work of a crawl over one page: the page processor, links and listing
    dates included, every stage run."""
    process_page(Page(PAGE_URL, page), whole=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang", type=float, default=HANG_SECONDS, help="seconds of a hang")
    args = parser.parse_args(argv)
    errors: Counter[str] = Counter()
    first_errors: dict[str, str] = {}
    hangs: list[str] = []
    worst, total = 0.0, 0.0
    for number, (mutations, page) in enumerate(mutated_pages(args.pages, args.seed)):
        start = time.perf_counter()
        try:
            run_page(page)
        except Exception as exc:
            name = type(exc).__name__
            errors[name] += 1
            first_errors.setdefault(name, traceback.format_exc(limit=-3))
        elapsed = time.perf_counter() - start
        total += elapsed
        worst = max(worst, elapsed)
        if elapsed > args.hang:
            hangs.append(f"  page {number} ({mutations}, {len(page)} bytes): {elapsed:.1f} s")
    print(f"pages={args.pages} seed={args.seed}")
    print(f"exceptions={sum(errors.values())} {dict(errors)}")
    print(f"hangs (over {args.hang:.1f} s)={len(hangs)}", *hangs, sep="\n")
    print(f"worst s/page={worst:.3f} mean s/page={total / max(args.pages, 1):.4f}")
    for trace in first_errors.values():
        print(trace)


if __name__ == "__main__":
    main()
