"""Headless tests of the widgets: the logic, the traits, and the messages sent to a browser.

No browser and no kernel: ipywidgets' comm is replaced by a recorder, so the
tests see exactly the state updates a frontend would receive.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from typing import Any

import numpy as np
import polars as pl
import pytest

import interactive_metrics as im
from interactive_metrics.widgets import panels, teaching
from interactive_metrics.widgets.card import metric_card, sparkline_points
from interactive_metrics.widgets.throttle import Throttle

ipywidgets = pytest.importorskip("ipywidgets")


class RecordingComm:
    """Stands in for a kernel comm: keeps every message a widget sends."""

    kernel = "recording"

    def __init__(self, **kwargs: Any) -> None:
        self.comm_id = kwargs.get("comm_id") or uuid.uuid4().hex
        self.opened = kwargs.get("data", {})
        self.sent: list[dict[str, Any]] = []

    def send(self, data: Any = None, buffers: Any = None, **kwargs: Any) -> None:
        self.sent.append(data)

    def on_msg(self, callback: Any) -> None:
        pass

    def on_close(self, callback: Any) -> None:
        pass

    def close(self, *args: Any, **kwargs: Any) -> None:
        pass

    def updates(self, key: str) -> list[Any]:
        """The values of ``key`` in the state updates sent so far."""
        return [
            m["state"][key] for m in self.sent if m.get("method") == "update" and key in m["state"]
        ]


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> dict[str, RecordingComm]:
    opened: dict[str, RecordingComm] = {}

    def create_comm(**kwargs: Any) -> RecordingComm:
        comm = RecordingComm(**kwargs)
        opened[comm.comm_id] = comm
        return comm

    monkeypatch.setattr(ipywidgets.comm, "create_comm", create_comm)
    return opened


def comm_of(widget: Any) -> RecordingComm:
    assert isinstance(widget.comm, RecordingComm)
    return widget.comm


@pytest.fixture(autouse=True)
def close_widgets() -> Any:
    yield
    ipywidgets.Widget.close_all()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- throttle ------------------------------------------------------------------------------


def test_throttle_allows_one_redraw_per_interval() -> None:
    clock = FakeClock()
    throttle = Throttle(interval=0.1, clock=clock)
    redraws = 0
    for i in range(10_000):  # 10,000 updates spread over one simulated second
        clock.now = i * 1e-4
        if throttle.due():
            throttle.drawn(started=clock.now)
            redraws += 1
    assert redraws == 10
    assert throttle.pending


def test_throttle_waits_longer_after_a_slow_redraw() -> None:
    clock = FakeClock()
    throttle = Throttle(interval=0.1, budget=0.05, clock=clock)
    clock.now = 1.0
    assert throttle.due()
    clock.now = 1.02  # the redraw took 20 ms: at most 5% of the time -> next one after 0.4 s
    throttle.drawn(started=1.0)
    clock.now = 1.39
    assert not throttle.due()
    clock.now = 1.41
    assert throttle.due()


@pytest.mark.parametrize(("interval", "budget"), [(-1, 0.05), (0.1, 0), (0.1, 1.5)])
def test_throttle_rejects_bad_settings(interval: float, budget: float) -> None:
    with pytest.raises(ValueError, match="`interval`|`budget`"):
        Throttle(interval=interval, budget=budget)


# -- live view ----------------------------------------------------------------------------


def test_live_view_follows_updates_throttled_and_ends_on_the_final_state(comms: Any) -> None:
    clock = FakeClock()
    m = im.Mean()
    view = m.widget()
    view.throttle = Throttle(interval=0.1, clock=clock)
    sent = comm_of(view.summary)
    before = len(sent.updates("value"))
    values = np.arange(1000.0)
    for i, value in enumerate(values):
        clock.now = i * 1e-3  # 1000 updates in one simulated second
        m.update_state([value])
    redraws = len(sent.updates("value")) - before
    assert 9 <= redraws <= 11
    assert view.throttle.pending  # the last updates were not drawn yet
    view._on_cell_done()  # what IPython's post_run_cell does when the loop's cell ends
    assert not view.throttle.pending
    final = sent.updates("value")[-1]
    assert f">{values.mean():.4g}</span>" in final  # 499.5, computed by numpy
    assert "1000 steps" in final
    view.close()


def test_live_view_sends_the_history_to_the_chart_downsampled(comms: Any) -> None:
    m = im.Sum()
    for i in range(5000):
        m.update_state([1.0, float(i % 7 == 0) * 100])
    view = m.widget(max_points=200)
    spec = comm_of(view.chart).opened["state"]["spec"]
    rows = spec["datasets"]["history"]
    assert 50 <= len(rows) <= 200
    assert rows[-1]["step"] == 5000
    assert rows[-1]["result"] == m.result()
    history = m.history
    by_step = dict(zip(history["step"], history["result"], strict=True))
    assert all(row["result"] == by_step[row["step"]] for row in rows)
    json.dumps(spec, allow_nan=False)  # valid JSON for the browser
    m.update_state([2.0])
    view.refresh()
    new_rows = comm_of(view.chart).updates("spec")[-1]["datasets"]["history"]
    assert new_rows[-1] == {"step": 5001, "result": m.result(), "batch_result": 2.0}
    view.close()


def test_live_view_nan_results_become_null_in_the_json(comms: Any) -> None:
    m = im.Mean()
    m.update_state([1.0, np.nan])
    view = m.widget()
    rows = comm_of(view.chart).opened["state"]["spec"]["datasets"]["history"]
    assert rows == [{"step": 1, "result": None, "batch_result": None}]
    view.close()


def test_live_view_close_detaches_the_listener() -> None:
    m = im.Mean()
    view = m.widget()
    assert len(m._listeners) == 1
    view.close()
    assert m._listeners == []
    m.update_state([1.0])  # nothing to notify, nothing fails


def test_a_metric_without_widgets_pays_one_check_per_update() -> None:
    m = im.Mean()
    assert m._listeners == []
    calls: list[int] = []
    m._listeners.append(lambda metric, event: calls.append(event))
    m.update_state([1.0])
    m.reset_state()
    other = im.Mean()
    other.update_state([3.0])
    m.merge_state([other])
    assert calls == [0, 2, 1]  # update, reset, merge


def test_a_listener_also_hears_updates_not_recorded_in_the_history() -> None:
    m = im.Sum(history_every=3)
    calls: list[int] = []
    m._listeners.append(lambda metric, event: calls.append(metric.step))
    for _ in range(4):
        m.update_state([1.0])
    assert calls == [1, 2, 3, 4]


def test_a_failed_update_notifies_nobody() -> None:
    m = im.Mean()
    calls: list[int] = []
    m._listeners.append(lambda metric, event: calls.append(event))
    with pytest.raises((TypeError, ValueError)):
        m.update_state(["a", "b"])
    assert calls == []


def test_live_view_of_streams_shows_macro_and_the_farthest_stream(comms: Any) -> None:
    s = im.Streams(im.Mean())
    view = s.widget("live")
    s.update_state([1.0] * 8 + [0.0, 0.0], stream=["big"] * 8 + ["small"] * 2)
    view.refresh()
    text = view.summary.value
    assert ">0.8</span>" in text  # 8 / 10 pooled
    assert "macro 0.5" in text  # (1 + 0) / 2
    assert "farthest from merged: small 0" in text
    view.close()
    assert s._listeners == []


def test_widget_kind_errors_name_the_choices() -> None:
    with pytest.raises(ValueError, match="`kind` must be one of .*'live'.*got 'chart'"):
        im.Mean().widget("chart")
    with pytest.raises(ValueError, match="`kind` must be one of .*'explorer'.*got 'x'"):
        im.Streams(im.Mean()).widget("x")


# -- scrubber -----------------------------------------------------------------------------


def test_scrubber_shows_what_the_history_holds_at_each_step(comms: Any) -> None:
    m = im.Sum()
    m.update_state([1, 3, 5, 7])
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    m.reset_state()
    m.update_state([2.5])
    scrubber = m.widget("scrubber")
    assert scrubber.slider.max == 4 and scrubber.slider.value == 4
    expected = {  # step: (batch total, running total), hand-checked
        1: ("16", "16"),
        2: ("4", "20"),
        3: ("–", "0"),  # a reset has no batch
        4: ("2.5", "2.5"),
    }
    for step, (batch, running) in expected.items():
        scrubber.slider.value = step
        html = scrubber.panel.value
        assert f"<b class='im-step'>step {step}</b>" in html
        assert f"<td class='im-batch-total'>{batch}</td>" in html
        assert f"<td class='im-running-total'>{running}</td>" in html
        assert scrubber.chart.params.scrub_step == step
        assert scrubber.chart.params.scrub_result == float(running)
    scrubber.slider.value = 0
    assert "step 0</b> (fresh state)" in scrubber.panel.value
    # what the browser received when the slider moved: params only, never a new spec
    chart_comm = comm_of(scrubber.chart)
    assert chart_comm.updates("spec") == []
    assert [p["scrub_step"] for p in chart_comm.updates("_params")][-5:] == [1, 2, 3, 4, 0]


def test_scrubber_never_recomputes(monkeypatch: pytest.MonkeyPatch) -> None:
    m = im.Mean()
    for batch in ([1, 2], [3], [10, 20, 30]):
        m.update_state(batch)
    scrubber = m.widget("scrubber", chart=False)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the scrubber recomputed a result")

    monkeypatch.setattr(m, "compute", forbidden)
    monkeypatch.setattr(m, "terms", forbidden)
    scrubber.slider.value = 2
    assert "<td class='im-result'>2</td>" in scrubber.panel.value  # (1 + 2 + 3) / 3
    assert "<td class='im-running-count'>3</td>" in scrubber.panel.value


def test_scrubber_with_sparse_history_snaps_to_the_recorded_step() -> None:
    m = im.Sum(history_every=2)
    for _ in range(6):
        m.update_state([1.0])
    scrubber = m.widget("scrubber", chart=False)
    assert scrubber.play.step == 2
    scrubber.slider.value = 5
    assert scrubber.shown_step == 4
    assert "<td class='im-running-total'>4</td>" in scrubber.panel.value


def test_scrubber_needs_a_history() -> None:
    with pytest.raises(ValueError, match="has no history to scrub.*history=True"):
        im.Mean(history=False).widget("scrubber")


# -- stream explorer ----------------------------------------------------------------------


@pytest.fixture
def failing_stream() -> im.Streams:
    s = im.Streams(im.Mean())
    rng = np.random.default_rng(1)
    for step in range(30):
        good = (rng.random(90) < 0.9).astype(float)
        bad = (rng.random(10) < (0.9 if step < 15 else 0.2)).astype(float)
        s.update_state(np.r_[good, bad], stream=["big"] * 90 + ["small"] * 10)
    return s


def test_explorer_preselects_the_stream_farthest_from_the_merged_result(
    failing_stream: im.Streams, comms: Any
) -> None:
    explorer = failing_stream.widget()
    assert explorer.picker.value == ("small",)
    labels = [label for label, _ in explorer.picker.options]
    assert labels[0].startswith("small")  # worst result first
    explorer.sort.value = "weight"
    assert [key for _, key in explorer.picker.options] == ["big", "small"]
    assert explorer.picker.value == ("small",)  # sorting keeps the selection


def test_explorer_selection_changes_the_rows_and_the_chart_data(
    failing_stream: im.Streams, comms: Any
) -> None:
    explorer = failing_stream.widget()
    chart_comm = comm_of(explorer.chart)
    first = chart_comm.opened["state"]["spec"]["datasets"]["history"]
    assert {row["stream"] for row in first} == {"small", "merged (micro)"}
    explorer.picker.value = ("big",)
    sent = chart_comm.updates("spec")[-1]["datasets"]["history"]
    assert {row["stream"] for row in sent} == {"big", "merged (micro)"}
    big = failing_stream["big"]
    big_rows = [r for r in sent if r["stream"] == "big"]
    assert [r["result"] for r in big_rows] == big.history["result"].to_list()
    merged_rows = [r for r in sent if r["stream"] == "merged (micro)"]
    assert merged_rows[-1]["result"] == pytest.approx(failing_stream.result())
    assert explorer.table.value.count("im-stream-row") == 1
    micro = failing_stream.result()
    macro = np.mean(failing_stream.breakdown()["result"].to_numpy())
    assert f"<b class='im-micro'>{micro:.4g}</b>" in explorer.table.value
    assert f"<b class='im-macro'>{macro:.4g}</b>" in explorer.table.value


# -- playground ---------------------------------------------------------------------------


def test_lesson_numbers_match_hand_computed_values() -> None:
    batches = [teaching.Batch((1, 3, 5, 7), (1, 1, 0, 0)), teaching.Batch((10,))]
    lesson = teaching.sum_mean_lesson(batches)
    assert lesson.sum == 14.0  # 1 + 3 + 10
    assert lesson.plain_mean == pytest.approx(26 / 5)
    assert lesson.weighted_mean == pytest.approx(14 / 3)
    assert lesson.mean_of_batch_means == pytest.approx((2 + 10) / 2)
    assert [r.running_sum for r in lesson.rows] == [4.0, 14.0]
    assert [r.batch_mean for r in lesson.rows] == [2.0, 10.0]
    assert lesson.masked == 2
    assert lesson.merge is not None
    assert lesson.merge.merged == pytest.approx(14 / 3)
    assert lesson.merge.mean_of_two == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("batches", "starts_with"),
    [
        ([], "Add a few values"),
        ([teaching.Batch((1.0, 2.0), (0.0, 0.0))], "Every weight is 0"),
        ([teaching.Batch((1.0, 2.0)), teaching.Batch((3.0,))], "The mean of batch means (2.25)"),
        ([teaching.Batch((1.0, 5.0), (3.0, 1.0))], "Weights change the mean"),
        ([teaching.Batch((1.0, 2.0)), teaching.Batch((3.0, 4.0))], "Every batch carries"),
    ],
)
def test_lesson_explains_the_difference_that_matters(
    batches: list[teaching.Batch], starts_with: str
) -> None:
    assert teaching.sum_mean_lesson(batches).explanation.startswith(starts_with)


def test_batch_parse_rejects_bad_text_with_a_remedy() -> None:
    with pytest.raises(ValueError, match="`values` must be numbers.*got 'abc'"):
        teaching.Batch.parse("1, abc")
    with pytest.raises(ValueError, match="one weight per value \\(2\\), got 3"):
        teaching.Batch.parse("1, 2", "1, 1, 1")
    with pytest.raises(ValueError, match="`weights` must be >= 0"):
        teaching.Batch.parse("1, 2", "1, -1")


def test_playground_weight_edit_changes_sum_and_mean(comms: Any) -> None:
    pg = im.widgets.Playground()
    out = comm_of(pg.output)
    pg.editors[0].weights.value = "1, 1, 1, 1"  # unmask 5 and 7
    html = out.updates("value")[-1]
    assert "<b class='im-pg-sum'>26</b>" in html  # 1 + 3 + 5 + 7 + 10
    assert "<b class='im-pg-weighted-mean'>5.2</b>" in html  # 26 / 5
    assert "<b class='im-pg-mean-of-means'>7</b>" in html  # (4 + 10) / 2


def test_playground_add_remove_and_bad_input(comms: Any) -> None:
    pg = im.widgets.Playground()
    pg.add_button.click()
    assert len(pg.editors) == 3 and pg.split.max == 2
    assert pg.lesson is not None and pg.lesson.sum == 14.0 + 6.0
    pg.editors[1].remove.click()
    assert [e.label.value for e in pg.editors] == ["batch 1", "batch 2"]
    assert pg.lesson.sum == 4.0 + 6.0
    good = pg.output.value
    assert not pg.stale
    pg.editors[0].values.value = "1, two"
    assert "`values` must be numbers" in pg.error.value
    assert pg.stale and pg.lesson.sum == 4.0 + 6.0  # the last good numbers stay ...
    assert good in pg.output.value  # ... shown, greyed, under a note that they are stale
    assert pg.output.value.startswith("<div class='im-pg-stale'>")
    assert "not updated: fix the input above" in pg.output.value
    pg.editors[0].values.value = "1, 2, 3, 4"
    assert pg.error.value == "" and not pg.stale
    assert "im-pg-stale" not in pg.output.value
    assert pg.lesson.sum == 1 + 2 + 6  # weights 1, 1, 0, 0 on the first batch


def test_playground_merge_step_equals_the_pooled_mean() -> None:
    pg = im.widgets.Playground([("1, 2", ""), ("3", ""), ("10, 20, 30, 40", "")])
    pg.split.value = 2
    merge = pg.lesson.merge
    assert merge.first == 2.0 and merge.second == 25.0
    assert merge.merged == pytest.approx(106 / 7)
    assert "A.merge_state([B])" in pg.output.value


# -- card and panels ----------------------------------------------------------------------


def test_card_shows_name_result_steps_and_a_sparkline() -> None:
    m = im.Mean(name="loss <v2>")
    assert "0 steps" in metric_card(m) and "<svg" not in metric_card(m)
    for batch in ([1, 3], [8], [0, 0, 0]):
        m.update_state(batch)
    card = m._repr_html_()
    assert "loss &lt;v2&gt;" in card  # escaped
    assert ">2</span>" in card  # (1 + 3 + 8) / 6
    assert "3 steps" in card
    assert card.count("<polyline") == 1


def test_card_is_cheap_on_a_long_history() -> None:
    m = im.Sum()
    m.update_state(np.ones(10))
    history = m._history
    assert history is not None
    n = 1_000_000
    history.extend(np.arange(2, n + 2), np.zeros(n, dtype=np.int8), np.ones((n, history.width)))
    started = time.perf_counter()
    card = metric_card(m)
    assert time.perf_counter() - started < 0.5  # "must not take a second", with margin
    points = card.split('points="')[1].split('"')[0].split()
    assert len(points) <= 120


def test_sparkline_keeps_spikes() -> None:
    values = np.zeros(100_000)
    values[54_321] = 5.0
    values[77_777] = -3.0
    kept = sparkline_points(values)
    assert len(kept) <= 120
    assert kept.max() == 5.0 and kept.min() == -3.0


def test_history_rows_match_the_history() -> None:
    m = im.Mean()
    for i in range(50):
        m.update_state([float(i), float(i) + 1])
    rows = panels.history_rows(m, max_points=1000)
    frame = m.history
    assert [r["step"] for r in rows] == frame["step"].to_list()
    assert [r["result"] for r in rows] == frame["result"].to_list()
    assert [r["batch_result"] for r in rows] == frame["batch_result"].to_list()


def test_keep_rows_is_bounded_and_keeps_the_ends() -> None:
    rng = np.random.default_rng(0)
    for n, limit in itertools.product([10, 999, 10_000], [8, 100, 400]):
        values = rng.normal(size=n)
        kept = panels.keep_rows(values, limit)
        assert len(kept) <= max(limit, n if n <= limit else 0) or len(kept) <= limit
        assert kept[0] == 0 and kept[-1] == n - 1
        assert np.all(np.diff(kept) > 0)
        assert values[kept].max() == values.max() and values[kept].min() == values.min()


def test_sample_log_shows_one_stream_failing_while_the_average_holds() -> None:
    log = im.data.sample_log()
    assert log.equals(im.data.anomaly_log())  # the bundled file is what the generator makes
    flagged = log.with_columns(flag=pl.col("score") >= 0.5, late=pl.col("batch") >= 150)
    precision = (
        flagged.filter("flag")
        .group_by("stream", "late")
        .agg(precision=(pl.col("y_true") == 1).mean())
    )

    def p(stream: str, late: bool) -> float:
        row = precision.filter((pl.col("stream") == stream) & (pl.col("late") == late))
        return float(row["precision"][0])

    assert p("pump_b", False) > 0.7 and p("pump_b", True) < 0.4
    overall = flagged.filter("flag").group_by("late").agg((pl.col("y_true") == 1).mean())
    early, late = sorted(overall.sort("late")["y_true"].to_list(), reverse=True)
    assert early - late < 0.06  # the pooled precision barely moves


def test_anomaly_log_rejects_an_unknown_stream() -> None:
    with pytest.raises(ValueError, match="`degrading` must be one of"):
        im.data.anomaly_log(n_batches=2, degrading="pump_z")


# -- offline renderer ---------------------------------------------------------------------


@pytest.fixture
def default_renderer() -> Any:
    """altair's renderer as a fresh kernel has it ("default"), restored afterwards."""
    import altair as alt

    before = alt.renderers.active
    alt.renderers.enable("default")
    yield alt
    alt.renderers.enable(before)


