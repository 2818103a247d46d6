"""Clip-level evaluation (training/evaluation.py): top-k accuracy and the windows averaged per clip."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core.skeleton import KINECT_V1
from core.window import WindowSpec
from training.data import Clip, ClipSource, DatasetError
from training.distributed import Process
from training.evaluation import check_out_holds, evaluation_in, predict, topk_accuracy
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


def test_confusion_rows_are_true_classes_and_per_class_accuracy_is_recall() -> None:
    """confusion[true, predicted], and a class's accuracy is the share of its own clips called right
    (recall): swapped indices, or precision, read wrong where one class soaks up the others' clips."""
    from training.evaluation import Predictions, make_report

    # Class 0: 4 clips, all right. Class 1: 2 clips, both called 0. Class 2: 2 clips, 1 right, 1 called 0.
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    guesses = np.array([0, 0, 0, 0, 0, 0, 2, 0])
    logits = np.eye(3, dtype=np.float32)[guesses]
    predictions = Predictions(logits, labels, np.ones((8, 1), np.float32), np.arange(8))
    report = make_report(predictions, ["sit down", "stand up", "wave"], [])
    assert report.confusion.tolist() == [[4, 0, 0], [2, 0, 0], [1, 0, 1]]
    assert [(name, clips) for name, clips, _ in report.per_class] == [("sit down", 4), ("stand up", 2),
                                                                      ("wave", 2)]
    assert [accuracy for _, _, accuracy in report.per_class] == pytest.approx([1.0, 0.0, 0.5])
    assert report.top1 == pytest.approx(5 / 8)


def test_a_stream_test_subset_holding_sequences_the_model_trained_on_is_refused(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evaluate --stream --subset test` re-draws the test split from --data: where that holds sequences
    the checkpoint trained on it is refused before any is scored, as the clip evaluation is."""
    from model_files import random_checkpoint
    from nucla_files import write_nucla

    from core.model.profiles import pose_only, tiny
    from training import evaluate as evaluate_module
    from training.config import config_to_dict, load_config
    from training.data import DatasetError
    from training.datasets.nucla import NUCLA_CLASS_NAMES

    data = tmp_path / "nucla"
    write_nucla(data, per_class=2)  # views 1 and 2
    config = load_config(None, ["data.dataset=nucla", f"data.root={data}", "data.nucla_train_views=[1]",
                                "data.nucla_test_views=[2]"])
    trained = sorted(p.stem for p in data.glob("*_v02.json"))[:3]  # test clips it trained on
    network = dataclasses.replace(pose_only(tiny(len(NUCLA_CLASS_NAMES))), num_joints=20)  # N-UCLA: 20 joints
    checkpoint = random_checkpoint(
        tmp_path / "m.pt", network, NUCLA_CLASS_NAMES, layout="kinect_v1",
        extra={"train_config": config_to_dict(config), "trained_clips": trained, "validation_clips": []})
    scored = []
    monkeypatch.setattr(evaluate_module, "evaluate_stream", lambda *args, **kwargs: scored.append(kwargs))
    with pytest.raises(DatasetError, match=r"3 of the \d+ test clips drawn from this folder are in m.pt's"):
        evaluate_module.evaluate_streams(checkpoint, data=str(data), subset="test", out=tmp_path / "out",
                                         progress=False)
    assert not scored


def test_an_evaluation_folder_says_what_it_holds_and_refuses_another_kind(tmp_path: Path) -> None:
    """--out holding another kind of evaluation is refused before anything runs; the same kind (a checkpoint
    evaluated again) is not, and gets the results it replaces."""
    assert evaluation_in(tmp_path) is None and check_out_holds(tmp_path, "clips") is None
    clip = {"checkpoint": "runs/x/best.pt", "data": "clips", "top1": 0.5}
    (tmp_path / "results.json").write_text(json.dumps(clip))
    assert evaluation_in(tmp_path) == ("clips", clip) and check_out_holds(tmp_path, "clips") == clip
    for kind in ("stream", "rescore"):
        with pytest.raises(DatasetError, match=f"{tmp_path} holds a clip evaluation .* of best.pt on clips"):
            check_out_holds(tmp_path, kind)
    rescored = {"rescored_from": "runs/s", "truth": [], "frame_accuracy": 0.9}
    (tmp_path / "results.json").write_text(json.dumps(rescored))
    assert evaluation_in(tmp_path) == ("rescore", rescored)
    with pytest.raises(DatasetError, match=r"rescored stream run \(`evaluate --rescore`\) of runs/s: a str"):
        check_out_holds(tmp_path, "stream")
    (tmp_path / "results.json").write_text("[1, 2")  # not ours, or cut short: not replaced unasked
    with pytest.raises(DatasetError, match="a results.json that no evaluation wrote"):
        check_out_holds(tmp_path, "clips")
    (tmp_path / "results.json").unlink()
    (tmp_path / "decisions").mkdir()
    (tmp_path / "decisions" / "a.jsonl").write_text("")  # a stream run's decisions, its results.json gone
    assert check_out_holds(tmp_path, "stream") == {}
    with pytest.raises(DatasetError, match=r"the decisions/ of a stream evaluation .*: a rescored"):
        check_out_holds(tmp_path, "rescore")


def test_the_report_and_the_validation_figures_are_those_of_known_scores() -> None:
    """Worked by hand: the figures that choose best.pt and stop a run early, and the report's per-class
    attention that the demo checks, from logits whose answers are known."""
    from training.evaluation import Predictions, make_report
    from training.stages import _validation_metrics

    labels = np.array([0, 1, 2, 2])
    # Pose stage (N, S, C): stream 0 right on clips 0-1 only, stream 1 on all four; their mean on all but
    # clip 1, where stream 0 is more sure of the wrong class than stream 1 of the right one.
    stream0 = np.array([[5, 0, 0, 0, 0, 0], [0, 0, 9, 0, 0, 0], [9, 0, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0]])
    stream1 = np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 10, 0, 0, 0], [0, 0, 10, 0, 0, 0]])
    logits = np.stack([stream0, stream1], axis=1).astype(np.float32)
    metrics = _validation_metrics(Predictions(logits, labels, np.zeros((4, 1)), np.arange(4)), "pose")
    assert metrics["stream0_top1"] == 0.25 and metrics["stream1_top1"] == 1.0
    assert metrics["top1"] == 0.75 and metrics["top5"] == 1.0
    # Parts stage (N, P, C): each part scored alone, the figure their mean (not the best part's).
    parts = np.stack([stream1, stream1, stream0], axis=1).astype(np.float32)
    metrics = _validation_metrics(Predictions(parts, labels, np.zeros((4, 1)), np.arange(4)), "parts")
    assert [metrics[f"part{k}_top1"] for k in range(3)] == [1.0, 1.0, 0.25] and metrics["top1"] == 0.75
    # The report: top-1 / top-5 over 6 classes, and each class's own mean attention.
    guesses = np.eye(6, dtype=np.float32)[[0, 2, 2, 1]] * 5 + np.arange(6, dtype=np.float32)[::-1] * 0.1
    attention = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    report = make_report(Predictions(guesses, labels, attention, np.arange(4)), list("abcdef"),
                         ["left_hand", "right_hand", "body"])
    assert report.top1 == 0.5 and report.top5 == 1.0  # clips 1 and 3 wrong; every label in the top 5
    assert np.allclose(report.attention_per_class[:3], [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [0.2, 0.2, 0.6]])
    assert np.isnan(report.attention_per_class[3:]).all()  # classes with no clip
