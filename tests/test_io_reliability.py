"""Save and load under hostile conditions: foreign data, crashes, forged files, odd files, fork.

Issue 12: nothing that is not ours is replaced; a killed save leaves the old or the new save
loadable; a forged file is refused with :class:`SavedFileError` before it can allocate what
it asks for; nothing hangs on a FIFO or a device; every failure of ``load`` is that error.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import interactive_metrics as im
from interactive_metrics.io import SavedFileError

ROOT = Path(__file__).resolve().parent.parent
CHILD_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter importing this worktree's package."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env=CHILD_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tree(path: Path) -> dict[str, Any]:
    """Everything under ``path`` (names, kinds, bytes, link targets), to compare before/after."""
    out: dict[str, Any] = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = Path(root, name)
            key = str(full.relative_to(path))
            if full.is_symlink():
                out[key] = ("link", os.readlink(full))
            elif full.is_dir():
                out[key] = ("dir",)
            elif full.is_fifo():
                out[key] = ("fifo",)
            else:
                out[key] = ("file", full.read_bytes())
    return out


def rewrite(path: Path, change: Any) -> None:
    """Edit metric.json of a saved directory and recompute its checksum, as a forger would."""
    file = path / "metric.json"
    payload = json.loads(file.read_text())
    change(payload)
    payload["checksum"] = im.io._checksum(payload)
    file.write_text(json.dumps(payload))


def summed(value: float) -> im.Sum:
    m = im.Sum()
    m.update_state([value])
    return m


# -- 1. save never replaces what is not an earlier save -------------------------------------


def make_dataset(path: Path) -> None:
    path.mkdir()
    part = path / "history.parquet" / "year=2024"
    part.mkdir(parents=True)
    pl.DataFrame({"x": [1, 2]}).write_parquet(part / "0.parquet")


def make_own_history(path: Path) -> None:
    path.mkdir()
    pl.DataFrame({"x": [1, 2]}).write_parquet(path / "history.parquet")


def make_other_tools_json(path: Path) -> None:
    path.mkdir()
    (path / "metric.json").write_text('{"accuracy": 0.9, "format": "mlflow"}')


def make_our_json_beside_a_note(path: Path) -> None:
    summed(1.0).save(path)
    (path / "notes.txt").write_text("keep me")


def make_linked_member(path: Path) -> None:
    summed(1.0).save(path)
    outside = path.parent / "elsewhere.parquet"
    outside.write_bytes(b"someone's data")
    (path / "history.parquet").unlink()
    (path / "history.parquet").symlink_to(outside)


def make_plain_file(path: Path) -> None:
    path.write_text("a plain file")


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (make_dataset, r"it holds history.parquet \(a directory\)"),
        (make_own_history, r"it holds no metric.json"),
        (make_other_tools_json, r"its metric.json is not of this format"),
        (make_our_json_beside_a_note, r"it holds notes.txt"),
        (make_linked_member, r"it holds history.parquet \(a symbolic link\)"),
        (make_plain_file, r"it is a regular file, not a directory"),
    ],
)
def test_a_directory_save_refuses_data_that_is_not_an_earlier_save(
    tmp_path: Path, make: Any, what: str
) -> None:
    path = tmp_path / "run"
    make(path)
    before = tree(tmp_path)
    with pytest.raises(
        ValueError, match=rf"`path` '.*run' exists and is not an earlier save.*{what}"
    ):
        summed(2.0).save(path)
    assert tree(tmp_path) == before  # nothing deleted, nothing left behind


def zip_of(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p: p.write_text("not a zip at all"), r"a file that is not a zip archive"),
        (lambda p: zip_of(p, {"photo.jpg": b"\xff\xd8"}), r"a zip archive of \['photo.jpg'\]"),
        (
            lambda p: zip_of(p, {"metric.json": b'{"format": "other"}'}),
            r"its metric.json is not of this format",
        ),
        (lambda p: p.mkdir(), r"it is a directory, not a .zip file"),
        (lambda p: os.mkfifo(p), r"it is a FIFO, not a .zip file"),
    ],
)
def test_a_zip_save_refuses_a_file_that_is_not_an_earlier_save(
    tmp_path: Path, make: Any, what: str
) -> None:
    path = tmp_path / "x.zip"
    make(path)
    before = tree(tmp_path)
    with pytest.raises(ValueError, match=rf"`path` '.*x.zip' exists and is not an earlier.*{what}"):
        summed(2.0).save(path)
    assert tree(tmp_path) == before


def test_earlier_saves_and_empty_directories_are_replaced(tmp_path: Path) -> None:
    for path in (tmp_path / "run", tmp_path / "run.zip"):
        summed(1.0).save(path)
        summed(2.0).save(path)
        assert im.load(path).result() == 2.0
    (tmp_path / "empty").mkdir()
    summed(3.0).save(tmp_path / "empty")
    assert im.load(tmp_path / "empty").result() == 3.0
    # A damaged save of ours (wrong checksum) is still ours to replace.
    rewrite_without_checksum = tmp_path / "run" / "metric.json"
    rewrite_without_checksum.write_text(rewrite_without_checksum.read_text().replace("2.0", "9.0"))
    summed(4.0).save(tmp_path / "run")
    assert im.load(tmp_path / "run").result() == 4.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "run", "run.zip"]


entry_names = st.sampled_from(
    ["metric.json", "history.parquet", "streams.parquet", "merged_history.parquet", "x.txt"]
)
entry_kinds = st.sampled_from(["ours", "foreign", "empty", "directory", "link"])


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(entries=st.dictionaries(entry_names, entry_kinds, max_size=4))
def test_any_directory_is_replaced_only_when_it_is_an_earlier_save(
    tmp_path: Path, entries: dict[str, str]
) -> None:
    import tempfile

    root = Path(tempfile.mkdtemp(dir=tmp_path))
    reference = summed(1.0).save(root / "reference")
    path = root / "run"
    path.mkdir()
    for name, kind in entries.items():
        target = path / name
        if kind == "ours":
            ours = reference / name if (reference / name).exists() else reference / "metric.json"
            target.write_bytes(ours.read_bytes())
        elif kind == "foreign":
            target.write_bytes(b'{"format": "something else"}')
        elif kind == "empty":
            target.write_bytes(b"")
        elif kind == "directory":
            target.mkdir()
        else:
            target.symlink_to(reference / "metric.json")
    # An earlier save: regular files with the names a save writes, among them our
    # metric.json (what the other members hold is checked by load, not by save).
    ours = not entries or (
        set(entries) <= set(im.io._MEMBERS)
        and entries.get("metric.json") == "ours"
        and not {"directory", "link"} & set(entries.values())
    )
    before = tree(path)
    try:
        summed(2.0).save(path)
    except ValueError as error:
        assert "is not an earlier save" in str(error)
        assert not ours, error
        assert tree(path) == before
    else:
        assert ours, entries
        assert im.load(path).result() == 2.0
    assert sorted(p.name for p in root.iterdir()) == ["reference", "run"]


def test_a_symlinked_save_directory_is_replaced_through_the_link(tmp_path: Path) -> None:
    real = summed(1.0).save(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert summed(2.0).save(link) == link
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert im.load(link).result() == im.load(real).result() == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]  # no .link.*.old


# -- 3. a save killed at any step leaves the old or the new save ----------------------------

DIRECTORY_STEPS = [
    "writing",
    "written",
    "verified",
    "ready",
    "old hidden",
    "replaced",
    "removing old",
    "done",
]
ZIP_STEPS = ["written", "verified", "replaced"]
CRASHING_SAVE = """
    import os, sys
    import interactive_metrics as im

    step, path = sys.argv[1], sys.argv[2]

    def reached(name):
        if name == step:
            os._exit(17)

    im.io._reached = reached
    m = im.Sum()
    m.update_state([2.0])
    m.save(path)
    os._exit(0)
