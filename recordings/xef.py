"""Kinect Studio recordings (.xef): a memory-mapped, streaming reader in pure Python + numpy.

The layout follows the public reverse-engineering of Kinect Studio files (Isaac-W/KinectXEFTools,
OlesenJonas/XEFtoEXR) as summarised in ../shared/notes/kinect.md. Microsoft never published it and
this reader has not yet met a real file: every choice below that the notes leave open is marked
"(our reading)". All values are little-endian::

    file header (24 B)   "EVENTS1\\0" | u32 5 | u32 stream count + 1 (0 in archived files) | u64 ?
    record header (24 B) u16 stream index | u16 flags (bit 0: zlib payload) | u32 stored size
                         | i64 time (100 ns ticks from the start) | u32 ? | u32 uncompressed size
    then                 tag (size from the stream's descriptor) | payload (stored size bytes)

    stream index 0       file metadata (calibration, serial ...): no descriptor, 24-byte tag
    first record of a    descriptor: 24-byte tag = u16 index, u16 flags (bit 0: compressed stream),
      new index            16-byte type GUID (Windows byte order), 4 bytes ?; payload = 256-byte
                           UTF-16 name, u16 0x3333, u16 tag size, ... (rest unused here)
    the record after it  second descriptor record (same index, 24-byte tag), skipped. XEFtoEXR saw 8
                           extra bytes before it in archived files: they are skipped when present.
    0xFFFF               opaque record: its size fields are not reliable, so its end is found by
                           trying the stored size, then the lengths XEFtoEXR observed (0x6000, 0x7000,
                           0xC000 bytes after the header) and taking the first one that lands on a
                           plausible record header (our reading)
    footer               a record whose index is the header's count field; in archived files (count
                           0) a new index whose record is not a descriptor (our reading). Everything
                           after it is ignored.

Archived files (KSConvert) keep each stream's records together with zlib payloads; the index is
sorted by time (stable), which merges the streams back into time order.

Opening a file indexes its records in one pass (offsets only, numpy arrays); payloads are read and
decoded only when asked for, so a multi-GB recording is never read whole. Damage (truncation, a
record that runs past the end, an unknown stream) stops the index at the damaged record: everything
before it stays readable, `XefReader.damage` holds an `XefFormatError` naming the byte offset, and
every iterator raises it after yielding the events before the damage.
"""

from __future__ import annotations

import logging
import mmap
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.camera import DEFAULT_CAMERA, ColorCamera
from core.frame import Body, Frame
from core.skeleton import KINECT_V2, why_implausible, without_implausible

log = logging.getLogger(__name__)

TICKS_PER_SECOND = 10_000_000
MAGIC = b"EVENTS1\x00"
FILE_HEADER = struct.Struct("<8sIIQ")
RECORD_HEADER = struct.Struct("<HHIqII")
OPAQUE_INDEX = 0xFFFF
METADATA_INDEX = 0
DEFAULT_TAG_SIZE = 24  # descriptor and metadata records (XEFtoEXR's EVENT_DEFAULT_TAG_SIZE)
DESCRIPTOR_TAG = struct.Struct("<HH16s4x")
DESCRIPTOR_NAME_BYTES = 256
DESCRIPTOR_MARKER = 0x3333
ARCHIVED_DESCRIPTOR_GAP = 8
OPAQUE_LENGTHS = (0x6000, 0x7000, 0xC000)
FLAG_COMPRESSED = 0x0001
MAX_PAYLOAD_BYTES = 64 * 2**20  # a colour frame, the largest, is 4 MB raw (1920 x 1080 YUY2)

COLOR_WIDTH, COLOR_HEIGHT = 1920, 1080
CONVERTED_SOURCE = "xef:"  # a clip `recordings convert` made of one: its sidecar's source, + the name
DEPTH_WIDTH, DEPTH_HEIGHT = 512, 424
BODY_COUNT = 6
JOINT_COUNT = KINECT_V2.num_joints

