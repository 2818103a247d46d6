from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.skeleton import SENSOR_REACH_M
from recordings import ntu
from recordings.ntu import (
    NtuBody,
    SkeletonFile,
    SkeletonFormatError,
    format_skeleton,
    parse_skeleton,
    read_skeleton,
    write_skeleton,
)
from recordings.ntu_samples import SampleName

A001 = "S001C001P001R001A001"

# The table in ../shared/data/README.md: file stem -> (frames, bodies a frame may hold, most bodies).
README_TABLE = {
    "S001C001P001R001A001": (103, {1}, 1),
    "S001C001P001R001A011": (82, {1}, 1),
    "S002C001P003R001A003": (100, {1}, 1),
    "S003C001P015R001A034": (71, {1}, 1),
    "S001C001P001R001A050": (74, {1, 2}, 2),  # "up to 2"
    "S001C003P008R002A058": (70, {2}, 2),
}
README_S017 = ("S017C003P020R002A054", "S017C003P020R002A055", "S017C003P020R002A057", "S017C003P020R002A058")


@pytest.fixture(scope="module")
def skeleton_paths(ntu_dir: Path) -> list[Path]:
    paths = sorted((ntu_dir / "skeletons").iterdir())
    assert len(paths) == 11, [p.name for p in paths]
    return paths


def naive_read(path: Path) -> list[list[tuple[list[str], np.ndarray]]]:
    """An independent, obvious reader: body-line tokens as text, joints as float64 (25, 12)."""
    lines = iter(path.read_text().splitlines())
    frames = []
    for _ in range(int(next(lines))):
        frame = []
        for _ in range(int(next(lines))):
            body = next(lines).split()
            assert next(lines).strip() == "25"
            joints = np.array([[float(x) for x in next(lines).split()] for _ in range(25)])
            frame.append((body, joints))
        frames.append(frame)
    assert all(not line.strip() for line in lines)
    return frames


# ------------------------------------------------------------------------------------ real .skeleton files


def test_every_real_file_reads_to_the_values_in_its_text(skeleton_paths):
    for path in skeleton_paths:
        skeleton = read_skeleton(path)
        expected = naive_read(path)
        assert skeleton.num_frames == len(expected)
        for bodies, expected_bodies in zip(skeleton.frames, expected, strict=True):
            assert len(bodies) == len(expected_bodies)
            for body, (fields, joints) in zip(bodies, expected_bodies, strict=True):
                assert str(body.body_id) == fields[0] and body.body_id > 2**53  # exact beyond float64
                assert body.body_fields()[1:] == tuple(float(x) for x in fields[1:])
                assert body.joints.dtype == np.float64 and body.joints.shape == (25, 12)
                assert np.array_equal(body.joints, joints)


def test_every_real_file_round_trips_exactly(skeleton_paths, tmp_path):
    for path in skeleton_paths:
        original = path.read_bytes()
        skeleton = read_skeleton(path)
        # Written again, the file comes out byte for byte as published (line ending included).
        assert format_skeleton(skeleton) == original, path.name
        copy = tmp_path / path.name
        write_skeleton(copy, skeleton)
        again = read_skeleton(copy)
        assert again.frames == skeleton.frames and again.line_ending == skeleton.line_ending


def test_fast_and_line_parsers_agree_on_real_files(skeleton_paths):
    for path in skeleton_paths:
        data = path.read_bytes()
        assert ntu._parse_regular(data) == ntu._parse_lines(data, path)


def test_a_real_two_person_file_with_one_joint_no_sensor_measures_is_refused_at_its_line(ntu_dir, tmp_path):
    """The real handshake clip (two bodies a frame, CRLF) with frame 3's second body's right hand at 1e30 m,
    as a damaged copy would have it (replayed, it read as a confident "pat on back"): refused, naming the
    physical line, with CRLF as released and LF as a re-saved copy has it."""
    lines = (ntu_dir / "skeletons" / "S001C003P008R002A058.skeleton").read_bytes().decode().split("\r\n")
    # Line 1 the frame count; a frame: its body count, then per body a body line, "25" and 25 joint lines.
    line = 1 + (1 + 2 * 27) * 2 + 1 + 27 + 2 + 12  # frame 3, body 2, joint 12 (HandRight)
    fields = lines[line - 1].split(" ")
    fields[0] = "1e30"
    lines[line - 1] = " ".join(fields)
    for ending in ("\r\n", "\n"):
        damaged = tmp_path / "S001C003P008R002A058.skeleton"
        damaged.write_bytes(ending.join(lines).encode())
        with pytest.raises(SkeletonFormatError) as raised:
            read_skeleton(damaged)
        assert raised.value.line == line == 153
        assert "frame 3, body 2, joint 12 (HandRight): (1e+30, " in str(raised.value)
        assert str(raised.value).endswith("m is beyond any sensor's reach (10 m)")


