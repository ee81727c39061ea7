"""Save and load: exact round trips, a history that continues, and clear errors for bad files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import tempfile
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
    """Every column's raw bytes (floats bit for bit, null slots aside) and null mask."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == pl.Enum:
            column = column.to_physical()
        values, null = column.to_numpy().copy(), column.is_null().to_numpy()
        if null.any() and values.dtype.kind == "f":  # a null slot has no value (Arrow leaves
            values[null] = 0.0  # what lies under it unspecified): compare the mask only
        out[name] = values.tobytes() + null.tobytes()
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
    assert metadata["schema_version"] == 1  # the oldest layout that holds a metric


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
    with pytest.raises(ValueError, match=r"exists and is not an earlier save .*it holds todo"):
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
        (
            lambda p: p.__setitem__("schema_version", im.io.SCHEMA_VERSION + 1),
            r"written by a newer interactive_metrics",
        ),
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
        (
            lambda p: p["metric"].__setitem__("step", -1),
            r"`step` must be within \[0, 2\*\*62\], got -1",
        ),
        (lambda p: p["metric"]["config"].__setitem__("thresholds", "high"), r"configuration does"),
        (lambda p: p["metric"]["config"].__setitem__("top_k", {"$eval": "1"}), r"not a saved conf"),
        (lambda p: p["history"].__setitem__("rows", 1), r"holds \d+ rows, expected 1"),
        (lambda p: p["history"].__setitem__("sha256", "0" * 64), r"does not match the digest"),
        (lambda p: p.__setitem__("history", None), r"holds \['history.parquet'\], which metric"),
        (lambda p: p.__setitem__("kind", "model"), r"it holds a 'model'; this version loads"),
        (lambda p: p.__setitem__("kind", "streams"), r"a .streams. needs schema version 2"),
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


def test_a_history_file_is_listed_exactly_when_the_metric_records_history(saved: Path) -> None:
    rewrite(saved, lambda p: p.__setitem__("history", None))
    (saved / "history.parquet").unlink()
    with pytest.raises(
        SavedFileError, match="records a history, so a history file must be there exactly then"
    ):
        im.load(saved)