"""


def crash_save(step: str, path: Path) -> None:
    done = run_child(CRASHING_SAVE, step, str(path))
    assert done.returncode == 17, done.stderr  # the child really died at that step


# a first save has no old save to hide or remove: those two steps are not reached
CRASH_CASES = [
    (step, layout)
    for layout in ("directory", "symlinked directory", "first save")
    for step in DIRECTORY_STEPS
    if not (layout == "first save" and step in ("old hidden", "removing old"))
]


@pytest.mark.parametrize(("step", "layout"), CRASH_CASES)
def test_a_directory_save_killed_at_any_step_loads_old_or_new(
    tmp_path: Path, step: str, layout: str
) -> None:
    path = tmp_path / "run"
    if layout != "first save":
        summed(1.0).save(tmp_path / "real" if layout == "symlinked directory" else path)
    if layout == "symlinked directory":
        path.symlink_to(tmp_path / "real")
    crash_save(step, path)
    # The new save counts once it is complete under its .new name with nothing at the path
    # (a first save), or once the old one is hidden.
    first_new = "ready" if layout == "first save" else "old hidden"
    new = DIRECTORY_STEPS.index(step) >= DIRECTORY_STEPS.index(first_new)
    if layout == "first save" and not new:
        # Nothing was there before and the new save never got in place: nothing loads yet.
        with pytest.raises(FileNotFoundError):
            im.load(path)
    else:
        assert im.load(path).result() == (2.0 if new else 1.0)
    # That load cleaned what the dead save left beside the path; the next save is clean too.
    expected = ["real", "run"] if layout == "symlinked directory" else ["run"]
    if layout == "first save" and not new:
        expected = []
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    summed(3.0).save(path)
    assert im.load(path).result() == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == (expected or ["run"])


@pytest.mark.parametrize("step", ["ready", "old hidden", "removing old"])
def test_the_next_save_recovers_a_killed_one_without_a_load(tmp_path: Path, step: str) -> None:
    path = tmp_path / "run"
    summed(1.0).save(path)
    crash_save(step, path)
    summed(3.0).save(path)
    assert im.load(path).result() == 3.0
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("step", ZIP_STEPS)
def test_a_zip_save_killed_at_any_step_loads_old_or_new(tmp_path: Path, step: str) -> None:
    path = tmp_path / "run.zip"
    summed(1.0).save(path)
    crash_save(step, path)
    assert im.load(path).result() == (2.0 if step == "replaced" else 1.0)
    assert [p.name for p in tmp_path.iterdir()] == ["run.zip"]


def test_a_save_hidden_by_an_older_version_is_restored(tmp_path: Path) -> None:
    # What the previous protocol left when killed between its two renames.
    hidden = summed(1.0).save(tmp_path / "run").rename(tmp_path / ".run.0123456789abcdef.old")
    assert im.load(tmp_path / "run").result() == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["run"] and not hidden.exists()


def test_a_save_still_running_elsewhere_is_read_but_not_moved(tmp_path: Path) -> None:
    alive = os.getppid()  # a process that runs (our parent), as if it were mid-save
    pending = (
        summed(5.0).save(tmp_path / "staging").rename(tmp_path / f".run.{alive}-{'a' * 16}.new")
    )
    assert im.load(tmp_path / "run").result() == 5.0
    assert [p.name for p in tmp_path.iterdir()] == [pending.name]


# -- 6. a save checks what it wrote before it reports success --------------------------------


@pytest.mark.parametrize("name", ["run", "run.zip"])
def test_a_save_that_does_not_load_back_fails_and_keeps_the_earlier_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / name
    summed(1.0).save(path)
    before = tree(tmp_path)
    original = im.io._metric_to_dict

    def changed_while_saved(metric: Any, names: Any) -> Any:
        data = original(metric, names)
        data["state"]["total"] = {"shape": [2], "values": [1.0, 2.0]}  # as a racing update might
        return data

    monkeypatch.setattr(im.io, "_metric_to_dict", changed_while_saved)
    with pytest.raises(ValueError, match=r"cannot save to .*does not load back.*changed while"):
        summed(2.0).save(path)
    assert tree(tmp_path) == before
    monkeypatch.undo()
    assert im.load(path).result() == 1.0


# -- 7, 8, 12. forged and damaged files: SavedFileError, checked before allocation -----------


@pytest.fixture
def saved_cm(tmp_path: Path) -> Path:
    m = im.ConfusionMatrix(num_classes=3)
    m.update_state([0, 1, 2], [0, 2, 2])
    return m.save(tmp_path / "cm")


def test_a_configuration_asking_for_a_huge_state_is_refused_before_allocating(
    saved_cm: Path,
) -> None:
    rewrite(saved_cm, lambda p: p["metric"]["config"].__setitem__("num_classes", 100_000))
    assert (saved_cm / "metric.json").stat().st_size < 5000
    with pytest.raises(
        SavedFileError,
        match=r"declares a ConfusionMatrix of 10000000000 numbers \(confusion_matrix \(100000, "
        r"100000\)\), which would need about .* more than `max_bytes` \(2.0 GiB\) allows; if "
        r"you trust the file, pass a larger `max_bytes`",
    ):
        im.load(saved_cm)


def test_max_bytes_is_the_limit_and_can_be_raised(saved_cm: Path) -> None:
    assert im.load(saved_cm).result().shape == (3, 3)
    with pytest.raises(SavedFileError, match=r"more than `max_bytes` \(1000 bytes\) allows"):
        im.load(saved_cm, max_bytes=1000)
    assert im.load(saved_cm, max_bytes=math.inf).step == 1
    with pytest.raises(TypeError, match=r"`max_bytes` must be a number of bytes, got '2GB'"):
        im.load(saved_cm, max_bytes="2GB")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`max_bytes` must be > 0, got 0"):
        im.load(saved_cm, max_bytes=0)


def saved_text(tmp_path: Path, value: float) -> tuple[Path, str]:
    path = summed(value).save(tmp_path / "s")
    return path, (path / "metric.json").read_text()


@pytest.mark.parametrize(
    ("value", "old", "new", "message"),
    [
        (5309.0, "5309.0", "5e309", r"the number 5e309 is beyond the float64 range"),
        (1e-310, "1e-310", "1e310", r"the number 1e310 is beyond the float64 range"),
        (1.0, '"step": 1', '"step": ' + "9" * 400, r"the integer 9999.* outside the int64"),
        (1.0, '"step": 1', '"step": NaN', r"NaN is not JSON"),
    ],
)
def test_a_changed_number_is_a_saved_file_error(
    tmp_path: Path, value: float, old: str, new: str, message: str
) -> None:
    path, text = saved_text(tmp_path, value)
    assert old in text
    (path / "metric.json").write_text(text.replace(old, new, 1))
    with pytest.raises(SavedFileError, match=message):
        im.load(path)


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["metric"]["state"].__setitem__("total", 10**400), r"outside the int64"),
        (lambda p: p["metric"].__setitem__("step", 2**63), r"outside the int64 range"),
        (lambda p: p["metric"].__setitem__("step", 2**62 + 1), r"`step` must be within \[0, 2"),
        (lambda p: p["metric"]["config"].__setitem__("name", nested(900)), r"more than 64 deep"),
        (
            lambda p: p["metric"]["config"].__setitem__("name", {"$tuple": nested(70)}),
            r"more than 64 deep",
        ),
    ],
)
def test_forged_values_are_saved_file_errors(tmp_path: Path, change: Any, message: str) -> None:
    path = summed(1.0).save(tmp_path / "s")
    rewrite(path, change)
    with pytest.raises(SavedFileError, match=message):
        im.load(path)


def test_json_nested_beyond_the_parser_is_a_saved_file_error(tmp_path: Path) -> None:
    path, text = saved_text(tmp_path, 1.0)
    (path / "metric.json").write_text(
        text.replace('"dtype"', '"x": ' + "[" * 100_000 + "]" * 100_000 + ', "dtype"', 1)
    )
    with pytest.raises(SavedFileError, match=r"not valid JSON|nests too deeply"):
        im.load(path)


def test_an_unexpected_error_inside_load_is_chained_to_a_saved_file_error(
    saved_cm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr(im.io, "_history_rows", broken)
    with pytest.raises(SavedFileError, match=r"reading it failed \(KeyError: 'surprise'\)") as info:
        im.load(saved_cm)
    assert isinstance(info.value.__cause__, KeyError)


def test_a_parquet_footer_is_read_as_polars_wrote_it() -> None:
    m = im.ConfusionMatrix(num_classes=4, history_every=2)
    for _ in range(5):
        m.update_state([0, 1, 3], [0, 2, 3])
    frame = m.history
    data = io.BytesIO()
    frame.write_parquet(data, compression="zstd", statistics=False, row_group_size=1)
    rows, decoded = im.io._parquet_footer(data.getvalue())
    assert rows == frame.height == 2
    assert decoded >= frame.estimated_size()
    for damaged in (data.getvalue()[:-9] + b"PAR1", b"PAR1" + b"\x00" * 20 + b"PAR1"):
        with pytest.raises(ValueError, match="footer|Parquet"):
            im.io._parquet_footer(damaged)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from([0, 1, 2, 3, -1, 2**31, 2**62, 10**6, 40_000]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=4),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=6,
)


def reference_save(tmp_path: Path) -> Path:
    m = im.ConfusionMatrix(num_classes=3, history_every=2, summation="kahan")
    for labels in ([0, 1, 2, 2], [1, 1, 0], [2, 0, 1, 1]):
        m.update_state(labels, [0, 2, 2, 1][: len(labels)], sample_weight=[0.5] * len(labels))
    return m.save(tmp_path / "f1")


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "checksum":
                out += json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            out += json_paths(item, (*prefix, i))
    return out


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_forged_value_loads_or_raises_saved_file_error(tmp_path: Path, data: Any) -> None:
    import tempfile

    path = reference_save(Path(tempfile.mkdtemp(dir=tmp_path)))
    payload = json.loads((path / "metric.json").read_text())
    where = data.draw(st.sampled_from(json_paths(payload)[1:]))
    value = data.draw(json_values)

    def change(p: Any) -> None:
        for key in where[:-1]:
            p = p[key]
        p[where[-1]] = value

    rewrite(path, change)
    try:
        im.load(path)
    except SavedFileError as error:
        assert str(error).startswith("cannot load")


@settings(max_examples=100, deadline=None, derandomize=True)
@given(where=st.floats(0, 1, exclude_max=True), byte=st.integers(0, 255))
def test_any_changed_byte_with_a_recomputed_checksum_loads_or_raises(
    tmp_path_factory: pytest.TempPathFactory, where: float, byte: int
) -> None:
    path = reference_save(tmp_path_factory.mktemp("flip"))
    text = (path / "metric.json").read_bytes()
    i = int(where * len(text))
    changed = text[:i] + bytes([byte]) + text[i + 1 :]
    try:  # a forger makes the checksum fit whatever still parses as JSON
        payload = json.loads(changed)
        payload["checksum"] = im.io._checksum(payload)
        changed = json.dumps(payload).encode()
    except (ValueError, TypeError, AttributeError, RecursionError):
        pass
    (path / "metric.json").write_bytes(changed)
    try:
        im.load(path)
    except SavedFileError as error:
        assert str(error).startswith("cannot load")


# -- forged files under an address-space limit: refused, never MemoryError or an abort -------

LIMITED_LOAD = """
    import resource, sys
    limit = int(1.5 * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import interactive_metrics as im
    try:
        im.load(sys.argv[1])
    except im.io.SavedFileError as error:
        print(error)
        sys.exit(3)
    sys.exit(0)
"""


def huge_history(path: Path, rows: int) -> None:
    """Put a tiny history.parquet that decodes to ``rows`` rows into a saved Mean, forged whole."""
    schema = im.load(path).history.schema
    columns = [
        pl.lit({"step": 1, "event": "update"}.get(name, 1.0), dtype=dtype).alias(name)
        for name, dtype in schema.items()
    ]
    file = path / "history.parquet"
    file.unlink()
    pl.LazyFrame().select(pl.int_range(0, rows).alias("i")).with_columns(columns).drop(
        "i"
    ).sink_parquet(file, compression="zstd", statistics=False)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()

    def point_at_it(payload: dict[str, Any]) -> None:
        payload["history"].update(rows=rows, sha256=digest)
        payload["metric"]["step"] = rows

    rewrite(path, point_at_it)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs resource limits (POSIX)")
def test_forged_files_are_refused_within_bounded_memory(tmp_path: Path, saved_cm: Path) -> None:
    rewrite(saved_cm, lambda p: p["metric"]["config"].__setitem__("num_classes", 100_000))
    mean = im.Mean()
    mean.update_state([1.0])
    history = mean.save(tmp_path / "mean")
    huge_history(history, 40_000_000)
    assert (history / "history.parquet").stat().st_size < 2**21  # ~2 GiB decoded
    for path, message in [
        (saved_cm, "declares a ConfusionMatrix of 10000000000 numbers"),
        (history, "history.parquet (40000000 rows), which would need about"),
    ]:
        done = run_child(LIMITED_LOAD, str(path))
        assert done.returncode == 3, (done.returncode, done.stdout, done.stderr[-2000:])
        assert message in done.stdout


# -- 9. only regular files are read: nothing hangs on a FIFO or a device ---------------------

ODD_FILES = """
    import os, sys
    from pathlib import Path
    import interactive_metrics as im

    root = Path(sys.argv[1])
    m = im.Sum()
    m.update_state([1.0])
    fifo_zip = root / "x.zip"
    os.mkfifo(fifo_zip)
    fifo_member = m.save(root / "fifo_member")
    (fifo_member / "history.parquet").unlink()
    os.mkfifo(fifo_member / "history.parquet")
    mem_member = m.save(root / "mem_member")
    (mem_member / "metric.json").unlink()
    (mem_member / "metric.json").symlink_to("/proc/self/mem")
    dataset = m.save(root / "dataset")
    (dataset / "history.parquet").unlink()
    (dataset / "history.parquet").mkdir()
    for path in ["/dev/zero", fifo_zip, fifo_member, mem_member, dataset, "/proc/self/mem"]:
        try:
            im.load(path)
            print("LOADED", path)
        except im.io.SavedFileError as error:
            print("SavedFileError", error)
        except BaseException as error:
            print("OTHER", type(error).__name__, error)
    try:
        m.save(fifo_zip)
    except ValueError as error:
        print("ValueError", error)
"""


def test_odd_files_are_refused_without_hanging(tmp_path: Path) -> None:
    done = run_child(ODD_FILES, str(tmp_path), timeout=60)  # a hang fails here, not for ever
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 7, lines
    assert all(line.startswith("SavedFileError cannot load") for line in lines[:6]), lines
    for line, why in zip(
        lines,
        [
            "'/dev/zero': it is a character device, not a saved file",
            "x.zip': it is a FIFO, not a saved file",
            "its history.parquet is a FIFO, not a regular file",
            "its metric.json is a symbolic link, not a regular file",
            "its history.parquet is a directory, not a regular file",
            "'/proc/self/mem': it is not a readable zip archive",
        ],
        strict=False,
    ):
        assert why in line, line
    assert (
        lines[6].startswith("ValueError `path` '") and "it is a FIFO, not a .zip file" in lines[6]
    )


@pytest.mark.parametrize("name", ["s.zip", "s"])
def test_files_are_read_with_a_size_cap(tmp_path: Path, name: str) -> None:
    path = summed(1.0).save(tmp_path / name)
    with pytest.raises(SavedFileError, match=r"\.(json|parquet) holds \d+ bytes, more than `max_b"):
        im.load(path, max_bytes=100)


def test_a_zip_member_longer_than_declared_is_refused(tmp_path: Path) -> None:
    path = summed(1.0).save(tmp_path / "s.zip")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("history.parquet")
    # The central directory's uncompressed size of history.parquet, set beyond the archive.
    # (its fields from "version needed" to the name length, as in the local header)
    at = data.rfind(bytes(data[info.header_offset + 4 : info.header_offset + 26]))
    assert at > info.header_offset
    data[at + 18 : at + 22] = (len(data) * 4).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(SavedFileError, match=r"history.parquet is not stored as this package|zip"):
        im.load(path)


# -- 12. fork: a child of a process whose polars threads ran refuses instead of hanging ------

FORKED_SAVE = """
    import os, sys, time
    import interactive_metrics as im

    root = sys.argv[1]
    m = im.Mean()
    m.update_state([1.0, 2.0])

    def in_child(name):
        pid = os.fork()
        if pid == 0:
            try:
                m.save(os.path.join(root, name))
                print("saved", name, flush=True)
            except ValueError as error:
                print("refused", name, error, flush=True)
            os._exit(0)
        for _ in range(400):
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
            time.sleep(0.05)
        os.kill(pid, 9)
        print("hung", name, flush=True)

    in_child("before.zip")  # polars' threads have not started yet: the child saves
    m.history
    m.save(os.path.join(root, "parent.zip"))
    in_child("after.zip")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_refuses_to_save_instead_of_hanging(tmp_path: Path) -> None:
    done = run_child(FORKED_SAVE, str(tmp_path), timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = done.stdout.splitlines()
    assert before == "saved before.zip"
    assert after.startswith("refused after.zip cannot save in a process made by fork()")
    assert "'spawn' or 'forkserver' start method" in after
    assert im.load(tmp_path / "before.zip").result() == 1.5


def test_a_null_stream_beyond_int64_is_refused_on_save(tmp_path: Path) -> None:
    s = im.Streams(im.Sum(), null_stream=2**70)
    with pytest.raises(TypeError, match=r"an integer within int64"):
        s.save(tmp_path / "s")
