"""Charts: what the spec encodes (to_dict), what it renders (PNG via vl-convert), and scale."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import interactive_metrics as im
from interactive_metrics import charts
from interactive_metrics.charts import style
from interactive_metrics.charts.downsample import bin_edges, keep_rows
from interactive_metrics.history import EVENT_DTYPE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- helpers ------------------------------------------------------------------------------


def units(spec: dict[str, Any], data: str | None = None) -> Iterator[dict[str, Any]]:
    """Every single-mark view of a spec, with the name of the dataset it draws."""
    name = spec.get("data", {}).get("name", data)
    if "mark" in spec:
        yield {**spec, "dataset": name}
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for child in spec.get(key, []):
            yield from units(child, name)


def marks(chart: Any) -> list[tuple[str, list[dict[str, Any]], dict[str, Any]]]:
    """(mark type, rows sent, encoding) of each view of a chart."""
    spec = chart.to_dict()
    out = []
    for unit in units(spec):
        mark = unit["mark"]["type"] if isinstance(unit["mark"], dict) else unit["mark"]
        out.append((mark, spec["datasets"][unit["dataset"]], unit.get("encoding", {})))
    return out


def rows_of(chart: Any, mark: str, index: int = 0) -> list[dict[str, Any]]:
    return [rows for kind, rows, _ in marks(chart) if kind == mark][index]


def encoding_of(chart: Any, mark: str, index: int = 0) -> dict[str, Any]:
    return [enc for kind, _, enc in marks(chart) if kind == mark][index]


def tooltip_fields(encoding: dict[str, Any]) -> list[str]:
    return [t["field"] for t in encoding.get("tooltip", [])]


def render(chart: Any) -> bytes:
    png = charts.to_png(chart, scale=1)
    assert png.startswith(PNG_MAGIC)
    width, height = np.frombuffer(png[16:24], dtype=">u4")
    assert width > 200 and height > 100, (width, height)
    return png


def assert_json_safe(chart: Any) -> dict[str, Any]:
    """The spec is valid JSON: no NaN or Infinity reaches the browser."""
    spec: dict[str, Any] = chart.to_dict()
    json.dumps(spec, allow_nan=False)
    return spec


def fake_history(n: int, *, resets: tuple[int, ...] = (), seed: int = 0) -> pl.DataFrame:
    """A Mean-shaped history of ``n`` steps built with numpy (as replay would produce)."""
    rng = np.random.default_rng(seed)
    count = rng.integers(1, 64, n).astype(float)
    total = rng.normal(0.5, 0.2, n) * count
    event = np.zeros(n, dtype=np.int8)
    event[list(resets)] = 2
    is_reset = event == 2
    batch_total = np.where(is_reset, 0.0, total)
    batch_count = np.where(is_reset, 0.0, count)
    segment = np.cumsum(is_reset)
    frame = pl.DataFrame(
        {
            "step": np.arange(1, n + 1),
            "event": pl.Series(np.array(["update", "merge", "reset"])[event]).cast(EVENT_DTYPE),
            "batch_total": batch_total,
            "batch_count": batch_count,
            "segment": segment,
        }
    ).with_columns(
        pl.col("batch_total").cum_sum().over("segment").alias("running_total"),
        pl.col("batch_count").cum_sum().over("segment").alias("running_count"),
    )
    frame = frame.with_columns(
        (pl.col("batch_total") / pl.col("batch_count")).alias("batch_result"),
        pl.when(pl.col("running_count") > 0)
        .then(pl.col("running_total") / pl.col("running_count"))
        .otherwise(0.0)
        .alias("result"),
    ).with_columns(
        pl.when(pl.col("event") == "reset").then(None).otherwise(pl.col(c)).alias(c)
        for c in ("batch_total", "batch_count", "batch_result")
    )
    return frame.select(im.Mean().history.columns)


@pytest.fixture
def mean_with_reset() -> im.Mean:
    m = im.Mean()
    m.update_state([1, 2, 3])  # total 6, count 3
    m.update_state([10])  # total 10, count 1
    m.update_state([4, 4, 4, 4, 4, 4])  # total 24, count 6
    m.reset_state()
    m.update_state([7, 7])
    return m


# -- packaging ----------------------------------------------------------------------------


def test_import_does_not_load_altair() -> None:
    code = (
        "import sys, interactive_metrics as im, interactive_metrics.charts; "
        "print('altair' in sys.modules, 'vl_convert' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_altair_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "altair", None)
    m = im.Sum()
    m.update_state([1.0])
    with pytest.raises(ImportError, match=r'pip install "interactive-metrics\[charts\]"'):
        charts.batch_sums(m)
    with pytest.raises(ImportError, match="need altair"):
        m.plot()


def test_missing_vl_convert_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    m = im.Sum()
    m.update_state([1.0])
    chart = charts.history(m)
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    with pytest.raises(ImportError, match=r"vl-convert-python.*interactive-metrics\[charts\]"):
        charts.to_png(chart)


# -- batch_sums ---------------------------------------------------------------------------


def test_batch_sums_bars_are_the_batch_totals(mean_with_reset: im.Mean) -> None:
    chart = charts.batch_sums(mean_with_reset)
    spec = assert_json_safe(chart)
    bar_rows = rows_of(chart, "bar")
    bar = next(u for u in units(spec) if u["mark"]["type"] == "bar")
    # the bars view drops reset rows in vega-lite; apply that filter here
    assert {"filter": "(datum.event !== 'reset')"} in bar["transform"]
    drawn = [r for r in bar_rows if r["event"] != "reset"]
    history = mean_with_reset.history.filter(pl.col("event") != "reset")
    assert [r["batch_total"] for r in drawn] == history["batch_total"].to_list()
    assert [r["batch_total"] for r in drawn] == [6.0, 10.0, 24.0, 14.0]  # by hand
    assert [r["step"] for r in drawn] == [1, 2, 3, 5]
    assert tooltip_fields(bar["encoding"]) == [
        "step",
        "event",
        "batch_total",
        "batch_count",
        "running_total",
    ]
    line = encoding_of(chart, "line")
    assert line["y"]["field"] == "running_total"
    assert [r["running_total"] for r in rows_of(chart, "line")] == [6.0, 16.0, 40.0, 0.0, 14.0]
    rule_rows = rows_of(chart, "rule")
    assert rule_rows == [{"step": 4, "event": "reset"}]
    assert spec["resolve"]["scale"]["x"] == "shared"
    assert any(p.get("bind") == "scales" for p in spec["params"])  # zoom on steps
    render(chart)


def test_batch_sums_of_a_sum_has_no_weight_and_merges_are_bars() -> None:
    a, b = im.Sum(), im.Sum()
    a.update_state([1, 3, 5, 7])
    a.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    b.update_state([100.0])
    a.merge_state([b])
    chart = charts.batch_sums(a)
    rows = rows_of(chart, "bar")
    assert [(r["event"], r["batch_total"]) for r in rows] == [
        ("update", 16.0),
        ("update", 4.0),
        ("merge", 100.0),
    ]
    assert "batch_count" not in tooltip_fields(encoding_of(chart, "bar"))
    assert rows_of(chart, "rule") == [{"step": 3, "event": "merge"}]
    render(chart)


def test_batch_sums_bins_long_histories_keeping_extremes() -> None:
    frame = fake_history(20_000, resets=(7_000,))
    frame = frame.with_columns(
        pl.when(pl.col("step") == 12_345).then(999.0).otherwise("batch_total").alias("batch_total")
    )
    chart = charts.batch_sums(frame)
    assert_json_safe(chart)
    bins = rows_of(chart, "bar")
    batches = frame.filter(pl.col("event") != "reset")
    assert sum(b["batches"] for b in bins) == batches.height
    assert len(bins) == 320  # half the default width (640 px) in pixels
    # each bin's extremes and sum, against numpy on the same consecutive batches
    values = batches["batch_total"].to_numpy()
    starts = np.cumsum([0] + [b["batches"] for b in bins[:-1]])
    for b, start in zip(bins[::37], starts[::37], strict=True):
        chunk = values[start : start + b["batches"]]
        assert b["smallest"] == chunk.min() and b["largest"] == chunk.max()
        assert b["bin_total"] == pytest.approx(chunk.sum())
    assert max(b["largest"] for b in bins) == 999.0
    assert sum(b["bin_total"] for b in bins) == pytest.approx(values.sum())
    render(chart)


# -- sum_vs_mean --------------------------------------------------------------------------


def test_sum_vs_mean_pooled_mean_and_mean_of_batch_means() -> None:
    m = im.Mean()
    m.update_state([1.0, 1.0, 1.0, 1.0])
    m.update_state([5.0])
    m.update_state([2.0, 4.0], sample_weight=[1.0, 3.0])  # batch mean 14 / 4 = 3.5
    chart = charts.sum_vs_mean(m)
    assert_json_safe(chart)
    rows = rows_of(chart, "line")
    # by hand: pooled = Σw·v / Σw; mean of means = plain average of the batch means
    assert [r["running_sum"] for r in rows] == [4.0, 9.0, 23.0]
    assert [r["running mean (pooled)"] for r in rows] == [1.0, 9 / 5, 23 / 9]
    assert [r["batch mean"] for r in rows] == [1.0, 5.0, 3.5]
    assert [r["mean of batch means"] for r in rows] == pytest.approx([1.0, 3.0, 9.5 / 3])
    assert rows[-1]["running mean (pooled)"] == m.result()
    kinds = [kind for kind, _, _ in marks(chart)]
    assert kinds == ["line", "circle", "line"]
    render(chart)


def test_sum_vs_mean_restarts_after_reset_and_skips_weightless_batches(
    mean_with_reset: im.Mean,
) -> None:
    mean_with_reset.update_state([3.0, 3.0], sample_weight=[0.0, 0.0])
    mean_with_reset.update_state([1.0])
    rows = rows_of(charts.sum_vs_mean(mean_with_reset), "line")
    by_step = {r["step"]: r for r in rows}
    assert by_step[3]["mean of batch means"] == pytest.approx((2 + 10 + 4) / 3)
    assert by_step[4]["running mean (pooled)"] is None  # reset: no weight yet
    assert by_step[5]["mean of batch means"] == 7.0
    assert by_step[6]["batch mean"] is None  # all weights zero: no mean
    assert by_step[6]["mean of batch means"] == 7.0
    assert by_step[7]["mean of batch means"] == 4.0  # (7 + 1) / 2
    assert by_step[7]["running mean (pooled)"] == pytest.approx(15 / 3)
    render(charts.sum_vs_mean(mean_with_reset))


def test_sum_vs_mean_needs_a_count_field() -> None:
    m = im.Sum()
    m.update_state([1.0, 2.0])
    with pytest.raises(ValueError, match=r"needs a weight field `count`.*got fields \('total',\)"):
        charts.sum_vs_mean(m)


# -- history ------------------------------------------------------------------------------


def test_history_of_any_column(mean_with_reset: im.Mean) -> None:
    chart = charts.history(mean_with_reset, ["batch_result", "result"])
    spec = assert_json_safe(chart)
    rows = rows_of(chart, "line")
    assert [r["result"] for r in rows] == mean_with_reset.history["result"].to_list()
    assert [r["batch_result"] for r in rows] == [2.0, 10.0, 4.0, None, 7.0]
    folds = [u["transform"] for u in units(spec) if u["mark"]["type"] == "line"]
    assert folds == [  # the batch line first (under), then the running line
        [{"fold": ["batch_result"], "as": ["series", "value"]}],
        [{"fold": ["result"], "as": ["series", "value"]}],
    ]
    line = next(u for u in units(spec) if u["mark"]["type"] == "line")
    assert line["encoding"]["color"]["field"] == "series"
    assert {p["name"] for p in spec["params"]} >= {"pick_series", "hover_step", "zoom_steps"}
    legend_pick = next(p for p in spec["params"] if p["name"] == "pick_series")
    assert legend_pick["bind"] == "legend"
    # a state field name means its running column
    total = rows_of(charts.history(mean_with_reset, "total"), "line")
    assert [r["running_total"] for r in total] == [6.0, 16.0, 40.0, 0.0, 14.0]
    render(chart)


def test_history_of_an_array_column_draws_one_line_per_element() -> None:
    frame = pl.DataFrame(
        {
            "step": [1, 2],
            "event": pl.Series(["update", "update"]).cast(EVENT_DTYPE),
            "result": pl.Series([[0.5, 1.0], [0.25, 0.75]], dtype=pl.Array(pl.Float64, 2)),
        }
    )
    chart = charts.history(frame)
    rows = rows_of(chart, "line")
    assert [(r["result 0"], r["result 1"]) for r in rows] == [(0.5, 1.0), (0.25, 0.75)]


def test_history_unknown_field_lists_the_choices() -> None:
    m = im.Mean()
    m.update_state([1.0])
    with pytest.raises(ValueError, match=r"`field` must name.*got 'loss'.*'running_total'"):
        charts.history(m, "loss")
    with pytest.raises(TypeError, match="`metric` must be a metric"):
        charts.history([1, 2, 3])


# -- edge cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["history", "batch_sums", "sum_vs_mean"])
def test_empty_metric_gets_a_message_chart(kind: str) -> None:
    chart = im.Mean().plot(kind)
    (mark, rows, _), *_ = marks(chart)
    assert mark == "text"
    assert "no events recorded yet" in rows[0]["message"]
    render(chart)


def test_history_off_gets_a_message_chart() -> None:
    m = im.Mean(history=False)
    m.update_state([1.0])
    assert marks(charts.batch_sums(m))[0][0] == "text"


@pytest.mark.parametrize("kind", ["history", "batch_sums", "sum_vs_mean"])
def test_single_step_draws_points(kind: str) -> None:
    m = im.Mean()
    m.update_state([2.0, 4.0])
    chart = m.plot(kind)
    line = encoding_of(chart, "line")
    assert line["x"]["field"] == "step"
    spec = chart.to_dict()
    line_mark = next(u["mark"] for u in units(spec) if u["mark"]["type"] == "line")
    assert line_mark["point"]  # one point would be invisible as a line
    render(chart)


def test_all_zero_weights() -> None:
    m = im.Mean()
    m.update_state([1.0, 2.0], sample_weight=[0.0, 0.0])
    m.update_state([3.0], sample_weight=[0.0])
    chart = charts.sum_vs_mean(m)
    assert_json_safe(chart)
    rows = rows_of(chart, "line")
    assert all(r["batch mean"] is None for r in rows)
    assert all(r["running mean (pooled)"] is None for r in rows)
    assert [r["running_sum"] for r in rows] == [0.0, 0.0]
    assert "without weight" in json.dumps(chart.to_dict()["title"])
    render(chart)
    render(charts.batch_sums(m))


def test_nan_results_become_nulls_and_are_counted() -> None:
    m = im.Mean()
    m.update_state([1.0, np.nan])
    m.update_state([2.0])
    chart = charts.history(m)
    spec = assert_json_safe(chart)
    assert [r["result"] for r in rows_of(chart, "line")] == [None, None]
    assert "2 NaN or infinite value(s) are not drawn" in json.dumps(spec["title"])
    render(chart)
    assert_json_safe(charts.sum_vs_mean(m))
    assert_json_safe(charts.batch_sums(m))


def test_infinite_results_of_a_fresh_min() -> None:
    m = im.Min()
    m.update_state([3.0, 1.0])
    m.reset_state()  # the running min is +inf again
    chart = charts.history(m)
    assert [r["result"] for r in rows_of(chart, "line")] == [1.0, None]


# -- long histories -----------------------------------------------------------------------


def test_fake_history_has_the_real_schema() -> None:
    m = im.Mean()
    m.update_state([1.0, 2.0])
    m.reset_state()
    assert fake_history(10, resets=(3,)).schema == m.history.schema


@pytest.mark.parametrize("kind", ["history", "batch_sums", "sum_vs_mean"])
def test_long_history_is_downsampled_and_small(kind: str) -> None:
    frame = fake_history(300_000, resets=(100_000, 200_000))
    spike = frame["running_total"].arg_max()
    chart = charts.METRIC_KINDS[kind](frame)
    spec = assert_json_safe(chart)
    assert len(json.dumps(spec)) < 1_000_000
    for rows in spec["datasets"].values():
        assert len(rows) <= 2_100  # far below altair's 5,000-row limit
    drawn = [r for _, rows, _ in marks(chart) for r in rows if "event" in r]
    assert {r["step"] for r in drawn if r["event"] == "reset"} == {100_001, 200_001}
    if kind != "history":
        assert frame["step"][spike] in {r["step"] for r in drawn}  # the extreme is kept
    assert "steps drawn" in json.dumps(spec["title"])


def test_keep_rows_keeps_every_bin_extreme() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=10_007)
    y[[10, 5000]] = np.nan
    kept = keep_rows([y], bins=50)
    starts = bin_edges(len(y), 50)
    assert len(starts) == 50
    for start, end in zip(starts, [*starts[1:], len(y)], strict=True):
        chunk = y[start:end]
        mine = set(kept[(kept >= start) & (kept < end)])
        assert {start, end - 1} <= mine
        assert start + int(np.nanargmin(chunk)) in mine
        assert start + int(np.nanargmax(chunk)) in mine
        if np.isnan(chunk).any():
            assert start + int(np.flatnonzero(np.isnan(chunk))[0]) in mine
    assert len(kept) <= 50 * 5


def test_keep_rows_per_group_and_always() -> None:
    groups = np.repeat([0, 1, 2], [1000, 10, 500])
    y = np.arange(1510, dtype=float)
    always = np.zeros(1510, dtype=bool)
    always[[3, 777]] = True
    kept = keep_rows([y], bins=5, groups=groups, always=always)
    assert {0, 999, 1000, 1009, 1010, 1509, 3, 777} <= set(kept)
    assert set(range(1000, 1010)) <= set(kept)  # a group shorter than bins keeps all rows
    assert len(kept) < 60


def test_downsample_leaves_short_frames_alone() -> None:
    frame = fake_history(50)
    assert charts.downsample(frame, ["result"], max_rows=50) is frame
    with pytest.raises(ValueError, match="`max_rows` must be a positive integer, got 0"):
        charts.downsample(frame, ["result"], max_rows=0)


# -- streams ------------------------------------------------------------------------------


@pytest.fixture
def sensors() -> im.Streams:
    """Five healthy sensors and a small one that fails: the average barely moves."""
    s = im.Streams(im.Mean(name="accuracy"))
    rng = np.random.default_rng(7)
    names = np.array(["north", "south", "east", "west", "roof", "cellar"])
    sizes = np.array([40, 30, 15, 8, 5, 2])
    hit_rate = np.array([0.93, 0.91, 0.9, 0.92, 0.89, 0.2])
    for _ in range(20):
        keys = np.repeat(names, sizes)
        hits = (rng.random(len(keys)) < np.repeat(hit_rate, sizes)).astype(float)
        s.update_state(hits, stream=keys)
    return s


def test_stream_breakdown_rules_are_merged_and_macro(sensors: im.Streams) -> None:
    chart = charts.stream_breakdown(sensors)
    spec = assert_json_safe(chart)
    kinds = [kind for kind, _, _ in marks(chart)]
    assert kinds == ["rule", "circle", "rule", "bar", "text"]
    rules = marks(chart)[2][1]
    assert rules[0]["value"] == sensors.result()
    assert rules[1]["value"] == sensors.macro_result()
    breakdown = sensors.breakdown()
    # macro, independently: the plain mean of the per-stream results
    assert rules[1]["value"] == pytest.approx(breakdown["result"].mean())
    dots = rows_of(chart, "circle")
    assert {r["stream"]: r["result"] for r in dots} == dict(
        zip(breakdown["stream"], breakdown["result"], strict=True)
    )
    assert {r["stream"]: r["share"] for r in dots} == dict(
        zip(breakdown["stream"], breakdown["share"], strict=True)
    )
    order = encoding_of(chart, "circle")["y"]["sort"]  # "accuracy": higher is better
    assert order == breakdown.sort("result")["stream"].to_list()  # worst first
    assert spec["hconcat"][0]["layer"][0]["encoding"]["x2"]["field"] == "result"
    render(chart)


def test_stream_breakdown_worst_first_when_direction_is_known(sensors: im.Streams) -> None:
    chart = sensors.plot("breakdown", higher_is_better=True)
    dots = rows_of(chart, "circle")
    order = encoding_of(chart, "circle")["y"]["sort"]
    assert order[0] == "cellar"
    assert {r["stream"]: r["side"] for r in dots}["cellar"] == "worse than merged"
    lower = charts.stream_breakdown(sensors, higher_is_better=False)
    assert encoding_of(lower, "circle")["y"]["sort"][-1] == "cellar"
    render(chart)


def test_stream_breakdown_many_streams_keeps_the_farthest() -> None:
    s = im.Streams(im.Mean())
    values = np.full(200, 0.5)
    values[17] = 0.0
    values[150] = 1.0
    s.update_state(values, stream=np.arange(200))
    chart = charts.stream_breakdown(s, max_streams=10)
    shown = {r["stream"] for r in rows_of(chart, "circle")}
    assert len(shown) == 10 and {"17", "150"} <= shown
    assert "10 of 200 streams shown" in json.dumps(chart.to_dict()["title"])


def test_stream_breakdown_from_a_dataframe() -> None:
    table = pl.DataFrame(
        {"stream": ["a", "b", "c"], "weight": [90.0, 10.0, 0.0], "result": [0.9, 0.2, 0.0]}
    )
    with pytest.raises(ValueError, match="`merged` is needed"):
        charts.stream_breakdown(table)
    chart = charts.stream_breakdown(table, merged=0.83)
    rules = marks(chart)[2][1]
    assert [r["value"] for r in rules] == [0.83, pytest.approx(0.55)]  # c has no weight
    assert [r["share"] for r in rows_of(chart, "circle")] == [0.9, 0.1, 0.0]


def test_stream_breakdown_empty_and_bad_input() -> None:
    chart = charts.stream_breakdown(im.Streams(im.Mean()))
    assert marks(chart)[0][0] == "text"
    render(chart)
    with pytest.raises(TypeError, match="`streams` must be a Streams object"):
        charts.stream_breakdown(im.Mean())


def test_stream_history_lines_and_merged(sensors: im.Streams) -> None:
    chart = sensors.plot("history")
    spec = assert_json_safe(chart)
    rows = rows_of(chart, "line")
    history = sensors.history
    for stream in ("north", "cellar"):
        mine = [r["result"] for r in rows if r["stream"] == stream]
        assert mine == history.filter(pl.col("stream") == stream)["result"].to_list()
    merged = [r["result"] for r in rows if r["stream"] == "(merged)"]
    assert merged == sensors.merged().history["result"].to_list()
    assert spec["encoding"]["color"]["scale"]["range"][-1] == style.MERGED_COLOR
    pick = next(p for p in spec["params"] if p["name"] == "pick_stream")
    assert pick["bind"] == "legend"
    render(chart)


def test_stream_history_many_streams_and_bad_field() -> None:
    s = im.Streams(im.Mean())
    for step in range(3):
        s.update_state(np.arange(30.0) + step, stream=np.arange(30))
    chart = charts.stream_history(s, max_streams=4, merged=False)
    shown = {r["stream"] for r in rows_of(chart, "line")}
    assert shown == {"0", "1", "28", "29"}  # farthest from the median last value
    with pytest.raises(ValueError, match=r"`field` must name.*got 'loss'"):
        charts.stream_history(s, "loss")


# -- plot and export ----------------------------------------------------------------------


def test_plot_delegates_and_rejects_unknown_kinds(mean_with_reset: im.Mean) -> None:
    assert (
        mean_with_reset.plot("batch_sums").to_dict() == charts.batch_sums(mean_with_reset).to_dict()
    )
    assert mean_with_reset.plot().to_dict() == charts.history(mean_with_reset).to_dict()
    with pytest.raises(ValueError, match=r"`kind` must be one of \['history', 'batch_sums'"):
        mean_with_reset.plot("pie")
    with pytest.raises(ValueError, match=r"`kind` must be one of \['breakdown', 'history'\]"):
        im.Streams(im.Mean()).plot("sums")


def test_svg_export_and_chart_save(mean_with_reset: im.Mean, tmp_path: Any) -> None:
    chart = charts.sum_vs_mean(mean_with_reset)
    svg = charts.to_svg(chart, tmp_path / "chart.svg")
    assert svg.lstrip().startswith("<svg") and "running sum" in svg
    assert (tmp_path / "chart.svg").read_text(encoding="utf-8") == svg
    charts.to_png(chart, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_MAGIC)
    chart.save(tmp_path / "saved.svg")  # altair's own save works on our charts
    assert "<svg" in (tmp_path / "saved.svg").read_text(encoding="utf-8")
    with pytest.raises(TypeError, match="`chart` must be an altair chart"):
        charts.to_png("not a chart")


# -- the gallery --------------------------------------------------------------------------


def test_gallery_has_every_chart_as_png_and_svg() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs"
    script = (docs / "gallery" / "make_gallery.py").read_text(encoding="utf-8")
    names = [
        line.split('"')[1]
        for line in script.splitlines()
        if '": im.charts.' in line or '": dark(im.charts.' in line
    ]
    assert len(names) == 19
    page = (docs / "charts.md").read_text(encoding="utf-8")
    for name in names:
        png = docs / "gallery" / f"{name}.png"
        svg = docs / "gallery" / f"{name}.svg"
        assert png.read_bytes().startswith(PNG_MAGIC), name
        assert svg.read_text(encoding="utf-8").lstrip().startswith("<svg"), name
        assert f"(gallery/{name}.png)" in page, f"{name} is not shown in docs/charts.md"


# -- style: the shared conventions --------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=4), min_size=1, max_size=25, unique=True), st.data())
def test_style_stream_keeps_its_colour_whatever_is_selected(keys: list[str], data: Any) -> None:
    everyone = style.stream_colors(keys, keys)
    subset = data.draw(st.lists(st.sampled_from(keys), unique=True))
    assert style.stream_colors(subset, keys) == [everyone[keys.index(k)] for k in subset]
    assert everyone == [style.PALETTE[i % len(style.PALETTE)] for i in range(len(keys))]


def test_style_colour_scale_matches_chart_labels() -> None:
    scale = style.color_scale([2, None], [1, 2, None]).to_dict()
    assert scale == {"domain": ["2", "(null)"], "range": [style.PALETTE[1], style.PALETTE[2]]}
    assert style.WORSE_LABEL == "worse than merged" and style.BETTER_LABEL == "better than merged"
    assert style.WORSE_COLOR not in (style.BETTER_COLOR, style.NEUTRAL_COLOR)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.879107, "0.8791"),
        (100000, "100,000"),
        (100000.0, "100,000"),
        (1234567.891, "1,234,568"),
        (0.98612, "0.9861"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (3, "3"),
        (2.5e-7, "2.5e-07"),
        (float("inf"), "∞"),
        (None, "–"),
        (np.float64(0.5), "0.5"),
        (np.int64(12000), "12,000"),
    ],
)
def test_style_format_number(value: Any, text: str) -> None:
    assert style.format_number(value) == text


def test_style_format_share_and_titles() -> None:
    assert style.format_share(0.04992) == "5.0%"
    assert style.title_for("precision", "running result") == "Precision over steps"
    assert style.title_for("precision", "precision") == "Precision"
    assert style.title_for("precision", "precision recall") == "Precision: recall"
    assert style.column_label("batch_result") == "batch result"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=30),
    st.booleans(),
)
@example([5e-324], False)  # a subnormal value: its 5% window underflowed to nothing
@example([5e-324, 1e-323], False)
def test_style_value_domain_holds_the_data_off_the_frame(values: list[float], zero: bool) -> None:
    domain = style.value_domain(values, include_zero=zero)
    assert domain is not None
    low, high = domain
    assert low < high
    assert low <= min(values) and max(values) <= high
    if zero:
        assert low <= 0 <= high
    if max(values) > min(values):  # end points are never on the frame (except zero)
        assert (low < min(values) or (zero and min(values) == 0)) and (
            high > max(values) or (zero and max(values) == 0)
        )


def test_style_value_domain_follows_the_data_not_zero_to_one() -> None:
    assert style.value_domain([0.985, 0.986, 0.987]) == (
        0.98488,
        0.98712,
    )  # span 0.002, 6% of it each side
    low, high = style.value_domain([0.9])  # one step: not down to -0.1
    assert 0.8 < low < 0.9 < high < 1.0
    assert style.value_domain([3.0, 5.0], include_zero=True) == (0.0, 5.3)  # span 0..5


def test_style_use_theme_dark_and_back() -> None:
    import altair as alt

    before = alt.theme.active
    try:
        style.use_theme("dark")
        assert alt.theme.active == "interactive_metrics_dark"
        assert alt.theme.get()()["config"]["background"] == "#1e1e1e"  # type: ignore[misc]
        with pytest.raises(ValueError, match="`name` must be 'light', 'dark'"):
            style.use_theme("neon")
    finally:
        alt.theme.enable(before)


# -- issue 13: no hidden data, sensible axes, one rule for sum_vs_mean ---------------------


def bar_views(chart: Any) -> list[tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]]:
    """(rows, encoding, transforms) of every bar view of a chart."""
    spec = chart.to_dict()
    return [
        (spec["datasets"][u["dataset"]], u["encoding"], u.get("transform", []))
        for u in units(spec)
        if (u["mark"]["type"] if isinstance(u["mark"], dict) else u["mark"]) == "bar"
    ]


def x_domain(chart: Any) -> list[float]:
    spec = chart.to_dict()
    domains = {
        tuple(u["encoding"]["x"]["scale"]["domain"])
        for u in units(spec)
        if "scale" in u.get("encoding", {}).get("x", {})
    }
    assert len(domains) == 1, domains  # every panel shares one step domain
    return list(domains.pop())


@pytest.mark.parametrize("n", [2, 3, 50, 320, 321, 1_000, 54_321, 1_000_000])
def test_batch_sums_every_bin_has_a_visible_bar_across_the_axis(n: int) -> None:
    frame = fake_history(n, resets=(n // 2,) if n > 10 else ())
    chart = charts.batch_sums(frame)
    batches = frame.filter(pl.col("event") != "reset")["step"].to_numpy()
    low, high = x_domain(chart)
    pixels_per_step = 640 / (high - low)
    for rows, encoding, transforms in bar_views(chart):
        assert encoding["x"]["field"] == "left" and encoding["x2"]["field"] == "right"
        if transforms:  # one bar per batch, resets filtered out by vega
            rows = [r for r in rows if r["event"] != "reset"]
        left = np.array([r["left"] for r in rows])
        right = np.array([r["right"] for r in rows])
        assert np.all((right - left) * pixels_per_step >= 1.0)  # at least a pixel wide
        assert np.all(left[1:] >= right[:-1])  # no overlap
        # every batch lies in exactly one bar
        inside = np.searchsorted(left, batches, side="right") - 1
        assert np.all(inside >= 0) and np.all(batches <= right[inside])
        if "batches" in rows[0]:  # binned: the bins touch and count every batch once
            np.testing.assert_array_equal(left[1:], right[:-1])
            assert sum(r["batches"] for r in rows) == len(batches)
        assert low <= left[0] and right[-1] <= high


def test_batch_sums_300_batches_render_300_bars() -> None:
    """Issue 13's chart: 300 batches used to show as ~20 spikes in 280 bins."""
    chart = charts.batch_sums(fake_history(300))
    ((rows, _, _),) = bar_views(chart)
    assert len(rows) == 300 and all(r["right"] - r["left"] == pytest.approx(0.84) for r in rows)
    render(chart)
    binned = charts.batch_sums(fake_history(300), width=400)  # 200 bins: touching bars
    dark, light = bar_views(binned)[0][0], bar_views(binned)[1][0]
    assert len(dark) == len(light) == 200
    render(binned)


