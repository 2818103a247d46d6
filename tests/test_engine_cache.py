"""The engine cache keeps what was used lately: each file it hands out again is marked used, and what was
not used for UNUSED_DAYS (or a write left unfinished a day ago) is removed when a run opens the cache.
Only names the engines write are ever removed."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
from model_files import random_checkpoint

from core.atomic import unfinished_path
from core.engines import Backend, cached_engine, open_engine, split_onnx
from core.engines.cache import (
    CACHEDIR_TAG,
    UNFINISHED_DAYS,
    UNUSED_DAYS,
    remove_unused,
    tag_as_cache,
)
from core.engines.cpu_batching import cached_measurement
from core.engines.export import exporter_fingerprint
from core.engines.metadata import file_sha256
from core.engines.tensorrt_graph import fp16_onnx
from core.model import tiny

DAY = 86400.0
SHA, CODE = "0123456789abcdef", "89abcdef"


def _age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def _days_old(path: Path) -> float:
    return (time.time() - path.stat().st_mtime) / DAY


def _cache_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "engines"
    folder.mkdir()
    tag_as_cache(folder)
    return folder


def test_what_was_not_used_for_the_period_is_removed_and_nothing_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _cache_folder(tmp_path)
    ours = [
        f"demo-{SHA}-{CODE}.onnx", f"demo-{SHA}-{CODE}.onnx.sha256",        # an export and its checksum
        f"demo-{SHA}-{CODE}-{SHA}-{CODE}.fp16.onnx",                         # its FP16 graph
        f"demo-{SHA}-{CODE}-{SHA}.parts.onnx", f"demo-{SHA}-{CODE}-{SHA}.head.onnx",  # its split graphs
        f"demo-{SHA}-{CODE}.nvidia-h200.fp16.plan",                           # a TensorRT plan,
        f"demo-{SHA}-{CODE}.nvidia-h200.fp16.plan.json",                      # its key,
        f"demo-{SHA}-{CODE}.nvidia-l4.fp16.failed.json",                      # another GPU's failed build
        f"demo-{SHA}-{CODE}.fp16.plan", f"demo-{SHA}-{CODE}.fp16.failed.json",  # named before the GPU was
        f"my model-{SHA}.parts.fp32.plan",                                    # a user's ONNX, split
        f"cpu-batching-{SHA}-2t-{CODE}.json",                                 # a CPU measurement,
        f"cpu-batching-{SHA}-2t.json",                                        # one named before the CPU was
    ]
    theirs = ["model.onnx", "notes.txt", f"demo-{SHA}.pt", "cpu-batching.json", f".{ours[0]}.swp"]
    for name in ours + theirs:
        (folder / name).write_bytes(b"x" * 1_000_000)
        _age(folder / name, UNUSED_DAYS + 1)
    (folder / "a folder.fp16.plan").mkdir()
    _age(folder / "a folder.fp16.plan", UNUSED_DAYS + 1)
    outside = tmp_path / "outside.onnx"  # a link is not followed: what it points at is not the cache's
    outside.write_bytes(b"x")
    _age(outside, UNUSED_DAYS + 1)
    (folder / f"linked-{SHA}-{CODE}.onnx").symlink_to(outside)
    recent = folder / f"pku-{SHA}-{CODE}.onnx"
    recent.write_bytes(b"x")
    _age(recent, UNUSED_DAYS - 1)
    ahead = folder / f"clock-{SHA}-{CODE}.onnx"  # stamped by a clock set a year ahead: not kept for a year
    ahead.write_bytes(b"x")
    _age(ahead, -365)

    with caplog.at_level(logging.INFO, logger="core.engines.cache"):
        remove_unused(folder)
        left = {p.name for p in folder.iterdir()}
        assert left == {CACHEDIR_TAG, *theirs, "a folder.fp16.plan", f"linked-{SHA}-{CODE}.onnx", recent.name}
        assert outside.exists()
        assert [r.getMessage() for r in caplog.records] == [
            f"engine cache {folder}: removed {len(ours) + 1} file(s), {len(ours)}.0 MB, unused for "
            f"{UNUSED_DAYS} days "
            "or left unfinished (each is made again if a model needs it)"
        ]
        caplog.clear()
        remove_unused(folder)  # nothing to remove: nothing said
        assert not caplog.records


def test_a_folder_the_engines_did_not_make_is_not_cleaned(tmp_path: Path) -> None:
    """WHERE_TO_FOCUS_CACHE may name a folder of the user's own, with models in it that merely look like
    the engines' files (a split graph `training export --split` put beside its ONNX file, say)."""
    mine = tmp_path / "models"
    mine.mkdir()
    split = mine / f"best-{SHA}.parts.onnx"
    split.write_bytes(b"x")
    _age(split, UNUSED_DAYS + 1)
    remove_unused(mine)
    assert split.exists()
    tag_as_cache(mine)
    assert (mine / CACHEDIR_TAG).read_text(encoding="utf-8").startswith(
        "Signature: 8a477f597d28d172789f06886806bc55\n")  # the standard's: backup tools skip the folder
    remove_unused(mine)
    assert not split.exists()


