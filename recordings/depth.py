"""A clip's depth stream: one file beside it, `<name>_depth.bin`, frames appended as they come.

    Recorder --DepthWriter.write(frame index, clip seconds, uint16 (424, 512) mm)--> depth.bin (partial)
             --finalize_depth (keeps whole records of kept frames)---------------> <name>_depth.bin
    ClipRecording --DepthFile.nearest(time)--> Frame.depth --> recordings/view3d.py (point cloud)

Layout (little-endian), chosen to be appended to while recording and read back by seeking:

    header   16 B  b"WTFDEPTH", u16 version (1), u16 width, u16 height, u16 0
    record   24 B  b"DPNG", u32 clip frame index, f64 time (seconds from the clip's first frame),
                   u32 payload length, u32 CRC-32 of the payload
             then  the payload: the depth image as a 16-bit greyscale PNG (millimetres, lossless)

Why this shape: a record is written whole after the ones before it, so a crash leaves a readable
prefix and at most one torn record at the end (its length or CRC gives it away); the file never needs
rewriting, only truncating, when it is finalised. PNG-16 is lossless and each payload is a standard
image any tool opens. One file per clip instead of a folder of PNGs keeps a clip at a handful of files
and makes finalising a single rename. Frames without depth (a sensor tick that brought none) simply
have no record: readers take the record nearest in time, as they do for a .xef file's depth stream.

Encoding: zlib level 1 without PNG row filters, the cheapest lossless setting. On a noisy synthetic
room frame (`python -m benchmarks.depth_recording`, this shared 2-core VM) it took 6.6 ms (minimum;
median 14) for 195 KB, 2.2x smaller than raw, where libpng's default filters took 13.7 ms (median 17)
for 206 KB and levels 3 and 6 saved 3% for 2-6x the time: sensor noise defeats the filters. The
recorder's thread also encodes the colour video (a 1080p JPEG: ~23 ms here), so cheap matters.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from recordings.atomic import AppendedFile

log = logging.getLogger(__name__)

DEPTH_WIDTH, DEPTH_HEIGHT = 512, 424  # Kinect v2 depth camera
MAGIC = b"WTFDEPTH"
VERSION = 1
HEADER = struct.Struct("<8sHHHH")  # magic, version, width, height, reserved
RECORD_MAGIC = b"DPNG"
RECORD = struct.Struct("<4sIdII")  # magic, frame index, time, payload length, CRC-32
PNG_COMPRESSION = 1  # zlib level: higher ones saved ~3% for 2-6x the time (benchmarks/depth_recording.py)
# Row filters off (OpenCV >= 4.11 has the flag; older versions use libpng's default filters).
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION] + (
    [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE] if hasattr(cv2, "IMWRITE_PNG_FILTER") else []
)
FORMAT_NAME = "where-to-focus depth"  # the sidecar's "depth" -> "format"


class DepthFormatError(ValueError):
    """A depth file that is not what the recorder writes; the message names the file and byte offset."""

    def __init__(self, path: Path | str, offset: int, what: str) -> None:
        super().__init__(f"{path}: at byte offset {offset}: {what}")
        self.path = Path(path)
        self.offset = offset


class DepthWriter(AppendedFile):
    """Appends depth images to a depth file (see the module docstring); `sync()` puts them on disk."""

    def __init__(self, path: Path | str, width: int = DEPTH_WIDTH, height: int = DEPTH_HEIGHT) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        super().__init__(self.path, HEADER.pack(MAGIC, VERSION, width, height, 0))
        self.frames = 0
        self.bytes_written = HEADER.size

    def write(self, index: int, time_s: float, image: np.ndarray) -> None:
        if image.dtype != np.uint16 or image.shape != (self.height, self.width):
            raise ValueError(
                f"{self.path}: frame {index}: depth must be uint16 ({self.height}, {self.width}) "
                f"millimetres, got {image.dtype} {image.shape}"
            )
        ok, png = cv2.imencode(".png", image, PNG_PARAMS)
        if not ok:
            raise RuntimeError(f"{self.path}: frame {index}: PNG encoding of the depth image failed")
        payload = png.tobytes()
        record = RECORD.pack(RECORD_MAGIC, index, time_s, len(payload), zlib.crc32(payload))
        self.append(record + payload)
        self.frames += 1
        self.bytes_written += len(record) + len(payload)


class DepthFile:
    """A depth file's records, indexed by reading their headers only; images decoded on demand.

    `strict` (a finished clip's file): damage raises DepthFormatError at once. Not strict (recovering a
    recorder's partial file): the records before the damage are kept and `damage` says what was wrong.
    """

    def __init__(self, path: Path | str, *, strict: bool = True) -> None:
        self.path = Path(path)
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self.size = os.fstat(self._file.fileno()).st_size
        self.damage: DepthFormatError | None = None
        self.width = self.height = 0  # not read when the header is damaged
        offsets, indices, times, lengths, crcs = [], [], [], [], []
        try:
            head = self._file.read(HEADER.size)
            if len(head) < HEADER.size or not head.startswith(MAGIC):
                raise DepthFormatError(self.path, 0, f"not a depth file (it should start with {MAGIC!r})")
            _, version, self.width, self.height, _ = HEADER.unpack(head)
            if version > VERSION:
                raise DepthFormatError(self.path, 8, f"version {version}; this reader knows {VERSION}")
            pos = HEADER.size
            while pos < self.size:
                self._file.seek(pos)
                raw = self._file.read(RECORD.size)
                if len(raw) < RECORD.size:
                    raise DepthFormatError(self.path, pos, f"record header cut short ({len(raw)} of "
                                           f"{RECORD.size} bytes; the file ends there)")
                magic, index, time_s, length, crc = RECORD.unpack(raw)
                if magic != RECORD_MAGIC:
                    raise DepthFormatError(self.path, pos, f"expected {RECORD_MAGIC!r}, found {magic!r}")
                end = pos + RECORD.size + length
                if end > self.size:
                    raise DepthFormatError(self.path, pos, f"frame {index}'s image needs {length} bytes, "
                                           f"the file ends {self.size - pos - RECORD.size} bytes on")
                if indices and (index <= indices[-1] or not time_s >= times[-1]):
                    raise DepthFormatError(self.path, pos, f"frame {index} at {time_s:.6f} s after frame "
                                           f"{indices[-1]} at {times[-1]:.6f} s (out of order)")
                offsets.append(pos)
                indices.append(index)
                times.append(time_s)
                lengths.append(length)
                crcs.append(crc)
                pos = end
        except DepthFormatError as error:
            if strict:
                self._file.close()
                raise
            self.damage = error
        self.offsets = np.array(offsets, np.int64)
        self.indices = np.array(indices, np.int64)  # clip frame index of each record
        self.times = np.array(times, np.float64)  # seconds from the clip's first frame
        self._lengths = lengths
        self._crcs = crcs

    def __len__(self) -> int:
        return len(self.offsets)

    def end_of(self, record: int) -> int:
        """Byte offset just after a record."""
        return int(self.offsets[record]) + RECORD.size + self._lengths[record]

    def payload(self, record: int) -> bytes:
        """A record's PNG bytes, CRC checked."""
        offset = int(self.offsets[record])
        self._file.seek(offset + RECORD.size)
        data = self._file.read(self._lengths[record])
        if zlib.crc32(data) != self._crcs[record]:
            raise DepthFormatError(self.path, offset, f"frame {self.indices[record]}'s image fails its CRC")
        return data

    def image(self, record: int) -> np.ndarray:
        """Record `record`'s depth in millimetres, uint16 (height, width)."""
        data = self.payload(record)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None or image.dtype != np.uint16 or image.shape != (self.height, self.width):
            got = "no image" if image is None else f"{image.dtype} {image.shape}"
            raise DepthFormatError(self.path, int(self.offsets[record]), f"frame {self.indices[record]}: "
                                   f"expected a uint16 ({self.height}, {self.width}) PNG, got {got}")
        return image

    def nearest(self, time_s: float, max_gap_s: float = 0.05) -> np.ndarray | None:
        """The depth image nearest in time to `time_s` (clip seconds), None when none is within max_gap_s."""
        if not len(self.times):
            return None
        j = int(np.searchsorted(self.times, time_s))
        near = [k for k in (j - 1, j) if 0 <= k < len(self.times)]
        k = min(near, key=lambda k: abs(self.times[k] - time_s))
        if abs(self.times[k] - time_s) > max_gap_s:
            return None
        return self.image(k)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> DepthFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def finalize_depth(part: Path, final: Path, max_frames: int, *, check_images: bool) -> int:
    """Turn a recorder's partial depth file into the clip's: keep the whole records of frames below
    `max_frames` (before any damage a crash left), truncate the rest, rename it to `final`. Returns the
    records kept; with none, the partial file is removed and nothing is written. `check_images`
    (recovery after a crash) also checks each image's CRC: a power cut can leave a record whose header
    reached the disk and whose image did not."""
    with DepthFile(part, strict=False) as depth:
        keep = int(np.searchsorted(depth.indices, max_frames))
        if check_images:
            for record in range(keep):
                try:
                    depth.payload(record)
                except DepthFormatError as error:
                    depth.damage = depth.damage or error
                    keep = record
                    break
        if depth.damage is not None:
            log.warning("%s; %d depth frames kept (the whole ones of the clip's frames)", depth.damage, keep)
        end = depth.end_of(keep - 1) if keep else 0
    if not keep:
        part.unlink()
        return 0
    with open(part, "r+b") as f:
        f.truncate(end)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, final)
    return keep