def test_charts_switch_altair_from_its_cdn_renderer_to_the_offline_one(
    default_renderer: Any, comms: Any
) -> None:
    from interactive_metrics.widgets.renderer import RENDERER, use_offline_renderer

    alt = default_renderer
    assert use_offline_renderer() is True
    assert alt.renderers.active == RENDERER
    m = im.Mean(name="loss")
    for batch in ([1.0, 3.0], [2.0]):
        m.update_state(batch)
    bundle = m.plot()._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    chart = comms[view["model_id"]]  # the offline JupyterChart the front end draws
    state = chart.opened["state"]
    assert "cdn" not in state["_esm"][:5000].lower() and "esm.sh" not in state["_esm"]
    assert len(state["_esm"]) > 100_000  # vega, vega-lite and vega-embed, bundled
    assert state["spec"]["datasets"]  # the chart's data travels with it
    assert state["embed_options"] == {"renderer": "svg", "actions": False}
    svg = bundle["image/svg+xml"]  # what a front end without widgets shows
    assert svg.startswith("<svg") and "loss" in svg
    assert "<html" not in json.dumps(bundle) and "<script" not in json.dumps(bundle)


def test_a_renderer_the_user_chose_is_kept(default_renderer: Any) -> None:
    from interactive_metrics.widgets.renderer import use_offline_renderer

    alt = default_renderer
    alt.renderers.enable("png")
    assert use_offline_renderer() is False
    assert alt.renderers.active == "png"