# Stream type GUIDs -> what the reader calls the stream.
COLOR = "color"
DEPTH = "depth"
INFRARED = "infrared"
BODY_INDEX = "body_index"
BODY = "body"
STREAM_KINDS = {
    uuid.UUID("2ba0d67d-be11-4534-9444-3fb21ae0f08b"): COLOR,
    uuid.UUID("0a3914dc-3b16-11e1-aac3-001e4fd58c0f"): "compressed_color",
    uuid.UUID("0a3914d6-3b16-11e1-aac3-001e4fd58c0f"): DEPTH,
    uuid.UUID("0a3914d7-3b16-11e1-aac3-001e4fd58c0f"): INFRARED,
    uuid.UUID("7e06d98e-d271-4a1f-9bfd-6648a700db75"): "long_exposure_infrared",
    uuid.UUID("0a3914e2-3b16-11e1-aac3-001e4fd58c0f"): "raw_infrared",
    uuid.UUID("df82ffac-b533-4438-954a-686a1e20f4aa"): BODY_INDEX,
    uuid.UUID("a0c45179-5168-4875-a75c-f8f1760f637c"): BODY,
    uuid.UUID("787c7abd-9f6e-4a85-8d67-6365ff80cc69"): "audio",
}

# Body frame (6,288 B): floor plane, up vector, 6 body slots of 1,040 B, quality flags + padding.
BODY_FRAME_SIZE = 6288
BODY_SLOTS_OFFSET = 32
BODY_SLOT_SIZE = 1040
BODY_SLOT = np.dtype(
    {
        "names": ["positions", "orientations", "states", "hand_left", "hand_right", "tracking_id", "tracked"],
        "formats": [
            ("<f4", (25, 4)),
            ("<f4", (25, 4)),
            ("<i4", (25,)),
            ("<i4", (3,)),
            ("<i4", (3,)),
            "<u8",
            "<i4",
        ],
        "offsets": [0, 400, 800, 980, 992, 1008, 1016],
        "itemsize": BODY_SLOT_SIZE,
    }
)


class XefFormatError(ValueError):
    """A .xef file that does not follow the layout; the message names the file and byte offset."""

    def __init__(self, path: Path | str, offset: int, problem: str) -> None:
        super().__init__(f"{path}: at byte offset {offset}: {problem}")
        self.path = Path(path)
        self.offset = offset
        self.problem = problem


@dataclass(frozen=True)
class XefStream:
    index: int
    name: str  # as Kinect Studio wrote it, e.g. "Nui Uncompressed Color"
    type_id: uuid.UUID
    kind: str  # COLOR, DEPTH, INFRARED, BODY_INDEX, BODY, another known kind, or "unknown"
    tag_size: int
    compressed: bool  # the stream's descriptor flag (archived files)
    event_count: int
    descriptor_offset: int


@dataclass(frozen=True)
class XefEvent:
    """One data record, located but not yet read."""

    stream: int
    time_ticks: int
    frame_number: int  # the Kinect frame number from a 4-byte tag, -1 otherwise
    offset: int  # start of the record header
    payload_offset: int
    stored_size: int
    uncompressed_size: int
    compressed: bool

    @property
    def time_s(self) -> float:
        return self.time_ticks / TICKS_PER_SECOND


@dataclass
class XefBody:
    """One tracked slot of a body frame. Hand values are the raw integers from the file: the enum
    numbering is uncertain (SDK: Unknown 0, NotTracked 1, Open 2, Closed 3, Lasso 4)."""

    slot: int
    tracking_id: int
    joints: np.ndarray  # float32 (25, 3) camera space, metres
    orientations: np.ndarray  # float32 (25, 4) quaternions x, y, z, w
    states: np.ndarray  # int8 (25,)
    hand_left: tuple[int, int, int]  # state, tracking state, confidence
    hand_right: tuple[int, int, int]

    def to_body(self, camera: ColorCamera) -> Body:
        uv, _ = camera.project(self.joints)
        return Body(self.tracking_id, self.joints, self.states, np.asarray(uv, dtype=np.float32))


@dataclass
class XefBodyFrame:
    floor_plane: np.ndarray  # float32 (4,)
    up: np.ndarray  # float32 (4,)
    bodies: list[XefBody]  # tracked slots only, in slot order
    # The first joint no sensor measures (a glitch, or junk where the sensor tracks nothing), in words;
    # such joints are passed on at 0 0 0, not tracked (core.skeleton.without_implausible).
    dropped: str | None = None