def test_a_write_left_unfinished_is_removed_after_a_day(tmp_path: Path) -> None:
    folder = _cache_folder(tmp_path)
    final = f"demo-{SHA}-{CODE}.fp16.plan"
    old, fresh = folder / unfinished_path(folder / final).name, folder / unfinished_path(folder / final).name
    before = folder / f".{final}.123.partial"  # named by the process id alone, before
    plan_before = folder / f".demo-{SHA}-{CODE}.fp16.k2j3h4_x"  # a plan's, through NamedTemporaryFile
    not_ours = folder / ".notes.txt.123.partial"
    for path in (old, fresh, before, plan_before, not_ours):
        path.write_bytes(b"x")
        _age(path, UNFINISHED_DAYS + 0.5)
    _age(fresh, UNFINISHED_DAYS - 0.5)  # a build of another run still going
    remove_unused(folder)
    assert {p.name for p in folder.iterdir()} == {CACHEDIR_TAG, fresh.name, not_ours.name}


def test_a_cache_that_cannot_be_read_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A share that refuses its listing (or a folder gone) is no error here: the engines say what is wrong
    with the folder when they use it, and nothing is removed."""
    import core.engines.cache

    remove_unused(tmp_path / "absent")
    folder = _cache_folder(tmp_path)
    old = folder / f"demo-{SHA}-{CODE}.onnx"
    old.write_bytes(b"x")
    _age(old, UNUSED_DAYS + 1)

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(core.engines.cache.os, "scandir", refused)
    remove_unused(folder)
    assert old.exists()


def test_the_folders_the_engines_make_are_tagged_and_a_user_s_own_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.engines import selection

    made = tmp_path / "new" / "engines"
    assert selection._writable_or_temporary(made) == made and (made / CACHEDIR_TAG).is_file()
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    (theirs / "model.pt").write_bytes(b"")  # not empty (an empty one is a run's that did not get to tag it)
    assert selection._writable_or_temporary(theirs) == theirs and not (theirs / CACHEDIR_TAG).exists()
    untagged = tmp_path / "made by a run stopped before it tagged it"
    untagged.mkdir(mode=0o700)
    assert selection._writable_or_temporary(untagged) == untagged and (untagged / CACHEDIR_TAG).is_file()
    home = tmp_path / "home-cache"  # the default cache, made by an earlier version without the tag
    home.mkdir(mode=0o700)
    (home / "demo.onnx").write_bytes(b"")
    monkeypatch.setattr(selection, "_home_cache_dir", lambda: home)
    assert selection._writable_or_temporary(home) == home and (home / CACHEDIR_TAG).is_file()
    # A WHERE_TO_FOCUS_CACHE an earlier version made (the README's service): only the engines' names, an
    # export's checksum among them. Untagged, it was never cleaned after the update.
    service = tmp_path / "service-cache"
    service.mkdir(mode=0o700)
    for name in (f"demo-{SHA}-{CODE}.onnx", f"demo-{SHA}-{CODE}.onnx.sha256", f"cpu-batching-{SHA}-2t.json"):
        (service / name).write_bytes(b"")
    assert selection._writable_or_temporary(service) == service and (service / CACHEDIR_TAG).is_file()
    splits = tmp_path / "my split graphs"  # names like the engines', no export's checksum: a user's
    splits.mkdir(mode=0o700)
    for name in (f"best-{SHA}.parts.onnx", f"best-{SHA}.parts.onnx.sha256"):  # its checksum: sha256sum's
        (splits / name).write_bytes(b"")
    assert selection._writable_or_temporary(splits) == splits and not (splits / CACHEDIR_TAG).exists()


def test_the_default_cache_is_in_the_users_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.engines import selection

    monkeypatch.delenv("WHERE_TO_FOCUS_CACHE", raising=False)
    for home in ("HOME", "USERPROFILE"):  # Path.home() on POSIX, on Windows
        monkeypatch.setenv(home, str(tmp_path / "home"))
    for invalid in ("relative/cache", ""):  # by the XDG spec, ignored (both were the working folder's)
        monkeypatch.setenv("XDG_CACHE_HOME", invalid)
        assert selection.default_cache_dir() == tmp_path / "home" / ".cache" / "where-to-focus" / "engines"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert selection.default_cache_dir() == tmp_path / "xdg" / "where-to-focus" / "engines"


@pytest.mark.skipif(os.name == "nt", reason="POSIX's password database")
def test_a_user_without_a_home_gets_a_cache_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A service's or a container's user missing from the password database, with HOME unset: the app
    stopped at its start with a traceback ("Could not determine home directory"), even with
    WHERE_TO_FOCUS_CACHE or XDG_CACHE_HOME set. Now its exports go to a folder of the run's own, said
    once."""
    import pwd

    from core.engines import selection

    def no_entry(uid: int) -> None:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    monkeypatch.setenv("WHERE_TO_FOCUS_CACHE", str(tmp_path / "named"))  # what the warning asks for
    assert selection._writable_or_temporary(selection.default_cache_dir()) == tmp_path / "named"
    monkeypatch.delenv("WHERE_TO_FOCUS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    xdg_cache = tmp_path / "xdg" / "where-to-focus" / "engines"
    assert selection._writable_or_temporary(selection.default_cache_dir()) == xdg_cache
    monkeypatch.delenv("XDG_CACHE_HOME")
    selection._homeless_cache.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="core.engines.selection"):
            for_the_run = selection.default_cache_dir()
            assert selection.default_cache_dir() == for_the_run and for_the_run.is_dir()
        (warning,) = caplog.records
        assert "HOME is not set" in warning.getMessage() and "WHERE_TO_FOCUS_CACHE" in warning.getMessage()
        checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
        open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, threads=1)  # as the app opens its model
        assert list(for_the_run.glob("tiny-*.onnx"))
    finally:
        selection._homeless_cache.cache_clear()  # the folder itself is removed at exit, as the app's


