"""Streams against fairlearn's MetricFrame: overall, by group, min/max, difference, ratio, control."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score, recall_score

import interactive_metrics as im


def _data(seed: int, n: int = 600) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05])
    site = rng.choice(["north", "south"], n)
    y = rng.integers(0, 2, n)
    skill = {"a": 0.9, "b": 0.75, "c": 0.6, "d": 0.4}
    right = rng.random(n) < np.vectorize(skill.get)(group)
    pred = np.where(right, y, 1 - y)
    weight = rng.integers(1, 4, n).astype(float)
    return {"group": group, "site": site, "y": y, "pred": pred, "w": weight}


CASES: list[tuple[Any, Any]] = [
    (im.Accuracy, accuracy_score),
    (im.Recall, recall_score),
]


def _ours(make: Any, d: dict[str, np.ndarray], keys: Any, weighted: bool) -> im.Streams:
    s = im.Streams(make())
    for part in np.array_split(np.arange(len(d["y"])), 4):  # four batches: merges are exact
        chosen = keys[part] if isinstance(keys, pl.DataFrame) else keys[part]
        s.update_state(
            d["y"][part].astype(float),
            d["pred"][part].astype(float),
            stream=chosen,
            sample_weight=d["w"][part] if weighted else None,
        )
    return s


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("make", "function"), CASES, ids=["accuracy", "recall"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streams_equal_metric_frame(make: Any, function: Any, seed: int, weighted: bool) -> None:
    d = _data(seed)
    frame = MetricFrame(
        metrics=function,
        y_true=d["y"],
        y_pred=d["pred"],
        sensitive_features=d["group"],
        sample_params={"sample_weight": d["w"]} if weighted else None,
    )
    s = _ours(make, d, d["group"], weighted)
    assert s.overall == pytest.approx(frame.overall, rel=1e-12)
    ours = dict(s.by_stream.rows())
    assert ours == pytest.approx(frame.by_group.to_dict(), rel=1e-12)
    assert s.group_min() == pytest.approx(frame.group_min(), rel=1e-12)
    assert s.group_max() == pytest.approx(frame.group_max(), rel=1e-12)
    for method in ("between_groups", "to_overall"):
        assert s.difference(method) == pytest.approx(frame.difference(method=method), rel=1e-12)
        assert s.ratio(method) == pytest.approx(frame.ratio(method=method), rel=1e-12)


@pytest.mark.parametrize(("make", "function"), CASES, ids=["accuracy", "recall"])
def test_control_features_equal_metric_frame(make: Any, function: Any) -> None:
    d = _data(5)
    frame = MetricFrame(
        metrics=function,
        y_true=d["y"],
        y_pred=d["pred"],
        sensitive_features=pd.DataFrame({"group": d["group"]}),
        control_features=pd.DataFrame({"site": d["site"]}),
        sample_params={"sample_weight": d["w"]},
    )
    keys = pl.DataFrame({"site": d["site"], "group": d["group"]})
    s = _ours(make, d, keys, weighted=True)
    checks = {
        "group_min": (s.group_min(control="site"), frame.group_min()),
        "group_max": (s.group_max(control="site"), frame.group_max()),
        "difference": (s.difference(control="site"), frame.difference()),
        "difference_to": (
            s.difference("to_overall", control="site"),
            frame.difference("to_overall"),
        ),
        "ratio": (s.ratio(control="site"), frame.ratio()),
        "ratio_to": (s.ratio("to_overall", control="site"), frame.ratio("to_overall")),
    }
    for name, (ours, theirs) in checks.items():
        got = dict(zip(ours["site"].to_list(), ours[ours.columns[-1]].to_list(), strict=True))
        assert got == pytest.approx(theirs.to_dict(), rel=1e-12), name


def test_streams_without_weight_are_left_out_and_bad_arguments_are_refused() -> None:
    s = im.Streams(im.Mean())
    s.update_state([1.0, 0.5, 9.0], stream=["a", "b", "c"], sample_weight=[1.0, 1.0, 0.0])
    assert (s.group_min(), s.group_max(), s.difference()) == (0.5, 1.0, 0.5)
    with pytest.raises(ValueError, match="`method` must be 'between_groups' or 'to_overall'"):
        s.ratio("max")
    with pytest.raises(ValueError, match="`control` must name some"):
        s.group_min(control="stream")
    empty = im.Streams(im.Mean())
    assert np.isnan(empty.group_min()) and np.isnan(empty.difference())
