"""Main-content extraction: boilerplate out, article in, on the sample portal and snippets."""

from __future__ import annotations

import pytest
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from archive.cli import DEMO_PORTAL
from pipelines.boilerplate import SiteTemplate, fingerprint, page_blocks
from pipelines.content import MainContent, extract_content

BASE = "http://portal.example"
ARTICLES = [
    "/en/news/new-sez-resident/",
    "/en/news/new-plant-in-industrial-park/",
    "/en/news/investment-forum-2026/",
    "/news/novyy-rezident-oez-zarechye/",
    "/news/novyy-zavod-v-industrialnom-parke/",
    "/news/investitsionnyy-forum-2026/",
    "/news/programma-mer-podderzhki-2027-2029/",
]
BOILERPLATE = [
    "Подпишитесь на дайджест",
    "Subscribe to the news digest",
    "Я даю согласие на обработку персональных данных",
    "Контакты для инвесторов",
    "Contact for investors",
    "cookie",
    "VK",
    "Telegram",
    "Поделиться",
    "Share:",
    "Читайте также",
    "Read also",
    "Photo:",
    "Фото:",
    "All rights reserved",
    "Все права защищены",
]


def tree_of(path: str) -> HtmlElement:
    html = (DEMO_PORTAL / path.strip("/") / "index.html").read_bytes()
    tree = load_html(html)
    assert tree is not None
    return tree


def learn(learner: SiteTemplate, tree: HtmlElement, url: str) -> None:
    learner.learn(url, {key for _, key in page_blocks(tree.find("body"))})


def content_of(path: str, template: frozenset[str] = frozenset()) -> MainContent:
    return extract_content(tree_of(path), BASE + path, template=template)


@pytest.fixture(scope="module")
def portal_template() -> frozenset[str]:
    learner = SiteTemplate()
    for path in sorted(DEMO_PORTAL.rglob("index.html")):
        learn(learner, load_html(path.read_bytes()), str(path.relative_to(DEMO_PORTAL)))
    return learner.blocks


def test_english_article_keeps_lead_and_paragraphs() -> None:
    content = content_of("/en/news/new-sez-resident/")
    assert content.title == "EcoPolymer becomes a resident of the Zarechye Special Economic Zone"
    lines = content.text.split("\n")
    assert lines[0].startswith("The supervisory board of the Zarechye industrial")
    assert any(line.startswith("The plant will occupy a 6.5-hectare plot") for line in lines)
    assert lines[-1].startswith("The zone now has 23 residents")
    assert len(lines) == 5


def test_russian_article_keeps_lead_and_paragraphs() -> None:
    content = content_of("/news/novyy-rezident-oez-zarechye/")
    assert content.title == "Компания «ЭкоПолимер» стала резидентом ОЭЗ «Заречье»"
    assert content.text.startswith("Наблюдательный совет особой экономической зоны")
    assert "Сергей Миронов" in content.text
    assert content.text.count("\n") >= 4


@pytest.mark.parametrize("path", ARTICLES)
@pytest.mark.parametrize("with_template", [False, True])
def test_boilerplate_is_removed(
    path: str, with_template: bool, portal_template: frozenset[str]
) -> None:
    content = content_of(path, portal_template if with_template else None)
    assert content.text
    for phrase in BOILERPLATE:
        assert phrase.lower() not in content.text.lower(), phrase


@pytest.mark.parametrize("path", ARTICLES)
def test_title_is_not_repeated_in_text(path: str) -> None:
    content = content_of(path)
    assert content.title
    assert content.title not in content.text.split("\n")


@pytest.mark.parametrize("path", ARTICLES)
def test_template_keeps_the_article(path: str, portal_template: frozenset[str]) -> None:
    assert content_of(path, portal_template).text == content_of(path).text


def test_extraction_cleans_the_body_in_place_and_leaves_the_head() -> None:
    tree = tree_of("/en/news/new-sez-resident/")
    extract_content(tree, BASE + "/en/news/new-sez-resident/")
    assert tree.find(".//head/link[@rel='canonical']") is not None
    assert tree.find(".//body//form") is None


PROSE = (
    "The regional government approved a new programme of support for industrial investors, "
    "which covers subsidies on loans, tax relief and ready-made sites with utilities. "
)


