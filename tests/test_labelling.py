"""Labelling clips after recording (recordings/labelling.py), by command (python -m recordings label) and
with keys while a clip plays (recordings/marking.py)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from test_recorder import make_frame

from core.frame import Frame
from core.timeline import Interval
from recordings import atomic
from recordings.__main__ import draw_skeleton, main
from recordings.clip import read_sidecar
from recordings.labelling import ClipLabels, IntervalMarker
from recordings.ntu import SkeletonFile, format_skeleton, read_skeleton
from recordings.recorder import Recorder, RecorderConfig

CONFIG = RecorderConfig(min_free_bytes=1)


def record(folder: Path, name: str = "live_20261130_083006", frames: int = 30) -> Path:
    """An unlabelled clip as `python -m live --record` writes it: 30 frames 0.1 s apart (3 s)."""
    with Recorder(folder, sample_name=name, config=CONFIG) as rec:
        for i in range(frames):
            rec.write(make_frame(i % 20, i / 10))
    return rec.files.skeleton


def test_intervals_damaged_by_hand_are_cleared_by_label_which_the_error_names(tmp_path: Path, capsys) -> None:
    """A sidecar edited by hand to an empty interval, or one past the clip: training refused it (right),
    but so did `label --remove` and `--clear`, and the error said nothing of what to do."""
    import json

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    assert main(["label", str(clip), "--class", "patient fell", "--from", "0.5", "--to", "1.5"]) == 0
    sidecar = clip.with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    raw["intervals"] = [{"start": 1.0, "end": 1.0, "label": "patient fell"},
                        {"start": 2.0, "end": 80.0, "label": "patient fell"}]
    sidecar.write_text(json.dumps(raw))
    capsys.readouterr()
    assert main(["label", str(clip), "--remove", "1"]) == 2
    said = capsys.readouterr().err
    assert f"python -m recordings label {clip} --clear removes the clip's intervals" in said
    assert main(["label", str(clip), "--clear", "--class", "patient fell", "--from", "1", "--to", "2"]) == 0
    assert "removed 2 interval(s)" in capsys.readouterr().out
    assert [(i.start, i.end) for i in read_sidecar(sidecar).timeline.intervals] == [(1.0, 2.0)]
    # Shorter than a frame (0.1 s here): refused, not trained as a class no frame carries.
    assert main(["label", str(clip), "--class", "patient fell", "--from", "2.51", "--to", "2.52"]) == 2
    assert "no frame of the clip lies in the new interval 2.510-2.520 s" in capsys.readouterr().err


def test_an_interval_to_the_end_of_a_clip_is_read_back_by_label_itself(tmp_path: Path) -> None:
    """`--to end` of a 30 fps clip of 362 frames ends at 12.06667 s, stored rounded as 12.0667: label's own
    next reading refused it as past the clip's end, and the clip's labels could not be listed, removed or
    added to any more (the rest of the software allowed the rounding)."""
    with Recorder(tmp_path, sample_name="live_20261205_014209", config=CONFIG) as rec:
        for i in range(362):
            rec.write(make_frame(i % 20, i / 30))
    clip = rec.files.skeleton
    assert main(["label", str(clip), "--class", "patient fell", "--from", "2", "--to", "end"]) == 0
    assert main(["label", str(clip), "--list"]) == 0
    (interval,) = ClipLabels.open(clip).timeline().intervals
    assert 362 / 30 - 1e-4 < interval.end <= 362 / 30  # to the end as stored, not past it
    assert read_sidecar(clip.with_suffix(".json")).timeline.intervals[0].end == interval.end
    # A sidecar the earlier version wrote, its end rounded up past the clip's: read back, listed, changed.
    sidecar = clip.with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    raw["intervals"][0]["end"] = round(362 / 30, 4)  # 12.0667
    sidecar.write_text(json.dumps(raw))
    assert main(["label", str(clip), "--list"]) == 0
    assert main(["label", str(clip), "--class", "patient fell", "--from", "0.5", "--to", "1.5"]) == 0
    # The slack that reads stored times back is no room for a new interval past the clip's end, nor for
    # one that starts at its last instant and holds no frame.
    assert main(["label", str(clip), "--class", "patient fell", "--from", "12.067", "--to", "12.0675"]) == 2
    assert main(["label", str(clip), "--class", "patient fell", "--from", "12.0667", "--to", "end"]) == 2


def test_an_interval_labelled_before_ids_were_checked_says_it_labels_nobody(tmp_path: Path, caplog) -> None:
    """`label --person` took any id until 2026-12-04: an interval of a body the clip has not labels nobody
    (a replay's truth and a streaming evaluation never gave anyone the action), and said nothing."""
    from recordings.clip import ClipRecording

    clip = record(tmp_path)
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 0.2, 1.0, person=72057594037931101)
    labels.add("patient fell", 1.5, 2.0)
    labels.save()
    sidecar = clip.with_suffix(".json")  # as the version before wrote it
    sidecar.write_text(sidecar.read_text().replace("72057594037931101", "2"))
    listing = ClipLabels.open(clip).listing()
    assert listing[1].endswith("patient fell  (person 2: no body of the clip; it labels nobody)")
    assert listing[2].endswith("patient fell  (whoever is in view)")
    with caplog.at_level("WARNING", logger="recordings.clip"):
        replay = ClipRecording(clip)
    said = f"{sidecar}: interval(s) 1 (patient fell, person 2) name a person none of its bodies is"
    assert said in caplog.text
    assert "(its bodies: 72057594037931101)" in caplog.text and "--remove N" in caplog.text
    assert {b.truth for f in replay.frames() for b in f.bodies} == {"no_action", "patient fell"}


def test_two_people_labelling_one_clip_at_once_lose_nothing(tmp_path: Path) -> None:
    """Each editor read the sidecar, added their interval and wrote their copy: one's interval was gone,
    both had said "wrote". The second save now refuses, with nothing written, and says what to do."""
    from recordings.clip import ClipError

    clip = record(tmp_path)
    first, second = ClipLabels.open(clip), ClipLabels.open(clip)
    first.add("patient fell", 0.0, 1.0)
    first.save()
    second.add("patient fell", 1.5, 2.5)
    with pytest.raises(ClipError, match="changed or removed by another editor .* since it was read: nothing"):
        second.save()
    stored = read_sidecar(clip.with_suffix(".json")).timeline.intervals
    assert [(i.start, i.end) for i in stored] == [(0.0, 1.0)]
    second.reread()  # as the marking window does before each change: on what is there now
    second.add("patient fell", 1.5, 2.5)
    second.save()
    first.remove(1)
    with pytest.raises(ClipError, match="changed or removed by another editor"):
        first.save()
    assert len(read_sidecar(clip.with_suffix(".json")).timeline.intervals) == 2


@pytest.mark.parametrize("command", ["label", "view", "list", "export"])
def test_a_label_map_named_must_exist(command: str, tmp_path: Path, capsys) -> None:
    """A mistyped --labels made a new label map, its A121 another class than the folder's A121."""
    clip = record(tmp_path / "clips")
    (tmp_path / "clips" / "labels.txt").write_text("A121\tpatient fell\n")
    clips = tmp_path / "clips"
    target = {"label": [str(clip), "--class", "drinks"], "view": [str(clip)], "list": [str(clips)],
              "export": [str(clips), str(tmp_path / "out")]}[command]
    before = sorted(tmp_path.rglob("*"))
    for given, said in ((clips / "lables.txt", "no such file"), (tmp_path, "a folder, not a file")):
        with pytest.raises(SystemExit) as stop:
            main([command, *target, "--labels", str(given)])
        assert stop.value.code == 2 and f"argument --labels: {given}: {said}" in capsys.readouterr().err
    assert sorted(tmp_path.rglob("*")) == before  # no label map made, nothing exported


