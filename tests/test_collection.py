"""MetricCollection: several metrics from one batch, each equal to the metric used alone."""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import interactive_metrics as im
from interactive_metrics.collection import SEPARATOR
from interactive_metrics.engine import CHUNK
from interactive_metrics.io import SavedFileError


def members() -> dict[str, im.Metric]:
    """The mix of the issue: a loss, three classification metrics and a vector metric."""
    return {
        "loss": im.Mean(),
        "accuracy": im.BinaryAccuracy(),
        "precision": im.Precision(),
        "recall": im.Recall(),
        "precision_curve": im.Precision(thresholds=[0.25, 0.5, 0.75]),
    }


def feed_alone(alone: dict[str, im.Metric], batch: dict[str, Any], weight: Any) -> None:
    for name, m in alone.items():
        inputs = [batch["values"]] if name == "loss" else [batch["y_true"], batch["y_pred"]]
        m.update_state(*inputs, sample_weight=weight)


def a_batch(rng: np.random.Generator, n: int) -> dict[str, Any]:
    return {
        "values": rng.random(n) * 3,
        "y_true": rng.integers(0, 2, n),
        "y_pred": rng.random(n),
    }


def assert_same(collection: im.MetricCollection, alone: dict[str, im.Metric]) -> None:
    """Every member equals its twin used alone: results, states, steps and histories, exactly."""
    for name, m in alone.items():
        member = collection[name]
        np.testing.assert_array_equal(member.result(), m.result())
        assert member.state.keys() == m.state.keys()
        for field in m.state:
            np.testing.assert_array_equal(member.state[field], m.state[field])
        assert member.step == m.step
        assert_frame_equal(member.history, m.history)
    wide = collection.history
    for name, m in alone.items():
        own = wide.select(
            "step",
            "event",
            *(
                pl.col(c if c == "log_batch" else f"{name}{SEPARATOR}{c}").alias(c)
                for c in m.history.columns[2:]
            ),
        )
        assert_frame_equal(own, m.history)


# -- construction ----------------------------------------------------------------------------


def test_a_list_names_members_by_their_names_and_a_dict_by_its_keys() -> None:
    by_list = im.MetricCollection([im.Mean(name="loss"), im.Recall()])
    assert by_list.keys() == ["loss", "recall"]
    by_dict = im.MetricCollection({"a": im.Mean(), "b": im.Mean()})
    assert by_dict.keys() == ["a", "b"]
    assert len(by_dict) == 2 and "a" in by_dict and "c" not in by_dict
    assert isinstance(by_dict["b"], im.Mean)
    assert [n for n, _ in by_dict.items()] == list(by_dict)


def test_duplicate_names_in_a_list_are_an_error_naming_them() -> None:
    with pytest.raises(ValueError, match=r"several metrics named \['mean', 'recall'\]"):
        im.MetricCollection([im.Mean(), im.Mean(), im.Recall(), im.Recall(), im.Sum()])


