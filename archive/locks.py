"""One crawl of a site at a time: a lock per site, kept in the archive database.

A crawl takes the locks of its sites in the transaction that records its run, and gives
them back in the one that records its end. A lock whose holder is gone is taken over, its
run marked `killed`: a holder on this host whose process has ended, a run that has ended
without giving its locks back, or a run elsewhere that has recorded nothing for
STALE_AFTER.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from archive.models import CrawlRun, SiteLock, utcnow

STALE_AFTER = dt.timedelta(minutes=15)
"""A running crawl that has recorded nothing for this long is gone or stuck (it records its
counts every few seconds)."""


class SiteLocked(Exception):
    """Another run is crawling the site; the message names it, in one line."""


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _gone(run: CrawlRun | None, lock: SiteLock, hostname: str) -> bool:
    if run is None or run.status != "running":
        return True
    if lock.hostname == hostname:
        return not process_alive(lock.pid)
    return (run.updated_at or run.started_at) < utcnow() - STALE_AFTER


def take_site_locks(session: Session, sites: Iterable[str], run: CrawlRun) -> None:
    """Lock the sites for `run` (flushed already), or raise SiteLocked naming the holder of
    the first one held; the caller's transaction then takes nothing."""
    for site in sorted(set(sites)):
        lock = session.get(SiteLock, site, with_for_update=True)
        if lock is None:
            session.add(SiteLock(site=site, run_id=run.id, hostname=run.hostname, pid=run.pid))
            continue
        holder = session.get(CrawlRun, lock.run_id)
        if not _gone(holder, lock, run.hostname):
            since = lock.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            raise SiteLocked(
                f"{site} is being crawled by run {lock.run_id} (host {lock.hostname}, "
                f"pid {lock.pid}, since {since})"
            )
        if holder is not None and holder.status == "running":
            holder.status = "killed"
        lock.run_id, lock.hostname, lock.pid = run.id, run.hostname, run.pid
        lock.acquired_at = utcnow()
    session.flush()


def release_site_locks(session: Session, run_id: int) -> None:
    session.execute(delete(SiteLock).where(SiteLock.run_id == run_id))


def mark_dead_runs(session: Session, hostname: str) -> None:
    """Runs of this host whose process is gone are `killed`."""
    running = session.execute(
        select(CrawlRun.id, CrawlRun.pid).where(
            CrawlRun.status == "running", CrawlRun.hostname == hostname
        )
    ).all()
    dead = [run_id for run_id, pid in running if pid is None or not process_alive(pid)]
    if dead:
        session.execute(
            update(CrawlRun)
            .where(CrawlRun.id.in_(dead), CrawlRun.status == "running")
            .values(status="killed")
        )