def test_whole_clip_and_intervals(tmp_path: Path) -> None:
    clip = record(tmp_path)
    labels = ClipLabels.open(clip)
    assert labels.duration == pytest.approx(3.0) and labels.label is None and labels.intervals == []
    assert labels.set_whole("patient fell") == "patient fell"
    labels.save()
    sidecar = read_sidecar(clip.with_suffix(".json"))
    assert (sidecar.label, sidecar.action_id, sidecar.timeline) == ("patient fell", 121, None)
    assert (tmp_path / "labels.txt").read_text() == "A121\tpatient fell\n"
    assert sidecar.raw["timestamps"][:3] == [0.0, 0.1, 0.2]  # the rest of the sidecar is kept

    labels = ClipLabels.open(clip)
    labels.add("patient leaves bed", 1.5, None)  # to the end of the clip
    labels.add("A121", 0.2, 1.0, person=72057594037931101)
    with pytest.raises(ValueError, match=r"no body with tracking id 99999 in the clip \(its bodies: 7205759"):
        labels.add("A121", 1.1, 1.4, person=99999)  # a typo'd id would label nobody
    overlap = r"the new interval \(patient fell 0.500-1.600 s\): overlaps interval 1 \(patient fell 0.200-1"
    with pytest.raises(ValueError, match=overlap):
        labels.add("patient fell", 0.5, 1.6)
    with pytest.raises(ValueError, match="past the end of the stream"):
        labels.add("patient fell", 2.5, 3.5)
    with pytest.raises(ValueError, match="past the end of the stream"):  # a typo: no new class for it
        labels.add("patient fel", 2.5, 3.5)
    assert "patient fel\n" not in (tmp_path / "labels.txt").read_text()
    with pytest.raises(ValueError, match="has 2 interval"):
        labels.set_whole("patient fell")
    labels.save()
    assert labels.added_classes == ["A122 patient leaves bed"]
    timeline = read_sidecar(clip.with_suffix(".json")).timeline
    assert timeline.to_json() == [
        {"start": 0.2, "end": 1.0, "label": "patient fell", "person": 72057594037931101},
        {"start": 1.5, "end": 3.0, "label": "patient leaves bed"},
    ]
    labels = ClipLabels.open(clip)
    assert labels.remove(2).label == "patient leaves bed" and len(labels.intervals) == 1
    with pytest.raises(ValueError, match="no interval 5; the clip has 1"):
        labels.remove(5)
    assert labels.clear() == 1
    labels.save()
    assert "intervals" not in json.loads(clip.with_suffix(".json").read_text())
    # However it is written: "No_Action" was a class of its own (A122), learnt beside no_action.
    for background in ("no_action", "No_Action", "no action", "NO-ACTION", "ｎｏ＿ａｃｔｉｏｎ"):
        with pytest.raises(ValueError, match=f"{background!r} is the background"):
            labels.add(background, 0.0, 1.0)
    assert "action" not in (clip.parent / "labels.txt").read_text().lower()


def test_a_clip_without_sidecar_gets_one(tmp_path: Path) -> None:
    source = read_skeleton(record(tmp_path / "rec", frames=12))
    clip = tmp_path / "ntu" / "S003C001P002R001A043.skeleton"
    clip.parent.mkdir()
    clip.write_bytes(format_skeleton(SkeletonFile(None, source.frames)))
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 0.1, 0.3)
    labels.save()
    sidecar = read_sidecar(clip.with_suffix(".json"))
    assert len(sidecar.timestamps) == 12 and sidecar.timestamps[1] == pytest.approx(1 / 30, abs=1e-6)
    assert sidecar.raw["session"] == 3 and sidecar.action_id == 43
    assert sidecar.timeline.intervals == (Interval(0.1, 0.3, "patient fell"),)