def test_a_run_marks_the_export_it_reuses_and_removes_one_no_run_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    cache = tmp_path / "cache"
    open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)  # the app's choice
    export = next(cache.glob(f"tiny-*-{exporter_fingerprint()[:8]}.onnx"))
    digest = export.with_name(export.name + ".sha256")
    (measurement,) = cache.glob("cpu-batching-*-1t-*.json")
    # An export of the same model by an older version of the code, which no run of this one opens.
    superseded = export.with_name(export.name.replace(exporter_fingerprint()[:8], "00000000"))
    superseded.write_bytes(export.read_bytes())
    for path in (export, digest, measurement, superseded):
        _age(path, UNUSED_DAYS + 1)

    with caplog.at_level(logging.INFO):
        open_engine(checkpoint, Backend.AUTO, cache_dir=cache, threads=1)
    assert not superseded.exists()
    assert max(_days_old(path) for path in (export, digest, measurement)) < 1
    assert not any("exporting" in r.getMessage() or "measuring" in r.getMessage()
                   for r in caplog.records)  # reused, not made again

    # The cached export opened by name (ONNX Runtime needs no cache for it): marked too, and no other run
    # removes it while it is used so.
    _age(export, UNUSED_DAYS + 1)
    open_engine(export, Backend.ONNXRUNTIME_CPU, cache_dir=cache)
    assert _days_old(export) < 1


