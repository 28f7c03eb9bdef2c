"""A second and third opinion on a page's main text, for the pages where trafilatura errs.

trafilatura pulls news lists, comment tables and footers of table layouts into the text on
some pages, and picks the wrong block or too little on others; readability fails on other
pages. The two usually agree; when they do not, jusText, which judges each paragraph on its
own, votes for the one it agrees with more. Running trafilatura in fast mode (without its own
readability and jusText fallbacks) pays for the second opinion.
"""

from __future__ import annotations

import re
from copy import deepcopy

import justext
from justext.core import ParagraphMaker, classify_paragraphs, revise_paragraph_classification
from lxml.etree import iterwalk
from lxml.html import HtmlElement
from trafilatura.external import try_readability

SHINGLE = 4
# Candidates sharing this much of their shingles tell the same story; no vote is needed.
MIN_AGREEMENT = 0.8
# readability finding this many times more text means trafilatura missed most of the article.
MIN_RECALL_GAP = 2
TOKEN = re.compile(r"\w+")
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
MIN_CYRILLIC_SHARE = 0.3
STOPLISTS = {
    "ru": frozenset(justext.get_stoplist("Russian")),
    "en": frozenset(justext.get_stoplist("English")),
}
BLOCK_TAGS = frozenset(
    {
        "blockquote",
        "br",
        "dd",
        "div",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "p",
        "pre",
        "td",
        "th",
        "tr",
    }
)


def shingles(text: str) -> set[tuple[str, ...]]:
    """Runs of four words: order-aware, but blind to line breaks and punctuation."""
    words = TOKEN.findall(text)
    return set(zip(*(words[i:] for i in range(SHINGLE)), strict=False))


def agreement(first: set[tuple[str, ...]], second: set[tuple[str, ...]]) -> float:
    """Share of all shingles of two texts that both have (1.0 for identical texts)."""
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def block_text(root: HtmlElement) -> str:
    """Text of an element, one line per block, with the spacing inside lines normalised."""
    parts: list[str] = []
    for event, element in iterwalk(root, events=("start", "end")):
        block = element.tag in BLOCK_TAGS
        if event == "start":
            if block:
                parts.append("\n")
            if isinstance(element.tag, str) and element.text:
                parts.append(element.text)
            continue
        if block:
            parts.append("\n")
        if element.tail and element is not root:
            parts.append(element.tail)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def readability_text(page: HtmlElement) -> str:
    """The article that readability finds; it edits the tree it reads, hence the copy."""
    summary = try_readability(deepcopy(page))
    return block_text(summary) if len(summary) else ""


def language(text: str) -> str:
    """'ru' for mostly Cyrillic text, else 'en': the archive's two languages."""
    letters = sum(char.isalpha() for char in text)
    cyrillic = len(CYRILLIC.findall(text))
    return "ru" if letters and cyrillic >= MIN_CYRILLIC_SHARE * letters else "en"


def justext_text(page: HtmlElement, lang: str) -> str:
    """The paragraphs jusText keeps, judged by length, link density and stopwords."""
    body = page.find("body")
    if body is None:
        return ""
    paragraphs = ParagraphMaker.make_paragraphs(body)
    classify_paragraphs(paragraphs, STOPLISTS[lang])
    revise_paragraph_classification(paragraphs)
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def best_text(page: HtmlElement, text: str) -> str:
    """trafilatura's `text` of `page`, or readability's reading when that is the better one.

    readability wins when it finds far more text (trafilatura misses articles split into many
    small blocks), or when the two disagree and jusText sides with readability.
    """
    other = readability_text(page)
    if len(other) > MIN_RECALL_GAP * len(text):
        return other
    ours, theirs = shingles(text), shingles(other)
    if not other or agreement(ours, theirs) >= MIN_AGREEMENT:
        return text
    judge = shingles(justext_text(page, language(text)))
    return other if agreement(theirs, judge) > agreement(ours, judge) else text