TOWNS = ["Zarechinsk", "Lesnoy", "Ozyorsk", "Gorki", "Belaya", "Krasny", "Nagorny", "Sosnovka"]


def snippet_page(block: str, number: int) -> str:
    town = TOWNS[number % len(TOWNS)]
    return f"""<html><head><title>News of {town} | Agency</title></head><body>
    <div class="top">Welcome to the investment portal of the region, open every day</div>
    <h1>News of {town}</h1>
    <div class="story"><p>Lead about {town}. {PROSE}</p><p>{town} {PROSE * 2}</p>
    <p>Closing paragraph about {town}. {PROSE}</p></div>
    <div class="box">{block}</div>
    </body></html>"""


def test_template_learning_removes_repeated_blocks() -> None:
    block = "Invest hotline: call the agency desk for an appointment with a project manager"

    def page_with_widget_in_story(number: int) -> HtmlElement:
        """The widget sits inside the story, where nothing but repetition gives it away."""
        html = snippet_page("", number).replace("</p></div>", f"</p><p>{block}</p></div>")
        return load_html(html)

    learner = SiteTemplate(min_pages=3)
    for n in range(4):
        learn(learner, page_with_widget_in_story(n), f"{BASE}/news/{n}/")
    assert fingerprint(block) in learner.blocks
    tree = page_with_widget_in_story(5)
    without = extract_content(tree, BASE + "/news/9/")
    with_template = extract_content(tree, BASE + "/news/9/", template=learner.blocks)
    assert without.text.endswith(block)
    assert block not in with_template.text
    assert "Welcome to the investment portal" not in with_template.text
    assert with_template.text.startswith("Lead about Krasny.")
    assert with_template.text.count("\n") == 2


def test_a_page_seen_again_counts_once() -> None:
    block = "Invest hotline: call the agency desk for an appointment with a project manager"
    learner = SiteTemplate(min_pages=3, min_share=0)
    page = load_html(snippet_page(block, 0))
    for _ in range(3):
        learn(learner, page, f"{BASE}/news/0/")
    assert fingerprint(block) not in learner.blocks
    learn(learner, load_html(snippet_page(block, 1)), f"{BASE}/news/1/")
    learn(learner, load_html(snippet_page(block, 2)), f"{BASE}/news/2/")
    assert fingerprint(block) in learner.blocks


def test_blocks_seen_on_too_few_pages_are_not_template() -> None:
    learner = SiteTemplate(min_pages=3)
    for n in range(2):
        learn(learner, load_html(snippet_page("x", n)), f"/{n}")
    assert fingerprint("Welcome to the investment portal of the region, open every day") not in (
        learner.blocks
    )


def test_a_lead_repeated_as_teaser_on_a_few_of_many_pages_is_not_template() -> None:
    lead = "Lead of one story that the listing and the tag pages repeat as a teaser"
    learner = SiteTemplate(min_pages=3)
    for n in range(10):
        learn(learner, load_html(snippet_page(lead if n < 4 else f"Other box {n}", n)), f"/{n}")
    assert fingerprint(lead) not in learner.blocks
    learn(learner, load_html(snippet_page(lead, 10)), "/10")
    learn(learner, load_html(snippet_page(lead, 11)), "/11")
    assert fingerprint(lead) in learner.blocks


def test_a_long_crawl_still_learns_a_block_that_appears_late() -> None:
    def story_box(n: int) -> str:  # digits count as one, so the number is spelt in letters
        return "Story box " + "".join("abcdefghij"[int(digit)] for digit in str(n))

    learner = SiteTemplate()
    for n in range(300):
        block = "Banner of the new investment forum" if n >= 150 else story_box(n)
        learn(learner, load_html(snippet_page(block, n)), f"/{n}")
    assert fingerprint("Banner of the new investment forum") in learner.blocks
    assert fingerprint(story_box(7)) not in learner.blocks