def test_a_run_that_needs_no_cache_neither_makes_nor_cleans_one(tmp_path: Path, caplog) -> None:
    checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    open_engine(checkpoint, Backend.PYTORCH_CPU, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    # Nor one that is there, the checkpoint's export in it: PyTorch runs the checkpoint, the cache untouched
    # (not checked, not cleaned, no folder of the run's own made where others could write to it).
    open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=tmp_path / "cache")
    (tmp_path / "cache").chmod(0o777)
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "cache").iterdir()}
    with caplog.at_level(logging.INFO):
        open_engine(checkpoint, Backend.PYTORCH_CPU, cache_dir=tmp_path / "cache")
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "cache").iterdir()} == before
    assert not caplog.records


def test_each_cached_file_handed_out_again_is_marked_used(tmp_path: Path) -> None:
    checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=tmp_path / "cache")
    onnx_path = Path(engine.graph.path)
    made = [*split_onnx(onnx_path, tmp_path), fp16_onnx(onnx_path, tmp_path)]
    cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: b"plan")
    measurement = tmp_path / f"cpu-batching-{SHA}-2t.json"
    seconds = {Backend.ONNXRUNTIME_CPU: {1: 0.01}, Backend.PYTORCH_CPU: {1: 0.02}}
    cached_measurement(measurement, {"threads": 2}, lambda: seconds)
    made += [tmp_path / "net.fp16.plan", tmp_path / "net.fp16.plan.json", measurement]
    for path in made:
        _age(path, UNUSED_DAYS + 1)

    assert split_onnx(onnx_path, tmp_path) == tuple(made[:2])
    assert fp16_onnx(onnx_path, tmp_path) == made[2]
    assert cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: b"other") == (b"plan", False)
    assert cached_measurement(measurement, {"threads": 2}, lambda: {}) == (seconds, False)
    assert [round(_days_old(path)) for path in made] == [0] * len(made)


def test_a_plan_built_is_said_before_its_minutes_and_one_cached_is_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    said_before: list[bool] = []

    def build() -> bytes:
        said_before.append("building the TensorRT engine net.fp16" in caplog.text)
        return b"plan"

    with caplog.at_level("INFO", logger="core.engines.tensorrt_graph"):
        assert cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, build) == (b"plan", True)
        caplog.clear()
        assert cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, build) == (b"plan", False)
    assert said_before == [True] and "TensorRT" not in caplog.text


def test_a_plan_whose_write_is_interrupted_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(source: os.PathLike, target: os.PathLike) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("core.engines.tensorrt_graph.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: b"plan" * 1000)
    assert [path.name for path in tmp_path.iterdir()] == ["net.fp16.plan.lock"]  # the lock it was built under


def test_a_cached_export_is_marked_before_it_is_checked_so_another_run_cannot_remove_it_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.engines import selection

    checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    cache = tmp_path / "cache"
    open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache)
    for path in cache.iterdir():
        _age(path, UNUSED_DAYS + 1)
    check = selection._as_exported

    def checked_while_another_run_cleans(*args, **kwargs):  # hashing an RGB model's export takes seconds
        whole = check(*args, **kwargs)
        remove_unused(cache)
        return whole

    monkeypatch.setattr(selection, "_as_exported", checked_while_another_run_cleans)
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache)  # raised NO_SUCHFILE
    assert Path(engine.graph.path).is_file()