def test_the_static_image_can_be_turned_off(default_renderer: Any, comms: Any) -> None:
    from interactive_metrics.widgets.renderer import RENDERER, use_offline_renderer

    alt = default_renderer
    use_offline_renderer()
    m = im.Sum()
    m.update_state([1.0])
    with alt.renderers.enable(RENDERER, fallback=None):
        bundle = m.plot()._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "application/vnd.jupyter.widget-view+json" in bundle
    with alt.renderers.enable(RENDERER, fallback="png"):
        assert m.plot()._repr_mimebundle_()["image/png"][:4] == b"\x89PNG"


def test_importing_the_package_loads_no_renderer() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, interactive_metrics as im\n"
        "m = im.Mean(); m.update_state([1.0]); m._repr_html_()\n"
        "print(sorted(n for n in ('altair', 'ipywidgets', 'vl_convert') if n in sys.modules))"
    )
    root = str(Path(__file__).resolve().parents[1])
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert shown.stdout.strip() == "[]"


# -- widgets follow their object ------------------------------------------------------------


def _pump_batch(rng: np.random.Generator, late: bool) -> tuple[np.ndarray, list[str]]:
    good = (rng.random(90) < 0.9).astype(float)
    bad = (rng.random(10) < (0.2 if late else 0.9)).astype(float)
    return np.r_[good, bad], ["big"] * 90 + ["small"] * 10


