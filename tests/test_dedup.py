"""Content fingerprints: the exact hash and the MinHash signature, stable across versions
(archives keep them, and compare new articles with old ones by them)."""

from __future__ import annotations

from pipelines.dedup import content_hash, estimated_jaccard, minhash_signature

TEXT = " ".join(f"word{i} слово{i * 7 % 13}" for i in range(40))
# The signature of TEXT as the archive has always computed it.
SIGNATURE = (
    "42be390211d85c002c74070428246002ce4e0803fa8a700e67e09d0291bed602eab8320610e25609a45792"
    "003923880073c75406eed4e402924fbd0030fadd01597480030da4b30088c8e4001d8965039c577d036df5"
    "8d04db438d00edabf8020b109000d3b24e00519f2100bc836e009edd2e0574773600a6a28705262fc60185"
    "a2d0034f671f00430a1109e2799101d4856900cd91c400ec8b0c01dc3889001a55a40385773b01dfd6f101"
    "20035003be9a170314d2630067af7f0945ff3301f9d5b40412122200e1452005f9d35204e5625a05567d5a"
    "0095607d01e92840013bd82500bee8990cfcf44501205cb5006feaa300dc890303bddff600bbec7d03"
)


def test_signature_is_the_one_archives_hold() -> None:
    assert minhash_signature(TEXT).hex() == SIGNATURE


def test_signature_ignores_case_and_punctuation() -> None:
    assert minhash_signature(TEXT.upper().replace(" ", ", ")) == minhash_signature(TEXT)


def test_light_edit_stays_near_and_other_text_is_far() -> None:
    edited = TEXT.replace("word39", "edited")
    other = " ".join(f"other{i} текст{i * 5 % 11}" for i in range(40))
    assert estimated_jaccard(minhash_signature(edited), minhash_signature(TEXT)) > 0.8
    assert estimated_jaccard(minhash_signature(other), minhash_signature(TEXT)) < 0.1


def test_short_text_has_no_signature() -> None:
    assert minhash_signature("a few words only, far too few to compare") is None


def test_content_hash_ignores_spacing_only() -> None:
    assert content_hash("Title", "one  two\nthree") == content_hash(" Title ", "one two three")
    assert content_hash("Title", "one two three") != content_hash("Title", "one two four")
