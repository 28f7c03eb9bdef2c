"""Decoding HTML bytes to text when the declared charset is wrong or missing.

Russian portals serve windows-1251 and KOI8-R, declared in the HTTP header, only in a
`<meta>` tag, or nowhere; generic detectors confuse these two, so Cyrillic text is
decided by which decoding gives the letters Russian text is made of. Some pages mix two
charsets (a UTF-8 page with a windows-1251 title pasted in, or the reverse); these are
decoded word by word: UTF-8 where the bytes are UTF-8, the best Cyrillic charset elsewhere.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

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


# Two UTF-8 encoded Cyrillic letters in a row: never windows-1251 or KOI8-R text.
UTF8_CYRILLIC_WORD = re.compile(rb"(?:[\xd0\xd1][\x80-\xbf]){2}")
UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
ASCII_BYTE = re.compile(rb"[\x00-\x7f]")
HIGH_BYTE_RUN = re.compile(rb"[\xc0-\xff]{2,}")
SINGLE_BYTE_FALLBACK = "cp1252"


def _words_in(charset: str) -> Callable[[UnicodeDecodeError], tuple[str, int]]:
    """A codec error handler that decodes the rest of the word at a UTF-8 error in `charset`."""

    def handler(error: UnicodeDecodeError) -> tuple[str, int]:
        end = ASCII_BYTE.search(error.object, error.end)
        end = end.start() if end else len(error.object)
        return error.object[error.start : end].decode(charset, errors="replace"), end

    return handler


for _charset in (*CYRILLIC_CANDIDATES, SINGLE_BYTE_FALLBACK):
    codecs.register_error(f"newsarchive-{_charset}-words", _words_in(_charset))


def _single_byte_charset(body: bytes) -> str:
    """The charset of the bytes that are no UTF-8: the Cyrillic one whose letters read as
    Russian, else windows-1252. Cyrillic letters make whole words, accented Latin letters
    stand alone among ASCII ones."""
    rest = UTF8_SEQUENCE.sub(b" ", body)
    high = len(HIGH_BYTE.findall(rest))
    if sum(map(len, HIGH_BYTE_RUN.findall(rest))) * 2 < high:
        return SINGLE_BYTE_FALLBACK
    scores = {
        charset: _russian_score(rest.decode(charset, errors="replace"))
        for charset in CYRILLIC_CANDIDATES
    }
    best = max(scores, key=scores.__getitem__)
    return best if high and scores[best] > high * 0.3 else SINGLE_BYTE_FALLBACK


def _decode_words(body: bytes, charset: str) -> str:
    """A body in UTF-8 and the single-byte `charset`, decoded word by word."""
    return body.decode("utf-8", errors=f"newsarchive-{charset}-words")


def _is_mixed(body: bytes, utf8: bool, text: str) -> bool:
    """Whether a body decoded as UTF-8 (`utf8`) or another charset holds words of another
    charset (a single-byte charset decodes each byte to one character)."""
    if utf8:
        return "\ufffd" in text
    return len(text) == len(body) and bool(UTF8_CYRILLIC_WORD.search(body))


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(encoding, text) of an HTML body: declared charset first, detection when it is absent
    or plainly wrong, word by word when the body mixes UTF-8 and a single-byte charset."""
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=detect_encoding)
    utf8 = codecs.lookup(encoding).name == "utf-8"
    if _is_mixed(body, utf8, text):
        charset = _single_byte_charset(body)
        # A page of other bytes throughout is in one other charset, which detection finds.
        if charset in CYRILLIC_CANDIDATES or not _looks_misdecoded(text):
            return f"utf-8+{charset}", _decode_words(body, charset)
    elif utf8:
        # Valid UTF-8 throughout, which detection would read as UTF-8 again.
        return encoding, text
    if _looks_misdecoded(text):
        encoding = detect_encoding(body)
        text = body.decode(encoding, errors="replace")
    return encoding, text
