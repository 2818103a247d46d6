"""MJPG AVI files written frame by frame so that a crash leaves a usable video.

OpenCV's VideoWriter keeps its output in user-space buffers and writes the index only on release, so a
crash loses the whole file. `MjpegAviWriter` lays out a fixed RIFF header, then appends one `00dc`
chunk per JPEG frame as it comes (the recorder syncs the file every second); `finalize_avi` keeps the
whole chunks, appends the `idx1` index and fixes the header's sizes and counts -- after a clean close
or after a crash alike. Any AVI reader (OpenCV, `recordings.ntu_video.RgbVideo`) plays the result.
`RecordedAvi` reads such a file's frames (RgbVideo) and copies a range of them into one of its own
(`recordings export`).

    RIFF 'AVI ' | LIST 'hdrl' (avih, LIST 'strl' (strh, strf)) | LIST 'movi' (00dc chunks...) | idx1
"""

from __future__ import annotations

import os
import struct
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from recordings.atomic import AppendedFile

# AVI 1.0 stores sizes and index offsets as u32: the recorder stops (cleanly) before a file reaches 4 GiB.
MAX_AVI_BYTES = 2**32 - 2**26


class AviError(ValueError):
    """A file that is not an AVI this writer laid out, or a frame it cannot encode."""


_MOVI_FOURCC = 220  # offset of the 'movi' list type in the fixed header this writer lays out
_FIRST_CHUNK = 224


def missing_bytes(path: str | os.PathLike) -> int:
    """How many bytes a RIFF file's header says it has beyond its end (0 for a whole file): a copy cut
    short plays its first frames only, while its header still counts them all."""
    with open(path, "rb") as f:
        head = f.read(8)
        size = f.seek(0, os.SEEK_END)
    if len(head) < 8 or head[:4] != b"RIFF":
        return 0  # not a RIFF file: nothing to compare
    return max(0, struct.unpack("<I", head[4:])[0] + 8 - size)


def _avi_header(width: int, height: int, fps: float) -> bytes:
    scale, rate = 1000, max(1, round(fps * 1000))
    avih = struct.pack("<14I", round(1e6 / fps), 0, 0, 0x10, 0, 0, 1, 0, width, height, 0, 0, 0, 0)
    strh = struct.pack(
        "<4s4sIHHIIIIIIII4h",
        b"vids",
        b"MJPG",
        0,
        0,
        0,
        0,
        scale,
        rate,
        0,
        0,
        0,
        0xFFFFFFFF,
        0,
        0,
        0,
        width,
        height,
    )
    strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, b"MJPG", width * height * 3, 0, 0, 0, 0)
    strl = b"strh" + struct.pack("<I", 56) + strh + b"strf" + struct.pack("<I", 40) + strf
    hdrl = (
        b"avih" + struct.pack("<I", 56) + avih + b"LIST" + struct.pack("<I", 4 + len(strl)) + b"strl" + strl
    )
    header = (
        b"RIFF"
        + struct.pack("<I", 0)
        + b"AVI "
        + b"LIST"
        + struct.pack("<I", 4 + len(hdrl))
        + b"hdrl"
        + hdrl
        + b"LIST"
        + struct.pack("<I", 4)
        + b"movi"
    )
    assert len(header) == _FIRST_CHUNK
    return header