def accuracy_near(rate: float, steps: int, seed: int = 0) -> im.BinaryAccuracy:
    rng = np.random.default_rng(seed)
    metric = im.BinaryAccuracy()
    for _ in range(steps):
        truth = rng.integers(0, 2, 200)
        metric.update_state(truth, np.where(rng.random(200) < rate, truth, 1 - truth))
    return metric


def y_domains(chart: Any) -> list[list[float]]:
    return [
        u["encoding"]["y"]["scale"]["domain"]
        for u in units(chart.to_dict())
        if "domain" in u.get("encoding", {}).get("y", {}).get("scale", {})
    ]


def test_axes_follow_the_data() -> None:
    metric = accuracy_near(0.986, 40)
    results = metric.history["result"]
    (low, high), *_ = y_domains(charts.history(metric))
    assert results.min() - 0.01 < low < results.min() and results.max() < high < 1.0
    # positive data: no axis below zero; sums from zero
    mean = im.Mean()
    for batch in ([0.2, 0.3], [0.25], [0.31, 0.29, 0.3]):
        mean.update_state(batch)
    (low, high), *_ = y_domains(charts.history(mean))
    assert 0.24 < low < 0.25 and 0.275 < high < 0.28  # running means 0.25, 0.25, 0.275
    sum_panel, mean_panel = y_domains(charts.sum_vs_mean(mean))[:2]
    assert sum_panel[0] == 0.0 and mean_panel[0] > 0.1
    for kind in ("history", "batch_sums", "sum_vs_mean"):
        spec = json.dumps(mean.plot(kind).to_dict())
        assert '"format": ",d"' in spec and '"tickMinStep": 1' in spec  # integer step ticks


