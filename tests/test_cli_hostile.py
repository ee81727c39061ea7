"""The command under hostile input: every bad input is one line on stderr and exit 2.

Each case of the table runs ``cli.main`` in-process and checks the exit status, that
stderr is exactly one ``interactive-metrics: error: ...`` line saying what is wrong,
that stdout is empty, that no traceback shows and that no report is written. Two cases
run through the real entry point (``python -m interactive_metrics.cli``).
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import interactive_metrics as im
from interactive_metrics import cli

ROOT = Path(__file__).resolve().parents[1]
PREDICTIONS = ["--y-true", "y_true", "--y-pred", "score", "--batch", "batch"]


def _log(**columns: object) -> pl.DataFrame:
    """A 4-row log of predictions in 2 batches; ``columns`` replace or add columns."""
    log = pl.DataFrame(
        {
            "batch": [1, 1, 2, 2],
            "stream": ["a", "b", "a", "b"],
            "y_true": [0, 1, 1, 0],
            "score": [0.1, 0.9, 0.4, 0.6],
        }
    )
    return log.with_columns(pl.Series(name, values) for name, values in columns.items())


def _parquet(frame: pl.DataFrame) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        frame.write_parquet(tmp / "log.parquet")
        return str(tmp / "log.parquet")

    return make


def _file(name: str, content: bytes) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        (tmp / name).write_bytes(content)
        return str(tmp / name)

    return make


def _good_csv(tmp: Path) -> str:
    _log().write_csv(tmp / "log.csv")
    return str(tmp / "log.csv")


def _directory(tmp: Path) -> str:
    (tmp / "logs.csv").mkdir()
    return str(tmp / "logs.csv")


def _fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "pipe.csv")  # reading it would block for ever
    return str(tmp / "pipe.csv")


def _unreadable(tmp: Path) -> str:
    # chmod 000 does not stop root; /proc/self/mem is a regular file whose read fails
    (tmp / "mem.csv").symlink_to("/proc/self/mem")
    return str(tmp / "mem.csv")


def _truncated_parquet(tmp: Path) -> str:
    _log().write_parquet(tmp / "whole.parquet")
    data = (tmp / "whole.parquet").read_bytes()
    (tmp / "log.parquet").write_bytes(data[: len(data) // 2])
    return str(tmp / "log.parquet")


def _header_only(tmp: Path) -> str:
    (tmp / "log.csv").write_text("batch,stream,y_true,score\n")
    return str(tmp / "log.csv")


on_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

# (id, LOG maker, arguments after LOG, what the one line must say)
CASES: list[tuple[str, Callable[[Path], str] | None, list[str], str]] = [
    # the file
    ("missing file", None, PREDICTIONS, r"LOG must be an existing file, got '.*missing\.csv'"),
    ("directory", _directory, PREDICTIONS, r"LOG must be a file, got the directory"),
    ("fifo", _fifo, PREDICTIONS, r"LOG must be a regular file, got '.*pipe\.csv'"),
    ("unreadable", _unreadable, PREDICTIONS, r"cannot read '.*mem\.csv' as CSV: .*os error"),
    ("not csv or parquet", _file("log.json", b"{}"), PREDICTIONS, r"must be a \.csv or \.parquet"),
    ("empty file", _file("log.csv", b""), PREDICTIONS, r"cannot read '.*log\.csv' as CSV: empty"),
    ("binary csv", _file("log.csv", bytes(range(256)) * 8), PREDICTIONS, r"as CSV: invalid utf-8"),
    ("text as parquet", _file("log.parquet", b"a,b\n1,2\n"), PREDICTIONS, r"as Parquet: parquet"),
    ("truncated parquet", _truncated_parquet, PREDICTIONS, r"as Parquet: .*PAR1"),
    # the rows and columns
    ("header only csv", _header_only, PREDICTIONS, r"the log has no rows .*at least one batch"),
    ("0-row parquet", _parquet(_log().head(0)), PREDICTIONS, r"the log has no rows"),
    ("missing column", _good_csv, ["--y-true", "label", *PREDICTIONS[2:]], r"'label' is not in"),
    (
        "dates as numbers",
        _parquet(_log(score=[datetime.date(2020, 1, 1)] * 4)),
        PREDICTIONS,
        r"column 'score' \(for `y_pred`\) must hold numbers, got dtype Date",
    ),
    (
        "strings in a numeric column",
        _parquet(_log(score=["0.1", "x", "0.4", "0.6"])),
        PREDICTIONS,
        r"column 'score' \(for `y_pred`\) must hold numbers, got dtype String",
    ),
    (
        "nulls",
        _parquet(_log(score=[0.1, None, 0.4, 0.6])),
        PREDICTIONS,
        # a missing score is NaN, as update_state reads it: not a probability
        r"`y_pred` must hold probabilities in \[0, 1\], got values from nan",
    ),
    (
        "null batch ids",
        _parquet(_log(batch=[1, None, 2, 2])),
        PREDICTIONS,
        r"column 'batch' \(for `batch`\) has 1 null",
    ),
    (
        "list batch ids",
        _parquet(_log(batch=[[1], [1], [2], [2]])),
        PREDICTIONS,
        r"column 'batch' \(for --batch\) must hold .*, got dtype List\(Int64\)",
    ),
    (
        "struct stream keys",
        _parquet(_log(stream=[{"a": 1}, {"a": 2}, {"a": 1}, {"a": 2}])),
        [*PREDICTIONS, "--stream", "stream"],
        r"column 'stream' \(for --stream\) must hold .*, got dtype Struct",
    ),
    (
        "duration stream keys",
        _parquet(_log(stream=[datetime.timedelta(days=d) for d in (1, 2, 1, 2)])),
        [*PREDICTIONS, "--stream", "stream"],
        r"column 'stream' \(for --stream\) holds durations, which the per-stream charts",
    ),
    (
        "128-bit integers",
        _parquet(_log().with_columns(pl.col("y_true").cast(pl.Int128))),
        PREDICTIONS,
        r"column 'y_true' \(for --y-true\) must hold numbers numpy can read, got dtype Int128",
    ),
    (
        "negative weights",
        _parquet(_log(w=[1.0, -1.0, 1.0, 1.0])),
        [*PREDICTIONS, "--sample-weight", "w"],
        r"`sample_weight` must be >= 0",
    ),
    # the metric and its options
    (
        "unknown metric",
        _good_csv,
        ["--metric", "precison", *PREDICTIONS],
        r"did you mean precision",
    ),
    (
        "repeated metric",  # several metrics make one report; the same one twice does not
        _good_csv,
        ["--metric", "recall", "--metric", "Recall", *PREDICTIONS],
        r"--metric Recall is given twice \('recall' and 'Recall'\); give each metric once",
    ),
    (
        "option for a metric not in the report",
        _good_csv,
        ["--metric", "recall", "--metric", "precision", "--option", "f1.thresholds=0.3"],
        r"--option f1.thresholds: 'f1' is not one of the metrics of this report \(recall, "
        r"precision\)",
    ),
    (
        "option not every metric takes",
        _good_csv,
        ["--metric", "recall", "--metric", "binary_accuracy", "--option", "threshold=0.3"],
        r"--option threshold is not an argument of Recall; .* give it to one metric as "
        r"--option recall.OPTION=VALUE",
    ),
    (
        "one metric of several lacks its input",
        _good_csv,
        ["--metric", "recall", "--metric", "mean", *PREDICTIONS],
        r"--metric mean reads --values; pass --values COL",
    ),
    (
        "option both for every metric and for one",
        _good_csv,
        [
            "--metric",
            "recall",
            "--metric",
            "precision",
            "--option",
            "thresholds=0.3",
            "--option",
            "recall.thresholds=0.7",
        ],
        r"--option thresholds is given for every metric and as --option recall.thresholds",
    ),
    (
        "several metrics, one with a vector result",
        _good_csv,
        [
            "--metric",
            "recall",
            "--metric",
            "precision",
            "--option",
            "precision.thresholds=[0.3, 0.6]",
        ],
        r"--metric precision gives a result of shape \(2,\)",
    ),
    (
        "repeated batch",  # the same value twice is harmless, and allowed
        _good_csv,
        ["--metric", "recall", "--y-true", "y_true", *PREDICTIONS, "--batch", "stream"],
        r"--batch is given twice \('batch' and 'stream'\)",
    ),
    ("option syntax", _good_csv, ["--option", "threshold"], r"must look like NAME=VALUE"),
    (
        "repeated option",
        _good_csv,
        ["--metric", "binary_accuracy", "--option", "threshold=0.3", "--option", "threshold=0.7"],
        r"--option threshold is given twice",
    ),
    (
        "unknown option",
        _good_csv,
        ["--metric", "binary_accuracy", "--option", "treshold=0.7"],
        r"--option treshold is not an argument of BinaryAccuracy; it takes threshold, ",
    ),
    (
        "option of the wrong type",
        _good_csv,
        ["--metric", "binary_accuracy", "--option", "threshold=high"],
        r"cannot build BinaryAccuracy: `threshold` must be a number, got 'high'",
    ),
    (
        "NaN option",
        _good_csv,
        ["--metric", "binary_accuracy", "--option", "threshold=NaN"],
        r"--option threshold must be a finite number, .*got 'NaN'",
    ),
    (
        "overflowing option",
        _good_csv,
        ["--metric", "confusion_matrix", "--option", "num_classes=1e400"],
        r"--option num_classes must be a finite number, .*got '1e400'",
    ),
    (
        "deeply nested option",
        _good_csv,
        ["--metric", "binary_accuracy", "--option", "threshold=" + "[" * 5000 + "]" * 5000],
        r"--option threshold must be .* nested too deeply",
    ),
    (
        "history turned off",
        _good_csv,
        ["--metric", "binary_accuracy", "--option", "history=false"],
        r"--option history must be true, got false",
    ),
    (
        "num_classes huge",
        _good_csv,
        ["--metric", "confusion_matrix", "--option", "num_classes=100000"],
        r"num_classes=100000 is too large: the report allows at most 1,000,000 numbers in a "
        r"metric's state, which for ConfusionMatrix means num_classes <= 1,000",
    ),
    (
        "num_classes astronomical",
        _good_csv,
        [
            "--metric",
            "f1_score",
            "--option",
            "num_classes=" + "9" * 40,
            "--option",
            "average=micro",
        ],
        r"too large: .* for F1Score means num_classes <= 333,333",
    ),
    (
        "num_classes negative",
        _good_csv,
        ["--metric", "confusion_matrix", "--option", "num_classes=-3"],
        r"`num_classes` must be an integer >= 2, got -3",
    ),
    (
        "history too large",
        _parquet(pl.DataFrame({"batch": range(60), "y_true": [0] * 60, "score": [0.5] * 60})),
        ["--metric", "f1_score", "--option", "num_classes=300000", "--option", "average=micro"],
        r"the history would hold 108,000,120 numbers \(60 rows of 1,800,002\); the report "
        r"allows at most 100,000,000",
    ),
    # the command line
    (
        "unknown flag",
        _good_csv,
        ["--metric", "mean", "--bogus"],
        r"unrecognized arguments: --bogus",
    ),
    ("no batch", _good_csv, ["--metric", "mean", "--values", "score"], r"needs --batch"),
    # the output
    ("output in a missing directory", _good_csv, ["-o", "{tmp}/no/such/dir/r.html"], r"not exist"),
    ("output is a directory", _good_csv, ["-o", "{tmp}"], r"-o must be a file name, got the dir"),
    ("output under a file", _good_csv, ["-o", "{tmp}/log.csv/r.html"], r"is not a directory"),
    ("output is the log", _good_csv, ["-o", "{tmp}/log.csv"], r"is the LOG itself"),
    ("output not writable", _good_csv, ["-o", "/proc/im-report.html"], r"cannot write -o '/proc/"),
]
LINUX_ONLY = {"unreadable", "output not writable"}


def _listing(folder: Path) -> list[tuple[str, int, int]]:
    """Every entry under ``folder`` with its size and modification time (read nothing)."""
    return sorted(
        (str(p.relative_to(folder)), p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in folder.rglob("*")
    )


@pytest.mark.parametrize(
    ("make", "arguments", "message"),
    [
        pytest.param(*case[1:], id=case[0], marks=[on_linux] if case[0] in LINUX_ONLY else [])
        for case in CASES
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    make: Callable[[Path], str] | None,
    arguments: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = make(tmp_path) if make is not None else str(tmp_path / "missing.csv")
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    if "--metric" not in arguments:
        arguments = ["--metric", "precision", *arguments]
    if "--batch" not in arguments and "--values" not in arguments:
        arguments += PREDICTIONS
    if "-o" not in arguments:
        arguments += ["-o", str(tmp_path / "report.html")]
    before = _listing(tmp_path)

    status = cli.main(["report", log, *arguments])

    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert captured.out == ""
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("interactive-metrics: error: "), lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert _listing(tmp_path) == before  # nothing written, nothing changed


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("INTERACTIVE_METRICS_TRACEBACK", None)
    command = [sys.executable, "-m", "interactive_metrics.cli", *arguments]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_the_entry_point_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "header").mkdir()
    header = _header_only(tmp_path / "header")
    out = str(tmp_path / "r.html")
    for arguments, message in [
        ([header, "--metric", "precision"], "the log has no rows"),
        (
            [_good_csv(tmp_path), "--metric", "confusion_matrix", "--option", "num_classes=100000"],
            "num_classes <= 1,000",
        ),
        ([header, "--metric", "recall", "--metric", "recall"], "--metric recall is given twice"),
    ]:
        done = _run("report", *arguments, *PREDICTIONS, "-o", out)
        assert done.returncode == 2, done.stderr
        assert done.stdout == "" and "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
        assert done.stderr.startswith("interactive-metrics: error: ") and message in done.stderr
        assert not Path(out).exists()


# -- errors the command did not expect ----------------------------------------------------------


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom\nsecond line")


def test_an_unexpected_error_is_one_line_asking_for_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.TRACEBACK_VARIABLE, raising=False)
    monkeypatch.setattr(cli, "render_report", _boom)
    argv = ["report", _good_csv(tmp_path), "--metric", "precision", *PREDICTIONS]
    assert cli.main([*argv, "-o", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "interactive-metrics: error: unexpected RuntimeError: boom second line; this is a bug "
        "in interactive-metrics, please report it with the command you ran "
        "(INTERACTIVE_METRICS_TRACEBACK=1 shows the traceback)"
    ]
    assert not (tmp_path / "r.html").exists()
    monkeypatch.setenv(cli.TRACEBACK_VARIABLE, "1")  # the developer's view: the traceback
    with pytest.raises(RuntimeError, match="boom"):
        cli.main([*argv, "-o", str(tmp_path / "r.html")])


def test_running_out_of_memory_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_memory(path: Path | None) -> pl.DataFrame:
        raise MemoryError

    monkeypatch.setattr(cli, "read_log", no_memory)
    argv = ["report", _good_csv(tmp_path), "--metric", "precision", *PREDICTIONS]
    assert cli.main([*argv, "-o", str(tmp_path / "r.html")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("interactive-metrics: error: out of memory")


# -- nothing lost --------------------------------------------------------------------------------


def test_a_failed_run_leaves_an_earlier_report_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    out.write_text("the earlier report")
    log = _parquet(_log(score=["0.1", "x", "0.4", "0.6"]))(tmp_path)
    assert cli.main(["report", log, "--metric", "precision", *PREDICTIONS, "-o", str(out)]) == 2
    assert out.read_text() == "the earlier report"


def test_a_failed_write_leaves_the_earlier_report_and_no_temporary_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report.html"
    out.write_text("the earlier report")
    log = _good_csv(tmp_path)

    def full_disk(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    status = cli.main(
        ["report", log, "--metric", "mean", "--values", "score", "--batch", "batch", "-o", str(out)]
    )
    assert status == 2
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_text() == "the earlier report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv", "report.html"]


# -- the limits, exactly -------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=9, max_value=10**12))
def test_num_classes_is_refused_exactly_when_the_state_outgrows_the_limit(n: int) -> None:
    """Oracles: a confusion matrix keeps n² numbers, an F1 score 3·n."""
    for name, numbers, largest in [
        ("confusion_matrix", n * n, 1000),
        ("f1_score", 3 * n, 333_333),
    ]:
        options = (
            {"num_classes": n, "average": "micro"} if name == "f1_score" else {"num_classes": n}
        )
        if numbers <= cli.MAX_STATE_NUMBERS:
            metric = cli.build_metric(name, options)
            assert cli._state_numbers(metric) == numbers
        else:
            with pytest.raises(cli.CommandError, match=rf"num_classes <= {largest:,}$"):
                cli.build_metric(name, options)


@pytest.mark.parametrize(("n", "refused"), [(1000, False), (1001, True)])
def test_the_confusion_matrix_limit_is_1000_classes(n: int, refused: bool) -> None:
    if refused:
        with pytest.raises(cli.CommandError, match="num_classes <= 1,000"):
            cli.build_metric("confusion_matrix", {"num_classes": n})
    else:
        assert isinstance(cli.build_metric("confusion_matrix", {"num_classes": n}), im.Metric)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_option_text_is_a_value_or_a_command_error(text: str) -> None:
    try:
        options = cli._parse_options([f"threshold={text}"])
    except cli.CommandError as error:
        assert "\n" not in cli._one_line(error)
    else:
        assert list(options) == ["threshold"]