def test_frame_and_body_counts_match_the_readme(ntu_dir):
    for stem, (frames, allowed, most) in README_TABLE.items():
        skeleton = read_skeleton(ntu_dir / "skeletons" / f"{stem}.skeleton")
        counts = [len(bodies) for bodies in skeleton.frames]
        assert skeleton.num_frames == frames and set(counts) <= allowed and max(counts) == most, stem
        assert skeleton.sample_name == SampleName.parse(stem)
    s017 = [read_skeleton(ntu_dir / "skeletons" / f"{stem}.skeleton") for stem in README_S017]
    assert all(len(bodies) == 2 for skeleton in s017 for bodies in skeleton.frames)
    assert min(s.num_frames for s in s017) == 42 and max(s.num_frames for s in s017) == 76


def test_lf_and_crlf_versions_parse_to_identical_values(ntu_dir):
    crlf_path = ntu_dir / "skeletons" / f"{A001}.skeleton"
    lf_path = ntu_dir / "skeletons" / f"{A001}_LF.skeleton.txt"
    crlf, lf = read_skeleton(crlf_path), read_skeleton(lf_path)
    assert crlf.line_ending == "\r\n" and lf.line_ending == "\n"
    assert crlf.frames == lf.frames and crlf.num_frames == 103
    assert format_skeleton(lf, line_ending="\r\n") == crlf_path.read_bytes()
    assert format_skeleton(crlf, line_ending="\n") == lf_path.read_bytes()


def test_arrays_of_a_one_body_clip(ntu_dir):
    skeleton = read_skeleton(ntu_dir / "skeletons" / f"{A001}.skeleton")
    arrays = skeleton.arrays()
    assert arrays.xyz.shape == (103, 2, 25, 3) and arrays.xyz.dtype == np.float32
    assert arrays.color.shape == (103, 2, 25, 2) and arrays.color.dtype == np.float32
    assert arrays.states.shape == (103, 2, 25) and arrays.states.dtype == np.int8
    assert arrays.body_ids.tolist() == [72057594037931101, 0]
    assert arrays.present[:, 0].all() and not arrays.present[:, 1].any()
    assert not arrays.xyz[:, 1].any() and not arrays.color[:, 1].any() and not arrays.states[:, 1].any()
    body = skeleton.frames[10][0]
    np.testing.assert_array_equal(arrays.xyz[10, 0], body.joints[:, :3].astype(np.float32))
    np.testing.assert_array_equal(arrays.color[10, 0], body.joints[:, 5:7].astype(np.float32))
    np.testing.assert_array_equal(arrays.states[10, 0], body.states)
    assert set(np.unique(arrays.states[:, 0])) <= {0, 1, 2}


def test_arrays_of_two_body_clips_put_the_most_active_body_first(skeleton_paths):
    for path in skeleton_paths:
        skeleton = read_skeleton(path)
        arrays = skeleton.arrays(max_bodies=2)
        if arrays.body_ids[1] == 0:
            continue
        energies = []
        for slot, body_id in enumerate(arrays.body_ids.tolist()):
            xyz = np.stack(
                [b.joints[:, :3] for bodies in skeleton.frames for b in bodies if b.body_id == body_id]
            )
            assert len(xyz) == arrays.present[:, slot].sum()
            energies.append(np.var(xyz, axis=0).sum())
        assert energies[0] >= energies[1], path.name


# --------------------------------------------------------------------------------- synthetic skeletons


