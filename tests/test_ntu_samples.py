from __future__ import annotations

import re
from pathlib import Path

import pytest

from recordings.labels import read_label_map
from recordings.ntu_samples import (
    NTU60_CLASSES,
    NTU60_TRAINING_CAMERAS,
    NTU60_TRAINING_SUBJECTS,
    NTU120_CLASSES,
    NTU120_TRAINING_SETUPS,
    NTU120_TRAINING_SUBJECTS,
    Protocol,
    SampleName,
    in_protocol,
    is_training_sample,
    read_missing_samples,
    split_samples,
)

A001 = "S001C001P001R001A001"


# -------------------------------------------------------------------------------------------- names


def test_sample_name_parse_and_str():
    name = SampleName.parse("S017C003P020R002A058")
    assert (name.setup, name.camera, name.performer, name.replication, name.action) == (17, 3, 20, 2, 58)
    assert str(name) == "S017C003P020R002A058" and name.label == 57
    assert name.skeleton_filename == "S017C003P020R002A058.skeleton"
    assert name.rgb_filename == "S017C003P020R002A058_rgb.avi"
    for text in (
        "/data/nturgb+d_rgb/S017C003P020R002A058_rgb.avi",
        "S017C003P020R002A058.skeleton",
        Path("x") / "S017C003P020R002A058.skeleton",
        r"C:\ntu\S017C003P020R002A058_rgb.avi",
    ):
        assert SampleName.parse(text) == name
    assert SampleName.parse("S032C003P106R002A120") == SampleName(32, 3, 106, 2, 120)
    for parts in ((1000, 1, 1, 1, 1), (1, -1, 1, 1, 1)):  # written in three digits, or not at all
        with pytest.raises(ValueError, match="outside 0-999"):
            SampleName(*parts)
    for bad in ("S01C003P020R002A058", "xS017C003P020R002A058", "S017C003P020R002A0581", "", "S017/C003"):
        with pytest.raises(ValueError, match="expected an NTU sample name"):
            SampleName.parse(bad)
    names = ["S002C001P001R001A001", "S001C003P001R001A002", "S001C001P001R002A001"]
    assert [str(n) for n in sorted(map(SampleName.parse, names))] == sorted(names)


def test_class_names_files_and_constants(ntu_dir):
    ntu60 = read_label_map(ntu_dir / "ntu60_class_names.txt", site=False).class_names
    ntu120 = read_label_map(ntu_dir / "ntu120_class_names.txt", site=False).class_names
    assert ntu120 == list(NTU120_CLASSES) and len(NTU120_CLASSES) == 120
    assert ntu60 == list(NTU60_CLASSES) == ntu120[:60]
    assert NTU120_CLASSES[0] == "drink water" and NTU120_CLASSES[57] == "handshaking"


# ----------------------------------------------------------------------------------------- protocols


def _numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", text)}


def test_protocol_constants_match_the_splits_file(ntu_dir):
    text = (ntu_dir / "ntu_splits.txt").read_text()
    sections = dict(re.findall(r"\[([^\]]+)\]\n(.*?)(?=\n\[|\Z)", text, re.S))
    assert len(sections) == 5

    def value(section: str, key: str) -> str:
        return re.search(rf"^{key}\s*=\s*([^(#\n]*)", sections[section], re.M).group(1)

    assert _numbers(value("NTU60 cross-subject (X-Sub / CS)", "train_subjects")) == NTU60_TRAINING_SUBJECTS
    test_subjects = _numbers(value("NTU60 cross-subject (X-Sub / CS)", "test_subjects"))
    assert (
        test_subjects | NTU60_TRAINING_SUBJECTS == set(range(1, 41))
        and not test_subjects & NTU60_TRAINING_SUBJECTS
    )
    assert _numbers(value("NTU60 cross-view (X-View / CV)", "train_cameras")) == NTU60_TRAINING_CAMERAS
    assert _numbers(value("NTU60 cross-view (X-View / CV)", "test_cameras")) == {1}
    assert _numbers(value("NTU120 cross-subject (X-Sub)", "train_subjects")) == NTU120_TRAINING_SUBJECTS
    assert _numbers(value("NTU120 cross-setup (X-Set)", "train_setups")) == NTU120_TRAINING_SETUPS
    assert NTU120_TRAINING_SETUPS == {s for s in range(1, 33) if s % 2 == 0}


def test_protocol_sample_counts_agree_with_the_splits_file(ntu_dir):
    """The file's counts after removing the 302 missing samples follow from the full-set sizes.

    NTU RGB+D 60 has 56,880 samples; cross-subject splits them 40,320 / 16,560 (Shahroudy et al. 2016)
    and cross-view 2/3 : 1/3, since all three cameras record every performance.
    """
    text = (ntu_dir / "ntu_splits.txt").read_text()
    stated = [
        tuple(int(n.replace(",", "")) for n in match)
        for match in re.findall(r"([\d,]+) train / ([\d,]+) test", text)
    ]
    missing = [
        SampleName.parse(n)
        for n in read_missing_samples(ntu_dir / "NTU_RGBD_samples_with_missing_skeletons.txt")
    ]
    full_sizes = {Protocol.cross_subject_60: (40_320, 16_560), Protocol.cross_view_60: (37_920, 18_960)}
    for (protocol, (train_size, test_size)), (train_stated, test_stated) in zip(
        full_sizes.items(), stated, strict=True
    ):
        train, test = split_samples(missing, protocol)
        assert (train_size - len(train), test_size - len(test)) == (train_stated, test_stated), protocol
    assert sum(stated[0]) == 56_880 - 302