def test_missing_and_foreign_files(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist") as missing:
        im.load(tmp_path / "nothing.zip")
    assert isinstance(missing.value, SavedFileError)
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


def load_damaged(original: Any, tmp_path: Path, part: str, change: tuple[str, float, int]) -> Any:
    """Save ``original``, damage one of its files (or the archive), load it: None if refused.

    A refusal must be a :class:`SavedFileError` saying "cannot load".
    """
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # a damaged save is no longer ours to replace
    if part == "archive":
        path = original.save(tmp_path / "saved.zip")
        path.write_bytes(mutate(path.read_bytes(), *change))
    else:
        path = original.save(tmp_path / "saved")
        (path / part).write_bytes(mutate((path / part).read_bytes(), *change))
    try:
        return im.load(path)
    except SavedFileError as error:
        assert str(error).startswith("cannot load")
        return None


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
    loaded = load_damaged(original, tmp_path, part, change)
    if loaded is None:
        return
    # A byte that carried nothing (e.g. a zip timestamp): everything is as it was saved.
    assert_same(loaded, original)
    assert loaded._pending is not None
    assert state_bits_dict(loaded._pending) == state_bits_dict(original._pending)


def state_bits_dict(state: dict[str, Any] | None) -> dict[str, bytes]:
    return {k: np.asarray(v).tobytes() for k, v in (state or {}).items()}


# -- Streams -------------------------------------------------------------------------------


class Spread(im.Metric):
    """A user-defined metric with a min and a max field: the range of the unmasked values."""

    fields = (im.StateField("smallest", reduce="min"), im.StateField("largest", reduce="max"))

    def terms(self, values: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
        return {
            "smallest": im.core.masked_samples(values, sample_weight, np.minimum, np.inf),
            "largest": im.core.masked_samples(values, sample_weight, np.maximum, -np.inf),
        }

    def compute(self, state: Any) -> Any:
        return state["largest"] - state["smallest"]


STREAM_CUSTOM_OBJECTS = {**CUSTOM_OBJECTS, "Spread": Spread}
STREAM_CASES = {
    name: (CASES[name].build, CASES[name].batch)
    for name in ("Mean", "Min", "Max", "ConfusionMatrix", "Precision", "MeanMetricWrapper")
}
STREAM_CASES["Precision"] = (
    lambda **o: im.Precision(thresholds=[0.3, 0.7], **o),
    CASES["Precision"].batch,
)
STREAM_CASES["Spread"] = (Spread, CASES["Min"].batch)
KEY_KINDS: dict[str, tuple[list[Any], Any]] = {  # the keys drawn from, and a null_stream
    "str": (["a", "b", "c", "sensor-42"], "missing"),
    "int": ([0, 3, 5, 70_000_000], -1),  # 70 million: beyond the lookup table of small ints
    "date": ([dt.date(2024, 1, d) for d in (1, 2, 3, 31)], None),
}
STREAM_OPTIONS: list[dict[str, Any]] = [
    {},
    {"history_every": 2},
    {"history_last": 3},
    {"history": False},
    {"summation": "kahan"},
    {"dtype": "float32", "name": "loss"},
    {"dtype": "float16"},
]


def stream_batch(
    streams: im.Streams, case: str, kind: str, n: int, seed: int, per_row: bool
) -> tuple[tuple[np.ndarray, ...], Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    alphabet, null_stream = KEY_KINDS[kind]
    inputs = STREAM_CASES[case][1](rng, n)
    weights = rng.random(n) * (rng.random(n) > 0.2)  # some weights 0
    if not per_row:
        return inputs, alphabet[int(rng.integers(len(alphabet)))], weights
    keys: list[Any] = [alphabet[i] for i in rng.integers(0, len(alphabet), n)]
    if streams.null_stream is not None and n:
        keys[0] = None
    return inputs, keys, weights


def run(streams: im.Streams, case: str, kind: str, ops: list[tuple[Any, ...]]) -> None:
    """Apply update / reset / merge events; the same ops give the same events on any Streams."""
    for op in ops:
        if op[0] == "reset":
            streams.reset_state()
            continue
        _, n, seed, per_row = op
        inputs, keys, weights = stream_batch(streams, case, kind, n, seed, per_row)
        if op[0] == "update":
            streams.update_state(*inputs, stream=keys, sample_weight=weights)
        else:  # merge a Streams that saw this batch
            other = im.Streams(streams.metric, null_stream=streams.null_stream)
            other.update_state(*inputs, stream=keys, sample_weight=weights)
            streams.merge_state(other)


def column_bits(frame: pl.DataFrame) -> dict[str, Any]:
    """``bits`` for numbers; keys (strings, dates, ...) as Python values with their types."""
    numeric = [c for c in frame.columns if c != "stream"]
    out: dict[str, Any] = bits(frame.select(numeric))
    if "stream" in frame.columns:
        keys = frame["stream"].to_list()
        out["stream"] = (keys, [type(k) for k in keys])
    return out


def number_bits(value: Any) -> bytes:
    return np.asarray(value).tobytes()


def assert_same_streams(loaded: Any, original: im.Streams, *, same_repr: bool = True) -> None:
    assert type(loaded) is im.Streams
    assert type(loaded.metric) is type(original.metric)
    assert loaded.metric.get_config() == original.metric.get_config()
    assert loaded.null_stream == original.null_stream
    assert loaded.step == original.step
    assert loaded.streams == original.streams
    assert [type(k) for k in loaded.streams] == [type(k) for k in original.streams]
    assert repr(loaded) == repr(original) or not same_repr
    with np.errstate(all="ignore"):
        assert number_bits(loaded.result()) == number_bits(original.result())
        assert number_bits(loaded.macro_result()) == number_bits(original.macro_result())
        for got, want in [
            (loaded.history, original.history),
            (loaded.breakdown(), original.breakdown()),
        ]:
            assert got.schema == want.schema
            assert column_bits(got) == column_bits(want)
        assert_same(loaded.merged(), original.merged())
        for key in original.streams:
            assert_same(loaded[key], original[key])


ops = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["update", "update", "merge"]),
            st.integers(0, 5),
            st.integers(0, 2**32 - 1),
            st.booleans(),
        ),
        st.just(("reset",)),
    ),
    max_size=6,
)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    case=st.sampled_from(sorted(STREAM_CASES)),
    kind=st.sampled_from(sorted(KEY_KINDS)),
    options=st.sampled_from(STREAM_OPTIONS),
    with_null_stream=st.booleans(),
    fmt=st.sampled_from(FORMATS),
    before=ops,
    after=ops,
)
def test_streams_round_trip_and_continue_as_the_original(
    tmp_path: Path,
    case: str,
    kind: str,
    options: dict[str, Any],
    with_null_stream: bool,
    fmt: str,
    before: list[tuple[Any, ...]],
    after: list[tuple[Any, ...]],
) -> None:
    null_stream = KEY_KINDS[kind][1] if with_null_stream else None
    original = im.Streams(STREAM_CASES[case][0](**options), null_stream=null_stream)
    run(original, case, kind, before)
    path = original.save(target(tmp_path, fmt), custom_objects=STREAM_CUSTOM_OBJECTS)
    loaded = im.load(path, custom_objects=STREAM_CUSTOM_OBJECTS)
    assert_same_streams(loaded, original)
    # Later updates, resets and merges continue both the same way.
    run(original, case, kind, after)
    run(loaded, case, kind, after)
    assert_same_streams(loaded, original)


