"""A synthetic news portal for the crawl benchmark, written to a folder and served from it.

The pages look like those of a Russian regional investment agency's portal: one site
template (header, menu, language switch, sidebar widgets, footer) around every article,
listing and section page, in Russian under / and in English under /en/. Everything follows
from the seed; links lead only to the mirror itself or to hosts under `.example`.

`python -m benchmarks.mirror build DIR [--pages N] [--seed S]` writes a mirror;
`python -m benchmarks.mirror serve DIR` serves one on 127.0.0.1 and prints its port.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PER_LISTING = 20
NEWEST = dt.date(2025, 3, 12)
ROBOTS_TXT = "User-agent: *\nDisallow: /search/\nDisallow: /personal/\n"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

RU_WORDS = """
    регион региона области области инвестиции инвестиций инвесторов инвестор проект проекта
    проекты проектов предприятие предприятия предприятий производство производства завод
    завода заводе строительство строительства развитие развития экономики экономика
    промышленности промышленного индустриальный индустриального парк парка парке технопарк
    кластер кластера агентство агентства губернатор губернатора правительство правительства
    министерство министр заместитель директор генеральный компания компании компаний рабочих
    мест места миллионов миллиардов рублей объем объема соглашение соглашения подписали
    подписано запуск запустили открытие открыли новый новая новое новых современный
    современного оборудование оборудования продукции продукция экспорт экспорта поставки
    рынок рынка российский российских международный международной сотрудничество
    сотрудничества партнеров партнеры поддержка поддержки меры мер льготы налоговые субсидии
    территория территории опережающего развития особая экономическая зона зоны резидент
    резидентом резидентов площадка площадки инфраструктура инфраструктуры дороги энергетики
    газа электроэнергии мощности мощностью тонн год года году лет месяц квартал первом втором
    полугодии итогам результатам рост роста увеличение снижение показатели показателей
    уровень уровня качество качества образование кадров специалистов обучение молодежи
    университет колледж наука научный исследования технологии технологий цифровой
    цифровизации платформа сервис услуги малый средний бизнес бизнеса предпринимателей
    предприниматели фермеров сельского хозяйства агропромышленный комплекс комплекса
    логистический логистики транспорт железной аэропорт туризм туристов гостиница культура
    жителей население города город района районе муниципального администрации глава
    совещание заседание форум форума выставка выставки конференция делегация делегации визит
    встреча встречи обсудили рассказал отметил подчеркнул сообщил заявил представил
    презентовал планирует планируется будет будут станет может позволит обеспечит создать
    создано реализации реализуется реализован строится завершено начато этап этапа программа
    программы стратегия стратегии национальный федеральный бюджет бюджета средств
    финансирования кредит банк банка фонд фонда гранты конкурс конкурса участники участников
    победители заявки документы решение решения вопросы вопрос условия возможности
    перспективы задачи цели важно необходимо сегодня сейчас ранее впервые ежегодно уже еще
    более около почти всего только также кроме того однако поэтому и и и в в в на на с с по
    по для для что что это не как о от до при за из к а но его их который которые новой
    крупнейший крупных ведущих отрасли отраслей экспортеров импортозамещения локализации
    автомобильной фармацевтической химической пищевой металлургии электроники станков
    упаковки мебели строительных материалов медицинских изделий компонентов