@pytest.mark.parametrize("kind", ["history", "batch_sums", "sum_vs_mean"])
def test_one_step_charts_have_a_window_not_a_wall(kind: str, tmp_path: Path) -> None:
    metric = im.BinaryAccuracy()
    metric.update_state([1, 0, 1, 1], [1, 0, 1, 1])  # accuracy 1 after one step
    chart = metric.plot(kind)
    low, high = x_domain(chart)
    assert high - low >= 10 and low < 1 < high  # one bar is under a tenth of the plot
    for y_low, y_high in y_domains(chart):
        assert y_low >= 0 or kind != "history"  # an accuracy of 1 is not drawn down to -0.1
        assert y_low < y_high
    if kind == "history":
        ((y_low, y_high),) = {tuple(d) for d in y_domains(chart)}
        assert 0.9 < y_low < 1.0 < y_high < 1.01
    charts.to_png(chart, tmp_path / f"{kind}.png", scale=1)


def test_sum_vs_mean_is_there_for_every_mean_shaped_metric() -> None:
    """One rule (mean_pair) decides; plot() and the report both use it."""
    metric = accuracy_near(0.9, 5)
    chart = metric.plot("sum_vs_mean")  # used to raise "pass `total=`"
    rows = rows_of(chart, "line")
    history = metric.history
    np.testing.assert_allclose(
        [r["running mean (pooled)"] for r in rows], history["result"].to_numpy(), rtol=1e-12
    )
    np.testing.assert_allclose([r["running_sum"] for r in rows], history["running_correct"])
    assert charts.mean_pair(im.MeanSquaredError()) == ("squared_error_sum", "count")
    assert charts.mean_pair(metric.history) == ("correct", "count")
    for metric_without in (im.Sum(), im.Precision(), im.Min()):
        assert charts.mean_pair(metric_without) is None
    precision = im.Precision()
    precision.update_state([1, 0], [1, 1])
    with pytest.raises(ValueError, match="needs a weight field `count`"):
        precision.plot("sum_vs_mean")