@pytest.mark.parametrize(
    ("metrics", "error", "message"),
    [
        ([], ValueError, "at least one metric"),
        ([im.Mean(), "accuracy"], TypeError, r"must be an interactive_metrics Metric, got 'acc"),
        ({"a/b": im.Mean()}, ValueError, r"must not contain '/'"),
        ({"": im.Mean()}, ValueError, "name"),
        (im.Mean(), TypeError, r"`metrics` must be a dict .* got Mean"),
    ],
)
def test_bad_members_are_refused(metrics: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        im.MetricCollection(metrics)


def test_one_metric_object_twice_is_refused() -> None:
    m = im.Mean()
    with pytest.raises(ValueError, match=r"one metric object twice \('a' and 'b'\)"):
        im.MetricCollection({"a": m, "b": m})


def test_members_must_start_at_the_same_step() -> None:
    ahead = im.Mean()
    ahead.update_state([1.0])
    with pytest.raises(ValueError, match=r"same number of events, got steps \{'mean': 1, 'sum'"):
        im.MetricCollection([ahead, im.Sum()])


# -- update ----------------------------------------------------------------------------------


def test_positional_inputs_work_when_every_member_reads_the_same() -> None:
    collection = im.MetricCollection([im.BinaryAccuracy(), im.Precision(), im.Recall()])
    collection.update_state([1, 0, 1, 1], [0.9, 0.6, 0.4, 0.8])
    # hand-checked: predicted [1, 1, 0, 1] against [1, 0, 1, 1]
    assert collection.result() == {
        "binary_accuracy": 0.5,
        "precision": 2 / 3,
        "recall": 2 / 3,
    }
    collection.update_state([0], y_pred=[0.1])  # mixed, as a member would take them
    assert collection["binary_accuracy"].state == {"correct": 3.0, "count": 5.0}


def test_mixed_inputs_positionally_are_a_type_error_naming_each_members_inputs() -> None:
    collection = im.MetricCollection({"loss": im.Mean(), "accuracy": im.BinaryAccuracy()})
    with pytest.raises(
        TypeError,
        match=r"members read different inputs \(loss: values; accuracy: y_true, y_pred\); "
        r"pass every input by name: update_state\(values=\.\.\., y_true=\.\.\., y_pred=\.\.\.\)",
    ):
        collection.update_state([1.0, 2.0], [0.5, 0.5])
    with pytest.raises(TypeError, match=r"missing input\(s\) \['y_pred'\], read by \['accuracy'\]"):
        collection.update_state(values=[1.0], y_true=[1])
    with pytest.raises(TypeError, match=r"unknown input\(s\) \['scores'\]"):
        collection.update_state(values=[1.0], y_true=[1], y_pred=[0.5], scores=[1])
    assert collection.step == 0 and collection.history.height == 0


def test_each_input_is_converted_once_per_batch_not_once_per_member() -> None:
    calls: list[str] = []

    def counting(x: Any, name: str, dtype: Any) -> np.ndarray:
        calls.append(name)
        return np.asarray(x, dtype=dtype)

    class CountingPrecision(im.Precision):
        as_input = staticmethod(counting)

    class CountingRecall(im.Recall):
        as_input = staticmethod(counting)  # one coercion: one input signature

    collection = im.MetricCollection([CountingPrecision(), CountingRecall()])
    collection.update_state([1, 0, 1], [0.8, 0.2, 0.4])
    assert calls == ["y_true", "y_pred"]
    assert collection.result() == {"counting_precision": 1.0, "counting_recall": 0.5}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6),
    weighted=st.booleans(),
    events=st.lists(st.sampled_from(["update", "reset", "merge"]), min_size=0, max_size=3),
)
def test_every_member_equals_the_metric_used_alone(
    seed: int, sizes: list[int], weighted: bool, events: list[str]
) -> None:
    rng = np.random.default_rng(seed)
    collection = im.MetricCollection(members())
    alone = members()
    plan = [("update", n) for n in sizes] + [(e, int(rng.integers(0, 10))) for e in events]
    for event, n in plan:
        if event == "reset":
            collection.reset_state()
            for m in alone.values():
                m.reset_state()
            continue
        batch = a_batch(rng, n)
        weight = rng.random(n) * 2 if weighted else None
        if event == "merge":
            other = im.MetricCollection(members())
            other.update_state(**batch, sample_weight=weight)
            collection.merge_state(other)
            for name, m in alone.items():
                twin = members()[name]
                feed_alone({name: twin}, batch, weight)
                m.merge_state(twin)
            continue
        collection.update_state(**batch, sample_weight=weight)
        feed_alone(alone, batch, weight)
    assert_same(collection, alone)
    assert collection.result().keys() == alone.keys()


def test_a_large_batch_reduced_in_chunks_equals_the_metrics_alone() -> None:
    rng = np.random.default_rng(3)
    batch = a_batch(rng, CHUNK + 17)
    weight = rng.random(CHUNK + 17)
    collection = im.MetricCollection(members())
    alone = members()
    collection.update_state(**batch, sample_weight=weight)
    feed_alone(alone, batch, weight)
    assert_same(collection, alone)


def test_members_with_other_nan_strategies_share_the_batch_and_keep_their_own_rules() -> None:
    collection = im.MetricCollection(
        {"kept": im.Mean(), "dropped": im.Mean(nan_strategy="ignore"), "total": im.Sum()}
    )
    collection.update_state([1.0, float("nan"), 3.0], sample_weight=[1.0, 1.0, 3.0])
    result = collection.result()
    assert np.isnan(result["kept"]) and np.isnan(result["total"])
    assert result["dropped"] == 2.5  # (1 + 9) / 4