def test_an_explorer_made_before_a_loop_follows_it(comms: Any) -> None:
    s = im.Streams(im.Mean())
    explorer = s.widget()
    explorer.throttle = Throttle(interval=0.0, clock=FakeClock())  # every event redraws
    assert "macro (mean of 0 stream results" in explorer.table.value
    rng = np.random.default_rng(3)
    seen: dict[str, list[np.ndarray]] = {"big": [], "small": []}
    for step in range(20):
        values, keys = _pump_batch(rng, late=step >= 10)
        s.update_state(values, stream=keys)
        seen["big"].append(values[:90])
        seen["small"].append(values[90:])
    micro, macro = s.result(), s.macro_result()
    big, small = np.concatenate(seen["big"]), np.concatenate(seen["small"])  # numpy oracle
    assert micro == pytest.approx(np.r_[big, small].mean())
    assert macro == pytest.approx((big.mean() + small.mean()) / 2)
    table = explorer.table.value
    assert f"<b class='im-micro'>{panels.format_value(micro)}</b>" in table
    assert f"<b class='im-macro'>{panels.format_value(macro)}</b>" in table
    assert "mean of 2 stream results" in table
    assert [key for _, key in explorer.picker.options] == ["small", "big"]  # worst first
    assert explorer.picker.value == ("small",)  # picked once there was something to pick
    sent = comm_of(explorer.chart).updates("spec")[-1]["datasets"]["history"]
    small = [r["result"] for r in sent if r["stream"] == "small"]
    assert small == s["small"].history["result"].to_list()
    assert [r["step"] for r in sent if r["stream"] == "merged (micro)"][-1] == 20