def test_history_smoothing_is_tensorboards_debiased_average() -> None:
    metric = accuracy_near(0.8, 30)
    chart = charts.history(metric, "batch_result", smoothing=0.6)
    rows = rows_of(chart, "line")
    raw = np.array([r["batch_result"] for r in rows])
    expected, last, weight = [], 0.0, 0.0  # TensorBoard's loop, by hand
    for value in raw:
        last = last * 0.6 + (1 - 0.6) * value
        weight = weight * 0.6 + (1 - 0.6)
        expected.append(last / weight)
    np.testing.assert_allclose([r["batch_result_smoothed"] for r in rows], expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"`smoothing` must be a number in \[0, 1\)"):
        charts.history(metric, smoothing=1.0)
    render(chart)


def test_a_stream_keeps_its_colour_in_every_chart_and_selection(sensors: im.Streams) -> None:
    everyone = sensors.streams
    full = charts.stream_history(sensors).to_dict()["encoding"]["color"]["scale"]
    colour_of = dict(zip(full["domain"], full["range"], strict=True))
    assert [colour_of[k] for k in everyone] == list(style.PALETTE[: len(everyone)])
    few = charts.stream_history(sensors, max_streams=2).to_dict()["encoding"]["color"]["scale"]
    assert len(few["domain"]) == 3  # two streams and the merged line
    for key, colour in zip(few["domain"], few["range"], strict=True):
        assert colour == colour_of[key]
    sensors.update_state([1.0], stream=["attic"])  # a new stream takes the next colour
    later = charts.stream_history(sensors).to_dict()["encoding"]["color"]["scale"]
    assert dict(zip(later["domain"], later["range"], strict=True)) == {
        **colour_of,
        "attic": style.PALETTE[6],
    }


