"""Save and load: exact round trips, a history that continues, and clear errors for bad files."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metric_cases import CASES, CUSTOM_OBJECTS

import interactive_metrics as im
from interactive_metrics.io import SavedFileError

FORMATS = ["directory", "zip"]


def target(tmp_path: Path, fmt: str, name: str = "saved") -> Path:
    return tmp_path / (f"{name}.zip" if fmt == "zip" else name)


def feed(metric: im.Metric, name: str, seed: int = 0, batches: int = 6) -> None:
    rng = np.random.default_rng(seed)
    case = CASES[name]
    for i in range(batches):
        n = int(rng.integers(0, 6))
        metric.update_state(*case.batch(rng, n), sample_weight=rng.random(n))
        if i == 3:
            metric.reset_state()


def bits(frame: pl.DataFrame) -> dict[str, bytes]:
    """Every column's raw bytes (floats bit for bit) and null mask."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == pl.Enum:
            column = column.to_physical()
        out[name] = column.to_numpy().tobytes() + column.is_null().to_numpy().tobytes()
    return out


def state_bits(metric: im.Metric) -> dict[str, bytes]:
    return {k: np.asarray(v).tobytes() for k, v in metric._state.items()}


def assert_same(loaded: im.Metric, original: im.Metric) -> None:
    assert type(loaded) is type(original)
    assert loaded.get_config() == original.get_config()
    assert loaded.step == original.step
    assert state_bits(loaded) == state_bits(original)
    assert loaded.history.schema == original.history.schema
    assert bits(loaded.history) == bits(original.history)


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_metric_round_trips_and_its_history_continues(tmp_path: Path, name: str) -> None:
    original = CASES[name].build()
    feed(original, name)
    path = original.save(target(tmp_path, "zip"), custom_objects=CUSTOM_OBJECTS)
    loaded = im.load(path, custom_objects=CUSTOM_OBJECTS)
    assert_same(loaded, original)
    for step in range(original.step + 1):
        assert np.array_equal(loaded.result_at(step), original.result_at(step), equal_nan=True), (
            step
        )
    # Later updates continue the same history on both.
    feed(original, name, seed=1, batches=2)
    feed(loaded, name, seed=1, batches=2)
    assert_same(loaded, original)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_nan_inf_and_every_dtype_round_trip_bit_for_bit(
    tmp_path: Path, fmt: str, dtype: str
) -> None:
    m = im.Sum(dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        m.update_state([1.0, 2.5])
        m.update_state([np.inf])
        m.update_state([-np.inf])  # inf - inf: NaN (on x86 with the sign bit set)
        m.update_state([0.1])
    nan = np.frombuffer(np.array(0x7FF8_0000_0000_0123, np.uint64).tobytes(), np.float64)[0]
    if dtype == "float64":  # a NaN payload numpy would never make itself
        m._state["total"] = nan
    assert m.history["running_total"].dtype == getattr(pl, dtype.replace("f", "F"))
    loaded = im.load(m.save(target(tmp_path, fmt)))
    assert_same(loaded, m)
    assert np.isnan(loaded.result())


@pytest.mark.parametrize(
    "options",
    [
        {"history_every": 4},
        {"history_last": 3},
        {"history": False},
        {"summation": "kahan"},
        {"nan_strategy": "ignore", "name": "loss"},
    ],
)
def test_history_options_pending_batches_and_compensation_survive(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    original = im.Mean(**options)
    for value in (1e16, 1.0, 1.0, 3.0, -1e16, 2.0, 7.0):
        original.update_state([value])
    loaded = im.load(original.save(target(tmp_path, "directory")))
    assert_same(loaded, original)
    assert loaded._pending == original._pending
    assert loaded._updates_unrecorded == original._updates_unrecorded
    assert loaded._compensation == original._compensation
    for value in (5.0, 6.0, 1.0):
        original.update_state([value])
        loaded.update_state([value])
    assert_same(loaded, original)


def test_the_history_file_is_plain_parquet(tmp_path: Path) -> None:
    m = im.Mean()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    m.reset_state()
    path = m.save(tmp_path / "loss")
    frame = pl.read_parquet(path / "history.parquet")
    assert frame.equals(m.history)
    metadata = json.loads((path / "metric.json").read_text())
    assert metadata["metric"]["class"] == "Mean"
    assert metadata["metric"]["state"] == {"total": 0.0, "count": 0.0}
    assert metadata["schema_version"] == im.io.SCHEMA_VERSION


def test_saving_again_replaces_an_earlier_save(tmp_path: Path) -> None:
    m = im.Sum()
    for fmt in FORMATS:
        path = target(tmp_path, fmt)
        m.update_state([1.0])
        m.save(path)
        m.update_state([2.0])
        m.save(path)
        assert im.load(path).result() == m.result()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="exists and is not a saved metric"):
        m.save(tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


# -- what cannot be saved ------------------------------------------------------------------


def test_a_function_from_outside_the_package_needs_a_name(tmp_path: Path) -> None:
    def squared(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        return (y_true - y_pred) ** 2

    m = im.MeanMetricWrapper(squared)
    m.update_state([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(TypeError, match=r"the function 'squared' .* never holds code.*custom_obj"):
        m.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()
    path = m.save(tmp_path / "m", custom_objects={"squared": squared})
    with pytest.raises(SavedFileError, match=r"the function 'squared', which is not part of"):
        im.load(path)
    loaded = im.load(path, custom_objects={"squared": squared})
    assert loaded.fn is squared and loaded.result() == 2.5


def test_a_user_defined_class_needs_a_name(tmp_path: Path) -> None:
    class Doubled(im.Sum):
        def compute(self, state: Any) -> Any:
            return 2 * state["total"]

    m = Doubled()
    m.update_state([1.0, 2.0])
    with pytest.raises(TypeError, match=r"cannot save a Doubled: the class is defined outside"):
        m.save(tmp_path / "m.zip")
    path = m.save(tmp_path / "m.zip", custom_objects={"Doubled": Doubled})
    with pytest.raises(SavedFileError, match=r"class 'Doubled', which is not a metric class"):
        im.load(path)
    assert im.load(path, custom_objects={"Doubled": Doubled}).result() == 6.0


def test_load_never_imports_a_name_from_the_file(tmp_path: Path) -> None:
    m = im.Sum()
    path = m.save(tmp_path / "m")
    for name in ("os.system", "builtins.eval", "interactive_metrics.io._write", "Metric"):
        rewrite(path, lambda p, name=name: p["metric"].__setitem__("class", name))
        with pytest.raises(SavedFileError, match="not a metric class of interactive_metrics"):
            im.load(path)


# -- bad files -----------------------------------------------------------------------------


def rewrite(path: Path, change: Any, *, fix_checksum: bool = True) -> None:
    """Edit metric.json of a saved directory, recomputing its checksum like a careful forger."""
    file = path / "metric.json"
    payload = json.loads(file.read_text())
    change(payload)
    if fix_checksum:
        payload["checksum"] = im.io._checksum(payload)
    file.write_text(json.dumps(payload))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    m = im.Precision(thresholds=[0.3, 0.7])
    feed(m, "Precision")
    return m.save(tmp_path / "precision")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.__setitem__("schema_version", 2), r"written by a newer interactive_metrics"),
        (lambda p: p.__setitem__("schema_version", "1"), r"`schema_version` must be an integer"),
        (lambda p: p.__setitem__("format", "other"), r"does not describe a saved interactive"),
        (lambda p: p["metric"]["state"].pop("true_positives"), r"`state` has fields"),
        (
            lambda p: p["metric"]["state"]["true_positives"].__setitem__("shape", [3]),
            r"must hold an array of shape \(2,\)",
        ),
        (
            lambda p: p["metric"]["state"]["true_positives"]["values"].__setitem__(0, "x"),
            r"must be a float64 number, got 'x'",
        ),
        (lambda p: p["metric"].__setitem__("step", -1), r"`step` must be >= 0"),
        (lambda p: p["metric"]["config"].__setitem__("thresholds", "high"), r"configuration does"),
        (lambda p: p["metric"]["config"].__setitem__("top_k", {"$eval": "1"}), r"not a saved conf"),
        (lambda p: p["history"].__setitem__("rows", 1), r"holds \d+ rows, expected 1"),
        (lambda p: p["history"].__setitem__("sha256", "0" * 64), r"does not match the digest"),
        (lambda p: p.__setitem__("history", None), r"has a history file exactly when"),
        (lambda p: p.__setitem__("kind", "streams"), r"loads only 'metric'"),
    ],
)
def test_consistently_edited_files_are_refused(saved: Path, change: Any, message: str) -> None:
    rewrite(saved, change)
    with pytest.raises(SavedFileError, match=message):
        im.load(saved)


def test_an_edit_without_a_new_checksum_is_refused(saved: Path) -> None:
    rewrite(saved, lambda p: p["metric"].__setitem__("step", 99), fix_checksum=False)
    with pytest.raises(SavedFileError, match="does not match its checksum"):
        im.load(saved)


def test_a_history_with_other_columns_is_refused(saved: Path) -> None:
    other = im.Mean()
    other.update_state([1.0])
    data = io.BytesIO()
    other.history.write_parquet(data)
    (saved / "history.parquet").write_bytes(data.getvalue())

    def point_at_it(payload: dict[str, Any]) -> None:
        payload["history"]["sha256"] = hashlib.sha256(data.getvalue()).hexdigest()
        payload["history"]["rows"] = 1

    rewrite(saved, point_at_it)
    with pytest.raises(SavedFileError, match=r"history.parquet has columns \(step: Int64"):
        im.load(saved)


def test_missing_and_foreign_files(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        im.load(tmp_path / "nothing.zip")
    (saved / "history.parquet").unlink()
    with pytest.raises(SavedFileError, match="history.parquet is missing"):
        im.load(saved)
    (saved / "metric.json").unlink()
    with pytest.raises(SavedFileError, match="holds no metric.json"):
        im.load(saved)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(SavedFileError, match="not a readable zip archive"):
        im.load(text)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("model.pkl", b"\x80\x04")
    with pytest.raises(SavedFileError, match=r"holds \['model.pkl'\]"):
        im.load(tmp_path / "other.zip")


# -- hypothesis: flipped, truncated and inserted bytes ---------------------------------------


def reference_metric() -> im.Metric:
    m = im.F1Score(num_classes=3, average=None, history_every=2)
    feed(m, "F1Score", batches=5)
    return m


mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.integers(0, 255)),
)


def mutate(data: bytes, kind: str, where: float, byte: int) -> bytes:
    i = int(where * len(data))
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ byte]) + data[i + 1 :]
    if kind == "truncate":
        return data[:i]
    return data[:i] + bytes([byte]) + data[i:]


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(part=st.sampled_from(["metric.json", "history.parquet", "archive"]), change=mutation)
def test_damaged_files_fail_clearly_or_load_unchanged(
    tmp_path: Path, part: str, change: tuple[str, float, int]
) -> None:
    original = reference_metric()
    if part == "archive":
        path = original.save(tmp_path / "m.zip")
        path.write_bytes(mutate(path.read_bytes(), *change))
    else:
        path = original.save(tmp_path / "m")
        (path / part).write_bytes(mutate((path / part).read_bytes(), *change))
    try:
        loaded = im.load(path)
    except SavedFileError as error:
        assert str(error).startswith("cannot load")
        return
    # A byte that carried nothing (e.g. a zip timestamp): everything is as it was saved.
    assert_same(loaded, original)
    assert loaded._pending is not None
    assert state_bits_dict(loaded._pending) == state_bits_dict(original._pending)


def state_bits_dict(state: dict[str, Any] | None) -> dict[str, bytes]:
    return {k: np.asarray(v).tobytes() for k, v in (state or {}).items()}


def test_streams_are_refused_with_a_way_out(tmp_path: Path) -> None:
    s = im.Streams(im.Mean())
    s.update_state([1.0, 2.0], stream=["a", "b"])
    with pytest.raises(TypeError, match=r"saving a Streams is not supported yet.*merged\(\)"):
        im.io.save(s, tmp_path / "s.zip")  # type: ignore[arg-type]
    assert not (tmp_path / "s.zip").exists()
    assert im.load(s.merged().save(tmp_path / "merged.zip")).result() == 1.5
