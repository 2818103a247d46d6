"""Words written into pictures (numpy images), in any script.

OpenCV's own fonts lack most scripts (OpenCV 4's have ASCII and Cyrillic, 5's add Latin-1, Arabic and
Hebrew; neither has Greek, Thai or CJK): a class a site named Πτώση or 跌倒 came out as "?????" over the
patient's head in the live window, in `recordings view` and in the figures training writes. Text that is
all ASCII is still drawn by OpenCV, exactly as before; other text by Qt, which finds a system font that
has its characters (Qt's font fallback: on Windows the CJK fonts come with the OS; on Linux install one,
e.g. Debian's fonts-noto-cjk), at the size OpenCV's font would have had. The two take the same
arguments: `scale` and `thickness` as cv2.putText's with cv2.FONT_HERSHEY_SIMPLEX, colours in the
picture's own channel order (BGR or RGB), `origin` the left end of the baseline.

`write_image`: such a picture saved to a file, under any file name.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

HERSHEY = cv2.FONT_HERSHEY_SIMPLEX
PIXELS_PER_SCALE = 27  # Qt pixel size per unit of OpenCV scale: about as wide as OpenCV writes the same words

_application = None  # the off-screen QApplication made for a process without a window (kept alive)


def write_image(path: Path, image: np.ndarray) -> None:
    """Save `image` (BGR) as the image format its suffix names. Encoded by OpenCV and written by Python:
    cv2.imwrite opens the file with the system's narrow-character functions, which on Windows fail for a
    folder named "Auswertung Station 4 日本" (or write it under a garbled name)."""
    try:
        encoded, data = cv2.imencode(path.suffix, image)
    except cv2.error:  # no encoder for the suffix
        encoded = False
    if not encoded:
        raise OSError(f"{path}: OpenCV cannot write {path.suffix or 'an image without a suffix'}")
    path.write_bytes(data.tobytes())


def text_size(text: str, scale: float, thickness: int = 1) -> tuple[tuple[int, int], int]:
    """((width, height above the baseline), depth below it) in pixels, as cv2.getTextSize returns."""
    if text.isascii():
        return cv2.getTextSize(text, HERSHEY, scale, thickness)
    metrics = _qt_gui().QFontMetrics(_font(scale, thickness))
    return (metrics.horizontalAdvance(text), metrics.ascent()), metrics.descent()


def put_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
             colour: tuple[int, int, int], thickness: int = 1) -> None:
    """Write `text` into `image` (uint8, height x width x 3; in place) from `origin`."""
    if not image.flags.writeable:  # as cv2.putText refuses it; Qt would write into it through its buffer
        raise ValueError("put_text: the image is read-only")
    if text.isascii():
        cv2.putText(image, text, origin, HERSHEY, scale, colour, thickness, cv2.LINE_AA)
        return
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"put_text: {text!r} needs a uint8 height x width x 3 image, got {image.dtype} "
                         f"{image.shape}")
    QtGui = _qt_gui()  # noqa: N806 (the module's own name)
    canvas = image if image.flags.c_contiguous else np.ascontiguousarray(image)
    height, width = canvas.shape[:2]
    # The array's own memory as a picture: Qt paints into it. RGB888 names the channels in memory order, so
    # a BGR picture with a BGR colour comes out right too.
    picture = QtGui.QImage(canvas.data, width, height, canvas.strides[0], QtGui.QImage.Format.Format_RGB888)
    painter = QtGui.QPainter(picture)
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        painter.setFont(_font(scale, thickness))
        painter.setPen(QtGui.QColor(*(int(c) for c in colour[:3])))
        painter.drawText(int(origin[0]), int(origin[1]), text)
    finally:
        painter.end()
    if canvas is not image:
        image[...] = canvas


def characters_without_a_font(texts: Iterable[str]) -> str:
    """The characters of `texts` that no font installed here has, each once, in order; '' when all can be
    shown. Qt draws such a character as an empty box, whatever the text: a class named 跌倒 on a Linux
    without a CJK font became "alerts: □□" over the patient. ASCII is drawn by OpenCV, spaces by none."""
    QtGui = _qt_gui()  # noqa: N806 (the module's own name)
    wanted = dict.fromkeys(c for text in texts for c in text if not c.isascii() and not c.isspace())
    for family in QtGui.QFontDatabase.families():
        if not wanted:
            break
        metrics = QtGui.QFontMetrics(QtGui.QFont(family))
        wanted = {c: None for c in wanted if not metrics.inFontUcs4(ord(c))}
    return "".join(wanted)


@functools.lru_cache(maxsize=32)
def _font(scale: float, thickness: int):
    """The font for OpenCV's `scale` and `thickness`: made once (a label drawn every frame asks again)."""
    font = _qt_gui().QFont()
    font.setPixelSize(max(6, round(PIXELS_PER_SCALE * scale)))
    font.setBold(thickness >= 2)
    return font


def _qt_gui():
    """QtGui, with the application its fonts need: the window's, or in a process without one (training's
    figures, a video render) an off-screen one, which needs no display."""
    global _application
    from PySide6 import QtGui, QtWidgets

    if QtWidgets.QApplication.instance() is None:
        # A QApplication rather than a QGuiApplication: a window opened later in this process (or a test's)
        # finds one it can put widgets in.
        name = sys.argv[0] if sys.argv else "python"
        _application = QtWidgets.QApplication([name, "-platform", "offscreen"])
    return QtGui
