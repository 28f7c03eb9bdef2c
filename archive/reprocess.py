"""Running the per-page pipeline again over archived WARC records, without the network:
after extraction improves (reprocess), or over WARC files of other crawlers (import)."""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import Engine, select

from archive.db import session_factory
from archive.models import Article, Site
from archive.profiles import load_profiles
from archive.runs import IMPORT_RUN, REPROCESS_RUN, RunRecorder
from archive.store import ArchiveWriter, ArticleRejected, FetchFailure
from archive.warc import (
    FetchedPage,
    RecordLocation,
    UnreadableWarc,
    iter_responses,
    read_response,
)
from pipelines.article import ExtractedArticle
from pipelines.boilerplate import SiteTemplate
from pipelines.page import DEFAULT_SITE, Page, PageResult, SiteOptions
from pipelines.urls import site_name_for
from pipelines.workers import process_pages

logger = logging.getLogger(__name__)

NOT_AN_ARTICLE = "not an article"
UNREADABLE = "unreadable record"
NOT_STORABLE = "not storable"
DAMAGED_FILE = "damaged WARC file"
STORE_BATCH = 200
"""Articles stored in one transaction; a kill loses at most the batch being gathered,
which the next reprocessing does again."""


def _page(record: FetchedPage, **fetch) -> Page:
    return Page(
        record.url,
        record.body,
        record.content_type or None,
        warc_location=record.location,
        **{"fetched_at": record.fetched_at, **fetch},
    )


class _Storing:
    """The pages' articles stored STORE_BATCH at a time (ArchiveWriter.save_many)."""

    def __init__(self, run: RunRecorder) -> None:
        self.run = run
        self.pending: list[tuple[Page, ExtractedArticle]] = []

    def add(self, page: Page, result: PageResult) -> list[str]:
        """The outcomes of the pages stored now (none while the batch fills)."""
        if result.rejection:
            logger.info("not an article, %s: %s", result.rejection, page.url)
            return [NOT_AN_ARTICLE]
        self.pending.append((page, result.article))
        return self.flush() if len(self.pending) >= STORE_BATCH else []

    def flush(self) -> list[str]:
        """Store the batch; the outcome of each of its pages."""
        batch, self.pending = self.pending, []
        results = self.run.writer.save_many([article for _, article in batch], self.run.run_id)
        outcomes = []
        for (page, _), result in zip(batch, results, strict=True):
            if isinstance(result, ArticleRejected):
                logger.warning("not stored, %s: %s", result, page.url)
                self.run.failed(FetchFailure(page.url, f"not stored: {result}"))
                outcomes.append(NOT_STORABLE)
            else:
                self.run.stored(result)
                outcomes.append(result)
        return outcomes


def _drained(outcomes: list[str]) -> Iterator[str]:
    yield from outcomes
    outcomes.clear()


def _learned_templates(
    records: list[tuple], warc_dir: Path, workers: int
) -> defaultdict[str, SiteTemplate]:
    """The template of each site, learned from all of its archived pages before any of them
    is extracted again (the crawl had learned it only from the pages before each one); the
    pages' blocks are found in `workers` page workers."""
    templates: defaultdict[str, SiteTemplate] = defaultdict(SiteTemplate)

    def pages() -> Iterator[tuple[Page, SiteOptions, SiteTemplate]]:
        for site, _, path, offset, *_ in records:
            try:
                record = read_response(RecordLocation(path, offset), warc_dir)
            except (OSError, ValueError):
                continue
            yield _page(record), DEFAULT_SITE, templates[site]

    for _ in process_pages(pages(), workers, blocks_only=True):
        pass
    return templates


def site_options(writer: ArchiveWriter, site: str) -> SiteOptions:
    """The options of the site's profile (a bare name if it has none), with the drop
    selectors kept for it in the archive."""
    profile = load_profiles().get(site)
    options = profile.options if profile is not None else SiteOptions(name=site)
    selectors = tuple(dict.fromkeys([*options.drop_selectors, *writer.drop_selectors(site)]))
    return dataclasses.replace(options, drop_selectors=selectors)


