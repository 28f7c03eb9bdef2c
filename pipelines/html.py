"""Parsing pages with libxml2 at a cost linear in their size.

libxml2 takes time quadratic in the number of attributes of a tag, so a hostile page with a
tag of 100,000 attributes takes minutes to parse. Before parsing, a tokenizer that follows
the HTML tokenization rules libxml2 follows (quoted attribute values, comments, raw-text
elements such as `<script>`) keeps the first MAX_ATTRIBUTES attributes of each tag and
drops the rest. It reads the page as libxml2 will: decoded as trafilatura decodes it, and
without the characters trafilatura removes (NUL and other control characters). A page with
no crowded tag reaches libxml2 unchanged. One regular expression reads the whole page; only
a tag over the limit costs a step in Python.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HtmlProcessingInstruction,
    fromstring,
)
from trafilatura.utils import (
    INVALID_XML_CHARS,
    decode_file,
    is_dubious_html,
    repair_faulty_html,
)

MAX_ATTRIBUTES = 256
# More tags than the largest article pages have, by far (they have a few thousand).
MAX_TAGS = 50_000
# Elements whose content libxml2 reads as text up to their end tag: tags in it are no tags.
RAW_TEXT_ELEMENTS = "script|style|textarea|title|xmp|iframe|noembed|noframes"

# trafilatura removes these before libxml2 reads the page (the form feed among them). Where
# one could change how the page around it is tokenized (after `<`, in a tag or comment),
# the tokenizer stops, and the page is read again without them.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f"
_SPACE = r"\t\n\r "
_ATTRIBUTE = (
    rf"(?>[{_SPACE}/]*+[^{_SPACE}/>{_CONTROL}][^{_SPACE}/>=]*+"
    rf"(?:[{_SPACE}]*+=[{_SPACE}]*+"
    rf"(?:\"[^\"]*+\"?|'[^']*+'?|(?:[^{_SPACE}>{_CONTROL}][^{_SPACE}>]*+)?))?)"
)
_TAG_END = rf"[{_SPACE}/]*+(?:>|\Z)"
_NAME_END = rf"(?![^{_SPACE}/>])"
_TAG_NAME = rf"[A-Za-z][^{_SPACE}/>{_CONTROL}]*+"
_ATTRIBUTES = rf"(?:{_ATTRIBUTE}){{0,{MAX_ATTRIBUTES}}}+{_TAG_END}"


def _raw_text(name: str) -> str:
    """The content of a raw-text element up to its end tag."""
    return rf"(?:[^<]++|<(?!/(?i:{name}){_NAME_END}|/?[A-Za-z]*+[{_CONTROL}]))*+"


_PLAIN_TOKENS = (
    rf"(?:[^<]++"
    rf"|<!--(?:-?>|(?:[^-{_CONTROL}]++|-(?!-!?>|[{_CONTROL}]))*+(?:--!?>|\Z))"
    rf"|<[!?][^>{_CONTROL}]*+(?:>|\Z)"
    rf"|</(?![A-Za-z{_CONTROL}])[^>{_CONTROL}]*+(?:>|\Z)"
    rf"|<(?![A-Za-z!?/{_CONTROL}])"
    rf"|<(?i:plaintext){_NAME_END}{_ATTRIBUTES}(?s:.*+)"
    + "".join(
        rf"|<(?i:{name}){_NAME_END}{_ATTRIBUTES}{_raw_text(name)}"
        for name in RAW_TEXT_ELEMENTS.split("|")
    )
    + rf"|</?{_TAG_NAME}{_ATTRIBUTES}"
    r")*+"
)
_CROWDED_TAG = (
    rf"(?:<(?P<raw>(?i:{RAW_TEXT_ELEMENTS}|plaintext)){_NAME_END}|</?{_TAG_NAME})"
    rf"(?:{_ATTRIBUTE}){{{MAX_ATTRIBUTES}}}(?P<dropped>(?:{_ATTRIBUTE})*+)"
)
# trafilatura's parser (trafilatura.utils.HTML_PARSER) but for how elements get their class:
# lxml.html calls back into Python for every element a stage touches, to tell forms and
# inputs apart, which no stage needs; lxml's own lookup gives every element HtmlElement.
_PARSER = etree.HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement,
        comment=HtmlComment,
        pi=HtmlProcessingInstruction,
        entity=HtmlEntity,
    )
)
_PLAIN = re.compile(_PLAIN_TOKENS)
_CROWDED = re.compile(_CROWDED_TAG)
_TAG_CLOSE = re.compile(_TAG_END)
_RAW_TEXT = {
    name: re.compile(_TAG_END + _raw_text(name)) for name in RAW_TEXT_ELEMENTS.split("|")
} | {"plaintext": re.compile(r"(?s:.*+)")}


def _bounded(html: str) -> str | None:
    """`html` with every tag cut to MAX_ATTRIBUTES attributes, or None when a character
    trafilatura removes stops the tokenizer."""
    pieces = []
    kept = position = 0
    while (position := _PLAIN.match(html, position).end()) < len(html):
        crowded = _CROWDED.match(html, position)
        if not crowded or not _TAG_CLOSE.match(html, crowded.end()):
            return None
        pieces.append(html[kept : crowded.start("dropped")])
        kept = position = crowded.end()
        if crowded["raw"]:
            position = _RAW_TEXT[crowded["raw"].lower()].match(html, position).end()
    if not pieces:
        return html
    pieces.append(html[kept:])
    return "".join(pieces)


def bounded_markup(html: str) -> str:
    """`html` as libxml2 will read it, without the characters trafilatura removes (NUL and
    other control characters) and with every tag cut to its first MAX_ATTRIBUTES attributes:
    the same object when it has neither."""
    if "\ufffe" in html or "\uffff" in html:
        html = INVALID_XML_CHARS.sub("", html)
    if (bounded := _bounded(html)) is None:
        bounded = _bounded(INVALID_XML_CHARS.sub("", html))
    return bounded


def too_many_tags(html: str | bytes, max_tags: int = MAX_TAGS) -> bool:
    """Whether the page has more tags than any article page has (a cheap upper bound: the
    number of `<`)."""
    return html.count("<" if isinstance(html, str) else b"<") > max_tags


def within_tags(html: str, max_tags: int = MAX_TAGS) -> str:
    """`html` cut before its tag number `max_tags + 1`: the same object when it has fewer.

    A page of a million tags would take gigabytes as a tree; what comes first (its links,
    to the first thousands) is what the crawl reads of such a page anyway.
    """
    if not too_many_tags(html, max_tags):
        return html
    position = -1
    for _ in range(max_tags + 1):
        position = html.find("<", position + 1)
    return html[:position]


def parse_html(html: str | bytes, max_tags: int = MAX_TAGS) -> HtmlElement | None:
    """The page parsed as trafilatura's `load_html` parses it, in time and memory linear in
    its size and bounded by `max_tags`; None when it is no HTML (as load_html tells)."""
    text = decode_file(html) if isinstance(html, bytes) else html
    markup = bounded_markup(within_tags(text, max_tags))
    beginning = markup[:50].lower()
    markup = repair_faulty_html(markup, beginning)
    tree = _parsed(markup)
    if tree is None or len(tree) < 1:
        tree = _parsed(markup.encode("utf-8", "surrogatepass"))
    if tree is None or (is_dubious_html(beginning) and len(tree) < 2):
        return None
    return tree


def _parsed(markup: str | bytes) -> HtmlElement | None:
    """The tree of `markup`; None for none, or for text that declares its own encoding
    (which lxml reads only as bytes)."""
    try:
        return fromstring(markup, parser=_PARSER)
    except (ValueError, etree.LxmlError):
        return None
