"""Alembic environment: runs on the connection handed over by archive.db."""

from alembic import context

from archive.models import Base, UTCDateTime


def render_item(type_, obj, autogen_context):
    """Render our column types as the plain SQLAlchemy types they store."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


SEARCH_STRUCTURES = {"article_search", "search_vector", "ix_articles_search_vector"}


def include_object(obj, name, type_, reflected, compare_to):
    """Full-text search structures differ by database and are made by hand in 0004."""
    return name not in SEARCH_STRUCTURES and not (name or "").startswith("article_search_")


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=render_item,
    include_object=include_object,
)
with context.begin_transaction():
    context.run_migrations()