class Fragile(im.Metric):
    """A metric whose terms refuse a value: the last member, so that others run first."""

    fields = [im.StateField("total")]

    def terms(self, values: np.ndarray, sample_weight: Any = None) -> dict[str, Any]:
        if (values > 100).any():
            raise ValueError("`values` above 100 are refused by this test metric")
        return {"total": values}

    def compute(self, state: Any) -> float:
        return state["total"]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"values": [1.0, 500.0]}, "above 100 are refused"),
        ({"values": [1.0, 2.0], "sample_weight": [1.0, -1.0]}, "must be >= 0"),
        ({"values": [1.0, 2.0], "sample_weight": [1.0, 2.0, 3.0]}, "shape|broadcast"),
        ({"values": [[1.0], [2.0, 3.0]]}, "`values`"),
    ],
)
def test_a_failed_update_changes_no_member(update: dict[str, Any], message: str) -> None:
    collection = im.MetricCollection([im.Mean(), im.Max(), Fragile()])
    collection.update_state([1.0, 4.0])
    before = {name: copy.deepcopy(m.snapshot()) for name, m in collection.items()}
    wide = collection.history
    with pytest.raises(ValueError, match=message):
        collection.update_state(**update)
    for name, m in collection.items():
        after = m.snapshot()
        assert after.step == before[name].step == 1
        assert after.state == before[name].state
        assert_frame_equal(after.history, before[name].history)
    assert_frame_equal(collection.history, wide)
    assert collection.result() == {"mean": 2.5, "max": 4.0, "fragile": 5.0}


def test_a_failure_in_a_late_chunk_changes_no_member() -> None:
    collection = im.MetricCollection([im.Mean(), Fragile()])
    values = np.ones(CHUNK + 1)
    values[-1] = 1000.0
    with pytest.raises(ValueError, match="above 100"):
        collection.update_state(values)
    assert collection.step == 0 and collection["mean"].result() == 0.0


# -- events and the past ---------------------------------------------------------------------


def test_history_is_one_wide_frame_with_one_step_and_event() -> None:
    collection = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
    collection.update_state(values=[0.5, 1.5], y_true=[1, 1], y_pred=[0.9, 0.1])
    collection.reset_state()
    history = collection.history
    assert history.columns[:2] == ["step", "event"]
    assert history.columns.count("step") == 1
    assert history["event"].to_list() == ["update", "reset"]
    assert history["loss/result"].to_list() == [1.0, 0.0]
    assert history["recall/running_true_positives"].to_list() == [1.0, 0.0]
    assert history["recall/batch_false_negatives"].to_list() == [1.0, None]


def test_a_member_without_history_has_no_columns_and_the_others_keep_theirs() -> None:
    collection = im.MetricCollection({"a": im.Sum(history=False), "b": im.Sum()})
    collection.update_state([2.0])
    assert collection.history.columns == [
        "step",
        "event",
        "b/batch_total",
        "b/batch_result",
        "b/running_total",
        "b/result",
    ]


def test_a_member_updated_alone_leaves_gaps_not_a_crash() -> None:
    collection = im.MetricCollection({"a": im.Sum(), "b": im.Sum()})
    collection.update_state([1.0])
    collection["a"].update_state([5.0])
    history = collection.history
    assert history["step"].to_list() == [1, 2]
    assert history["a/result"].to_list() == [1.0, 6.0]
    assert history["b/result"].to_list() == [1.0, None]


def test_state_at_and_result_at_are_dicts_of_the_members_past() -> None:
    collection = im.MetricCollection([im.Mean(), im.Max()])
    collection.update_state([1.0, 3.0])
    collection.update_state([8.0])
    assert collection.state_at(0) == {"mean": {"total": 0.0, "count": 0.0}, "max": {"max": -np.inf}}
    assert collection.state_at(1) == {"mean": {"total": 4.0, "count": 2.0}, "max": {"max": 3.0}}
    assert collection.result_at(2) == {"mean": 4.0, "max": 8.0}
    with pytest.raises(ValueError, match=r"`step` must be in \[0, 2\]"):
        collection.result_at(3)


