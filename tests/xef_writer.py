"""Build Kinect Studio .xef files for tests, following ../shared/notes/kinect.md.

No public sample file exists, so the reader is tested against files written from the notes. The
structs are written out here independently of recordings/xef.py (nothing is imported from it), so a
misreading of the notes in one shows up as a disagreement with the other.

Plain file:    header | metadata (stream 0) | opaque 0xFFFF | descriptors (two records each)
               | events interleaved in time, an opaque record now and then | footer
Archived file: header (count 0) | metadata | long opaque 0xFFFF (0xC000) | per stream: descriptor,
               [8 unknown bytes], second descriptor, every event of that stream zlib-compressed | footer
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COLOR_GUID = uuid.UUID("2ba0d67d-be11-4534-9444-3fb21ae0f08b")
DEPTH_GUID = uuid.UUID("0a3914d6-3b16-11e1-aac3-001e4fd58c0f")
IR_GUID = uuid.UUID("0a3914d7-3b16-11e1-aac3-001e4fd58c0f")
BODY_GUID = uuid.UUID("a0c45179-5168-4875-a75c-f8f1760f637c")
BODY_INDEX_GUID = uuid.UUID("df82ffac-b533-4438-954a-686a1e20f4aa")


def _record(
    index: int, flags: int, time: int, tag: bytes, payload: bytes, full_size: int | None = None
) -> bytes:
    # u16 stream index, u16 flags, u32 stored size, i64 time, u32 unknown, u32 uncompressed size
    header = struct.pack(
        "<HHIqII", index, flags, len(payload), time, 0x1234, len(payload) if full_size is None else full_size
    )
    return header + tag + payload


def yuy2_solid(y: int, u: int, v: int, width: int = 1920, height: int = 1080) -> bytes:
    """A colour frame of one YUV colour: bytes Y0 U Y1 V per pixel pair."""
    return bytes([y, u, y, v]) * (width * height // 2)


def yuy2_halves(left: tuple[int, int, int], right: tuple[int, int, int]) -> bytes:
    """Left half of the 1920x1080 frame one YUV colour, right half another."""
    row = (
        bytes([left[0], left[1], left[0], left[2]]) * 480
        + bytes([right[0], right[1], right[0], right[2]]) * 480
    )
    return row * 1080


@dataclass
class BodySlot:
    slot: int
    tracking_id: int
    joints: np.ndarray  # (25, 3) metres
    states: np.ndarray  # (25,) 0/1/2
    hand_left: tuple[int, int, int] = (2, 1, 1)
    hand_right: tuple[int, int, int] = (3, 1, 0)
    tracked: bool = True  # the slot's tracked flag; the sensor may clear it and keep the old id


def body_frame(slots: list[BodySlot]) -> bytes:
    """6,288 bytes: floor plane, up vector, 6 x 1,040-byte bodies, quality flags + padding."""
    data = bytearray(6288)
    struct.pack_into("<4f", data, 0, 0.0, 1.0, 0.0, 0.8)  # floor plane
    struct.pack_into("<4f", data, 16, 0.0, 1.0, 0.0, 0.0)  # up
    for body in slots:
        base = 32 + 1040 * body.slot
        for j in range(25):
            struct.pack_into("<4f", data, base + 16 * j, *(float(c) for c in body.joints[j]), 1.0)
            struct.pack_into("<4f", data, base + 400 + 16 * j, 0.0, 0.0, 0.0, 1.0)
            struct.pack_into("<i", data, base + 800 + 4 * j, int(body.states[j]))
        struct.pack_into("<3i", data, base + 980, *body.hand_left)
        struct.pack_into("<3i", data, base + 992, *body.hand_right)
        struct.pack_into("<Q", data, base + 1008, body.tracking_id)
        struct.pack_into("<i", data, base + 1016, 1 if body.tracked else 0)
    return bytes(data)


@dataclass
class _Stream:
    index: int
    guid: uuid.UUID
    name: str
    tag_size: int
    events: list[tuple[int, int, bytes]] = field(default_factory=list)  # time, frame number, payload


@dataclass
class Layout:
    """Where things landed in the written file, for truncation tests."""

    size: int
    records: list[tuple[int, str]]  # (offset, what) for every record, in file order
    footer: int

    def offsets(self, what: str) -> list[int]:
        return [offset for offset, kind in self.records if kind == what]


class XefWriter:
    def __init__(self, *, archived: bool = False, archived_descriptor_gap: bool = False) -> None:
        self.archived = archived
        self.archived_descriptor_gap = archived_descriptor_gap
        self.streams: list[_Stream] = []
        self.opaque_after: dict[int, int] = {}  # plain files: event number -> opaque payload length

    def add_stream(self, guid: uuid.UUID, name: str, tag_size: int = 4) -> int:
        index = len(self.streams) + 1
        self.streams.append(_Stream(index, guid, name, tag_size))
        return index

    def add_event(self, stream: int, time_ticks: int, payload: bytes, frame_number: int) -> None:
        self.streams[stream - 1].events.append((time_ticks, frame_number, payload))

    def _descriptor(self, stream: _Stream, compressed: bool) -> bytes:
        stream_flags = 1 if compressed else 0
        tag = struct.pack("<HH", stream.index, stream_flags) + stream.guid.bytes_le + b"\0" * 4
        name = stream.name.encode("utf-16-le").ljust(256, b"\0")
        # name, 0x3333 cookie, tag size, then the fields nobody has decoded (0x00000004, null, key ...)
        payload = name + struct.pack("<HHIII", 0x3333, stream.tag_size, 4, 0, stream.index) + b"\0" * 176
        first = _record(stream.index, 0, 0, tag, payload)
        second_payload = uuid.uuid4().bytes_le * 2  # semantic id and friends: opaque to readers
        second = _record(stream.index, 0, 0, tag, second_payload)
        gap = b"\xab" * 8 if self.archived_descriptor_gap else b""
        return first + gap + second

    def _event(
        self, stream: _Stream, time: int, frame_number: int, payload: bytes, compressed: bool
    ) -> bytes:
        tag = struct.pack("<i", frame_number) if stream.tag_size == 4 else b"\0" * stream.tag_size
        if compressed:
            return _record(stream.index, 1, time, tag, zlib.compress(payload, 1), len(payload))
        return _record(stream.index, 0, time, tag, payload)

    def write(self, path: Path) -> Layout:
        out = bytearray()
        records: list[tuple[int, str]] = []

        def put(data: bytes, what: str) -> None:
            records.append((len(out), what))
            out.extend(data)

        count = 0 if self.archived else len(self.streams) + 1
        out.extend(b"EVENTS1\0" + struct.pack("<IIQ", 5, count, 0))
        calibration = b"NUI calibration " * 40
        put(_record(0, 0, 267193, b"\0" * 24, calibration), "metadata")
        opaque = b"\x5a" * (0xC000 if self.archived else 0x6000)
        # Opaque records carry an id and null sizes (XEFtoEXR): the reader has to find their end.
        put(struct.pack("<HHIqII", 0xFFFF, 0, 7, 0, 0, 0) + opaque, "opaque")
        if self.archived:
            for stream in self.streams:
                put(self._descriptor(stream, compressed=True), "descriptor")
                for time, number, payload in stream.events:
                    put(self._event(stream, time, number, payload, compressed=True), f"event{stream.index}")
        else:
            for stream in self.streams:
                put(self._descriptor(stream, compressed=False), "descriptor")
            merged = sorted(
                (
                    (time, stream.index, number, payload)
                    for stream in self.streams
                    for time, number, payload in stream.events
                ),
                key=lambda event: (event[0], event[1]),
            )
            for n, (time, index, number, payload) in enumerate(merged):
                put(
                    self._event(self.streams[index - 1], time, number, payload, compressed=False),
                    f"event{index}",
                )
                if n in self.opaque_after:
                    length = self.opaque_after[n]
                    put(struct.pack("<HHIqII", 0xFFFF, 0, 9, time, 0, 0) + b"\x17" * length, "opaque")
        footer = len(out)
        put(struct.pack("<HHIqII", len(self.streams) + 1, 0, 0, 0, 0, 0) + b"\0" * (0x6B0 - 24), "footer")
        Path(path).write_bytes(bytes(out))
        return Layout(size=len(out), records=records, footer=footer)


def standing_joints(x: float = 0.1, z: float = 2.5) -> np.ndarray:
    """A rough standing skeleton (25, 3) at (x, 0, z), in Kinect JointType order."""
    offsets = np.array(
        [
            [0, -0.1, 0],
            [0, 0.2, 0],
            [0, 0.5, 0],
            [0, 0.62, 0],
            [0.18, 0.45, 0],
            [0.3, 0.2, 0],
            [0.35, 0.0, 0],
            [0.36, -0.08, 0],
            [-0.18, 0.45, 0],
            [-0.3, 0.2, 0],
            [-0.35, 0.0, 0],
            [-0.36, -0.08, 0],
            [0.1, -0.15, 0],
            [0.1, -0.55, 0],
            [0.1, -0.95, 0],
            [0.1, -1.0, 0.1],
            [-0.1, -0.15, 0],
            [-0.1, -0.55, 0],
            [-0.1, -0.95, 0],
            [-0.1, -1.0, 0.1],
            [0, 0.42, 0],
            [0.37, -0.14, 0],
            [0.33, -0.06, 0],
            [-0.37, -0.14, 0],
            [-0.33, -0.06, 0],
        ],
        dtype=np.float32,
    )
    return offsets + np.array([x, 0.0, z], dtype=np.float32)


def room_depth(
    fx: float, fy: float, cx: float, cy: float, *, floor_y: float = -1.0, wall_z: float = 4.0
) -> np.ndarray:
    """Depth (uint16 (424, 512) mm) of a room seen through a depth pinhole (u = cx + fx x / z,
    v = cy - fy y / z): a floor at camera y = floor_y (where `standing_joints` stand) and a wall at
    z = wall_z, the nearer surface along each pixel's ray."""
    u, v = np.meshgrid(np.arange(512, dtype=np.float64), np.arange(424, dtype=np.float64))
    ray_y = -(v - cy) / fy  # rays with z = 1: the multiplier to a surface is its depth
    to_floor = np.where(ray_y < -1e-9, floor_y / np.minimum(ray_y, -1e-9), np.inf)
    return np.round(np.minimum(to_floor, wall_z) * 1000).astype(np.uint16)


