"""The throughput bench of bench/throughput.py, for real on a tiny data set (a few seconds).

gunicorn serves the CRM, the bare hello and the hand-written Jinja page on a SQLite file of
300 factories; the rep signs in through the login form, makes an API token on the account
page, and wrk loads Today and the API list beside the references. The bench's own rep,
field-rep-0001, exists in the 100,000-factory demo only: a bench team's rep stands in.
`make bench-load` is the full run over 100,000 factories (bench/results/README.md).
"""

from __future__ import annotations

import os

import pytest

from bench import throughput
from bench.requests import prepare, rep_login

FACTORIES = 300
PAGES = ("Today", "API factory list")


@pytest.mark.sqlite_only
def test_the_bench_signs_in_loads_each_page_and_reports_every_figure(tmp_path):
    url = f"sqlite:///{tmp_path / 'tiny.sqlite3'}"
    prepare(url, FACTORIES)
    settings = throughput.Settings(
        seconds=1, rounds=1, workers=2, warmup=1, pages=PAGES, rep=rep_login(1)
    )

    results = throughput.measure(url, settings, log=print)
    text = throughput.report(url, FACTORIES, settings, results, os.getloadavg()[0])

    names = [throughput.HELLO, throughput.JINJA, *PAGES]
    assert [(r.page.name, r.connections) for r in results] == [
        (name, connections) for name in names for connections in (32, 4)
    ]
    for result in results:
        # Signed in: every answer was a 200 (a lost session would have been a redirect).
        assert result.non_2xx == 0, text
        assert [run.socket_errors for run in result.runs] == [0], text
        assert result.rate > 0 and result.page.body_bytes > 0, text
        assert result.median(lambda run: run.per_request_ms(run.cpu_seconds)) > 0, text
    assert text.count("\n| ") == 2 + len(results)  # the header, its rule and a row each
    assert "| Today | 32 |" in text and "| bare Flask hello | 32 | " in text
    assert "≥ 0.05×, p99 < 300 ms, CPU ≤ 10 ms, ≤ 40 KB" in text
    assert ("Every target met." in text) != ("Targets missed:" in text)
