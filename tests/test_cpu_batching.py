"""On a CPU, auto runs each number of people on the backend measured faster for it."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from model_files import random_checkpoint

from core.engines import (
    Backend,
    PerBatchEngine,
    TorchEngine,
    choose_per_batch,
    example_inputs,
    open_engine,
)
from core.engines.cpu_batching import cached_measurement, describe_plan
from core.model import load_checkpoint, tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ORT, EAGER = Backend.ONNXRUNTIME_CPU, Backend.PYTORCH_CPU


def test_each_batch_size_goes_to_the_lower_of_two_measured_lines() -> None:
    # The shape measured on an idle 2-core machine (lite, README): ORT ahead for one person, eager after.
    plan = choose_per_batch({ORT: {1: 0.060, 6: 0.330}, EAGER: {1: 0.090, 6: 0.250}}, 6)
    assert plan == {1: ORT, 2: ORT, 3: EAGER, 4: EAGER, 5: EAGER, 6: EAGER}
    assert describe_plan(plan) == "onnxruntime-cpu for 1-2 people, pytorch-cpu for 3-6 people"
    one_size = choose_per_batch({ORT: {1: 0.06}, EAGER: {1: 0.09}}, 6)  # too slow to measure a batch
    assert set(one_size.values()) == {ORT}
    assert describe_plan({1: EAGER, 2: EAGER}) == "pytorch-cpu for 1-2 people"
    assert describe_plan({1: ORT, 2: EAGER}) == "onnxruntime-cpu for 1 person, pytorch-cpu for 2 people"


def test_a_plan_with_a_gap_in_its_sizes_is_not_described_as_one_range() -> None:
    # Only sizes next to each other merge: {1, 3} on one backend says nothing about 2 people.
    assert describe_plan({1: ORT, 3: ORT}) == "onnxruntime-cpu for 1 person, onnxruntime-cpu for 3 people"
    plan = {2: EAGER, 3: EAGER, 5: EAGER}
    assert describe_plan(plan) == "pytorch-cpu for 2-3 people, pytorch-cpu for 5 people"


def test_a_measurement_is_reused_only_for_the_same_machine_and_model(tmp_path: Path) -> None:
    path = tmp_path / "cpu-batching.json"
    calls = []

    def measure_now() -> dict:
        calls.append(1)
        return {ORT: {1: 0.05 * len(calls), 6: 0.3}, EAGER: {1: 0.09, 6: 0.2}}

    key = {"cpu": "Xeon", "threads": 2, "checkpoint_sha256": "ab"}
    first, measured = cached_measurement(path, key, measure_now)
    assert measured and first[ORT][1] == 0.05
    again, measured = cached_measurement(path, dict(key), measure_now)
    assert not measured and again == first
    _, measured = cached_measurement(path, {**key, "threads": 1}, measure_now)
    assert measured and len(calls) == 2
    path.write_text("{broken", encoding="utf-8")
    assert cached_measurement(path, {**key, "threads": 1}, measure_now)[1]


def test_a_measurement_taken_on_a_busy_machine_is_taken_again_once_it_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service started with the computer measured amid everything else starting, and kept that."""
    import core.engines.cpu_batching as cpu_batching

    path, key, calls = tmp_path / "cpu-batching.json", {"cpu": "Xeon"}, []

    def measure_now() -> dict:
        calls.append(1)
        return {ORT: {1: 0.05}, EAGER: {1: 0.09}}

    for load, measured in ((1.4, True), (0.4, False), (None, False), (0.1, True), (1.4, False), (0.1, False)):
        monkeypatch.setattr(cpu_batching, "load_per_core", lambda load=load: load)
        assert cached_measurement(path, key, measure_now)[1] is measured, load
    assert len(calls) == 2 and json.loads(path.read_text())["load_per_core"] == 0.1
    # Measured by a version that did not look at the load: once more, at a quiet start.
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in stored.items() if k != "load_per_core"}))
    assert cached_measurement(path, key, measure_now)[1] and len(calls) == 3