def test_the_explorer_follows_replays_merges_and_resets(comms: Any) -> None:
    s = im.Streams(im.Sum())
    explorer = s.widget(chart=False)
    explorer.throttle = Throttle(interval=0.0, clock=FakeClock())
    log = pl.DataFrame({"batch": [0, 0, 1], "stream": ["a", "b", "a"], "v": [1.0, 2.0, 4.0]})
    s.replay(log, values="v", batch="batch", stream="stream")
    assert "<b class='im-micro'>7</b>" in explorer.table.value
    other = im.Streams(im.Sum())
    other.update_state([10.0], stream=["c"])
    s.merge_state([other])
    assert [key for _, key in explorer.picker.options] == ["a", "b", "c"] or len(
        explorer.picker.options
    ) == 3
    assert "<b class='im-micro'>17</b>" in explorer.table.value
    s.reset_state()
    assert "<b class='im-micro'>0</b>" in explorer.table.value


def test_a_followed_loop_redraws_throttled_and_ends_on_the_final_state(comms: Any) -> None:
    clock = FakeClock()
    s = im.Streams(im.Mean())
    explorer = s.widget(chart=False)
    explorer.throttle = Throttle(interval=0.1, clock=clock)
    sent = comm_of(explorer.table)
    before = len(sent.updates("value"))
    for i in range(500):
        clock.now = i * 2e-3  # 500 updates in one simulated second
        s.update_state([float(i % 2)], stream=["a" if i % 3 else "b"])
    assert 9 <= len(sent.updates("value")) - before <= 11
    explorer.follower.on_cell_done()  # what IPython's post_run_cell does
    assert f"<b class='im-micro'>{panels.format_value(s.result())}</b>" in sent.updates("value")[-1]


def test_a_closed_or_forgotten_widget_stops_following() -> None:
    import gc

    s = im.Streams(im.Mean())
    explorer = s.widget(chart=False)
    assert len(s._listeners) == 1
    explorer.close()
    assert s._listeners == []
    m = im.Mean()
    view = m.widget(chart=False)
    view.comm = None  # closed by the front end / Widget.close_all without our close()
    m.update_state([1.0])  # the follower notices and detaches
    assert m._listeners == []
    del view
    gc.collect()
    live = m.widget(chart=False)
    follower = live.follower
    ipywidgets.Widget.close_all()
    del live
    gc.collect()
    m.update_state([2.0])
    assert follower.on_event not in m._listeners


def test_a_copy_of_a_followed_metric_does_not_drive_the_widget(comms: Any) -> None:
    import copy

    m = im.Sum()
    view = m.widget(chart=False)
    view.throttle = Throttle(interval=0.0, clock=FakeClock())
    twin = copy.deepcopy(m)
    shown = view.summary.value
    twin.update_state([5.0])
    assert view.summary.value == shown
    assert twin._listeners == []  # the copy's follower detached itself
    m.update_state([1.0])
    assert ">1</span>" in view.summary.value


def test_stream_colours_stay_across_selections(failing_stream: im.Streams, comms: Any) -> None:
    from interactive_metrics.charts import style

    s = im.Streams(im.Mean())
    for keys in (["a", "b", "c", "d"], ["c", "d", "e"]):
        s.update_state(np.arange(len(keys), dtype=float), stream=keys)
    explorer = s.widget()
    chart = comm_of(explorer.chart)
    seen: dict[str, set[str]] = {}
    for chosen in [("b",), ("b", "d"), ("e", "b"), ("a", "b", "c", "d", "e"), ("d",)]:
        explorer.picker.value = chosen
        scale = chart.updates("spec")[-1]["encoding"]["color"]["scale"]
        for label, color in zip(scale["domain"], scale["range"], strict=True):
            seen.setdefault(label, set()).add(color)
    expected = {k: style.PALETTE[i] for i, k in enumerate(["a", "b", "c", "d", "e"])}
    assert seen == {**{k: {c} for k, c in expected.items()}, "merged (micro)": {style.MERGED_COLOR}}
    row = explorer.table.value.split("<tr class='im-stream-row'>")[1]
    assert expected[row.split("</span> ")[1].split("<")[0]] in row  # its colour by its name