def make_body(body_id: int, offset: float = 0.0, state: int = 2) -> NtuBody:
    joints = np.zeros((25, 12))
    joints[:, 0] = np.linspace(-0.5, 0.5, 25) + offset
    joints[:, 1] = np.linspace(-0.9, 0.8, 25)
    joints[:, 2] = 3.0 + offset / 10
    joints[:, 3:5] = [250.5, 190.25]
    joints[:, 5:7] = [1000.125, 500.0625]
    joints[:, 7] = 1.0
    joints[:, 11] = state
    return NtuBody(body_id, 0, 1, 1, 1, 1, 0, 0.02764709, -1.5e-05, 2, joints)


def test_arrays_match_bodies_by_id_and_drop_the_least_active():
    still, busy, medium = 72057594037931101, 72057594037931102, 2**64 - 1
    frames = []
    for t in range(6):
        bodies = [make_body(busy, offset=0.3 * t), make_body(still), make_body(medium, offset=0.05 * t)]
        if t % 2:
            bodies.reverse()  # order inside a frame must not matter
        if t == 4:
            bodies = [b for b in bodies if b.body_id != medium]  # absent for one frame
        frames.append(bodies)
    frames.append([])  # a frame without bodies
    arrays = SkeletonFile(None, frames).arrays(max_bodies=2)
    assert arrays.body_ids.tolist() == [busy, medium]
    assert arrays.present.tolist() == [[True, True]] * 4 + [[True, False], [True, True], [False, False]]
    np.testing.assert_allclose(arrays.xyz[5, 0, :, 0], np.linspace(-0.5, 0.5, 25) + 1.5, rtol=1e-6)
    np.testing.assert_allclose(arrays.xyz[3, 1, :, 0], np.linspace(-0.5, 0.5, 25) + 0.15, rtol=1e-6)
    assert not arrays.xyz[4, 1].any() and not arrays.xyz[6].any() and not arrays.states[6].any()
    assert (arrays.states[:4] == 2).all()

    wide = SkeletonFile(None, frames).arrays(max_bodies=4)
    assert wide.body_ids.tolist() == [busy, medium, still, 0]
    assert not wide.present[:, 3].any()


def test_arrays_edge_cases():
    empty = SkeletonFile(None, []).arrays()
    assert empty.xyz.shape == (0, 2, 25, 3) and empty.body_ids.tolist() == [0, 0]
    with pytest.raises(ValueError, match="max_bodies"):
        SkeletonFile(None, [[make_body(1)]]).arrays(max_bodies=0)
    with pytest.raises(ValueError, match="frame 2 holds the same body id twice"):
        SkeletonFile(Path("x.skeleton"), [[make_body(1)], [make_body(1), make_body(1)]]).arrays()


def test_frames_without_bodies_and_with_six_bodies_round_trip(tmp_path):
    frames = [[], [make_body(i, offset=i) for i in range(1, 7)], [], [make_body(7)]]
    path = tmp_path / "S001C001P001R001A001.skeleton"
    write_skeleton(path, SkeletonFile(path, frames))
    back = read_skeleton(path)
    assert back.frames == frames and back.line_ending == "\r\n"
    assert [len(b) for b in back.frames] == [0, 6, 0, 1]
    text = path.read_bytes()
    assert text.startswith(b"4\r\n0\r\n6\r\n1 0 1 1 1 1 0 0.02764709 -1.5E-05 2\r\n25\r\n")
    with pytest.raises(ValueError, match="7 bodies"):
        format_skeleton(SkeletonFile(path, [[make_body(i) for i in range(7)]]))


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
# Camera-space positions a sensor could measure (readers refuse others: test_joints_no_sensor_measures...).
sideways = st.floats(-SENSOR_REACH_M, SENSOR_REACH_M, width=64)
depth = st.floats(0.0, SENSOR_REACH_M, exclude_min=True, width=64)


