"""A hostile portal for crawler tests: good news articles next to pages built to hurt a crawler.

`HostileSite(routes)` serves a few routes on a free port of 127.0.0.1 from a thread, inside
a `with` block; every other path is a 404. A route is a function of the request path that
returns a `Reply`. A reply's body is bytes, or an iterable of byte chunks that is streamed
with chunked transfer encoding (huge generated pages), `chunk_delay` seconds apart (a body
that drips). Streams are finite, and stop when the client hangs up or the site shuts down.

`article(...)` renders a good article page in the style of the bundled demo portal and
`listing(...)` a news list; `ARTICLES` holds the texts of the good articles. The hostile
cases follow, as routes: `markup_routes` (pages too big, deep, linked or strange to parse
the usual way), `sitemap_routes` (sitemap and robots.txt floods) and `transport_routes`
(redirect traps, broken transfers, server errors, links to another port).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from archive.localsite import LocalHTTPServer

# A connection may carry this many requests; then the server closes it.
MAX_REQUESTS_PER_CONNECTION = 1000
# A site answers this many requests in all; then only 503s, so that no crawl runs forever.
MAX_REQUESTS = 60_000


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: Mapping[str, str] = field(
        default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"}
    )
    chunk_delay: float = 0.0


Route = Callable[[str], Reply]


def html(body: bytes | str | Iterable[bytes], status: int = 200, **headers: str) -> Reply:
    content = body.encode() if isinstance(body, str) else body
    return Reply(status, content, {"Content-Type": "text/html; charset=utf-8", **headers})


def meta_refresh(location: str, title: str = "") -> Reply:
    """A page that sends its reader on at once by `<meta http-equiv=refresh>`."""
    head = f'<title>{title}</title><meta http-equiv="refresh" content="0; url={location}">'
    return html(f"<html><head>{head}</head><body><p>Переход…</p></body></html>")


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, b"", {"Location": location, "Content-Type": "text/html"})


def not_found() -> Reply:
    return html(
        "<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>", 404
    )


class HostileSite:
    """`routes` by exact path; a key ending in `*` matches every path it is a prefix of."""

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[str] = []
        self._http = _Server(self)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._http.server_address[1]

    def url(self, path: str) -> str:
        return self.base_url + path

    @property
    def requests(self) -> list[str]:
        """Paths (with query) requested so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def hits(self) -> Counter[str]:
        return Counter(self.requests)

    def route(self, path: str) -> Reply:
        with self._lock:
            self._requests.append(path)
            if len(self._requests) > MAX_REQUESTS:
                return html("<html><body>Too many requests</body></html>", 503)
        bare = path.split("?", 1)[0]
        if bare in self.routes:
            return self.routes[bare](path)
        for key, route in self.routes.items():
            if key.endswith("*") and bare.startswith(key[:-1]):
                return route(path)
        return not_found()

    def __enter__(self) -> HostileSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closing.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


