"""Streams keyed by several columns: every form of composite key, lookups, replay, save/load."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import interactive_metrics as im

SENSOR = ["a", "b", "a", "c", "b", "a"]
SITE = [1, 1, 2, 2, 1, 1]
VALUES = [1.0, 0.0, 1.0, 1.0, 0.0, 0.5]

FORMS: dict[str, Any] = {
    "polars DataFrame": pl.DataFrame({"sensor": SENSOR, "site": SITE}),
    "pandas DataFrame": pd.DataFrame({"sensor": SENSOR, "site": SITE}),
    "polars struct": pl.DataFrame({"sensor": SENSOR, "site": SITE}).to_struct("key"),
    "list of Series": [pl.Series("sensor", SENSOR), pl.Series("site", SITE)],
    "list of arrays": [np.array(SENSOR), np.array(SITE)],
    "list of tuples": list(zip(SENSOR, SITE, strict=True)),
}


def _joined() -> im.Streams:
    """The same streams keyed by one pre-joined string: the reference."""
    s = im.Streams(im.Mean())
    s.update_state(VALUES, stream=[f"{a}|{b}" for a, b in zip(SENSOR, SITE, strict=True)])
    return s


@pytest.mark.parametrize("form", list(FORMS))
def test_every_form_of_composite_key_gives_the_streams_of_the_joined_key(form: str) -> None:
    s = im.Streams(im.Mean())
    s.update_state(VALUES, stream=FORMS[form])
    reference = _joined()
    assert s.streams == [("a", 1), ("b", 1), ("a", 2), ("c", 2)]
    assert [f"{a}|{b}" for a, b in s.streams] == reference.streams
    ours, theirs = s.breakdown(), reference.breakdown()
    assert ours.columns[:2] == list(s.key_names)
    assert ours.drop(s.key_names).equals(theirs.drop("stream"))
    assert s.result() == reference.result() and s.macro_result() == reference.macro_result()
    named = form in ("polars DataFrame", "pandas DataFrame", "polars struct", "list of Series")
    assert s.key_names == (("sensor", "site") if named else ("stream_0", "stream_1"))


def test_a_composite_key_is_looked_up_by_its_tuple_and_equals_a_lone_metric() -> None:
    s = im.Streams(im.Mean())
    s.update_state(VALUES, stream=FORMS["polars DataFrame"])
    s.update_state([0.25], stream=pl.DataFrame({"sensor": ["a"], "site": [1]}))
    alone = im.Mean()
    alone.update_state([1.0, 0.5])  # the rows of ("a", 1) in the first batch
    alone.update_state([0.25])
    assert s[("a", 1)].result() == alone.result()
    assert s[("a", 1)].history.drop("step").equals(alone.history.drop("step"))
    assert ("c", 2) in s and ("c", 1) not in s and "a" not in s
    with pytest.raises(KeyError, match=r"no stream \('c', 1\)"):
        s[("c", 1)]
    history = s.history
    assert history.columns[2:4] == ["sensor", "site"]
    assert history.filter(pl.col("step") == 2).select("sensor", "site").rows() == [("a", 1)]


def test_missing_key_parts_go_to_the_null_stream_part_or_are_refused() -> None:
    keys = pl.DataFrame({"sensor": ["a", None], "site": [1, 1]})
    s = im.Streams(im.Sum(), null_stream="unknown")
    s.update_state([1.0, 2.0], stream=keys)
    assert s.streams == [("a", 1), ("unknown", 1)]
    assert s[(None, 1)].result() == 2.0 == s[("unknown", 1)].result()
    strict = im.Streams(im.Sum())
    with pytest.raises(ValueError, match="missing key part"):
        strict.update_state([1.0, 2.0], stream=keys)
    assert strict.step == 0 and strict.streams == []


def test_keys_of_another_shape_are_refused_and_change_nothing() -> None:
    s = im.Streams(im.Sum())
    s.update_state([1.0], stream=pl.DataFrame({"sensor": ["a"], "site": [1]}))
    before = (s.breakdown(), s.history, s.step)
    for bad, match in [
        (["a"], "composite keys of the parts"),
        (pl.DataFrame({"sensor": ["a"]}), "2 key parts"),
        (pl.DataFrame({"a": ["x", "y"], "b": [1, 2]}), r"one key per sample \(1\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            s.update_state([1.0], stream=bad)
    assert s.breakdown().equals(before[0]) and s.history.equals(before[1])
    assert s.step == before[2]
    simple = im.Streams(im.Sum())
    simple.update_state([1.0], stream="a")
    with pytest.raises(ValueError, match="one key column, as before"):
        simple.update_state([1.0], stream=[("a", 1)])
    with pytest.raises(ValueError, match="keys differ in shape"):
        simple.merge_state(s)


def test_replay_with_several_key_columns_equals_the_update_loop() -> None:
    rng = np.random.default_rng(3)
    n = 400
    log = pl.DataFrame(
        {
            "step": np.sort(rng.integers(0, 20, n)),
            "sensor": rng.choice(["a", "b", "c"], n),
            "day": [dt.date(2024, 1, 1 + int(i)) for i in rng.integers(0, 2, n)],
            "y": rng.integers(0, 2, n).astype(float),
            "p": rng.random(n),
        }
    )
    replayed = im.Streams(im.BinaryAccuracy()).replay(
        log, y_true="y", y_pred="p", batch="step", stream=["sensor", "day"]
    )
    looped = im.Streams(im.BinaryAccuracy())
    for _, part in log.group_by("step", maintain_order=True):
        looped.update_state(part["y"], part["p"], stream=part.select("sensor", "day"))
    assert replayed.streams == looped.streams and replayed.key_names == ("sensor", "day")
    assert replayed.breakdown().equals(looped.breakdown())
    assert replayed.history.equals(looped.history)


def test_save_and_load_keep_the_parts_and_their_types(tmp_path: Path) -> None:
    keys = pl.DataFrame(
        {
            "sensor": ["a", "b", "a"],
            "day": [dt.date(2024, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
            "shift": [1, 2, 1],
        }
    )
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0, 3.0], stream=keys)
    loaded = im.load(s.save(tmp_path / "composite.zip"))
    assert loaded.key_names == ("sensor", "day", "shift")
    assert loaded.streams == s.streams
    assert [type(part) for part in loaded.streams[0]] == [str, dt.date, int]
    assert loaded.breakdown().equals(s.breakdown()) and loaded.history.equals(s.history)
    loaded.update_state([5.0], stream=[("b", dt.date(2024, 1, 1), 2)])
    assert loaded[("b", dt.date(2024, 1, 1), 2)].result() == 3.5


@pytest.mark.parametrize("parts", [2, 12])  # 12 parts of 60 values: too many for one int64
def test_composite_codes_are_the_order_of_first_appearance(parts: int) -> None:
    from interactive_metrics.core.segments import factorize_parts

    rng = np.random.default_rng(parts)
    columns = [pl.Series(rng.integers(0, 2**40, 60)) for _ in range(parts)]
    rows = [*zip(*(c.to_list() for c in columns), strict=True)]
    columns = [pl.concat([c, c[:5]]) for c in columns]  # repeats: the same codes again
    codes, uniques = factorize_parts(columns)
    order = list(dict.fromkeys(rows))
    assert uniques == order
    assert [uniques[c] for c in codes] == rows + rows[:5]


def test_merging_composite_keys_with_missing_parts_keeps_one_kind() -> None:
    """A part under the null stream's label says nothing of that part's kind."""
    a = im.Streams(im.Sum(), null_stream="unknown")
    b = im.Streams(im.Sum(), null_stream="unknown")
    a.update_state(
        [1.0],
        stream=pl.DataFrame({"s": ["x"], "n": [None]}, schema={"s": pl.String, "n": pl.Int64}),
    )
    b.update_state([2.0], stream=pl.DataFrame({"s": ["y"], "n": [3]}))
    a.merge_state(b)
    assert a.streams == [("x", "unknown"), ("y", 3)]
    c = im.Streams(im.Sum(), null_stream="unknown")
    c.update_state([1.0], stream=pl.DataFrame({"s": [1], "n": [3]}))
    with pytest.raises(ValueError, match="cannot merge Streams whose keys are of different kinds"):
        a.merge_state(c)
    assert a.streams == [("x", "unknown"), ("y", 3)]