def decode_body_frame(payload: bytes, where: str = "body payload") -> XefBodyFrame:
    """Parse a 6,288-byte body frame; only slots whose tracked flag is set are returned."""
    if len(payload) < BODY_FRAME_SIZE:
        raise ValueError(f"{where}: body frame of {len(payload)} bytes, expected {BODY_FRAME_SIZE}")
    head = np.frombuffer(payload, dtype="<f4", count=8)
    slots = np.frombuffer(payload, dtype=BODY_SLOT, count=BODY_COUNT, offset=BODY_SLOTS_OFFSET)
    bodies = []
    dropped = None
    for i, slot in enumerate(slots):
        if slot["tracked"] == 0 or slot["tracking_id"] == 0:
            continue
        raw = slot["positions"][:, :3].astype(np.float32)
        joints, states, bad = without_implausible(raw, slot["states"].clip(0, 2).astype(np.int8))
        if bad.any() and dropped is None:
            j = int(np.flatnonzero(bad)[0])
            name = KINECT_V2.joint_names[j]
            dropped = f"body slot {i}, joint {j + 1} ({name}) at {why_implausible(raw[j])}"
        if not joints.any():  # nothing of it left: nobody there to decide on
            continue
        bodies.append(
            XefBody(
                slot=i,
                tracking_id=int(slot["tracking_id"]),
                joints=joints,
                orientations=slot["orientations"].astype(np.float32),
                states=states,
                hand_left=tuple(int(v) for v in slot["hand_left"]),
                hand_right=tuple(int(v) for v in slot["hand_right"]),
            )
        )
    return XefBodyFrame(head[:4].astype(np.float32), head[4:8].astype(np.float32), bodies, dropped)


def _nearest(times: np.ndarray, time: int, max_gap: float) -> int | None:
    """Index of the entry of `times` (ascending ticks) nearest `time`, None if further than `max_gap`."""
    j = int(np.searchsorted(times, time))
    near = [k for k in (j - 1, j) if 0 <= k < len(times)]
    if not near:
        return None
    k = min(near, key=lambda k: abs(int(times[k]) - time))
    return k if abs(int(times[k]) - time) <= max_gap else None