def test_generic_rules_on_a_snippet() -> None:
    html = f"""<html><head><title>Plant opens</title></head><body>
    <nav><a href="/">Home</a> <a href="/news/">News</a></nav>
    <article><h1>Plant opens</h1>
    <p>{PROSE}</p>
    <figure><img src="a.jpg"><figcaption>Photo: press office of the agency</figcaption></figure>
    <p>Read also: <a href="/x">Another plant opened last year in the same park</a></p>
    <p>{PROSE * 2}</p>
    <div class="share-buttons"><a href="#">Facebook</a> <a href="#">Twitter</a></div>
    <div id="comments"><p>Great news, I think so. {PROSE}</p></div>
    </article>
    <div class="cookie-notice">We use cookies to improve the site. OK</div>
    <footer>Copyright 2026 Agency</footer></body></html>"""
    content = extract_content(load_html(html), BASE + "/plant/")
    assert content.title == "Plant opens"
    lines = content.text.split("\n")
    assert lines == [PROSE.strip(), (PROSE * 2).strip()]


@pytest.mark.parametrize(
    "html",
    [
        "<html></html>",
        "<html><head><title>Only a head</title></head></html>",
        "<html><body><p>Truncated paragraph with no end",
        "<html><body>" + "<div>" * 3000 + "deep" + "</div>" * 3000 + "</body></html>",
        "<html><body>" + "<p>A huge page of many paragraphs of words.</p>" * 20000,
        "\x00\x01\x02\xff binary \x89PNG",
    ],
)
def test_odd_pages_do_not_raise(html: str) -> None:
    tree = load_html(html)
    if tree is None:
        return
    content = extract_content(tree, BASE + "/odd/")
    assert isinstance(content.text, str)
    assert isinstance(content.title, str)


def test_binary_bytes_do_not_raise() -> None:
    tree = load_html(bytes(range(256)) * 100)
    if tree is not None:
        assert isinstance(extract_content(tree, BASE + "/bin").text, str)


def test_page_without_main_content_has_empty_text() -> None:
    html = "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a></nav></body>"
    assert extract_content(load_html(html), BASE + "/menu/").text == ""


LAYOUT_PAGE = """<html><head><title>Plant opens in Krasny | Agency</title></head><body>
<table><tr><td><a href="/">Home</a><br><a href="/news/">News</a><br><a href="/about/">About</a></td>
<td><h1>Plant opens in Krasny</h1><p>Lead about Krasny. {prose}</p><p>Second paragraph. {prose}</p>
<p>The plant will make, in tonnes per year:</p>
<table><tr><th>product</th><th>2027</th><th>2028</th></tr>
<tr><td>glass</td><td>1200</td><td>1800</td></tr></table>
<p>Closing paragraph. {prose}</p>{footer}</td></tr></table></body></html>"""


def test_a_layout_table_is_read_as_paragraphs_and_a_data_table_stays_a_table() -> None:
    text = extract_content(load_html(LAYOUT_PAGE.format(prose=PROSE, footer="")), BASE).text
    lines = text.split("\n")
    assert lines[0].startswith("Lead about Krasny.") and lines[0].endswith(PROSE.strip())
    assert lines[1].startswith("Second paragraph.")
    assert lines[-1].startswith("Closing paragraph.")
    assert "| glass | 1200 | 1800 |" in lines
    assert "Home" not in text


def test_text_ends_before_the_copyright_line_of_the_footer() -> None:
    footer = "<p>© 2026 Agency of Krasny. Address: 1 Main Street, phone 555-0100.</p>"
    text = extract_content(load_html(LAYOUT_PAGE.format(prose=PROSE, footer=footer)), BASE).text
    assert text.split("\n")[-1].startswith("Closing paragraph.")
    assert "Main Street" not in text


def test_template_views_count_as_the_pages_say() -> None:
    """Each page's view holds exactly the blocks that are on enough pages, the page itself
    counted, however the blocks come and go along the crawl."""
    learner = SiteTemplate(min_pages=3, min_share=0.5)
    seen: list[set[str]] = []
    for n in range(60):
        page = {"menu", "footer"} | ({"banner"} if n % 3 else set()) | {f"story {n % 7}"}
        page |= {"late widget"} if n >= 30 else set()
        view = learner.view(f"/{n}")
        needed = max(3, 0.5 * (len(seen) + 1))
        expected = {key for key in page if sum(key in other for other in seen) + 1 >= needed}
        assert view.template_of(page) == expected
        learner.learn(f"/{n}", page)
        seen.append(page)
    assert learner.blocks == {"menu", "footer", "banner", "late widget"}
