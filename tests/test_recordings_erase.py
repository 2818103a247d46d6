"""`python -m recordings erase` (recordings/erase.py): a patient's erasure request -- what a room recorded
on a day, found by the clips' sidecars and erased, and what lies beyond its reach said."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from test_recorder import make_frame

from recordings.__main__ import main
from recordings.recorder import PARTIAL_SUFFIX, Recorder, RecorderConfig, _hold_partial


def _record(folder: Path, room: str, started_at: str, frames: int = 20) -> Path:
    """A clip of `room` begun at `started_at` (ISO, with its offset); its skeleton."""
    from recordings.labels import ensure_label

    labels = ensure_label(folder / "labels.txt", "drink")[0]
    config = RecorderConfig(min_free_bytes=1)
    with Recorder(folder, label="drink", label_map=labels, config=config, room=room) as recorder:
        for i in range(frames):
            recorder.write(make_frame(i % 20, i / 10))
    sidecar = recorder.files.sidecar
    raw = json.loads(sidecar.read_text())
    raw["started_at"] = started_at
    sidecar.write_text(json.dumps(raw))
    return recorder.files.skeleton


def test_a_room_s_clips_of_a_day_are_found_and_erased_and_what_is_beyond_reach_said(tmp_path, capsys,
                                                                                  berlin_time):
    """Bed 12's clips of 3 December in a folder it shares with bed 11: the tools could not tell them
    apart (no room or date in `list`) and had no way to delete one clip's files together. The day is the
    hospital's: 23:30 UTC on the 2nd is the 3rd in Berlin."""
    clips = tmp_path / "clips"
    bed12 = [_record(clips, "bed 12", "2026-12-02T23:30:00+00:00"),
             _record(clips, "bed 12", "2026-12-03T09:00:00+01:00")]
    other_day = _record(clips, "bed 12", "2026-12-04T09:00:00+01:00")
    bed11 = _record(clips, "bed 11", "2026-12-03T09:00:00+01:00")
    assert main(["export", str(clips), str(tmp_path / "export")]) == 0
    capsys.readouterr()
    # An interrupted recording of bed 12 that day (its partial folder), and one of bed 11.
    partial = clips / f"S009C001P001R001A121{PARTIAL_SUFFIX}"
    partial.mkdir()
    header = {"room": "bed 12", "started_at": "2026-12-03T10:00:00+01:00"}
    (partial / "frames.jsonl").write_text(json.dumps(header) + "\n")
    shutil.copytree(partial, clips / f"S010C001P001R001A121{PARTIAL_SUFFIX}")
    (clips / f"S010C001P001R001A121{PARTIAL_SUFFIX}" / "frames.jsonl").write_text(
        json.dumps({"room": "bed 11", "started_at": "2026-12-03T10:00:00+01:00"}) + "\n")

    # Said first, nothing erased.
    assert main(["erase", str(tmp_path), "--room", "bed 12", "--day", "2026-12-03"]) == 0
    said = capsys.readouterr().out
    assert all(skeleton.is_file() for skeleton in bed12) and partial.is_dir()
    assert "2 clip(s) and 1 interrupted recording(s) of room 'bed 12' on 2026-12-03: nothing erased" in said

    assert main(["erase", str(tmp_path), "--room", "bed 12", "--day", "2026-12-03", "--yes"]) == 0
    said = capsys.readouterr().out
    assert not any(path.exists() for skeleton in bed12
                   for path in (skeleton, skeleton.with_suffix(".json"), skeleton.with_name(
                       skeleton.name.replace(".skeleton", "_rgb.avi"))))
    assert not partial.exists()
    assert other_day.is_file() and bed11.is_file()
    assert (clips / f"S010C001P001R001A121{PARTIAL_SUFFIX}").is_dir()  # bed 11's
    assert "erased 2 clip(s) and 1 interrupted recording(s) of room 'bed 12' on 2026-12-03" in said
    names = ", ".join(skeleton.name[: -len(".skeleton")] for skeleton in bed12)
    assert f"{tmp_path / 'export'}: an export holds 2 sample(s) cut from them ({names}): not erased" in said
    assert "not reached by this command: training runs' crop caches" in said
    assert main(["list", str(clips)]) == 0  # the folder is whole: its other clips listed as before
    listed = capsys.readouterr().out
    assert "2 clips" in listed
    # Each with when and where it was recorded (local time), as an erasure request names them.
    row = next(line for line in listed.splitlines() if line.startswith(bed11.name[: -len(".skeleton")]))
    assert "2026-12-03 09:00  bed 11 " in row


def test_a_recording_being_written_is_left_and_a_clip_is_erased_by_name(tmp_path, capsys):
    clips = tmp_path / "clips"
    kept = _record(clips, "bed 12", "2026-12-03T09:00:00+01:00")
    named = _record(clips, "bed 12", "2026-12-03T10:00:00+01:00")
    running = clips / f"S009C001P001R001A121{PARTIAL_SUFFIX}"
    running.mkdir()
    (running / "frames.jsonl").write_text(json.dumps({"room": "bed 12"}) + "\n")
    held = _hold_partial(running, create=True)  # a recorder writing it now
    try:
        assert main(["erase", str(clips), "--clip", named.name[: -len(".skeleton")], "--yes"]) == 0
        assert not named.exists() and kept.is_file()
        assert main(["erase", str(clips), "--room", "bed 12", "--yes"]) == 0
        said = capsys.readouterr().out
        assert f"{running}: being recorded now, not erased" in said and running.is_dir()
        assert not kept.exists()
    finally:
        held.close()
    assert main(["erase", str(clips), "--room", "bed 7"]) == 0
    assert f"{clips}: nothing recorded of room 'bed 7' here" in capsys.readouterr().out