def test_explorer_table_follows_the_sort_and_says_when_nothing_is_chosen(
    failing_stream: im.Streams, comms: Any
) -> None:
    explorer = failing_stream.widget(chart=False)
    explorer.picker.value = ("big", "small")  # in click order: big first
    rows = explorer.table.value.split("<tr class='im-stream-row'>")[1:]
    assert [r.split("</td>")[0].rsplit(">", 1)[1].strip() for r in rows] == [
        "small",
        "big",
    ]  # worst first
    explorer.sort.value = "weight"
    rows = explorer.table.value.split("<tr class='im-stream-row'>")[1:]
    assert [r.split("</td>")[0].rsplit(">", 1)[1].strip() for r in rows] == ["big", "small"]
    share = failing_stream.breakdown().filter(pl.col("stream") == "small")["share"][0]
    assert f"<td class='im-share'>{share:.1%}</td>" in explorer.table.value  # 10.0%
    assert any(f"{share:.1%} of weight" in label for label, _ in explorer.picker.options)
    explorer.picker.value = ()
    assert "<thead>" not in explorer.table.value
    assert "no stream selected" in explorer.table.value


def test_precision_breakdown_leaves_out_the_empty_contribution_column() -> None:
    s = im.Streams(im.Precision())
    s.update_state([1, 0, 1, 1], [0.9, 0.8, 0.2, 0.7], stream=["a", "a", "b", "b"])
    assert s.breakdown()["contribution"].null_count() == s.breakdown().height
    text = panels.breakdown_html(s.breakdown(), ["a", "b"], s.result(), s.macro_result())
    assert "contribution" not in text and "<th>result</th>" in text


def test_playground_with_every_weight_zero_names_each_mean() -> None:
    pg = im.widgets.Playground([("1, 3, 5, 7", "0, 0, 0, 0"), ("10", "0")])
    html = pg.output.value
    assert "weighted mean <b class='im-pg-weighted-mean'>0</b>" in html  # 0 / 0 -> 0
    assert "unweighted mean (weights ignored) <b class='im-pg-mean'>5.2</b>" in html  # 26 / 5
    why = pg.lesson.explanation
    assert "the weighted mean is 0" in why and "unweighted mean (5.2) ignores weights" in why
    assert "Mean is 0" not in why and "Mean <b" not in html  # no bare "Mean" left to contradict


def test_playground_merge_names_one_batch_as_a_batch() -> None:
    pg = im.widgets.Playground([("1, 2", ""), ("3", "")])
    assert pg.split.value == 1
    assert "metric A (batch 1)" in pg.output.value and "1–1" not in pg.output.value
    pg = im.widgets.Playground([("1", ""), ("2", ""), ("3", "")])
    pg.split.value = 2
    assert "metric A (batches 1–2)" in pg.output.value


# -- scrubber controls ------------------------------------------------------------------------


def test_scrubber_speed_and_step_size_set_the_play_widget() -> None:
    from interactive_metrics.widgets.scrubber import play_settings

    m = im.Mean()
    for i in range(2000):
        m.update_state([float(i)])
    scrubber = m.widget("scrubber", chart=False)
    # the whole run in about 10 s by default, not 2000 x 150 ms = 5 minutes
    seconds = (2000 / scrubber.play.step) * scrubber.play.interval / 1000
    assert 8 <= seconds <= 12
    assert scrubber.play.repeat is False  # stops at the last step
    scrubber.speed.value = 10
    assert (scrubber.play.interval, scrubber.play.step) == (100, 1)
    scrubber.stride.value = 5
    assert scrubber.slider.step == 5  # the arrow keys move one step size
    assert (scrubber.play.interval, scrubber.play.step) == (500, 5)
    for speed, stride in itertools.product([1, 7, 50, 333, 2000], [1, 3, 10]):
        interval, step = play_settings(speed, stride)
        assert step % stride == 0 and interval >= 40 or step == stride
        assert step / interval * 1000 == pytest.approx(speed, rel=0.25)  # steps per second
    with pytest.raises(ValueError, match="`speed` must be .* got 0"):
        play_settings(0, 1)


def test_scrubber_buttons_move_one_step_size_within_the_range() -> None:
    m = im.Sum()
    for _ in range(10):
        m.update_state([1.0])
    scrubber = m.widget("scrubber", chart=False)
    scrubber.back.click()
    assert scrubber.shown_step == 9
    scrubber.stride.value = 4
    scrubber.back.click()
    assert scrubber.shown_step == 5
    assert "<td class='im-running-total'>5</td>" in scrubber.panel.value
    for _ in range(5):
        scrubber.forward.click()
    assert scrubber.slider.value == 10  # not past the end


def test_scrubber_says_when_play_stops_or_restarts() -> None:
    m = im.Sum()
    for _ in range(5):
        m.update_state([1.0])
    scrubber = m.widget("scrubber", chart=False)
    scrubber.play.playing = True  # pressed at the last step: the browser restarts at the start
    scrubber.slider.value = 0
    assert "playing again from the first step" in scrubber.note.value
    scrubber.slider.value = 5
    scrubber.play.playing = False  # reached the end
    assert "stopped at the last step (5)" in scrubber.note.value
    scrubber.slider.value = 2
    scrubber.play.playing = True
    assert scrubber.note.value == ""


def test_scrubber_follows_new_steps(comms: Any) -> None:
    m = im.Mean()
    m.update_state([1.0])
    scrubber = m.widget("scrubber")
    scrubber.throttle = Throttle(interval=0.0, clock=FakeClock())
    for value in (2.0, 3.0, 4.0):
        m.update_state([value])
    assert scrubber.slider.max == 4 and scrubber.slider.value == 4  # kept at the end
    assert "<td class='im-result'>2.5</td>" in scrubber.panel.value
    rows = comm_of(scrubber.chart).updates("spec")[-1]["datasets"]["history"]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    scrubber.slider.value = 2
    m.update_state([5.0])
    assert scrubber.slider.max == 5 and scrubber.slider.value == 2  # a chosen step stays