class _Server(LocalHTTPServer):
    request_queue_size = 64
    block_on_close = False
    daemon_threads = True

    def __init__(self, site: HostileSite) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.site = site


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 10
    disable_nagle_algorithm = True

    def handle(self) -> None:
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            self.close_connection = True
            self.handle_one_request()
            if self.close_connection:
                return

    def do_GET(self) -> None:
        reply = self.server.site.route(self.path)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if isinstance(reply.body, bytes):
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        closing = self.server.site.closing
        for chunk in reply.body:
            if reply.chunk_delay and closing.wait(reply.chunk_delay):
                self.close_connection = True
                return
            if closing.is_set():
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are in `HostileSite.requests`."""


@dataclass(frozen=True)
class Article:
    lang: str
    title: str
    published: str
    paragraphs: tuple[str, ...]


ARTICLES = (
    Article(
        "ru",
        "В индустриальном парке «Северный» запущен завод металлоконструкций",
        "2026-11-20",
        (
            "В индустриальном парке «Северный» начал работу завод компании «СтальПроект», "
            "который будет выпускать металлоконструкции для мостов, складов и "
            "торговых центров. Инвестиции в проект составили 2,4 млрд рублей, на "
            "предприятии создано 310 рабочих мест.",
            "Производственный корпус площадью 19 тысяч квадратных метров оснащён линиями "
            "плазменной резки, сварочными роботами и камерой порошковой окраски. В год "
            "завод сможет выпускать до 40 тысяч тонн готовых конструкций, а через два "
            "года мощность планируется удвоить.",
            "Компания получила статус резидента парка в прошлом году и воспользовалась "
            "льготами по налогу на имущество. Агентство помогло подобрать участок с "
            "готовым подключением к электросетям и железнодорожной ветке.",
            "Основными покупателями продукции станут строительные компании Центральной "
            "России. Часть продукции предприятие рассчитывает поставлять в Белоруссию и "
            "Казахстан уже в следующем году.",
        ),
    ),
    Article(
        "ru",
        "Область и банк подписали соглашение о льготном кредитовании фермеров",
        "2026-11-17",
        (
            "Правительство области и региональный банк подписали соглашение о "
            "кредитовании сельскохозяйственных производителей под пониженную ставку. "
            "Фермерские хозяйства смогут получить займы на покупку техники, семян и "
            "удобрений на срок до семи лет.",
            "Разницу между рыночной и льготной ставкой банку будет возмещать областной "
            "бюджет. На эти цели в следующем году предусмотрено 600 млн рублей, а "
            "заявки начнут принимать с первого февраля.",
            "По словам министра сельского хозяйства, программа рассчитана прежде всего на "
            "небольшие хозяйства, которым трудно получить кредит на общих условиях. "
            "Консультации по оформлению заявок будут проводить в каждом районе.",
            "В прошлом сезоне фермеры области собрали рекордный урожай зерновых, и спрос "
            "на современную уборочную технику заметно вырос.",
        ),
    ),
    Article(
        "ru",
        "В областном центре откроется технопарк для молодых инженеров",
        "2026-11-12",
        (
            "В областном центре до конца следующего года откроется технопарк для "
            "студентов и молодых инженеров. Под него реконструируют бывший корпус "
            "приборостроительного завода площадью восемь тысяч квадратных метров.",
            "В технопарке разместятся мастерские с фрезерными станками и 3D-принтерами, "
            "лаборатории электроники и коворкинг для начинающих предпринимателей. "
            "Резиденты будут платить за аренду по символической ставке.",
            "Ректоры трёх университетов уже договорились о совместных программах "
            "стажировок. Первые проекты будут связаны с беспилотными системами, "
            "энергосбережением и переработкой отходов.",
            "Общая стоимость реконструкции оценивается в 950 млн рублей, половину средств "
            "выделит федеральный бюджет в рамках национального проекта.",
        ),
    ),
    Article(
        "ru",
        "Логистический оператор построит складской комплекс у федеральной трассы",
        "2026-11-05",
        (
            "Логистический оператор «ТрансЛинк» построит складской комплекс класса А "
            "рядом с федеральной трассой на юге области. Соглашение о реализации проекта "
            "подписано на инвестиционном совете региона.",
            "Комплекс площадью 60 тысяч квадратных метров будет включать холодильные "
            "склады, зону кросс-докинга и терминал для контейнеров. Инвестор вложит в "
            "строительство около 3,1 млрд рублей и создаст 450 рабочих мест.",
            "Первую очередь планируется ввести в эксплуатацию через полтора года. Область "
            "берёт на себя строительство подъездной дороги и подведение сетей к "
            "участку.",
            "Склады будут обслуживать торговые сети и интернет-магазины, которым нужна "
            "быстрая доставка в соседние регионы.",
        ),
    ),
    Article(
        "en",
        "Solar panel maker opens its first plant in the region",
        "2026-11-19",
        (
            "A manufacturer of solar panels has opened its first plant in the region, "
            "investing 1.7 billion rubles in a production line for high-efficiency "
            "modules. The plant has created 180 jobs and will supply utilities across "
            "the south of the country.",
            "The factory occupies a renovated building in the eastern industrial zone. "
            "Its automated line assembles modules from imported cells, and the company "
            "plans to start producing the cells locally within three years.",
            "The regional government granted the project priority status, which brings "
            "a reduced profit tax rate and faster approval of construction permits. The "
            "investment agency supported the company from the choice of site onwards.",
            "Managers expect the plant to reach full capacity next spring, when a second "
            "shift of workers completes its training at the local technical college.",
        ),
    ),
    Article(
        "en",
        "Regional airport to get a new cargo terminal",
        "2026-11-09",
        (
            "The regional airport will build a new cargo terminal able to handle twenty "
            "thousand tonnes of freight a year. Construction is due to start in the "
            "spring, and the terminal should open before the end of next year.",
            "The project is financed by a private operator together with the regional "
            "development fund. The terminal will have refrigerated storage for food and "
            "medicines, and a customs post so that exporters can clear goods on site.",
            "Local manufacturers of furniture, machinery and dairy products have already "
            "said they will use the terminal to reach customers in Central Asia and the "
            "Middle East.",
            "The airport expects the terminal to bring about 120 new jobs and to double "
            "its freight revenue within five years of opening.",
        ),
    ),
)

HEAD = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title} — Агентство инвестиционного развития</title>
<meta property="og:type" content="{og_type}">
<meta property="og:title" content="{title}">
{extra_head}
</head>
<body>
<header class="header"><a href="/">Агентство инвестиционного развития</a>
<nav><a href="/">Главная</a> <a href="/news/">Новости</a></nav></header>
<div class="content">
"""
FOOT = """</div>
<footer class="footer">© 2026 Агентство инвестиционного развития. Все права защищены.</footer>
</body>
</html>
"""