def test_merge_refuses_other_members_before_merging_any() -> None:
    a = im.MetricCollection([im.Mean(), im.Precision()])
    a.update_state(values=[1, 0], y_true=[1, 0], y_pred=[0.9, 0.9])
    same_names = im.MetricCollection([im.Mean(), im.Precision(thresholds=0.7)])
    with pytest.raises(ValueError, match=r"cannot merge member 'precision'"):
        a.merge_state(same_names)
    with pytest.raises(ValueError, match=r"same members"):
        a.merge_state(im.MetricCollection([im.Mean()]))
    with pytest.raises(TypeError, match="MetricCollection"):
        a.merge_state([im.Mean()])  # type: ignore[list-item]
    assert a.step == 1 and a["mean"].step == 1


# -- configuration and files -----------------------------------------------------------------


def test_config_round_trip_rebuilds_fresh_members() -> None:
    collection = im.MetricCollection(members())
    collection.update_state(**a_batch(np.random.default_rng(0), 5))
    again = im.MetricCollection.from_config(collection.get_config())
    assert again.keys() == collection.keys()
    assert again.step == 0
    for name in collection:
        assert again[name].get_config() == collection[name].get_config()
    with pytest.raises(ValueError, match="not a metric class"):
        im.MetricCollection.from_config(
            {"metrics": [{"name": "x", "class": "Fragile", "config": {}}]}
        )
    rebuilt = im.MetricCollection.from_config(
        {"metrics": [{"name": "x", "class": "Fragile", "config": {}}]},
        custom_objects={"Fragile": Fragile},
    )
    assert isinstance(rebuilt["x"], Fragile)


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_save_and_load_keep_every_member_exactly(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(1)
    collection = im.MetricCollection({**members(), "quiet": im.Sum(history=False)})
    for n in (3, 7, 0):
        batch = a_batch(rng, n)
        collection.update_state(**batch, sample_weight=rng.random(n))
    collection.reset_state()
    collection.update_state(**a_batch(rng, 4))
    path = collection.save(tmp_path / f"metrics{suffix}")
    loaded = im.load(path)
    assert isinstance(loaded, im.MetricCollection)
    assert loaded.keys() == collection.keys()
    assert_frame_equal(loaded.history, collection.history)
    for name, m in collection.items():
        for field, value in m.snapshot().state.items():
            np.testing.assert_array_equal(loaded[name].snapshot().state[field], value)
        assert loaded[name].get_config() == m.get_config()
    batch = a_batch(rng, 6)
    loaded.update_state(**batch)
    collection.update_state(**batch)
    assert_frame_equal(loaded.history, collection.history)


def test_save_and_load_keep_replay_labels(tmp_path: Path) -> None:
    log = pl.DataFrame({"epoch": ["a", "a", "b"], "loss": [1.0, 2.0, 4.0]})
    collection = im.MetricCollection([im.Mean(), im.Sum()]).replay(
        log, batch="epoch", values="loss"
    )
    assert collection.history.columns[:3] == ["step", "event", "log_batch"]
    loaded = im.load(collection.save(tmp_path / "replayed"))
    assert_frame_equal(loaded.history, collection.history)
    assert loaded["sum"].history["log_batch"].to_list() == ["a", "b"]


def test_a_failed_save_leaves_the_earlier_save_as_it_was(tmp_path: Path) -> None:
    good = im.MetricCollection([im.Mean()])
    good.update_state([2.0])
    path = good.save(tmp_path / "metrics")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    custom = im.MetricCollection([im.Mean(), Fragile()])
    with pytest.raises(TypeError, match="defined outside"):
        custom.save(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert im.load(path).result() == {"mean": 2.0}


def forge(path: Path, change: Any) -> None:
    """Edit metric.json of a saved directory and recompute its checksum, like a careful forger."""
    file = path / "metric.json"
    payload = json.loads(file.read_text())
    change(payload)
    payload["checksum"] = im.io._checksum(payload)
    file.write_text(json.dumps(payload))


def _replace_history(path: Path, frame: pl.DataFrame) -> Any:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    data = buffer.getvalue()
    (path / "history.parquet").write_bytes(data)

    def change(payload: dict[str, Any]) -> None:
        payload["history"] = {
            "file": "history.parquet",
            "rows": frame.height,
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    return change


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    collection = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
    collection.update_state(values=[0.5], y_true=[1], y_pred=[0.8])
    return collection.save(tmp_path / "metrics")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["collection"].__setitem__("members", []), "is empty"),
        (
            lambda p: p["collection"]["members"][1].__setitem__("name", "loss"),
            "bad or repeated names",
        ),
        (
            lambda p: p["collection"]["members"][0]["metric"].__setitem__("class", "os.system"),
            "not a metric class of interactive_metrics",
        ),
        (lambda p: p["collection"].__setitem__("members", "x"), "must be"),
        (lambda p: p.__setitem__("schema_version", 2), r"a 'collection' needs schema version 3"),
        (lambda p: p["collection"]["members"][0]["metric"].__setitem__("step", 5), "steps|step"),
    ],
)
def test_a_forged_collection_file_is_a_saved_file_error(
    saved: Path, change: Any, message: str
) -> None:
    forge(saved, change)
    with pytest.raises(SavedFileError, match=message):
        im.load(saved)


