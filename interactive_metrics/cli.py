"""The ``interactive-metrics`` command: replay a logged run into one offline HTML report.

``interactive-metrics report LOG --y-true COL --y-pred COL --metric precision --batch COL
--stream COL -o report.html`` reads a CSV or Parquet log (one row per sample), replays it
into the metric's full history (one update per batch id) and, with ``--stream``, into a
per-stream breakdown, then writes a single HTML file with the charts embedded and vega
inlined: it opens offline, from a laptop or an e-mail attachment, with no network.
Without ``LOG`` it reports on the bundled sample log (an anomaly detector on six
sensors, one of which degrades). ``interactive-metrics metrics`` lists the metric names.

Every bad input (a missing or unreadable file, a log that is not CSV or Parquet, a
missing column, text where numbers belong, an empty log, a bad ``--option``, an output
path that cannot be written) ends as one line on stderr, ``interactive-metrics: error:
...``, and exit status 2, with nothing written. An error the command did not expect
(a bug) is one line too, with exit status 1 and a request to report it; set
``INTERACTIVE_METRICS_TRACEBACK=1`` to see its traceback.
"""

from __future__ import annotations

import argparse
import base64
import html
import inspect
import json
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import numpy as np
import polars as pl

from interactive_metrics.metric import Metric

if TYPE_CHECKING:
    from interactive_metrics.collection import MetricCollection
    from interactive_metrics.collection_streams import CollectionStreams

__all__ = ["main", "metric_names", "write_report"]

SAMPLE_LOG = "the bundled sample log"
SAMPLE_DEFAULTS = {
    "metric": "precision",
    "y_true": "y_true",
    "y_pred": "score",
    "batch": "batch",
    "stream": "stream",
}
"""What ``report`` without a LOG uses: precision of the anomaly detector, per sensor."""

DESCRIPTION = """\
Replay a logged run (a CSV or Parquet file with one row per sample and a column of
batch ids) into a metric's full history, and write ONE self-contained HTML report:
the metric over the run, sum versus mean, and (with --stream) which stream is failing.
The report opens offline: the charts and the JavaScript that draws them are inside it.
"""

EPILOG = """\
examples:
  interactive-metrics report                          # the bundled sample log
  interactive-metrics report run.parquet --metric mean --values loss --batch step
  interactive-metrics report preds.csv --metric binary_accuracy --y-true label \\
      --y-pred score --batch step --stream sensor -o accuracy.html
  interactive-metrics report preds.csv --metric binary_accuracy --option threshold=0.7 \\
      --y-true label --y-pred score --batch step
  interactive-metrics metrics                         # every metric name and its inputs

metrics with one input (mean, sum, count, min, max) read --values; metrics of
predictions (accuracy, precision, mean_absolute_error, ...) read --y-true and --y-pred.
Batches are replayed in sorted batch-id order, exactly as calling update_state once per
batch would.
"""


class CommandError(ValueError):
    """A problem with the command line or the log, reported without a traceback.

    A ``ValueError``, so that :func:`write_report` called from Python raises only the
    errors every public function of the package raises.
    """


MAX_STATE_NUMBERS = 1_000_000
"""The most numbers the metric's state may hold (8 MB in float64): ``--option num_classes``
of a confusion matrix may be at most 1000, whose state is ``num_classes**2`` numbers."""

MAX_HISTORY_NUMBERS = 100_000_000
"""The most numbers the replayed history may hold (800 MB in float64): history rows times
the numbers in each row (the batch's state and the running state, and both results)."""

TRACEBACK_VARIABLE = "INTERACTIVE_METRICS_TRACEBACK"
"""Set this environment variable to ``1`` to see the traceback of an unexpected error."""


def _one_line(text: object) -> str:
    """``text`` on one line: polars and numpy messages may span several."""
    return " ".join(str(text).split())


# -- metrics by name -----------------------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def metric_names() -> dict[str, type[Metric]]:
    """The metrics the command can build, by snake-case name (``binary_accuracy``).

    Examples
    --------
    >>> names = metric_names()
    >>> names["mean"].__name__, names["binary_accuracy"].__name__
    ('Mean', 'BinaryAccuracy')
    >>> "mean_metric_wrapper" in names   # needs a Python function: not for the command line
    False
    """
    import interactive_metrics as im

    found: dict[str, type[Metric]] = {}
    for name in sorted(dir(im)):
        cls = getattr(im, name)
        if not (isinstance(cls, type) and issubclass(cls, Metric) and cls is not Metric):
            continue
        if "fn" in inspect.signature(cls.__init__).parameters:
            continue
        found[_snake(name)] = cls
    return found


