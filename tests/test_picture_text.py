"""Words in pictures (recordings/picture_text.py): a site's class names in any script, not '???'."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from recordings.picture_text import HERSHEY, characters_without_a_font, put_text, text_size

REPO = Path(__file__).resolve().parents[1]
# Same length, different letters: OpenCV's fonts wrote both as five question marks, pixel for pixel alike.
FALL, LYING = "Πτώση", "Πίνει"  # Greek for a fall and for drinking


def written(text: str, image: np.ndarray | None = None, origin=(10, 40), scale=0.5) -> np.ndarray:
    image = np.zeros((60, 300, 3), np.uint8) if image is None else image
    put_text(image, text, origin, scale, (255, 255, 255))
    return image


def test_words_outside_ascii_are_written_as_themselves():
    fall, lying = written(FALL), written(LYING)
    assert fall.any() and lying.any()
    assert (fall != lying).any()


def test_the_characters_no_font_has_are_named_once_in_order():
    # U+0378 and U+0379 are not assigned: no font has them. ASCII and spaces are OpenCV's or nobody's.
    assert characters_without_a_font(["fall_down", FALL + " ü", ""]) == ""
    assert characters_without_a_font([FALL + "\u0379\u0378", "\u0378x"]) == "\u0379\u0378"


def test_the_measured_box_holds_what_is_written():
    """Labels are boxed by text_size (the live window's label over a head): the words must not run out."""
    for text in (FALL + " 95%", "person 1: drink 95%"):
        (width, height), depth = text_size(text, 0.5)
        ink = np.argwhere(written(text, origin=(10, 40)).any(-1))
        top, left = ink.min(0)
        bottom, right = ink.max(0)
        assert left >= 10 - 1 and right <= 10 + width + 1, text
        assert top >= 40 - height - 1 and bottom <= 40 + depth + 1, text
    assert text_size(FALL + FALL, 0.5)[0][0] > text_size(FALL, 0.5)[0][0]


def test_ascii_is_drawn_by_opencv_exactly_as_before():
    ours = written("person 1: drink 95%")
    opencv = np.zeros_like(ours)
    cv2.putText(opencv, "person 1: drink 95%", (10, 40), HERSHEY, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    assert (ours == opencv).all()
    assert text_size("drink", 0.5) == cv2.getTextSize("drink", HERSHEY, 0.5, 1)


def test_a_picture_cut_from_a_larger_one_is_written_in_place():
    whole = np.zeros((60, 400, 3), np.uint8)
    written(FALL, whole[:, 100:])  # a view: not contiguous
    assert whole[:, 100:].any() and not whole[:, :100].any()


def test_a_process_without_a_window_or_a_display_writes_them_too():
    """Training's figures on a server: no display, no QT_QPA_PLATFORM, no Qt application made before."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    code = ("import numpy as np; from recordings.picture_text import put_text; "
            "image = np.zeros((60, 300, 3), np.uint8); "
            f"put_text(image, {FALL!r}, (10, 40), 0.5, (255, 255, 255)); print(int(image.any()))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_a_read_only_or_grey_picture_is_refused_not_written_through_or_ignored():
    frozen = np.zeros((60, 300, 3), np.uint8)
    frozen.flags.writeable = False  # cv2.putText refuses it; Qt wrote into it through its buffer
    with pytest.raises(ValueError, match="read-only"):
        put_text(frozen, FALL, (10, 40), 0.5, (255, 255, 255))
    assert not frozen.any()
    with pytest.raises(ValueError, match=r"needs a uint8 height x width x 3 image, got uint8 \(60, 300\)"):
        put_text(np.zeros((60, 300), np.uint8), FALL, (10, 40), 0.5, (255, 255, 255))


def test_a_picture_is_saved_under_any_folder_name_and_an_unknown_suffix_is_named(tmp_path):
    """cv2.imwrite opens files through Windows' narrow-character functions, which fail for a folder
    named in another script; the picture is encoded by OpenCV and written by Python."""
    from recordings.picture_text import write_image

    folder = tmp_path / "Auswertung Station 4 日本"
    folder.mkdir()
    picture = np.zeros((20, 30, 3), np.uint8)
    picture[5:10, 5:10] = (0, 0, 255)
    write_image(folder / "confusion.png", picture)
    assert (cv2.imdecode(np.fromfile(folder / "confusion.png", np.uint8), cv2.IMREAD_COLOR) == picture).all()
    with pytest.raises(OSError, match=r"confusion.xyz: OpenCV cannot write \.xyz"):
        write_image(folder / "confusion.xyz", picture)