def test_a_forged_history_is_a_saved_file_error(saved: Path) -> None:
    history = pl.read_parquet(saved / "history.parquet")
    ghost = history.with_columns(pl.lit(1.0).alias("ghost/result"))
    forge(saved, _replace_history(saved, ghost))
    with pytest.raises(SavedFileError, match="columns it cannot hold"):
        im.load(saved)
    wrong = history.drop("recall/batch_result")
    forge(saved, _replace_history(saved, wrong))
    with pytest.raises(SavedFileError, match="has columns"):
        im.load(saved)
    (saved / "history.parquet").write_bytes(b"not parquet")
    with pytest.raises(SavedFileError, match="does not match the digest"):
        im.load(saved)


# -- replay ----------------------------------------------------------------------------------


def a_log(rng: np.random.Generator, n: int, batches: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "batch": rng.integers(0, batches, n),
            "loss": rng.random(n),
            "label": rng.integers(0, 2, n),
            "score": rng.random(n),
            "w": rng.random(n),
        }
    )


COLUMNS = {"values": "loss", "y_true": "label", "y_pred": "score"}


@pytest.mark.parametrize("lazy", [False, True])
def test_replay_equals_each_member_replayed_alone(lazy: bool) -> None:
    log = a_log(np.random.default_rng(2), 500, 17)
    data: Any = log.lazy() if lazy else log
    collection = im.MetricCollection(members())
    collection.update_state(values=[1.0], y_true=[1], y_pred=[0.3])  # replay continues a run
    collection.replay(data, batch="batch", sample_weight="w", **COLUMNS)
    alone = members()
    for name, m in alone.items():
        inputs = [1.0] if name == "loss" else [[1], [0.3]]
        m.update_state(*inputs) if name == "loss" else m.update_state(*inputs)
        own = {"values": "loss"} if name == "loss" else {"y_true": "label", "y_pred": "score"}
        m.replay(log, batch="batch", sample_weight="w", **own)
    assert_same(collection, alone)
    assert collection.history["log_batch"].to_list() == [None, *range(17)]


def test_replay_in_several_chunks_merges_batches_that_span_them(monkeypatch: Any) -> None:
    import interactive_metrics.collection as collection_module
    import interactive_metrics.replay as replay_module

    monkeypatch.setattr(replay_module, "CHUNK_ROWS", 64)
    log = a_log(np.random.default_rng(4), 300, 9).sort("batch")
    read: list[int] = []
    original = collection_module.source_chunks

    def counted(*args: Any) -> Any:
        for chunk in original(*args):
            read.append(chunk.height)
            yield chunk

    monkeypatch.setattr(collection_module, "source_chunks", counted)
    collection = im.MetricCollection(members()).replay(log, batch="batch", **COLUMNS)
    assert sum(read) == 300 and len(read) == 5  # each row read once, for every member
    alone = members()
    for name, m in alone.items():
        own = {"values": "loss"} if name == "loss" else {"y_true": "label", "y_pred": "score"}
        m.replay(log, batch="batch", **own)
    for name, m in alone.items():  # float sums over other chunkings agree to rounding
        np.testing.assert_allclose(collection[name].result(), m.result(), rtol=1e-12)
        assert collection[name].history.height == 9