def _required_options(cls: type[Metric]) -> list[str]:
    return [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self"
        and p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _accepted_options(cls: type[Metric]) -> list[str]:
    """The keyword arguments ``cls`` takes: its own, then Metric's (through ``**options``)."""
    names: list[str] = []
    passes_on = False
    for p in inspect.signature(cls.__init__).parameters.values():
        passes_on = passes_on or p.kind == p.VAR_KEYWORD
        if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
    if passes_on:
        names += [p for p in inspect.signature(Metric.__init__).parameters if p != "self"]
    return list(dict.fromkeys(names))


def _refuse_constant(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a number the report can use")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400
        raise ValueError(f"{text} is too large for a float")
    return number


def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs as keyword arguments: values read as JSON, else kept as text.

    Examples
    --------
    >>> _parse_options(["threshold=0.7", "average=micro", "thresholds=[0.3, 0.5]"])
    {'threshold': 0.7, 'average': 'micro', 'thresholds': [0.3, 0.5]}
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not all(part.isidentifier() for part in key.split(".", 1)):
            raise CommandError(
                f"--option must look like NAME=VALUE, got {pair!r}; e.g. --option "
                "threshold=0.7 (or METRIC.NAME=VALUE for one of several metrics)"
            )
        if key in options:
            raise CommandError(
                f"--option {key} is given twice ({key}={options[key]!r} and {pair!r}); "
                "give each option once"
            )
        try:  # numbers, true/false, lists; never code
            options[key] = json.loads(
                text, parse_constant=_refuse_constant, parse_float=_finite_float
            )
        except json.JSONDecodeError:
            options[key] = text
        except (ValueError, RecursionError) as error:  # NaN, 1e400, 5000 digits, [[[[...
            if isinstance(error, RecursionError):
                error = ValueError("it is nested too deeply")
            raise CommandError(
                f"--option {key} must be a finite number, true/false, a list or text, got "
                f"{_shorten(text)!r}: {_one_line(error)}"
            ) from None
    return options


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _state_numbers(metric: Metric) -> int:
    return sum(int(np.size(value)) for value in metric.state.values())


def _check_num_classes(cls: type[Metric], options: dict[str, Any]) -> None:
    """Refuse a ``num_classes`` whose state would hold more than MAX_STATE_NUMBERS numbers.

    Checked before the metric is built (a confusion matrix of 100000 classes would ask
    for 74.5 GiB): the metric is built, without a history, with 8, 16, 32, ... classes
    until its state outgrows the limit or ``num_classes`` is reached; then the largest
    number of classes that fits is found between the last two. Each trial state holds at
    most a few times the limit. The only assumption is that a state grows with its classes.
    """
    n = options.get("num_classes")
    if isinstance(n, bool) or not isinstance(n, int) or n <= 8:
        return  # not a whole number (the metric refuses it), or small: build it and see

    def size(classes: int) -> int:
        trial = {**options, "num_classes": classes, "history": False}
        return _state_numbers(cls(**trial))

    try:
        low, high = 4, 8
        while high < n and size(high) <= MAX_STATE_NUMBERS:
            low, high = high, high * 2
        if high >= n and size(n) <= MAX_STATE_NUMBERS:
            return
        high = min(high, n)
        while high - low > 1:  # size(low) fits, size(high) does not
            middle = (low + high) // 2
            low, high = (middle, high) if size(middle) <= MAX_STATE_NUMBERS else (low, middle)
    except (TypeError, ValueError):
        return  # the real build raises the same, with the metric's own message
    raise CommandError(
        f"--option num_classes={n} is too large: the report allows at most "
        f"{MAX_STATE_NUMBERS:,} numbers in a metric's state, which for {cls.__name__} means "
        f"num_classes <= {low:,}"
    )


def _check_options(cls: type[Metric], options: dict[str, Any]) -> None:
    """What the report cannot do with ``options``, said before the metric is built."""
    accepted = _accepted_options(cls)
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise CommandError(
            f"--option {unknown[0]} is not an argument of {cls.__name__}; it takes "
            f"{', '.join(accepted)}"
        )
    if "history" in options and options["history"] is not True:
        raise CommandError(
            f"--option history must be true, got {json.dumps(options['history'])}: the "
            "report draws the metric's history (history_every=N records every N-th batch)"
        )
    _check_num_classes(cls, options)


def build_metric(name: str, options: dict[str, Any]) -> Metric:
    """The metric called ``name`` (snake or class case), built with ``options``.

    Examples
    --------
    >>> build_metric("BinaryAccuracy", {"threshold": 0.7}).get_config()["threshold"]
    0.7
    """
    names = metric_names()
    key = _snake(name) if name not in names else name
    cls = names.get(key.lower().replace("-", "_"))
    if cls is None:
        from difflib import SequenceMatcher

        similar = [n for n in names if key and key.lower()[:4] in n]  # nearest first
        close = sorted(similar, key=lambda n: -SequenceMatcher(None, key.lower(), n).ratio())[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise CommandError(
            f"--metric must be a metric name, got {name!r}{hint}; "
            "run `interactive-metrics metrics` to list them"
        )
    missing = [o for o in _required_options(cls) if o not in options]
    if missing:
        raise CommandError(
            f"--metric {key} needs --option {missing[0]}=VALUE (e.g. --option {missing[0]}=3)"
        )
    _check_options(cls, options)
    try:
        metric = cls(**options)
    except (TypeError, ValueError, OverflowError) as error:
        raise CommandError(f"--option: cannot build {cls.__name__}: {_one_line(error)}") from None
    numbers = _state_numbers(metric)
    if numbers > MAX_STATE_NUMBERS:
        raise CommandError(
            f"--option: {cls.__name__} with these options keeps a state of {numbers:,} "
            f"numbers; the report allows at most {MAX_STATE_NUMBERS:,}"
        )
    return metric


# -- reading and replaying -----------------------------------------------------------------------


def read_log(path: Path | None) -> pl.DataFrame:
    """Read a CSV or Parquet log (or the bundled sample log when ``path`` is None).

    Raises CommandError (one line) for a path that is not a readable regular file, a
    suffix other than .csv/.tsv/.txt/.parquet/.pq, and a file polars cannot read.
    """
    if path is None:
        from interactive_metrics.data import sample_log

        return sample_log()
    if path.is_dir():
        raise CommandError(f"LOG must be a file, got the directory {str(path)!r}")
    if not path.exists():
        raise CommandError(f"LOG must be an existing file, got {str(path)!r}")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise CommandError(f"LOG must be a regular file, got {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv", ".tsv", ".txt"):
        raise CommandError(
            f"LOG must be a .csv or .parquet file, got {str(path)!r}; convert it first"
        )
    try:
        if suffix in (".parquet", ".pq"):
            return pl.read_parquet(path)
        return pl.read_csv(path, separator="\t" if suffix == ".tsv" else ",")
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as error:
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        raise CommandError(f"cannot read {str(path)!r} as {kind}: {_one_line(error)}") from None


_KEY_DTYPES = "integers, floats, strings, booleans, categories, dates or times"


def _check_key_column(log: pl.DataFrame, column: str, flag: str) -> None:
    """Batch ids and stream keys: flat values polars can sort and group (no lists, structs)."""
    dtype = log.schema[column]
    if dtype.is_nested() or dtype == pl.Object or dtype in (pl.Int128, pl.UInt128):
        raise CommandError(
            f"column {column!r} (for {flag}) must hold {_KEY_DTYPES}, got dtype {dtype}; "
            f"cast or convert it first, e.g. pl.col({column!r}).cast(pl.String)"
        )
    if flag == "--stream" and dtype == pl.Duration:  # charts.stream_breakdown casts keys to text
        raise CommandError(
            f"column {column!r} (for --stream) holds durations, which the per-stream charts "
            f"cannot draw yet; convert them first, e.g. pl.col({column!r}).dt.to_string()"
        )


def _check_input_column(log: pl.DataFrame, column: str, flag: str) -> None:
    """128-bit integers: numpy has no such type, so the replay could not read them."""
    dtype = log.schema[column]
    if dtype in (pl.Int128, pl.UInt128):
        raise CommandError(
            f"column {column!r} (for {flag}) must hold numbers numpy can read, got dtype "
            f"{dtype}; cast it first, e.g. pl.col({column!r}).cast(pl.Float64)"
        )


def _check_history_size(metric: Metric, rows: int) -> None:
    """Refuse a replay whose history could outgrow MAX_HISTORY_NUMBERS (and exhaust memory).

    ``rows`` counts every batch (and every batch of every stream): an upper bound, as
    ``history_every`` and ``history_last`` may record fewer.
    """
    per_row = 2 * _state_numbers(metric) + 2 * int(np.prod(np.shape(metric.result())))
    if rows * per_row > MAX_HISTORY_NUMBERS:
        raise CommandError(
            f"the history would hold {rows * per_row:,} numbers ({rows:,} rows of {per_row:,}); "
            f"the report allows at most {MAX_HISTORY_NUMBERS:,}: use fewer batches (a coarser "
            "--batch column) or fewer streams"
        )


class Progress:
    """A one-line progress bar on a text stream (stderr): ``replaying [####    ] 40% 3.1 s``."""

    def __init__(self, total: int, stream: TextIO | None, label: str = "replaying") -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.label = label
        self.start = time.perf_counter()

    def update(self, done: int) -> None:
        """Redraw the bar at ``done`` of ``total``."""
        if self.stream is None:
            return
        share = min(done / self.total, 1.0)
        filled = int(share * 30)
        elapsed = time.perf_counter() - self.start
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{' ' * (30 - filled)}] {share:4.0%} "
            f"{done}/{self.total} batches {elapsed:.1f} s"
        )
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class Replayed:
    """What the report draws: the metric's history and, per stream, the breakdown."""

    metric: Metric
    streams: Any | None
    rows: int
    batches: int
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class ReplayedCollection:
    """What a report of several metrics draws: each metric's part, and one table of all."""

    members: dict[str, Replayed]
    streams: CollectionStreams | None  # the breakdown of every metric, per stream
    rows: int
    batches: int
    columns: dict[str, str] = field(default_factory=dict)


def _split_options(options: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """Each metric's options: the plain ones (for every metric) and its ``METRIC.NAME`` ones.

    Examples
    --------
    >>> _split_options({"threshold": 0.7, "recall.thresholds": 0.2}, ["precision", "recall"])
    {'precision': {'threshold': 0.7}, 'recall': {'threshold': 0.7, 'thresholds': 0.2}}
    """
    plain = {k: v for k, v in options.items() if "." not in k}
    split = {name: dict(plain) for name in names}
    for key, value in options.items():
        if "." not in key:
            continue
        target, option = key.split(".", 1)
        if target not in split:
            raise CommandError(
                f"--option {key}: {target!r} is not one of the metrics of this report "
                f"({', '.join(names)}); write --option METRIC.NAME=VALUE with one of them"
            )
        if option in split[target] and option in plain:
            raise CommandError(
                f"--option {option} is given for every metric and as --option {key}; give it once"
            )
        split[target][option] = value
    return split


def replay_log(
    log: pl.DataFrame,
    metric: Metric | MetricCollection,
    columns: dict[str, str],
    *,
    batch: str,
    stream: str | None = None,
    sample_weight: str | None = None,
    progress: Progress | None = None,
    pieces: int = 40,
) -> Any:
    """Replay ``log`` into ``metric`` (or a ``Streams`` of it), a few batches at a time.

    ``metric`` may be a :class:`~interactive_metrics.MetricCollection`: then the log is
    replayed once for all its members (into ``collection.streams()`` with ``stream``),
    and the result is a :class:`ReplayedCollection`.

    Splitting the run into ``pieces`` groups of whole batches changes nothing in the
    result or the history (each replay continues from the state the previous one
    left); it lets the progress bar move on long logs.

    Raises CommandError, before anything is replayed, for a missing column, a log with
    no rows, batch ids or stream keys that cannot be sorted or grouped (lists, structs,
    objects, 128-bit integers) and a history larger than MAX_HISTORY_NUMBERS; a
    ``TypeError``/``ValueError`` of the replay itself becomes a CommandError too.
    """
    import interactive_metrics as im

    needed = [*columns.values(), batch, *(c for c in (stream, sample_weight) if c)]
    missing = [c for c in dict.fromkeys(needed) if c not in log.columns]
    if missing:
        shown = log.columns[:12] + (["..."] if log.width > 12 else [])
        raise CommandError(f"column {missing[0]!r} is not in the log; its columns are {shown}")
    if log.height == 0:
        raise CommandError(
            f"the log has no rows (its columns are {log.columns[:12]}); a report needs at "
            "least one batch"
        )
    _check_key_column(log, batch, "--batch")
    if stream:
        _check_key_column(log, stream, "--stream")
    flags = {"values": "--values", "y_true": "--y-true", "y_pred": "--y-pred"}
    for role, column in [*columns.items(), ("sample_weight", sample_weight)]:
        if column:
            _check_input_column(log, column, flags.get(role, "--sample-weight"))
    try:
        log = log.sort(batch, maintain_order=True)
        starts = log.get_column(batch).is_first_distinct().arg_true().to_list()
    except pl.exceptions.PolarsError as error:
        raise CommandError(
            f"column {batch!r} (for --batch) cannot be sorted: {_one_line(error)}"
        ) from None
    n_batches = len(starts)
    rows = n_batches
    if stream:  # one history row per (batch, stream) pair, besides the merged row per batch
        rows += log.select(pl.struct(batch, stream).n_unique()).item()
    for member in metric.values() if isinstance(metric, im.MetricCollection) else [metric]:
        _check_history_size(member, rows)
    cuts = sorted({starts[(i * n_batches) // pieces] for i in range(pieces)} | {log.height})
    target: Any
    if isinstance(metric, im.MetricCollection):
        target = metric.streams() if stream else metric
    else:
        target = im.Streams(metric) if stream else metric
    keys = {"stream": stream} if stream else {}
    done = 0
    if progress is not None:
        progress.total = max(n_batches, 1)
    try:
        for start, end in zip(cuts[:-1], cuts[1:], strict=True):
            piece = log.slice(start, end - start)
            try:
                target.replay(piece, batch=batch, sample_weight=sample_weight, **keys, **columns)
            except (TypeError, ValueError) as error:
                raise CommandError(_one_line(error)) from None
            done += piece.get_column(batch).n_unique()
            if progress is not None:
                progress.update(done)
    finally:  # end the bar's line, so an error message starts on its own
        if progress is not None:
            progress.close()
    if isinstance(metric, im.MetricCollection):
        members = {}
        for name in metric.keys():
            own = target.members[name] if stream else None
            alone = own.merged() if own is not None else target[name]
            used = {role: col for role, col in columns.items() if role in alone.input_names}
            members[name] = Replayed(alone, own, log.height, n_batches, used)
        return ReplayedCollection(
            members, target if stream else None, log.height, n_batches, columns
        )
    overall = target.merged() if stream else target
    return Replayed(overall, target if stream else None, log.height, n_batches, columns)


# -- the report ----------------------------------------------------------------------------------


def _number(value: Any) -> str:
    """A number as the report prints it (``style.format_number``), HTML-escaped."""
    from interactive_metrics.charts.style import format_number

    return html.escape(format_number(value))


def _exact(value: Any) -> str:
    """The full-precision value, for a cell's ``title`` (shown on hover), or ``""``."""
    if isinstance(value, float) and not value.is_integer():
        return f" title='{float(value)!r}'"
    return ""


TABLE_HEADERS = {
    "stream": "stream",
    "weight": "weight",
    "share": "share of weight",
    "result": "result",
    "contribution": "contribution",
}


def _table(frame: pl.DataFrame, limit: int = 50) -> str:
    """An HTML table: all-null columns dropped, numbers formatted, shares as percentages."""
    from interactive_metrics.charts.style import column_label, format_share

    frame = frame.select(
        c for c in frame.columns if frame.get_column(c).null_count() < frame.height
    )
    head = "".join(
        f"<th>{html.escape(TABLE_HEADERS.get(c, column_label(c)))}</th>" for c in frame.columns
    )
    shares = [c == "share" for c in frame.columns]
    body = []
    for row in frame.head(limit).iter_rows():
        cells = "".join(
            f"<td class='num'{_exact(v)}>{html.escape(format_share(v))}</td>"
            if is_share and v is not None
            else f"<td class='num'{_exact(v)}>{_number(v)}</td>"
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            else f"<td>{html.escape(str(v))}</td>"
            for v, is_share in zip(row, shares, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    more = (
        f"<p class='note'>{frame.height - limit:,} more rows not shown.</p>"
        if frame.height > limit
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _sections(replayed: Replayed, higher_is_better: bool | None) -> list[tuple[str, str, Any]]:
    """(title, explanation, chart or None) for each part of the report."""
    from interactive_metrics import charts

    metric = replayed.metric
    parts: list[tuple[str, str, Any]] = [
        (
            "The metric over the run",
            "The running result after each batch (the line; one update per batch id, in "
            "order), and each batch's own result (the light points under it).",
            charts.history(metric, ["result", "batch_result"]),
        )
    ]
    pair = charts.mean_pair(metric)
    if pair is not None:
        parts.append(
            (
                "Sum versus mean",
                f"The running sum of <code>{pair[0]}</code> keeps growing; the pooled mean "
                f"(<code>{pair[0]} / {pair[1]}</code>) is what the metric reports; the mean of "
                "the per-batch means is what averaging a training log's numbers gives. They "
                "differ as soon as batches differ in weight.",
                charts.sum_vs_mean(metric, total=pair[0], count=pair[1]),
            )
        )
    else:
        summed = {f.name for f in metric.fields if f.reduce == "sum"}
        history = metric.history
        sums = [
            column.removeprefix("batch_")
            for column in history.columns
            if column.startswith("batch_")
            and column.removeprefix("batch_") in summed
            and history.schema[column].is_numeric()
        ]
        text = (
            f"{type(metric).__name__} keeps no (sum, weight) pair, so there is no mean to set "
            "against a sum"
        )
        if sums:
            parts.append(
                (
                    "Sum versus mean",
                    f"{text}; this is what each batch adds to <code>{sums[0]}</code> and the "
                    "running total it builds.",
                    charts.batch_sums(metric, sums[0]),
                )
            )
        else:
            parts.append(("Sum versus mean", f"{text}.", None))
    streams = replayed.streams
    if streams is not None:
        parts.append(
            (
                "Per stream",
                "Each stream's result against the merged (micro: every sample pooled) and "
                "macro (every stream counted once) results, with its share of the weight. A "
                "small stream far from the merged result is what an average hides.",
                charts.stream_breakdown(streams, higher_is_better=higher_is_better),
            )
        )
        parts.append(
            (
                "Per-stream history",
                "Each stream's running result over the run; click a legend entry to "
                "highlight a stream.",
                charts.stream_history(streams),
            )
        )
    return parts


def _vega_bundle() -> str:
    """vega, vega-lite and vega-embed to inline (built once, then read from the cache)."""
    from interactive_metrics.charts.export import vega_bundle

    return vega_bundle()


def _json_script(value: Any) -> str:
    """JSON to inline in a ``<script>``, with ``</`` escaped so it cannot end the element.

    In JSON, ``</`` can only occur inside strings, where the escaped form means the same.
    """
    return json.dumps(value).replace("</", "<\\/")


def _inline_script(code: str) -> str:
    """A ``<script>`` element holding ``code``; as a data URL if the code could end it early."""
    if "</script" in code.lower():
        encoded = base64.b64encode(code.encode("utf-8")).decode("ascii")
        return f'<script src="data:text/javascript;base64,{encoded}"></script>'
    return f"<script>{code}</script>"


STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       max-width: 1060px; margin: 2rem auto; padding: 0 1.2rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; font-size: 1.25rem; }
.sub { color: #59636e; margin-top: 0; } .note { color: #59636e; font-size: .9rem; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.2rem 0; }
.card { border: 1px solid #d1d9e0; border-radius: 8px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.35rem; } .card span { color: #59636e; font-size: .85rem; }
table { border-collapse: collapse; font-size: .9rem; margin: .6rem 0; }
th, td { border-bottom: 1px solid #d1d9e0; padding: .25rem .7rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart { margin: .6rem 0 1rem; } code { background: #f6f8fa; padding: 0 .25rem; }
"""


def _cards(cards: list[tuple[str, Any]]) -> str:
    return "".join(
        f"<div class='card'><b{_exact(value)}>{_number(value)}</b>"
        f"<span>{html.escape(label)}</span></div>"
        for label, value in cards
    )


def _used(columns: dict[str, str]) -> str:
    return ", ".join(f"{role} = <code>{html.escape(col)}</code>" for role, col in columns.items())


def _metric_body(
    replayed: Replayed,
    higher_is_better: bool | None,
    specs: list[tuple[str, dict[str, Any]]],
    level: int = 2,
) -> list[str]:
    """The sections of one metric as HTML; their charts are added to ``specs``."""
    body = []
    breakdown = replayed.streams.breakdown() if replayed.streams is not None else None
    for heading, text, chart in _sections(replayed, higher_is_better):
        body.append(f"<h{level}>{html.escape(heading)}</h{level}><p>{text}</p>")
        if chart is not None:
            div = f"chart-{len(specs)}"
            body.append(f"<div class='chart' id='{div}'></div>")
            specs.append((div, chart.to_dict(validate=False)))  # tests validate
        if heading == "Per stream" and breakdown is not None:
            shown = breakdown.sort("result", descending=higher_is_better is False).select(
                [c for c in breakdown.columns if breakdown.schema[c] != pl.Object]
            )
            body.append(_table(shown))
    return body


def render_report(
    replayed: Replayed | ReplayedCollection,
    *,
    title: str,
    source: str,
    higher_is_better: bool | None | dict[str, bool | None],
) -> str:
    """The report as one HTML document (charts as Vega-Lite specs, vega inlined).

    A :class:`ReplayedCollection` (several ``--metric``) gives one section per metric
    and, with streams, one table of every metric's result per stream.
    """
    specs: list[tuple[str, dict[str, Any]]] = []
    if isinstance(replayed, ReplayedCollection):
        body = _collection_body(replayed, title, source, higher_is_better, specs)
    else:
        direction = higher_is_better if not isinstance(higher_is_better, dict) else None
        metric = replayed.metric
        cards = [
            ("result (merged)" if replayed.streams is not None else "result", metric.result()),
            ("rows", replayed.rows),
            ("batches", replayed.batches),
        ]
        streams = replayed.streams
        if streams is not None:
            cards.insert(1, ("macro (mean of streams)", streams.macro_result()))
            cards.append(("streams", len(streams)))
        body = [
            f"<h1>{html.escape(title)}</h1>",
            f"<p class='sub'>{_number(replayed.rows)} rows in {_number(replayed.batches)} "
            f"batches of {html.escape(source)}, replayed into "
            f"{html.escape(type(metric).__name__)} ({_used(replayed.columns)})</p>",
            f"<div class='cards'>{_cards(cards)}</div>",
            *_metric_body(replayed, direction, specs),
        ]
    body.append(
        "<p class='note'>Written by <code>interactive-metrics report</code>; the history is "
        "identical to calling <code>update_state</code> once per batch, in batch order.</p>"
    )
    return _document(title, body, specs)


def _collection_body(
    replayed: ReplayedCollection,
    title: str,
    source: str,
    higher_is_better: bool | None | dict[str, bool | None],
    specs: list[tuple[str, dict[str, Any]]],
) -> list[str]:
    """The report of several metrics: cards, one table of them all, one section per metric."""
    members = replayed.members
    classes = ", ".join(type(r.metric).__name__ for r in members.values())
    merged = " (merged)" if replayed.streams is not None else ""
    cards: list[tuple[str, Any]] = [
        (f"{name}{merged}", r.metric.result()) for name, r in members.items()
    ]
    cards += [("rows", replayed.rows), ("batches", replayed.batches)]
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='sub'>{_number(replayed.rows)} rows in {_number(replayed.batches)} batches "
        f"of {html.escape(source)}, replayed into {html.escape(classes)} "
        f"({_used(replayed.columns)})</p>",
    ]
    streams = replayed.streams
    if streams is not None:
        cards.append(("streams", len(streams)))
    body.append(f"<div class='cards'>{_cards(cards)}</div>")
    if streams is not None:
        macro = streams.macro_result()
        table = streams.breakdown()
        table = table.rename({f"{name}/result": name for name in members})
        body.append(
            "<h2>Every metric per stream</h2><p>Each stream's result for every metric, "
            "with its share of the weight; under it, each metric's merged (micro: every "
            "sample pooled) and macro (every stream counted once) result.</p>"
        )
        body.append(_table(table))
        summary = ", ".join(
            f"{html.escape(name)}: merged {_number(members[name].metric.result())}, macro "
            f"{_number(value)}"
            for name, value in macro.items()
        )
        body.append(f"<p class='note'>{summary}.</p>")
    for name, part in members.items():
        direction = (
            higher_is_better.get(name) if isinstance(higher_is_better, dict) else higher_is_better
        )
        body.append(f"<h2>{html.escape(name)} ({html.escape(type(part.metric).__name__)})</h2>")
        body += _metric_body(part, direction, specs, level=3)
    return body


def _document(title: str, body: list[str], specs: list[tuple[str, dict[str, Any]]]) -> str:
    """The HTML page around ``body``, with vega inlined and each chart spec embedded."""
    embeds = "\n".join(
        f"vegaEmbed('#{div}', {_json_script(spec)}, "
        "{renderer: 'svg', actions: false}).catch(showError);"
        for div, spec in specs
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
{_inline_script(_vega_bundle())}
</head>
<body>
{"".join(body)}
<script>
function showError(error) {{
  document.body.insertAdjacentHTML("beforeend", "<pre class='note'>" + String(error) + "</pre>");
}}
{embeds}
</script>
</body>
</html>
"""


def write_report(
    log: str | Path | None,
    output: str | Path,
    *,
    metric: str | Sequence[str],
    batch: str,
    values: str | None = None,
    y_true: str | None = None,
    y_pred: str | None = None,
    stream: str | None = None,
    sample_weight: str | None = None,
    options: dict[str, Any] | None = None,
    title: str | None = None,
    higher_is_better: bool | None = None,
    progress: TextIO | None = None,
) -> Path:
    """Replay a log and write the HTML report: what ``interactive-metrics report`` does.

    Parameters
    ----------
    log : str, Path or None
        A CSV or Parquet file; None for the bundled sample log.
    output : str or Path
        The HTML file to write.
    metric : str or list of str
        A metric name (``mean``, ``binary_accuracy``, ``precision``, ...), or several:
        one section per metric, and with ``stream`` one table of all of them per
        stream (the log is replayed once, into a
        :meth:`MetricCollection.streams() <interactive_metrics.MetricCollection.streams>`).
    batch : str
        The column of batch ids.
    values, y_true, y_pred : str, optional
        The input columns: ``values`` for one-input metrics, ``y_true`` and ``y_pred``
        for metrics of predictions.
    stream, sample_weight : str, optional
        The column of stream keys (adds the per-stream sections) and of weights.
    options : dict, optional
        Arguments of the metric (``{"threshold": 0.7}``); with several metrics, a plain
        name goes to every metric and ``"precision.thresholds"`` to one.
    title : str, optional
        The report's title.
    higher_is_better : bool, optional
        Colours the streams on the bad side of the merged result. By default read
        from the metric's name (errors and losses lower, accuracies and the like
        higher); a metric with no direction (a plain mean) shows streams above and
        below the merged result, none of them "worse".
    progress : text stream, optional
        Where the progress bar goes (e.g. ``sys.stderr``); None for none.

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    CommandError
        A ``ValueError`` saying, on one line, what is wrong with the arguments, the log or
        ``output``; nothing is written. ``output`` is checked before the replay and
        written through a temporary file beside it, so a failed write leaves an earlier
        report as it was.
    """
    names = [metric] if isinstance(metric, str) else list(metric)
    if not names:
        raise CommandError("--metric is missing; pass at least one, e.g. --metric precision")
    keys: dict[str, str] = {}
    for name in names:
        key = _snake(name).lower().replace("-", "_")
        if key in keys:
            raise CommandError(
                f"--metric {name} is given twice ({keys[key]!r} and {name!r}); give each "
                "metric once"
            )
        keys[key] = name
    split = _split_options(dict(options or {}), list(keys))
    built = {}  # by snake-case name: the members, their sections and --option prefixes
    for key, name in keys.items():
        try:
            built[key] = build_metric(name, split[key])
        except CommandError as error:
            if len(names) == 1 or "is not an argument of" not in str(error):
                raise
            raise CommandError(
                f"{error}; with several metrics, a plain --option goes to every one: give it "
                f"to one metric as --option {key}.OPTION=VALUE"
            ) from None
    for name, one in built.items():
        if one.result_shape != ():
            raise CommandError(
                f"--metric {keys[name]} gives a result of shape {one.result_shape} with these "
                "options; the report draws metrics whose result is one number (e.g. precision "
                "with one threshold, or f1_score with --option average=micro)"
            )
    inputs = tuple(dict.fromkeys(n for one in built.values() for n in one.input_names))
    given = {"values": values, "y_true": y_true, "y_pred": y_pred}
    flags = {"values": "--values", "y_true": "--y-true", "y_pred": "--y-pred"}
    for name, one in built.items():
        missing = [flags[n] for n in one.input_names if given.get(n) is None]
        if missing:
            raise CommandError(
                f"--metric {keys[name]} reads {' and '.join(flags[n] for n in one.input_names)}; "
                f"pass {' '.join(m + ' COL' for m in missing)}"
            )
    extra = [flags[name] for name, col in given.items() if col is not None and name not in inputs]
    if extra:
        reads = " and ".join(flags[n] for n in inputs)
        which = f"--metric {names[0]}" if len(names) == 1 else "none of the metrics"
        raise CommandError(
            f"{which} does not read {', '.join(extra)}; "
            + (f"it reads {reads}" if len(names) == 1 else f"they read {reads}")
        )
    columns = {name: str(given[name]) for name in inputs}
    out = Path(output)
    direct = _check_output(out)  # before the replay: a bad -o costs no time
    path = None if log is None else Path(log)
    if path is not None and path.exists() and out.exists() and os.path.samefile(path, out):
        raise CommandError(
            f"-o {str(out)!r} is the LOG itself; writing the report there would replace the "
            "log: give another file name"
        )
    frame = read_log(path)
    bar = Progress(0, progress) if progress is not None else None
    from interactive_metrics.charts.style import higher_is_better as direction
    from interactive_metrics.collection import MetricCollection

    names = list(built)
    target: Metric | MetricCollection = (
        built[names[0]] if len(names) == 1 else MetricCollection(built)
    )
    replayed = replay_log(
        frame,
        target,
        columns,
        batch=batch,
        stream=stream,
        sample_weight=sample_weight,
        progress=bar,
    )
    # None for a metric with no direction (a plain mean)
    directions = {
        name: direction(type(one).__name__) if higher_is_better is None else higher_is_better
        for name, one in built.items()
    }
    source = SAMPLE_LOG if path is None else path.name
    classes = ", ".join(type(one).__name__ for one in built.values())
    document = render_report(
        replayed,
        title=title or f"{classes} of {source}",
        source=source,
        higher_is_better=directions[names[0]] if len(names) == 1 else directions,
    )
    try:
        if direct:
            out.write_text(document, encoding="utf-8")
        else:
            _write_whole(Path(os.path.realpath(out)), document)
    except OSError as error:
        raise CommandError(f"cannot write -o {str(out)!r}: {_one_line(error)}") from None
    return out


def _check_output(out: Path) -> bool:
    """Refuse an output path that cannot be written, before any work; True: write in place.

    A regular file (or a new one) is replaced whole; an existing FIFO or device (such as
    ``/dev/stdout``) is written to directly.
    """
    if out.is_dir():
        raise CommandError(
            f"-o must be a file name, got the directory {str(out)!r}; "
            f"e.g. -o {str(out / 'report.html')!r}"
        )
    if out.exists() and not out.is_file():
        return True
    folder = Path(os.path.realpath(out)).parent
    if not folder.is_dir():
        why = "is not a directory" if folder.exists() else "does not exist; create it first"
        raise CommandError(f"cannot write -o {str(out)!r}: {str(folder)!r} {why}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(
            f"cannot write -o {str(out)!r}: the directory {str(folder)!r} is not writable"
        )
    return False


def _write_whole(target: Path, text: str) -> None:
    """Write ``target`` through a temporary file beside it: a failed write leaves it as it was."""
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as a plain open() would have made it
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- the command line ----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as CommandError: one line, and no usage block above it."""

    def error(self, message: str) -> NoReturn:
        """Raise the error, pointing at ``--help``."""
        raise CommandError(f"{_one_line(message)} (see `{self.prog} --help`)")


class _Once(argparse.Action):
    """Store an option's value; a second, different value is an error (argparse keeps the last)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        seen = namespace.__dict__.setdefault("_given_once", {})
        if self.dest in seen and seen[self.dest] != values:
            first = seen[self.dest]
            raise CommandError(
                f"{option_string} is given twice ({first!r} and {values!r}); give it once"
            )
        seen[self.dest] = values
        setattr(namespace, self.dest, values)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="interactive-metrics",
        description="See what a metric does: replay logged runs into offline HTML reports.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    report = commands.add_parser(
        "report",
        help="replay a CSV/Parquet log and write one offline HTML report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument(
        "log",
        nargs="?",
        metavar="LOG",
        help="a .csv or .parquet file, one row per sample; leave it out to use the bundled "
        "sample log (an anomaly detector on six sensors)",
    )
    report.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="the metric, e.g. mean, sum, binary_accuracy, precision, mean_absolute_error "
        "(list: `interactive-metrics metrics`); repeat it for several metrics in one report",
    )
    report.add_argument(
        "--batch", action=_Once, metavar="COL", help="the column of batch ids (steps)"
    )
    inputs = report.add_argument_group("input columns (give --values, or --y-true and --y-pred)")
    inputs.add_argument(
        "--values", action=_Once, metavar="COL", help="the values, for one-input metrics"
    )
    inputs.add_argument("--y-true", action=_Once, metavar="COL", help="the true labels or targets")
    inputs.add_argument("--y-pred", action=_Once, metavar="COL", help="the predictions or scores")
    report.add_argument(
        "--stream",
        action=_Once,
        metavar="COL",
        help="a column of stream keys (sensor, customer, source): adds the per-stream breakdown",
    )
    report.add_argument(
        "--sample-weight", action=_Once, metavar="COL", help="a column of sample weights"
    )
    report.add_argument(
        "--option",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="an argument of the metric, e.g. --option threshold=0.7 (repeatable); with "
        "several metrics it goes to each of them, or to one as --option precision.thresholds=0.7",
    )
    report.add_argument(
        "-o",
        "--output",
        action=_Once,
        metavar="FILE",
        default="report.html",
        help="where to write the report (default: report.html)",
    )
    report.add_argument("--title", action=_Once, help="the report's title")
    report.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: when stderr is a terminal)",
    )
    commands.add_parser("metrics", help="list the metric names --metric accepts")
    return parser


def _list_metrics(out: TextIO) -> None:
    for name, cls in metric_names().items():
        inputs = " ".join(
            {"values": "--values", "y_true": "--y-true", "y_pred": "--y-pred"}.get(n, n)
            for n in cls.input_names
        )
        needs = "".join(f" --option {o}=..." for o in _required_options(cls))
        out.write(f"{name:34} {inputs}{needs}\n")


PROG = "interactive-metrics"


def _say(message: str) -> None:
    """One line on stderr, as argparse words its errors."""
    try:
        sys.stderr.write(f"{PROG}: error: {_one_line(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or gone: the exit status still tells
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0: success; 2: a bad argument or a bad log (one line on stderr, nothing written);
    1: an error the command did not expect, i.e. a bug (one line asking to report it;
    with the environment variable ``INTERACTIVE_METRICS_TRACEBACK=1``, its traceback).

    Examples
    --------
    >>> main(["report", "--metric", "nonsense", "--values", "x", "--batch", "b"])
    2
    """
    try:
        return _run(argv)
    except CommandError as error:
        _say(str(error))
        return 2
    except SystemExit as done:  # --help, or argparse leaving some other way
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 2
    except KeyboardInterrupt:
        _say("interrupted; no report was written")
        return 130
    except MemoryError:
        _say(
            "out of memory: the log does not fit in this machine's memory; "
            "report on a smaller part of it (fewer rows, or only the columns the report reads)"
        )
        return 1
    except (Exception, pl.exceptions.PanicException) as error:
        if os.environ.get(TRACEBACK_VARIABLE, "") not in ("", "0"):
            raise
        _say(
            f"unexpected {type(error).__name__}: {_shorten(_one_line(error), 300)}; this is a "
            f"bug in {PROG}, please report it with the command you ran "
            f"({TRACEBACK_VARIABLE}=1 shows the traceback)"
        )
        return 1


def _run(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "metrics":
        try:
            _list_metrics(sys.stdout)
        except BrokenPipeError:  # e.g. piped into `head`
            sys.stderr.close()
        return 0
    settings = {
        "metric": args.metric,
        "values": args.values,
        "y_true": args.y_true,
        "y_pred": args.y_pred,
        "batch": args.batch,
        "stream": args.stream,
    }
    if args.log is None:
        if args.metric is None:  # the sample log's own columns, unless told otherwise
            settings = {**settings, **{k: v for k, v in SAMPLE_DEFAULTS.items() if not settings[k]}}
        else:
            settings = {**settings, "batch": settings["batch"] or "batch"}
    for name in ("metric", "batch"):
        if settings[name] is None:
            raise CommandError(
                f"report {args.log} needs --{name} (e.g. --{name} "
                f"{'mean' if name == 'metric' else 'step'})"
            )
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    options = _parse_options(args.option)
    out = write_report(
        args.log,
        args.output,
        metric=settings["metric"],
        batch=settings["batch"],
        values=settings["values"],
        y_true=settings["y_true"],
        y_pred=settings["y_pred"],
        stream=settings["stream"],
        sample_weight=args.sample_weight,
        options=options,
        title=args.title,
        progress=sys.stderr if show else None,
    )
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