def test_a_failed_save_leaves_the_sidecar_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = record(tmp_path)
    before = clip.with_suffix(".json").read_bytes()
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 0.0, 1.0)

    def power_cut(*_: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(atomic.os, "replace", power_cut)
    with pytest.raises(OSError, match="power cut"):
        labels.save()
    monkeypatch.setattr(atomic.os, "replace", os.replace)
    assert clip.with_suffix(".json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "live" in p.name) == sorted(
        [clip.name, clip.with_suffix(".json").name, f"{clip.stem}_rgb.avi"]
    )


def test_interval_marker_follows_the_keys() -> None:
    marker = IntervalMarker()
    assert marker.end(1.0) is None  # nothing open
    assert marker.start(1.0, "a") is None
    assert marker.start(2.5, "b") == Interval(1.0, 2.5, "a")  # another class: the first one ends
    assert marker.end(2.5) is None and marker.opened is None  # empty: dropped
    marker.start(3.0, "b")
    assert marker.end(4.0) == Interval(3.0, 4.0, "b")
    marker.start(5.0, "a")
    assert marker.undo() == (5.0, "a") and marker.undo() == Interval(3.0, 4.0, "b")
    assert marker.intervals == [Interval(1.0, 2.5, "a")]


# ---- python -m recordings label ------------------------------------------------------------------------


def test_label_command_takes_a_name_close_to_a_known_class_for_a_typo(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    clip = str(record(tmp_path))
    assert main(["label", clip, "--class", "patient fell"]) == 0
    labels_txt = next(tmp_path.rglob("labels.txt"))
    before = labels_txt.read_bytes()
    capsys.readouterr()
    assert main(["label", clip, "--class", "patient fel", "--from", "0.5", "--to", "1"]) == 2
    err = capsys.readouterr().err
    assert "no class 'patient fel'; did you mean 'patient fell'?" in err and "--new-class" in err
    assert labels_txt.read_bytes() == before
    assert main(["label", clip, "--class", "patient fel", "--from", "0.5", "--to", "1", "--new-class"]) == 0
    assert "new class A122 patient fel" in capsys.readouterr().out
    # A short name one character off: 0.75 by difflib's measure (under its 0.8), a new class before.
    assert main(["label", clip, "--class", "病人摔倒", "--from", "1", "--to", "1.5"]) == 0
    capsys.readouterr()
    assert main(["label", clip, "--class", "病人摔到", "--from", "1.5", "--to", "2"]) == 2
    assert "did you mean '病人摔倒'?" in capsys.readouterr().err
    # Short names one character apart are often two actions (lie down, sit down), and a number changed
    # is meant: new classes without --new-class.
    for name, start in (("坐下", 2.0), ("躺下", 2.2), ("bed1", 2.4), ("bed2", 2.6)):
        assert main(["label", clip, "--class", name, "--from", str(start), "--to", str(start + 0.1)]) == 0


def test_ntu_class_names_count_for_typos_and_a_site_class_of_that_name_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    clip = str(record(tmp_path))
    assert main(["label", clip, "--class", "handshakin", "--from", "0.5", "--to", "1"]) == 2
    assert "did you mean 'handshaking'?" in capsys.readouterr().err
    assert main(["label", clip, "--class", "falling", "--from", "0.5", "--to", "1"]) == 0  # NTU's A043's name
    assert "new class A121 falling" in capsys.readouterr().out
    # NTU's name exactly is no typo of its neighbours: the real-data model's "hugging other person" was
    # refused as close to "pushing other person" and "kicking other person".
    assert main(["label", clip, "--class", "hugging other person", "--from", "1", "--to", "1.5"]) == 0
    assert "new class A122 hugging other person" in capsys.readouterr().out
    # The site's "falling" is A121 beside NTU's A043 of the same name: listed, not an error.
    assert main(["list", str(tmp_path)]) == 0
    assert "A121 falling" in capsys.readouterr().out


def test_label_command_whole_clip_intervals_list_remove(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    clip = str(record(tmp_path))
    assert main(["label", clip, "--class", "patient fell"]) == 0
    out = capsys.readouterr().out
    assert "the whole clip is patient fell" in out and "new class A121 patient fell" in out
    assert main(["label", clip, "--class", "raise both arms", "--from", "0.5", "--to", "1",
                 "--from", "2", "--to", "end"]) == 0
    out = capsys.readouterr().out
    assert "added raise both arms 0.50-1.00 s" in out and "added raise both arms 2.00-3.00 s" in out
    before = Path(clip).with_suffix(".json").read_bytes()
    assert main(["label", clip, "--class", "patient fell", "--from", "0.8", "--to", "1.2"]) == 2
    assert "overlaps interval 1 (raise both arms" in capsys.readouterr().err
    assert Path(clip).with_suffix(".json").read_bytes() == before  # nothing written
    assert main(["label", clip, "--list"]) == 0
    out = capsys.readouterr().out
    assert "1      0.50 -     1.00 s  raise both arms  (whoever is in view)" in out
    assert main(["label", clip, "--remove", "1"]) == 0
    assert [i.start for i in read_sidecar(Path(clip).with_suffix(".json")).timeline.intervals] == [2.0]
    assert main(["label", clip, "--class", "x", "--from", "1"]) == 2
    assert "in pairs" in capsys.readouterr().err
    assert main(["label", clip, "--from", "1", "--to", "2"]) == 2
    assert "give --class NAME" in capsys.readouterr().err
    assert main(["label", clip]) == 2


def test_label_command_gives_each_interval_its_own_class(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """--class once per --from/--to pair, in order; a count that fits neither one nor every interval is
    refused with nothing written (the last --class used to label every interval)."""
    clip = str(record(tmp_path))
    assert main(["label", clip, "--class", "patient fell", "--from", "0.5", "--to", "1",
                 "--class", "raise both arms", "--from", "2", "--to", "end"]) == 0
    out = capsys.readouterr().out
    assert "added patient fell 0.50-1.00 s" in out and "added raise both arms 2.00-3.00 s" in out
    timeline = read_sidecar(Path(clip).with_suffix(".json")).timeline
    labelled = [(i.label, i.start) for i in timeline.intervals]
    assert labelled == [("patient fell", 0.5), ("raise both arms", 2.0)]
    before = Path(clip).with_suffix(".json").read_bytes()
    for extra in (["--from", "1.2", "--to", "1.5"], []):
        assert main(["label", clip, "--class", "patient fell", "--class", "raise both arms", *extra]) == 2
        assert "give one --class for every interval" in capsys.readouterr().err
    assert Path(clip).with_suffix(".json").read_bytes() == before
    # The second interval refused (a typo of the first's class; an interval past the end): the first's
    # new class was already in labels.txt, a class with no clip of it. Both are checked before either.
    labels_txt = (tmp_path / "labels.txt").read_bytes()
    for second, said in ((["--class", "patient fel", "--from", "2.5", "--to", "2.8"], "'patient fel'"),
                         (["--class", "patient fell", "--from", "2.5", "--to", "9"], "past the end"),
                         (["--class", "patient fell", "--from", "0.3", "--to", "0.8"], "overlaps")):
        assert main(["label", clip, "--clear", "--class", "wave to nurse", "--from", "0.2", "--to", "0.4",
                     *second]) == 2
        assert said in capsys.readouterr().err
        assert (tmp_path / "labels.txt").read_bytes() == labels_txt
    # ... and the new classes against each other: the second a typo of the first, added just before it.
    assert main(["label", clip, "--clear", "--class", "patient gets up", "--from", "0.2", "--to", "0.4",
                 "--class", "patient gets upp", "--from", "2.5", "--to", "2.8"]) == 2
    assert "no class 'patient gets upp'; did you mean 'patient gets up'?" in capsys.readouterr().err
    assert (tmp_path / "labels.txt").read_bytes() == labels_txt
    # ... and one new class typed twice, the second time with a space after it, is one class, no typo.
    assert main(["label", clip, "--clear", "--class", "patient gets up", "--from", "0.2", "--to", "0.4",
                 "--class", "patient gets up ", "--from", "2.5", "--to", "2.8"]) == 0
    assert (tmp_path / "labels.txt").read_text().count("patient gets up") == 1
    labels_txt, before = (tmp_path / "labels.txt").read_bytes(), Path(clip).with_suffix(".json").read_bytes()
    # ... and against the clip's own intervals (0.2-0.4 and 2.5-2.8 s now), without --clear: the first one
    # fits, the second overlaps one there.
    assert main(["label", clip, "--class", "wave to nurse", "--from", "1.0", "--to", "1.5",
                 "--class", "patient fell", "--from", "0.3", "--to", "0.6"]) == 2
    assert "overlaps" in capsys.readouterr().err
    assert (tmp_path / "labels.txt").read_bytes() == labels_txt
    assert Path(clip).with_suffix(".json").read_bytes() == before


def test_labels_a_read_only_folder_refuses_are_said_not_added(tmp_path: Path, monkeypatch, capsys) -> None:
    """A clip on a read-only share: "added patient fell 1.00-2.00 s" was printed, then an error naming a
    hidden temporary file; nothing had been saved. The error names the sidecar, and nothing is said added."""
    import errno

    from recordings import atomic

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(atomic.os, "open", read_only)
    assert main(["label", str(clip), "--class", "patient fell", "--from", "1", "--to", "2"]) == 2
    out, err = capsys.readouterr()
    assert "added" not in out
    assert f"Read-only file system: no new file can be made beside it: '{clip.with_suffix('.json')}'" in err
    assert ".tmp" not in err
    assert main(["label", str(clip), "--class", "new thing", "--new-class"]) == 2
    assert f"Read-only file system: no new file can be made beside it: '{tmp_path / 'labels.txt'}'" in (
        capsys.readouterr().err)


def test_a_sidecar_label_spelt_otherwise_trains_as_the_maps_class(tmp_path: Path) -> None:
    """A hand-edited sidecar's "patient<no-break space>fell" is labels.txt's "patient fell" (the check
    said so), and then training's class lookup by the raw name failed with a bare ValueError."""
    from training.data import DatasetError
    from training.datasets.clips import read_clip_folder

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    sidecar = clip.with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    raw["label"] = "patient\u00a0fell"
    sidecar.write_text(json.dumps(raw))
    (labelled,), _ = read_clip_folder(tmp_path)
    assert labelled.action == "patient fell"
    # An interval written in another spelling (an older version's second "Café" class, since deleted
    # from labels.txt as its error says) trains as the class the map keeps, not as a class of its own.
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\nA123\tCaf\u00e9\n")
    raw["intervals"] = [{"start": 0.5, "end": 1.5, "label": "Cafe\u0301"}]
    sidecar.write_text(json.dumps(raw))
    (labelled,), _ = read_clip_folder(tmp_path)
    assert [i.label for i in labelled.timeline.intervals] == ["Caf\u00e9"]
    raw["intervals"] = [{"start": 0.5, "end": 1.5, "label": "121"}]  # a number is not made a class's name
    sidecar.write_text(json.dumps(raw))
    with pytest.raises(DatasetError, match="labels.txt lacks the classes '121' that intervals of 1 clip"):
        read_clip_folder(tmp_path)


def test_a_class_renamed_in_labels_txt_is_not_trained_under_its_old_name(tmp_path: Path, capsys) -> None:
    """Intervals keep class names: after "A121 patient fell" became "A121 fall" in labels.txt, the clip's
    intervals trained on as "patient fell" without a word (as NTU's class, had the old name been one)."""
    from training.data import DatasetError
    from training.datasets.clips import read_clip_folder

    clip = record(tmp_path)
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 0.5, 1.5)
    labels.save()
    (tmp_path / "labels.txt").write_text("A121\tfall\n")
    said = f"{tmp_path / 'labels.txt'} lacks the classes 'patient fell' that intervals of 1 clip\\(s\\) name"
    with pytest.raises(DatasetError, match=f"{said} \\({clip}\\). Renamed or removed there: relabel"):
        read_clip_folder(tmp_path)
    from recordings.__main__ import main as recordings

    assert recordings(["list", str(tmp_path)]) == 0
    assert "patient fell  (not in labels.txt: renamed or removed there?" in capsys.readouterr().out
    # The background's name (labelled before it was refused) is said as that, not as a class to add back.
    from training.config import DataConfig
    from training.datasets.clips import read_dataset

    sidecar = clip.with_suffix(".json")
    sidecar.write_text(sidecar.read_text().replace('"patient fell"', '"No_Action"'))
    with pytest.raises(DatasetError, match="class 'No_Action' of the clips is the background"):
        read_dataset(DataConfig(dataset="clips", root=str(tmp_path)))


def test_two_wards_clips_of_one_name_are_named_by_their_files(tmp_path: Path, capsys) -> None:
    """Each ward's folder numbers its recordings from the next free session of its own: a parent folder of
    two wards had two S001C001P001R001A121 clips, said only by that name."""
    from recordings.__main__ import main as recordings
    from training.config import DataConfig
    from training.data import DatasetError
    from training.datasets.clips import read_dataset

    for ward in ("ward3", "ward4"):
        (tmp_path / ward).mkdir()
        clip = record(tmp_path / ward, "S001C001P001R001A121")
        assert recordings(["label", str(clip), "--class", "patient fell"]) == 0
    with pytest.raises(DatasetError) as refused:
        read_dataset(DataConfig(dataset="clips", root=str(tmp_path),
                                label_map=str(tmp_path / "ward3" / "labels.txt")))
    said = str(refused.value)
    assert "clip names must be unique, and S001C001P001R001A121 is" in said
    assert str(tmp_path / "ward3" / "S001C001P001R001A121.skeleton") in said
    assert str(tmp_path / "ward4" / "S001C001P001R001A121.skeleton") in said and "--session N" in said


def test_an_unlabelled_recording_becomes_trainable(tmp_path: Path) -> None:
    from training.config import DataConfig
    from training.data import DatasetError
    from training.datasets.clips import clip_prepare_tasks, clip_splits, read_clip_folder

    record(tmp_path, "live_20261130_083006")
    record(tmp_path, "live_20261130_090000")
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    labelled, unlabelled = read_clip_folder(tmp_path)
    assert labelled == [] and len(unlabelled) == 2  # left out (and listed), not trained as anything
    assert main(["label", str(tmp_path / "live_20261130_083006.skeleton"), "--class", "patient fell"]) == 0
    assert main(["label", str(tmp_path / "live_20261130_090000.json"), "--class", "patient fell",
                 "--from", "1", "--to", "2"]) == 0
    labelled, unlabelled = read_clip_folder(tmp_path)
    assert [(c.action, c.timeline is not None) for c in labelled] == [("patient fell", False), (None, True)]
    assert unlabelled == [] and [t.name for t in clip_prepare_tasks(tmp_path)] == [
        "live_20261130_083006", "live_20261130_090000"]
    (tmp_path / "labels.txt").write_text("A122\tother\n")
    with pytest.raises(DatasetError, match="083006.json: label 'patient fell' is not in the label map"):
        clip_splits(DataConfig(dataset="clips", root=str(tmp_path), protocol="all"))


def test_an_ntu_clip_whose_frame_count_cannot_be_right_is_named_not_trained_for_hours(tmp_path: Path) -> None:
    """A clip of NTU's without a sidecar is as long as its first line says: a damaged one said 999999
    frames (9 hours of labels over a few frames), as `recordings list` already refused."""
    from training.data import DatasetError
    from training.datasets.clips import read_clip_folder

    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    (tmp_path / "S001C001P001R001A121.skeleton").write_text("999999\n0\n0\n")
    with pytest.raises(DatasetError, match=r"R001A121.skeleton, line 1: a frame count of 999999 "):
        read_clip_folder(tmp_path)


# ---- marking with keys while the clip plays ------------------------------------------------------------


def test_keys_mark_intervals_into_the_sidecar(tmp_path: Path, qtbot) -> None:
    from PySide6 import QtCore, QtGui

    from recordings.clip import ClipRecording
    from recordings.marking import ClipMarker, MarkingWindow

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\nA122\tpatient leaves bed\n")
    labels = ClipLabels.open(clip)
    recording = ClipRecording(clip)
    marker = ClipMarker(labels, ["patient fell", "patient leaves bed"])
    window = MarkingWindow(recording.frames(), marker, draw_skeleton, fps=0.001, title="test")
    qtbot.addWidget(window)
    window.timer.stop()  # frames advance when the test says
    # On the screen it opens on (offscreen's is 800x600): it was 1280x800 on a 1024x600 tablet, a quarter of
    # the picture and the key line off it.
    room = QtGui.QGuiApplication.primaryScreen().availableGeometry()
    assert window.width() <= room.width() and window.height() <= room.height()
    window.move(room.right() - 50, room.bottom() - 50)  # as a window manager may place it
    window.screen_fit.fit()  # once shown, with its frame: inside the screen
    assert room.contains(window.frameGeometry())

    def play(frames: int) -> None:
        for _ in range(frames):
            window.advance()

    play(6)  # t = 0.5 s
    qtbot.keyClick(window, "2")
    qtbot.keyClick(window, "s")
    play(10)  # 1.5 s
    qtbot.keyClick(window, "e")
    qtbot.keyClick(window, "1")
    qtbot.keyClick(window, "s")
    play(5)  # 2.0 s
    qtbot.keyClick(window, "s")  # again: the first ends here, another starts
    qtbot.keyClick(window, "u")  # ... and is dropped
    play(3)
    qtbot.keyClick(window, "s")  # 2.3 s, open when the window closes at 2.6 s
    play(3)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)
    play(5)  # paused: the clip stays at 2.6 s
    assert marker.paused and marker.now == pytest.approx(2.6)
    assert "marking patient fell since 2.30 s" in window.status.text()
    window.close()
    assert read_sidecar(clip.with_suffix(".json")).timeline.to_json() == [
        {"start": 0.5, "end": 1.5, "label": "patient leaves bed"},
        {"start": 1.5, "end": 2.0, "label": "patient fell"},
        {"start": 2.3, "end": 2.6, "label": "patient fell"},
    ]
    assert marker.saved == 3
    recording.close()


def test_left_and_right_step_a_frame_to_put_a_mark_on_its_frame(tmp_path: Path, qtbot, monkeypatch) -> None:
    # A mark pressed a moment late could only be undone and pressed again on the clip's next play.
    from PySide6 import QtCore

    from recordings import marking
    from recordings.clip import ClipRecording

    clip = record(tmp_path, frames=20)  # 0.0 ... 1.9 s
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    monkeypatch.setattr(marking, "STEP_BACK_FRAMES", 6)
    recording = ClipRecording(clip)
    marker = marking.ClipMarker(ClipLabels.open(clip), ["patient fell"])
    window = marking.MarkingWindow(recording.frames(), marker, draw_skeleton, fps=0.001, title="test")
    qtbot.addWidget(window)
    window.timer.stop()  # frames advance when the test says
    Key = QtCore.Qt.Key

    def press(*keys) -> None:
        for key in keys:
            qtbot.keyClick(window, key)

    window.advance()
    press(Key.Key_Left)
    assert marker.now == 0.0 and marker.message == "the first frame of the clip" and marker.paused
    press(Key.Key_Space)
    for _ in range(9):
        window.advance()  # 0.9 s
    press("s", Key.Key_Left, Key.Key_Left)  # pressed late: the action started two frames before
    assert marker.paused and marker.now == pytest.approx(0.7)
    press("s")
    assert marker.message == "the patient fell mark from 0.90 s is dropped; patient fell starts at 0.70 s"
    press(Key.Key_Right, Key.Key_Period, Key.Key_Right)
    assert marker.now == pytest.approx(1.0)  # frames stepped back over come again, then the clip's next
    press("e")
    press("s", Key.Key_Left, Key.Key_Comma)  # 0.8 s: before the mark's start, e ends nothing
    press("e")
    assert marker.marker.opened == (pytest.approx(1.0), "patient fell")
    assert "starts at 1.00 s, after this frame" in window.status.text()
    press(Key.Key_Space)  # plays on from the frame on screen
    for _ in range(3):
        window.advance()
    assert marker.now == pytest.approx(1.1)
    press("e")
    for _ in range(8):
        window.advance()  # past the end (1.9 s)
    press(Key.Key_Left)
    assert marker.now == pytest.approx(1.8) and window.timer.isActive()  # space would play 1.9 s again
    for _ in range(5):
        press(Key.Key_Left)
    assert marker.now == pytest.approx(1.3)  # six frames kept behind the one on screen at most
    press(Key.Key_Left)
    assert marker.now == pytest.approx(1.3) and marker.message.startswith("no earlier frame kept")
    window.close()
    assert [(i.start, i.end) for i in read_sidecar(clip.with_suffix(".json")).timeline.intervals] == [
        (0.7, 1.0), (1.0, 1.1)]
    recording.close()


def test_a_mark_that_overlaps_is_refused_on_screen(tmp_path: Path) -> None:
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 1.0, 2.0)
    labels.save()
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    marker.now = 0.5
    marker.handle("s")
    marker.now = 1.5
    marker.handle("e")
    assert marker.message.startswith("not saved:") and "overlaps" in marker.message
    assert marker.saved == 0 and len(marker.labels.intervals) == 1
    # Its end overlapped, not its start: the mark stays open, to be ended on another frame.
    assert marker.marker.opened == (0.5, "patient fell") and marker.message.endswith(
        "the patient fell mark from 0.50 s stays open: end it on another frame, or u drops it")
    assert marker.handle("7") and "no class 7" in marker.message
    assert not marker.handle("x")
    # A second s closes the open mark: its refusal stays on screen beside the new start.
    marker.now = 0.2
    marker.handle("s")
    marker.now = 1.5
    marker.handle("s")
    assert marker.message.startswith("not saved: ") and "overlaps" in marker.message
    # ... and that the new one starts inside an interval the clip has: said now, not first at e.
    assert marker.message.endswith("; patient fell starts at 1.50 s, inside patient fell 1.00-2.00 s: "
                                   "e will be refused (a clip's marks may not overlap)")
    marker.handle("e")  # at once, paused (or stepped back onto its frame): nothing to mark, and the mark kept
    assert marker.message == ("nothing marked: the patient fell mark starts at 1.50 s, on this frame; play "
                              "or step on (Right) to its end, or u drops it")
    assert marker.marker.opened == (1.5, "patient fell")


def test_the_frame_says_what_the_labels_say_now_and_a_mark_closed_before_its_start_is_said(
    tmp_path: Path,
) -> None:
    """The class printed on the frame came from the labels as the window opened: after a mark or a
    removal it said the old class. A clip labelled as a whole showed an empty strip and "0 intervals".
    Closed with a mark open on a frame at or before its start (Home, then q), the mark was lost unsaid."""
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    assert main(["label", str(clip), "--class", "patient fell"]) == 0
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell", "drinking"])
    marker.now = 1.0
    assert marker.shown_label() == "patient fell (the whole clip)"
    assert "no intervals: the whole clip is patient fell" in marker.legend()
    marker.handle("2")
    marker.now = 0.5
    marker.handle("s")
    marker.now = 1.5
    marker.handle("e")
    marker.now = 1.0
    assert marker.shown_label() == "drinking"
    marker.now = 2.0  # outside the intervals of a marked clip: the background, whatever the whole clip was
    assert marker.shown_label() == "no_action"
    marker.handle("s")
    marker.now = 0.0  # Home
    marker.finish()
    assert marker.unended_at_close == (2.0, "drinking") and marker.lost_at_close is None
    assert marker.message == "not saved: the frame on screen (0.00 s) is not after its start (2.00 s)"


def test_e_on_the_last_frame_shown_ends_a_frame_past_it_and_no_further(tmp_path: Path, qtbot) -> None:
    """e on the last frame ends the interval a frame past it, so that frame is inside; with the view cut
    short (--max-frames) at that frame, not at the clip's end, which would label frames never shown."""
    from PySide6 import QtCore

    from recordings.clip import ClipRecording
    from recordings.marking import ClipMarker, MarkingWindow

    clip = record(tmp_path, frames=90)  # 9 s, a frame every 0.1 s
    recording = ClipRecording(clip)
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    times = (recording.timestamps - recording.timestamps[0])[:30]  # --max-frames 30: 0.0-2.9 s shown
    window = MarkingWindow(recording.frames(), marker, draw_skeleton, fps=0.001, title="test",
                           seek=recording.frames, times=times)
    qtbot.addWidget(window)
    window.timer.stop()
    window.advance()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_End)
    assert window.frame.index == 29
    qtbot.keyClick(window, "s")  # on the last frame shown: e there still ends it, a frame on
    qtbot.keyClick(window, "e")
    assert marker.message == "saved patient fell 2.90-3.00 s"
    window.close()
    stored = read_sidecar(clip.with_suffix(".json")).timeline.intervals
    assert [(i.start, i.end) for i in stored] == [(2.9, 3.0)]