"""
EN_WORDS = """
    region regional investment investments investors investor project projects enterprise
    enterprises production plant plants factory construction development economy economic
    industry industrial park parks technopark cluster agency governor government ministry
    minister deputy director general company companies jobs million billion roubles volume
    agreement agreements signed launch launched opening opened new modern equipment products
    export exports supplies market russian international cooperation partners partner support
    measures benefits tax subsidies territory advanced special zone resident residents site
    sites infrastructure roads energy gas electricity capacity tonnes year years month quarter
    first second half results growth increase decrease figures level quality education staff
    specialists training youth university college science research technology technologies
    digital platform service services small medium business entrepreneurs farmers agriculture
    agricultural complex logistics logistic transport railway airport tourism tourists hotel
    culture residents population city town district municipal administration head meeting
    session forum exhibition conference delegation visit discussed said noted stressed reported
    announced presented plans planned will would become may allow ensure create created
    implementation implemented built completed started stage programme strategy national
    federal budget funds financing loan bank fund grants competition participants winners
    applications documents decision decisions issues questions conditions opportunities
    prospects tasks goals important necessary today now earlier first annually already more
    about almost only also besides however therefore the the the the of of of and and and to
    to in in in for for on on with with by at from as that this is are was were has have been
    its their which largest leading sector sectors exporters localisation automotive
    pharmaceutical chemical food metallurgy electronics machine packaging furniture building
    materials medical components suppliers investment-friendly high-tech
