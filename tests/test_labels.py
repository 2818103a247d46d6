"""Site label maps next to NTU's classes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recordings.labels import (
    LabelMap,
    LabelMapError,
    ntu_label_map,
    parse_label_map,
    read_label_map,
    write_label_map,
)
from recordings.ntu_samples import NTU120_CLASSES

REPO = Path(__file__).resolve().parents[1]

SITE = "# ward 3\n\nA121\tpatient fell\r\nA123\tpatient leaves bed\n"


def test_site_label_map_parses_and_looks_up() -> None:
    labels = parse_label_map(SITE, "labels.txt")
    assert labels.names == {121: "patient fell", 123: "patient leaves bed"}
    assert labels.action_id("patient leaves bed") == 123
    assert labels.action_id("A121") == labels.action_id("121") == labels.action_id(121) == 121
    assert labels.name(123) == "patient leaves bed" and labels.class_index(123) == 1
    with pytest.raises(KeyError, match="unknown label 'dance'; the label map has A121 'patient fell'"):
        labels.action_id("dance")
    with pytest.raises(KeyError, match="A124"):
        labels.name(124)


def test_classes_are_in_id_order_however_they_are_listed() -> None:
    # The class order is the classifier's output order: a map written or built out of id order must
    # still give A121 output 0, or a model trained on one listing reads another's outputs wrongly.
    built = LabelMap({123: "patient leaves bed", 121: "patient fell", 122: "patient drinks"})
    assert built.action_ids == [121, 122, 123]
    assert built.class_names == ["patient fell", "patient drinks", "patient leaves bed"]
    assert [built.class_index(i) for i in (121, 122, 123)] == [0, 1, 2]
    listed = parse_label_map("A123\tpatient leaves bed\nA121\tpatient fell\n", "labels.txt")
    assert listed.class_names == ["patient fell", "patient leaves bed"] and listed.class_index(121) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A121 patient fell\n", r"labels.txt: line 1: expected 'A<number><TAB><class name>'"),
        ("# x\nA043\tfalling\n", r"labels.txt: line 2: site classes start at A121 .* got A043"),
        ("A121\ta\nA121\tb\n", r"line 2: A121 is listed twice"),
        ("A121\ta\nA122\ta\n", r"line 2: class name 'a' is listed twice \(line 1 too\)"),
        # "Café" typed as e + a combining accent once (an earlier version took it for a new class).
        ("A121\tCaf\u00e9\nA122\tCafe\u0301\n",
         r"line 2: class name 'Cafe.' \('Cafe\\u0301' here\) is listed twice \(line 1 too\)"),
        ("A121\t \n", r"line 1: expected"),
        ("A1000\tfoo\n", r"line 1: A-numbers go up to A999, got A1000"),
    ],
)
def test_malformed_label_maps_name_the_line(text: str, message: str) -> None:
    with pytest.raises(LabelMapError, match=message):
        parse_label_map(text, "labels.txt")


def test_round_trip_and_merge_with_ntu(tmp_path: Path, shared_data: Path) -> None:
    site = parse_label_map(SITE)
    path = tmp_path / "labels.txt"
    write_label_map(path, site, header="ward 3")
    assert read_label_map(path) == site
    ntu_file = shared_data / "ntu" / "ntu120_class_names.txt"
    combined = read_label_map(ntu_file, site=False).merged(read_label_map(path))
    assert len(combined) == 122 and combined.name(43) == "falling" and combined.name(121) == "patient fell"
    assert combined.class_index(121) == 120 and combined.class_names[-1] == "patient leaves bed"
    assert combined == ntu_label_map(read_label_map(ntu_file, site=False).class_names).merged(site)
    assert LabelMap({i: n for i, n in combined.names.items() if i >= 121}) == site  # site classes kept whole
    assert ntu_label_map(list(NTU120_CLASSES)).name(120).startswith("finger-guessing")
    with pytest.raises(ValueError, match="A121 is 'patient fell' in one label map and 'other'"):
        combined.merged(LabelMap({121: "other"}))


# ---- appending a site class (python -m live --record --label, python -m recordings label) -----------


def test_ensure_label_appends_new_classes_after_the_highest_id(tmp_path: Path) -> None:
    from recordings.labels import ensure_label

    path = tmp_path / "labels.txt"
    path.write_text(SITE.replace("\r\n", "\n").rstrip("\n"))  # no final newline: kept apart anyway
    label_map, action_id, added = ensure_label(path, "patient leaves bed")
    assert (action_id, added) == (123, False) and len(label_map) == 2
    assert ensure_label(path, "A121")[1:] == (121, False)
    label_map, action_id, added = ensure_label(path, "  raise both arms ")
    assert (action_id, added) == (124, True) and label_map.name(124) == "raise both arms"
    assert path.read_text() == (
        "# ward 3\n\nA121\tpatient fell\nA123\tpatient leaves bed\nA124\traise both arms\n"
    )
    assert read_label_map(path).names[124] == "raise both arms"
    created = tmp_path / "new" / "labels.txt"
    assert ensure_label(created, "patient fell")[1:] == (121, True)  # A121 and up
    assert created.read_text() == "A121\tpatient fell\n"
    # No temporary left; the lock that keeps two processes from adding classes at once stays.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.txt", "labels.txt.lock", "new"]


def test_a_new_class_takes_no_number_a_clip_of_the_folder_is_named_by(tmp_path: Path) -> None:
    """labels.txt cut short lost A122-A130 while clips named ...A123 stayed: the next new class took A123,
    and a clip of phone_left became one of the new class."""
    from recordings.labels import ensure_label

    (tmp_path / "labels.txt").write_text("A121\tdrink_left\nA122\tdrink_rig")  # cut mid-line
    for name in ("S002C001P001R001A123", "S002C001P001R001A130", "live_20261205_030000"):
        (tmp_path / f"{name}.skeleton").write_text("0\n")
    assert ensure_label(tmp_path / "labels.txt", "brand new thing")[1:] == (131, True)


@pytest.mark.parametrize(("label", "message"), [
    ("A125", "name a new class by its name"), ("a125", "name a new class by its name"),
    ("two\tcolumns", "without tabs"), ("  ", "non-empty"),
    # Line breaks that are not \n (labels.txt's lines split there) and characters nobody sees.
    ("fall\fdown", "line breaks"), ("fall\rdown", "line breaks"), ("fall\u2028down", "line breaks"),
    ("x\x1b[31mred", "invisible"), ("fall\u200bdown", "invisible"), ("fall\u00addown", "invisible"),
    ("fall\u202edown", "invisible"),
], ids=["A-number", "a-number", "tab", "blank", "form-feed", "carriage-return", "line-separator", "escape",
        "zero-width-space", "soft-hyphen", "right-to-left-override"])
def test_ensure_label_refuses_what_cannot_be_a_class(tmp_path: Path, label: str, message: str) -> None:
    from recordings.labels import ensure_label

    path = tmp_path / "labels.txt"
    path.write_bytes(SITE.encode())
    with pytest.raises(LabelMapError, match=message):
        ensure_label(path, label)
    assert path.read_bytes() == SITE.encode()


def test_a_class_is_one_class_however_its_accents_or_its_a_number_are_typed(tmp_path: Path) -> None:
    """"Café" typed on a Mac (e + combining accent) looks the same as the composed one: it is the same
    class. "a121" is A121, not a new class named "a121"."""
    from recordings.labels import ensure_label

    path = tmp_path / "labels.txt"
    composed, decomposed = "Caf\u00e9 break", "Cafe\u0301 break"
    label_map, action_id, added = ensure_label(path, decomposed)
    assert added and label_map.name(action_id) == composed  # written composed
    assert ensure_label(path, composed)[1:] == (action_id, False)
    assert ensure_label(path, f"a{action_id}")[1:] == (action_id, False)
    # A class an older version let be named like another's number: which is meant is asked, not guessed.
    numbered_alike = LabelMap({121: "patient fell", 122: "a121"})
    with pytest.raises(LabelMapError, match="'a121' is the name of A122 and the number of A121: give"):
        numbered_alike.action_id("a121")
    assert numbered_alike.action_id("A122") == 122 and numbered_alike.action_id("patient fell") == 121
    assert ensure_label(path, "Caf\u00e9\u00a0break\u00a0")[1:] == (action_id, False)  # no-break spaces
    assert path.read_text(encoding="utf-8").count("break") == 1
    # Words spelt with zero-width joiners (Persian "falls", an emoji sequence) are names like any other.
    for name in ("\u0645\u06cc\u200c\u0627\u0641\u062a\u062f", "\U0001f9d1\u200d\u2695\ufe0f help"):
        label_map, action_id, added = ensure_label(path, name, similar_ok=True)
        assert added and label_map.name(action_id) == name


def test_a_lock_that_cannot_be_opened_is_named_as_the_lock(tmp_path: Path) -> None:
    """A labels.txt.lock another user made (0644 on a share), or a folder of that name: the error named
    labels.txt, which was never the problem, or a hidden temporary file."""
    from recordings.labels import ensure_label

    (tmp_path / "labels.txt.lock").mkdir()
    with pytest.raises(OSError, match="the lock for changing labels.txt cannot be opened") as refused:
        ensure_label(tmp_path / "labels.txt", "new class")
    assert refused.value.filename == str(tmp_path / "labels.txt.lock")
    assert str(refused.value).startswith(f"{tmp_path / 'labels.txt.lock'}: ")  # the path first, not "[Errno"
    with pytest.raises(LabelMapError, match=r"has U\+200B \(ZERO WIDTH SPACE\)"):  # which one, named
        ensure_label(tmp_path / "labels.txt", "fall\u200bdown")


def test_a_failed_append_leaves_the_label_map_as_it_was(tmp_path: Path, monkeypatch) -> None:
    import os

    from recordings import atomic
    from recordings.labels import ensure_label

    path = tmp_path / "labels.txt"
    path.write_bytes(SITE.encode())

    def power_cut(*_: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(atomic.os, "replace", power_cut)
    with pytest.raises(OSError, match="disk gone"):
        ensure_label(path, "raise both arms")
    monkeypatch.setattr(atomic.os, "replace", os.replace)
    assert path.read_bytes() == SITE.encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.txt", "labels.txt.lock"]  # no temporary


def test_a_label_map_saved_by_notepad_or_not_as_utf8(tmp_path: Path) -> None:
    from recordings.labels import read_label_map

    path = tmp_path / "labels.txt"
    path.write_bytes("\ufeffA121\tcafé\n".encode())  # UTF-8 with the BOM Windows editors write
    assert read_label_map(path).names == {121: "café"}
    path.write_bytes("A121\tcafé\n".encode("latin-1"))
    with pytest.raises(LabelMapError, match=r"labels.txt: byte 8: not UTF-8 text"):
        read_label_map(path)


def test_a_site_class_named_like_an_ntu_class_is_the_sites() -> None:
    """A site's "falling" (A121) and NTU's (A043) merged: one class "falling", the one the site's clips
    carry, so that the name finds its clips and no two classes share a name."""
    from recordings.labels import LabelMap, ntu_label_map

    merged = ntu_label_map(list(NTU120_CLASSES)).merged(LabelMap({121: "falling", 122: "patient drinks"}))
    assert merged.name(121) == "falling" and 43 not in merged.names
    assert len(merged.names) == 121 and list(merged.names.values()).count("falling") == 1



ADD_WHEN_TOLD = """
import sys, time
from pathlib import Path
from recordings.labels import ensure_label
print("ready", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
print(ensure_label(sys.argv[1], sys.argv[3])[1])
"""


def test_classes_added_by_several_processes_at_once_each_keep_their_own_number(tmp_path: Path) -> None:
    """A window marking an action and `recordings label` in another terminal add classes at the same
    moment: each gets a number of its own and labels.txt keeps every name under it."""
    path, go = tmp_path / "labels.txt", tmp_path / "go"
    names = [f"site action {k}" for k in range(4)]
    adders = [subprocess.Popen([sys.executable, "-c", ADD_WHEN_TOLD, str(path), str(go), name], cwd=REPO,
                               stdout=subprocess.PIPE, text=True) for name in names]
    for adder in adders:
        assert adder.stdout.readline() == "ready\n"
    go.touch()  # all at once
    given = {name: int(adder.communicate(timeout=60)[0]) for name, adder in zip(names, adders, strict=True)}
    assert sorted(given.values()) == [121, 122, 123, 124]
    assert read_label_map(path).names == {number: name for name, number in given.items()}


def test_a_share_that_cannot_lock_still_takes_a_new_class(tmp_path: Path, monkeypatch, caplog) -> None:
    """NFS without lockd answers ENOLCK: not another process holding the lock, so no ten seconds' wait
    and no refusal, but the class added unlocked (as before there was a lock), with a warning."""
    import errno

    from recordings.labels import ensure_label

    fcntl = pytest.importorskip("fcntl")  # POSIX; Windows locks another way

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with caplog.at_level("WARNING", "core.locks"):
        assert ensure_label(tmp_path / "labels.txt", "patient fell")[1:] == (121, True)
    assert "labels.txt.lock: cannot be locked here" in caplog.text


def test_a_table_of_class_names_in_any_script_keeps_its_columns() -> None:
    # A CJK character takes two terminal columns: padded by characters, its row's figures moved right.
    import numpy as np

    from recordings.labels import columns_of, in_columns
    from training.evaluation import Report, format_report

    assert (in_columns("转身", 6), in_columns("Patient gestürzt", 10), in_columns("转身转身", 5)) == (
        "转身  ", "Patient ge", "转身 ")
    names = ["转身", "Patient gestürzt", "drinking"]
    report = Report(0.5, 1.0, [(name, 4, 0.5) for name in names], np.eye(3), None, [])
    rows = format_report(report, "title").splitlines()[-3:]
    assert len({columns_of(row) for row in rows}) == 1 and all(row.endswith("4    50.0%") for row in rows)


def test_a_new_class_naming_a_known_action_in_other_words_is_said() -> None:
    # A newcomer's site classes "patient fell" and "drinking" were trained beside the demo model's own
    # fall_down and drink_right without a word: each took windows of the other, and the alert stayed
    # on fall_down.
    from recordings.labels import related_names
    from recordings.ntu_samples import NTU120_CLASSES
    from training.demo import DEMO_CLASSES
    from training.finetune import second_names

    assert related_names("patient fell", DEMO_CLASSES) == ["fall_down"]
    assert related_names("drinking", DEMO_CLASSES) == ["drink_left", "drink_right"]
    assert related_names("waves", DEMO_CLASSES) == ["wave_left", "wave_right"]
    for unrelated in ("raise both arms", "patient leaves bed", "coughing", "taking off a shoe"):
        assert related_names(unrelated, DEMO_CLASSES) == [], unrelated
    assert related_names("taking off a shoe", NTU120_CLASSES) == ["take off a shoe", "wear a shoe"]
    assert related_names("handshaking", NTU120_CLASSES) == ["handshaking"]  # not "hand waving"
    assert related_names("sitting", DEMO_CLASSES) == ["sit_down"] and related_names("waving", DEMO_CLASSES)
    # Where or with what is not the action: "turn left" is not drink_left, "lies down" not sit_down.
    for unrelated in ("turn left", "raise right hand", "patient lies down", "taking pills", "handing over"):
        assert related_names(unrelated, DEMO_CLASSES + tuple(NTU120_CLASSES)) == [], unrelated
    notes = second_names(["patient fell", "raise both arms"], list(DEMO_CLASSES))
    assert notes == ["new class 'patient fell' is close in words to the base model's 'fall_down': it is "
                     "learnt beside it, competing for the same windows. To teach 'fall_down' with the site's "
                     "clips instead, label them 'fall_down'"]


def test_a_label_map_given_the_other_way_round_says_how_it_is_given() -> None:
    """{"fell": 121} (name first) failed with "'<' not supported between instances of 'str' and 'int'"."""
    from recordings.labels import LabelMap

    said = r"takes \{action id: class name\}, e.g. \{121: 'fell'\}; got 'fell': 121"
    with pytest.raises(TypeError, match=said):
        LabelMap({"fell": 121})