def test_a_runs_cache_files_are_its_models_and_no_other_models(tmp_path: Path) -> None:
    """What a run holds (and marks every day) is its model's: not the export of another checkpoint that is
    named the same (every training run's best.pt), which would then never be cleaned."""
    from core.engines.selection import _Source

    cache = _cache_folder(tmp_path)
    checkpoint = random_checkpoint(tmp_path / "best.pt", tiny(3), ["a", "b", "c"])
    source = _Source(checkpoint, cache)
    export = source.onnx()
    sha = source.metadata().checkpoint_sha256[:16]
    other = "f" * 16
    # (the lock it was exported under is its too: cleaned with it)
    own = [export, export.with_name(export.name + ".sha256"), export.with_name(export.name + ".lock"),
           cache / f"cpu-batching-{sha}-2t.json",
           cache / f"{export.stem}.nvidia-h200.fp16.plan", cache / f"{export.stem}-{'1' * 16}.parts.onnx"]
    # Not the plans named before their names held the GPU: none uses them, and held they were never removed.
    others = [cache / f"best-{other}-{CODE}.onnx", cache / f"cpu-batching-{other}-2t.json",
              cache / f"{export.stem}.fp16.plan", cache / f"{export.stem}.fp16.plan.json",
              cache / f"{export.stem}-{'1' * 16}.parts.fp16.plan"]  # its split graph's, the same
    for path in own[2:] + others:
        path.write_bytes(b"x")
    assert sorted(source.files_in_cache()) == sorted(own)

    # An ONNX file outside the cache (a TensorRT build of runs/x/best.onnx): its graphs are named by its
    # own hash, and its plans by its name.
    outside = tmp_path / "runs" / "best.onnx"
    outside.parent.mkdir()
    outside.write_bytes(export.read_bytes())
    its_hash = file_sha256(outside)[:16]
    made = [cache / f"best-{its_hash}-{CODE}.fp16.onnx", cache / "best.nvidia-h200.fp16.plan"]
    for path in made:
        path.write_bytes(b"x")
    user_onnx = _Source(outside, cache)
    assert user_onnx.cache_dir == cache  # opened, as the TensorRT backend does
    assert sorted(user_onnx.files_in_cache()) == sorted([*made, cache / f"cpu-batching-{sha}-2t.json"])


def test_each_write_has_a_partial_file_of_its_own(tmp_path: Path) -> None:
    # Two containers sharing a cache both run as process 1: named by the process alone, two builds of
    # one plan wrote into one file.
    assert unfinished_path(tmp_path / "net.fp16.plan") != unfinished_path(tmp_path / "net.fp16.plan")


def test_a_tag_that_cannot_be_written_leaves_the_cache_in_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.engines import selection

    cache = tmp_path / "engines"  # the default cache, with a folder where its tag goes
    (cache / CACHEDIR_TAG).mkdir(parents=True, mode=0o700)
    cache.chmod(0o700)
    monkeypatch.setattr(selection, "_home_cache_dir", lambda: cache)
    with caplog.at_level(logging.WARNING):
        assert selection._writable_or_temporary(cache) == cache
    assert f"cannot write its {CACHEDIR_TAG}" in caplog.text and "not cleaned" in caplog.text


def test_a_file_is_marked_at_most_once_a_day(tmp_path: Path) -> None:
    # Each mark is a write: every start of every room re-stamping its files would be one for nothing.
    from core.engines.cache import mark_used

    lately, long_ago = tmp_path / "lately.onnx", tmp_path / "long-ago.onnx"
    for path, days in ((lately, 0.5), (long_ago, 1.5)):
        path.write_bytes(b"x")
        _age(path, days)
    mark_used(lately, long_ago, tmp_path / "absent.onnx")
    assert round(_days_old(lately), 2) == 0.5 and _days_old(long_ago) < 0.01


