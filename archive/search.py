"""Full-text search of the archive, with the same query language and results on SQLite and
PostgreSQL.

PostgreSQL stems words itself (its `russian` configuration stems Cyrillic words with the
Russian Snowball stemmer and Latin ones with the English one, minus its stop words). SQLite's
FTS5 knows no stemming, so here words are stemmed the same way in Python and the FTS5 table
`article_search` holds the stems. Queries are parsed here for both databases, so both accept
and reject the same queries: words (all must match, in any word form), "quoted phrases", `or`
between alternatives and `-word` exclusions, the syntax of PostgreSQL's websearch_to_tsquery.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
import Stemmer
from sqlalchemy import Connection, Date, Engine, bindparam

SNIPPET_WIDTH = 200
TITLE_WEIGHT = 5.0
"""How much more a match in the title counts than one in the text, for SQLite's bm25."""
REINDEX_BATCH = 500

# PostgreSQL 15's tsearch_data/russian.stop and english.stop (the Snowball lists): words that
# neither database indexes for searching, so that both find the same articles.
_RUSSIAN_STOPWORDS = """
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее
    мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть
    был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть
    надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж тогда
    кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас
    были куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через
    эти нас про всего них какая много разве три эту моя впрочем хорошо свою этой перед иногда
    лучше чуть том нельзя такой им более всегда конечно всю между
"""
_ENGLISH_STOPWORDS = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against between
    into through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some
    such no nor not only own same so than too very s t can will just don should now
"""
RUSSIAN_STOPWORDS = frozenset(_RUSSIAN_STOPWORDS.split())
ENGLISH_STOPWORDS = frozenset(_ENGLISH_STOPWORDS.split())
STOP = "\ue000"
"""Indexed in place of a stop word on SQLite, so a phrase keeps its gaps as in PostgreSQL."""

_WORD = re.compile(r"[^\W_]+")
_COMPOUND = re.compile(r"[^\W_]+(?:[.-][^\W_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_DIGIT = re.compile(r"\d")
_RUSSIAN, _ENGLISH = Stemmer.Stemmer("russian"), Stemmer.Stemmer("english")
_QUERY_TERM = re.compile(r'(-*)(?:"([^"]*)"|([^\s"]+))')


class SearchQueryError(ValueError):
    """A search query that cannot be run; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    article_id: int
    url: str
    title: str
    site: str
    published: dt.date | None
    lang: str
    score: float
    snippet: str


def index_terms(words: Iterable[str]) -> list[str]:
    """The indexed form of each word: its Snowball stem, or STOP for a stop word.

    Words with digits are kept as they are, as PostgreSQL does.
    """
    return [_index_term(word) for word in words]


@lru_cache(maxsize=1 << 17)
def _index_term(word: str) -> str:
    """index_terms of one word; cached, as the words of a language repeat from text to text."""
    word = word.lower()
    if _DIGIT.search(word):
        return word
    if _CYRILLIC.search(word):
        return STOP if word in RUSSIAN_STOPWORDS else _RUSSIAN.stemWord(word)
    return STOP if word in ENGLISH_STOPWORDS else _ENGLISH.stemWord(word)


def _indexed_text(value: str) -> str:
    return " ".join(index_terms(_WORD.findall(value or "")))


def _pg_config(lang: str) -> str:
    return "english" if lang == "en" else "russian"