def article(
    text: Article, extra_head: str = "", extra_body: str = "", canonical: str | None = None
) -> str:
    """A good article page; `canonical` is its `<link rel=canonical>` href, if any."""
    if canonical is not None:
        extra_head += f'\n<link rel="canonical" href="{escape(canonical)}">'
    paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in text.paragraphs)
    return (
        HEAD.format(
            lang=text.lang, title=escape(text.title), og_type="article", extra_head=extra_head
        )
        + f'<meta property="article:published_time" content="{text.published}T10:00:00+03:00">\n'
        + f'<article><h1>{escape(text.title)}</h1>\n<time datetime="{text.published}">'
        + f"{text.published}</time>\n{paragraphs}\n</article>\n{extra_body}"
        + FOOT
    )


def listing(
    teasers: Iterable[tuple[str, Article]], extra_head: str = "", extra_body: str = ""
) -> str:
    """A news list: a linked headline and a summary for each (path, article)."""
    items = "\n".join(
        f'<div class="news-item"><span class="date">{text.published}</span>'
        f'<h3><a href="{escape(path)}">{escape(text.title)}</a></h3>'
        f"<p>{escape(text.paragraphs[0])}</p></div>"
        for path, text in teasers
    )
    return (
        HEAD.format(lang="ru", title="Новости", og_type="website", extra_head=extra_head)
        + f'<h1>Новости</h1>\n<div class="news-list">\n{items}\n</div>\n{extra_body}'
        + FOOT
    )