def test_a_stored_measurement_without_usable_figures_is_measured_again(tmp_path: Path) -> None:
    path = tmp_path / "cpu-batching.json"
    key = {"cpu": "Xeon", "backends": ["onnxruntime-cpu", "pytorch-cpu"]}

    def measure_now() -> dict:
        return {ORT: {1: 0.05, 6: 0.3}, EAGER: {1: 0.09, 6: 0.2}}

    for seconds in ({}, {"onnxruntime-cpu": {}, "pytorch-cpu": {"1": 0.1}},
                    {"onnxruntime-cpu": {"1": 0.1}, "tensorrt": {"1": 0.1}},
                    {"onnxruntime-cpu": {"1": -1}, "pytorch-cpu": {"1": 0.1}}, []):
        path.write_text(json.dumps({"key": key, "seconds": seconds}), encoding="utf-8")
        assert cached_measurement(path, key, measure_now) == (measure_now(), True)
        assert cached_measurement(path, key, measure_now) == (measure_now(), False)  # stored the new one


def test_a_measurement_that_cannot_be_stored_is_used_and_leaves_nothing_behind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cpu-batching.json"
    path.mkdir()  # a folder where the record should go: os.replace cannot put a file there
    with caplog.at_level(logging.WARNING):
        seconds, measured = cached_measurement(
            path, {"cpu": "Xeon"}, lambda: {ORT: {1: 0.05}, EAGER: {1: 0.09}}
        )
    assert measured and seconds[ORT] == {1: 0.05}
    assert "could not store the CPU measurement" in caplog.text and str(path) in caplog.text
    # No .partial left (the lock it was measured under stays)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu-batching.json", "cpu-batching.json.lock"]


def test_auto_runs_onnx_runtime_when_the_cache_cannot_be_written(
    checkpoint: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="core.engines.selection"):
        engine = open_engine(checkpoint, Backend.AUTO, cache_dir=blocked / "engines", threads=1)
    assert isinstance(engine, PerBatchEngine) and engine.reason.startswith("auto picked onnxruntime-cpu")
    assert "cannot be written" in caplog.text and "WHERE_TO_FOCUS_CACHE" in caplog.text
    # The measurement is said to be for this run only, not "once; then cached" in a folder that goes.
    assert "up to ~20 s, for this run only" in caplog.text and "then cached" not in caplog.text


@pytest.mark.skipif(os.name == "nt", reason="POSIX owner and mode bits")
def test_a_cache_other_users_can_write_is_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Anyone who can write the cache can put a graph of their own there with its checksum: one that never
    says fall, say. The app made it with the umask's mode and used one that was 777, or another user's."""
    import core.engines.selection
    from core.engines.selection import _writable_or_temporary

    made = tmp_path / "new" / "engines"
    assert _writable_or_temporary(made) == made and made.stat().st_mode & 0o077 == 0  # this user's only
    own = tmp_path / "made-under-umask-002"
    own.mkdir()
    (own / "model.onnx").write_bytes(b"")
    for path in (own, own / "model.onnx"):
        path.chmod(0o775)
    # Named by WHERE_TO_FOCUS_CACHE, it may be shared on purpose: left as it is, and not used.
    with caplog.at_level(logging.WARNING, logger="core.engines.selection"):
        assert _writable_or_temporary(own) != own
    assert "can be written by other users" in caplog.text and own.stat().st_mode & 0o022
    # The default cache, this user's: closed to others' writes, its files too (in folders as well), and
    # used; a link is neither followed (what it points at is outside) nor, dangling, a reason to give up.
    (own / "engines").mkdir()
    (own / "engines" / "room.plan").write_bytes(b"")
    (own / "engines" / "room.plan").chmod(0o666)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"")
    outside.chmod(0o666)
    (own / "to-outside").symlink_to(outside)
    (own / "dangling").symlink_to(tmp_path / "gone")
    monkeypatch.setattr(core.engines.selection, "_home_cache_dir", lambda: own)
    assert _writable_or_temporary(own) == own
    assert not any(p.stat().st_mode & 0o022 for p in (own, own / "model.onnx", own / "engines" / "room.plan"))
    assert outside.stat().st_mode & 0o777 == 0o666
    caplog.clear()
    if os.getuid() != 0:
        return  # a folder of another user's cannot be made here
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    theirs.chmod(0o777)
    os.chown(theirs, 4321, 4321)  # another user's: not this user's to close, and not used
    with caplog.at_level(logging.WARNING, logger="core.engines.selection"):
        used = _writable_or_temporary(theirs)
    # Whose, and what to do: root by hand runs as its owner (a chown would take the service's cache).
    assert used != theirs and "belongs to 4321 (uid 4321); run as that user (sudo -u 4321 ...)" in caplog.text
    # One this user cannot write at all (root's, mode 700, seen by the service's user): whose it is too.
    theirs.chmod(0o700)
    caplog.clear()

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(core.engines.selection.tempfile, "TemporaryFile", refused)
    with caplog.at_level(logging.WARNING, logger="core.engines.selection"):
        assert _writable_or_temporary(theirs) != theirs
    assert f"engine cache {theirs} belongs to 4321 (uid 4321)" in caplog.text


@pytest.mark.skipif(os.name == "nt", reason="POSIX owner and mode bits")
def test_files_made_under_umask_002_in_a_folder_nobody_else_may_enter_are_used(
    checkpoint: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Under a 002 umask every export is group-writable; in the 700 folder the cache makes, nobody else
    can open it. Refused, every start would export again (on a GPU: build its TensorRT engine again)."""
    cache = tmp_path / "engines"
    previous = os.umask(0o002)
    try:
        open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
        (export,) = cache.glob("*.onnx")
        assert export.stat().st_mode & 0o020 and cache.stat().st_mode & 0o777 == 0o700
        with caplog.at_level(logging.INFO, logger="core.engines.selection"):
            open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)
    finally:
        os.umask(previous)
    assert "exporting" not in caplog.text and "other users" not in caplog.text
    assert export.stat().st_mode & 0o020  # left as it was: nothing to close


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One engine cache for the module: the checkpoint is exported to ONNX once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cpu-batching")
    names = [f"class {i}" for i in range(5)]
    return random_checkpoint(
        folder / "tiny.pt", tiny(5), names, varied_attention=True, extra={"profile": "tiny"}
    )