def test_worse_has_one_word_and_one_colour(sensors: im.Streams) -> None:
    for chart in (charts.stream_breakdown(sensors), sensors.plot(higher_is_better=True)):
        scale = encoding_of(chart, "circle")["color"]["scale"]
        assert scale["domain"][0] == style.WORSE_LABEL
        assert scale["range"][0] == style.WORSE_COLOR
        assert {r["stream"]: r["side"] for r in rows_of(chart, "circle")}["cellar"] == (
            style.WORSE_LABEL
        )
    plain = im.Streams(im.Mean())  # a plain mean has no direction: above/below, never "worse"
    plain.update_state([1.0, 2.0, 6.0], stream=["a", "b", "a"])
    scale = encoding_of(charts.stream_breakdown(plain), "circle")["color"]["scale"]
    assert scale["domain"] == ["above merged", "below merged"]
    assert style.WORSE_COLOR not in scale["range"]
    text = json.dumps(charts.stream_breakdown(sensors).to_dict())
    assert "below merged" not in text and "#f58518" not in text


def test_report_tables_and_titles_read_as_prose(tmp_path: Path) -> None:
    import re

    from interactive_metrics import cli

    out = tmp_path / "report.html"
    cli.write_report(
        None, out, metric="precision", y_true="y_true", y_pred="score", batch="batch",
        stream="stream",
    )  # fmt: skip
    html = out.read_text(encoding="utf-8")
    title = "Precision of the bundled sample log"
    assert html.count(f"<h1>{title}</h1>") == 1
    subtitle = re.search(r"<p class='sub'>(.*?)</p>", html)
    assert subtitle is not None and title not in subtitle.group(1)
    assert "100,000 rows in 200 batches" in subtitle.group(1)
    assert "<b>100,000</b><span>rows</span>" in html  # thousands separators
    headers = re.findall(r"<th>([^<]+)</th>", html)
    assert "contribution" not in headers  # all null for a precision: dropped, header too
    assert headers[:3] == ["stream", "weight", "share of weight"]
    rows = re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", html)
    assert len(rows) == 6
    breakdown = (
        im.Streams(im.Precision())
        .replay(
            im.data.anomaly_log(), y_true="y_true", y_pred="score", batch="batch", stream="stream"
        )
        .breakdown()
    )
    share_of = dict(zip(breakdown["stream"].cast(pl.String), breakdown["share"], strict=True))
    for stream, cells in rows:
        shown = re.findall(r"<td class='num'[^>]*>([^<]+)</td>", cells)
        assert shown[1] == f"{share_of[stream]:.1%}"  # share as a percentage
        assert all(len(cell.replace(",", "").replace(".", "")) <= 6 for cell in shown)
    assert [stream for stream, _ in rows][0] == "pump_b"  # the worst first


# -- issue 16: ROC and precision-recall curves from the counts per threshold ---------------


