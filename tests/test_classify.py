"""Article or not: a page's own signals, and listings told by their structure."""

from __future__ import annotations

import datetime as dt

from trafilatura.utils import load_html

from pipelines.classify import PageSignals, article_rejection, read_page_signals
from pipelines.page import extract_page

BASE = "http://news.example"
SUMMARIES = [
    "Региональный фонд развития промышленности одобрил заём заводу упаковки на модернизацию.",
    "В технопарке открылся центр коллективного пользования для малых инновационных компаний.",
    "Правительство области утвердило программу поддержки экспортёров на ближайшие три года.",
    "Новый резидент особой экономической зоны построит цех по выпуску медицинских изделий.",
]


def card_listing(cards: int, summaries: list[str] = SUMMARIES) -> str:
    """A listing whose teasers are plain links in list items (no headings), each with its
    date in a sibling element and a summary."""
    items = "".join(
        f'<li class="row"><a href="/ru/news/2026/11/{n + 1:02d}/story-{n}.html">'
        f"Заголовок новости номер {n} о развитии региона</a>"
        f'<span class="when">{n + 1:02d}.11.2026</span>'
        f'<div class="txt">{summaries[n % 4]} {summaries[(n + 1) % 4]}</div>'
        "</li>"
        for n in range(cards)
    )
    return (
        "<html><head><title>Лента</title></head><body><h1>Последние новости</h1>"
        f'<ul class="feed">{items}</ul><p><a href="/ru/latest/2.html">Дальше</a></p>'
        "</body></html>"
    )


def test_a_list_of_link_cards_is_a_listing_whatever_its_markup() -> None:
    _, rejection = extract_page(card_listing(8), BASE + "/ru/latest/1.html")
    assert rejection is not None and rejection.startswith("a listing: ")


def test_two_cards_side_by_side_are_no_list() -> None:
    signals = read_page_signals(load_html(card_listing(2)), BASE + "/ru/latest/1.html")
    assert signals.card_teasers == ()
    signals = read_page_signals(load_html(card_listing(3)), BASE + "/ru/latest/1.html")
    assert [start for start, _ in signals.card_teasers] == [s[:40] for s in SUMMARIES[:3]]


def _signals(card_teasers: tuple[tuple[str, int], ...]) -> PageSignals:
    return PageSignals(BASE + "/ru/news/a.html", {}, "article", frozenset(), 0.1, (), card_teasers)


def test_an_article_ending_in_related_teasers_is_still_an_article() -> None:
    story = " ".join(["Завод начал выпуск продукции, и объём инвестиций составил миллиард."] * 12)
    related = " ".join(SUMMARIES[:3])
    text = f"{story}\n{related}"
    cards = tuple((summary[:40], len(summary)) for summary in SUMMARIES[:3])
    assert article_rejection(_signals(cards), text, dt.date(2026, 11, 20)) is None
    rejection = article_rejection(_signals(cards), related, dt.date(2026, 11, 20))
    assert rejection is not None and rejection.startswith("a listing: 3 teaser cards make 9")