def test_streams_card_names_the_worst_stream_and_draws_a_few_sparklines() -> None:
    from interactive_metrics.charts import style
    from interactive_metrics.widgets.card import SPARK_STREAMS, streams_card

    assert "0 streams" in streams_card(im.Streams(im.Mean()))  # nothing yet: no failure
    s = im.Streams(im.Precision()).replay(
        im.data.sample_log(), y_true="y_true", y_pred="score", batch="batch", stream="stream"
    )
    card = s._repr_html_()
    breakdown = s.breakdown()
    far = breakdown.with_columns(d=(pl.col("result") - s.result()).abs()).sort("d")[-1]
    assert far["stream"][0] == "pump_b"  # the independent reading of the bundled log
    assert "farthest from merged: <b class='im-card-worst'>pump_b</b>" in card
    assert f"{style.format_number(s.result())}</span>" in card
    assert f'<b class="im-card-macro">{style.format_number(s.macro_result())}</b>' in card
    assert f"{len(s.streams)} streams" in card
    assert card.count("<polyline") == min(SPARK_STREAMS, len(s.streams))
    pump_b = style.stream_colors(["pump_b"], s.streams)[0]
    assert f'stroke="{pump_b}"' in card  # the stream's own colour


# -- issue 16: the threshold explorer ------------------------------------------------------