@settings(max_examples=30, deadline=None)
@given(
    positions=st.lists(st.tuples(sideways, sideways, depth), min_size=25, max_size=25),
    values=st.lists(finite_or_not, min_size=25 * 8, max_size=25 * 8),
    lean=st.tuples(finite_or_not, finite_or_not),
    body_id=st.integers(0, 2**64 - 1),
    states=st.lists(st.sampled_from([0, 1, 2]), min_size=25, max_size=25),
    crlf=st.booleans(),
)
def test_write_then_read_gives_identical_values(positions, values, lean, body_id, states, crlf):
    joints = np.column_stack([positions, np.array(values).reshape(25, 8), states]).astype(np.float64)
    body = NtuBody(body_id, 1, 0, 2, 1, 3, 1, lean[0], lean[1], 2, joints)
    skeleton = SkeletonFile(None, [[body], [], [body, make_body(5)]], "\r\n" if crlf else "\n")
    back = parse_skeleton(format_skeleton(skeleton))
    assert back.frames == skeleton.frames
    # Bit-exact, not just equal: -0.0 stays -0.0 (NaN payloads are not kept: "nan" is one value).
    numbers = ~np.isnan(joints)
    assert np.array_equal(back.frames[0][0].joints.view(np.int64)[numbers], joints.view(np.int64)[numbers])


def test_irregular_whitespace_is_still_read(tmp_path):
    skeleton = SkeletonFile(None, [[make_body(3)], [make_body(4, offset=1)]], "\n")
    lines = format_skeleton(skeleton).decode().split("\n")
    lines[5] = "  " + lines[5].replace(" ", "\t ") + "  "
    lines[0] = lines[0] + " "
    data = ("\r\n".join(lines) + "\n\n  \n").encode()
    assert parse_skeleton(data).frames == skeleton.frames
    assert parse_skeleton(format_skeleton(skeleton).rstrip()).frames == skeleton.frames  # no final newline


# ------------------------------------------------------------------------------------ malformed files


def valid_lines() -> list[str]:
    """3 frames of 1 body, 85 lines: frame f's body count is line 2 + 28 (f - 1), see `joint_line`."""
    skeleton = SkeletonFile(None, [[make_body(72057594037931101, offset=f)] for f in range(3)], "\n")
    return format_skeleton(skeleton).decode().split("\n")[:-1]


def joint_line(frame: int, joint: int) -> int:
    return 4 + joint + 28 * (frame - 1)


def _replace(line: int, text: str):
    def mutate(lines: list[str]) -> list[str]:
        lines[line - 1] = text
        return lines

    return mutate


def _drop_last_token(lines):
    line = joint_line(3, 7) - 1
    lines[line] = lines[line].rsplit(" ", 1)[0]
    return lines


def _move_token_to_next_line(lines):
    line = joint_line(3, 7) - 1
    lines[line], moved = lines[line].rsplit(" ", 1)
    lines[line + 1] = moved + " " + lines[line + 1]
    return lines


def _set_field(line: int, index: int, value: str):
    def mutate(lines):
        fields = lines[line - 1].split(" ")
        fields[index] = value
        lines[line - 1] = " ".join(fields)
        return lines

    return mutate


def _drop_token_keep_whitespace(lines):
    # 11 numbers, still 11 spaces: the whitespace alone looks right, the token count does not.
    first, rest = lines[-1].split(" ", 1)
    lines[-1] = first + "  " + rest.split(" ", 1)[1]
    return lines


