"""The .xef reader against files written from ../shared/notes/kinect.md by tests/xef_writer.py."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from xef_writer import (
    BODY_GUID,
    COLOR_GUID,
    DEPTH_GUID,
    BodySlot,
    XefWriter,
    body_frame,
    sample_recording,
    standing_joints,
    yuy2_halves,
)

from core.camera import DEFAULT_CAMERA
from recordings import xef
from recordings.xef import XefFormatError, XefReader

PERSON = 72057594037931101  # an NTU tracking id: above 2**53, so a float64 on the way would corrupt it


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("xef") / "plain.xef"
    return path, sample_recording(path, frames=3)


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("xef") / "archived.xef"
    return path, sample_recording(path, frames=3, archived=True, archived_descriptor_gap=True)


def test_plain_file_streams_and_index(plain: tuple[Path, object]) -> None:
    path, layout = plain
    with XefReader(path) as reader:
        assert reader.complete and not reader.archived
        kinds = {s.index: (s.kind, s.name, s.tag_size, s.event_count) for s in reader.streams.values()}
        assert kinds == {
            1: ("color", "Nui Uncompressed Color", 4, 3),
            2: ("depth", "Nui Depth", 4, 3),
            3: ("body_index", "Nui Body Index", 4, 3),
            4: ("body", "Nui Body Frame", 4, 3),
        }
        assert reader.opaque_count == 2  # one 0x6000 record at the start, one 0x7000 between events
        assert reader.footer_offset == layout.footer
        assert reader.metadata_offsets == layout.offsets("metadata")
        events = list(reader.events())
        assert [e.offset for e in events] == sorted(
            o for o, what in layout.records if what.startswith("event")
        )
        times = [e.time_ticks for e in events]
        assert times == sorted(times)
        colour = [e for e in events if e.stream == 1]
        assert [e.frame_number for e in colour] == [500, 501, 502]
        assert colour[1].time_s == pytest.approx(0.0433333)


def test_frames_after_close_say_the_file_was_closed(plain: tuple[Path, object]) -> None:
    # A replay loop that outlives its `with` block; the error names the file, not NoneType.
    path, _ = plain
    with XefReader(path) as reader:
        frames = reader.frames()
    with pytest.raises(ValueError, match=r"plain\.xef: read after the recording was closed"):
        next(frames)


def test_frames_decode_colour_and_pair_bodies(plain: tuple[Path, object]) -> None:
    path, _ = plain
    with XefReader(path) as reader:
        frames = list(reader.frames())
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.timestamp for f in frames] == pytest.approx([0.01, 0.0433333, 0.0766666])
    for frame in frames:
        assert frame.color.shape == (1080, 1920, 3) and frame.color.dtype == np.uint8
        # Y 81 U 90 V 240 is red, Y 41 U 240 V 110 blue (BT.601): left half red, right half blue.
        np.testing.assert_allclose(frame.color[540, 100], [0, 0, 255], atol=3)
        np.testing.assert_allclose(frame.color[540, 1800], [255, 0, 0], atol=3)
    assert [[b.tracking_id for b in f.bodies] for f in frames] == [[PERSON], [PERSON, 5], [PERSON, 5]]
    walker = frames[2].bodies[0]
    np.testing.assert_array_equal(walker.joints, standing_joints(0.2))
    assert walker.joints.dtype == np.float32 and walker.states.dtype == np.int8
    assert walker.states.tolist() == [2] * 21 + [1] * 4
    expected_uv, _ = DEFAULT_CAMERA.project(standing_joints(0.2))
    np.testing.assert_allclose(walker.joints_color, expected_uv, rtol=1e-6)


def test_archived_file_gives_the_same_frames_in_time_order(
    plain: tuple[Path, object], archived: tuple[Path, object]
) -> None:
    with XefReader(plain[0]) as a, XefReader(archived[0]) as b:
        assert b.archived and b.complete
        assert all(s.compressed for s in b.streams.values())
        # Stored one stream after another, read back merged by time like the plain file.
        assert [(e.stream, e.time_ticks) for e in b.events()] == [
            (e.stream, e.time_ticks) for e in a.events()
        ]
        assert all(e.compressed and e.stored_size < e.uncompressed_size for e in b.events())
        for fa, fb in zip(a.frames(), b.frames(), strict=True):
            assert fa.timestamp == fb.timestamp
            np.testing.assert_array_equal(fa.color, fb.color)
            assert [x.tracking_id for x in fa.bodies] == [x.tracking_id for x in fb.bodies]
            for x, y in zip(fa.bodies, fb.bodies, strict=True):
                np.testing.assert_array_equal(x.joints, y.joints)


def test_a_payload_that_inflates_past_its_header_stops_there(tmp_path: Path) -> None:
    """1.7 MB of .xef holding a depth record of 1.5 GB of zeros: the whole was inflated (3.2 GB resident)
    before the size in its header was compared, on the computer that watches the rooms."""
    import zlib

    path = tmp_path / "a.xef"
    sample_recording(path, frames=2, archived=True)
    depth = 512 * 424 * 2
    with XefReader(path) as reader:
        bomb = zlib.compress(bytes(200 * 2**20), 9)  # 200 MB from 200 KB: far more than the header's
        with pytest.raises(XefFormatError, match=f"more than the {depth} bytes the record header says"):
            reader._decompress(bomb, xef.FLAG_COMPRESSED, depth, 1234)
        with pytest.raises(XefFormatError, match="more than any Kinect frame"):
            reader._decompress(bomb, xef.FLAG_COMPRESSED, 2**31, 1234)
        with pytest.raises(XefFormatError, match="cut short"):
            reader._decompress(zlib.compress(bytes(depth))[:-6], xef.FLAG_COMPRESSED, depth, 1234)
        whole = zlib.compress(bytes(depth))
        assert reader._decompress(whole, xef.FLAG_COMPRESSED, depth, 1234) == bytes(depth)


def test_archived_file_without_the_descriptor_gap(tmp_path: Path) -> None:
    path = tmp_path / "a.xef"
    sample_recording(path, frames=2, archived=True, archived_descriptor_gap=False)
    with XefReader(path) as reader:
        assert reader.complete and len(list(reader.frames())) == 2


def test_depth_body_index_and_body_frame_payloads(plain: tuple[Path, object]) -> None:
    path, _ = plain
    with XefReader(path) as reader:
        depth = list(reader.events(reader.stream(xef.DEPTH).index))
        image = reader.depth_image(depth[2])
        assert image.shape == (424, 512) and image.dtype == np.uint16 and (image == 1002).all()
        index = reader.body_index_image(next(reader.events(reader.stream(xef.BODY_INDEX).index)))
        assert index.shape == (424, 512) and (index == 255).all()
        body_event = list(reader.events(reader.stream(xef.BODY).index))[1]
        frame = reader.body_frame(body_event)
        np.testing.assert_allclose(frame.floor_plane, [0, 1, 0, 0.8], rtol=1e-6)
        assert [(b.slot, b.tracking_id) for b in frame.bodies] == [(2, PERSON), (4, 5)]
        assert frame.bodies[0].hand_left == (2, 1, 1) and frame.bodies[0].hand_right == (3, 1, 0)
        np.testing.assert_array_equal(frame.bodies[0].orientations[:, 3], 1.0)
        with pytest.raises(XefFormatError, match=f"byte offset {depth[0].offset}: colour"):
            reader.color_image(depth[0])  # a depth payload is not a colour frame


def test_a_slot_the_sensor_no_longer_tracks_is_no_body_even_with_an_id_and_joints() -> None:
    # A person leaving the view: the sensor clears the slot's tracked flag but may keep its id and last
    # joints, which must not come through as a body frozen where the person was.
    joints, states = standing_joints(), np.full(25, 2, np.int32)
    payload = body_frame([BodySlot(1, 7, joints, states, tracked=False), BodySlot(3, PERSON, joints, states)])
    frame = xef.decode_body_frame(payload)
    assert [(b.slot, b.tracking_id) for b in frame.bodies] == [(3, PERSON)]


def test_nearest_event_pairs_depth_with_a_frame_time(plain: tuple[Path, object]) -> None:
    path, _ = plain
    with XefReader(path) as reader:
        depth = reader.stream(xef.DEPTH).index
        frames = list(reader.frames())
        # Depth is written 1 ms before the colour event of its frame (sample_recording).
        for i, frame in enumerate(frames):
            event = reader.nearest_event(depth, frame.timestamp)
            assert event is not None and (reader.depth_image(event) == 1000 + i).all()
        assert reader.nearest_event(depth, frames[-1].timestamp + 0.2) is None  # past the last by 0.2 s
        assert reader.nearest_event(depth, frames[-1].timestamp + 0.2, max_gap_s=1.0) is not None


def test_body_stream_drives_frames_without_colour(tmp_path: Path) -> None:
    path = tmp_path / "bodies.xef"
    sample_recording(path, frames=3, with_color=False)
    with XefReader(path) as reader:
        frames = list(reader.frames())
    assert [f.color for f in frames] == [None, None, None]
    assert [len(f.bodies) for f in frames] == [1, 2, 2]
    assert frames[0].timestamp == pytest.approx(0.013)


def test_a_depth_only_recording_drives_frames_with_its_depth_images(tmp_path: Path) -> None:
    """Recorded with depth alone (no colour, no bodies): point clouds for the 3D view, nobody in them."""
    writer = XefWriter()
    depth = writer.add_stream(DEPTH_GUID, "Nui Depth")
    for i in range(3):
        writer.add_event(depth, 333_333 * i, np.full((424, 512), 1000 + i, "<u2").tobytes(), i)
    path = tmp_path / "depth.xef"
    writer.write(path)
    with XefReader(path) as reader:
        frames = list(reader.frames())
        assert reader.frame_count() == 3 and [f.index for f in frames] == [0, 1, 2]
        assert reader.frames_from() == "depth stream"
        assert all(f.color is None and f.bodies == [] for f in frames)
        assert [int(f.depth[0, 0]) for f in frames] == [1000, 1001, 1002]
        assert all(f.depth is None for f in reader.frames(depth=False))


def test_body_frame_too_far_from_the_colour_frame_is_missing(tmp_path: Path) -> None:
    writer = XefWriter()
    colour = writer.add_stream(COLOR_GUID, "Nui Uncompressed Color")
    body = writer.add_stream(BODY_GUID, "Nui Body Frame")
    red_blue = yuy2_halves((81, 90, 240), (41, 240, 110))
    states = np.full(25, 2, np.int8)
    for i in range(3):
        writer.add_event(colour, 333_333 * i, red_blue, i)
    writer.add_event(body, 20_000, body_frame([BodySlot(0, 7, standing_joints(), states)]), 0)
    writer.add_event(body, 333_333 * 2 + 600_000, body_frame([BodySlot(0, 8, standing_joints(), states)]), 2)
    path = tmp_path / "gap.xef"
    writer.write(path)
    with XefReader(path) as reader:
        ids = [[b.tracking_id for b in f.bodies] for f in reader.frames()]
        # Colour at 0, 33 and 67 ms; bodies at 2 and 127 ms: the last colour frame is 60 ms from both,
        # and the body frame 60 ms after the colour stream ended comes as a frame of its own.
        assert ids == [[7], [7], [], [8]]
        ids = [[b.tracking_id for b in f.bodies] for f in reader.frames(max_pair_gap_s=0.1)]
        assert ids == [[7], [7], [8]]


def test_a_joint_no_sensor_measures_is_replayed_as_not_tracked(tmp_path: Path, caplog) -> None:
    """A .xef holds what the sensor gave: a joint past any sensor's reach (or NaN, or behind it) is a
    glitch, replayed at 0 0 0 as not tracked, as the recorder writes it (passed on, such a joint read as
    a confident action), and said once; a body with nothing left is nobody."""
    writer = XefWriter()
    body = writer.add_stream(BODY_GUID, "Nui Body Frame")
    states = np.full(25, 2, np.int8)
    glitch = standing_joints()
    glitch[11] = (1e30, 0.0, 2.5)
    for i, joints in enumerate([standing_joints(), glitch, glitch]):
        slots = [BodySlot(0, 7, joints, states), BodySlot(1, 8, np.full((25, 3), np.nan, np.float32), states)]
        writer.add_event(body, 333_333 * i, body_frame(slots), i)
    path = tmp_path / "glitch.xef"
    writer.write(path)
    with caplog.at_level("WARNING", logger="recordings.xef"), XefReader(path) as reader:
        frames = list(reader.frames())
    assert [[b.tracking_id for b in f.bodies] for f in frames] == [[7], [7], [7]]  # body 8: all NaN
    hand = frames[1].bodies[0]
    assert hand.joints[11].tolist() == [0.0, 0.0, 0.0] and hand.states[11] == 0 and hand.states[10] == 2
    np.testing.assert_array_equal(frames[0].bodies[0].joints[11], standing_joints()[11])
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith(f"{path}: at byte offset ")
    assert "body slot 1, joint 1 (SpineBase) at (nan, nan, nan) m is not a number" in said[0]


def test_a_body_stream_recorded_longer_than_the_colour_stream_keeps_its_skeletons(tmp_path: Path) -> None:
    """Kinect Studio starts and stops streams a moment apart: bodies before the first colour image and
    after the last one are replayed as frames without colour, in time order, and counted."""
    writer = XefWriter()
    colour = writer.add_stream(COLOR_GUID, "Nui Uncompressed Color")
    body = writer.add_stream(BODY_GUID, "Nui Body Frame")
    image = yuy2_halves((81, 90, 240), (41, 240, 110))
    states = np.full(25, 2, np.int8)
    period = 333_333  # ticks of 100 ns: 30 fps
    for i in range(6):  # bodies at 0-167 ms, colour at 67-100 ms only
        writer.add_event(body, period * i, body_frame([BodySlot(0, 10 + i, standing_joints(), states)]), i)
    for i in (2, 3):
        writer.add_event(colour, period * i + 10_000, image, i)
    path = tmp_path / "long_bodies.xef"
    layout = writer.write(path)
    with XefReader(path) as reader:
        frames = list(reader.frames(depth=False))
        assert [[b.tracking_id for b in f.bodies] for f in frames] == [[10], [11], [12], [13], [14], [15]]
        assert [f.color is not None for f in frames] == [False, False, True, True, False, False]
        assert [f.index for f in frames] == list(range(6))
        times = [f.timestamp for f in frames]
        assert times == sorted(times) and reader.frame_times_s() == pytest.approx(times)
        assert reader.frame_count() == 6 and reader.frames_without_colour() == 4
        assert reader.frames_from() == "colour stream + 4 body frames before or after it, without colour"
    # Cut inside the last body record: the body frames indexed before it still play, then the damage.
    cut = _truncated(path, tmp_path, layout.offsets(f"event{body}")[-1] + 40)
    with XefReader(cut) as reader:
        got = []
        with pytest.raises(XefFormatError):
            for frame in reader.frames(depth=False):
                got.append(frame)
        assert reader.frame_count() == len(got) == 5
        assert [f.color is not None for f in got] == [False, False, True, True, False]


def _truncated(source: Path, tmp_path: Path, size: int) -> Path:
    path = tmp_path / f"cut_{size}.xef"
    with open(source, "rb") as f:
        path.write_bytes(f.read(size))
    return path


def test_truncation_at_a_record_boundary_keeps_what_came_before(
    plain: tuple[Path, object], tmp_path: Path
) -> None:
    path, layout = plain
    body_events = layout.offsets("event4")
    cut = _truncated(path, tmp_path, body_events[2])  # the file ends where the last body frame starts
    with XefReader(cut) as reader:
        assert not reader.complete
        assert reader.damage.offset == body_events[2]
        assert "truncated at a record boundary" in str(reader.damage) and str(cut) in str(reader.damage)
        frames = []
        with pytest.raises(XefFormatError, match=f"byte offset {body_events[2]}"):
            for frame in reader.frames():
                frames.append(frame)
        # Frame 2 lost its own body frame; the one 30 ms before it is the nearest left.
        assert [len(f.bodies) for f in frames] == [1, 2, 2]
        assert frames[2].color is not None and frames[2].timestamp == pytest.approx(0.0766666)


@pytest.mark.parametrize("into", [10, 24 + 2, 24 + 4 + 1000])  # header, tag, payload
def test_truncation_inside_a_record_names_its_offset(
    plain: tuple[Path, object], tmp_path: Path, into: int
) -> None:
    path, layout = plain
    colour = layout.offsets("event1")[1]
    with XefReader(_truncated(path, tmp_path, colour + into)) as reader:
        assert reader.damage is not None and reader.damage.offset == colour
        frames = []
        with pytest.raises(XefFormatError, match=f"at byte offset {colour}: "):
            for frame in reader.frames():
                frames.append(frame)
        assert len(frames) == 1 and [b.tracking_id for b in frames[0].bodies] == [PERSON]


def test_truncation_inside_archived_groups_and_opaque_records(
    archived: tuple[Path, object], plain: tuple[Path, object], tmp_path: Path
) -> None:
    path, layout = archived
    body_group = layout.offsets("event4")
    with XefReader(_truncated(path, tmp_path, body_group[1] + 40)) as reader:
        assert reader.damage.offset == body_group[1]
        # Colour, depth and body index groups come before the body group: all intact.
        assert reader.streams[1].event_count == 3 and reader.streams[4].event_count == 1
        with pytest.raises(XefFormatError, match=f"byte offset {body_group[1]}"):
            list(reader.frames())
    plain_path, plain_layout = plain
    opaque = plain_layout.offsets("opaque")[1]
    with XefReader(_truncated(plain_path, tmp_path, opaque + 0x100)) as reader:
        assert reader.damage.offset == opaque and "opaque" in str(reader.damage)
        frames = []
        with pytest.raises(XefFormatError):
            for frame in reader.frames():
                frames.append(frame)
        assert len(frames) == 1


def test_truncated_descriptors_and_header(plain: tuple[Path, object], tmp_path: Path) -> None:
    path, layout = plain
    descriptor = layout.offsets("descriptor")[0]
    with XefReader(_truncated(path, tmp_path, descriptor + 100)) as reader:
        assert reader.streams == {} and reader.damage.offset == descriptor
        with pytest.raises(XefFormatError, match=f"byte offset {descriptor}"):
            list(reader.frames())
    with pytest.raises(XefFormatError, match="at byte offset 0: file of 10 bytes is too short"):
        XefReader(_truncated(path, tmp_path, 10))
    bad = tmp_path / "bad.xef"
    bad.write_bytes(b"RIFF" + bytes(40))
    with pytest.raises(XefFormatError, match=r"bad.xef: at byte offset 0: expected the signature"):
        XefReader(bad)
    folder = tmp_path / "session.xef"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"session.xef: a folder, not a Kinect Studio recording"):
        XefReader(folder)


def test_record_of_an_undescribed_stream_is_an_error(plain: tuple[Path, object], tmp_path: Path) -> None:
    path, layout = plain
    target = layout.offsets("event2")[1]
    damaged = tmp_path / "unknown.xef"
    data = bytearray(path.read_bytes())
    # Stream index 9 is neither described, metadata, opaque nor the footer (index 5).
    struct.pack_into("<H", data, target, 9)
    damaged.write_bytes(bytes(data))
    with XefReader(damaged) as reader:
        assert reader.damage.offset == target and "stream 9, which has no descriptor" in str(reader.damage)


def test_damaged_zlib_payload_is_reported_when_read(archived: tuple[Path, object], tmp_path: Path) -> None:
    path, layout = archived
    data = bytearray(path.read_bytes())
    target = layout.offsets("event2")[0]
    payload = target + 24 + 4
    data[payload + 2 : payload + 40] = bytes(38)  # inside the zlib stream
    damaged = tmp_path / "zlib.xef"
    damaged.write_bytes(bytes(data))
    with XefReader(damaged) as reader:
        assert reader.complete  # indexing does not decompress payloads
        event = next(reader.events(2))
        with pytest.raises(XefFormatError, match=f"at byte offset {target}: zlib payload"):
            reader.depth_image(event)


def test_large_file_is_indexed_without_reading_payloads(tmp_path: Path) -> None:
    """A 3 GB recording (sparse on disk) opens in well under a second: only record headers are read."""
    writer = XefWriter()
    stream = writer.add_stream(COLOR_GUID, "Nui Uncompressed Color")
    path = tmp_path / "big.xef"
    writer.write(path)  # header, metadata, opaque, descriptor, footer
    data = path.read_bytes()
    footer = data.rindex(struct.pack("<HH", stream + 1, 0))
    frame_size = 1920 * 1080 * 2
    count = 700
    with open(path, "wb") as f:
        f.write(data[:footer])
        for i in range(count):
            f.write(struct.pack("<HHIqII", stream, 0, frame_size, 333_333 * i, 0, frame_size))
            f.write(struct.pack("<i", i))
            f.seek(frame_size, os.SEEK_CUR)  # left as a hole: never written, never read
        f.write(data[footer:])
    assert path.stat().st_size > 2.9e9
    started = time.perf_counter()
    with XefReader(path) as reader:
        elapsed = time.perf_counter() - started
        assert reader.complete and reader.frame_count() == count
        assert reader.duration_s == pytest.approx(699 * 0.0333333)
        last = list(reader.events(stream))[-1]
        assert reader.color_image(last).shape == (1080, 1920, 3)  # a hole reads as zeros: green in YUV
    assert elapsed < 2.0