def sample_recording(
    path: Path,
    *,
    archived: bool = False,
    frames: int = 3,
    with_color: bool = True,
    archived_descriptor_gap: bool = False,
    depth_mm: np.ndarray | None = None,
) -> Layout:
    """A small recording: colour, depth, body index and body streams at 30 fps, one person walking
    along x (tracking id 72057594037931101 in slot 2), a second person (id 5) from frame 1 on.
    Body events come 3 ms after the colour event of the same frame, depth 1 ms before. Depth frame i
    reads 1000 + i mm everywhere, or is `depth_mm` (uint16 (424, 512)) when given."""
    writer = XefWriter(archived=archived, archived_descriptor_gap=archived_descriptor_gap)
    color = writer.add_stream(COLOR_GUID, "Nui Uncompressed Color") if with_color else None
    depth = writer.add_stream(DEPTH_GUID, "Nui Depth")
    body_index = writer.add_stream(BODY_INDEX_GUID, "Nui Body Index")
    body = writer.add_stream(BODY_GUID, "Nui Body Frame")
    red, blue = (81, 90, 240), (41, 240, 110)
    for i in range(frames):
        t = 333_333 * i + 100_000
        if color is not None:
            writer.add_event(color, t, yuy2_halves(red, blue), 500 + i)
        depth_image = np.full((424, 512), 1000 + i, "<u2") if depth_mm is None else depth_mm.astype("<u2")
        writer.add_event(depth, t - 10_000, depth_image.tobytes(), 500 + i)
        writer.add_event(body_index, t - 10_000, np.full((424, 512), 255, np.uint8).tobytes(), 500 + i)
        states = np.full(25, 2, np.int8)
        states[21:] = 1
        slots = [BodySlot(2, 72057594037931101, standing_joints(0.1 * i), states)]
        if i >= 1:
            slots.append(BodySlot(4, 5, standing_joints(-0.8, 3.0), np.full(25, 2, np.int8)))
        writer.add_event(body, t + 30_000, body_frame(slots), 500 + i)
    if not archived:
        writer.opaque_after = {2: 0x7000}
    return writer.write(path)
