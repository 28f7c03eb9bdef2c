"""Content fingerprints: an exact hash that tells a changed article from an unchanged one,
and a MinHash signature that finds the same press release republished elsewhere."""

from __future__ import annotations

import hashlib
import re

import numpy as np
from datasketch import MinHash

from crawler.items import ArticleItem
from pipelines.stage import PageStage

SHINGLE_WORDS = 4
NUM_PERM = 64
BANDS = 16
ROWS_PER_BAND = NUM_PERM // BANDS
MIN_SHINGLES = 20
# Estimated Jaccard similarity of word 4-shingles above which two texts are one release;
# light edits and a changed lead keep copies well above it, different news stay far below.
NEAR_DUPLICATE_JACCARD = 0.6
WORD = re.compile(r"\w+")


def content_hash(title: str, text: str) -> str:
    """SHA-256 of the title and text with whitespace normalised."""
    normalised = " ".join(title.split()) + "\n" + " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def shingles(text: str) -> set[bytes]:
    words = WORD.findall(text.lower())
    return {
        " ".join(words[i : i + SHINGLE_WORDS]).encode("utf-8")
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def minhash_signature(text: str) -> bytes | None:
    """MinHash of the text's word shingles; None for texts too short to compare."""
    found = shingles(text)
    if len(found) < MIN_SHINGLES:
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=1)
    minhash.update_batch(list(found))
    return minhash.hashvalues.astype("<u4").tobytes()


def band_keys(signature: bytes) -> list[str]:
    """Locality-sensitive keys: texts sharing one are candidates for a closer look."""
    size = ROWS_PER_BAND * 4
    keys = []
    for band in range(BANDS):
        rows = signature[band * size : (band + 1) * size]
        keys.append(f"{band:02d}{hashlib.blake2b(rows, digest_size=8).hexdigest()}")
    return keys


def estimated_jaccard(first: bytes, second: bytes) -> float:
    return float(np.mean(np.frombuffer(first, "<u4") == np.frombuffer(second, "<u4")))


class FingerprintPipeline(PageStage):
    @staticmethod
    def apply(item: ArticleItem) -> None:
        item.content_hash = content_hash(item.title, item.text)
        item.minhash = minhash_signature(item.text)