def test_is_training_sample():
    first = SampleName.parse("S001C001P001R001A001")
    assert is_training_sample(first, Protocol.cross_subject_60)
    assert not is_training_sample(first, Protocol.cross_view_60)
    assert is_training_sample(first, Protocol.cross_subject_120)
    assert not is_training_sample(first, Protocol.cross_setup_120)
    other = SampleName.parse("S002C002P003R002A013")
    assert [is_training_sample(other, p) for p in Protocol] == [False, True, False, True]
    late = SampleName.parse("S018C001P045R001A061")
    assert not in_protocol(late, Protocol.cross_view_60) and in_protocol(late, Protocol.cross_setup_120)
    with pytest.raises(ValueError, match="S018C001P045R001A061 is not a sample of the cross_subject_60"):
        is_training_sample(late, Protocol.cross_subject_60)
    assert is_training_sample(late, Protocol.cross_subject_120)
    assert Protocol("cross_view_60") is Protocol.cross_view_60
    assert [p.num_classes for p in Protocol] == [60, 60, 120, 120]
    train, test = split_samples([first, other, late], Protocol.cross_view_60, excluded={str(other)})
    assert (train, test) == ([], [first])


def test_missing_sample_lists(ntu_dir, tmp_path):
    ntu60 = read_missing_samples(ntu_dir / "NTU_RGBD_samples_with_missing_skeletons.txt")
    ntu120 = read_missing_samples(ntu_dir / "NTU_RGBD120_samples_with_missing_skeletons.txt")
    assert len(ntu60) == 302 and len(ntu120) == 535 and ntu60 <= ntu120
    for name in ntu120:
        parsed = SampleName.parse(name)
        assert str(parsed) == name and in_protocol(parsed, Protocol.cross_setup_120)
    assert all(in_protocol(SampleName.parse(n), Protocol.cross_subject_60) for n in ntu60)

    headerless = tmp_path / "noheader.txt"
    headerless.write_text("S001C002P005R002A008\nS001C002P006R001A008\n")
    assert read_missing_samples(headerless) == {"S001C002P005R002A008", "S001C002P006R001A008"}
    wrong_count = tmp_path / "count.txt"
    wrong_count.write_text("3 of the captured samples are bad.\nignore them\n\nS001C002P005R002A008\n")
    with pytest.raises(ValueError, match="header says 3 samples, the list holds 1"):
        read_missing_samples(wrong_count)
    bad_name = tmp_path / "bad.txt"
    bad_name.write_text("1 of the captured samples\n\n\nS001C002P005R002A08\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 4: expected a sample name"):
        read_missing_samples(bad_name)


def test_prepare_leaves_out_the_missing_skeleton_list_it_is_given(tmp_path, capsys):
    """`training prepare` told the user to "set data.missing_list", which prepare has no config to read: the
    list kept elsewhere could not be given, and a mistyped data.missing_list was passed over with a note
    about the list beside the dataset."""
    from training.__main__ import main
    from training.data import DatasetError
    from training.datasets import prepare_tasks
    from training.datasets.ntu import missing_samples

    root = tmp_path / "ntu"
    (root / "nturgb+d_skeletons").mkdir(parents=True)
    for name in ("S001C001P001R001A001", "S001C002P005R002A008"):
        (root / "nturgb+d_skeletons" / f"{name}.skeleton").write_text("0\n")
    official = tmp_path / "lists" / "missing.txt"
    official.parent.mkdir()
    official.write_text("S001C002P005R002A008\n")
    names = [t.name for t in prepare_tasks("ntu60", root, rgb=False, missing_list=str(official))]
    assert names == ["S001C001P001R001A001"]
    assert len(prepare_tasks("ntu60", root, rgb=False)) == 2
    assert "prepare's --missing-list" in capsys.readouterr().out
    with pytest.raises(DatasetError, match=r"missing\.txt\.bak: no such file \(the missing-skeleton list"):
        missing_samples(root, "ntu60", str(official) + ".bak")
    with pytest.raises(SystemExit):
        main(["prepare", "--dataset", "ntu60", "--root", str(root), "--out", str(tmp_path / "cache"),
              "--skeleton-only", "--missing-list", str(official) + ".bak"])
    assert "missing.txt.bak" in capsys.readouterr().err
    # Without --missing-list prepare runs as before (the option's default was once checked as a file: the
    # current folder, "a folder, not a file", and every prepare of the READMEs stopped).
    out = tmp_path / "cache"
    main(["prepare", "--dataset", "ntu60", "--root", str(root), "--out", str(out), "--skeleton-only",
          "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert "--missing-list" not in err and (out / "failed.txt").is_file()


def test_a_model_trained_with_a_missing_list_elsewhere_evaluates_here(tmp_path, capsys):
    """The checkpoint records data.missing_list as the training machine named it: evaluated on another
    machine, every evaluation stopped ("no such file"), with no option to name this machine's copy."""
    from training.config import DataConfig
    from training.evaluate import recorded_data_here

    trained = DataConfig(dataset="ntu60", root=str(tmp_path), missing_list="/train-box/missing.txt")
    assert recorded_data_here(trained).missing_list == ""
    assert "/train-box/missing.txt, the missing-skeleton list the model trained with, is not here" in (
        capsys.readouterr().out)
    here = tmp_path / "missing.txt"
    here.write_text("S001C002P005R002A008\n")
    assert recorded_data_here(DataConfig(dataset="ntu60", missing_list=str(here))).missing_list == str(here)