def test_a_saved_streams_is_json_and_plain_parquet(tmp_path: Path) -> None:
    s = im.Streams(im.ConfusionMatrix(num_classes=3, history_every=2), null_stream="unknown")
    s.update_state([0, 1, 2], [0, 2, 2], stream=["a", None, "a"])
    s.reset_state()
    s.update_state([2], [1], stream="b")
    path = s.save(tmp_path / "cm")
    assert sorted(p.name for p in path.iterdir()) == [
        "history.parquet",
        "merged_history.parquet",
        "metric.json",
        "streams.parquet",
    ]
    history = pl.read_parquet(path / "history.parquet")
    assert history.drop("stream_step").equals(s.history)
    for key in s.streams:  # each row's step among its stream's events
        steps = history.filter(pl.col("stream") == key)["stream_step"]
        assert steps.to_list() == s[key].history["step"].to_list()
    assert pl.read_parquet(path / "merged_history.parquet").equals(s.merged().history)
    table = pl.read_parquet(path / "streams.parquet")
    assert table.columns == [
        "stream",
        "weight",
        "events",
        "running_confusion_matrix",
        "pending",  # history_every=2: what each stream holds back until the next recorded row
        "pending_confusion_matrix",
    ]
    assert table["stream"].to_list() == s.streams == ["a", "unknown", "b"]
    assert table["pending"].to_list() == [False, False, True]
    assert np.array_equal(table["running_confusion_matrix"].to_numpy()[2], s["b"].result())
    metadata = json.loads((path / "metric.json").read_text())
    assert metadata["kind"] == "streams" and metadata["schema_version"] == 2
    assert metadata["streams"]["null_stream"] == "unknown"
    assert metadata["streams"]["metric"]["class"] == "ConfusionMatrix"
    assert im.load(path).history.equals(s.history)


