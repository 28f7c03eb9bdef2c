"""Accuracy and speed of `pipelines.language.detect_language` on the langid test data.

Run from anywhere, with the project installed: `python benchmarks/langid.py`. The data (see
its README.md) lives outside the repository, in ../shared/datasets/langid relative to the
repository root. The documents are runs of 5-30 consecutive sentences of one language,
drawn with a fixed seed, so every run sees the same texts.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pipelines.language import detect_language

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "langid"
MAIN = ("ru", "en")
OTHERS = ("uk", "be", "bg", "sr", "kk", "mk", "de", "fr")
DOCUMENTS_PER_LANGUAGE = 200
SENTENCES_PER_DOCUMENT = (5, 30)
TIMING_RUNS = 3

MAIN_ACCURACY_TARGET = 99.5
LEAK_TARGET = 2.0
DOCUMENT_TARGET = 100.0
RATE_TARGET = 2000.0


def load(kind: str, lang: str) -> list[str]:
    path = DATA / kind / f"{lang}.txt"
    if not path.is_file():
        sys.exit(f"langid benchmark: missing {path}; the data set belongs in {DATA}")
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def documents(sentences: Sequence[str], rng: random.Random) -> list[str]:
    """Runs of consecutive sentences, like the paragraphs of an article."""
    docs = []
    for _ in range(DOCUMENTS_PER_LANGUAGE):
        size = rng.randint(*SENTENCES_PER_DOCUMENT)
        start = rng.randrange(len(sentences) - size + 1)
        docs.append(" ".join(sentences[start : start + size]))
    return docs


def share(labels: Sequence[str], wanted: Callable[[str], bool]) -> float:
    return 100 * sum(map(wanted, labels)) / len(labels)


def verdict(met: bool) -> str:
    return "target met" if met else "TARGET MISSED"


def report_main(labels: dict[str, list[str]]) -> None:
    print(f"1. ru/en sentences labelled correctly (target >= {MAIN_ACCURACY_TARGET}%)")
    for lang in MAIN:
        correct = share(labels[lang], lang.__eq__)
        print(f"   {lang}  {correct:6.2f}%  {verdict(correct >= MAIN_ACCURACY_TARGET)}")


def report_others(labels: dict[str, list[str]]) -> None:
    print(f"2. other sentences labelled ru or en (target <= {LEAK_TARGET}% overall)")
    print("   lang   ru/en  correct")
    for lang in OTHERS:
        leak = share(labels[lang], MAIN.__contains__)
        print(f"   {lang}   {leak:6.2f}%  {share(labels[lang], lang.__eq__):6.2f}%")
    every = [label for lang in OTHERS for label in labels[lang]]
    leak = share(every, MAIN.__contains__)
    print(f"   all   {leak:6.2f}%           {verdict(leak <= LEAK_TARGET)}")


def report_documents(labels: dict[str, list[str]]) -> None:
    low, high = SENTENCES_PER_DOCUMENT
    print(
        f"3. documents of {low}-{high} sentences, {DOCUMENTS_PER_LANGUAGE} per language, "
        "labelled correctly"
    )
    print(f"   (target {DOCUMENT_TARGET:g}% for ru and en)")
    for lang in (*MAIN, *OTHERS):
        correct = share(labels[lang], lang.__eq__)
        note = f"  {verdict(correct >= DOCUMENT_TARGET)}" if lang in MAIN else ""
        print(f"   {lang}  {correct:6.2f}%{note}")


def seconds(texts: Sequence[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        detect_language(text)
    return time.perf_counter() - start


def report_throughput(sentences: list[str], docs: list[str]) -> None:
    """Steady state: the accuracy runs have already paid for loading langdetect's profiles."""
    runs = [(seconds(sentences), seconds(docs)) for _ in range(TIMING_RUNS)]
    counts = {"sentences": len(sentences), "documents": len(docs)}
    took = {name: statistics.median(run[i] for run in runs) for i, name in enumerate(counts)}
    counts["together"] = sum(counts.values())
    took["together"] = sum(took.values())
    print(f"4. throughput on one core, median of {TIMING_RUNS} runs (target >= {RATE_TARGET:g}/s)")
    for name, count in counts.items():
        rate = count / took[name]
        note = f"  {verdict(rate >= RATE_TARGET)}" if name == "together" else ""
        print(f"   {name:9s}  {count:5d} in {took[name]:5.2f} s  {rate:6.0f}/s{note}")


def report_short_texts() -> None:
    print("5. short texts labelled correctly (informative)")
    for kind in ("word-pairs", "single-words"):
        figures = "  ".join(
            f"{lang} {share(list(map(detect_language, load(kind, lang))), lang.__eq__):6.2f}%"
            for lang in MAIN
        )
        print(f"   {kind:12s}  {figures}")


def main() -> None:
    sentences = {lang: load("sentences", lang) for lang in (*MAIN, *OTHERS)}
    rng = random.Random(0)
    docs = {lang: documents(lines, rng) for lang, lines in sentences.items()}
    sentence_labels = {lang: list(map(detect_language, lines)) for lang, lines in sentences.items()}
    document_labels = {lang: list(map(detect_language, texts)) for lang, texts in docs.items()}
    print(f"langid benchmark on {DATA}")
    report_main(sentence_labels)
    report_others(sentence_labels)
    report_documents(document_labels)
    every_sentence = [line for lines in sentences.values() for line in lines]
    every_document = [text for texts in docs.values() for text in texts]
    report_throughput(every_sentence, every_document)
    report_short_texts()


if __name__ == "__main__":
    main()