def scored_batches(seed: int = 3, n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, scores on a grid that never hits a threshold (odd thousandths), weights."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    score = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 0.999)
    score = (np.floor(score * 500) * 2 + 1) / 1000  # 0.001, 0.003, ...: no threshold i/200
    weight = rng.integers(1, 4, n).astype(float)
    return y, score, weight


def oracle_counts(y: np.ndarray, score: np.ndarray, w: np.ndarray, t: np.ndarray) -> Any:
    """TP, FP, TN, FN at each threshold from the raw data: predicted positive is score > t."""
    above = score[None, :] > t[:, None]
    tp = (above * (w * y)).sum(axis=1)
    fp = (above * (w * (1 - y))).sum(axis=1)
    return tp, fp, (w * (1 - y)).sum() - fp, (w * y).sum() - tp


def curve_view(chart: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows and encoding of the curves' line layer (coloured by curve)."""
    (view,) = [
        (rows, enc)
        for kind, rows, enc in marks(chart)
        if kind == "line" and enc.get("color", {}).get("field") == "curve"
    ]
    return view


def curve_rows(chart: Any) -> list[dict[str, Any]]:
    return curve_view(chart)[0]


@pytest.mark.parametrize(
    "make",
    [
        lambda: im.AUC(num_thresholds=201),
        lambda: im.AUC(num_thresholds=50, curve="PR"),
        lambda: im.PrecisionAtRecall(0.8, num_thresholds=101),
        lambda: im.SensitivityAtSpecificity(0.7),
    ],
)
def test_curve_points_are_sklearns_at_the_same_thresholds(make: Any) -> None:
    from sklearn.metrics import precision_recall_curve, roc_curve

    y, score, w = scored_batches()
    metric = make()
    for part in np.array_split(np.arange(len(y)), 4):  # several batches: counts add up
        metric.update_state(y[part], score[part], sample_weight=w[part])
    t = np.asarray(metric.threshold_values)
    tp, fp, tn, fn = oracle_counts(y, score, w, t)
    table = charts.threshold_table(metric)
    np.testing.assert_allclose(table["true_positives"].to_numpy(), tp)
    np.testing.assert_allclose(table["false_positives"].to_numpy(), fp)
    np.testing.assert_allclose(table["true_negatives"].to_numpy(), tn)
    np.testing.assert_allclose(table["false_negatives"].to_numpy(), fn)
    # sklearn predicts positive at score >= s: at threshold t, s is the smallest score above t
    fpr, tpr, roc_t = roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    precision, recall, pr_t = precision_recall_curve(y, score, sample_weight=w)
    roc_rows = {r["threshold"]: r for r in curve_rows(metric.plot("roc"))}
    pr_rows = {r["threshold"]: r for r in curve_rows(metric.plot("pr"))}
    for threshold in t:
        higher = score[score > threshold]
        roc = roc_rows[threshold]
        if higher.size == 0:  # nothing predicted positive: sklearn's first point (0, 0)
            assert (roc["false_positive_rate"], roc["recall"]) == (0.0, 0.0)
            assert threshold not in pr_rows  # precision undefined: not drawn
            continue
        s = higher.min()
        i = int(np.flatnonzero(roc_t == s)[0])
        assert roc["false_positive_rate"] == pytest.approx(fpr[i])
        assert roc["recall"] == pytest.approx(tpr[i])
        j = int(np.flatnonzero(pr_t == s)[0])
        assert pr_rows[threshold]["precision"] == pytest.approx(precision[j])
        assert pr_rows[threshold]["recall"] == pytest.approx(recall[j])


def test_curve_legend_gives_the_metrics_own_auc_and_marks_the_operating_point() -> None:
    from sklearn.metrics import roc_auc_score

    y, score, w = scored_batches(seed=4)
    metric = im.AUC(num_thresholds=1001)
    metric.update_state(y, score, sample_weight=w)
    chart = metric.plot("roc")
    domain = curve_view(chart)[1]["color"]["scale"]["domain"]
    assert domain == [f"auc · AUC {style.format_number(metric.result())}"]
    assert metric.result() == pytest.approx(roc_auc_score(y, score, sample_weight=w), abs=1e-3)
    (point,) = rows_of(chart, "point")
    assert point["threshold"] == 0.5  # 1001 thresholds: 0.5 is one of them
    tp, fp, tn, fn = oracle_counts(y, score, w, np.array([0.5]))
    assert point["recall"] == pytest.approx(tp[0] / (tp[0] + fn[0]))
    assert point["false_positive_rate"] == pytest.approx(fp[0] / (fp[0] + tn[0]))
    # the PR legend of a ROC AUC is the same AUC computed on the PR curve (Keras' summation)
    pr = im.AUC(num_thresholds=1001, curve="PR")
    pr.update_state(y, score, sample_weight=w)
    pr_domain = curve_view(metric.plot("pr"))[1]["color"]["scale"]["domain"]
    assert pr_domain == [f"auc · AUC {style.format_number(pr.result())}"]
    assert "Auc" not in json.dumps(chart.to_dict()["title"])  # AUC, not "Auc"
    render(chart)


@pytest.mark.parametrize(
    ("make", "constrained", "optimised"),
    [
        (lambda: im.PrecisionAtRecall(0.8), "recall", "precision"),
        (lambda: im.RecallAtPrecision(0.6), "precision", "recall"),
        (lambda: im.SensitivityAtSpecificity(0.7), "specificity", "recall"),
        (lambda: im.SpecificityAtSensitivity(0.9), "recall", "specificity"),
    ],
)
def test_at_metrics_mark_the_threshold_their_result_comes_from(
    make: Any, constrained: str, optimised: str
) -> None:
    y, score, w = scored_batches(seed=5)
    metric = make()
    metric.update_state(y, score, sample_weight=w)
    (point,) = rows_of(metric.plot("roc"), "point")
    table = charts.threshold_table(metric)
    row = table.filter(pl.col("threshold") == point["threshold"]).row(0, named=True)
    value = float(
        next(
            getattr(metric, a)
            for a in ("recall", "precision", "specificity", "sensitivity")
            if hasattr(metric, a)
        )
    )
    assert row[constrained] >= value
    assert row[optimised] == pytest.approx(metric.result())  # the result is read there


def test_curves_of_streams_overlay_each_stream_in_its_colour() -> None:
    from sklearn.metrics import roc_curve

    y, score, w = scored_batches(seed=6, n=900)
    keys = np.array(["pump_a", "pump_b", "turbine"])[np.arange(900) % 3]
    streams = im.Streams(im.AUC(num_thresholds=101))
    streams.update_state(y[:450], score[:450], sample_weight=w[:450], stream=keys[:450])
    streams.update_state(y[450:], score[450:], sample_weight=w[450:], stream=keys[450:])
    chart = streams.plot("roc")
    enc = curve_view(chart)[1]
    labels = [label.split(" · ")[0] for label in enc["color"]["scale"]["domain"]]
    assert labels == ["pump_a", "pump_b", "turbine", "(merged)"]
    assert enc["color"]["scale"]["range"] == [
        *style.stream_colors(["pump_a", "pump_b", "turbine"], streams.streams),
        style.MERGED_COLOR,
    ]
    rows = curve_rows(chart)
    for key in ("pump_a", "pump_b", "turbine"):
        mine = keys == key
        auc = streams[key].result()
        ours = [r for r in rows if r["curve"] == f"{key} · AUC {style.format_number(auc)}"]
        assert len(ours) == 101
        fpr, tpr, thresholds = roc_curve(y[mine], score[mine], sample_weight=w[mine],
                                         drop_intermediate=False)  # fmt: skip
        for r in ours[5::20]:
            higher = score[mine][score[mine] > r["threshold"]]
            if higher.size:
                i = int(np.flatnonzero(thresholds == higher.min())[0])
                assert (r["false_positive_rate"], r["recall"]) == pytest.approx((fpr[i], tpr[i]))
    assert len(rows_of(chart, "point")) == 4  # each curve's operating point
    render(chart)


def test_curves_are_only_for_thresholded_metrics_and_say_why() -> None:
    m = im.Mean()
    m.update_state([1.0])
    with pytest.raises(ValueError, match="got 'roc'; ROC and precision-recall curves need"):
        m.plot("roc")
    with pytest.raises(TypeError, match="`roc_curve` draws metrics that keep counts"):
        charts.roc_curve(m)
    multi = im.AUC(multi_label=True, num_labels=2)
    multi.update_state([[0, 1], [1, 0]], [[0.2, 0.8], [0.7, 0.1]])
    with pytest.raises(ValueError, match="multi-label AUC with num_labels=2"):
        multi.plot("roc")
    one_class = im.AUC()
    one_class.update_state([1, 1], [0.3, 0.9])
    chart = one_class.plot("pr")
    assert "only one class so far" in json.dumps(chart.to_dict())
    assert "no samples yet" in json.dumps(im.AUC().plot("roc").to_dict())


# -- issue 13: encoded colours follow the theme ----------------------------------------------


def encoded_colors(chart: Any) -> set[str]:
    """Every colour a chart's spec encodes (mark colours, scale ranges, conditions)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("color", "stroke", "fill") and isinstance(value, str):
                    found.add(value.lower())
                elif key == "range" and isinstance(value, list):
                    found.update(v.lower() for v in value if isinstance(v, str))
                elif key == "value" and isinstance(value, str) and value.startswith("#"):
                    found.add(value.lower())
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    spec = chart.to_dict()
    spec.pop("config", None)
    walk({k: v for k, v in spec.items() if k != "datasets"})
    return found


@pytest.mark.parametrize(
    "draw",
    [
        lambda m, s: charts.history(m, ["result", "batch_result"]),
        lambda m, s: charts.batch_sums(m),
        lambda m, s: charts.sum_vs_mean(m),
        lambda m, s: charts.stream_history(s),
        lambda m, s: charts.stream_breakdown(s, higher_is_better=True),
    ],
)
def test_encoded_colours_follow_the_dark_theme(mean_with_reset: im.Mean, draw: Any) -> None:
    import altair as alt

    streams = im.Streams(im.Mean(name="accuracy"))
    streams.update_state([1.0, 0.0, 1.0, 1.0], stream=["a", "b", "a", "c"])
    streams.update_state([0.0, 1.0], stream=["b", "c"])
    light_only = {c.lower() for c in (style.RESULT_COLOR, style.BATCH_COLOR, style.MERGED_COLOR,
                                      style.WORSE_COLOR)}  # fmt: skip
    dark_roles = {c.lower() for c in (style.DARK.result, style.DARK.batch, style.DARK.merged,
                                      style.DARK.worse, style.DARK.neutral, style.DARK.better)}  # fmt: skip
    before = alt.theme.active
    try:
        style.use_theme("light")
        light = encoded_colors(draw(mean_with_reset, streams))
        style.use_theme("dark")
        dark = encoded_colors(draw(mean_with_reset, streams))
    finally:
        alt.theme.enable(before)
    assert light & light_only  # the light chart uses the light roles
    assert not dark & light_only, dark & light_only  # none of them is left on dark
    assert dark & dark_roles


def test_dark_running_line_stands_out_from_the_background() -> None:
    def luminance(color: str) -> float:  # WCAG relative luminance
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    def contrast(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    background = style.DARK.background
    # the light theme's strong blue is under WCAG's 3:1 for graphics on the dark background;
    # the dark theme's is well over it, and batches stay dimmer than the running line
    assert contrast(style.RESULT_COLOR, background) < 3
    assert contrast(style.DARK.result, background) > 4.5
    assert contrast(style.DARK.batch, background) < contrast(style.DARK.result, background)
    assert contrast(style.DARK.merged, background) > 4.5
    assert contrast(style.DARK.worse, background) > 4.5


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 1.0]),
            st.floats(0, 1, allow_nan=False),
            st.sampled_from([0.0, 0.5, 1.0, 3.0]),
            st.sampled_from(["a", "b", "c"]),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 4),
)
def test_threshold_table_of_streams_adds_up_to_the_merged_counts_and_the_oracle(
    rows: list[tuple[float, float, float, str]], batches: int
) -> None:
    y, score, w = (np.array([r[i] for r in rows]) for i in range(3))
    keys = np.array([r[3] for r in rows])
    streams = im.Streams(im.AUC(num_thresholds=7))
    for part in np.array_split(np.arange(len(rows)), batches):
        if part.size:
            streams.update_state(y[part], score[part], sample_weight=w[part], stream=keys[part])
    table = charts.threshold_table(streams)
    t = np.asarray(streams.metric.threshold_values)
    counts = ["true_positives", "false_positives", "true_negatives", "false_negatives"]
    merged = table.filter(pl.col("stream") == "(merged)")
    summed = (
        table.filter(pl.col("stream") != "(merged)")
        .group_by("threshold")
        .agg(pl.col(counts).sum())
        .sort("threshold")
    )
    for name, want in zip(counts, oracle_counts(y, score, w, t), strict=True):
        np.testing.assert_allclose(merged[name].to_numpy(), want, atol=1e-9)
        np.testing.assert_allclose(summed[name].to_numpy(), want, atol=1e-9)
    for key in set(keys.tolist()):
        mine = table.filter(pl.col("stream") == key)
        mask = keys == key
        tp, fp, _, fn = oracle_counts(y[mask], score[mask], w[mask], t)
        np.testing.assert_allclose(mine["true_positives"].to_numpy(), tp, atol=1e-9)
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp != 0)
        np.testing.assert_allclose(mine["precision"].to_numpy(), precision, atol=1e-12)
        f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=2 * tp + fp + fn != 0)
        np.testing.assert_allclose(mine["f1"].to_numpy(), f1, atol=1e-12)


def test_history_and_stream_history_draw_rolling_results_from_the_metric() -> None:
    """``rolling=N`` draws ``metric.rolling(N)`` beside the running result (and per stream)."""
    rng = np.random.default_rng(8)
    s = im.Streams(im.Mean())
    for i in range(30):
        late = 0.2 if i < 20 else 0.9  # stream b degrades late: its running mean hides it
        s.update_state(
            (rng.random(8) > [0.2] * 4 + [late] * 4).astype(float), stream=list("aaaabbbb")
        )
    metric = s.merged()
    spec = im.charts.history(metric, rolling=5).to_dict()
    rows = [
        r for r in spec["datasets"][spec["data"]["name"]] if "result over the last 5 batches" in r
    ]
    drawn = [r["result over the last 5 batches"] for r in rows]
    assert drawn == pytest.approx(metric.rolling(5)["result"].to_list())
    spec = im.charts.stream_history(s, rolling=5).to_dict()
    data = spec["datasets"][spec["data"]["name"]]
    b = [r["result"] for r in data if r["stream"] == "b"]
    assert b == pytest.approx(s.rolling(5).filter(pl.col("stream") == "b")["result"].to_list())
    assert "last 5 batches" in str(spec["title"])
    with pytest.raises(ValueError, match="`rolling` draws the result"):
        im.charts.stream_history(s, field="total", rolling=5)


# -- issue 17: interval bands and error bars ----------------------------------------------


def accuracy_run(batches: list[tuple[int, int]], reset_after: int | None = None) -> im.Metric:
    """A BinaryAccuracy updated with (right, n) per batch (a reset after batch `reset_after`)."""
    m = im.BinaryAccuracy()
    for i, (right, n) in enumerate(batches):
        m.update_state([1] * n, [1] * right + [0] * (n - right))
        if reset_after == i:
            m.reset_state()
    return m


def band_rows(chart: Any) -> list[dict[str, Any]]:
    (rows,) = [rows for kind, rows, enc in marks(chart) if kind == "area"]
    return rows


def test_history_band_is_the_wilson_interval_of_each_running_state() -> None:
    from interactive_metrics.intervals import wilson

    m = accuracy_run([(8, 10), (72, 90), (5, 20)], reset_after=1)
    rows = band_rows(charts.history(m, interval=0.95))
    # hand numbers: running (8, 10) then (80, 100); after the reset (5, 20)
    expected = [wilson(8, 10), wilson(80, 100), None, wilson(5, 20)]
    assert [r["event"] for r in rows] == ["update", "update", "reset", "update"]
    for row, bounds in zip(rows, expected, strict=True):
        if bounds is None:  # a reset's state is empty: no band there
            assert row["ci_low"] is None and row["ci_high"] is None
        else:
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(bounds, abs=1e-15)
    assert round(rows[0]["ci_low"], 4) == 0.4902 and round(rows[0]["ci_high"], 4) == 0.9433
    # each step's band is what metric.interval() said at that step
    fresh = im.BinaryAccuracy()
    fresh.update_state([1] * 10, [1] * 8 + [0] * 2)
    assert (rows[0]["ci_low"], rows[0]["ci_high"]) == fresh.interval()


def test_history_band_follows_the_method_and_the_level() -> None:
    from interactive_metrics.intervals import clopper_pearson, student_t

    m = accuracy_run([(8, 10), (15, 20)])
    rows = band_rows(charts.history(m, interval=0.9, interval_method="clopper-pearson"))
    assert (rows[1]["ci_low"], rows[1]["ci_high"]) == pytest.approx(
        clopper_pearson(23, 30, 0.9), abs=1e-15
    )
    spec = charts.history(m, interval=0.9, interval_method="clopper-pearson").to_dict()
    assert "90% Clopper–Pearson interval" in json.dumps(spec["title"], ensure_ascii=False)

    mean = im.Mean(variance=True)
    values = [np.array([1.0, 2.0, 4.0]), np.array([3.0, 9.0])]
    for v in values:
        mean.update_state(v)
    rows = band_rows(charts.history(mean, interval=0.95))
    seen = np.concatenate(values)
    for row, upto in zip(rows, (3, 5), strict=True):
        x = seen[:upto]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(
            student_t(x.sum(), upto, (x * x).sum()), rel=1e-12
        )
    # the band widens the y-domain: every band value is inside the axis
    y = encoding_of(charts.history(mean, interval=0.95), "area")["y"]
    low, high = y["scale"]["domain"]
    assert low <= min(r["ci_low"] for r in rows) and high >= max(r["ci_high"] for r in rows)


def test_history_band_of_a_bootstrap_is_its_interval_history() -> None:
    b = im.Bootstrap(im.Mean(), replicates=40, seed=3)
    rng = np.random.default_rng(0)
    for _ in range(4):
        b.update_state(rng.normal(size=30))
    rows = band_rows(charts.history(b, interval=0.8))
    expected = b.interval_history(0.8)
    assert [r["ci_low"] for r in rows] == expected["ci_low"].to_list()
    assert [r["ci_high"] for r in rows] == expected["ci_high"].to_list()
    # a history table with ci columns draws them as given
    rows = band_rows(charts.history(expected, interval=0.8))
    assert [r["ci_high"] for r in rows] == expected["ci_high"].to_list()


def test_history_band_refuses_what_has_no_interval() -> None:
    m = im.Mean()
    m.update_state([1.0, 2.0])
    with pytest.raises(ValueError, match=r"variance=True.*Bootstrap"):
        charts.history(m, interval=0.95)
    acc = accuracy_run([(3, 4)])
    for level in (1.0, 0, True, "95%"):
        with pytest.raises(ValueError, match=r"`interval` must be a confidence level.*got"):
            charts.history(acc, interval=level)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`interval` draws a band around the running result"):
        charts.history(acc, "batch_result", interval=0.95)
    with pytest.raises(ValueError, match=r"ci_low"):
        charts.history(acc.history, interval=0.95)


def test_history_band_renders(tmp_path: Path) -> None:
    m = accuracy_run([(8, 10), (72, 90), (40, 50), (90, 100)])
    assert render(charts.history(m, interval=0.95)).startswith(PNG_MAGIC)


@pytest.fixture
def pumps() -> im.Streams:
    s = im.Streams(im.BinaryAccuracy())
    for key, right, n in (("a", 285, 300), ("b", 288, 300), ("c", 30, 40), ("d", 9, 10)):
        s.update_state([1] * n, [1] * right + [0] * (n - right), stream=key)
    return s


def bar_rows(chart: Any) -> dict[str, dict[str, Any]]:
    """The rows the error bars draw, by stream."""
    spec = chart.to_dict()
    for unit in units(spec):
        mark = unit["mark"]["type"] if isinstance(unit["mark"], dict) else unit["mark"]
        if mark == "rule" and unit["encoding"].get("x2", {}).get("field") == "ci_high":
            return {r["stream"]: r for r in spec["datasets"][unit["dataset"]]}
    raise AssertionError("no error bars")


def test_breakdown_error_bars_are_each_streams_interval(pumps: im.Streams) -> None:
    from interactive_metrics.intervals import stream_differences

    chart = charts.stream_breakdown(pumps, interval=0.95)
    rows = bar_rows(chart)
    for key, right, n in (("a", 285, 300), ("b", 288, 300), ("c", 30, 40), ("d", 9, 10)):
        alone = im.BinaryAccuracy()  # an independent metric of the stream's own data
        alone.update_state([1] * n, [1] * right + [0] * (n - right))
        assert (rows[key]["ci_low"], rows[key]["ci_high"]) == pytest.approx(
            alone.interval(), abs=1e-15
        )
    found = dict(stream_differences(pumps).select("stream", "differs").iter_rows())
    assert {k: r["differs"] for k, r in rows.items()} == found == {
        "a": False, "b": False, "c": True, "d": False
    }  # fmt: skip
    # the streams that differ are ringed and named in bold on the axis
    spec = chart.to_dict()
    rings = [
        u for u in units(spec) if isinstance(u["mark"], dict) and u["mark"].get("type") == "point"
    ]
    assert len(rings) == 1 and rings[0]["transform"] == [{"filter": "(datum['differs'] === true)"}]
    axis = spec["hconcat"][0]["layer"][0]["encoding"]["y"]["axis"]
    assert '{"c": true}' in axis["labelExpr"] and "differs" in axis["labelExpr"]
    assert "95% Wilson intervals" in json.dumps(spec["title"])
    assert render(chart).startswith(PNG_MAGIC)
    # streams.plot passes the option through
    assert bar_rows(pumps.plot("breakdown", interval=0.95)) == rows


def test_breakdown_error_bars_of_a_bootstrap_are_its_stream_intervals() -> None:
    from interactive_metrics.bootstrap import stream_intervals

    s = im.Streams(im.Bootstrap(im.Mean(), replicates=60, seed=1))
    rng = np.random.default_rng(2)
    for key, mu in (("a", 0.0), ("b", 0.1), ("c", 2.0)):
        s.update_state(rng.normal(mu, 1.0, 80), stream=[key] * 80)
    rows = bar_rows(charts.stream_breakdown(s, interval=0.9))
    expected = stream_intervals(s, 0.9)
    for key, low, high in expected.select("stream", "ci_low", "ci_high").iter_rows():
        assert (rows[key]["ci_low"], rows[key]["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    assert rows["c"]["differs"] is True


def test_breakdown_error_bars_refuse_what_has_no_interval(pumps: im.Streams) -> None:
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0, 3.0], stream=["a", "a", "b"])
    with pytest.raises(ValueError, match=r"im\.Streams\(im\.Bootstrap\(Mean"):
        charts.stream_breakdown(s, interval=0.95)
    with pytest.raises(ValueError, match=r"`interval` must be a confidence level"):
        charts.stream_breakdown(pumps, interval=95)
    with pytest.raises(ValueError, match=r"`correction` must be one of"):
        charts.stream_breakdown(pumps, interval=0.95, correction="none")
    table = pumps.breakdown()
    with pytest.raises(ValueError, match=r"ci_low"):
        charts.stream_breakdown(table, merged=pumps.result(), interval=0.95)
    from interactive_metrics.intervals import stream_differences

    rows = bar_rows(
        charts.stream_breakdown(stream_differences(pumps), merged=pumps.result(), interval=0.95)
    )
    assert rows["c"]["differs"] is True and rows["a"]["differs"] is False


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(0, 50)).map(lambda t: (min(t), max(t))),
        min_size=1,
        max_size=6,
    )
)
def test_states_interval_is_state_interval_row_by_row(counts: list[tuple[int, int]]) -> None:
    from interactive_metrics.intervals import state_interval, states_interval

    metric = im.BinaryAccuracy()
    block = {
        "correct": np.array([c for c, _ in counts], dtype=np.float64),
        "count": np.array([n for _, n in counts], dtype=np.float64),
    }
    for method in (None, "clopper-pearson"):
        low, high = states_interval(metric, block, 0.9, method)
        for i in range(len(counts)):
            one = state_interval(metric, {k: v[i] for k, v in block.items()}, 0.9, method)
            assert (low[i], high[i]) == pytest.approx(one, abs=1e-12)


# -- issue 13: charts follow a dark front end (the auto theme) ---------------------------------


def without_usermeta(spec: dict[str, Any]) -> Any:
    """The spec without its usermeta, view names (altair numbers views per chart) unified."""
    import re

    text = json.dumps({k: v for k, v in spec.items() if k != "usermeta"}, sort_keys=True)
    return json.loads(re.sub(r"view_[0-9a-f]+_[0-9]+", "view", text))


@pytest.mark.parametrize(
    "draw",
    [
        lambda m, s: charts.history(m, ["result", "batch_result"]),
        lambda m, s: charts.batch_sums(m),
        lambda m, s: charts.stream_history(s),
        lambda m, s: charts.stream_breakdown(s),  # a mean: above/below merged, no palette blue
    ],
)
def test_auto_theme_recoloured_is_the_dark_theme(mean_with_reset: im.Mean, draw: Any) -> None:
    """What the browser does on a dark page (recolor_dark) equals drawing under use_theme("dark")."""
    import altair as alt

    streams = im.Streams(im.Mean(name="level"))
    streams.update_state([1.0, 0.0, 1.0, 1.0], stream=["a", "b", "a", "c"])
    before = alt.theme.active
    try:
        style.use_theme("auto")
        auto = draw(mean_with_reset, streams).to_dict()
        style.use_theme("dark")
        dark = draw(mean_with_reset, streams).to_dict()
        style.use_theme("light")
        light = draw(mean_with_reset, streams).to_dict()
    finally:
        alt.theme.enable(before)
    assert style.follows_front_end(auto) and not style.follows_front_end(dark)
    assert not style.follows_front_end(light)
    assert without_usermeta(auto) == without_usermeta(light)  # auto is drawn light
    # the documented exception: roles whose light colour is a stream colour keep it
    assert {style.LIGHT.merge, style.LIGHT.better} <= set(style.PALETTE)
    recoloured = style.recolor_dark(auto)
    if "hconcat" in auto:  # the breakdown: "above merged" is the light (palette) blue
        used = encoded_colors(alt.Chart.from_dict(without_usermeta(recoloured)))
        assert style.LIGHT.better.lower() in used
        assert not used & {c.lower() for c in (style.RESULT_COLOR, style.WORSE_COLOR)}
        return
    dark_but_kept = style.recolor_dark(dark, {style.DARK.merge: style.LIGHT.merge})
    assert without_usermeta(recoloured) == without_usermeta(dark_but_kept)


def test_the_default_theme_is_auto_and_the_map_has_no_conflicts() -> None:
    mapping = style.dark_color_map()
    light_roles = [style.RESULT_COLOR, style.BATCH_COLOR, style.MERGED_COLOR, style.WORSE_COLOR]
    dark_roles = [style.DARK.result, style.DARK.batch, style.DARK.merged, style.DARK.worse]
    assert [mapping[c.lower()] for c in light_roles] == dark_roles
    assert not set(mapping) & {c.lower() for c in style.PALETTE}  # streams keep their colour
    assert not set(mapping) & {c.lower() for c in mapping.values()}  # no colour maps twice
    code = (
        "import altair as alt, interactive_metrics as im\n"
        "m = im.Mean(); m.update_state([1.0])\n"
        "spec = m.plot().to_dict()\n"
        "print(alt.theme.active, spec['usermeta']['interactive_metrics']['theme'],"
        " im.charts.style.colors() is im.charts.style.LIGHT)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["interactive_metrics_auto", "auto", "True"]


def test_the_notebook_widget_module_follows_the_page_theme() -> None:
    pytest.importorskip("anywidget")
    pytest.importorskip("vl_convert")
    from interactive_metrics.widgets import _vega
    from interactive_metrics.widgets.renderer import offline_renderer

    m = im.Mean()
    m.update_state([1.0, 2.0])
    widget = _vega.jupyter_chart(charts.history(m))
    assert isinstance(widget, _vega.ThemedChart) and _vega.ThemedChart.follows is True
    module = widget._esm
    assert module.count("imFollowTheme(structuredClone(") == 1  # where the spec is read
    assert module.count("imWatchTheme(reembed)") == 1  # where the first draw happens
    assert json.dumps(style.dark_color_map()) in module  # the same map as recolor_dark
    bundle = offline_renderer(charts.history(m).to_dict())
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # the static copy stays in the theme in force (light under auto)
    assert style.RESULT_COLOR in bundle["image/svg+xml"]
    assert style.DARK.result not in bundle["image/svg+xml"]
