"""Running the per-page pipeline again over archived WARC records, without the network:
after extraction improves (reprocess), or over WARC files of other crawlers (import)."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from lxml.html import HtmlElement
from sqlalchemy import Engine, select

from archive.db import session_factory
from archive.models import Article, Site
from archive.store import ArchiveWriter, ArticleRejected, Outcome, RunCounts
from archive.warc import (
    FetchedPage,
    RecordLocation,
    UnreadableWarc,
    iter_responses,
    read_response,
)
from crawler.profiles import load_profiles
from pipelines.boilerplate import SiteTemplate
from pipelines.encoding import decode_html
from pipelines.html import parse_html
from pipelines.page import extract_page
from pipelines.urls import site_name_for

logger = logging.getLogger(__name__)

NOT_AN_ARTICLE = "not an article"
UNREADABLE = "unreadable record"
NOT_STORABLE = "not storable"
DAMAGED_FILE = "damaged WARC file"


def _store(
    writer: ArchiveWriter,
    page: FetchedPage,
    site: str,
    run_id: int | None,
    template: SiteTemplate,
    **fields,
) -> str:
    """Run the pipeline over one archived response and store the article; the outcome.

    The site's template learns from the page first, as in a crawl.
    """
    html, tree = _parsed(page)
    if tree is not None:
        template.learn(tree, page.url)
    item, rejection = extract_page(
        html,
        page.url,
        site=site,
        tree=tree,
        template=template.blocks,
        warc_location=page.location,
        **fields,
    )
    if rejection:
        logger.info("not an article, %s: %s", rejection, page.url)
        return NOT_AN_ARTICLE
    try:
        return writer.save(item, run_id)
    except ArticleRejected as exc:
        logger.warning("not stored, %s: %s", exc, page.url)
        return NOT_STORABLE


def _parsed(page: FetchedPage) -> tuple[str, HtmlElement | None]:
    _, html = decode_html(page.body, page.content_type or None)
    return html, parse_html(html)


def _learned_templates(records: list[tuple], warc_dir: Path) -> defaultdict[str, SiteTemplate]:
    """The template of each site, learned from all of its archived pages before any of them
    is extracted again: the crawl had learned it only from the pages before each one."""
    templates: defaultdict[str, SiteTemplate] = defaultdict(SiteTemplate)
    for site, _, path, offset, *_ in records:
        try:
            page = read_response(RecordLocation(path, offset), warc_dir)
        except (OSError, ValueError):
            continue
        _, tree = _parsed(page)
        if tree is not None:
            templates[site].learn(tree, page.url)
    return templates


def _site_options(writer: ArchiveWriter, site: str) -> dict:
    """The site's time zone, and the drop selectors of its profile and those kept for it."""
    profile = load_profiles().get(site)
    kept = writer.drop_selectors(site)
    if profile is None:
        return {"drop_selectors": kept}
    selectors = tuple(dict.fromkeys([*profile.drop_selectors, *kept]))
    return {"timezone": profile.timezone, "drop_selectors": selectors}


def archived_records(engine: Engine, site: str | None = None) -> list[tuple]:
    """What reprocessing needs of each archived article: its site, URL, WARC record,
    last fetch, ETag, Last-Modified and date (a listing may have given the date)."""
    query = (
        select(
            Site.name,
            Article.url,
            Article.warc_path,
            Article.warc_offset,
            Article.last_fetched,
            Article.etag,
            Article.last_modified,
            Article.published,
        )
        .join(Site, Site.id == Article.site_id)
        .where(Article.warc_path.is_not(None))
        .order_by(Article.id)
    )
    if site:
        query = query.where(Site.name == site)
    with session_factory(engine)() as session:
        return list(session.execute(query))


def reprocess(
    engine: Engine,
    records: Iterable[tuple],
    warc_dir: Path,
    drop_selectors: tuple[str, ...] = (),
    forget_selectors: bool = False,
) -> Iterator[str]:
    """Extract each archived article again from its WARC record; yields each outcome.

    Relative WARC paths are taken from `warc_dir`. A new version is stored only where
    title, text, language or date came out different. `drop_selectors` are kept with the
    sites of the records, for this and every later crawl and reprocessing of them, after
    those kept before are forgotten if `forget_selectors`.
    """
    writer = ArchiveWriter(engine)
    options: dict[str, dict] = {}
    records = list(records)
    for site in dict.fromkeys(record[0] for record in records):
        if forget_selectors:
            writer.forget_drop_selectors(site)
        if drop_selectors:
            writer.keep_drop_selectors(site, drop_selectors)
    templates = _learned_templates(records, warc_dir)
    for site, url, path, offset, last_fetched, etag, last_modified, published in records:
        try:
            page = read_response(RecordLocation(path, offset), warc_dir)
        except (OSError, ValueError) as exc:
            logger.warning("cannot read the WARC record of %s: %s", url, exc)
            yield UNREADABLE
            continue
        if site not in options:
            options[site] = _site_options(writer, site)
        fields = {
            **options[site],
            "fetched_at": last_fetched,
            "listing_published": published,
            "etag": etag,
            "last_modified": last_modified,
        }
        yield _store(writer, page, site, None, templates[site], **fields)


def import_warc(engine: Engine, paths: Iterable[Path]) -> Iterator[str]:
    """Archive the HTML responses of WARC files written by any crawler, as one run.

    Articles keep the absolute path of their file. A damaged or unreadable file is
    reported in one line, after its readable records were archived; the other files are
    imported all the same, and the run is marked `failed`.
    """
    writer = ArchiveWriter(engine)
    paths = list(paths)
    run_id = writer.start_run([f"import:{path.name}" for path in paths])
    outcomes: Counter[str] = Counter()
    templates: defaultdict[str, SiteTemplate] = defaultdict(SiteTemplate)
    status = "interrupted"
    try:
        for path in paths:
            try:
                for page in iter_responses(path):
                    if page.status != 200 or "html" not in page.content_type.lower():
                        continue
                    site = site_name_for(page.url)
                    outcome = _store(
                        writer, page, site, run_id, templates[site], fetched_at=page.fetched_at
                    )
                    outcomes[outcome] += 1
                    yield outcome
            except UnreadableWarc as exc:
                logger.error("%s", exc)
                outcomes[DAMAGED_FILE] += 1
                yield DAMAGED_FILE
        status = "failed" if outcomes[DAMAGED_FILE] else "finished"
    finally:
        writer.finish_run(
            run_id,
            status,
            RunCounts(
                pages_fetched=sum(outcomes.values()) - outcomes[DAMAGED_FILE],
                articles_new=outcomes[Outcome.NEW],
                articles_updated=outcomes[Outcome.UPDATED],
                articles_unchanged=outcomes[Outcome.UNCHANGED],
                errors=outcomes[DAMAGED_FILE],
            ),
        )