def test_the_status_line_shows_each_class_in_its_strip_colour_as_text(tmp_path: Path) -> None:
    from recordings.marking import ClipMarker, class_colour

    classes = ["patient fell", "<b>sits up</b> & waves"]
    marker = ClipMarker(ClipLabels.open(record(tmp_path)), classes)
    blue, green, red = class_colour(classes, classes[1])
    swatch = f'<span style="color:#{red:02x}{green:02x}{blue:02x}">&#9632;</span>'
    assert f"{swatch}2:&lt;b&gt;sits up&lt;/b&gt; &amp; waves" in marker.legend()
    # Spaces as written (HTML would fold them, and the columns would shift as the time grows).
    assert marker.legend().startswith('<span style="white-space:pre-wrap">   0.00 s  |  class patient fell')


def test_undoing_a_saved_mark_takes_it_out_of_the_sidecar(tmp_path: Path) -> None:
    # A mark is in the sidecar as soon as it ends: undoing it must rewrite the sidecar too, or the wrong
    # interval the user took back is trained on after all.
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    marker.now = 0.5
    marker.handle("s")
    marker.now = 1.5
    marker.handle("e")
    assert read_sidecar(clip.with_suffix(".json")).timeline.to_json() == [
        {"start": 0.5, "end": 1.5, "label": "patient fell"}]
    marker.handle("u")
    assert marker.message.startswith("removed patient fell") and marker.saved == 0
    assert read_sidecar(clip.with_suffix(".json")).timeline is None  # read back: no interval left