def threshold_oracle(y: np.ndarray, score: np.ndarray, t: float) -> dict[str, float]:
    """Counts and rates at threshold ``t`` from the raw data (predicted positive: score > t)."""
    predicted = score > t
    tp = float(np.sum(predicted & (y == 1)))
    fp = float(np.sum(predicted & (y == 0)))
    tn, fn = float(np.sum(~predicted & (y == 0))), float(np.sum(~predicted & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {"true_positives": tp, "false_positives": fp, "true_negatives": tn,
            "false_negatives": fn, "precision": precision, "recall": recall, "f1": f1}  # fmt: skip


def test_threshold_explorer_slider_shows_each_streams_counts(comms: Any) -> None:
    rng = np.random.default_rng(8)
    y = (rng.random(500) < 0.35).astype(float)
    score = np.round(np.clip(0.4 * y + 0.6 * rng.random(500), 0, 1), 3) + 0.0005
    keys = np.where(rng.random(500) < 0.3, "pump_b", "pump_a")
    streams = im.Streams(im.AUC(num_thresholds=21))
    streams.update_state(y, score, stream=keys)
    explorer = streams.widget("thresholds")
    assert isinstance(explorer, im.widgets.ThresholdExplorer)
    assert explorer.threshold == 0.5 and explorer.labels() == ["pump_a", "pump_b", "(merged)"]
    comm = comms[explorer.panel.model_id]
    for index in (10, 3, 17, 0, 20):
        explorer.slider.value = index
        t = explorer.thresholds[index]
        sent = comm.updates("value")[-1]  # what the browser was sent
        for key, mask in (("pump_a", keys == "pump_a"), ("pump_b", keys == "pump_b"),
                          (None, np.ones(500, bool))):  # fmt: skip
            want = threshold_oracle(y[mask], score[mask], t)
            got = explorer.row(key)
            for column, value in want.items():
                assert got[column] == pytest.approx(value), (key, t, column)
            label = "(merged)" if key is None else key
            row = sent.split(f"data-stream='{label}'>")[1].split("</tr>")[0]
            cells = dict(re.findall(r"class='(im-\w+)'[^>]*>([^<]*)</td>", row))
            assert cells["im-tp"] == im.charts.style.format_number(want["true_positives"])
            assert cells["im-fn"] == im.charts.style.format_number(want["false_negatives"])
            assert cells["im-f1"] == im.charts.style.format_number(want["f1"])
    explorer.close()


def test_threshold_explorer_reads_counts_never_data_and_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = im.PrecisionAtRecall(0.5, num_thresholds=5)
    m.update_state([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    explorer = m.widget("thresholds", interval=0)
    explorer.throttle.clock = FakeClock()  # no time passes in a redraw: every event redraws
    assert explorer.threshold == 0.75  # the threshold PrecisionAtRecall's result comes from
    assert explorer.row()["precision"] == m.result() == 1.0  # at 0.5 it would be 0.5

    def no_data(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the explorer recomputed from data")

    monkeypatch.setattr(type(m), "terms", no_data)
    explorer.slider.value = 2  # threshold 0.5
    assert explorer.row()["true_positives"] == 1.0 and explorer.row()["false_positives"] == 1.0
    monkeypatch.undo()
    m.update_state([1, 0], [0.8, 0.45])  # followed: the table is read again
    assert explorer.threshold == 0.5
    assert explorer.row()["true_positives"] == 2.0 and explorer.row()["false_positives"] == 1.0
    m.reset_state()
    assert explorer.row()["true_positives"] == 0.0
    explorer.close()
    with pytest.raises(TypeError, match="`source` must be a metric that keeps counts"):
        im.widgets.ThresholdExplorer(im.Mean())
    with pytest.raises(ValueError, match=r"must be one of \('live', 'scrubber'\), got 'thr"):
        im.Mean().widget("thresholds")
    with pytest.raises(ValueError, match=r"\('live', 'scrubber', 'thresholds'\)"):
        im.AUC().widget("curves")


# -- issue 13: widgets read public names only -----------------------------------------------


def test_widgets_read_no_metric_or_streams_internals() -> None:
    from pathlib import Path

    folder = Path(im.__file__).parent / "widgets"
    private = re.compile(
        r"\.(_history|_state|_fields|_result_shape|_results|_overall|_start)\b|hasattr\([^)]*_overall"
    )
    found = {
        f"{path.name}:{number}": line.strip()
        for path in sorted(folder.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    }
    assert found == {}


def test_live_view_of_streams_follows_the_merged_copy_of_each_event(comms: Any) -> None:
    s = im.Streams(im.Mean(name="hit_rate"))
    view = s.widget("live", interval=0)
    view.throttle.clock, view.throttle.next_due = FakeClock(), 0.0  # every event redraws
    s.update_state([1.0, 0.0, 1.0], stream=["a", "b", "a"])
    s.update_state([0.0], stream=["b"])
    assert view.metric is s.merged() and view.metric.step == 2
    assert "im-live-result" in view.summary.value and ">0.5</span>" in view.summary.value
    rows = comm_of(view.chart).updates("spec")[-1]["datasets"]["history"]
    assert [(r["step"], r["result"]) for r in rows] == [(1, 2 / 3), (2, 0.5)]
    view.close()


# -- issue 17: intervals in the cards and the stream explorer -------------------------------


def accuracy_streams() -> tuple[im.Streams, dict[str, tuple[int, int]]]:
    counts = {"a": (285, 300), "b": (30, 40), "c": (9, 10)}
    s = im.Streams(im.BinaryAccuracy())
    for key, (right, n) in counts.items():
        s.update_state([1] * n, [1] * right + [0] * (n - right), stream=key)
    return s, counts


def test_metric_card_shows_the_interval_when_there_is_one() -> None:
    from interactive_metrics.charts.style import format_interval
    from interactive_metrics.intervals import student_t, wilson

    m = im.BinaryAccuracy()
    m.update_state([1] * 10, [1] * 8 + [0] * 2)
    card = metric_card(m)
    assert "95% Wilson interval 0.4902 – 0.9433" in card  # hand numbers (wilson(8, 10))
    assert format_interval(*wilson(8, 10)) in card
    mean = im.Mean(variance=True)
    mean.update_state([1.0, 2.0, 4.0])
    assert f"95% Student t interval {format_interval(*student_t(7.0, 3.0, 21.0))}" in (
        metric_card(mean)
    )
    boot = im.Bootstrap(im.Mean(), replicates=30)
    boot.update_state([0.0, 1.0] * 10)
    assert f"95% bootstrap interval {format_interval(*boot.interval())}" in metric_card(boot)
    # no closed form, no data, a non-scalar result, one sample for t: no interval, no failure
    plain = im.Mean()
    plain.update_state([1.0, 2.0])
    one = im.Mean(variance=True)
    one.update_state([1.0])
    for quiet in (plain, im.BinaryAccuracy(), one, im.Sum()):
        assert "im-card-interval" not in metric_card(quiet)


def test_streams_card_shows_the_merged_and_the_worst_streams_interval() -> None:
    from interactive_metrics.charts.style import format_interval
    from interactive_metrics.intervals import wilson

    s, counts = accuracy_streams()
    card = s._repr_html_()
    right = sum(r for r, _ in counts.values())
    total = sum(n for _, n in counts.values())
    assert f"merged: 95% Wilson interval {format_interval(*wilson(right, total))}" in card
    worst = "b"  # 0.75, farthest from the merged 0.9314
    assert f"<b class='im-card-worst'>{worst}</b>" in card
    assert f"({format_interval(*wilson(*counts[worst]))})" in card
    plain = im.Streams(im.Mean())
    plain.update_state([1.0, 2.0], stream=["a", "b"])
    assert "interval" not in plain._repr_html_()


def test_explorer_table_shows_each_streams_interval() -> None:
    from interactive_metrics.charts.style import format_interval
    from interactive_metrics.intervals import wilson
    from interactive_metrics.widgets.explorer import StreamExplorer

    s, counts = accuracy_streams()
    explorer = StreamExplorer(s, chart=False)
    explorer.picker.value = ("a", "b", "c")
    table = explorer.table.value
    assert "<th title='95% Wilson interval'>95% interval</th>" in table
    cells = re.findall(r"<td class='im-interval'>([^<]*)</td>", table)
    order = [r for r in re.findall(r"&#9679;</span> (\w)</td>", table)]
    assert cells == [format_interval(*wilson(*counts[key])) for key in order]
    assert sorted(order) == ["a", "b", "c"]
    # following the streams: a new batch moves the interval
    s.update_state([1] * 60, [1] * 60, stream="b")
    explorer.refresh()
    table = explorer.table.value
    assert format_interval(*wilson(90, 100)) in table
    explorer.close()
    plain = im.Streams(im.Mean())
    plain.update_state([1.0, 2.0], stream=["a", "b"])
    quiet = StreamExplorer(plain, chart=False, selected=["a", "b"])
    assert "im-interval" not in quiet.table.value and "ci_low" not in quiet.table.value
    quiet.close()


def test_card_and_explorer_of_composite_keys_show_labels_and_intervals() -> None:
    """Streams keyed by two columns: the card and the explorer read 'x · 1' (they raised)."""
    from interactive_metrics.charts.style import format_interval
    from interactive_metrics.intervals import wilson
    from interactive_metrics.widgets.explorer import StreamExplorer

    frame = pl.DataFrame(
        {
            "site": ["x"] * 10 + ["y"] * 20,
            "unit": [1] * 10 + [2] * 20,
            "y_true": [1.0] * 30,
            "y_pred": [1.0] * 5 + [0.0] * 5 + [1.0] * 19 + [0.0],
            "batch": [0] * 30,
        }
    )
    s = im.Streams(im.BinaryAccuracy()).replay(
        frame, y_true="y_true", y_pred="y_pred", batch="batch", stream=["site", "unit"]
    )
    card = s._repr_html_()
    assert "farthest from merged: <b class='im-card-worst'>x · 1</b>" in card
    assert f"({format_interval(*wilson(5, 10))})" in card
    assert card.count("<polyline") == 0  # one step: no sparkline, and no failure
    explorer = StreamExplorer(s, chart=False)
    assert explorer.picker.value == ("x · 1",)
    table = explorer.table.value
    assert "<td>x</td><td>1</td>" in table
    assert f"<td class='im-interval'>{format_interval(*wilson(5, 10))}</td>" in table
    explorer.close()