class _Counting:
    """A real engine, counting the calls it gets."""

    def __init__(self, engine) -> None:
        self.engine, self.calls = engine, []
        self.name, self.metadata = engine.name, engine.metadata

    def run(self, crops: np.ndarray, skeleton: np.ndarray):
        self.calls.append(len(skeleton))
        return self.engine.run(crops, skeleton)


def test_each_call_runs_on_the_engine_planned_for_its_people(checkpoint: Path, cache: Path) -> None:
    onnxruntime_engine = _Counting(open_engine(checkpoint, ORT, cache_dir=cache, threads=1))
    loaded = load_checkpoint(checkpoint)
    eager = _Counting(TorchEngine(loaded.model, onnxruntime_engine.metadata))
    plan = {1: ORT, 2: ORT, 3: EAGER, 4: EAGER, 5: EAGER, 6: EAGER}
    engine = PerBatchEngine({ORT: onnxruntime_engine, EAGER: eager}, plan, eager.metadata)
    for people in (1, 2, 3, 6, 8):
        crops, skeleton = example_inputs(engine.metadata, people)
        logits, _ = engine.run(crops, skeleton)
        np.testing.assert_allclose(logits, eager.engine.run(crops, skeleton)[0], atol=1e-4, rtol=0)
    assert onnxruntime_engine.calls == [1, 2]
    assert eager.calls == [3, 6, 8]  # more people than planned for: the largest size's backend
    assert "onnxruntime-cpu for 1-2 people, pytorch-cpu for 3-6 people" in engine.name


def test_auto_on_a_cpu_measures_once_and_says_what_runs_where(checkpoint: Path, cache: Path) -> None:
    for stale in cache.glob("cpu-batching-*.json"):
        stale.unlink()
    first = open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)
    assert isinstance(first, PerBatchEngine)
    assert first.reason.startswith("auto picked onnxruntime-cpu")
    assert "per number of people the faster CPU backend" in first.reason and "measured now" in first.reason
    (record,) = cache.glob("cpu-batching-*.json")
    stored = json.loads(record.read_text(encoding="utf-8"))
    assert set(stored["seconds"]) == {"onnxruntime-cpu", "pytorch-cpu"}
    assert set(stored["seconds"]["onnxruntime-cpu"]) == {"1", "6"}
    second = open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)
    assert "measured earlier on this machine, cached" in second.reason and second.plan == first.plan
    crops, skeleton = example_inputs(second.metadata, 2)
    assert second.run(crops, skeleton)[0].shape == (2, 5)


