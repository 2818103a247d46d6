"""How simulated people and the image look: skin, hair and clothes, held objects, exposure and colour cast.

    Look.random         one person's colours and girth (clothes saturated, walls muted: room.py)
    HeldObject.random   a cup (light or bright) or a phone (dark): the difference a hand crop has to see
    Lighting.random     gain, white balance and the sensor's noise level of a whole image
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from simulation.actions import ObjectKind

Color = tuple[int, int, int]  # BGR


SKIN_TONES: tuple[Color, ...] = (
    (189, 214, 241),
    (160, 192, 228),
    (128, 166, 212),
    (98, 136, 189),
    (70, 100, 150),
    (50, 72, 110),
)
HAIR_COLORS: tuple[Color, ...] = ((20, 20, 25), (30, 45, 70), (40, 80, 130), (120, 170, 210), (150, 150, 150))
# Cups are light or brightly coloured, phones dark: the difference a hand crop has to see.
CUP_COLORS: tuple[Color, ...] = (
    (240, 240, 240),
    (40, 200, 240),
    (50, 60, 215),
    (40, 140, 245),
    (235, 190, 120),
    (150, 225, 150),
)
PHONE_COLORS: tuple[Color, ...] = ((22, 22, 24), (55, 55, 60), (70, 35, 20), (40, 40, 40))


def random_cloth(
    rng: np.random.Generator, value: tuple[float, float], saturation: tuple[int, int] = (40, 230)
) -> Color:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(*saturation), int(rng.uniform(*value))]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])  # type: ignore[return-value]


@dataclass(frozen=True)
class Look:
    """How a simulated person looks: colours and limb thickness."""

    skin: Color
    hair: Color
    shirt: Color
    trousers: Color
    shoes: Color
    long_sleeves: bool
    girth: float  # limb and torso thickness factor

    @classmethod
    def random(cls, rng: np.random.Generator) -> Look:
        return cls(
            skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
            hair=HAIR_COLORS[int(rng.integers(len(HAIR_COLORS)))],
            shirt=random_cloth(rng, (60, 245)),
            trousers=random_cloth(rng, (35, 170)),
            shoes=random_cloth(rng, (20, 90)),
            long_sleeves=bool(rng.random() < 0.5),
            girth=float(rng.uniform(0.85, 1.25)),
        )


@dataclass(frozen=True)
class HeldObject:
    kind: ObjectKind
    color: Color

    @classmethod
    def random(cls, kind: ObjectKind, rng: np.random.Generator) -> HeldObject:
        palette = CUP_COLORS if kind is ObjectKind.CUP else PHONE_COLORS
        return cls(kind, palette[int(rng.integers(len(palette)))])


@dataclass(frozen=True)
class Lighting:
    """Exposure and colour cast of the whole image, and the sensor's noise."""

    gain: float
    white_balance: tuple[float, float, float]  # B, G, R multipliers
    noise_sigma: float  # grey levels

    @classmethod
    def random(cls, rng: np.random.Generator, low_light: bool) -> Lighting:
        if low_light:
            return cls(
                float(rng.uniform(0.3, 0.45)),
                tuple(rng.uniform(0.85, 1.1, 3)),  # type: ignore[arg-type]
                float(rng.uniform(6.0, 10.0)),
            )
        return cls(
            float(rng.uniform(0.8, 1.15)),
            tuple(rng.uniform(0.88, 1.12, 3)),  # type: ignore[arg-type]
            float(rng.uniform(1.5, 4.0)),
        )

    def shade(self, color: Color, factor: float = 1.0) -> Color:
        return tuple(  # type: ignore[return-value]
            int(min(255.0, c * factor * self.gain * w))
            for c, w in zip(color, self.white_balance, strict=True)
        )