def test_streams_without_history_and_without_streams(tmp_path: Path) -> None:
    empty = im.Streams(im.Mean())
    assert_same_streams(im.load(empty.save(tmp_path / "empty.zip")), empty)
    quiet = im.Streams(im.Max(history=False))
    quiet.update_state([1.0, 5.0], stream=[7, 8])
    path = quiet.save(tmp_path / "quiet")
    assert sorted(p.name for p in path.iterdir()) == ["metric.json", "streams.parquet"]
    assert_same_streams(im.load(path), quiet)


def test_key_types_that_come_back_as_they_are(tmp_path: Path) -> None:
    moment = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    for keys in (
        [True, False],
        [0.5, -2.0],
        [b"raw", b"bytes"],
        [moment, moment + dt.timedelta(hours=1)],
        [dt.timedelta(seconds=1), dt.timedelta(days=2)],
        [2**70, 3],  # beyond int64: an Int128 column
    ):
        s = im.Streams(im.Sum())
        for key in keys:
            s.update_state([1.0], stream=key)
        # The time zone of an aware datetime comes back as polars' zoneinfo (same instant).
        assert_same_streams(im.load(s.save(tmp_path / "keys.zip")), s, same_repr=False)


def test_numpy_scalar_keys_come_back_as_python_values(tmp_path: Path) -> None:
    s = im.Streams(im.Sum(), null_stream=np.int64(-1))
    for key in np.array([10, 20]):  # np.int64 keys
        s.update_state([1.0], stream=key)
    loaded = im.load(s.save(tmp_path / "s.zip"))
    assert isinstance(loaded, im.Streams)
    assert loaded.streams == [10, 20] and type(loaded.streams[0]) is int
    assert loaded.null_stream == -1 and type(loaded.null_stream) is int
    assert loaded.history.equals(s.history) and loaded.breakdown().equals(s.breakdown())
    loaded.update_state([2.0], stream=np.int64(10))
    s.update_state([2.0], stream=10)
    assert loaded.breakdown().equals(s.breakdown())


@dataclasses.dataclass(frozen=True)
class Sensor:
    name: str


class Opaque:
    """A hashable object polars holds only as an Object."""


@pytest.mark.parametrize("keys", [["a", 1], [1, 2.5], [2.5, 1]])
def test_keys_that_would_not_come_back_as_they_are_are_refused_when_given(
    tmp_path: Path, keys: list[Any]
) -> None:
    """Keys of two kinds are refused by the update, so a save never meets them."""
    s = im.Streams(im.Sum())
    s.update_state([1.0], stream=keys[0])
    with pytest.raises(ValueError, match="`stream` keys must all be of one kind"):
        s.update_state([1.0], stream=keys[1])
    s.save(tmp_path / "s.zip")
    assert im.load(tmp_path / "s.zip").streams == keys[:1]


def test_integer_keys_beside_a_text_null_stream_cannot_be_saved_yet(tmp_path: Path) -> None:
    # A known gap: the null stream's label may be of another kind than the keys in
    # memory, but one Parquet column cannot hold both; the save says so, writes nothing.
    s = im.Streams(im.Sum(), null_stream="unknown")
    s.update_state([1.0, 2.0], stream=[1, None])
    with pytest.raises(TypeError, match=r"cannot save a Streams .*keys of type int, str"):
        s.save(tmp_path / "s.zip")
    assert not (tmp_path / "s.zip").exists()


