"""The `interactive-metrics` command: arguments, the replay behind it, and the HTML it writes.

The report's numbers are checked against numpy oracles computed here from the log; the
report itself is opened in headless Chromium (Debian's) with the network cut off.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS

import interactive_metrics as im
from interactive_metrics import cli
from interactive_metrics.charts.style import format_number


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small anomaly-detector log, rows shuffled (replay sorts by batch)."""
    log = im.data.anomaly_log(n_batches=30, batch_size=200, seed=3)
    log = log.with_columns(pl.col("stream").cast(pl.String)).sample(
        fraction=1.0, seed=1, shuffle=True
    )
    path = tmp_path_factory.mktemp("logs") / "run.csv"
    log.write_csv(path)
    return path


@pytest.fixture(scope="module")
def report(log_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "precision.html"
    status = cli.main(
        [
            "report",
            str(log_csv),
            "--metric",
            "precision",
            "--y-true",
            "y_true",
            "--y-pred",
            "score",
            "--batch",
            "batch",
            "--stream",
            "stream",
            "-o",
            str(out),
        ]
    )
    assert status == 0
    return out


def _specs(html: str) -> list[dict]:
    """The Vega-Lite specs the report embeds, in order."""
    found = re.findall(r"vegaEmbed\('#chart-\d+', (.*?), \{renderer: 'svg'", html)
    return [json.loads(text.replace("<\\/", "</")) for text in found]


def _precision_oracle(log: pl.DataFrame) -> tuple[np.ndarray, dict[str, float]]:
    """Running precision after each batch, and final precision per stream, with numpy."""
    log = log.sort("batch")
    flagged = log["score"].to_numpy() >= 0.5
    positive = log["y_true"].to_numpy() == 1
    batch = log["batch"].to_numpy()
    ids = np.unique(batch)
    tp = np.array([np.sum(flagged & positive & (batch == b)) for b in ids]).cumsum()
    fp = np.array([np.sum(flagged & ~positive & (batch == b)) for b in ids]).cumsum()
    running = tp / (tp + fp)
    per_stream = {}
    for key in log["stream"].unique().to_list():
        on = (log["stream"] == key).to_numpy()
        per_stream[key] = np.sum(flagged & positive & on) / np.sum(flagged & on)
    return running, per_stream


# -- what the report holds ------------------------------------------------------------------------


def test_report_numbers_match_a_numpy_oracle(report: Path, log_csv: Path) -> None:
    html = report.read_text(encoding="utf-8")
    running, per_stream = _precision_oracle(pl.read_csv(log_csv))
    specs = _specs(html)
    assert len(specs) == 4  # history, sum-vs-mean, breakdown, per-stream history
    drawn = [row for row in _rows(specs[0]) if row["event"] == "update"]
    assert len(drawn) == len(running) == 30  # short enough: not downsampled
    steps = np.array([row["step"] for row in drawn])
    np.testing.assert_array_equal(steps, np.arange(1, 31))
    np.testing.assert_allclose([row["result"] for row in drawn], running, rtol=1e-12)
    # the breakdown table: one row per stream, with the oracle's precision
    for key, expected in per_stream.items():
        cell = re.search(rf"<td>{key}</td>(.*?)</tr>", html)
        assert cell is not None, key
        # numbers print to 4 digits; the exact value is the cell's title (shown on hover)
        numbers = [float(x) for x in re.findall(r"<td class='num' title='([^']+)'>", cell.group(1))]
        assert any(abs(x - expected) < 1e-12 for x in numbers), (key, expected, numbers)
    merged = float(running[-1])
    assert f"<b title='{merged!r}'>{format_number(merged)}</b><span>result (merged)</span>" in html


def test_several_metrics_make_one_report_with_one_table(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "three.html"
    argv = ["report", str(log_csv), "--metric", "precision", "--metric", "recall"]
    argv += ["--metric", "binary_accuracy", "--option", "recall.thresholds=0.7"]
    argv += ["--y-true", "y_true", "--y-pred", "score", "--batch", "batch", "--stream", "stream"]
    assert cli.main([*argv, "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    log = pl.read_csv(log_csv)
    truth = log["y_true"].to_numpy() == 1
    score, keys = log["score"].to_numpy(), log["stream"].to_numpy()
    for name in ("precision", "recall", "binary_accuracy"):  # one section per metric
        assert re.search(rf"<h2>{name} \(\w+\)</h2>", html), name
    assert len(_specs(html)) == 3 * 4  # each metric's four charts
    # one table of every metric per stream: a row per stream, a column per metric
    head = re.search(r"<h2>Every metric per stream</h2>.*?<thead><tr>(.*?)</tr>", html)
    assert head is not None
    assert re.findall(r"<th>(.*?)</th>", head.group(1)) == [
        "stream",
        "weight",
        "share of weight",
        "precision",
        "recall",
        "binary accuracy",
    ]
    table = html[head.end() : html.index("</table>", head.end())]
    for key in np.unique(keys):
        on = keys == key
        flagged = score >= 0.5
        expected = [
            np.sum(flagged & truth & on) / np.sum(flagged & on),
            np.sum((score >= 0.7) & truth & on) / np.sum(truth & on),  # recall at 0.7
            np.mean(flagged[on] == truth[on]),
        ]
        row = re.search(rf"<td>{key}</td>(.*?)</tr>", table)
        assert row is not None, key
        cells = re.findall(r"<td class='num'(?: title='([^']+)')?>([^<]*)</td>", row.group(1))
        results = [float(exact or text) for exact, text in cells[2:]]
        np.testing.assert_allclose(results, expected, rtol=1e-12)
    assert "<span>recall (merged)</span>" in html


def _rows(spec: dict) -> list[dict]:
    rows: list[dict] = []
    for data in spec.get("datasets", {}).values():
        rows.extend(data)
    return rows


def test_report_is_self_contained(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert "vegaEmbed" in html and '<script src="http' not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_replay_in_pieces_is_the_same_history_as_one_replay(log_csv: Path) -> None:
    log = pl.read_csv(log_csv)
    whole = im.Precision().replay(log, y_true="y_true", y_pred="score", batch="batch")
    pieces = cli.replay_log(
        log, im.Precision(), {"y_true": "y_true", "y_pred": "score"}, batch="batch", pieces=7
    )
    assert pieces.batches == 30 and pieces.rows == log.height
    assert pieces.metric.history.equals(whole.history)
    streams = cli.replay_log(
        log, im.Mean(), {"values": "score"}, batch="batch", stream="stream", pieces=4
    ).streams
    one_go = im.Streams(im.Mean()).replay(log, values="score", batch="batch", stream="stream")
    assert streams.history.equals(one_go.history)
    assert streams.breakdown().equals(one_go.breakdown())


def test_sample_log_is_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sample.html"
    assert cli.main(["report", "-o", str(out), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "100%" in err and "200/200 batches" in err and f"wrote {out}" in err
    html = out.read_text(encoding="utf-8")
    assert "pump_b" in html and "Precision of the bundled sample log" in html


def test_mean_report_has_sum_versus_mean(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "mean.html"
    cli.write_report(log_csv, out, metric="mean", values="score", batch="batch")
    html = out.read_text(encoding="utf-8")
    specs = _specs(html)
    assert len(specs) == 2  # no stream: history and sum-vs-mean only
    assert "Sum versus mean" in html and "Per stream" not in html
    log = pl.read_csv(log_csv)
    assert f">{format_number(log['score'].mean())}</b><span>result</span>" in html


def test_a_metric_without_a_mean_explains_why(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "min.html"
    cli.write_report(log_csv, out, metric="min", values="score", batch="batch", stream="stream")
    html = out.read_text(encoding="utf-8")
    assert len(_specs(html)) == 3  # history and the two per-stream charts
    assert "Min keeps no (sum, weight) pair" in html
    log = pl.read_csv(log_csv)
    assert f">{format_number(log['score'].min())}</b><span>result (merged)</span>" in html


def test_options_reach_the_metric(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "strict.html"
    status = cli.main(
        ["report", str(log_csv), "--metric", "BinaryAccuracy", "--option", "threshold=0.9"]
        + ["--y-true", "y_true", "--y-pred", "score", "--batch", "batch", "-o", str(out)]
    )
    assert status == 0
    log = pl.read_csv(log_csv)
    expected = np.mean((log["score"].to_numpy() >= 0.9) == (log["y_true"].to_numpy() == 1))
    assert f">{format_number(expected)}</b>" in out.read_text(encoding="utf-8")


# -- the command line -----------------------------------------------------------------------------


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("interactive-metrics: error: "), captured.err
    return captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "report",
                "{log}",
                "--metric",
                "precison",
                "--y-true",
                "y_true",
                "--y-pred",
                "score",
                "--batch",
                "batch",
            ],
            r"--metric must be a metric name, got 'precison' \(did you mean precision",
        ),
        (
            ["report", "{log}", "--metric", "precision", "--y-true", "y_true", "--batch", "batch"],
            r"--metric precision reads --y-true and --y-pred; pass --y-pred COL",
        ),
        (
            [
                "report",
                "{log}",
                "--metric",
                "mean",
                "--y-true",
                "y_true",
                "--values",
                "score",
                "--batch",
                "batch",
            ],
            r"--metric mean does not read --y-true",
        ),
        (
            ["report", "{log}", "--metric", "mean", "--values", "loss", "--batch", "batch"],
            r"column 'loss' is not in the log; its columns are \['batch', 'stream', 'y_true', 'score'\]",
        ),
        (["report", "{log}", "--metric", "mean", "--values", "score"], r"needs --batch"),
        (["report", "{log}", "--values", "score", "--batch", "batch"], r"needs --metric"),
        (
            ["report", "missing.parquet", "--metric", "mean", "--values", "x", "--batch", "b"],
            r"LOG must be an existing file, got 'missing.parquet'",
        ),
        (
            [
                "report",
                "{log}",
                "--metric",
                "confusion_matrix",
                "--y-true",
                "y_true",
                "--y-pred",
                "score",
                "--batch",
                "batch",
            ],
            r"needs --option num_classes=VALUE",
        ),
        (
            [
                "report",
                "{log}",
                "--metric",
                "mean",
                "--values",
                "score",
                "--batch",
                "batch",
                "--option",
                "threshold",
            ],
            r"--option must look like NAME=VALUE, got 'threshold'",
        ),
        (
            ["report", "{log}", "--metric", "mean", "--values", "stream", "--batch", "batch"],
            r"column 'stream' \(for `values`\) must hold numbers",
        ),
        (["report", "--metric", "mean", "--bogus"], r"unrecognized arguments: --bogus"),
        (
            [
                "report",
                "{log}",
                "--metric",
                "precision",
                "--option",
                "thresholds=[0.3, 0.7]",
                "--y-true",
                "y_true",
                "--y-pred",
                "score",
                "--batch",
                "batch",
            ],
            r"gives a result of shape \(2,\) with these options; the report draws metrics whose result is one number",
        ),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], message: str, log_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(log_csv) if a == "{log}" else a for a in argv] + ["-o", str(tmp_path / "r.html")]
    err = _fails(argv, capsys)
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_help_explains_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--help"]) == 0
    text = capsys.readouterr().out
    for words in ["self-contained HTML", "bundled sample log", "--y-true", "--stream", "examples:"]:
        assert words in text


def test_metrics_lists_names_and_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["metrics"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = {line.split()[0]: line for line in lines}
    assert "--values" in table["mean"] and "--y-pred" in table["precision"]
    assert "--option num_classes" in table["confusion_matrix"]


def test_console_script_is_declared() -> None:
    scripts = metadata.entry_points(group="console_scripts")
    assert scripts["interactive-metrics"].value == "interactive_metrics.cli:main"


def test_runs_as_a_subprocess(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "sub.html"
    command = [sys.executable, "-m", "interactive_metrics.cli", "report", str(log_csv)]
    command += ["--metric", "mean", "--values", "score", "--batch", "batch", "-o", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "replaying" not in done.stderr  # stderr is not a terminal: no progress bar
    assert out.stat().st_size > 100_000  # vega's JavaScript is inside
    bad = subprocess.run(command[:4] + ["--metric", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--metric" in bad.stderr and "Traceback" not in bad.stderr


# -- in a browser --------------------------------------------------------------------------------


def _chromium_or_skip() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing: apt-get install chromium")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")


# The browser runs in a child process: the JupyterLab tests keep a session-wide Playwright
# (and its asyncio loop) alive in this process, and a second sync Playwright cannot start there.
_BROWSER_CHECK = """
import json, sys
from playwright.sync_api import sync_playwright

chromium, args, report, screenshot = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=chromium, args=args, headless=True)
    try:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        remote, errors = [], []
        page.on("request", lambda r: remote.append(r.url)
                if not r.url.startswith(("file:", "data:")) else None)
        page.route("http*://**", lambda route: route.abort())  # no network, whatever asks
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(report)
        page.wait_for_function(
            "() => document.querySelectorAll('.chart svg.marks').length === 4", timeout=30_000
        )
        marks = page.evaluate(
            "() => [...document.querySelectorAll('.chart svg.marks')].map(svg => "
            "svg.querySelectorAll('path, line, rect, circle, text').length)"
        )
        dots = page.locator(".chart svg.marks .mark-symbol path").count()
        page.screenshot(path=screenshot, full_page=True)
    finally:
        browser.close()
print(json.dumps({"remote": remote, "errors": errors, "marks": marks, "dots": dots}))
"""


def test_report_draws_its_charts_offline_in_chromium(report: Path, tmp_path: Path) -> None:
    _chromium_or_skip()
    command = [sys.executable, "-c", _BROWSER_CHECK, str(CHROMIUM), json.dumps(CHROMIUM_ARGS)]
    command += [report.as_uri(), str(tmp_path / "report.png")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["remote"] == [] and seen["errors"] == []
    assert all(count > 20 for count in seen["marks"]), seen["marks"]
    assert len(seen["marks"]) == 4
    assert seen["dots"] >= 6  # one dot per stream in the breakdown


def test_a_mean_report_calls_no_stream_worse(tmp_path: Path, log_csv: Path) -> None:
    # a plain mean has no direction: its streams are above or below merged, not worse
    from interactive_metrics.charts import style

    out = tmp_path / "mean_streams.html"
    cli.write_report(log_csv, out, metric="mean", values="score", batch="batch", stream="stream")
    html = out.read_text(encoding="utf-8")
    assert "Per stream" in html
    assert style.WORSE_LABEL not in html and style.BETTER_LABEL not in html
    out = tmp_path / "accuracy_streams.html"
    cli.write_report(
        log_csv, out, metric="binary_accuracy", y_true="y_true", y_pred="score", batch="batch",
        stream="stream",
    )  # fmt: skip
    assert style.WORSE_LABEL in out.read_text(encoding="utf-8")