"""
RU_PLACES = (
    "Калужской области",
    "Калуги",
    "Обнинске",
    "Людиново",
    "индустриальном парке «Ворсино»",
    "парке «Росва»",
    "ОЭЗ «Калуга»",
    "Москве",
    "Китая",
    "Беларуси",
    "Турции",
    "Индии",
)
EN_PLACES = (
    "Kaluga Region",
    "Kaluga",
    "Obninsk",
    "Lyudinovo",
    "Vorsino industrial park",
    "Rosva park",
    "SEZ Kaluga",
    "Moscow",
    "China",
    "Belarus",
    "Turkey",
    "India",
)
RU_UNITS = ("млн рублей", "млрд рублей", "га", "тыс. тонн", "рабочих мест", "%")
EN_UNITS = ("million roubles", "billion roubles", "hectares", "thousand tonnes", "jobs", "%")
RU_MONTHS = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"
EN_MONTHS = "January February March April May June July August September October November December"
# The site's sections (the menu), by slug, with their Russian and English titles.
MENU = (
    (
        "about",
        ("О регионе", "About the region"),
        (
            ("region", "Общие сведения", "Overview"),
            ("economy", "Экономика", "Economy"),
            ("geography", "Географическое положение", "Location"),
            ("ratings", "Рейтинги", "Ratings"),
            ("success", "Истории успеха", "Success stories"),
        ),
    ),
    (
        "investor",
        ("Инвестору", "For investors"),
        (
            ("support", "Меры поддержки", "Support measures"),
            ("benefits", "Налоговые льготы", "Tax benefits"),
            ("steps", "Пошаговая инструкция", "Step by step"),
            ("standard", "Инвестиционный стандарт", "Investment standard"),
            ("council", "Инвестиционный совет", "Investment council"),
            ("ombudsman", "Уполномоченный", "Ombudsman"),
        ),
    ),
    (
        "sites",
        ("Площадки", "Sites"),
        (
            ("parks", "Индустриальные парки", "Industrial parks"),
            ("sez", "Особая экономическая зона", "Special economic zone"),
            ("tor", "ТОР", "Advanced development areas"),
            ("brownfield", "Браунфилды", "Brownfields"),
            ("map", "Инвестиционная карта", "Investment map"),
        ),
    ),
    (
        "projects",
        ("Проекты", "Projects"),
        (
            ("current", "Реализуемые проекты", "Current projects"),
            ("proposals", "Инвестиционные предложения", "Investment proposals"),
            ("ppp", "ГЧП", "Public-private partnership"),
            ("clusters", "Кластеры", "Clusters"),
        ),
    ),
    (
        "export",
        ("Экспорт", "Export"),
        (
            ("center", "Центр поддержки экспорта", "Export support centre"),
            ("catalog", "Каталог экспортеров", "Exporters catalogue"),
            ("events", "Бизнес-миссии", "Business missions"),
        ),
    ),
    (
        "media",
        ("Пресс-центр", "Press centre"),
        (
            ("gallery", "Фотогалерея", "Photo gallery"),
            ("video", "Видео", "Video"),
            ("publications", "Публикации", "Publications"),
            ("smi", "СМИ о нас", "Media about us"),
        ),
    ),
    (
        "agency",
        ("Об агентстве", "The agency"),
        (
            ("team", "Руководство", "Management"),
            ("documents", "Документы", "Documents"),
            ("vacancies", "Вакансии", "Vacancies"),
            ("contacts", "Контакты", "Contacts"),
        ),
    ),
)
RU_UI = {
    "site": "Агентство регионального развития Калужской области",
    "slogan": "Территория успешных инвестиций",
    "home": "Главная",
    "news": "Новости",
    "all_news": "Все новости",
    "read_also": "Читайте также",
    "popular": "Популярные новости",
    "events": "Календарь событий",
    "subscribe": "Подписка на новости",
    "email_placeholder": "Ваш e-mail",
    "send": "Отправить",
    "search": "Поиск по сайту",
    "other_lang": "EN",
    "this_lang": "RU",
    "address": "248000, г. Калуга, ул. Кирова, д. 1, 5 этаж",
    "phone_label": "Телефон",
    "hours": "Пн–Пт: 9:00–18:00",
    "copyright": "АО «Агентство регионального развития Калужской области». Все права защищены",
    "callback": "Заказать обратный звонок",
    "name": "Ваше имя",
    "share": "Поделиться",
    "views": "Просмотров",
    "prev": "Назад",
    "next": "Вперед",
    "map": "Интерактивная инвестиционная карта",
    "map_text": "Свободные площадки, сети, логистика и меры поддержки на одной карте",
    "advantages": "Преимущества региона",
    "consent": "Нажимая кнопку, вы соглашаетесь на обработку персональных данных",
    "cookies": "Сайт использует файлы cookie для удобства пользователей",
    "loading": "Загрузка...",
    "close": "Закрыть",
}
EN_UI = {
    "site": "Kaluga Region Development Corporation",
    "slogan": "A territory of successful investment",
    "home": "Home",
    "news": "News",
    "all_news": "All news",
    "read_also": "Read also",
    "popular": "Most read",
    "events": "Events calendar",
    "subscribe": "News subscription",
    "email_placeholder": "Your e-mail",
    "send": "Send",
    "search": "Search the site",
    "other_lang": "RU",
    "this_lang": "EN",
    "address": "1 Kirova St, 5th floor, Kaluga, 248000, Russia",
    "phone_label": "Phone",
    "hours": "Mon–Fri: 9:00–18:00",
    "copyright": "Kaluga Region Development Corporation JSC. All rights reserved",
    "callback": "Request a call back",
    "name": "Your name",
    "share": "Share",
    "views": "Views",
    "prev": "Previous",
    "next": "Next",
    "map": "Interactive investment map",
    "map_text": "Vacant sites, utilities, logistics and support measures on one map",
    "advantages": "Why the region",
    "consent": "By clicking the button you agree to the processing of personal data",
    "cookies": "The site uses cookies for the convenience of its users",
    "loading": "Loading...",
    "close": "Close",
}
ICONS = "search phone mail vk telegram youtube arrow calendar eye share close pin"
SOCIAL = (("vk", "https://vk.example/agency"), ("telegram", "https://t.example/agency"))
CSS_BLOCKS = """
    header header__top header__logo header__slogan header__contacts header__lang menu menu__item
    menu__link menu__sub menu__sub-link breadcrumbs content container row col news-detail
    news-detail__date news-detail__image news-detail__text news-detail__tags news-related
    sidebar widget widget__title widget__list widget__item widget__date map-banner subscribe
    subscribe__input subscribe__button calendar calendar__day footer footer__col footer__menu
    footer__contacts footer__copyright social social__link modal modal__form cookies pagination
    pagination__item pagination__current news-list news-item news-item__title news-item__date
    news-item__lead hero hero__slide hero__title advantages advantages__item button
