"""Decoding HTML bytes to text when the declared charset is wrong or missing.

Russian portals serve windows-1251 and KOI8-R, declared in the HTTP header, only in a
`<meta>` tag, or nowhere; generic detectors confuse these two, so Cyrillic text is
decided by which decoding gives the letters Russian text is made of.
"""

from __future__ import annotations

import re

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode

CYRILLIC_CANDIDATES = ("cp1251", "koi8_r")
# The most frequent lowercase letters of Russian text; a wrong Cyrillic decoding turns
# them into capitals or rare letters.
FREQUENT_RUSSIAN = re.compile("[оеаинтсрвлкмдпуяыь]")
HIGH_BYTE = re.compile(rb"[\xc0-\xff]")
MAX_REPLACEMENT_SHARE = 0.001


def _russian_score(text: str) -> int:
    return len(FREQUENT_RUSSIAN.findall(text))


def detect_encoding(body: bytes) -> str:
    """The most plausible encoding of undeclared bytes."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    high = len(HIGH_BYTE.findall(body))
    if high:
        scores = {
            encoding: _russian_score(body.decode(encoding, errors="replace"))
            for encoding in CYRILLIC_CANDIDATES
        }
        best = max(scores, key=scores.__getitem__)
        if scores[best] > high * 0.3:
            return best
    match = from_bytes(body[:65536]).best()
    return match.encoding if match else "cp1252"


MAX_LATIN1_LETTER_SHARE = 0.3
MIN_ACCENTED = 20
LATIN1_LETTER = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]")
LETTER = re.compile(r"[^\W\d_]")


def _looks_misdecoded(text: str) -> bool:
    """Replacement characters, or mostly Latin-1 accented letters: Cyrillic read as Latin."""
    if text.count("\ufffd") > max(3, len(text) * MAX_REPLACEMENT_SHARE):
        return True
    accented = len(LATIN1_LETTER.findall(text))
    if accented <= MIN_ACCENTED:
        return False
    return accented > len(LETTER.findall(text)) * MAX_LATIN1_LETTER_SHARE


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(encoding, text) of an HTML body: declared charset first, detection when it is absent
    or plainly wrong."""
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=detect_encoding)
    if _looks_misdecoded(text):
        encoding = detect_encoding(body)
        text = body.decode(encoding, errors="replace")
    return encoding, text