def test_a_clock_behind_at_start_neither_removes_nor_marks_back_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A flat clock battery: the service starts in 2000 until the time is synchronised. Every file looked
    # stamped 26 years ahead and was removed (a TensorRT build of minutes at every such start), and files
    # marked then looked 26 years old once the clock was set, and went from under the room running them.
    from core.engines import cache

    folder = _cache_folder(tmp_path)
    used = folder / f"demo-{SHA}-{CODE}.onnx"
    used.write_bytes(b"x")
    _age(used, 2)  # so that a start marks it again
    stamped = used.stat().st_mtime
    monkeypatch.setattr(cache, "_said_clock_behind", False)
    year_2000 = 946_728_000.0  # noon on 2000-01-01 UTC: that day in any time zone
    monkeypatch.setattr(time, "time", lambda: year_2000)
    with caplog.at_level(logging.WARNING, logger="core.engines.cache"):
        cache.mark_used(used)
        remove_unused(folder)
        cache.mark_used(used)
    monkeypatch.undo()
    assert used.stat().st_mtime == stamped
    assert len(caplog.records) == 1 and caplog.text.count("the clock reads 2000-01-01 ") == 1
    assert "neither marked nor cleaned" in caplog.text
    made_then = folder / f"pku-{SHA}-{CODE}.onnx"  # exported while the clock was behind: stamped 2000
    made_then.write_bytes(b"x")
    os.utime(made_then, (year_2000, year_2000))
    remove_unused(folder)  # the clock set: kept, as used two days ago
    assert used.exists()
    assert made_then.exists() and _days_old(made_then) < 0.01  # of unknown age: counted from now


def _while_another_makes_it(make_first, make_second) -> tuple[object, object]:
    """Run `make_first(hold)` on a thread, holding the cache's lock while `hold()` blocks, and
    `make_second()` on another that starts meanwhile: (first's result, second's). The second must wait
    for the first (flock: two opens of one file conflict within a process too)."""
    import threading

    holding, go = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def hold() -> None:
        holding.set()
        assert go.wait(10)

    first = threading.Thread(target=lambda: results.update(first=make_first(hold)))
    second = threading.Thread(target=lambda: results.update(second=make_second()))
    first.start()
    assert holding.wait(10)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first to finish making it
    go.set()
    first.join(10)
    second.join(10)
    return results["first"], results["second"]


def test_rooms_started_together_measure_a_model_once_not_against_each_other(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Three rooms on one cache measured at once, each slowed by the others (39, 57 and 118 ms for six
    # people), chose different plans, and stored one of them as a quiet machine's figures for good.
    path = tmp_path / f"cpu-batching-{SHA}-2t.json"
    seconds = {Backend.ONNXRUNTIME_CPU: {1: 0.01}, Backend.PYTORCH_CPU: {1: 0.02}}
    second_measured: list[bool] = []

    def measure_first(hold):
        return cached_measurement(path, {"threads": 2}, lambda: (hold(), seconds)[1])

    def measure_second():
        return cached_measurement(path, {"threads": 2}, lambda: second_measured.append(True) or {})

    with caplog.at_level(logging.INFO, logger="core.engines.cache"):
        first, second = _while_another_makes_it(measure_first, measure_second)
    assert first == (seconds, True) and second == (seconds, False) and not second_measured
    assert f"{path.name}: another process on this cache is making it; waiting for it" in caplog.text


def test_rooms_started_together_build_a_tensorrt_plan_once(tmp_path: Path) -> None:
    # On one GPU each room built for minutes with a workspace of its own; one that ran out of memory kept
    # every room off TensorRT for a day.
    builds: list[str] = []

    def build_first(hold):
        return cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: (hold(), builds.append("first"),
                                                                          b"plan")[2])

    def build_second():
        return cached_engine(tmp_path, "net.fp16", {"gpu": "L4"}, lambda: builds.append("second") or b"x")

    assert _while_another_makes_it(build_first, build_second) == ((b"plan", True), (b"plan", False))
    assert builds == ["first"]


def test_rooms_started_together_export_a_checkpoint_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from core.engines import selection

    checkpoint = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    cache = tmp_path / "cache"
    exports: list[bool] = []
    export = selection.export_onnx
    hold_first: list = []

    def counted(*args, **kwargs):
        exports.append(True)
        if hold_first:
            hold_first.pop()()
        return export(*args, **kwargs)

    monkeypatch.setattr(selection, "export_onnx", counted)

    def open_first(hold):
        hold_first.append(hold)
        return open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)

    def open_second():
        return open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=cache, threads=1)

    first, second = _while_another_makes_it(open_first, open_second)
    assert exports == [True] and first.graph.path == second.graph.path
    assert {p.suffix for p in cache.iterdir()} == {".lock", ".onnx", ".sha256", ".TAG"}