class MjpegAviWriter(AppendedFile):
    """Appends JPEG frames to an AVI as they come; `finalize_avi` adds the index and sizes.

    OpenCV's VideoWriter keeps its output in user-space buffers and writes the index only on release,
    so a crash loses the whole file; this writer's file is always a valid prefix plus a header whose
    counts `finalize_avi` repairs.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, quality: int = 90) -> None:
        self.path = path
        self.width, self.height = width, height
        self.quality = quality
        super().__init__(path, _avi_header(width, height, fps))
        self.bytes_written = _FIRST_CHUNK
        self.frame_count = 0
        self._last: bytes | None = None

    def encode(self, image: np.ndarray) -> bytes:
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"{self.path}: frame {self.frame_count} is {image.shape[1]}x{image.shape[0]}, the "
                f"video is {self.width}x{self.height}"
            )
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise AviError(f"{self.path}: JPEG encoding failed for frame {self.frame_count}")
        return data.tobytes()

    def write(self, image: np.ndarray | None) -> None:
        """Append a frame; None repeats the previous one (keeps video frame i = skeleton frame i)."""
        data = self._last if image is None else self.encode(image)
        if data is None:
            raise ValueError(f"{self.path}: no previous frame to repeat")
        chunk = b"00dc" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
        self.append(chunk)
        self.bytes_written += len(chunk)
        self.frame_count += 1
        self._last = data


def _recorder_header(f: BinaryIO, path: Path) -> bytes:
    """The fixed header MjpegAviWriter lays out, read from the start of `f`; AviError if it is not one."""
    f.seek(0)
    header = f.read(_FIRST_CHUNK)
    if len(header) < _FIRST_CHUNK or header[:4] != b"RIFF" or header[_MOVI_FOURCC:_FIRST_CHUNK] != b"movi":
        raise AviError(f"{path}: at byte offset 0: not an AVI written by the recorder")
    return header


def _frame_chunks(f: BinaryIO, size: int, max_frames: int | None = None) -> tuple[list[tuple[int, int]], int]:
    """The whole `00dc` chunks (offset, JPEG length) after the header, at most max_frames, and the offset
    where the last of them ends."""
    chunks: list[tuple[int, int]] = []
    pos = _FIRST_CHUNK
    while pos + 8 <= size and (max_frames is None or len(chunks) < max_frames):
        f.seek(pos)
        fourcc, length = struct.unpack("<4sI", f.read(8))
        if fourcc != b"00dc" or pos + 8 + length > size:
            break  # the index (idx1), or a chunk a crash cut short
        chunks.append((pos, length))
        pos += 8 + length + (length & 1)
    return chunks, pos


def _indexed_chunks(f: BinaryIO, header: bytes, size: int) -> list[tuple[int, int]] | None:
    """The frame chunks as the idx1 of finalize_avi lists them, or None where there is none that fits
    (a file a crash left, or cut short): one read, where walking the chunks is a seek a frame (108,000
    for an hour's take; 0.09 s from a warm cache, seconds from a cold disk)."""
    movi_size, count = struct.unpack("<I", header[216:220])[0], struct.unpack("<I", header[48:52])[0]
    at = _MOVI_FOURCC + movi_size  # where finalize_avi appended the index
    if not movi_size or not count or at + 8 + 16 * count > size:
        return None
    f.seek(at)
    fourcc, length = struct.unpack("<4sI", f.read(8))
    if fourcc != b"idx1" or length != 16 * count:
        return None
    entries = np.frombuffer(f.read(length), dtype="<u4").reshape(count, 4).astype(np.int64)
    starts, lengths = entries[:, 2] + _MOVI_FOURCC, entries[:, 3]
    ends = starts + 8 + lengths + (lengths & 1)
    if (entries[:, 0] != struct.unpack("<I", b"00dc")[0]).any() or starts[0] != _FIRST_CHUNK \
            or (starts[1:] != ends[:-1]).any() or ends[-1] != at:
        return None  # not the chunks one after another that the writer lays out
    return list(zip(starts.tolist(), lengths.tolist(), strict=True))


class RecordedAvi:
    """An AVI MjpegAviWriter wrote, its frames found once: each frame's JPEG read from its place (RgbVideo
    decodes only the frames asked for), and a range of them copied into a video of its own as the JPEGs
    they are (no decoding, no second compression).

    AviError for any other file, an AVI of another tool's included: one with the same minimal layout
    (a single stream, 'movi' at byte 220) but another codec or chunk type is for OpenCV to read."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as f:
            self._header = _recorder_header(f, self.path)
            size = f.seek(0, os.SEEK_END)
            f.seek(_FIRST_CHUNK)
            first = f.read(4)
            self._chunks = _indexed_chunks(f, self._header, size) or _frame_chunks(f, size)[0]
        # strh's handler (112) and strf's compression (188) say MJPG; the first chunk is a frame, the
        # index of a video without frames, or cut off by a crash.
        codecs = (self._header[112:116], self._header[188:192])
        if codecs != (b"MJPG", b"MJPG") or (len(first) == 4 and first not in (b"00dc", b"idx1")):
            raise AviError(f"{self.path}: not an MJPG AVI written by the recorder")
        # avih: width and height at 64 and 68, the frame count at 48 (0 until finalize_avi counts them);
        # strh: scale and rate at 128 and 132 (fps = rate / scale, as _avi_header wrote them).
        self.width, self.height = struct.unpack("<II", self._header[64:72])
        self.announced = struct.unpack("<I", self._header[48:52])[0]
        scale, rate = struct.unpack("<II", self._header[128:136])
        self.fps = rate / scale if scale else 0.0

    def __len__(self) -> int:
        """The whole frames in the file (a copy cut short holds fewer than its header announces)."""
        return len(self._chunks)

    def jpegs(self, indices: Iterable[int]) -> Generator[bytes, None, None]:
        """The JPEG of each frame in `indices`, read from its place in the file."""
        with open(self.path, "rb") as source:
            for index in indices:
                yield self._chunk(source, index)[8:]

    def _chunk(self, source: BinaryIO, index: int) -> bytes:
        """Frame `index`'s whole chunk, its header checked against where the index put it: a damaged
        header, trusted, cut a piece short without a word (finalize_avi stops at it)."""
        pos, length = self._chunks[index]
        source.seek(pos)
        chunk = source.read(8 + length + (length & 1))
        if chunk[:8] != b"00dc" + struct.pack("<I", length) or len(chunk) < 8 + length:
            raise AviError(f"{self.path}: frame {index} is damaged (at byte {pos} its header is not the "
                           "one the index gives)")
        return chunk

    def cut(self, out: Path | str, indices: Sequence[int], fps: float | None = None) -> None:
        """Frames `indices` (a range, or a frame repeated where a slower stretch is brought to a faster
        rate) as the AVI `out`, its JPEGs copied, its frame size this one's, its rate `fps` (default this
        one's)."""
        outside = [i for i in indices if not 0 <= i < len(self._chunks)]
        if outside or not len(indices):
            raise IndexError(f"{self.path}: {f'frame {outside[0]}' if outside else 'no frames'} to cut, of "
                             f"0..{len(self._chunks) - 1}")
        out = Path(out)
        header = self._header if fps is None else _avi_header(self.width, self.height, fps)
        with open(self.path, "rb") as source:
            video = AppendedFile(out, header)
            try:
                for index in indices:
                    video.append(self._chunk(source, index))
            finally:
                video.close()
        finalize_avi(out)


def finalize_avi(path: Path, max_frames: int | None = None, fps: float | None = None) -> int:
    """Index an AVI written by MjpegAviWriter (complete or cut short by a crash): keep the whole chunks
    (at most max_frames), append idx1, fix the header's sizes and counts, and its rate where `fps` is
    given (a recording's measured rate: a dark room's 15, where the writer began with 30). Returns the
    frame count."""
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
        _recorder_header(f, path)
        if fps is not None and fps > 0:  # avih's microseconds per frame; strh's scale and rate
            f.seek(32)
            f.write(struct.pack("<I", round(1e6 / fps)))
            f.seek(128)
            f.write(struct.pack("<II", 1000, max(1, round(fps * 1000))))
        chunks, pos = _frame_chunks(f, size, max_frames)
        f.truncate(pos)
        f.seek(pos)
        index = b"".join(
            struct.pack("<4sIII", b"00dc", 0x10, start - _MOVI_FOURCC, length) for start, length in chunks
        )
        f.write(b"idx1" + struct.pack("<I", len(index)) + index)
        end = f.tell()
        largest = max((length for _, length in chunks), default=0)
        for offset, value in (
            (4, end - 8),
            (_MOVI_FOURCC - 4, pos - _MOVI_FOURCC),
            (48, len(chunks)),
            (60, largest),
            (140, len(chunks)),
            (144, largest),
        ):
            f.seek(offset)
            f.write(struct.pack("<I", value))
        f.flush()
        os.fsync(f.fileno())
    return len(chunks)
