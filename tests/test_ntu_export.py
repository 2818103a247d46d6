"""python -m recordings export: the site's labelled clips as NTU RGB+D samples other tools read."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_recorder import make_frame

from recordings.__main__ import main
from recordings.clip import EXPORT_SKELETONS as SKELETONS
from recordings.clip import EXPORT_VIDEOS as VIDEOS
from recordings.labels import read_label_map
from recordings.ntu import NtuBody, read_skeleton
from recordings.ntu_samples import SampleName
from recordings.recorder import Recorder, RecorderConfig

CONFIG = RecorderConfig(min_free_bytes=1, record_video=False)


def record(folder: Path, frames: int, name: str = "live_20261205_120000", bodies=lambda i: 1,
           label: str | None = None) -> Path:
    """A clip as `python -m live --record` writes it, 30 frames a second; `label`: the whole clip's class,
    given afterwards as `python -m recordings label CLIP --class` does."""
    with Recorder(folder, sample_name=name, config=CONFIG) as rec:
        for i in range(frames):
            rec.write(make_frame(i % 20, i / 30, colour=False, bodies=bodies(i)))
    if label is not None:
        assert main(["label", str(rec.files.skeleton), "--class", label]) == 0
    return rec.files.skeleton


def test_each_labelled_action_becomes_a_sample_of_at_most_300_frames(tmp_path: Path, capsys) -> None:
    # 2s-AGCN, MS-G3D and mmaction2 pad every sample into 300 frames and raised on a 360-frame recording;
    # an unlabelled recording's name (live_...) made their name parsing raise for the whole folder.
    clips = tmp_path / "clips"
    marked = record(clips, 400)
    assert main(["label", str(marked), "--class", "patient fell", "--from", "1", "--to", "3",
                 "--class", "drinking", "--from", "4", "--to", "end"]) == 0
    whole = record(clips, 650, name="S002C003P007R001A121", label="patient fell")
    record(clips, 30, name="live_20261205_130000")  # not labelled: nothing to export
    assert main(["export", str(clips), str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    names = sorted(p.stem for p in (out / SKELETONS).glob("*.skeleton"))
    # The marked clip: the session, camera and performer its sidecar keeps; the whole clip keeps its name's
    # S, C and P, and its 650 frames are three pieces; R counts the samples of one S, C, P and A.
    assert names == ["S001C001P001R001A121", "S001C001P001R001A122", "S002C003P007R001A121",
                     "S002C003P007R002A121", "S002C003P007R003A121"]
    classes = read_label_map(out / "classes.txt")
    assert classes.names == {121: "patient fell", 122: "drinking"}
    lengths = {name: read_skeleton(out / SKELETONS / f"{name}.skeleton").num_frames for name in names}
    assert lengths["S001C001P001R001A121"] == 60 and lengths["S001C001P001R001A122"] == 280
    assert [lengths[f"S002C003P007R00{r}A121"] for r in (1, 2, 3)] == [217, 217, 216]
    # The frames are the clip's own, from the interval's first frame on.
    source, sample = read_skeleton(marked), read_skeleton(out / SKELETONS / "S001C001P001R001A121.skeleton")
    assert np.array_equal(sample.frames[0][0].joints, source.frames[30][0].joints)
    assert np.array_equal(sample.frames[-1][0].joints, source.frames[89][0].joints)
    rows = (out / "samples.tsv").read_text().splitlines()
    assert not (out / ".export.partial").exists()
    assert rows[0] == "sample\tclass\tclip\tstart_s\tend_s\tframes"
    assert "S001C001P001R001A122\tdrinking\tlive_20261205_120000\t4.000\t13.333\t280" in rows
    assert "S002C003P007R003A121\tpatient fell\tS002C003P007R001A121" in "\n".join(rows)
    assert all(SampleName.parse(name) for name in names)
    said = capsys.readouterr().out  # a line a sample as it is written, then where they are
    assert "S001C001P001R001A122  drinking  from live_20261205_120000 4.00-13.33 s (280 frames)" in said
    # The folder to give those tools, named: they take each file of it for a sample.
    assert said.rstrip().splitlines()[-1].startswith(f"5 samples in {out / SKELETONS}, as NTU's release has")
    assert whole.is_file() and marked.is_file()  # the clips themselves are left as they were


def test_a_body_that_comes_back_after_a_gap_gets_a_new_id(tmp_path: Path) -> None:
    # CTR-GCN lays a body's frames out one after another from its first: a body id missing for a few
    # frames and back (the simulator's tracker keeps it) put that body's later poses on the wrong frames.
    clips = tmp_path / "clips"
    clip = record(clips, 40, label="patient fell", bodies=lambda i: 1 if 10 <= i < 13 else 2)
    assert main(["export", str(clips), str(tmp_path / "out")]) == 0
    frames = read_skeleton(tmp_path / "out" / SKELETONS / "S001C001P001R001A121.skeleton").frames
    ids = [[body.body_id for body in bodies] for bodies in frames]
    assert ids[9] == ids[0] == [72057594037931101, 5] and ids[10] == [72057594037931101]
    assert ids[13][0] == 72057594037931101 and ids[13][1] not in (5, 72057594037931101)
    assert all(i == ids[13] for i in ids[13:])  # one new id from its return on
    source = read_skeleton(clip).frames
    assert np.array_equal(frames[13][1].joints, source[13][1].joints)


def test_two_folders_that_number_classes_differently_are_refused_not_mixed(tmp_path: Path, capsys) -> None:
    # Each folder's labels.txt numbers its own classes from A121: one export of both had put "drinking"
    # samples under the A121 of "patient fell".
    record(tmp_path / "clips" / "ward3", 30, label="patient fell")
    record(tmp_path / "clips" / "ward4", 30, label="drinking")
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "A121 'drinking' here, but A121 is 'patient fell' in a clip exported before it" in captured.err
    assert "ward4" in captured.err
    assert [p.name for p in (tmp_path / "out" / SKELETONS).glob("*.skeleton")] == [
        "S001C001P001R001A121.skeleton"]
    # A second export into the same folder would number R again from 1 over the first one's files.
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 2
    assert "already holds .skeleton files" in capsys.readouterr().err


@pytest.mark.parametrize("labelled", [False, True])
def test_nothing_to_export_is_said(tmp_path: Path, capsys, labelled: bool) -> None:
    if labelled:
        assert main(["export", str(tmp_path / "none"), str(tmp_path / "out")]) == 2
        assert "not a directory" in capsys.readouterr().err
        return
    record(tmp_path / "clips", 30)
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 0
    assert "no labelled action exported" in capsys.readouterr().out


def test_an_out_that_is_a_file_is_a_usage_error_that_says_so(tmp_path: Path, capsys) -> None:
    # It was "error: [Errno 17] File exists" once the clips had been read.
    record(tmp_path / "clips", 30)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as stop:
        main(["export", str(tmp_path / "clips"), str(tmp_path / "notes.txt")])
    assert stop.value.code == 2
    assert f"argument out: {tmp_path / 'notes.txt'}: a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_what_other_tools_cannot_read_is_said_not_written(tmp_path: Path, capsys) -> None:
    # Found by a review: a piece with nobody in view (CTR-GCN asserts, txt2npy raises), an interval that
    # holds no frame (dropped without a word), six bodies (txt2npy keeps four and raises on a fifth).
    clips = tmp_path / "clips"
    clip = record(clips, 120, bodies=lambda i: 0 if i < 60 else 2)
    assert main(["label", str(clip), "--class", "patient fell", "--from", "0", "--to", "1.5",
                 "--class", "patient fell", "--from", "2", "--to", "3.9"]) == 0
    # Frames at 3.9 and 3.933: one between them, as an earlier version of label let in (it now refuses).
    sidecar = clip.with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    raw["intervals"].append({"start": 3.91, "end": 3.92, "label": "drinking"})
    sidecar.write_text(json.dumps(raw))
    (clips / "labels.txt").write_text((clips / "labels.txt").read_text() + "A122\tdrinking\n")
    assert main(["export", str(clips), str(tmp_path / "out"), "--max-frames", "30"]) == 1
    err = capsys.readouterr().err
    # The first interval's 45 frames are two pieces, both before anybody came into view.
    assert "nobody in view at 0.00-0.77 s (patient fell); not exported" in err
    assert "nobody in view at 0.77-1.50 s (patient fell); not exported" in err
    assert "'drinking' from 3.91 s: holds no frame of the clip; not exported" in err
    out = tmp_path / "out"
    samples = sorted((out / SKELETONS).glob("*.skeleton"))
    assert [p.stem for p in samples] == ["S001C001P001R001A121", "S001C001P001R002A121"]
    assert all(any(frame) for p in samples for frame in read_skeleton(p).frames[-1:])


def test_at_most_four_bodies_those_most_in_view(tmp_path: Path) -> None:
    from recordings.ntu_export import _most_seen_bodies

    def body(body_id: int) -> NtuBody:
        return NtuBody(body_id, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 2, np.zeros((25, 12)))

    frames = [[body(i) for i in ids] for ids in ([1, 2, 3, 4, 5, 6], [2, 3, 4, 5, 6], [6, 5, 4, 3])]
    kept = _most_seen_bodies(frames, 4)
    assert [[b.body_id for b in f] for f in kept] == [[3, 4, 5, 6], [3, 4, 5, 6], [6, 5, 4, 3]]


def test_an_export_stopped_midway_leaves_out_as_it_was(tmp_path: Path, monkeypatch) -> None:
    # Ctrl-C or a full disk halfway left OUT with samples and no classes or index, and the next export
    # into it was refused ("already holds .skeleton files").
    from recordings import ntu_export

    clips = tmp_path / "clips"
    record(clips, 400, label="patient fell")
    real_write, written = ntu_export.write_skeleton, []

    def write_then_stop(path, skeleton, *args):
        if written:
            raise KeyboardInterrupt
        written.append(path)
        real_write(path, skeleton, *args)

    monkeypatch.setattr(ntu_export, "write_skeleton", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        ntu_export.export_clips(clips, tmp_path / "out", max_frames=100)
    assert not list((tmp_path / "out" / SKELETONS).glob("*.skeleton")) and written
    monkeypatch.setattr(ntu_export, "write_skeleton", real_write)
    samples, problems = ntu_export.export_clips(clips, tmp_path / "out", max_frames=100)
    assert len(samples) == 4 and not problems
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [  # the lock stays, empty, as labels.txt's
        ".export.lock", "classes.txt", SKELETONS, "samples.tsv"]
    # The samples in a folder of their own, as NTU's release has them: those tools take each file of the
    # folder they are given for a sample (2s-AGCN's gendata failed on classes.txt and the lock).
    assert sorted(p.name for p in (tmp_path / "out" / SKELETONS).iterdir()) == [
        f"S001C001P001R00{r}A121.skeleton" for r in (1, 2, 3, 4)]


def test_an_export_inside_the_clips_folder_is_neither_exported_listed_nor_trained_on(
    tmp_path: Path, capsys
) -> None:
    # Its samples were read as clips of their A-number's class: list counted each action twice, and
    # training took them beside the clips they were cut from (in the other split, as other sessions).
    from training.datasets.clips import read_clip_folder

    clips = tmp_path / "clips"
    record(clips, 30, label="patient fell")
    assert main(["export", str(clips), str(clips / "ntu")]) == 0
    stopped = clips / "stopped" / ".export.partial"  # what an export stopped midway left
    stopped.mkdir(parents=True)
    (stopped / "S001C001P001R001A121.skeleton").write_bytes(
        (clips / "ntu" / SKELETONS / "S001C001P001R001A121.skeleton").read_bytes())
    assert main(["export", str(clips), str(clips / "ntu2")]) == 0
    assert [p.name for p in (clips / "ntu2" / SKELETONS).glob("*.skeleton")] == [
        "S001C001P001R001A121.skeleton"]
    index = (clips / "ntu2" / "samples.tsv").read_text()
    assert "S001C001P001R001A121\tpatient fell\tlive_20261205_120000\t" in index
    capsys.readouterr()
    assert main(["list", str(clips)]) == 0
    listed = capsys.readouterr()
    assert "1 clip, " in listed.out and "S001C001P001R001A121" not in listed.out and not listed.err
    labelled, unlabelled = read_clip_folder(clips)
    assert [clip.task.name for clip in labelled] == ["live_20261205_120000"] and not unlabelled
    assert main(["list", str(clips / "ntu")]) == 0
    assert "an export" in capsys.readouterr().out
    assert main(["list", str(clips / "ntu" / SKELETONS)]) == 0  # the folder those tools are given
    assert f"{clips / 'ntu' / 'samples.tsv'} says which clip each came from" in capsys.readouterr().out
    # A sample is no clip to label: a sidecar or labels.txt beside it, those tools take for a sample too.
    sample = clips / "ntu" / SKELETONS / "S001C001P001R001A121.skeleton"
    assert main(["label", str(sample), "--class", "patient fell"]) == 2
    assert f"({clips / 'ntu' / 'samples.tsv'} says which)" in capsys.readouterr().err
    with pytest.MonkeyPatch.context() as inside:  # from inside the folder those tools are given
        inside.chdir(sample.parent)
        assert main(["label", sample.name, "--class", "patient fell"]) == 2
        assert main(["list", "."]) == 0
        assert f"{clips / 'ntu' / 'samples.tsv'} says which" in capsys.readouterr().out
    assert sorted(p.name for p in sample.parent.iterdir()) == [sample.name]
    from training.data import DatasetError

    for export in (clips / "ntu", clips / "ntu" / SKELETONS):
        with pytest.raises(DatasetError, match="an export .*, not clips: give the folder of the clips"):
            read_clip_folder(export)
    # A clip put in an export's folder since is a clip (its samples are in a folder of their own).
    record(clips / "ntu", 30, label="patient fell", name="live_20261205_130000")
    labelled, _ = read_clip_folder(clips)
    assert len(labelled) == 2 and labelled[1].task.name.endswith("live_20261205_130000")
    assert [clip.task.name for clip in read_clip_folder(clips / "ntu")[0]] == ["live_20261205_130000"]
    # An export made before the samples had a folder of their own: its samples beside its samples.tsv.
    earlier = clips / "earlier"
    (clips / "ntu2").rename(earlier)
    for path in (earlier / SKELETONS).iterdir():
        path.rename(earlier / path.name)
    (earlier / SKELETONS).rmdir()
    labelled, _ = read_clip_folder(clips)
    assert len(labelled) == 2 and main(["list", str(earlier)]) == 0  # its sample no clip, said an export
    assert f"{earlier / 'samples.tsv'} says which" in capsys.readouterr().out
    # A samples.tsv of the site's own beside its clips is no export (an export writes classes.txt too).
    (clips / "ntu" / "classes.txt").unlink()
    assert main(["list", str(clips)]) == 0
    assert "3 clips, " in capsys.readouterr().out


def test_a_site_class_of_an_ntu_name_is_exported_as_ntus_class(tmp_path: Path, capsys) -> None:
    # NTU's A058 "handshaking" and PKU-MMD's converted "handshaking" (A121 in its labels.txt) crashed the
    # export after the samples were written: one name under two numbers. Then the site's was refused; and
    # alone, it was exported as A121, which NTU's tools (they know a class by its number) read as no
    # class or another.
    ntu = tmp_path / "clips" / "ntu"
    ntu.mkdir(parents=True)
    source = record(tmp_path / "recorded", 30)  # an NTU sample of its own: a .skeleton, no sidecar
    (ntu / "S001C001P001R001A058.skeleton").write_bytes(source.read_bytes())
    record(tmp_path / "clips" / "site", 30, label="handshaking")
    assert (tmp_path / "clips" / "site" / "labels.txt").read_text().endswith("A121\thandshaking\n")
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 0
    assert read_label_map(tmp_path / "out" / "classes.txt", site=False).names == {58: "handshaking"}
    assert sorted(p.name for p in (tmp_path / "out" / SKELETONS).glob("*.skeleton")) == [
        "S001C001P001R001A058.skeleton", "S001C001P001R002A058.skeleton"]  # one numbering of R


def test_a_site_clip_copied_without_its_sidecar_is_exported_under_its_labels_txt_class(
    tmp_path: Path, capsys
) -> None:
    """S008C001P001R001A121.skeleton without its .json: `list` named it by labels.txt ("A121 Sturz"), and
    `export` said "no NTU RGB+D class in its name" and left it out."""
    clips = tmp_path / "clips"
    clips.mkdir()
    source = record(tmp_path / "recorded", 30)
    (clips / "S008C001P001R001A121.skeleton").write_bytes(source.read_bytes())
    (clips / "S008C001P001R001A122.skeleton").write_bytes(source.read_bytes())  # a class labels.txt lacks
    (clips / "labels.txt").write_text("A121\tSturz\n", encoding="utf-8")
    assert main(["export", str(clips), str(tmp_path / "out")]) == 1  # the A122 clip: left out, said
    assert read_label_map(tmp_path / "out" / "classes.txt", site=False).names == {121: "Sturz"}
    assert [p.name for p in (tmp_path / "out" / SKELETONS).glob("*.skeleton")] == [
        "S008C001P001R001A121.skeleton"]
    said = capsys.readouterr().err
    assert "S008C001P001R001A122.skeleton: no sidecar, and no class in its name that NTU RGB+D or " in said


def test_the_index_names_each_clip_by_its_folder_and_reads_back_as_six_columns(tmp_path: Path) -> None:
    # Two rooms' clips of one name were one row name apart from nothing; a class name with a tab in a
    # hand-written labels.txt shifted the columns.
    import csv

    labels = tmp_path / "labels.txt"
    labels.write_text("A121\tfell\tdown\n")
    for room in ("ward3", "ward4"):
        clip = record(tmp_path / "clips" / room, 30)
        assert main(["label", str(clip), "--class", "A121", "--labels", str(labels)]) == 0
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out"), "--labels", str(labels)]) == 0
    with open(tmp_path / "out" / "samples.tsv", encoding="utf-8", newline="") as index:
        rows = list(csv.reader(index, delimiter="\t"))
    assert [len(row) for row in rows] == [6, 6, 6]
    assert [row[1:3] for row in rows[1:]] == [["fell\tdown", "ward3/live_20261205_120000"],
                                              ["fell\tdown", "ward4/live_20261205_120000"]]


def test_a_damaged_frame_loses_its_piece_not_the_export(tmp_path: Path, capsys) -> None:
    # One bad value stopped the whole export (exit 2), said at "line 0" of a range's own numbering.
    clips = tmp_path / "clips"
    damaged = record(clips / "a", 90, label="patient fell")
    record(clips / "b", 30, label="patient fell")
    lines = damaged.read_bytes().split(b"\n")
    line = 1 + 1 + 60 * 28 + 3  # frame count, then 28 lines a one-body frame: frame 61's first joint
    lines[line - 1] = b"abc" + lines[line - 1][lines[line - 1].index(b" "):]
    damaged.write_bytes(b"\n".join(lines).rstrip(b"\n"))  # and no newline at the end, which is allowed
    assert main(["export", str(clips), str(tmp_path / "out"), "--max-frames", "30"]) == 1
    err = capsys.readouterr().err
    assert f"{damaged}, line {line}: " in err and "frame 61" in err
    assert "(the piece 2.00-3.00 s not exported)" in err
    assert len(list((tmp_path / "out" / SKELETONS).glob("*.skeleton"))) == 3  # a's first two pieces and b


def test_one_export_at_a_time_into_a_folder(tmp_path: Path) -> None:
    from core.locks import held
    from recordings.clip import ClipError
    from recordings.ntu_export import export_clips

    record(tmp_path / "clips", 30, label="patient fell")
    (tmp_path / "out").mkdir()
    with held(tmp_path / "out" / ".export.lock"), pytest.raises(ClipError, match="another export is writing"):
        export_clips(tmp_path / "clips", tmp_path / "out")
    assert not list((tmp_path / "out" / SKELETONS).glob("*.skeleton"))


def test_a_person_lost_for_a_frame_is_one_of_the_four_kept(tmp_path: Path) -> None:
    # Ids were renewed before the four were chosen, so the actor, lost for a frame, counted as three short
    # people and was dropped for bystanders.
    from recordings.ntu_export import bodies_as_ntu_has_them

    def body(body_id: int) -> NtuBody:
        return NtuBody(body_id, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 2, np.zeros((25, 12)))

    frames = [[body(1)] * (t not in (3, 6)) + [body(b) for b in (2, 3, 4, 5) if t < 5] for t in range(9)]
    kept = bodies_as_ntu_has_them(frames)
    assert sum(1 for bodies in kept if bodies) == 8  # only frame 6, where nobody is, is empty
    assert all(any(b.body_id in (1, 5, 6) for b in bodies)  # the actor, under the ids renewed after gaps
               for t, bodies in enumerate(kept) if t not in (3, 6))


def test_an_unfinished_recording_below_dir_is_said_and_exits_1(tmp_path: Path, capsys) -> None:
    # Export reads the folders below DIR; their recordings a crash interrupted were left unsaid.
    clips = tmp_path / "clips"
    record(clips / "ward3", 30, label="patient fell")
    (clips / "ward3" / "live_20261205_130000.partial").mkdir()
    (clips / "ward3" / "live_20261205_130000.partial" / "frames.jsonl").write_text("")
    assert main(["export", str(clips), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "1 recording(s) a crash interrupted (live_20261205_130000.partial), not exported" in err


def test_r_runs_out_for_one_class_only_and_is_said_once(tmp_path: Path, capsys) -> None:
    clips = tmp_path / "clips"
    clip = record(clips, 1010)
    assert main(["label", str(clip), "--class", "patient fell", "--from", "0", "--to", "33.5",
                 "--class", "drinking", "--from", "33.5", "--to", "end"]) == 0
    assert main(["export", str(clips), str(tmp_path / "out"), "--max-frames", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("R is at 999") == 1 and "its pieces from 33.30 s on are not exported" in err
    names = [p.stem for p in (tmp_path / "out" / SKELETONS).glob("*.skeleton")]
    assert sum(name.endswith("A121") for name in names) == 999
    assert sum(name.endswith("A122") for name in names) == 5  # the other class's numbering goes on


def test_a_timeout_while_writing_is_said_as_itself(tmp_path: Path, monkeypatch) -> None:
    # A share's ETIMEDOUT is a TimeoutError too: it was said as "another export is writing into it".
    import errno

    from recordings import ntu_export

    record(tmp_path / "clips", 30, label="patient fell")

    def timed_out(*args):
        raise TimeoutError(errno.ETIMEDOUT, "Connection timed out")

    monkeypatch.setattr(ntu_export, "write_skeleton", timed_out)
    with pytest.raises(TimeoutError, match="Connection timed out"):
        ntu_export.export_clips(tmp_path / "clips", tmp_path / "out")


def test_a_real_pku_mmd_sequence_and_real_ntu_samples(shared_data: Path, ntu_dir: Path,
                                                       tmp_path: Path) -> None:
    # Real Kinect v2 data: a converted PKU-MMD sequence (its labelled interactions as intervals), beside
    # NTU's own samples, which keep their class and S, C, P (one numbering of R for the export).
    clips = tmp_path / "clips"
    sequence = shared_data / "pkummd" / "skeletons" / "0005-L.txt.xz"
    assert main(["convert", str(sequence), str(clips / "pku")]) == 0
    (clips / "ntu").mkdir()
    for name in ("S001C001P001R001A001", "S001C001P001R001A011"):
        source = ntu_dir / "skeletons" / f"{name}.skeleton"
        (clips / "ntu" / f"{name}.skeleton").write_bytes(source.read_bytes())
    assert main(["export", str(clips), str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    classes = read_label_map(out / "classes.txt", site=False).names
    # Converted, PKU-MMD's interactions take NTU's names (A121-A128 in the folder's labels.txt), and are
    # exported as NTU's classes A050-A058, which NTU's tools know them by.
    assert classes[1] == "drink water" and classes[11] == "reading" and classes[58] == "handshaking"
    assert sorted(classes) == [1, 11, 50, 51, 52, 53, 54, 55, 56, 58]
    names = sorted(p.stem for p in (out / SKELETONS).glob("*.skeleton"))
    assert names[:2] == ["S001C001P001R001A001", "S001C001P001R001A011"]
    assert names[2:] == [f"S005C001P000R001A{a:03d}" for a in (50, 51, 52, 53, 54, 55, 56, 58)]
    ntu = read_skeleton(ntu_dir / "skeletons" / "S001C001P001R001A001.skeleton")
    exported = read_skeleton(out / SKELETONS / "S001C001P001R001A001.skeleton")
    assert exported.num_frames == ntu.num_frames == 103 and exported.frames == ntu.frames
    for name in names[2:]:
        frames = read_skeleton(out / SKELETONS / f"{name}.skeleton").frames
        assert 0 < len(frames) <= 300 and all(len(bodies) <= 4 for bodies in frames) and any(frames)
    # Views L, M and R are three cameras: a cross-view split of the samples needs them told apart.
    assert main(["convert", str(sequence.with_name("0005-R.txt.xz")), str(tmp_path / "right")]) == 0
    raw = json.loads((tmp_path / "right" / "0005-R.json").read_text(encoding="utf-8"))
    assert (raw["session"], raw["camera"], raw["performer"]) == (5, 3, 0)


def test_a_clip_named_by_its_time_is_exported_as_whom_and_where_it_was_recorded(tmp_path: Path) -> None:
    # `python -m live --record --performer 7` without a class names the clip by its time: the performer
    # was lost, and the export named every such clip P000.
    from recordings.recorder import ClipNaming

    config = RecorderConfig(min_free_bytes=1, record_video=False,
                            naming=ClipNaming(setup=4, camera=2, performer=7))
    with Recorder(tmp_path / "clips", sample_name="live_20261205_120000", config=config) as rec:
        for i in range(30):
            rec.write(make_frame(i, i / 30, colour=False))
    assert main(["label", str(rec.files.skeleton), "--class", "patient fell"]) == 0
    old = record(tmp_path / "clips" / "old", 30, label="patient fell")  # as recorded before: no C, no P
    sidecar = old.with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    del raw["camera"], raw["performer"]
    sidecar.write_text(json.dumps(raw))
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 0
    assert sorted(p.stem for p in (tmp_path / "out" / SKELETONS).glob("*.skeleton")) == [
        "S001C001P000R001A121", "S004C002P007R001A121"]


def test_a_conversion_knows_no_performer_and_a_bad_hand_edit_falls_back(tmp_path: Path) -> None:
    # A .xef converted without --label nor --performer was said to be performer 1; a
    # sidecar's session edited by hand to -1 stopped its clip's export.
    from xef_writer import sample_recording

    xef = tmp_path / "ward3_fall.xef"
    sample_recording(xef, frames=4)
    assert main(["convert", str(xef), str(tmp_path / "clips"), "--min-free-gb", "0"]) == 0
    (clip,) = (tmp_path / "clips").glob("*.skeleton")
    sidecar = clip.with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    assert (raw["session"], raw["camera"], raw["performer"]) == (1, 1, 0)
    assert main(["label", str(clip), "--class", "patient fell"]) == 0
    raw = json.loads(sidecar.read_text())
    raw["session"] = -1
    sidecar.write_text(json.dumps(raw))
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 0
    assert [p.stem for p in (tmp_path / "out" / SKELETONS).glob("*.skeleton")] == ["S001C001P000R001A121"]


def _record_with_video(folder: Path, frames: int, name: str = "live_20261205_140000",
                       fps: float = 30) -> Path:
    """A clip with its colour video, frame i a grey of level 2 * i (so each frame is told by its colour)."""
    config = replace(CONFIG, record_video=True)
    with Recorder(folder, sample_name=name, config=config) as rec:
        for i in range(frames):
            frame = make_frame(i % 20, i / fps)
            rec.write(replace(frame, color=np.full_like(frame.color, 2 * i)))
    return rec.files.skeleton


def test_each_sample_gets_the_same_frames_of_the_clips_video(tmp_path: Path, capsys) -> None:
    # The export wrote skeletons only, and a site's RGB was lost to every tool that reads NTU's _rgb.avi.
    from recordings.ntu_video import RgbVideo

    clips = tmp_path / "clips"
    clip = _record_with_video(clips, 120)
    assert main(["label", str(clip), "--class", "patient fell", "--from", "1", "--to", "end"]) == 0
    assert main(["export", str(clips), str(tmp_path / "out"), "--max-frames", "50"]) == 0
    assert "S001C001P001R002A121  patient fell  from live_20261205_140000 2.50-4.00 s (45 frames, with " \
           "video)" in capsys.readouterr().out
    with RgbVideo(clip.with_name(f"{clip.stem}_rgb.avi")) as video:
        source = list(video)
    for r, first in ((1, 30), (2, 75)):
        with RgbVideo(tmp_path / "out" / VIDEOS / f"S001C001P001R00{r}A121_rgb.avi") as video:
            frames = list(video)
        skeleton = read_skeleton(tmp_path / "out" / SKELETONS / f"S001C001P001R00{r}A121.skeleton")
        assert len(frames) == 45 == skeleton.num_frames
        # The clip's own JPEGs, copied: decoded, the very pixels of frames first..first+44.
        assert all(np.array_equal(frame, source[first + t]) for t, frame in enumerate(frames))
    # In NTU's release's layout, and a sample replayed (recordings view, python -m live) finds its video.
    from recordings.clip import clip_paths

    sample = clip_paths(tmp_path / "out" / SKELETONS / "S001C001P001R001A121.skeleton")
    assert sample.video == tmp_path / "out" / VIDEOS / "S001C001P001R001A121_rgb.avi"
    assert clip_paths(sample.video) == sample  # named by its video, as a clip can be

    assert main(["export", str(clips), str(tmp_path / "bare"), "--no-video"]) == 0
    bare = sorted(p.relative_to(tmp_path / "bare").as_posix() for p in (tmp_path / "bare").rglob("S*"))
    assert bare == [f"{SKELETONS}/S001C001P001R001A121.skeleton"]


def test_a_video_that_does_not_match_its_skeleton_is_said_and_left_out(tmp_path: Path, capsys) -> None:
    from recordings.avi import RecordedAvi

    clips = tmp_path / "clips"
    clip = _record_with_video(clips, 60)
    assert main(["label", str(clip), "--class", "patient fell"]) == 0
    video = clip.with_name(f"{clip.stem}_rgb.avi")
    RecordedAvi(video).cut(tmp_path / "short.avi", range(50))  # a video 10 frames short of its skeleton
    (tmp_path / "short.avi").replace(video)
    assert main(["export", str(clips), str(tmp_path / "out")]) == 1
    assert f"{video}: 50 frames, its skeleton 60; its samples are exported without their video" in \
        capsys.readouterr().err
    assert [p.relative_to(tmp_path / "out").as_posix() for p in sorted((tmp_path / "out").rglob("S*"))] == [
        f"{SKELETONS}/S001C001P001R001A121.skeleton"]
    assert video.stat().st_size > 0  # the clip's own files are left as they were

    # A longer video is no reason to leave it out: frame i is still frame i of the skeleton.
    longer = _record_with_video(tmp_path / "other", 70)
    longer.with_name(f"{longer.stem}_rgb.avi").replace(video)
    assert main(["export", str(clips), str(tmp_path / "out2")]) == 0
    assert len(RecordedAvi(tmp_path / "out2" / VIDEOS / "S001C001P001R001A121_rgb.avi")) == 60


def test_a_low_light_clips_samples_are_at_ntus_30_fps(tmp_path: Path) -> None:
    # A .skeleton has no times, and every reader of NTU's layout takes 30 frames a second: a dark room's
    # colour camera gives 15, and its samples played at twice their speed (the video's header said 15 and
    # its skeleton, to every tool, 30).
    from recordings.clip import open_recording
    from recordings.ntu_export import export_clips
    from recordings.ntu_video import RgbVideo

    clip = _record_with_video(tmp_path / "clips", 45, fps=15)
    assert main(["label", str(clip), "--class", "patient fell"]) == 0
    samples, problems = export_clips(tmp_path / "clips", tmp_path / "out")
    assert not problems and [(s.frames, s.video, s.end_s) for s in samples] == [(90, True, 3.0)]
    sample = tmp_path / "out" / SKELETONS / f"{samples[0].name}.skeleton"
    with open_recording(sample) as exported:
        assert exported.info.duration_s == pytest.approx(89 / 30)  # as long as the 45 frames lasted
    with RgbVideo(tmp_path / "out" / VIDEOS / f"{samples[0].name}_rgb.avi") as video:
        assert video.fps == 30.0 and len(video) == 90
        levels = [int(frame[0, 0, 0]) for frame in video]
    assert levels == [2 * (i // 2) for i in range(90)]  # each frame twice, in order (grey 2 * i)
    # The light going down in a take: 30 fps, then 15 from 1.5 s on.
    with Recorder(tmp_path / "dusk", sample_name="live_20261205_180000",
                  config=replace(CONFIG, record_video=True)) as rec:
        for i in range(90):
            frame = make_frame(i % 20, i / 30 if i < 45 else 1.5 + (i - 45) / 15)
            rec.write(replace(frame, color=np.full_like(frame.color, 2 * i)))
    assert main(["label", str(rec.files.skeleton), "--class", "patient fell", "--from", "0", "--to", "1",
                 "--class", "sits up", "--from", "1", "--to", "2.5",
                 "--class", "drinking", "--from", "2.5", "--to", "end"]) == 0
    samples, problems = export_clips(tmp_path / "dusk", tmp_path / "dusk_out")
    # 1 s, 1.5 s (0.5 s at 30 fps, 1 s at 15) and the last 2 s, each 30 frames a second.
    assert not problems and [s.frames for s in samples] == [30, 45, 60]
    with RgbVideo(tmp_path / "dusk_out" / VIDEOS / f"{samples[1].name}_rgb.avi") as video:
        levels = [int(frame[0, 0, 0]) // 2 for frame in video]
    assert levels == [*range(30, 45), *(45 + i // 2 for i in range(30))]
    # The sensor away for 5 s mid-action: a frame held for 0.2 s at most, not one pose frozen for seconds.
    with Recorder(tmp_path / "unplugged", sample_name="live_20261205_190000",
                  config=replace(CONFIG, record_video=True)) as rec:
        for i in range(20):
            frame = make_frame(i, i / 30 if i < 10 else 5.3 + (i - 10) / 30)
            rec.write(replace(frame, color=np.full_like(frame.color, 2 * i)))
    assert main(["label", str(rec.files.skeleton), "--class", "patient fell"]) == 0
    samples, problems = export_clips(tmp_path / "unplugged", tmp_path / "unplugged_out")
    assert not problems and len(samples) == 1
    assert (samples[0].frames, samples[0].start_s, samples[0].end_s) == (25, 0.0, pytest.approx(5.6 + 1 / 30))
    with RgbVideo(tmp_path / "unplugged_out" / VIDEOS / f"{samples[0].name}_rgb.avi") as video:
        levels = [int(frame[0, 0, 0]) // 2 for frame in video]
    assert levels == [*range(10), *[9] * 5, *range(10, 20)]


def test_a_full_disk_names_the_file_and_keeps_nothing_of_the_export(tmp_path: Path, capsys,
                                                                     monkeypatch) -> None:
    # It said "[Errno 28] No space left on device" alone, and left what it wrote in OUT/.export.partial,
    # keeping the disk full until the next export.
    import errno

    from recordings.atomic import AppendedFile

    clip = _record_with_video(tmp_path / "clips", 60)
    assert main(["label", str(clip), "--class", "patient fell"]) == 0

    def full(self, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(AppendedFile, "append", full)
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "No space left on device: " in err and "S001C001P001R001A121_rgb.avi" in err
    assert err.rstrip().endswith("the export stopped; none of it is kept there")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [".export.lock"]


def test_ntus_own_video_whole_as_it_is_and_in_pieces_decoded(ntu_dir: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    # NTU's _rgb.avi is H.264, not the recorder's MJPG: a whole sample's is copied as NTU encoded it; a
    # piece of it is decoded and written as MJPG, frame i of the piece its frame first + i.
    from recordings.ntu_export import export_clips
    from recordings.ntu_video import RgbVideo

    name = "S001C001P001R001A001"
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / f"{name}.skeleton").write_bytes((ntu_dir / "skeletons" / f"{name}.skeleton").read_bytes())
    (clips / f"{name}_rgb.avi").write_bytes((ntu_dir / "rgb" / f"{name}_rgb.avi").read_bytes())
    samples, problems = export_clips(clips, tmp_path / "whole")
    assert not problems and [s.video for s in samples] == [True]
    assert (tmp_path / "whole" / VIDEOS / f"{name}_rgb.avi").read_bytes() == (
        clips / f"{name}_rgb.avi").read_bytes()

    opened = []  # each opening decodes from the first frame again
    real_open = RgbVideo._open
    monkeypatch.setattr(RgbVideo, "_open", lambda self: opened.append(1) or real_open(self))
    samples, problems = export_clips(clips, tmp_path / "pieces", max_frames=40)
    assert not problems and [s.frames for s in samples] == [35, 34, 34] and all(s.video for s in samples)
    assert len(opened) == 1  # one pass, forward from piece to piece
    monkeypatch.undo()
    with RgbVideo(clips / f"{name}_rgb.avi") as video:
        source = video.read_frames([35, 68])
    with RgbVideo(tmp_path / "pieces" / VIDEOS / "S001C001P001R002A001_rgb.avi") as video:
        assert (len(video), video.width, video.height, video.fps) == (34, 1920, 1080, 30.0)
        piece = list(video)
    for ours, theirs in ((piece[0], source[0]), (piece[-1], source[1])):  # MJPG, quality 90: near, not equal
        assert np.abs(ours.astype(int) - theirs).mean() < 3


def test_a_cut_short_video_of_another_tool_is_said_not_copied(ntu_dir: Path, tmp_path: Path, capsys) -> None:
    # NTU's H.264 video cut short still counts its 103 frames in its header: copied as it was, it was said
    # to be the sample's video, its frames from 34 on missing.
    name = "S001C001P001R001A001"
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / f"{name}.skeleton").write_bytes((ntu_dir / "skeletons" / f"{name}.skeleton").read_bytes())
    (clips / f"{name}_rgb.avi").write_bytes((ntu_dir / "rgb" / f"{name}_rgb.avi").read_bytes()[:600_000])
    assert main(["export", str(clips), str(tmp_path / "out")]) == 1
    assert f"{name}_rgb.avi: cut short, " in capsys.readouterr().err
    assert [p.relative_to(tmp_path / "out").as_posix() for p in sorted((tmp_path / "out").rglob("S*"))] == [
        f"{SKELETONS}/{name}.skeleton"]


def test_a_clip_moved_away_from_its_label_map_is_said_to_be_so(tmp_path: Path, capsys) -> None:
    # Its sidecar names a site class, which only the labels.txt it was labelled beside numbers: moved to a
    # sub-folder, export read NTU's list alone, and its error listed NTU's classes without saying why.
    clip = record(tmp_path / "clips", 30, label="patient fell")
    (tmp_path / "clips" / "sub").mkdir()
    for path in clip.parent.glob(f"{clip.stem}*"):
        path.rename(tmp_path / "clips" / "sub" / path.name)
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "unknown label 'patient fell'" in err
    assert f"there is no {tmp_path / 'clips' / 'sub' / 'labels.txt'} to number its site classes" in err
    assert "--labels names the map" in err
    assert main(["export", str(tmp_path / "clips"), str(tmp_path / "out2"), "--labels",
                 str(tmp_path / "clips" / "labels.txt")]) == 0


def test_an_exported_action_keeps_its_first_frame_and_no_frame_after_it(tmp_path: Path) -> None:
    """An interval's times are kept to 0.1 ms, frames' to 1 us: a kick from frame 377 to 423 at 30 fps
    (12.5667-14.1333 s) was exported from frame 378, as training cut it before (a replay labels 377)."""
    clips = tmp_path / "clips"
    with Recorder(clips, sample_name="live_20261207_150000", config=CONFIG) as rec:
        for i in range(450):
            rec.write(make_frame(i % 20, i / 30, colour=False))
    assert main(["label", str(rec.files.skeleton), "--class", "kicking", "--from", f"{377 / 30:.4f}",
                 "--to", f"{424 / 30:.4f}"]) == 0
    assert main(["export", str(clips), str(tmp_path / "out"), "--max-frames", "300"]) == 0
    (exported,) = (tmp_path / "out" / SKELETONS).glob("*.skeleton")
    assert len(read_skeleton(exported).frames) == 47  # frames 377-423
