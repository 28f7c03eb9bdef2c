"""The record of a run, of a crawl, an import or a reprocessing: started, kept current as
the run goes, finished with its status."""

from __future__ import annotations

from collections.abc import Iterable

from archive.store import ArchiveWriter, FetchFailure, Outcome, RunCounts

FAILURE_BATCH = 500


class RunRecorder:
    """Counts what a run stores and records the pages it failed on.

    Failures are written in batches: with each update of the run's counts, or once
    FAILURE_BATCH have gathered (a site of dead links fails by the thousand).
    """

    def __init__(self, writer: ArchiveWriter, sites: Iterable[str]) -> None:
        self.writer = writer
        self.run_id = writer.start_run(list(sites))
        self.outcomes = dict.fromkeys(Outcome, 0)
        self.failures = 0
        self.pending: list[FetchFailure] = []

    def stored(self, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1

    def failed(self, failure: FetchFailure) -> None:
        self.pending.append(failure)
        self.failures += 1
        if len(self.pending) >= FAILURE_BATCH:
            self.write_failures()

    def write_failures(self) -> None:
        if self.pending:
            self.writer.record_failures(self.run_id, self.pending)
            self.pending = []

    def counts(self, pages: int, skipped: int = 0, errors: int = 0) -> RunCounts:
        """The run's counts; `errors` are those beside the failed pages."""
        return RunCounts(
            pages_fetched=pages,
            articles_new=self.outcomes[Outcome.NEW],
            articles_updated=self.outcomes[Outcome.UPDATED],
            articles_unchanged=self.outcomes[Outcome.UNCHANGED],
            articles_skipped=skipped,
            errors=self.failures + errors,
        )

    def update(self, counts: RunCounts, warc_path: str | None = None) -> None:
        """Record how far the run has come, so that it shows even if the run is killed."""
        self.write_failures()
        self.writer.update_run_counts(self.run_id, counts, warc_path)

    def finish(self, status: str, counts: RunCounts, warc_path: str | None = None) -> None:
        self.write_failures()
        self.writer.finish_run(self.run_id, status, counts, warc_path)