MALFORMED = {
    "eleven numbers, double space": (
        _drop_token_keep_whitespace,
        85,
        "expected 12 numbers for joint 25 of body 1 in frame 3, got 11",
    ),
    "empty": (lambda lines: [], 1, "expected 1 number for the frame count, got end of file"),
    "eleven numbers": (_drop_last_token, 67, "expected 12 numbers for joint 7 of body 1 in frame 3, got 11"),
    "token moved across lines": (
        _move_token_to_next_line,
        67,
        "expected 12 numbers for joint 7 of body 1 in frame 3, got 11",
    ),
    "not a number": (
        _set_field(joint_line(2, 3), 5, "abc"),
        35,
        "expected a number for colorX of joint 3 of body 1 in frame 2, got 'abc'",
    ),
    "underscore number": (_set_field(joint_line(1, 1), 0, "1_0"), 5, "expected a number for x of joint 1"),
    "joint count 24": (
        lambda lines: lines[:3] + ["24"] + lines[4:28] + lines[29:],
        4,
        "expected 25 joints for body 1 in frame 1, got 24",
    ),
    "seven bodies": (_replace(2, "7"), 2, "expected a body count of 0..6 for frame 1, got 7"),
    "truncated in a body": (
        lambda lines: lines[:-1],
        85,
        "for joint 25 of body 1 in frame 3, got end of file",
    ),
    "truncated between frames": (
        _replace(1, "4"),
        86,
        "expected 1 number for the body count of frame 4, got end of file",
    ),
    "too many frames": (_replace(1, "2"), 58, "expected end of file after 2 frames, got '1'"),
    "frame count not an integer": (
        _replace(1, "3.0"),
        1,
        "expected an integer for the frame count, got '3.0'",
    ),
    "negative frame count": (_replace(1, "-1"), 1, "expected a frame count of at least 0, got -1"),
    "body field not an integer": (
        _set_field(31, 3, "1.5"),
        31,
        "expected an integer for handLeftState of body 1 in frame 2, got '1.5'",
    ),
    "nine body fields": (
        lambda lines: lines[:2] + [lines[2].rsplit(" ", 1)[0]] + lines[3:],
        3,
        "expected 10 numbers for the body fields of body 1 in frame 1, got 9",
    ),
    "body id beyond 64 bits": (
        _set_field(3, 0, str(2**64)),
        3,
        "expected a bodyID in 0..2**64-1 for body 1 in frame 1",
    ),
    "tracking state 3": (
        _set_field(joint_line(1, 25), 11, "3"),
        29,
        "expected a trackingState of 0, 1 or 2 for joint 25 of body 1 in frame 1, got '3'",
    ),
    "blank line": (
        lambda lines: lines[:29] + [""] + lines[29:],
        30,
        "expected 1 number for the body count of frame 2, got 0",
    ),
    "non-ASCII": (_set_field(joint_line(1, 2), 0, "0.5\u00b0"), 6, "expected ASCII text, got byte 0xc2"),
    # Joints no sensor measures (core.skeleton.implausible_joints): damage that would read as actions.
    "joint past any sensor's reach": (
        _set_field(joint_line(2, 12), 0, "1e30"),
        44,
        "frame 2, body 1, joint 12 (HandRight): (1e+30, -0.120833, 3.1) m is beyond any sensor's reach",
    ),
    "joint not a number": (
        _set_field(joint_line(3, 7), 1, "nan"),
        67,
        "frame 3, body 1, joint 7 (WristLeft): (1.75, nan, 3.2) m is not a number",
    ),
    "joint behind the sensor": (_set_field(joint_line(1, 1), 2, "-3"), 5, "behind the sensor"),
}


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_name_file_line_and_expectation(case, crlf, tmp_path):
    mutate, line, message = MALFORMED[case]
    lines = valid_lines()
    assert len(lines) == 85 and lines[joint_line(3, 7) - 1].count(" ") == 11
    ending = "\r\n" if crlf else "\n"
    path = tmp_path / "broken.skeleton"
    text = ending.join(mutate(lines))
    path.write_bytes((text + ending if text else "").encode())
    with pytest.raises(SkeletonFormatError) as raised:
        read_skeleton(path)
    error = raised.value
    assert isinstance(error, ValueError)
    assert error.line == line and error.path == str(path)
    assert str(error).startswith(f"{path}, line {line}: ")
    assert message in str(error)


def test_whitespace_only_file_is_reported_as_empty():
    with pytest.raises(SkeletonFormatError, match=r"<bytes>, line 1: expected 1 number for the frame count"):
        parse_skeleton(b"\r\n \n")


def test_the_unmutated_valid_file_reads():
    lines = valid_lines()
    assert parse_skeleton(("\n".join(lines) + "\n").encode()).num_frames == 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_skeleton_that_is_no_regular_file_is_refused_not_waited_on(tmp_path) -> None:
    # A FIFO named like a clip: read_bytes waited for a writer for ever (live, info and prepare hung).
    fifo = tmp_path / "S002C001P001R001A121.skeleton"
    os.mkfifo(fifo)
    with pytest.raises(SkeletonFormatError, match=r"A121\.skeleton, line 1: not a regular file"):
        read_skeleton(fifo)
