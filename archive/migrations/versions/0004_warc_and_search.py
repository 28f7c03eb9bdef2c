"""raw archive and full-text search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:01:33.480320

"""

import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
import Stemmer
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The search index of this revision, copied from archive.search so that this migration fills
# it the same way whatever becomes of the live code: on PostgreSQL a weighted tsvector per
# article; on SQLite an FTS5 row of the Snowball stems of the title and text, STOP in place
# of each stop word (PostgreSQL 15's russian.stop and english.stop).
REINDEX_BATCH = 500
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
_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def index_terms(words: Iterable[str]) -> list[str]:
    """The indexed form of each word: its Snowball stem, or STOP for a stop word; words with
    digits as they are, as PostgreSQL keeps them."""
    russian, english = Stemmer.Stemmer("russian"), Stemmer.Stemmer("english")
    terms = []
    for word in words:
        word = word.lower()
        if any(char.isdigit() for char in word):
            terms.append(word)
        elif _CYRILLIC.search(word):
            terms.append(STOP if word in RUSSIAN_STOPWORDS else russian.stemWord(word))
        else:
            terms.append(STOP if word in ENGLISH_STOPWORDS else english.stemWord(word))
    return terms


def _indexed_text(value: str) -> str:
    return " ".join(index_terms(_WORD.findall(value or "")))


def reindex_all(connection: sa.Connection) -> int:
    """Index every article; returns how many."""
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


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("article_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warc_path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("warc_offset", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warc_path", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("warc_offset", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warc_path", sa.Text(), nullable=True))

    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE articles ADD COLUMN search_vector tsvector")
        op.execute("CREATE INDEX ix_articles_search_vector ON articles USING GIN (search_vector)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE article_search USING fts5("
            "title, text, tokenize = 'unicode61 remove_diacritics 2')"
        )
    reindex_all(connection)


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_articles_search_vector")
        op.execute("ALTER TABLE articles DROP COLUMN search_vector")
    else:
        op.execute("DROP TABLE article_search")
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("warc_path")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("warc_offset")
        batch_op.drop_column("warc_path")

    with op.batch_alter_table("article_versions", schema=None) as batch_op:
        batch_op.drop_column("warc_offset")
        batch_op.drop_column("warc_path")
