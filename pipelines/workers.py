"""Worker processes for the page processor (a crawl's, reprocess's, import's): started
without the main module of the process that starts them, and gone with that process."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import types
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext, ForkServerProcess
from multiprocessing.popen_forkserver import Popen

from pipelines.boilerplate import SiteTemplate, TemplateView
from pipelines.page import (
    Page,
    PageResult,
    SiteOptions,
    page_fingerprints,
    process_page,
)

# Imported once by the fork server, so that every worker forked from it starts warm.
PRELOADED = ["pipelines.page"]
# Pages handed to each worker ahead: enough to keep it busy while the starting process
# pauses (storing a batch of articles takes tens of milliseconds), few enough that the
# site template each page is given is nearly as current as without workers.
PAGES_AHEAD = 16


def default_workers() -> int:
    """Page workers by default: one per usable core where there are several;
    none on one core, where they would only add work."""
    cores = len(os.sched_getaffinity(0))
    return cores if cores > 1 else 0


def _prepare() -> None:
    """Ctrl-C is the starting process's to handle (a crawl lets its workers finish the pages
    they hold), and a worker must not outlive a process that was killed outright."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    multiprocessing.parent_process().join()
    os._exit(1)


class _WorkerProcess(ForkServerProcess):
    """A worker that does not run the main module of the process that starts it.

    multiprocessing would otherwise import that module again in each worker, so that a
    script calling the crawl API without an `if __name__ == "__main__":` guard would start
    a whole crawl in every worker. Workers run only the page processor; they need no main.
    """

    @staticmethod
    def _Popen(process_obj):
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return Popen(process_obj)
        finally:
            sys.modules["__main__"] = main


class _WorkerContext(ForkServerContext):
    Process = _WorkerProcess


def start_fork_server() -> None:
    """Start the fork server that page workers come from, so that it imports the page
    processor while the caller goes on (a crawl sets up its engine and archive meanwhile)
    rather than when the first page is handed over. The server imports no main module;
    only the workers would, and they are started without one."""
    _WorkerContext().set_forkserver_preload(PRELOADED)
    forkserver.ensure_running()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` page workers."""
    start_fork_server()
    pool = ProcessPoolExecutor(workers, mp_context=_WorkerContext(), initializer=_prepare)
    # All of them at once, rather than one per page submitted while none is idle: the
    # crawl hands a site's first pages over one at a time, and would start one worker only.
    pool._safe_to_dynamically_spawn_children = False
    return pool


def process_pages(
    pages: Iterable[tuple[Page, SiteOptions, SiteTemplate]],
    workers: int,
    blocks_only: bool = False,
) -> Iterator[tuple[Page, PageResult]]:
    """Each page processed (without its links) with its site's template, which learns from
    it; in order, in `workers` worker processes (a few pages ahead), or in this one for 0.
    With `blocks_only`, the results hold only the pages' block fingerprints (see
    page_fingerprints), for a template to learn from before the pages are processed.

    A page whose worker dies (killed, out of memory) is tried once more in a new pool; a
    page that kills a worker twice comes back as no article.
    """
    if workers == 0:
        for page, site, template in pages:
            function, *arguments = _task(page, site, template, blocks_only)
            yield page, _learned(template, page, function(*arguments))
        return
    pool = worker_pool(workers)
    pending: deque[tuple[Page, SiteTemplate, tuple, Future]] = deque()
    try:
        for page, site, template in pages:
            task = _task(page, site, template, blocks_only)
            pending.append((page, template, task, pool.submit(*task)))
            while len(pending) >= workers * PAGES_AHEAD:
                pool, done = _next_done(pool, pending, workers)
                yield done
        while pending:
            pool, done = _next_done(pool, pending, workers)
            yield done
    finally:
        pool.shutdown(cancel_futures=True)


def _unlinked(page: Page, site: SiteOptions, template: TemplateView) -> PageResult:
    return process_page(page, site, template, follow=False)


def _blocks(page: Page) -> PageResult:
    return PageResult(None, None, blocks=page_fingerprints(page))


def _task(page: Page, site: SiteOptions, template: SiteTemplate, blocks_only: bool) -> tuple:
    if blocks_only:
        return _blocks, page
    return _unlinked, page, site, template.view(page.url)


def _learned(template: SiteTemplate, page: Page, result: PageResult) -> PageResult:
    template.learn(page.url, result.blocks)
    return result


def _next_done(
    pool: ProcessPoolExecutor, pending: deque, workers: int
) -> tuple[ProcessPoolExecutor, tuple[Page, PageResult]]:
    """The result of the earliest pending page, and the pool to go on with."""
    page, template, task, future = pending[0]
    try:
        result = future.result()
    except BrokenProcessPool:
        pool.shutdown(wait=False)
        pool = worker_pool(workers)
        try:
            result = pool.submit(*task).result()
        except BrokenProcessPool:
            pool.shutdown(wait=False)
            pool = worker_pool(workers)
            result = PageResult(None, "a page worker died on it twice")
        for index in range(1, len(pending)):
            again, its_template, its_task, _ = pending[index]
            pending[index] = (again, its_template, its_task, pool.submit(*its_task))
    pending.popleft()
    return pool, (page, _learned(template, page, result))
