"""Clip-level evaluation (training/evaluation.py): top-k accuracy and the windows averaged per clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.skeleton import KINECT_V1
from core.window import WindowSpec
from training.data import Clip, ClipSource
from training.distributed import Process
from training.evaluation import predict, topk_accuracy
from training.windows import WindowDataset


def test_topk_accuracy_counts_a_label_among_the_k_highest_logits() -> None:
    # Hand-ranked: clip 0 right at top-1; clip 1 second; clip 2 third; clip 3 last of four.
    logits = np.array([[4.0, 3.0, 2.0, 1.0],
                       [3.0, 4.0, 2.0, 1.0],
                       [2.0, 3.0, 4.0, 1.0],
                       [1.0, 2.0, 3.0, 4.0]], np.float32)
    labels = np.array([0, 0, 0, 0])
    assert topk_accuracy(logits, labels, 1) == pytest.approx(1 / 4)
    assert topk_accuracy(logits, labels, 2) == pytest.approx(2 / 4)
    assert topk_accuracy(logits, labels, 3) == pytest.approx(3 / 4)
    assert topk_accuracy(torch.from_numpy(logits), torch.from_numpy(labels), 4) == 1.0
    assert topk_accuracy(logits, labels, 5) == 1.0  # top-5 of four classes: all of them
    assert np.isnan(topk_accuracy(np.zeros((0, 4)), np.zeros(0, np.int64), 1))


class WindowProbe(nn.Module):
    """A stand-in network: fixed linear logits of each window's skeleton, attention from its first
    logits, so every window of a clip scores differently."""

    def __init__(self, frames: int, bodies: int, joints: int, classes: int = 3, parts: int = 2) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.weight = torch.randn(frames * bodies * joints * 3, classes, generator=generator)
        self.parts = parts

    def forward(self, crops, skeleton: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = skeleton.flatten(1) @ self.weight
        return logits, torch.softmax(logits[:, : self.parts], dim=-1)


def _moving_clip(name: str, label: int, frames: int = 45, fps: float = 15.0) -> Clip:
    rng = np.random.default_rng(label)
    base = rng.normal(0, 0.3, (1, 1, 20, 3)).astype(np.float32) + np.array([0, 0, 3], np.float32)
    motion = np.linspace(0, 1, frames)[:, None, None, None].astype(np.float32) * (label + 1)
    return Clip(name, label, np.arange(frames) / fps, base + motion)


def test_predict_averages_the_logits_and_attention_of_every_window_of_a_clip() -> None:
    # The paper scores a clip by its 5 windows' mean logits: one window alone is another (worse) number.
    spec = WindowSpec(1.0, 8)
    sources = [ClipSource(f"c{i}", i, lambda w, i=i: _moving_clip(f"c{i}", i)) for i in range(3)]
    dataset = WindowDataset(sources, spec, KINECT_V1, num_bodies=1, train=False, eval_windows=5)
    probe = WindowProbe(spec.num_frames, 1, 20)
    process = Process(0, 1, 0, torch.device("cpu"))
    predictions = predict(probe, probe, dataset, None, process, batch_size=10, progress=False)
    assert predictions.clips.tolist() == [0, 1, 2] and predictions.labels.tolist() == [0, 1, 2]
    for clip in range(3):
        windows = dataset[clip]["skeleton"]
        assert windows.shape[0] == 5
        logits, attention = probe(None, windows)
        assert not torch.allclose(logits[0], logits.mean(0), atol=1e-3)  # the windows do differ
        np.testing.assert_allclose(predictions.logits[clip], logits.mean(0).numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(predictions.attention[clip], attention.mean(0).numpy(), rtol=1e-5,
                                   atol=1e-6)