"""


@dataclass(frozen=True, slots=True)
class Language:
    code: str
    prefix: str
    words: tuple[str, ...]
    places: tuple[str, ...]
    units: tuple[str, ...]
    months: tuple[str, ...]
    ui: dict[str, str]

    @property
    def english(self) -> bool:
        return self.code == "en"

    def date(self, day: dt.date) -> str:
        month = self.months[day.month - 1]
        return f"{month} {day.day}, {day.year}" if self.english else f"{day.day} {month} {day.year}"

    def article_url(self, index: int) -> str:
        return f"{self.prefix}/news/{10000 + index}/"

    def listing_url(self, number: int) -> str:
        query = f"?PAGEN_1={number}" if number > 1 else ""
        return f"{self.prefix}/news/{query}"


RU = Language(
    "ru", "", tuple(RU_WORDS.split()), RU_PLACES, RU_UNITS, tuple(RU_MONTHS.split()), RU_UI
)
EN = Language(
    "en", "/en", tuple(EN_WORDS.split()), EN_PLACES, EN_UNITS, tuple(EN_MONTHS.split()), EN_UI
)


@dataclass(frozen=True, slots=True)
class Teaser:
    """What a listing shows of an article."""

    url: str
    title: str
    date: str
    lead: str


@dataclass(frozen=True, slots=True)
class Built:
    articles: int
    listings: int
    other_pages: int
    article_bytes: int


def sentence(rng: random.Random, lang: Language, low: int = 6, high: int = 16) -> str:
    words = rng.choices(lang.words, k=rng.randint(low, high))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(lang.places))
    if rng.random() < 0.25:
        point = "." if lang.english else ","
        amount = f"{rng.randint(2, 950)}{point}{rng.randint(1, 9)}"
        words.insert(rng.randrange(len(words)), f"{amount} {rng.choice(lang.units)}")
    if len(words) > 8 and rng.random() < 0.5:
        words[rng.randrange(2, len(words) - 2)] += ","
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random, lang: Language) -> str:
    return " ".join(sentence(rng, lang) for _ in range(rng.randint(2, 6)))


def teaser(lang: Language, index: int, seed: int) -> Teaser:
    rng = random.Random(f"{seed}:{lang.code}:{index}:teaser")
    title = sentence(rng, lang, 5, 10).removesuffix(".")
    day = NEWEST - dt.timedelta(days=index // 2)
    return Teaser(lang.article_url(index), title, lang.date(day), sentence(rng, lang, 12, 22))


def menu_links(lang: Language, css: str) -> str:
    """The site's sections as nested lists (the header's menu, the footer's columns)."""
    groups = []
    for group, titles, sections in MENU:
        items = "".join(
            f'<li class="{css}__item"><a class="{css}__sub-link" href="{lang.prefix}/{group}/'
            f'{slug}/">{en if lang.english else ru}</a></li>'
            for slug, ru, en in sections
        )
        groups.append(
            f'<li class="{css}__item {css}__item--parent"><a class="{css}__link" '
            f'href="{lang.prefix}/{group}/">{titles[lang.english]}</a>'
            f'<ul class="{css}__sub">{items}</ul></li>'
        )
    news = (
        f'<li class="{css}__item"><a class="{css}__link" href="{lang.listing_url(1)}">'
        f"{lang.ui['news']}</a></li>"
    )
    return f'<ul class="{css}">{news}{"".join(groups)}</ul>'