def test_each_thread_count_keeps_its_own_measurement(checkpoint: Path, cache: Path) -> None:
    """The app (all cores but one) and evaluation (all cores) alternate: neither measures again."""
    for stale in cache.glob("cpu-batching-*.json"):
        stale.unlink()
    for threads in (1, 2):
        opened = open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=threads)
        assert "measured now" in opened.reason
    assert len(list(cache.glob("cpu-batching-*.json"))) == 2
    again = open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)
    assert "measured earlier on this machine, cached" in again.reason


def test_computers_of_two_cpu_models_sharing_a_cache_keep_their_own_measurement(
    checkpoint: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room computers of two kinds on one shared cache folder: each start found the other kind's record
    under the one name, measured again (up to 20 s) and wrote over it."""
    from core.engines import cpu_batching

    for stale in cache.glob("cpu-batching-*.json"):
        stale.unlink()
    for cpu in ("Intel(R) Core(TM) i5-8500T", "AMD Ryzen 5 PRO 4650GE", "Intel(R) Core(TM) i5-8500T"):
        monkeypatch.setattr(cpu_batching, "cpu_model", lambda cpu=cpu: cpu)
        opened = open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)
    assert "measured earlier on this machine, cached" in opened.reason  # the first kind's, kept
    assert len(list(cache.glob("cpu-batching-*-1t-*.json"))) == 2


def test_auto_says_it_is_measuring_before_it_measures_and_not_when_cached(
    checkpoint: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from core.engines import selection

    # Exported beforehand, so the announcement is the only line before the measurement whichever test of
    # this module ran first in this process.
    open_engine(checkpoint, ORT, cache_dir=cache, threads=1)
    for stale in cache.glob("cpu-batching-*.json"):
        stale.unlink()
    events = []
    real_measure = selection.measure

    def measure(*args, **kwargs):
        events.append(("measure", [r.getMessage() for r in caplog.records]))
        return real_measure(*args, **kwargs)

    monkeypatch.setattr(selection, "measure", measure)
    with caplog.at_level(logging.INFO, logger="core.engines.selection"):
        open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)
        [(_, said_before)] = events
        [announcement] = said_before
        (record,) = cache.glob("cpu-batching-*.json")
        assert "measuring ONNX Runtime against PyTorch eager" in announcement and "once" in announcement
        assert str(record) in announcement and "tiny.pt" in announcement
        caplog.clear()
        open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)
    assert len(events) == 1 and not [r for r in caplog.records if "measuring" in r.getMessage()]


def test_auto_on_an_onnx_file_runs_onnx_runtime_alone(checkpoint: Path, cache: Path) -> None:
    exported = open_engine(checkpoint, ORT, cache_dir=cache, threads=1)
    (onnx_file,) = cache.glob("*.onnx")
    engine = open_engine(onnx_file, Backend.AUTO, cache_dir=cache, threads=1)
    assert not isinstance(engine, PerBatchEngine) and engine.name == exported.name


@pytest.mark.skipif(os.name == "nt", reason="POSIX owner and mode bits")
def test_a_writable_file_in_a_closed_folder_linked_from_outside_is_not_trusted(tmp_path: Path) -> None:
    """A group-writable export hard-linked elsewhere while the folder was open (then chmod 700'd): the
    other user still writes it through their link, graph and checksum alike."""
    from core.engines.selection import _open_to_others

    folder = tmp_path / "engines"
    folder.mkdir(mode=0o700)
    export = folder / f"demo-{'0' * 16}-{'0' * 8}.onnx"
    export.write_bytes(b"graph")
    export.chmod(0o664)
    assert _open_to_others(folder, may_close=False) is None  # made under umask 002: nobody can reach it
    os.link(export, tmp_path / "their-link.onnx")
    assert "can be written by other users" in _open_to_others(folder, may_close=False)
    assert _open_to_others(folder, may_close=True) is None  # the default cache closes it: links too
    assert (tmp_path / "their-link.onnx").stat().st_mode & 0o777 == 0o644
