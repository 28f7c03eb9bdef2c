"""`newsarchive metrics`: the figures per site and of each site's crawl runs, read back with
Prometheus's own parser, and the Grafana dashboard that draws them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

import archive
from archive.db import open_archive, session_factory
from archive.models import CrawlRun
from archive.store import ArchiveWriter, Outcome, RunCounts
from tests.test_store import make_item

DASHBOARD = Path(archive.__file__).with_name("grafana") / "newsarchive.json"
COUNTERS = {"newsarchive_pages_fetched", "newsarchive_articles_new", "newsarchive_fetch_errors"}


def item(site: str, url: str, text: str):
    return dataclasses.replace(make_item(url, "Заголовок", text), site=site)


def fill_archive(db_url: str) -> dict[str, int]:
    """alpha: a finished run, then a failed one, then one still running, and a reprocessing
    and an import beside them; beta: one finished run; gamma: a failed run that stored
    nothing. Returns the ids of the runs that the figures come from."""
    engine = open_archive(db_url)
    writer = ArchiveWriter(engine)
    first = writer.start_run(["alpha"])
    assert writer.save(item("alpha", "https://alpha.example/1/", "Первый текст."), first) is (
        Outcome.NEW
    )
    writer.save(item("alpha", "https://alpha.example/2/", "Другой текст."), first)
    writer.finish_run(first, "finished", RunCounts(pages_fetched=10, articles_new=2, errors=1))
    failed = writer.start_run(["alpha"])
    assert writer.save(item("alpha", "https://alpha.example/1/", "Новый текст."), failed) is (
        Outcome.UPDATED
    )
    counts = RunCounts(pages_fetched=8, articles_updated=1, articles_unchanged=1, errors=6)
    writer.finish_run(failed, "failed", counts)
    running = writer.start_run(["alpha"])
    writer.update_run_counts(running, RunCounts(pages_fetched=3, errors=2))
    reprocess = writer.start_run(["reprocess:alpha"])
    writer.finish_run(reprocess, "finished", RunCounts(pages_fetched=100, articles_updated=2))
    imported = writer.start_run(["import:other.warc.gz"])
    writer.finish_run(imported, "failed", RunCounts(pages_fetched=50, articles_new=5, errors=2))
    beta = writer.start_run(["beta"])
    writer.save(item("beta", "https://beta.example/1/", "Текст беты."), beta)
    writer.finish_run(beta, "finished", RunCounts(pages_fetched=4, articles_new=1))
    gamma = writer.start_run(["gamma"])
    writer.finish_run(gamma, "failed", RunCounts(pages_fetched=0, errors=3))
    engine.dispose()
    return {"alpha_first": first, "alpha": failed, "beta": beta, "gamma": gamma}


def parse(output: str) -> dict[str, dict[tuple, float]]:
    """Samples by name, each by its labels (site, or site and status)."""
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(output):
        for sample in family.samples:
            labels = tuple(sample.labels[name] for name in sorted(sample.labels))
            samples.setdefault(sample.name, {})[labels if len(labels) > 1 else labels[0]] = (
                sample.value
            )
    return samples


def run_times(db_url: str) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    engine = open_archive(db_url)
    with session_factory(engine)() as session:
        rows = session.execute(select(CrawlRun.id, CrawlRun.started_at, CrawlRun.finished_at))
        times = {run_id: (started, finished) for run_id, started, finished in rows}
    engine.dispose()
    return times


def test_figures_per_site_and_of_each_sites_last_run(cli, db_url: str) -> None:
    runs = fill_archive(db_url)
    result = cli("metrics", "--db", db_url)
    assert result.exit_code == 0, result.output
    samples = parse(result.stdout)

    assert samples["newsarchive_articles"] == {"alpha": 2, "beta": 1, "gamma": 0}
    assert samples["newsarchive_article_versions"] == {"alpha": 3, "beta": 1, "gamma": 0}
    # The latest finished runs: alpha's failed one, not the one still running.
    assert samples["newsarchive_last_run_pages_fetched"] == {"alpha": 8, "beta": 4, "gamma": 0}
    assert samples["newsarchive_last_run_articles_new"] == {"alpha": 0, "beta": 1, "gamma": 0}
    assert samples["newsarchive_last_run_articles_updated"] == {"alpha": 1, "beta": 0, "gamma": 0}
    assert samples["newsarchive_last_run_articles_unchanged"] == {
        "alpha": 1,
        "beta": 0,
        "gamma": 0,
    }
    assert samples["newsarchive_last_run_errors"] == {"alpha": 6, "beta": 0, "gamma": 3}
    assert samples["newsarchive_last_run_status"] == {
        ("alpha", "failed"): 1,
        ("beta", "finished"): 1,
        ("gamma", "failed"): 1,
    }
    times = run_times(db_url)
    assert samples["newsarchive_last_run_timestamp_seconds"] == {
        site: times[runs[site]][1].timestamp() for site in ("alpha", "beta", "gamma")
    }
    assert samples["newsarchive_last_run_duration_seconds"] == {
        site: (times[runs[site]][1] - times[runs[site]][0]).total_seconds()
        for site in ("alpha", "beta", "gamma")
    }
    # The latest success of alpha is its first run; gamma never had one.
    assert samples["newsarchive_last_success_timestamp_seconds"] == {
        "alpha": times[runs["alpha_first"]][1].timestamp(),
        "beta": times[runs["beta"]][1].timestamp(),
    }
    assert samples["newsarchive_runs_running"] == {"alpha": 1, "beta": 0, "gamma": 0}
    # Every crawl run, the running one too; reprocessing and imports are none of them.
    assert samples["newsarchive_pages_fetched_total"] == {"alpha": 21, "beta": 4, "gamma": 0}
    assert samples["newsarchive_articles_new_total"] == {"alpha": 2, "beta": 1, "gamma": 0}
    assert samples["newsarchive_fetch_errors_total"] == {"alpha": 9, "beta": 0, "gamma": 3}

    types = {family.name: family.type for family in text_string_to_metric_families(result.stdout)}
    assert {name for name, kind in types.items() if kind == "counter"} == COUNTERS
    assert {kind for name, kind in types.items() if name not in COUNTERS} == {"gauge"}


def test_empty_archive_has_families_without_samples(cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_archive(url).dispose()
    result = cli("metrics", "--db", url)
    assert result.exit_code == 0, result.output
    families = list(text_string_to_metric_families(result.stdout))
    assert "newsarchive_articles" in {family.name for family in families}
    assert [sample for family in families for sample in family.samples] == []


def test_unreachable_database_is_one_line(cli) -> None:
    result = cli("metrics", "--db", "postgresql://postgres@127.0.0.1:1/x")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: cannot open database postgresql+psycopg://postgres@127.0.0.1:1/x: "
    )
    assert result.stderr.count("\n") == 1


def test_archive_that_cannot_be_read_back_is_exit_4(cli, tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    open_archive(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE article_versions")
    result = cli("metrics", "--db", f"sqlite:///{path}")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == "Error: cannot read the archive: no such table: article_versions\n"


# PromQL words that name no metric.
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression: what is left once strings, label matchers,
    ranges, grouping clauses and function calls are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        if match.group(2) is None and match.group(1).lower() not in PROMQL_KEYWORDS:
            names.add(match.group(1))
    return names


def expressions(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [expr for value in node.values() for expr in expressions(value)]
    if isinstance(node, list):
        return [expr for value in node for expr in expressions(value)]
    return []


def test_promql_metric_names() -> None:
    assert promql_metric_names(
        'sum by (site) (increase(a_total{site=~"$site"}[1d])) / clamp_min(b, 1e3) > bool 0'
    ) == {"a_total", "b"}


def test_dashboard_draws_only_what_the_command_prints(cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    fill_archive(url)
    printed = set(parse(cli("metrics", "--db", url).stdout))
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    (site_metric,) = re.findall(r"label_values\((\w+),\s*site\)", variables["site"]["definition"])
    assert site_metric in printed
    panels = dashboard["panels"]
    assert {panel["datasource"]["uid"] for panel in panels} == {"${datasource}"}
    assert {
        "Articles per site",
        "New articles per run",
        "Error rate (errors / pages fetched)",
        "Run duration",
        "Time since last success",
    } <= {panel["title"] for panel in panels}
    assert len({panel["id"] for panel in panels}) == len(panels)

    exprs = expressions(panels)
    assert len(exprs) >= len(panels)
    named = {expr: promql_metric_names(expr) for expr in exprs}
    assert all(named.values())
    assert {expr: names - printed for expr, names in named.items() if names - printed} == {}