def test_undo_after_a_refused_mark_takes_back_the_last_saved_one(tmp_path: Path) -> None:
    # The refused mark was never saved, so it is not the one undo drops: undo takes back the last mark
    # that is in the sidecar (the refused one holding its place would make undo do nothing at all).
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    for start, end in ((0.2, 0.8), (0.5, 1.0)):  # the second overlaps the first: refused
        marker.now = start
        marker.handle("s")
        marker.now = end
        marker.handle("e")
    assert marker.message.startswith("not saved:") and marker.saved == 1
    assert marker.marker.opened is None  # its start is inside the first: no end could mend it
    marker.handle("u")
    assert marker.message.startswith("removed patient fell 0.20-0.80") and marker.saved == 0
    assert read_sidecar(clip.with_suffix(".json")).timeline is None


def test_the_window_keeps_what_recordings_label_changed_meanwhile(tmp_path: Path) -> None:
    """The window saved its own copy of the labels: an interval `recordings label` added meanwhile was
    dropped at the window's next mark (never checked for overlap), one it removed came back at an undo."""
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])

    def mark(start: float, end: float) -> None:
        marker.now = start
        marker.handle("s")
        marker.now = end
        marker.handle("e")

    def stored() -> list[tuple[float, float]]:
        timeline = read_sidecar(clip.with_suffix(".json")).timeline
        return [(i.start, i.end) for i in timeline.intervals] if timeline else []

    mark(0.2, 0.5)
    assert main(["label", str(clip), "--class", "patient fell", "--from", "1", "--to", "1.5"]) == 0
    mark(2.0, 2.5)
    assert stored() == [(0.2, 0.5), (1.0, 1.5), (2.0, 2.5)]  # the CLI's kept
    mark(1.2, 1.8)  # overlaps the CLI's: refused, as any overlap
    assert marker.message.startswith("not saved:") and "overlaps" in marker.message
    assert main(["label", str(clip), "--remove", "3"]) == 0  # the window's 2.0-2.5, removed by the CLI
    marker.handle("u")
    assert marker.message == "patient fell 2.00-2.50 s was removed already (by another editor)"
    marker.handle("u")
    assert stored() == [(1.0, 1.5)]  # 0.2-0.5 taken back, the CLI's removal not undone
    mark(52 / 30, 70 / 30)  # at frame times: stored to 0.1 ms (1.7333), and undo still finds it
    assert stored()[-1] == (1.7333, 2.3333)
    marker.handle("u")
    assert marker.message == "removed patient fell 1.73-2.33 s" and stored()[-1] == (1.0, 1.5)
    clip.with_suffix(".json").unlink()  # deleted meanwhile: not made again from the window's copy
    mark(2.0, 2.5)
    assert "was deleted while the clip was being labelled" in marker.message
    assert not clip.with_suffix(".json").exists()


def test_an_undone_removal_another_editor_put_back_already_says_so(tmp_path: Path) -> None:
    """d, then `recordings label` adding the same interval again, then u: "overlaps what was marked there
    since, so it stays removed" was said of an interval in the sidecar as it was."""
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    for now, key in ((0.2, "s"), (0.5, "e"), (0.3, "d")):
        marker.now = now
        marker.handle(key)
    assert marker.removed == 1 and read_sidecar(clip.with_suffix(".json")).timeline is None
    assert main(["label", str(clip), "--class", "patient fell", "--from", "0.2", "--to", "0.5"]) == 0
    marker.handle("u")
    assert marker.message == "patient fell 0.20-0.50 s is back already (put back by another editor)"
    assert marker.removed == 0 and len(read_sidecar(clip.with_suffix(".json")).timeline.intervals) == 1


def test_the_window_says_a_save_another_editor_overtook_and_tries_again(tmp_path: Path) -> None:
    """Another editor saving between the window's reread and its save: the mark stayed drawn though not
    written, and an undone removal was called an overlap and dropped from undo."""
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    reread = marker.labels.reread
    overtaken = iter([(2.5, 2.8), (2.0, 2.2)])

    def overtake_once() -> None:  # the command line saves just after the window read the sidecar
        reread()
        marker.labels.reread = reread
        start, end = next(overtaken)
        assert main(["label", str(clip), "--class", "patient fell", "--from", str(start), "--to",
                     str(end)]) == 0

    def mark(start: float, end: float) -> None:
        marker.now = start
        marker.handle("s")
        marker.now = end
        marker.handle("e")

    mark(0.2, 0.5)
    marker.labels.reread = overtake_once
    mark(1.0, 1.3)
    assert "not saved:" in marker.message and "changed or removed by another editor" in marker.message
    assert [(i.start, i.end) for i in marker.labels.intervals] == [(0.2, 0.5)]  # not drawn as saved
    assert marker.marker.opened == (1.0, "patient fell")  # kept open: e again saves it
    marker.handle("u")
    marker.now = 0.3
    marker.handle("d")
    assert marker.message.startswith("removed patient fell 0.20-0.50")
    marker.labels.reread = overtake_once
    marker.handle("u")  # putting it back, overtaken: not an overlap, and u tries again
    assert marker.message.startswith("not put back:") and "another editor" in marker.message
    marker.handle("u")
    assert marker.message == "put back patient fell 0.20-0.50 s"
    stored = read_sidecar(clip.with_suffix(".json")).timeline.intervals
    assert [(i.start, i.end) for i in stored] == [(0.2, 0.5), (2.0, 2.2), (2.5, 2.8)]


