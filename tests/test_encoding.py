"""Decoding pages whose charset is declared wrongly, not at all, or only for part of them."""

import pytest

from pipelines.encoding import decode_html
from pipelines.page import extract_page

TITLE = "Новый индустриальный парк открыт в Калуге"
BODY = (
    "Министерство экономического развития области сообщает о запуске нового "
    "индустриального парка площадью сорок гектаров. "
) * 5


def page(declared: str, title_charset: str, body_charset: str) -> bytes:
    head = f'<html><head><meta charset="{declared}"><title>'.encode()
    return (
        head
        + TITLE.encode(title_charset)
        + b"</title></head><body><h1>"
        + TITLE.encode(title_charset)
        + b"</h1><p>"
        + BODY.encode(body_charset)
        + b"</p></body></html>"
    )


@pytest.mark.parametrize(
    ("declared", "title_charset", "body_charset"),
    [
        ("utf-8", "cp1251", "utf-8"),
        ("utf-8", "koi8_r", "utf-8"),
        ("windows-1251", "utf-8", "cp1251"),
        ("koi8-r", "utf-8", "koi8_r"),
        ("utf-8", "utf-8", "cp1251"),
        ("utf-8", "cp1251", "cp1251"),
    ],
)
def test_pages_mixing_two_charsets_read_as_russian(declared, title_charset, body_charset):
    _, text = decode_html(page(declared, title_charset, body_charset))
    assert f"<title>{TITLE}</title>" in text
    assert BODY in text
    item, _ = extract_page(text, "http://example.com/news/park/")
    assert item.title == TITLE
    assert item.lang == "ru"


@pytest.mark.parametrize(
    ("declared", "charset", "encoding"),
    [
        ("utf-8", "utf-8", "utf-8"),
        ("windows-1251", "cp1251", "cp1251"),
        ("koi8-r", "koi8_r", "koi8-r"),
    ],
)
def test_pages_in_one_declared_charset_decode_as_declared(declared, charset, encoding):
    assert decode_html(page(declared, charset, charset)) == (
        encoding,
        page(declared, charset, charset).decode(charset),
    )


def test_undeclared_windows_1251_is_detected():
    body = page("utf-8", "cp1251", "cp1251").replace(b'<meta charset="utf-8">', b"")
    encoding, text = decode_html(body)
    assert encoding == "cp1251"
    assert TITLE in text


def test_stray_latin_bytes_in_utf8_stay_latin():
    body = (
        "<html><body><p>Café prices — ".encode() + "naïve".encode("cp1252") + b"</p></body></html>"
    )
    _, text = decode_html(body, "text/html; charset=utf-8")
    assert "Café prices — naïve" in text