def icon_sprite() -> str:
    """Inline SVG icons, as templates embed them: the same bytes on every page."""
    rng = random.Random("icons")
    symbols = []
    for name in ICONS.split():
        path = " ".join(
            f"{rng.choice('MLCQ')}{rng.uniform(0, 24):.3f} {rng.uniform(0, 24):.3f}"
            for _ in range(40)
        )
        symbols.append(f'<symbol id="icon-{name}" viewBox="0 0 24 24"><path d="{path}z"/></symbol>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" style="display:none">{"".join(symbols)}</svg>'


def inline_css() -> str:
    rng = random.Random("css")
    rules = (
        f".{name}{{display:{rng.choice(('flex', 'block', 'grid'))};margin:0 auto;"
        f"padding:{rng.randint(0, 40)}px {rng.randint(0, 40)}px;color:#{rng.randrange(16**6):06x};"
        f"font-size:{rng.randint(12, 32)}px;line-height:{rng.uniform(1, 2):.2f}}}"
        for name in CSS_BLOCKS.split()
    )
    return f"<style>{''.join(rules)}</style>"


def icon(name: str) -> str:
    return f'<svg class="icon icon-{name}"><use xlink:href="#icon-{name}"></use></svg>'


@dataclass(frozen=True, slots=True)
class Template:
    """The parts of one language's site template, the same on every page."""

    head: str
    header: str
    sidebar: str
    footer: str

    @classmethod
    def of(cls, lang: Language, popular: list[Teaser], seed: int) -> Template:
        ui, home = lang.ui, f"{lang.prefix}/"
        other_home = "/" if lang.english else "/en/"
        messages = json.dumps({f"MAIN_{key.upper()}": value for key, value in ui.items()})
        head = (
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="stylesheet" href="/local/templates/main/css/style.min.css?v=1741766400">'
            '<link rel="icon" href="/favicon.ico">'
            f"{inline_css()}"
            f"<script>BX.message({messages});</script>"
            "<script>(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push("
            "arguments)};m[i].l=1*new Date();k=e.createElement(t),a=e.getElementsByTagName(t)[0],"
            "k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})(window,document,'script',"
            "'https://mc.example/metrika/tag.js','ym');ym(12345678,'init',{clickmap:true,"
            "trackLinks:true,accurateTrackBounce:true,webvisor:true});</script>"
        )
        social = "".join(
            f'<a class="social__link" href="{url}" rel="nofollow" target="_blank">{icon(name)}</a>'
            for name, url in SOCIAL
        )
        header = (
            f"{icon_sprite()}"
            '<div class="page-wrapper"><header class="header"><div class="header__top container">'
            f'<a class="header__logo" href="{home}"><img src="/local/templates/main/img/logo.svg"'
            f' alt="{ui["site"]}" width="220" height="64"></a>'
            f'<div class="header__slogan">{ui["slogan"]}</div>'
            f'<div class="header__contacts">{icon("phone")}<a href="tel:+74842575700">'
            f'+7 (4842) 57-57-00</a>{icon("mail")}<a href="mailto:info@agency.example">'
            f"info@agency.example</a><span>{ui['hours']}</span></div>"
            f'<form class="header__search" action="{lang.prefix}/search/" method="get">'
            f'<input type="text" name="q" placeholder="{ui["search"]}">'
            f'<button type="submit">{icon("search")}</button></form>'
            f'<div class="header__lang"><span class="active">{ui["this_lang"]}</span>'
            f'<a href="{other_home}">{ui["other_lang"]}</a></div>'
            f'<div class="social">{social}</div></div>'
            f'<nav class="header__menu container">{menu_links(lang, "menu")}</nav></header>'
        )
        rng = random.Random(f"{seed}:{lang.code}:template")
        events = "".join(
            f'<li class="widget__item"><span class="widget__date">'
            f"{lang.date(NEWEST + dt.timedelta(days=7 * n + 3))}</span>"
            f"<p>{sentence(rng, lang, 6, 12)}</p></li>"
            for n in range(6)
        )
        most_read = "".join(
            f'<li class="widget__item"><span class="widget__date">{item.date}</span>'
            f'<a href="{item.url}">{item.title}</a>{icon("eye")}<span>{rng.randint(300, 9000)}'
            "</span></li>"
            for item in popular
        )
        advantages = "".join(
            f'<li class="advantages__item"><b>{rng.randint(5, 95)}</b>'
            f"<span>{sentence(rng, lang, 3, 6)}</span></li>"
            for _ in range(6)
        )
        sidebar = (
            '<aside class="sidebar col col-3">'
            f'<div class="widget map-banner"><a href="{lang.prefix}/sites/map/">'
            '<img src="/upload/medialibrary/map-banner.webp" alt="" width="300" height="180">'
            f'<div class="widget__title">{ui["map"]}</div><p>{ui["map_text"]}</p></a></div>'
            f'<div class="widget"><div class="widget__title">{ui["popular"]}</div>'
            f'<ul class="widget__list">{most_read}</ul></div>'
            f'<div class="widget calendar"><div class="widget__title">{icon("calendar")}'
            f'{ui["events"]}</div><ul class="widget__list">{events}</ul></div>'
            f'<div class="widget"><div class="widget__title">{ui["advantages"]}</div>'
            f'<ul class="advantages">{advantages}</ul></div>'
            f'<div class="widget subscribe"><div class="widget__title">{ui["subscribe"]}</div>'
            '<form class="subscribe__form" action="/local/ajax/subscribe.php" method="post">'
            f'<input class="subscribe__input" type="email" placeholder="{ui["email_placeholder"]}">'
            f'<button class="subscribe__button button">{ui["send"]}</button>'
            f"<small>{ui['consent']}</small></form></div></aside>"
        )
        footer = (
            '<footer class="footer"><div class="container">'
            f'<div class="footer__col footer__menu">{menu_links(lang, "footer-menu")}</div>'
            f'<div class="footer__col footer__contacts"><p>{ui["address"]}</p>'
            f'<p>{ui["phone_label"]}: <a href="tel:+74842575700">+7 (4842) 57-57-00</a></p>'
            '<p>E-mail: <a href="mailto:info@agency.example">info@agency.example</a></p>'
            f'<p>{ui["hours"]}</p><div class="social">{social}</div></div>'
            f'<div class="footer__copyright">© 2012–2025 {ui["copyright"]}</div></div></footer>'
            f'<div class="modal" id="callback" style="display:none"><form class="modal__form" '
            f'action="/local/ajax/callback.php" method="post"><div class="modal__title">'
            f'{ui["callback"]}</div><input type="text" name="name" placeholder="{ui["name"]}">'
            '<input type="tel" name="phone" placeholder="+7 (___) ___-__-__">'
            f'<small>{ui["consent"]}</small><button class="button">{ui["send"]}</button>'
            f'<button class="modal__close" type="button" title="{ui["close"]}">{icon("close")}'
            f'</button></form></div><div class="cookies">{ui["cookies"]}'
            '<button class="button">OK</button></div></div>'
            '<script src="/local/templates/main/js/vendor.min.js?v=1741766400"></script>'
            '<script src="/local/templates/main/js/app.min.js?v=1741766400"></script>'
        )
        return cls(head, header, sidebar, footer)

    def page(self, lang: Language, title: str, crumbs: list[tuple[str, str]], main: str) -> str:
        trail = "".join(f'<a href="{url}">{name}</a> / ' for url, name in crumbs)
        return (
            f'<!DOCTYPE html>\n<html lang="{lang.code}"><head><meta charset="utf-8">'
            f"<title>{title} — {lang.ui['site']}</title>"
            f'<meta name="description" content="{title}">'
            f'<meta property="og:title" content="{title}">{self.head}</head><body>{self.header}'
            f'<div class="breadcrumbs container">{trail}<span>{title}</span></div>'
            f'<main class="content container"><div class="row"><div class="col col-9">{main}'
            f"</div>{self.sidebar}</div></main>{self.footer}</body></html>"
        )


def article_page(
    template: Template, lang: Language, teasers: list[Teaser], index: int, seed: int
) -> str:
    rng = random.Random(f"{seed}:{lang.code}:{index}:body")
    item = teasers[index]
    text = "".join(f"<p>{paragraph(rng, lang)}</p>" for _ in range(rng.randint(6, 15)))
    picked = rng.sample(range(len(teasers)), min(11, len(teasers)))
    others = [n for n in picked if n != index][: rng.randint(5, 10)]
    related = "".join(
        f'<li><a href="{teasers[n].url}">{teasers[n].title}</a><span>{teasers[n].date}</span></li>'
        for n in others
    )
    tags = "".join(f'<span class="tag">#{rng.choice(lang.words)}</span>' for _ in range(4))
    share = "".join(
        f'<a href="{url}/share?url={item.url}" rel="nofollow">{icon(name)}</a>'
        for name, url in SOCIAL
    )
    main = (
        f'<article class="news-detail"><h1>{item.title}</h1>'
        f'<div class="news-detail__date">{icon("calendar")}{item.date}</div>'
        f'<figure class="news-detail__image"><img src="/upload/iblock/{rng.randrange(16**3):03x}/'
        f'{10000 + index}.jpg" alt="{item.title}" width="860" height="480"></figure>'
        f'<div class="news-detail__text"><p class="lead"><b>{item.lead}</b></p>{text}</div>'
        f'<div class="news-detail__tags">{tags}</div>'
        f'<div class="news-detail__share">{lang.ui["share"]}: {share}</div>'
        f'<div class="news-related"><h3>{lang.ui["read_also"]}</h3><ul>{related}</ul></div>'
        "</article>"
    )
    crumbs = [(f"{lang.prefix}/", lang.ui["home"]), (lang.listing_url(1), lang.ui["news"])]
    return template.page(lang, item.title, crumbs, main)


def pagination(lang: Language, number: int, last: int) -> str:
    shown = sorted({1, last, *range(max(1, number - 2), min(last, number + 2) + 1)})
    links = []
    if number > 1:
        links.append(f'<a href="{lang.listing_url(number - 1)}">{lang.ui["prev"]}</a>')
    for previous, page in zip([0, *shown], shown, strict=False):
        if page - previous > 1:
            links.append("<span>...</span>")
        if page == number:
            links.append(f'<span class="pagination__current">{page}</span>')
        else:
            links.append(f'<a class="pagination__item" href="{lang.listing_url(page)}">{page}</a>')
    if number < last:
        links.append(f'<a href="{lang.listing_url(number + 1)}">{lang.ui["next"]}</a>')
    return f'<div class="pagination">{"".join(links)}</div>'


def teaser_list(teasers: list[Teaser]) -> str:
    items = "".join(
        f'<div class="news-item"><a class="news-item__title" href="{item.url}">{item.title}</a>'
        f'<div class="news-item__date">{item.date}</div>'
        f'<p class="news-item__lead">{item.lead}</p></div>'
        for item in teasers
    )
    return f'<div class="news-list">{items}</div>'


def listing_page(template: Template, lang: Language, teasers: list[Teaser], number: int) -> str:
    last = -(-len(teasers) // PER_LISTING)
    shown = teasers[(number - 1) * PER_LISTING : number * PER_LISTING]
    main = f"<h1>{lang.ui['news']}</h1>{teaser_list(shown)}{pagination(lang, number, last)}"
    return template.page(lang, lang.ui["news"], [(f"{lang.prefix}/", lang.ui["home"])], main)


def home_page(template: Template, lang: Language, teasers: list[Teaser], seed: int) -> str:
    rng = random.Random(f"{seed}:{lang.code}:home")
    slides = "".join(
        f'<div class="hero__slide"><div class="hero__title">{sentence(rng, lang, 4, 8)}</div>'
        f'<a class="button" href="{lang.prefix}/{group}/">{titles[lang.english]}</a></div>'
        for group, titles, _ in MENU[:4]
    )
    main = (
        f'<div class="hero">{slides}</div><h2>{lang.ui["news"]}</h2>{teaser_list(teasers[:6])}'
        f'<a class="button" href="{lang.listing_url(1)}">{lang.ui["all_news"]}</a>'
    )
    return template.page(lang, lang.ui["site"], [], main)


def section_page(
    template: Template, lang: Language, path: str, title: str, crumbs: list, seed: int
) -> str:
    rng = random.Random(f"{seed}:{lang.code}:{path}")
    text = "".join(f"<p>{paragraph(rng, lang)}</p>" for _ in range(rng.randint(3, 6)))
    return template.page(lang, title, crumbs, f"<h1>{title}</h1>{text}")


def sections(lang: Language) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """Path, title and breadcrumbs of each section page of the menu."""
    home = [(f"{lang.prefix}/", lang.ui["home"])]
    for group, titles, children in MENU:
        group_path = f"{lang.prefix}/{group}/"
        yield group_path, titles[lang.english], home
        for slug, ru, en in children:
            yield (
                f"{group_path}{slug}/",
                en if lang.english else ru,
                [
                    *home,
                    (group_path, titles[lang.english]),
                ],
            )


def file_for(root: Path, url: str) -> Path:
    """Where the page of a URL path (with its query, if any) is stored under `root`."""
    path, _, query = url.partition("?")
    name = path.lstrip("/") + ("index.html" if path.endswith("/") else "")
    return root / (f"{name}?{query}" if query else name)


def write(root: Path, url: str, html: str) -> int:
    """Stores the page of `url`; its size in bytes."""
    path = file_for(root, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.write_bytes(html.encode("utf-8"))


def build(root: Path, pages: int, seed: int = 1) -> Built:
    """Writes a mirror of `pages` articles, half of them in each language, into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text(ROBOTS_TXT, encoding="utf-8")
    listings = others = article_bytes = 0
    for lang, count in ((RU, (pages + 1) // 2), (EN, pages // 2)):
        teasers = [teaser(lang, index, seed) for index in range(count)]
        popular = random.Random(f"{seed}:{lang.code}:popular").sample(teasers, min(5, count))
        template = Template.of(lang, popular, seed)
        write(root, f"{lang.prefix}/", home_page(template, lang, teasers, seed))
        for path, title, crumbs in sections(lang):
            write(root, path, section_page(template, lang, path, title, crumbs, seed))
            others += 1
        last = -(-count // PER_LISTING)
        for number in range(1, last + 1):
            write(root, lang.listing_url(number), listing_page(template, lang, teasers, number))
        listings += last
        others += 1
        for index, item in enumerate(teasers):
            article_bytes += write(
                root, item.url, article_page(template, lang, teasers, index, seed)
            )
    return Built(pages, listings, others, article_bytes)


class MirrorHandler(BaseHTTPRequestHandler):
    """Serves the mirror's files, with keep-alive connections as a real server would."""

    protocol_version = "HTTP/1.1"
    server: MirrorServer

    def do_GET(self) -> None:
        path = file_for(self.server.root, self.path)
        try:
            body = b"" if ".." in self.path else path.read_bytes()
        except OSError:
            body = b""
        if not body:
            self.send_error(404)
            return
        kind = "text/plain" if path.name.endswith(".txt") else "text/html"
        self.send_response(200)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a log line per request would cost more than the request."""


class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.root = root


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (Linux: from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def served(root: Path) -> Iterator[Served]:
    """The mirror in `root`, served by another process."""
    command = [sys.executable, "-m", "benchmarks.mirror", "serve", str(root)]
    server = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        yield Served(f"http://127.0.0.1:{port}", server.pid)
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "serve"))
    parser.add_argument("root", type=Path)
    parser.add_argument("--pages", type=int, default=2000, help="articles (build)")
    parser.add_argument("--seed", type=int, default=1, help="(build)")
    args = parser.parse_args(argv)
    if args.action == "build":
        print(build(args.root, args.pages, args.seed))
        return
    server = MirrorServer(args.root)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