def test_held_or_modified_keys_do_not_mark(tmp_path: Path, qtbot) -> None:
    """A held u (auto-repeat) emptied the clip's labels; a held s saved one-frame intervals."""
    from PySide6 import QtCore, QtGui

    from recordings.clip import ClipRecording
    from recordings.marking import ClipMarker, MarkingWindow

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    recording = ClipRecording(clip)
    window = MarkingWindow(recording.frames(), marker, draw_skeleton, fps=0.001, title="test")
    qtbot.addWidget(window)
    window.timer.stop()
    window.advance()
    repeated = QtGui.QKeyEvent(QtCore.QEvent.Type.KeyPress, QtCore.Qt.Key.Key_S,
                               QtCore.Qt.KeyboardModifier.NoModifier, "s", autorep=True)
    try:
        window.keyPressEvent(repeated)
        qtbot.keyClick(window, "s", QtCore.Qt.KeyboardModifier.ControlModifier)
        assert marker.marker.opened is None
    finally:  # closed whatever happened: a window left open with its recording gone crashed the run
        window.close()
        recording.close()


CTRL_C_WHILE_MARKING = """
import sys
sys.path.insert(0, {tests!r})
from PySide6 import QtCore
from test_labelling import draw_skeleton
from recordings.clip import ClipRecording
from recordings.labelling import ClipLabels
from recordings import marking

def start_a_mark():
    window = next(w for w in marking.QtWidgets.QApplication.topLevelWidgets() if w.isVisible())
    window.marker.handle("s")
    print("marking", flush=True)

app = marking.pg.mkQApp("test")  # the window's application, made before its timer
QtCore.QTimer.singleShot(300, start_a_mark)
with ClipRecording({clip!r}) as recording:
    marker = marking.view_and_mark(recording.frames(), ClipLabels.open({clip!r}), ["patient fell"],
                                   draw_skeleton, fps=20, title="test")
print("closed", marker.saved, flush=True)
"""


def test_ctrl_c_in_the_terminal_closes_the_window_and_saves_the_open_mark(tmp_path: Path) -> None:
    """Raised in a Qt slot, Ctrl-C was printed as a traceback and the clip played on, the mark open."""
    import signal
    import subprocess
    import sys
    import threading

    clip = record(tmp_path, frames=20)  # 2 s at 0.1 s a frame, played at 20 fps: ended before the Ctrl-C
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    script = CTRL_C_WHILE_MARKING.format(tests=str(Path(__file__).parent), clip=str(clip))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    watchdog = threading.Timer(60, child.kill)  # a window that never closes fails the test, not CI
    watchdog.start()
    assert child.stdout.readline().strip() == "marking"
    time.sleep(1.5)  # the clip has ended: no frame timer runs Python code any more
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    watchdog.cancel()
    assert child.returncode == 0, err
    assert out.strip() == "closed 1" and "Traceback" not in err
    (interval,) = read_sidecar(clip.with_suffix(".json")).timeline.intervals
    assert interval.label == "patient fell" and interval.end > interval.start


def test_function_keys_choose_the_class_of_their_number(tmp_path: Path, qtbot) -> None:
    # F1-F9 choose classes as in the live window (F1 the first): off by one, every mark would carry the
    # class before the one the user chose.
    from PySide6 import QtCore

    from recordings.clip import ClipRecording
    from recordings.marking import ClipMarker, MarkingWindow

    clip = record(tmp_path)
    classes = ["patient fell", "patient leaves bed", "patient sits up"]
    marker = ClipMarker(ClipLabels.open(clip), classes)
    recording = ClipRecording(clip)
    window = MarkingWindow(recording.frames(), marker, draw_skeleton, fps=0.001, title="test")
    qtbot.addWidget(window)
    window.timer.stop()
    window.advance()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_F2)
    assert marker.chosen == "patient leaves bed"
    qtbot.keyClick(window, QtCore.Qt.Key.Key_F3)
    assert marker.chosen == "patient sits up"
    qtbot.keyClick(window, QtCore.Qt.Key.Key_F1)
    assert marker.chosen == "patient fell"
    # PgDn / PgUp step through every class, round the list (the tenth and later have no number key).
    qtbot.keyClick(window, QtCore.Qt.Key.Key_PageUp)
    assert marker.chosen == "patient sits up"
    qtbot.keyClick(window, QtCore.Qt.Key.Key_PageDown)
    assert marker.chosen == "patient fell" and marker.message == "class patient fell"
    window.close()
    recording.close()


def _view_as(monkeypatch: pytest.MonkeyPatch, clip: Path, user) -> int:
    """`recordings view CLIP` with `user` (the test pressing the window's keys) in the window's place."""
    from recordings import marking

    monkeypatch.setattr(marking, "view_and_mark", user)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")  # as on a desktop (this process's Qt is offscreen already)
    return main(["view", str(clip)])


def test_a_mark_refused_as_the_window_closes_is_printed_with_the_command_that_adds_it(
        tmp_path: Path, qtbot, monkeypatch, capsys) -> None:
    import shlex

    from recordings import marking

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 1.0, 2.0)
    labels.save()

    def user(frames, labels, classes, draw, fps, title, start_time=0.0, seek=None, times=None):  # the user
        marker = marking.ClipMarker(labels, classes)
        window = marking.MarkingWindow(frames, marker, draw, 0.001, title, start_time, seek=seek, times=times)
        qtbot.addWidget(window)
        window.timer.stop()
        for _ in range(6):  # 0.5 s
            window.advance()
        qtbot.keyClick(window, "s")
        for _ in range(10):  # 1.5 s: inside the interval already there
            window.advance()
        window.close()  # the open mark ends here, and overlaps
        return marker

    assert _view_as(monkeypatch, clip, user) == 1
    err = capsys.readouterr().err
    assert "the mark open when the window closed was not saved" in err and "overlaps" in err
    command = shlex.split(err.splitlines()[-1].split(": ", 1)[1])
    assert command[:4] == ["python", "-m", "recordings", "label"]
    labels = ClipLabels.open(clip)
    labels.intervals = []  # the overlap settled: the earlier interval was wrong
    labels.save()
    assert main(command[3:]) == 0
    assert read_sidecar(clip.with_suffix(".json")).timeline.to_json() == [
        {"start": 0.5, "end": 1.5, "label": "patient fell"}]


def test_marking_a_part_in_the_window_says_how_the_other_parts_are_read(tmp_path: Path, qtbot, monkeypatch,
                                                                        capsys) -> None:
    """`recordings label` on one part of a long recording says that its other parts are read as
    background now; marking it in the window said only "1 interval(s) marked"."""
    import recordings.__main__ as cli
    from recordings import marking

    clip = record(tmp_path)
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    said_of = []

    def parts_read_now(sidecar: Path) -> str:
        said_of.append(sidecar)
        return "part 2 of a recording of 3 parts here; 1 has marks, so the other 2 are read as background"

    monkeypatch.setattr(cli, "_parts_read_now", parts_read_now)

    def user(frames, labels, classes, draw, fps, title, start_time=0.0, seek=None, times=None):  # the user
        marker = marking.ClipMarker(labels, classes)
        window = marking.MarkingWindow(frames, marker, draw, 0.001, title, start_time, seek=seek, times=times)
        qtbot.addWidget(window)
        window.timer.stop()
        for keys, frames_on in (("s", 6), ("e", 5)):  # 0.5-1.0 s
            for _ in range(frames_on):
                window.advance()
            qtbot.keyClick(window, keys)
        window.close()
        return marker

    assert _view_as(monkeypatch, clip, user) == 0
    out = capsys.readouterr().out
    assert "1 interval(s) marked" in out and "so the other 2 are read as background" in out
    assert said_of == [clip.with_suffix(".json")]


