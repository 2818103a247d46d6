"""Small N-UCLA folders of generated sequences, for tests that train or evaluate on N-UCLA's format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_nucla(folder: Path, per_class: int = 6, classes: int = 10) -> None:
    """Fake N-UCLA JSON files: class k moves the right hand at a class-specific speed."""
    folder.mkdir(parents=True)
    codes = ["a01", "a02", "a03", "a04", "a05", "a06", "a08", "a09", "a11", "a12"]
    rng = np.random.default_rng(0)
    for k in range(classes):
        for i in range(per_class):
            frames = int(rng.integers(20, 40))
            joints = np.zeros((frames, 20, 3))
            joints[:, :, 2] = 3.0
            joints[:, :4, 1] = [0.0, 0.2, 0.5, 0.7]  # spine upwards
            joints[:, 4, 0], joints[:, 8, 0] = 0.2, -0.2  # shoulders
            joints[:, 4:8, 1] = joints[:, 8:12, 1] = 0.5
            joints[:, 11, 1] += np.sin(np.linspace(0, (k + 1) * 2, frames)) * 0.3
            joints += rng.normal(0, 0.005, joints.shape)
            name = f"{codes[k]}_s{i % 5 + 1:02d}_e{i:02d}_v0{i % 2 + 1}"
            (folder / f"{name}.json").write_text(
                json.dumps({"file_name": name, "skeletons": joints.tolist(), "label": k + 1})
            )
