"""Language identification: own examples of each case the archive meets."""

from __future__ import annotations

import pytest

from pipelines.language import detect_language

CONSENT = (
    "Я даю согласие на обработку персональных данных.\n"
    "Нажимая кнопку «Отправить», вы соглашаетесь с политикой конфиденциальности.\n"
)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Правительство области выделило участок под строительство логистического центра.", "ru"),
        ("Инвестор вложит в проект около двух миллиардов рублей.", "ru"),
        ("Новый цех начнёт работу весной.", "ru"),
        ("The agency helps foreign companies find land for new factories.", "en"),
        ("Construction of the second stage is expected to finish next year.", "en"),
        ("Уряд підтримав будівництво нового заводу поблизу Житомира.", "uk"),
        ("Інвестори отримають податкові пільги протягом п'яти років.", "uk"),
        ("Облыс әкімі жаңа зауыттың құрылысы биыл басталатынын хабарлады.", "kk"),
        ("Үкімет шағын және орта бизнесті қолдау бағдарламасын бекітті.", "kk"),
        ("Республикада яңа сәнәгать паркы төзелә, анда җитештерү өчен мәйданнар булачак.", "tt"),
        ("Бу проект өчен инвесторлар белән килешү төзелде һәм эш башланды.", "tt"),
        ("Die Stadt will im kommenden Jahr ein neues Gewerbegebiet erschließen.", "de"),
        ("Das Unternehmen hat seine Produktion nach Kaluga verlegt.", "de"),
        ("La région a signé un accord avec un investisseur étranger.", "fr"),
        ("Урад падтрымаў будаўніцтва новага прадпрыемства ў горадзе.", "be"),
        ("Общината ще построи нов индустриален парк до края на годината.", "bg"),
        ("Влада је усвојила нови закон о подстицању страних улагања.", "sr"),
        ("Владата ќе изгради нова индустриска зона до крајот на годината.", "mk"),
    ],
)
def test_language_of_a_sentence(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_english_article_with_russian_boilerplate_is_english() -> None:
    article = (
        CONSENT + "EcoPolymer becomes a resident of the special economic zone.\n"
        "The company will invest 1.2 billion roubles in a plant that recycles plastic "
        "packaging. Production is due to start in the third quarter of next year, and the "
        "plant will employ about 150 people. The regional government has promised to build "
        "the road and the power line to the site.\n" + CONSENT
    )
    assert detect_language(article) == "en"


def test_russian_article_with_english_quotation_is_russian() -> None:
    article = (
        "Компания открыла в регионе завод по выпуску упаковки. «We chose this region for its "
        "people and its logistics», — сказал генеральный директор. Объём инвестиций составил "
        "три миллиарда рублей, на предприятии будут работать двести человек."
    )
    assert detect_language(article) == "ru"


def test_ukrainian_with_latin_i_is_ukrainian() -> None:
    assert detect_language("Мiсцева влада видiлила землю пiд новий завод.") == "uk"


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "2026 — 24.11 / 100 500", "…!?"])
def test_text_without_words_is_undetermined(text: str) -> None:
    assert detect_language(text) == "und"


@pytest.mark.parametrize(
    "text",
    [
        "Gemeente Rotterdam opent haven",
        "Zona franca di Kaluga",
        "Начало работ",
        "Investment portal",
    ],
)
def test_same_text_same_answer(text: str) -> None:
    assert len({detect_language(text) for _ in range(5)}) == 1


@pytest.mark.parametrize("title", ["Kaluga Region Development Corporation", "News"])
def test_headline_of_few_words_takes_its_pages_language(title: str) -> None:
    assert detect_language(title, expected="en") == "en"


def test_expected_language_does_not_override_clear_evidence() -> None:
    title = "Мiсцева влада видiлила землю пiд новий завод."
    assert detect_language(title, expected="ru") == "uk"
    assert detect_language("Kaluga Region Development Corporation", expected="ru") != "ru"
