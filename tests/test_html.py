"""Parsing with every tag cut to MAX_ATTRIBUTES attributes before libxml2 reads it."""

import time

import pytest

from archive.cli import DEMO_PORTAL
from pipelines.html import MAX_ATTRIBUTES, bounded_markup, parse_html

CROWD = " ".join(f'a{n}="v{n}"' for n in range(100_000))


def page(body: str) -> str:
    return f"<html><head><title>Завод</title></head><body>{body}</body></html>"


def most_attributes(html: str | bytes) -> int:
    return max(len(element.attrib) for element in parse_html(html).iter())


@pytest.mark.parametrize(
    "body",
    [
        f"<div {CROWD}><p>Текст</p></div>",
        "<div " + " ".join(f'a{n}=">"' for n in range(100_000)) + "><p>Текст</p></div>",
        "<div/" + "/".join(f"a{n}" for n in range(100_000)) + "><p>Текст</p></div>",
        f"<script>var s = '<b title=\"';</script><div {CROWD}><p>Текст</p></div>",
        f'<!-- <b title=" --><div {CROWD}><p>Текст</p></div>',
        f'<p a=b=" ><div {CROWD}>"><p>Текст</p></div>',
        f"<script {CROWD}>var a = 1;</script><p>Текст</p>",
        f"<\x03div {CROWD}><p>Текст</p></div>",
        f"<title>x</title\x00><div {CROWD}><p>Текст</p></div>",
    ],
)
def test_crowded_tags_keep_their_first_attributes(body) -> None:
    start = time.perf_counter()
    tree = parse_html(page(body))
    assert time.perf_counter() - start < 2.0
    assert max(len(element.attrib) for element in tree.iter()) == MAX_ATTRIBUTES
    assert "Текст" in tree.find(".//body").text_content()


def test_kept_attributes_are_the_first_ones_with_their_values() -> None:
    div = parse_html(page(f"<div {CROWD}><p>Текст</p></div>")).find(".//div")
    assert div.get("a0") == "v0"
    assert div.get(f"a{MAX_ATTRIBUTES - 1}") == f"v{MAX_ATTRIBUTES - 1}"
    assert div.get(f"a{MAX_ATTRIBUTES}") is None


def test_bytes_are_bounded_too() -> None:
    assert most_attributes(page(f"<div {CROWD}>x</div>").encode()) == MAX_ATTRIBUTES


def test_tags_in_raw_text_and_comments_are_left_alone() -> None:
    html = page(f"<script>var s = '<div {CROWD}>';</script><!-- <div {CROWD}> -->")
    assert bounded_markup(html) is html


def test_pages_without_crowded_tags_reach_the_parser_unchanged() -> None:
    for path in sorted(DEMO_PORTAL.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        assert bounded_markup(html) is html


def test_a_tag_with_exactly_the_limit_is_kept_whole() -> None:
    attributes = " ".join(f"a{n}" for n in range(MAX_ATTRIBUTES))
    html = page(f"<div {attributes}>x</div>")
    assert bounded_markup(html) is html
    assert most_attributes(html) == MAX_ATTRIBUTES


def test_no_html_is_none() -> None:
    assert parse_html("") is None


@pytest.mark.parametrize(
    "markup",
    [
        "<\x03div {crowd}>",
        "<div\x01 {crowd}>",
        '<div x=\x02">" {crowd}>',
        "<div \x0b{crowd}>",
        "<title>x</tit\x00le><div {crowd}>",
        "<!-\x01- --><div {crowd}>",
        "<!-- -\x01-><div {crowd}>",
    ],
)
def test_control_characters_hide_no_crowded_tag(markup) -> None:
    tree = parse_html(page(markup.format(crowd=CROWD) + "<p>Текст</p>"))
    assert max(len(element.attrib) for element in tree.iter()) <= MAX_ATTRIBUTES
