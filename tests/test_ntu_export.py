"""python -m recordings export: the site's labelled clips as NTU RGB+D samples other tools read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_recorder import make_frame

from recordings.__main__ import main
from recordings.labels import read_label_map
from recordings.ntu import read_skeleton
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
    names = sorted(p.stem for p in out.glob("*.skeleton"))
    # The marked clip: S its session, C 1, P 0 (not known); the whole clip keeps its S, C and P, and its
    # 650 frames are three pieces; R counts the samples of one S, C, P and A.
    assert names == ["S001C001P000R001A121", "S001C001P000R001A122", "S002C003P007R001A121",
                     "S002C003P007R002A121", "S002C003P007R003A121"]
    classes = read_label_map(out / "labels.txt")
    assert classes.names == {121: "patient fell", 122: "drinking"}
    lengths = {name: read_skeleton(out / f"{name}.skeleton").num_frames for name in names}
    assert lengths["S001C001P000R001A121"] == 60 and lengths["S001C001P000R001A122"] == 280
    assert [lengths[f"S002C003P007R00{r}A121"] for r in (1, 2, 3)] == [217, 217, 216]
    # The frames are the clip's own, from the interval's first frame on.
    source, sample = read_skeleton(marked), read_skeleton(out / "S001C001P000R001A121.skeleton")
    assert np.array_equal(sample.frames[0][0].joints, source.frames[30][0].joints)
    assert np.array_equal(sample.frames[-1][0].joints, source.frames[89][0].joints)
    rows = (out / "samples.tsv").read_text().splitlines()
    assert rows[0] == "sample\tclass\tclip\tstart_s\tend_s\tframes"
    assert "S001C001P000R001A122\tdrinking\tlive_20261205_120000\t4.000\t13.333\t280" in rows
    assert "S002C003P007R003A121\tpatient fell\tS002C003P007R001A121" in "\n".join(rows)
    assert all(SampleName.parse(name) for name in names)
    assert "5 samples in" in capsys.readouterr().out
    assert whole.is_file() and marked.is_file()  # the clips themselves are left as they were


def test_a_body_that_comes_back_after_a_gap_gets_a_new_id(tmp_path: Path) -> None:
    # CTR-GCN lays a body's frames out one after another from its first: a body id missing for a few
    # frames and back (the simulator's tracker keeps it) put that body's later poses on the wrong frames.
    clips = tmp_path / "clips"
    clip = record(clips, 40, label="patient fell", bodies=lambda i: 1 if 10 <= i < 13 else 2)
    assert main(["export", str(clips), str(tmp_path / "out")]) == 0
    frames = read_skeleton(tmp_path / "out" / "S001C001P000R001A121.skeleton").frames
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
    assert "A121 is 'drinking' here but 'patient fell' in a clip exported before it" in captured.err
    assert "ward4" in captured.err
    assert [p.name for p in (tmp_path / "out").glob("*.skeleton")] == ["S001C001P000R001A121.skeleton"]
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
    assert "no labelled action to export" in capsys.readouterr().out
