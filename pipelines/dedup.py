"""Content fingerprints: an exact hash that tells a changed article from an unchanged one,
and a MinHash signature that finds the same press release republished elsewhere."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

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


def shingles(text: str) -> set[str]:
    """The text's runs of SHINGLE_WORDS words, lowercased, a space between words."""
    words = WORD.findall(text.lower())
    return set(map(" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))


def _permutations(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random affine bijections h -> a*h + b of 32-bit values (an odd `a` keeps them so)."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, count, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, count, dtype=np.uint32)
    return a, b


# Made once; the same seed gives the same signatures in every process and every run.
PERMUTATIONS = _permutations(NUM_PERM, seed=1)


def _mixed(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer: spreads the bits of each 32-bit value."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def minhash_signature(text: str) -> bytes | None:
    """MinHash of the text's word shingles (each hashed to 32 bits of its SHA-1, mixed, then
    put through NUM_PERM affine permutations); None for texts too short to compare."""
    found = shingles(text)
    if len(found) < MIN_SHINGLES:
        return None
    sha1 = hashlib.sha1
    digests = b"".join([sha1(shingle.encode()).digest() for shingle in found])
    # The first 4 of each 20-byte digest, as a little-endian number.
    hashes = np.frombuffer(digests, dtype="<u4")[:: 20 // 4]
    a, b = PERMUTATIONS
    permuted = _mixed(hashes)[:, np.newaxis] * a + b
    return permuted.min(axis=0).astype("<u4").tobytes()


@lru_cache(maxsize=4096)
def band_keys(signature: bytes) -> tuple[str, ...]:
    """Locality-sensitive keys: texts sharing one are candidates for a closer look; kept for
    the signatures of recent texts, which storing an article looks up several times."""
    size = ROWS_PER_BAND * 4
    bands = (signature[band * size : (band + 1) * size] for band in range(BANDS))
    return tuple(
        f"{band:02d}{hashlib.blake2b(rows, digest_size=8).hexdigest()}"
        for band, rows in enumerate(bands)
    )


def estimated_jaccard(first: bytes, second: bytes) -> float:
    return float(np.mean(np.frombuffer(first, "<u4") == np.frombuffer(second, "<u4")))
