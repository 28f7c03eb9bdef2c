"""Hostile and broken pages never raise out of the per-page core, and finish in bounded time."""

import random
import time

import pytest

from benchmarks.fuzz import MUTATIONS, mutated_pages, run_page, seed_pages

PAGES = 240
SECONDS_PER_PAGE = 5.0


def test_seed_pages_cover_the_portal_and_the_fixture_sites() -> None:
    assert len(seed_pages()) >= 20


def test_mutations_are_seeded() -> None:
    assert list(mutated_pages(5, seed=7)) == list(mutated_pages(5, seed=7))
    assert list(mutated_pages(5, seed=7)) != list(mutated_pages(5, seed=8))


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda mutation: mutation.__name__)
def test_every_mutation_changes_pages(mutation) -> None:
    rng = random.Random(3)
    pages = seed_pages()[:5]
    assert any(mutation(page, rng) != page for page in pages)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_pages_neither_raise_nor_hang(seed) -> None:
    for _, page in mutated_pages(PAGES // 4, seed):
        start = time.perf_counter()
        run_page(page)
        assert time.perf_counter() - start < SECONDS_PER_PAGE