def test_a_failed_replay_changes_no_member() -> None:
    log = a_log(np.random.default_rng(5), 50, 4).with_columns(
        pl.when(pl.col("batch") == 3).then(2).otherwise("label").alias("label")
    )
    collection = im.MetricCollection(members())
    with pytest.raises(ValueError, match="binary labels"):
        collection.replay(log, batch="batch", **COLUMNS)
    assert all(m.step == 0 for m in collection.values())
    with pytest.raises(TypeError, match=r"no column for \['y_pred'\]"):
        collection.replay(log, batch="batch", values="loss", y_true="label")
    with pytest.raises(ValueError, match="not in the data"):
        collection.replay(log, batch="batch", **{**COLUMNS, "values": "nope"})
    assert collection.history.height == 0


# -- display ---------------------------------------------------------------------------------


def test_repr_card_and_plot_show_every_member() -> None:
    collection = im.MetricCollection({"loss": im.Mean(), "curve": members()["precision_curve"]})
    collection.update_state(values=[0.5, 1.0], y_true=[1, 0], y_pred=[0.6, 0.3])
    collection.update_state(values=[2.0], y_true=[1], y_pred=[0.9])
    text = repr(collection)
    assert text.startswith("MetricCollection(loss=Mean(1.1667), curve=Precision([") or (
        "loss=Mean(1.16666" in text
    )
    assert text.endswith("step=2)")
    card = collection._repr_html_()
    assert card.count("im-card-member") == 2 and "1.167" in card
    spec = collection.plot().to_dict()
    assert spec["facet"]["row"]["field"] == "member"
    rows = spec["datasets"][spec["data"]["name"]]
    assert {r["member"] for r in rows} == {"loss", "curve"}
    assert sorted({r["series"] for r in rows if r["member"] == "curve"}) == [
        "result 0",
        "result 1",
        "result 2",
    ]
    assert [r["value"] for r in rows if r["member"] == "loss"] == [0.75, pytest.approx(7 / 6)]
    with pytest.raises(ValueError, match="`kind` must be one of"):
        collection.plot("pie")


def test_import_interactive_metrics_does_not_import_the_collection_eagerly() -> None:
    import subprocess
    import sys

    code = (
        "import sys, interactive_metrics as im; a = 'interactive_metrics.collection' in "
        "sys.modules; im.MetricCollection; print(a, 'interactive_metrics.collection' in sys.modules)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    assert out.stdout.split() == ["False", "True"]


def test_widget_stacks_one_live_view_per_member() -> None:
    pytest.importorskip("ipywidgets")
    collection = im.MetricCollection({"loss": im.Mean(), "recall": im.Recall()})
    view = collection.widget()
    try:
        assert [type(child).__name__ for child in view.children] == ["LiveView", "LiveView"]
        members = collection.values()
        assert [child.metric for child in view.children] == members
    finally:
        for child in view.children:
            child.close()
        view.close()


def test_a_batch_larger_than_a_chunk_gives_each_member_its_own_numbers_bit_for_bit() -> None:
    """Large batches are chunked once for all members (and checked once per chunk)."""
    from interactive_metrics.engine import CHUNK

    rng = np.random.default_rng(11)
    n = 2 * CHUNK + 123
    y, p, w = rng.integers(0, 2, n).astype(float), rng.random(n), rng.random(n)
    members = [im.BinaryAccuracy(), im.Precision(), im.Recall(), im.AUC(num_thresholds=50)]
    together = im.MetricCollection(members)
    together.update_state(y, p, sample_weight=w)
    for member in members:
        alone = type(member).from_config(member.get_config())
        alone.update_state(y, p, sample_weight=w)
        for name, value in alone.state.items():
            assert (
                np.asarray(together[member.name].state[name]).tobytes()
                == np.asarray(value).tobytes()
            )