def test_a_null_stream_json_cannot_hold_is_refused(tmp_path: Path) -> None:
    s = im.Streams(im.Sum(), null_stream=dt.date(2024, 1, 1))
    with pytest.raises(TypeError, match=r"`null_stream` is datetime.date\(2024, 1, 1\)"):
        s.save(tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_streams_of_a_user_defined_class_needs_a_name(tmp_path: Path) -> None:
    s = im.Streams(Spread())
    s.update_state([1.0, 4.0, -2.0], stream=["x", "y", "x"])
    with pytest.raises(TypeError, match=r"cannot save a Spread: the class is defined outside"):
        s.save(tmp_path / "s")
    path = s.save(tmp_path / "s", custom_objects={"Spread": Spread})
    with pytest.raises(SavedFileError, match=r"class 'Spread', which is not a metric class"):
        im.load(path)
    assert_same_streams(im.load(path, custom_objects={"Spread": Spread}), s)


def reference_streams() -> im.Streams:
    s = im.Streams(im.Precision(thresholds=[0.3, 0.7], history_every=2), null_stream="none")
    run(s, "Precision", "str", [("update", 5, 1, True), ("update", 3, 2, False), ("reset",)])
    run(s, "Precision", "str", [("merge", 4, 3, True), ("update", 5, 4, True)])
    assert s.merged()._pending is not None
    return s


@pytest.fixture
def saved_streams(tmp_path: Path) -> Path:
    return reference_streams().save(tmp_path / "streams")


def replace_member(path: Path, name: str, frame: pl.DataFrame) -> None:
    """Write ``frame`` as a member of a saved directory, with a matching digest and row count."""
    data = io.BytesIO()
    frame.write_parquet(data)
    (path / name).write_bytes(data.getvalue())

    def point_at_it(payload: dict[str, Any]) -> None:
        entry = payload["files"][name]
        entry["sha256"] = hashlib.sha256(data.getvalue()).hexdigest()
        entry["rows"] = frame.height

    rewrite(path, point_at_it)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.__setitem__("schema_version", 1), r"a 'streams' needs schema version 2"),
        (
            lambda p: p.__setitem__("schema_version", im.io.SCHEMA_VERSION + 1),
            r"written by a newer interactive_metrics \(schema version 4",
        ),
        (lambda p: p["streams"].__setitem__("step", 2), r"`streams.step` is 2, its merged"),
        (lambda p: p["streams"]["metric"].__setitem__("step", 9), r"`streams.step` is 5, its"),
        (lambda p: p["streams"].__setitem__("count", 9), r"holds \d+ streams, expected 9"),
        (lambda p: p["streams"].pop("null_stream"), r"`streams.null_stream` is missing"),
        (lambda p: p["streams"].__setitem__("null_stream", [1]), r"must be a key or null"),
        (lambda p: p["files"].pop("streams.parquet"), r"must include streams.parquet"),
        (lambda p: p["files"].pop("history.parquet"), r"holds \['history.parquet'\], which"),
        (lambda p: p["files"].__setitem__("model.pkl", {}), r"`files` lists \['history"),
        (lambda p: p["streams"]["metric"]["state"].pop("true_positives"), r"`state` has fields"),
        (lambda p: p["streams"]["metric"].__setitem__("class", "os.system"), r"not a metric cl"),
    ],
)
def test_consistently_edited_streams_files_are_refused(
    saved_streams: Path, change: Any, message: str
) -> None:
    rewrite(saved_streams, change)
    with pytest.raises(SavedFileError, match=message):
        im.load(saved_streams)