def stream(pieces: Iterable[str], size: int = 64 * 1024) -> Iterator[bytes]:
    """Pieces of a page, generated as they are sent, in chunks of about `size` bytes."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer).encode()
            buffer, length = [], 0
    yield "".join(buffer).encode()


def page_of(body: Iterable[str]) -> Iterator[str]:
    return itertools.chain(
        ["<!DOCTYPE html><html><head><title>Архив</title></head><body>"], body, ["</body></html>"]
    )


def links_page(prefix: str, count: int) -> Iterator[str]:
    return page_of(f'<a href="{prefix}{n}/">ссылка {n}</a>\n' for n in range(count))


def garbage(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def article_route(index: int) -> Route:
    return lambda _: html(article(ARTICLES[index]))


# Cases 1, 2 and 4: pages too big, too deep, too linked or too strange to parse.

JSON_LD_BOMB = '<script type="application/ld+json">' + "[" * 100_000 + "</script>"
BAD_PORT_LINK = '<a href="http://127.0.0.1:abc/">сломанная ссылка</a>'
BAD_CANONICAL = '<link rel="canonical" href="http://127.0.0.1:99999999/">'
# The good articles of the markup site's listing: path and index in ARTICLES.
LISTED = {"/news/a1/": 0, "/news/a2/": 4}
LINKS_9MB = 9_000_000 // len('<a href="/gone/123456/">ссылка 123456</a>\n'.encode())

HOSTILE_PAGES: dict[str, Route] = {
    # One tag with 100,000 attributes.
    "/attrs/": lambda _: html(
        stream(page_of(["<div ", *(f'data-a{n}="{n}" ' for n in range(100_000)), ">"]))
    ),
    # 50,000 levels of nesting.
    "/deep/": lambda _: html(
        stream(
            page_of(
                itertools.chain(
                    itertools.repeat("<div>", 50_000),
                    ["<p>Глубоко</p>"],
                    itertools.repeat("</div>", 50_000),
                )
            )
        )
    ),
    # 700,000 distinct links, about 25 MB: over DOWNLOAD_MAXSIZE.
    "/links-700k/": lambda _: html(stream(links_page("/far/", 700_000))),
    # Distinct links, to 404s, filling 9 MB: under DOWNLOAD_MAXSIZE.
    "/links-9mb/": lambda _: html(stream(links_page("/gone/", LINKS_9MB))),
    # A million copies of one link, 10 MB, to a good article.
    "/same/": lambda _: html(stream(page_of(itertools.repeat("<a href=x>", 1_000_000)))),
    "/same/x": article_route(3),
    # An article with a canonical link to port 99999999, a link to port "abc" and a JSON-LD
    # block of 100,000 "[", that links to an article linked from nowhere else.
    "/weird/": lambda _: html(
        article(
            ARTICLES[1],
            extra_head=JSON_LD_BOMB,
            canonical="http://127.0.0.1:99999999/weird/",
            extra_body=f'<p>{BAD_PORT_LINK} Читайте также: <a href="/news/a3/">'
            f"{ARTICLES[2].title}</a></p>",
        )
    ),
    "/news/a3/": article_route(2),
}


def markup_routes(hostile: Iterable[str], extra_head: str = "", extra_links: str = "") -> dict:
    """A listing of the LISTED articles that also links to the `hostile` pages."""
    links = " ".join(f'<a href="{path}">страница {n}</a>' for n, path in enumerate(hostile))
    home = listing(
        [(path, ARTICLES[index]) for path, index in LISTED.items()],
        extra_head=extra_head,
        extra_body=f"<p>{links} {extra_links}</p>",
    )
    return {
        "/robots.txt": lambda _: Reply(200, b"User-agent: *\nDisallow: /search/\n"),
        "/": lambda _: html(home),
        **{path: article_route(index) for path, index in LISTED.items()},
        **HOSTILE_PAGES,
    }


# Case 3: a sitemap index of 20 sitemaps of 50,000 URLs each, and a robots.txt of a
# million sitemaps (45 MB) whose first line forbids /private/.

SITEMAP_ARTICLES = {"/news/s1/": 0, "/news/s2/": 1, "/news/s3/": 5}
SITEMAPS = 20
SITEMAP_SIZE = 50_000


def sitemap_routes(base: str) -> dict[str, Route]:
    """The routes of the sitemap flood served at `base`."""

    def robots(_: str) -> Reply:
        lines = (f"Sitemap: {base}/more/{n}.xml\n" for n in range(1_000_000))
        body = stream(itertools.chain(["User-agent: *\nDisallow: /private/\n"], lines))
        return Reply(200, body, {"Content-Type": "text/plain"})

    def index(_: str) -> Reply:
        entries = "".join(
            f"<sitemap><loc>{base}/sitemaps/{n}.xml</loc></sitemap>" for n in range(SITEMAPS)
        )
        return Reply(
            200,
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{entries}</sitemapindex>".encode(),
            {"Content-Type": "application/xml"},
        )

    def urlset(path: str) -> Reply:
        number = path.removeprefix("/sitemaps/").removesuffix(".xml")
        good = list(SITEMAP_ARTICLES) if number == "0" else []
        gone = (f"/gone/{number}-{n}/" for n in range(SITEMAP_SIZE - len(good)))
        entries = (f"<url><loc>{base}{loc}</loc></url>" for loc in itertools.chain(good, gone))
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        )
        body = stream(itertools.chain([head], entries, ["</urlset>"]))
        return Reply(200, body, {"Content-Type": "application/xml"})

    return {
        "/robots.txt": robots,
        "/sitemap.xml": index,
        "/sitemaps/*": urlset,
        "/": lambda _: html(
            listing(
                [(path, ARTICLES[index]) for path, index in SITEMAP_ARTICLES.items()],
                extra_body='<p><a href="/private/secret/">Служебный раздел</a></p>',
            )
        ),
        **{path: article_route(index) for path, index in SITEMAP_ARTICLES.items()},
        "/private/*": article_route(2),
    }


# Cases 5, 6 and 8: robots.txt 404, links and redirects to another port of the host,
# redirect traps, a body that drips, a false gzip, a binary "HTML" page, 5xx articles.

TRANSPORT_ARTICLES = {"/news/t1/": 0, "/news/t2/": 1, "/news/t3/": 5}
# An article reached only by a page's meta refresh, which comes after a head of Cyrillic
# text longer than 4,096 bytes (but not characters).
REFRESHED_ARTICLE = "/news/refreshed/"
BROKEN = tuple(f"/broken/{n}/" for n in range(3))
CHAIN_HOPS = 20
# The dripping body ends after this many bytes, one a second.
DRIP_SECONDS = 60


def transport_routes(other: str) -> dict[str, Route]:
    """The routes of the transport traps; `other` is the same host on another port."""
    traps = [
        "/loop/a/", "/refresh/loop/a/", "/refresh/moved/", "/chain/1/", "/drip/", "/gzip/",
        "/binary/", "/jump/", *BROKEN,
        f"{other}/news/elsewhere/", "//" + other.removeprefix("http://") + "/news/relative/",
    ]  # fmt: skip
    links = " ".join(f'<a href="{href}">ловушка {n}</a>' for n, href in enumerate(traps))
    home = listing(
        [(path, ARTICLES[index]) for path, index in TRANSPORT_ARTICLES.items()],
        extra_head=f'<link rel="alternate" hreflang="en" href="{other}/en/">',
        extra_body=f"<p>{links}</p>",
    )
    unavailable = html("<html><body>Service Unavailable</body></html>", 503)
    return {
        "/robots.txt": lambda _: not_found(),
        "/": lambda _: html(home),
        **{path: article_route(index) for path, index in TRANSPORT_ARTICLES.items()},
        "/loop/a/": lambda _: redirect("/loop/b/"),
        "/loop/b/": lambda _: redirect("/loop/a/"),
        "/refresh/loop/a/": lambda _: meta_refresh("/refresh/loop/b/"),
        "/refresh/loop/b/": lambda _: meta_refresh("/refresh/loop/a/"),
        "/refresh/moved/": lambda _: meta_refresh(REFRESHED_ARTICLE, "Новость переехала. " * 150),
        REFRESHED_ARTICLE: article_route(2),
        **{
            f"/chain/{n}/": (lambda _, n=n: redirect(f"/chain/{n + 1}/"))
            for n in range(1, CHAIN_HOPS + 1)
        },
        f"/chain/{CHAIN_HOPS + 1}/": article_route(3),
        "/drip/": lambda _: Reply(
            200, itertools.repeat(b"<", DRIP_SECONDS), {"Content-Type": "text/html"}, 1.0
        ),
        "/gzip/": lambda _: Reply(
            200, garbage(50_000, 1), {"Content-Type": "text/html", "Content-Encoding": "gzip"}
        ),
        "/binary/": lambda _: Reply(200, garbage(200_000, 2), {"Content-Type": "text/html"}),
        "/jump/": lambda _: redirect(f"{other}/news/jumped/", 301),
        **dict.fromkeys(BROKEN, lambda _: unavailable),
    }