def test_the_window_shows_a_part_between_marks_of_its_recording_as_background(tmp_path: Path) -> None:
    """A part of a long recording whose other parts are marked trains as background; the marking window
    said "the whole clip is patient fell" of it, its class throughout."""
    import json

    from recordings import marking

    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    first, second = record(tmp_path, "live_20261130_083006"), record(tmp_path, "live_20261130_084006")
    parts = {first: {"id": "r1", "part": 1, "went_on": second.stem}, second: {"id": "r1", "part": 2}}
    for clip, part in parts.items():
        sidecar = clip.with_suffix(".json")
        sidecar.write_text(json.dumps({"recording": part, **json.loads(sidecar.read_text()),
                                       "label": "patient fell", "action_id": 121}))
    unmarked = marking.ClipMarker(ClipLabels.open(second), ["patient fell"])
    assert unmarked.shown_label() == "patient fell (the whole clip)"  # no part marked: its class throughout
    labels = ClipLabels.open(first)
    labels.add("patient fell", 1.0, 2.0)
    labels.save()
    marker = marking.ClipMarker(ClipLabels.open(second), ["patient fell"])
    assert marker.shown_label() == "no_action (its recording's other parts are marked)"
    assert "no intervals: background, as its recording&#x27;s other parts are marked" in marker.legend()
    marked = marking.ClipMarker(ClipLabels.open(first), ["patient fell"])
    assert marked.shown_label() == "no_action"  # (at 0 s, outside its own interval)
    marked.labels.intervals = []  # its own marks are not its other parts': its class throughout again
    assert marked.shown_label() == "patient fell (the whole clip)"
    labels = ClipLabels.open(second)  # both parts marked: each outside its own marks is background
    labels.add("patient fell", 2.0, 2.5)
    labels.save()
    assert marking.ClipMarker(ClipLabels.open(second), ["patient fell"]).shown_label() == "no_action"
    # A recording whose id begins with this one's is another recording.
    other = record(tmp_path, "live_20261130_085006")
    sidecar = other.with_suffix(".json")
    sidecar.write_text(json.dumps({"recording": {"id": "r10", "part": 1}, **json.loads(sidecar.read_text())}))
    from recordings.clip import recording_parts_beside

    part, parts = recording_parts_beside(second.with_suffix(".json"))
    assert part.recording == "r1" and sorted(p.path.name for p in parts) == [f"{first.stem}.json",
                                                                           f"{second.stem}.json"]


def test_an_ntu_clip_lists_the_class_its_name_gives(shared_data: Path, capsys) -> None:
    # NTU's own clips have no sidecar: "(no label)" would hide that A011 is "reading".
    clip = shared_data / "ntu" / "skeletons" / "S001C001P001R001A011.skeleton"
    assert main(["label", str(clip), "--list"]) == 0
    out = capsys.readouterr().out
    assert "clip label A011 reading (from the clip's name)" in out and "the whole clip is its label" in out