class XefReader:
    """Index a .xef file on open; decode payloads on demand.

    >>> with XefReader("clip.xef") as xef:
    ...     for frame in xef.frames():      # colour + nearest body frame, as core Frames
    ...         ...
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if self.path.is_dir():  # open() would say "[Errno 21] Is a directory" and no more
            raise IsADirectoryError(f"{self.path}: a folder, not a Kinect Studio recording (a .xef file)")
        self._file = open(self.path, "rb")  # noqa: SIM115 - kept open for the mmap's lifetime
        try:
            self.size = self.path.stat().st_size
            if self.size < FILE_HEADER.size:
                raise XefFormatError(
                    self.path,
                    0,
                    f"file of {self.size} bytes is too short for the {FILE_HEADER.size}-byte header",
                )
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            magic, self.version, count, _ = FILE_HEADER.unpack_from(self._map, 0)
            if magic != MAGIC:
                raise XefFormatError(self.path, 0, f"expected the signature {MAGIC!r}, found {magic!r}")
            self.archived = count == 0
            self._footer_index = count if count > 0 else None
            self.damage: XefFormatError | None = None
            self._said_dropped = False  # a joint no sensor measures was warned of (body_frame)
            self.footer_offset: int | None = None
            self.metadata_offsets: list[int] = []
            self.opaque_count = 0
            self._index()
            self._release(0, self.size)
        except BaseException:
            self.close()
            raise

    # ---- indexing -----------------------------------------------------------------------------

    def _index(self) -> None:
        streams: dict[int, dict] = {}
        rows: list[tuple[int, int, int, int, int, int, int, int]] = []
        pos = FILE_HEADER.size
        try:
            while True:
                if pos == self.size:
                    raise XefFormatError(
                        self.path, pos, "file ends before the footer record (truncated at a record boundary)"
                    )
                index, flags, stored, time, _, full = self._record_header(pos)
                if index == OPAQUE_INDEX:
                    pos = self._skip_opaque(pos, stored, streams)
                    self.opaque_count += 1
                    continue
                if index == self._footer_index:
                    self.footer_offset = pos
                    break
                if index == METADATA_INDEX:
                    end = self._record_end(pos, DEFAULT_TAG_SIZE, stored, index)
                    self.metadata_offsets.append(pos)
                    pos = end
                    continue
                if index not in streams:
                    descriptor = self._read_descriptor(pos, index)
                    if descriptor is None:
                        if self.archived:
                            self.footer_offset = pos
                            break
                        raise XefFormatError(
                            self.path,
                            pos,
                            f"record for stream {index}, which has no "
                            f"descriptor (expected a 0x3333 marker in its payload)",
                        )
                    streams[index], pos = descriptor
                    continue
                tag_size = streams[index]["tag_size"]
                end = self._record_end(pos, tag_size, stored, index)
                tag_pos = pos + RECORD_HEADER.size
                frame_number = (
                    int.from_bytes(self._map[tag_pos : tag_pos + 4], "little", signed=True)
                    if tag_size == 4
                    else -1
                )
                rows.append((pos, index, time, frame_number, tag_pos + tag_size, stored, full, flags))
                pos = end
        except XefFormatError as error:
            self.damage = error
        table = np.array(rows, dtype=np.int64).reshape(-1, 8)
        # Stable sort: archived files hold one stream after another; equal times keep file order.
        table = table[np.argsort(table[:, 2], kind="stable")]
        self._table = table
        self._stream_rows: dict[int, np.ndarray] = {}  # per-stream rows of the table, built on first use
        self.streams = {
            i: XefStream(
                index=i,
                name=s["name"],
                type_id=s["type_id"],
                kind=STREAM_KINDS.get(s["type_id"], "unknown"),
                tag_size=s["tag_size"],
                compressed=s["compressed"],
                event_count=int(np.count_nonzero(table[:, 1] == i)),
                descriptor_offset=s["offset"],
            )
            for i, s in sorted(streams.items())
        }

    def _record_header(self, pos: int) -> tuple[int, int, int, int, int, int]:
        if pos + RECORD_HEADER.size > self.size:
            raise XefFormatError(
                self.path,
                pos,
                f"record header cut short: {RECORD_HEADER.size} bytes needed, the file ends at {self.size}",
            )
        return RECORD_HEADER.unpack_from(self._map, pos)

    def _record_end(self, pos: int, tag_size: int, stored: int, index: int) -> int:
        end = pos + RECORD_HEADER.size + tag_size + stored
        if end > self.size:
            raise XefFormatError(
                self.path,
                pos,
                f"record of stream {index} needs {end - pos} bytes "
                f"(tag {tag_size} + payload {stored}), the file ends at {self.size}",
            )
        return end

    def _plausible_header(self, pos: int, streams: dict[int, dict]) -> bool:
        if pos + 4 > self.size:
            return False
        index, flags = struct.unpack_from("<HH", self._map, pos)
        if flags & ~FLAG_COMPRESSED:
            return False
        if index in (OPAQUE_INDEX, METADATA_INDEX, self._footer_index) or index in streams:
            return True
        limit = self._footer_index if self._footer_index is not None else max(streams, default=0) + 2
        return 0 < index < limit

    def _skip_opaque(self, pos: int, stored: int, streams: dict[int, dict]) -> int:
        lengths = ((stored,) if stored else ()) + OPAQUE_LENGTHS
        for length in lengths:
            end = pos + RECORD_HEADER.size + length
            if self._plausible_header(end, streams):
                return end
        if all(pos + RECORD_HEADER.size + length + 4 > self.size for length in lengths):
            raise XefFormatError(
                self.path, pos, f"opaque 0xFFFF record runs past the end of the file ({self.size} bytes)"
            )
        raise XefFormatError(
            self.path,
            pos,
            "cannot find the end of an opaque 0xFFFF record (no record "
            f"header after {', '.join(hex(n) for n in lengths)} bytes)",
        )

    def _read_descriptor(self, pos: int, index: int) -> tuple[dict, int] | None:
        """The stream description starting at pos, and the offset after its second record; None when the
        record at pos is not shaped like a descriptor."""
        _, flags, stored, _, _, full = self._record_header(pos)
        end = self._record_end(pos, DEFAULT_TAG_SIZE, stored, index)
        tag_index, stream_flags, guid = DESCRIPTOR_TAG.unpack_from(self._map, pos + RECORD_HEADER.size)
        payload_pos = pos + RECORD_HEADER.size + DEFAULT_TAG_SIZE
        payload = self._decompress(self._map[payload_pos : payload_pos + stored], flags, full, pos)
        if tag_index != index or len(payload) < DESCRIPTOR_NAME_BYTES + 4:
            return None
        marker, tag_size = struct.unpack_from("<HH", payload, DESCRIPTOR_NAME_BYTES)
        if marker != DESCRIPTOR_MARKER:
            return None
        name = payload[:DESCRIPTOR_NAME_BYTES].decode("utf-16-le", errors="replace").split("\x00", 1)[0]
        info = {
            "name": name,
            "type_id": uuid.UUID(bytes_le=guid),
            "tag_size": tag_size,
            "compressed": bool(stream_flags & FLAG_COMPRESSED),
            "offset": pos,
        }
        # The second descriptor record, possibly after the 8 bytes XEFtoEXR saw in archived files.
        for start in (end, end + ARCHIVED_DESCRIPTOR_GAP):
            if start + 2 <= self.size and struct.unpack_from("<H", self._map, start)[0] == index:
                _, _, second_stored, _, _, _ = self._record_header(start)
                return info, self._record_end(start, DEFAULT_TAG_SIZE, second_stored, index)
        return info, end

    def _decompress(self, data: bytes, flags: int, full: int, pos: int) -> bytes:
        if not flags & FLAG_COMPRESSED:
            return data
        if full > MAX_PAYLOAD_BYTES:
            raise XefFormatError(self.path, pos, f"the record header says {full} bytes, more than any Kinect "
                                                 f"frame ({MAX_PAYLOAD_BYTES})")
        # At most one byte more than the header says: a small payload that inflates to gigabytes (a
        # damaged or crafted file) stops there instead of taking the computer's memory first.
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(data, full + 1)
        except zlib.error as error:
            raise XefFormatError(self.path, pos, f"zlib payload does not decompress: {error}") from None
        if len(out) > full:
            raise XefFormatError(
                self.path, pos, f"payload decompresses to more than the {full} bytes the record header says"
            )
        if not inflater.eof:
            raise XefFormatError(self.path, pos, "zlib payload does not decompress: it is cut short")
        if len(out) != full:
            raise XefFormatError(
                self.path, pos, f"payload decompresses to {len(out)} bytes, the record header says {full}"
            )
        return out

    def _release(self, start: int, length: int) -> None:
        # Pages of the mapping that were read stay in this process's resident set until released; a
        # replay of a 100 GB file would otherwise look like a 100 GB process (the data is copied out).
        if not hasattr(mmap, "MADV_DONTNEED") or length <= 0:
            return
        first = start - start % mmap.PAGESIZE
        self._map.madvise(mmap.MADV_DONTNEED, first, min(self.size, start + length) - first)

    # ---- queries ------------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        return self.damage is None

    @property
    def event_count(self) -> int:
        return len(self._table)

    @property
    def duration_s(self) -> float:
        if not len(self._table):
            return 0.0
        return float(self._table[-1, 2] - self._table[0, 2]) / TICKS_PER_SECOND

    def stream(self, kind: str) -> XefStream | None:
        """The first stream of a kind (COLOR, BODY, ...), or None when the file has none."""
        return next((s for s in self.streams.values() if s.kind == kind), None)

    def nearest_event(self, stream: int, time_s: float, max_gap_s: float = 0.05) -> XefEvent | None:
        """The event of `stream` nearest in time to `time_s` (seconds on the file's clock, as Frame
        timestamps are), or None when the nearest one is more than `max_gap_s` away. Streams of one
        sensor frame carry different timestamps (depth, colour and body a few ms apart)."""
        rows = self._rows(stream)
        k = _nearest(rows[:, 2], round(time_s * TICKS_PER_SECOND), max_gap_s * TICKS_PER_SECOND)
        return None if k is None else self._event(rows[k])

    def events(self, stream: int | None = None) -> Iterator[XefEvent]:
        """Data events in time order (one stream or all); raises `damage` after the last readable one."""
        rows = self._table if stream is None else self._table[self._table[:, 1] == stream]
        for row in rows:
            yield self._event(row)
        if self.damage is not None:
            raise self.damage

    def _event(self, row: np.ndarray) -> XefEvent:
        pos, index, time, frame_number, payload_pos, stored, full, flags = (int(v) for v in row)
        return XefEvent(
            index, time, frame_number, pos, payload_pos, stored, full, bool(flags & FLAG_COMPRESSED)
        )

    def payload(self, event: XefEvent) -> bytes:
        """The event's payload, decompressed (a copy: the file's mapping stays closable)."""
        if self._map is None:  # else "'NoneType' object is not subscriptable" from a frame loop
            raise ValueError(f"{self.path}: read after the recording was closed")
        data = self._map[event.payload_offset : event.payload_offset + event.stored_size]
        self._release(event.payload_offset, event.stored_size)
        return self._decompress(
            data, FLAG_COMPRESSED if event.compressed else 0, event.uncompressed_size, event.offset
        )

    def _sized_payload(self, event: XefEvent, expected: int, what: str) -> bytes:
        data = self.payload(event)
        if len(data) != expected:
            raise XefFormatError(
                self.path, event.offset, f"{what} payload of {len(data)} bytes, expected {expected}"
            )
        return data

    def color_image(self, event: XefEvent) -> np.ndarray:
        """Uncompressed colour (YUY2 1920x1080) -> BGR uint8 (1080, 1920, 3)."""
        data = self._sized_payload(event, COLOR_WIDTH * COLOR_HEIGHT * 2, "colour (YUY2 1920x1080)")
        yuy2 = np.frombuffer(data, dtype=np.uint8).reshape(COLOR_HEIGHT, COLOR_WIDTH, 2)
        return cv2.cvtColor(yuy2, cv2.COLOR_YUV2BGR_YUY2)

    def depth_image(self, event: XefEvent) -> np.ndarray:
        """Depth in millimetres, uint16 (424, 512)."""
        data = self._sized_payload(event, DEPTH_WIDTH * DEPTH_HEIGHT * 2, "depth (uint16 512x424)")
        return np.frombuffer(data, dtype="<u2").reshape(DEPTH_HEIGHT, DEPTH_WIDTH).copy()

    def body_index_image(self, event: XefEvent) -> np.ndarray:
        """Body index per depth pixel (0-5, 255 = background), uint8 (424, 512)."""
        data = self._sized_payload(event, DEPTH_WIDTH * DEPTH_HEIGHT, "body index (uint8 512x424)")
        return np.frombuffer(data, dtype=np.uint8).reshape(DEPTH_HEIGHT, DEPTH_WIDTH).copy()

    def body_frame(self, event: XefEvent) -> XefBodyFrame:
        data = self.payload(event)
        try:
            frame = decode_body_frame(data, f"{self.path}: at byte offset {event.offset}")
        except ValueError as error:
            raise XefFormatError(self.path, event.offset, str(error).rsplit(": ", 1)[-1]) from None
        if frame.dropped is not None and not self._said_dropped:  # once per file: a glitch may recur
            self._said_dropped = True
            log.warning("%s: at byte offset %d: %s; such joints are replayed as not tracked (a body with "
                        "nothing else, not at all)", self.path, event.offset, frame.dropped)
        return frame

    def frame_count(self, color: bool = True, max_pair_gap_s: float = 0.05) -> int:
        """How many Frames `frames(color=...)` yields (before any damage)."""
        return len(self.frame_times_s(color, max_pair_gap_s))

    def frame_times_s(self, color: bool = True, max_pair_gap_s: float = 0.05) -> np.ndarray:
        """The timestamps (seconds, ascending) of the Frames `frames(color=...)` yields."""
        driver = self._driver(color)
        if driver is None:
            return np.zeros(0)
        before, after = self._bodies_outside_colour(driver, max_pair_gap_s)
        rows = [before, self._rows(driver.index), after]
        return np.concatenate([r[:, 2] for r in rows]) / TICKS_PER_SECOND

    def frames_from(self, color: bool = True) -> str:
        """What drives `frames(color=...)`, for info lines: "colour stream", "body stream", "depth stream",
        with the body frames recorded outside the colour stream (replayed without colour) counted."""
        driver = self._driver(color)
        if driver is None:
            return "no colour, body or depth stream"
        text = f"{'colour' if driver.kind == COLOR else driver.kind} stream"
        if outside := self.frames_without_colour(color):
            text += f" + {outside} body frames before or after it, without colour"
        return text

    def frames_without_colour(self, color: bool = True) -> int:
        """How many of the Frames of a colour replay are body frames from before or after the colour
        stream (0 for a replay driven by another stream)."""
        driver = self._driver(color)
        if driver is None or driver.kind != COLOR:
            return 0
        return len(self.frame_times_s(color)) - len(self._rows(driver.index))

    def _driver(self, color: bool) -> XefStream | None:
        """The stream whose events become Frames: colour (when asked for), else bodies, else depth (a
        depth-only recording: point clouds for the 3D view, nobody to recognise)."""
        for kind in (COLOR, BODY, DEPTH) if color else (BODY, DEPTH):
            stream = self.stream(kind)
            if stream is not None:
                return stream
        return None

    def _rows(self, stream: int) -> np.ndarray:
        """The index rows of one stream's events, in time order (cached: frames look them up per frame)."""
        rows = self._stream_rows.get(stream)
        if rows is None:
            rows = self._stream_rows[stream] = self._table[self._table[:, 1] == stream]
        return rows

    def _bodies_outside_colour(
        self, driver: XefStream, max_pair_gap_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Body rows before the first colour image's body frame and after the last one's: Kinect Studio
        starts and stops streams a moment apart, and a body stream recorded for longer than the colour
        one must not lose its skeletons. Empty for a body-driven replay."""
        body_stream = self.stream(BODY)
        if driver.kind != COLOR or body_stream is None:
            empty = np.empty((0, 8), np.int64)
            return empty, empty
        body_rows, color_times = self._rows(body_stream.index), self._rows(driver.index)[:, 2]
        if not len(color_times):
            return body_rows, body_rows[:0]
        body_times = body_rows[:, 2]
        max_gap = max_pair_gap_s * TICKS_PER_SECOND
        first = _nearest(body_times, int(color_times[0]), max_gap)
        last = _nearest(body_times, int(color_times[-1]), max_gap)
        start = first if first is not None else int(np.searchsorted(body_times, color_times[0]))
        end = last + 1 if last is not None else int(np.searchsorted(body_times, color_times[-1], "right"))
        return body_rows[:start], body_rows[end:]

    def frames(
        self,
        camera: ColorCamera = DEFAULT_CAMERA,
        *,
        color: bool = True,
        depth: bool = True,
        max_pair_gap_s: float = 0.05,
    ) -> Iterator[Frame]:
        """core Frames in time order: each colour image with the body frame nearest in time.

        Colour and body records of one sensor frame carry different timestamps, so they are paired by
        nearest time; a body frame further than `max_pair_gap_s` away counts as missing (no bodies).
        Body frames from before the first colour image or after the last one come as frames without
        colour (a body stream recorded longer than the colour stream). With `color=False`, or without a
        colour stream, the body stream drives the frames (color None); with neither, the depth stream
        (no bodies). Joints are projected to colour
        pixels with `camera`. Timestamps are seconds from the file's time origin. With `depth`, each
        frame carries the depth image nearest in time (within `max_pair_gap_s`; None beyond it or
        without a depth stream). Raises `damage` (if any) after the last frame before it.
        """
        driver = self._driver(color)
        if driver is None:
            if self.damage is not None:
                raise self.damage
            return
        body_stream = self.stream(BODY)
        depth_stream = self.stream(DEPTH) if depth else None
        body_rows = self._rows(body_stream.index) if body_stream is not None else np.empty((0, 8), np.int64)
        body_times = body_rows[:, 2]
        max_gap = max_pair_gap_s * TICKS_PER_SECOND
        before, after = self._bodies_outside_colour(driver, max_pair_gap_s)

        def frame(event: XefEvent, index: int) -> Frame:
            if event.stream == driver.index and driver.kind == COLOR:
                image = self.color_image(event)
                bodies: list[Body] = []
                k = _nearest(body_times, event.time_ticks, max_gap)
                if k is not None:
                    bodies = [b.to_body(camera) for b in self.body_frame(self._event(body_rows[k])).bodies]
            elif event.stream == driver.index and driver.kind == DEPTH:
                return Frame(timestamp=event.time_s, color=None, bodies=[], index=index,
                             depth=self.depth_image(event) if depth else None)
            else:
                image = None
                bodies = [b.to_body(camera) for b in self.body_frame(event).bodies]
            depth_image = None
            if depth_stream is not None:
                nearest = self.nearest_event(depth_stream.index, event.time_s, max_pair_gap_s)
                depth_image = None if nearest is None else self.depth_image(nearest)
            return Frame(timestamp=event.time_s, color=image, bodies=bodies, index=index, depth=depth_image)

        index = 0
        for row in before:
            yield frame(self._event(row), index)
            index += 1
        for row in self._rows(driver.index):
            yield frame(self._event(row), index)
            index += 1
        for row in after:  # indexed, so before any damage
            yield frame(self._event(row), index)
            index += 1
        if self.damage is not None:
            raise self.damage

    # ---- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        if getattr(self, "_map", None) is not None:
            self._map.close()
            self._map = None
        self._file.close()

    def __enter__(self) -> XefReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