def index_articles(connection: Connection, articles: Sequence[tuple[int, str, str, str]]) -> None:
    """(Re)index articles, each given as (id, title, text, language), a statement for all;
    call it in the transaction that changes their content."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            _PG_INDEX,
            [
                {"cfg": _pg_config(lang), "title": title or "", "text": text or "", "id": id_}
                for id_, title, text, lang in articles
            ],
        )
        return
    connection.execute(_SQLITE_UNINDEX, [{"id": id_} for id_, *_ in articles])
    connection.execute(
        _SQLITE_INDEX,
        [
            {"id": id_, "title": _indexed_text(title), "text": _indexed_text(text)}
            for id_, title, text, _ in articles
        ],
    )


_PG_INDEX = sa.text(
    "UPDATE articles SET search_vector ="
    " setweight(to_tsvector(CAST(:cfg AS regconfig), :title), 'A')"
    " || setweight(to_tsvector(CAST(:cfg AS regconfig), :text), 'B')"
    " WHERE id = :id"
)
_SQLITE_UNINDEX = sa.text("DELETE FROM article_search WHERE rowid = :id")
_SQLITE_INDEX = sa.text(
    "INSERT INTO article_search (rowid, title, text) VALUES (:id, :title, :text)"
)


def reindex_all(connection: Connection) -> int:
    """Index every article anew (the migration that adds search runs it); returns how many."""
    if connection.dialect.name == "postgresql":
        cfg = "CAST(CASE WHEN lang = 'en' THEN 'english' ELSE 'russian' END AS regconfig)"
        result = connection.execute(
            sa.text(
                f"UPDATE articles SET search_vector ="
                f" setweight(to_tsvector({cfg}, coalesce(title, '')), 'A')"
                f" || setweight(to_tsvector({cfg}, coalesce(text, '')), 'B')"
            )
        )
        return result.rowcount
    connection.execute(sa.text("DELETE FROM article_search"))
    count = last_id = 0
    select_batch = sa.text(
        "SELECT id, title, text FROM articles WHERE id > :after ORDER BY id LIMIT :size"
    )
    while rows := connection.execute(select_batch, {"after": last_id, "size": REINDEX_BATCH}).all():
        connection.execute(
            sa.text("INSERT INTO article_search (rowid, title, text) VALUES (:id, :title, :text)"),
            [
                {"id": id_, "title": _indexed_text(title), "text": _indexed_text(body)}
                for id_, title, body in rows
            ],
        )
        count += len(rows)
        last_id = rows[-1][0]
    return count


@dataclass(frozen=True, slots=True)
class _Term:
    """A word or phrase of a query: its words as typed (for PostgreSQL, which parses compounds
    like `санкт-петербург` or `3.14` its own way) and as indexed (for SQLite)."""

    typed: str
    terms: tuple[str, ...]

    def websearch(self) -> str:
        """Quoted, and with no punctuation but inside compounds, so that nothing in it is
        read as an operator (`or`, `-` after a bracket)."""
        return f'"{self.typed}"'

    def fts5(self) -> str:
        return '"' + " ".join(self.terms).replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class _Branch:
    """Terms that must all match and terms that must not; a query is a disjunction of these."""

    include: tuple[_Term, ...]
    exclude: tuple[_Term, ...]

    def websearch(self) -> str:
        return " ".join(
            [term.websearch() for term in self.include]
            + ["-" + term.websearch() for term in self.exclude]
        )

    def fts5(self) -> str:
        expression = "(" + " AND ".join(term.fts5() for term in self.include) + ")"
        for term in self.exclude:
            expression = f"({expression} NOT {term.fts5()})"
        return expression


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    branches: tuple[_Branch, ...]

    def websearch(self) -> str:
        """The query rebuilt from what was understood, for PostgreSQL's websearch_to_tsquery."""
        return " or ".join(branch.websearch() for branch in self.branches)

    def fts5(self) -> str:
        """An FTS5 expression of quoted stems only, so no user input is read as FTS5 syntax."""
        return " OR ".join(branch.fts5() for branch in self.branches)

    def highlight_terms(self) -> frozenset[str]:
        return frozenset(
            term
            for branch in self.branches
            for included in branch.include
            for term in included.terms
            if term != STOP
        )


def _term(typed: str) -> _Term | None:
    """The term, or None when it has no word to search for (stop words, punctuation)."""
    compounds = _COMPOUND.findall(typed)
    terms = index_terms(word for compound in compounds for word in _WORD.findall(compound))
    while terms and terms[0] == STOP:
        terms.pop(0)
    while terms and terms[-1] == STOP:
        terms.pop()
    if not terms:
        return None
    return _Term(" ".join(compounds), tuple(terms))


def parse_query(query: str) -> ParsedQuery:
    """Parse a websearch-style query, or raise SearchQueryError saying what is wrong with it."""
    if not query.strip():
        raise SearchQueryError("the search query is empty")
    if query.count('"') % 2:
        raise SearchQueryError(f"unbalanced quotes in the search query {query!r}")
    groups: list[list[tuple[bool, str]]] = [[]]
    for match in _QUERY_TERM.finditer(query):
        dashes, quoted, word = match.groups()
        if quoted is None and not dashes and word.lower() == "or":
            if not groups[-1]:
                raise SearchQueryError("`or` must stand between two words or phrases")
            groups.append([])
        else:
            groups[-1].append((bool(dashes), word if quoted is None else quoted))
    if not groups[-1] and len(groups) > 1:
        raise SearchQueryError("`or` must stand between two words or phrases")
    branches = []
    for group in groups:
        include, exclude = [], []
        for excluded, typed in group:
            if (term := _term(typed)) is not None:
                (exclude if excluded else include).append(term)
        if not include and exclude:
            raise SearchQueryError(
                "the search query only excludes words: add a word or phrase to find"
            )
        if include:
            branches.append(_Branch(tuple(include), tuple(exclude)))
    if not branches:
        raise SearchQueryError(
            f"the search query {query!r} has no word to search for"
            " (too common words and punctuation are not indexed)"
        )
    return ParsedQuery(tuple(branches))