def archived_records(engine: Engine, site: str | None = None) -> list[tuple]:
    """What reprocessing needs of each archived article: its site, URL, WARC record,
    last fetch, ETag, Last-Modified and date (a listing may have given the date), in
    the order of the WARC files, so that each file is read front to back."""
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
        .order_by(Article.warc_path, Article.warc_offset, Article.id)
    )
    if site:
        query = query.where(Site.name == site)
    with session_factory(engine)() as session:
        return list(session.execute(query))


def _finished(run: RunRecorder, status: str, pages: int, errors: int = 0) -> None:
    run.finish(status, run.counts(pages, errors=errors))


def reprocess(
    engine: Engine,
    records: Iterable[tuple],
    warc_dir: Path,
    drop_selectors: tuple[str, ...] = (),
    forget_selectors: bool = False,
    workers: int = 0,
) -> Iterator[str]:
    """Extract each archived article again from its WARC record, as one recorded run, in
    `workers` page worker processes (0: in this one); yields each outcome.

    Relative WARC paths are taken from `warc_dir`. A new version is stored only where
    title, text, language or date came out different. `drop_selectors` are kept with the
    sites of the records, for this and every later crawl and reprocessing of them, after
    those kept before are forgotten if `forget_selectors`.
    """
    writer = ArchiveWriter(engine)
    records = list(records)
    sites = list(dict.fromkeys(record[0] for record in records))
    for site in sites:
        if forget_selectors:
            writer.forget_drop_selectors(site)
        if drop_selectors:
            writer.keep_drop_selectors(site, drop_selectors)
    options = {site: site_options(writer, site) for site in sites}
    templates = _learned_templates(records, warc_dir, workers)
    run = RunRecorder(writer, [f"{REPROCESS_RUN}{site}" for site in sites])
    unreadable: list[str] = []

    def pages() -> Iterator[tuple[Page, SiteOptions, SiteTemplate]]:
        for site, url, path, offset, last_fetched, etag, last_modified, published in records:
            try:
                record = read_response(RecordLocation(path, offset), warc_dir)
            except (OSError, ValueError) as exc:
                logger.warning("cannot read the WARC record of %s: %s", url, exc)
                run.failed(FetchFailure(url, f"unreadable WARC record: {exc}"))
                unreadable.append(UNREADABLE)
                continue
            fetch = {
                "fetched_at": last_fetched,
                "listing_published": published,
                "etag": etag,
                "last_modified": last_modified,
            }
            yield _page(record, **fetch), options[site], templates[site]

    status = "interrupted"
    storing = _Storing(run)
    try:
        for page, result in process_pages(pages(), workers):
            yield from _drained(unreadable)
            yield from storing.add(page, result)
        yield from storing.flush()
        yield from _drained(unreadable)
        status = "finished"
    finally:
        _finished(run, status, len(records))


def import_warc(engine: Engine, paths: Iterable[Path], workers: int = 0) -> Iterator[str]:
    """Archive the HTML responses of WARC files written by any crawler, as one run, in
    `workers` page worker processes (0: in this one); yields each outcome.

    Articles keep the absolute path of their file. A damaged or unreadable file is
    reported in one line, after its readable records were archived; the other files are
    imported all the same, and the run is marked `failed`.
    """
    writer = ArchiveWriter(engine)
    paths = list(paths)
    run = RunRecorder(writer, [f"{IMPORT_RUN}{path.name}" for path in paths])
    templates: defaultdict[str, SiteTemplate] = defaultdict(SiteTemplate)
    options: dict[str, SiteOptions] = {}
    damaged: list[str] = []
    pages = damaged_files = 0

    def responses() -> Iterator[tuple[Page, SiteOptions, SiteTemplate]]:
        nonlocal pages, damaged_files
        for path in paths:
            try:
                for record in iter_responses(path):
                    if record.status != 200 or "html" not in record.content_type.lower():
                        continue
                    pages += 1
                    site = site_name_for(record.url)
                    if site not in options:
                        options[site] = SiteOptions(name=site)
                    yield _page(record), options[site], templates[site]
            except UnreadableWarc as exc:
                logger.error("%s", exc)
                damaged_files += 1
                damaged.append(DAMAGED_FILE)

    status = "interrupted"
    storing = _Storing(run)
    try:
        for page, result in process_pages(responses(), workers):
            yield from _drained(damaged)
            yield from storing.add(page, result)
        yield from storing.flush()
        yield from _drained(damaged)
        status = "failed" if damaged_files else "finished"
    finally:
        _finished(run, status, pages, damaged_files)
