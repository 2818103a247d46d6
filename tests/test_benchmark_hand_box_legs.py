from __future__ import annotations

import numpy as np
import pytest

from benchmarks.hand_box_legs import inside, main
from simulation import CLASSES


def test_inside_is_per_frame_and_any_point() -> None:
    boxes = np.array([[10.0, 10.0, 4.0, 4.0], [10.0, 10.0, 4.0, 4.0]])  # cx, cy, w, h
    points = np.array([[[11.9, 8.1], [50.0, 50.0]], [[12.1, 10.0], [10.0, 7.9]]])
    assert inside(points, boxes).tolist() == [True, False]


def test_prints_both_hands_of_every_class(capsys: pytest.CaptureFixture) -> None:
    main(["--clips", "1", "--seed", "3"])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[3:]]
    assert [(r[0], r[1]) for r in rows] == [(a.name, p) for a in CLASSES for p in ("left_hand", "right_hand")]
    fractions = [float(v) for r in rows for v in (r[2], r[4], r[5], r[7])]
    assert all(0.0 <= f <= 1.0 for f in fractions)