def make_snippet(body: str, terms: frozenset[str], width: int = SNIPPET_WIDTH) -> str:
    """About `width` characters of `body` around its first match, matches marked `[...]`."""
    body = " ".join(body.split())
    words = list(_WORD.finditer(body))
    matches = [
        match
        for match, term in zip(words, index_terms(m.group() for m in words), strict=True)
        if term in terms
    ]
    start = 0
    if matches and matches[0].end() > width:
        first = matches[0].start()
        start = min(first, body.find(" ", max(0, first - width // 3)) + 1)
    end = len(body)
    if end - start > width:
        end = body.rfind(" ", start, start + width + 1)
        if end <= start:
            end = start + width
    parts = ["… "] if start else []
    position = start
    for match in matches:
        if match.start() >= start and match.end() <= end:
            parts += [body[position : match.start()], f"[{match.group()}]"]
            position = match.end()
    parts.append(body[position:end])
    if end < len(body):
        parts.append(" …")
    return "".join(parts)


_SQLITE_SEARCH = f"""
SELECT a.id, a.canonical_url, a.title, a.text, s.name, a.published, a.lang,
       -bm25(article_search, {TITLE_WEIGHT}, 1.0) AS score
FROM article_search
JOIN articles AS a ON a.id = article_search.rowid
JOIN sites AS s ON s.id = a.site_id
WHERE article_search MATCH :query {{filters}}
ORDER BY score DESC, a.id
LIMIT :limit
"""
# ts_rank_cd's normalization 1 divides by the log of the text's length: bm25 favours short
# texts too, so both databases order alike.
# Each article is matched with the query parsed by the configuration it was indexed with:
# matching either parse would let `-москва` pass a Russian article that has `москвы` (stem
# `москв`) through the English parse `!'москва'`.
_PG_QUERY = (
    "websearch_to_tsquery(CAST(CASE WHEN a.lang = 'en' THEN 'english' ELSE 'russian' END"
    " AS regconfig), :query)"
)
_PG_SEARCH = f"""
SELECT a.id, a.canonical_url, a.title, a.text, s.name, a.published, a.lang,
       ts_rank_cd(a.search_vector, {_PG_QUERY}, 1) AS score
FROM articles AS a
JOIN sites AS s ON s.id = a.site_id
WHERE ((a.lang = 'en' AND a.search_vector @@ websearch_to_tsquery('english', :query))
       OR (a.lang <> 'en' AND a.search_vector @@ websearch_to_tsquery('russian', :query)))
      {{filters}}
ORDER BY score DESC, a.id
LIMIT :limit
"""


def search(
    engine: Engine,
    query: str,
    *,
    lang: str | None = None,
    site: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Articles matching `query`, best first; SearchQueryError if the query cannot be run.

    `query` has words (all must match, in any word form), "quoted phrases", `or` between
    alternatives and `-excluded` words or phrases.
    """
    parsed = parse_query(query)
    if limit < 1:
        raise SearchQueryError(f"the limit must be at least 1, not {limit}")
    if since and until and since > until:
        raise SearchQueryError(f"the date range is empty: {since} is after {until}")
    postgres = engine.dialect.name == "postgresql"
    params: dict[str, object] = {
        "query": parsed.websearch() if postgres else parsed.fts5(),
        "limit": limit,
    }
    filters = []
    for name, value, condition in (
        ("lang", lang, "a.lang = :lang"),
        ("site", site, "s.name = :site"),
        ("since", since, "a.published >= :since"),
        ("until", until, "a.published <= :until"),
    ):
        if value is not None:
            filters.append(f"AND {condition}")
            params[name] = value
    statement = sa.text(
        (_PG_SEARCH if postgres else _SQLITE_SEARCH).format(filters=" ".join(filters))
    )
    statement = statement.bindparams(
        *(bindparam(name, type_=Date()) for name in ("since", "until") if name in params)
    ).columns(published=Date())
    with engine.connect() as connection:
        rows = connection.execute(statement, params).all()
    highlight = parsed.highlight_terms()
    return [
        SearchHit(
            article_id=id_,
            url=url,
            title=title,
            site=site_name,
            published=published,
            lang=article_lang,
            score=float(score),
            snippet=make_snippet(body, highlight),
        )
        for id_, url, title, body, site_name, published, article_lang, score in rows
    ]