def test_the_temporary_engine_folders_of_killed_runs_are_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a cache to write, each run exports into a folder of its own, removed at its exit; a run
    killed (SIGKILL, a watchdog's SIGABRT) left it, and its export (MBs; hundreds for an RGB model), once
    per restart, with nothing to clean it."""
    import subprocess
    import sys
    import tempfile

    from core.engines import selection

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    killed = tmp_path / f"where-to-focus-engines-{ended.pid}-k2j3_x8"
    running = tmp_path / f"where-to-focus-engines-{os.getpid()}-a8b7c6d5"  # this process's: running
    older = tmp_path / "where-to-focus-engines-q1w2e3r4"  # an earlier version's name: whose, not known
    made_up = tmp_path / "where-to-focus-engines-99999999999999999999-x"  # os.kill raised OverflowError
    # Another account's, of a run that ended too (anybody can make up a name in /tmp): none of this one's.
    others = tmp_path / f"where-to-focus-engines-{ended.pid}-0therus3r"
    for folder in (killed, running, older, made_up, others):
        folder.mkdir()
        (folder / f"demo-{SHA}-{CODE}.onnx").write_bytes(b"x" * 1000)
    monkeypatch.setattr(Path, "lstat", lambda self, real=Path.lstat: (
        os.stat_result((*real(self)[:4], real(self).st_uid + 1, *real(self)[5:])) if self == others
        else real(self)))
    with caplog.at_level(logging.INFO, logger="core.engines.selection"):
        made = selection._temporary_cache(tmp_path / "unwritable", "cannot be written (test)")
    assert not killed.exists() and not made_up.exists() and running.exists() and older.exists()
    assert others.exists()
    assert made.parent == tmp_path and made.name.startswith(f"where-to-focus-engines-{os.getpid()}-")
    assert "removed 2 engine folder(s) of runs that were killed" in caplog.text

    # No temporary folder either (/tmp read-only): said as a warning, not only inside the engine line as
    # a backend that failed, PyTorch running it instead.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "none"))
    with pytest.raises(OSError), caplog.at_level(logging.WARNING, logger="core.engines.selection"):
        selection._temporary_cache(tmp_path / "unwritable", "cannot be written (test)")
    assert "and no temporary folder can be written either" in caplog.records[-1].getMessage()


def test_a_lock_unused_for_months_is_not_removed_while_a_room_holds_it(tmp_path: Path) -> None:
    """Locks are cache files too (removed with their model's files), marked used when taken: one two
    months old was removed by another run's start while held, and a second room made the file at once."""
    from core.engines.cache import making

    folder = _cache_folder(tmp_path)
    target = folder / f"demo-{SHA}-{CODE}.onnx"
    lock = folder / f"{target.name}.lock"
    lock.touch()
    _age(lock, UNUSED_DAYS + 10)
    with making(target, 1.0):
        remove_unused(folder)
        assert lock.exists()
    _age(lock, UNUSED_DAYS + 10)
    remove_unused(folder)  # its model gone for months: removed with it
    assert not lock.exists()


def test_a_maker_that_holds_on_too_long_is_waited_for_only_so_long_then_made_here_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A room stuck while making a file (a TensorRT build that hangs) kept every other room's start
    waiting for ever, or took it down; past the wait, each makes it itself. A wait of NaN is none."""
    from core.engines.cache import making
    from core.locks import held, lock_exclusive

    target = tmp_path / f"demo-{SHA}-{CODE}.onnx"
    lock = tmp_path / f"{target.name}.lock"
    made = []
    with open(lock, "a+b") as stuck:
        lock_exclusive(stuck)  # (flock: another open of the file conflicts within a process too)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"another process has held it for over 0\.2 s"):
            with held(lock, 0.2):
                pass
        assert 0.2 <= time.monotonic() - started < 2.0
        started = time.monotonic()
        with pytest.raises(TimeoutError), held(lock, float("nan")):
            pass
        assert time.monotonic() - started < 0.5
        with caplog.at_level(logging.WARNING, logger="core.engines.cache"), making(target, 0.1):
            made.append(True)
    assert made == [True] and f"{target}: another process has been making it for over" in caplog.text