def test_list_counts_each_clip_once_per_class_and_the_intervals_beside(tmp_path: Path, capsys) -> None:
    whole, marked = record(tmp_path, "live_a"), record(tmp_path, "live_b")
    assert main(["label", str(whole), "--class", "patient fell"]) == 0
    assert main(["label", str(marked), "--class", "patient fell", "--from", "0.2", "--to", "0.8",
                 "--from", "1.5", "--to", "2.5"]) == 0
    capsys.readouterr()
    assert main(["list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "     2  A121 patient fell  (2 intervals)" in out and "(intervals)" not in out


def test_list_of_a_parent_folder_numbers_each_clip_by_its_own_folders_labels(tmp_path: Path, capsys) -> None:
    # The wards' folders each number their classes in their own labels.txt; the parent listed has none.
    # Marked "drinking" was listed as a class of its own beside "A121 drinking", and an unreadable
    # labels.txt stopped the whole listing.
    ward_a, ward_b = tmp_path / "wardA", tmp_path / "wardB"
    ward_a.mkdir()
    ward_b.mkdir()
    whole, marked = record(ward_a, "live_a"), record(ward_b, "live_b")
    assert main(["label", str(whole), "--class", "drinking"]) == 0
    assert main(["label", str(marked), "--class", "drinking", "--from", "0.2", "--to", "0.8"]) == 0
    capsys.readouterr()
    assert main(["list", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "     2  A121 drinking  (1 interval)" in out and "  drinking" not in out
    (ward_b / "labels.txt").write_bytes(b"\xff\xfe")
    assert main(["list", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "wardB/live_b" in captured.out and "     1  drinking  (1 interval)" in captured.out
    assert "wardB/labels.txt: byte 0: not UTF-8" in captured.err and "damaged clip" not in captured.err


def test_list_keeps_its_columns_with_folders_named_in_wide_characters(tmp_path: Path, capsys) -> None:
    """A CJK character takes two terminal columns: padded by characters, a ward named 病房 pushed its row's
    frame count two columns right of the others'."""
    from recordings.labels import columns_of

    for ward in ("Station Süd", "病房 2"):
        (tmp_path / ward).mkdir()
        record(tmp_path / ward, "live_a")
    capsys.readouterr()
    assert main(["list", str(tmp_path)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "live_a" in line]
    assert len(rows) == 2

    def frames_column(row: str) -> int:  # the terminal column the frame count starts at
        after_name = row.index("live_a") + len("live_a")
        return columns_of(row[:after_name]) + len(row[after_name:]) - len(row[after_name:].lstrip())

    assert frames_column(rows[0]) == frames_column(rows[1])


def test_a_clip_kept_without_video_by_privacy_says_so_to_an_rgb_model(tmp_path: Path) -> None:
    from core.frame import Frame
    from core.privacy import PrivacyMode
    from recordings.recorder import Recorder
    from training.data import ClipTask, DatasetError
    from training.prepare import CacheSettings, prepare_clip

    with Recorder(tmp_path, sample_name="S001C001P001R001A121", config=CONFIG,
                  privacy=PrivacyMode.SKELETON) as recorder:
        for i in range(10):
            frame = make_frame(i, i / 10)
            recorder.write(Frame(frame.timestamp, None, frame.bodies, frame.index))
    files = recorder.files
    task = ClipTask("S001C001P001R001A121", 0, files.skeleton, None, files.skeleton.with_suffix(".json"), {})
    with pytest.raises(DatasetError, match="recorded under --privacy skeleton, so it kept no video"):
        prepare_clip(task, CacheSettings(dataset="clips"), tmp_path / "cache")


def test_d_removes_the_interval_on_screen_and_u_puts_it_back(tmp_path: Path) -> None:
    # An interval an earlier session (or `recordings label`) saved could only be removed on the command
    # line: u takes back this window's own marks only.
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 1.0, 2.0)
    labels.add("drinking", 2.0, 2.5)
    labels.save()
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell", "drinking"])

    def stored() -> list[tuple[float, float, str]]:
        timeline = read_sidecar(clip.with_suffix(".json")).timeline
        return [(i.start, i.end, i.label) for i in timeline.intervals] if timeline else []

    marker.now = 0.5
    assert marker.handle("d") and marker.message == "no interval at 0.50 s to remove"
    marker.now = 1.5
    marker.handle("d")
    assert marker.message == "removed patient fell 1.00-2.00 s (u puts it back)"
    assert stored() == [(2.0, 2.5, "drinking")] and marker.removed == 1
    assert "d remove" in marker.legend()
    marker.handle("u")
    assert marker.message == "put back patient fell 1.00-2.00 s" and marker.removed == 0
    assert stored() == [(1.0, 2.0, "patient fell"), (2.0, 2.5, "drinking")]

    # A mark saved after a removal is what u takes back first; the removal is put back after it.
    marker.handle("d")
    marker.now = 0.2
    marker.handle("s")
    marker.now = 0.8
    marker.handle("e")
    marker.handle("u")
    assert marker.message == "removed patient fell 0.20-0.80 s" and marker.saved == 0 and marker.removed == 1
    assert marker.history == [(False, Interval(1.0, 2.0, "patient fell"))]
    # The gap marked by another editor meanwhile: putting it back would overlap, and is refused, once:
    # it stayed first in line and blocked every earlier undo for good.
    labels = ClipLabels.open(clip)
    labels.add("drinking", 1.2, 1.8)
    labels.save()
    marker.handle("u")
    assert marker.message.startswith("not put back: patient fell 1.00-2.00 s overlaps what was marked there")
    assert f"label {clip} --class 'patient fell' --from 1 --to 2 adds it" in marker.message
    assert stored() == [(1.2, 1.8, "drinking"), (2.0, 2.5, "drinking")]
    assert marker.history == [] and marker.removed == 1  # it stays removed
    assert marker.handle("u") and marker.message == "nothing to undo"


def test_d_waits_for_an_open_mark_and_finds_a_frame_stored_rounded(tmp_path: Path) -> None:
    # u after d with a mark open dropped the mark, not the removal; and marks are stored to 0.1 ms, so at
    # 30 fps a second s on frame 8 (0.26667 s, stored 0.2667) was refused as overlapping the interval
    # just saved, and d on an interval's first frame found nothing there.
    from recordings.marking import ClipMarker

    clip = record(tmp_path)
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell", "drinking"])
    marker.now = 5 / 30
    marker.handle("s")
    marker.handle("2")
    marker.now = 8 / 30
    marker.handle("s")  # a change of action: patient fell ends, drinking starts, on frame 8
    assert marker.message == "saved patient fell 0.17-0.27 s; drinking starts at 0.27 s"
    marker.now = 11 / 30
    marker.handle("e")
    assert marker.message == "saved drinking 0.27-0.37 s" and marker.saved == 2
    marker.handle("s")
    marker.now = 8 / 30
    marker.handle("d")
    assert marker.message == "a drinking mark is open since 0.37 s: e ends it, u drops it; then d"
    marker.handle("u")
    marker.handle("d")
    assert marker.message == "removed drinking 0.27-0.37 s (u puts it back)"


def test_d_names_the_command_when_two_peoples_intervals_are_on_screen(tmp_path: Path) -> None:
    from recordings.marking import ClipMarker

    with Recorder(tmp_path, sample_name="live_20261205_150000", config=CONFIG) as rec:
        for i in range(30):
            rec.write(make_frame(i % 20, i / 10, bodies=2))
    clip = rec.files.skeleton
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 1.0, 2.0, person=72057594037931101)
    labels.add("drinking", 1.5, 2.5, person=5)
    labels.save()
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell", "drinking"])
    marker.now = 1.7
    marker.handle("d")
    assert marker.message == ("2 intervals at 1.70 s (of different people): python -m recordings label CLIP "
                              "--remove N removes one")
    assert len(read_sidecar(clip.with_suffix(".json")).timeline.intervals) == 2


def test_shift_arrows_and_home_jump_through_a_long_take(tmp_path: Path, qtbot) -> None:
    # To mark a minute of an hour's take the window played the whole hour: Left goes back a few seconds
    # at most, and nothing went forward faster than the clip plays.
    import numpy as np
    from PySide6 import QtCore

    from recordings.clip import ClipRecording
    from recordings.marking import ClipMarker, MarkingWindow

    with Recorder(tmp_path, sample_name="live_20261205_160000",
                  config=RecorderConfig(min_free_bytes=1)) as rec:  # with its video
        for i in range(450):  # 15 s at 30 fps, frame i a grey of level i // 2
            frame = make_frame(i % 20, i / 30)
            rec.write(Frame(timestamp=frame.timestamp, color=np.full_like(frame.color, i // 2),
                            bodies=frame.bodies, index=i))
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    recording = ClipRecording(rec.files.skeleton)
    marker = ClipMarker(ClipLabels.open(rec.files.skeleton), ["patient fell"])
    first_pass = recording.frames()  # held, as `recordings view` holds it, while the window plays
    window = MarkingWindow(first_pass, marker, draw_skeleton, fps=0.001, title="test",
                           seek=recording.frames, times=recording.timestamps - recording.timestamps[0])
    qtbot.addWidget(window)
    window.timer.stop()
    Key, Shift = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier.ShiftModifier
    for _ in range(61):
        window.advance()  # 2.0 s
    qtbot.keyClick(window, Key.Key_Right, Shift)
    assert marker.now == pytest.approx(12.0) and window.frame.index == 360
    assert abs(int(window.frame.color.mean()) - 180) <= 2  # the picture of frame 360, not the next one played
    assert marker.message == "at 12.00 s"
    qtbot.keyClick(window, "s")
    qtbot.keyClick(window, Key.Key_Right, Shift)  # past the end: its last frame
    assert window.frame.index == 449 and marker.now == round(449 / 30, 4)  # as the sidecar stores it
    qtbot.keyClick(window, "e")
    # Nothing before the jump is kept: read again, so that the last frame can be stepped back from (an
    # action's end put on its frame after End said "no earlier frame kept").
    for index in (448, 447):
        qtbot.keyClick(window, Key.Key_Left)
        assert window.frame.index == index and marker.message == "a frame back (space plays on)"
        assert abs(int(window.frame.color.mean()) - index // 2) <= 2  # its own picture
    qtbot.keyClick(window, Key.Key_Right)
    assert window.frame.index == 448
    qtbot.keyClick(window, Key.Key_Home)
    assert marker.now == 0.0 and window.frame.index == 0
    qtbot.keyClick(window, Key.Key_End)
    assert window.frame.index == 449
    qtbot.keyClick(window, Key.Key_Down)  # a minute back, past the start: its first frame
    assert window.frame.index == 0
    qtbot.keyClick(window, Key.Key_Up)
    assert window.frame.index == 449
    qtbot.keyClick(window, Key.Key_Home)
    for _ in range(8):
        qtbot.keyClick(window, Key.Key_Right)
    qtbot.keyClick(window, Key.Key_Right, Shift)  # from frame 8 (0.2667 s as stored): exactly 300 on
    assert window.frame.index == 308
    qtbot.keyClick(window, Key.Key_Left, Shift)
    assert window.frame.index == 8
    if os.path.isdir("/proc/self/fd"):  # each jump let the pass before it go, its file closed
        video = str(rec.files.video.resolve())
        held = [fd for fd in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{fd}") == video]
        assert len(held) <= 1
    qtbot.keyClick(window, Key.Key_Home)
    qtbot.keyClick(window, Key.Key_Left)
    assert marker.message == "the first frame of the clip"
    window.advance()
    assert window.frame.index == 0  # paused by Left: space plays on
    qtbot.keyClick(window, Key.Key_Space)
    window.advance()
    assert window.frame.index == 1
    # + / -: played faster to look for an action, slower to see it (within 1/4x and 8x).
    qtbot.keyClick(window, Key.Key_Plus)
    qtbot.keyClick(window, Key.Key_Equal)  # + unshifted on a US keyboard
    assert marker.speed == 4.0 and window.timer.interval() == round(window.frame_ms)  # 4 frames a tick
    assert "  0.03 s (4x)  |" in marker.legend() and marker.message == "playing at 4x"
    window.advance()
    assert window.frame.index == 5  # four frames a tick, from frame 1
    qtbot.keyClick(window, Key.Key_Left)  # the frames passed over are kept: Left steps one frame
    assert window.frame.index == 4
    for _ in range(6):
        qtbot.keyClick(window, Key.Key_Minus)
    assert marker.speed == 0.25 and window.timer.interval() == round(window.frame_ms * 4)
    qtbot.keyClick(window, Key.Key_Plus)
    qtbot.keyClick(window, Key.Key_Plus)
    assert marker.speed == 1.0 and "(1x)" not in marker.legend()
    window.close()
    # e on the last frame ends at the clip's end (its time plus a frame): the last frame is inside.
    assert [(i.start, i.end) for i in read_sidecar(rec.files.sidecar).timeline.intervals] == [(12.0, 15.0)]
    recording.close()


def test_the_command_offered_adds_the_interval_as_it_was(tmp_path: Path) -> None:
    # Offered with two decimals (or four digits: 3612 for 3612.3 s of a long take), pasted, it added
    # another interval than the one refused; a person's interval lost its person.
    from recordings.labelling import label_command
    from recordings.marking import ClipMarker

    clip = tmp_path / "Station 4" / "live_20261205_150000.skeleton"
    command = label_command(clip, Interval(3612.3, 3614.03333, "patient fell", person=5), "site labels.txt")
    assert command == (f"python -m recordings label '{clip}' --labels 'site labels.txt' --class "
                       "'patient fell' --from 3612.3 --to 3614.0333 --person 5")
    # A mark saved here, removed here, then marked over by another editor: the put-back is refused, and
    # the mark's own undo, which nothing is left to undo, goes with it.
    clip = record(tmp_path)
    marker = ClipMarker(ClipLabels.open(clip), ["patient fell"])
    for now, key in ((31 / 30, "s"), (59 / 30, "e"), (1.5, "d")):
        marker.now = now
        marker.handle(key)
    labels = ClipLabels.open(clip)
    labels.add("patient fell", 1.2, 1.5)
    labels.save()
    marker.handle("u")
    assert marker.history == [] and (marker.saved, marker.removed) == (0, 1)
    assert f"({label_command(clip, Interval(1.0333, 1.9667, 'patient fell'))} adds it" in marker.message