def test_edited_stream_tables_are_refused(saved_streams: Path) -> None:
    table = pl.read_parquet(saved_streams / "streams.parquet")
    history = pl.read_parquet(saved_streams / "history.parquet")
    for frame, message in [
        (table.with_columns(pl.lit("a").alias("stream")), r"the keys in streams.parquet repeat"),
        (
            table.with_columns(pl.col("stream").str.to_uppercase()),
            r"history.parquet names streams that streams.parquet does not hold",
        ),
        (table.with_columns(pl.col("events") * 0 - 1), r"event counts .* within \[0, 5\]"),
        (table.with_columns(pl.col("weight").cast(pl.Float32)), r"has columns \(stream: Str"),
        (table.drop("running_true_positives"), r"has columns"),
        (table.with_columns(pl.col("stream").cast(pl.Categorical)), r"read back as String"),
        (
            table.with_columns(pl.concat_list("stream", "stream").alias("stream")),
            r"\(List\(String\)\) are not keys",
        ),
        (table.with_columns(pl.lit(None, pl.Float64).alias("weight")), r"has nulls"),
        (
            table.with_columns(
                pl.col("running_true_positives")
                .arr.to_list()
                .list.concat([None])
                .list.slice(1)
                .list.to_array(2)
            ),
            r"has nulls",
        ),
    ]:
        replace_member(saved_streams, "streams.parquet", frame)
        with pytest.raises(SavedFileError, match=message):
            im.load(saved_streams)
    replace_member(saved_streams, "streams.parquet", table)
    for frame, message in [
        (history.reverse(), r"steps in history.parquet must never decrease"),
        (history.with_columns(pl.col("stream").cast(pl.Categorical)), r"third column 'stream'"),
        (history.drop("stream"), r"third column 'stream'"),
        (pl.concat([history, history.tail(1)]), r"rows of a stream .* must have increasing steps"),
        (
            history.with_columns(pl.col("stream_step").reverse()),
            r"rows of a stream .* must have increasing steps|within \[1, its stream's events\]",
        ),
        (history.with_columns(pl.col("stream_step") + 99), r"within \[1, its stream's events\]"),
        (history.drop("stream_step"), r"a last column 'stream_step: Int64'"),
        (
            history.with_columns(
                pl.col("result").arr.to_list().list.concat([None]).list.slice(1).list.to_array(2)
            ),
            r"column 'result' of history.parquet has nulls where it cannot",
        ),
    ]:
        replace_member(saved_streams, "history.parquet", frame)
        with pytest.raises(SavedFileError, match=message):
            im.load(saved_streams)
    replace_member(saved_streams, "history.parquet", history)
    assert_same_streams(im.load(saved_streams), reference_streams())


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    part=st.sampled_from(
        ["metric.json", "streams.parquet", "history.parquet", "merged_history.parquet", "archive"]
    ),
    change=mutation,
)
def test_damaged_streams_files_fail_clearly_or_load_unchanged(
    tmp_path: Path, part: str, change: tuple[str, float, int]
) -> None:
    original = reference_streams()
    loaded = load_damaged(original, tmp_path, part, change)
    if loaded is not None:
        assert_same_streams(loaded, original)


def test_a_replayed_streams_round_trips_and_replays_on(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 400
    log = pl.DataFrame(
        {
            "step": rng.integers(0, 12, n),
            "sensor": rng.choice(["north", "south", "east", "west"], n),
            "label": rng.integers(0, 2, n),
            "score": rng.random(n),
            "w": rng.random(n),
        }
    )
    columns = {"y_true": "label", "y_pred": "score", "batch": "step", "stream": "sensor"}
    original = im.Streams(im.BinaryAccuracy(history_every=3))
    original.replay(log.filter(pl.col("step") < 8), sample_weight="w", **columns)
    loaded = im.load(original.save(tmp_path / "replayed.zip"))
    assert isinstance(loaded, im.Streams)
    assert_same_streams(loaded, original)
    rest = log.filter(pl.col("step") >= 8)
    original.replay(rest, sample_weight="w", **columns)
    loaded.replay(rest, sample_weight="w", **columns)
    assert_same_streams(loaded, original)


@pytest.mark.parametrize("options", [{"history_last": 2}, {"history_every": 3, "history_last": 4}])
def test_bounded_per_stream_histories_round_trip(tmp_path: Path, options: dict[str, Any]) -> None:
    original = im.Streams(im.Mean(**options))
    updates: list[tuple[Any, ...]] = [("update", 4, seed, True) for seed in range(40)]
    run(original, "Mean", "str", updates[:30])
    assert original.history.height < 30  # windows dropped rows
    loaded = im.load(original.save(tmp_path / "bounded.zip"))
    assert_same_streams(loaded, original)
    run(original, "Mean", "str", [*updates[30:], ("reset",), *updates[:3]])
    run(loaded, "Mean", "str", [*updates[30:], ("reset",), *updates[:3]])
    assert_same_streams(loaded, original)
