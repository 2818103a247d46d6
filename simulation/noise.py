"""The colour sensor's noise, added to every simulated frame without a random draw per frame."""

from __future__ import annotations

import functools

import cv2
import numpy as np


@functools.lru_cache(maxsize=4)
def _unit_noise(height: int, width: int) -> np.ndarray:
    """Standard normal noise (H, W, 3) float32, the same in every process: drawn once, scaled per clip,
    and shifted per frame (a fresh draw per clip cost more than drawing the clip's background)."""
    noise = np.random.default_rng(20190107).standard_normal((height, width, 3), dtype=np.float32)
    noise.flags.writeable = False
    return noise


class NoiseBank:
    """Sensor noise for any number of frames from one random draw: each frame takes a different window
    of a larger noise image (drawing fresh Gaussian noise for every 640x360 frame would cost more than
    the drawing itself)."""

    MARGIN = 48

    def __init__(self, height: int, width: int, sigma: float, rng: np.random.Generator) -> None:
        noise = _unit_noise(height + self.MARGIN, width + self.MARGIN) * np.float32(sigma)
        self._positive = np.clip(noise, 0, 255).astype(np.uint8)
        self._negative = np.clip(-noise, 0, 255).astype(np.uint8)
        self._shape = (height, width)
        self._offsets = rng.integers(0, self.MARGIN + 1, size=(64, 2))

    def apply(self, image: np.ndarray, index: int) -> None:
        """Add frame `index`'s noise to image in place (saturating)."""
        height, width = self._shape
        dy, dx = self._offsets[index % len(self._offsets)]
        window = (slice(dy, dy + height), slice(dx, dx + width))
        cv2.add(image, self._positive[window], dst=image)
        cv2.subtract(image, self._negative[window], dst=image)
