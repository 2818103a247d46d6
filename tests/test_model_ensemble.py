"""Pose ensembles: several pose streams, their class distributions averaged (core/model/ensemble.py),
and `python -m training ensemble`, which joins separately trained checkpoints (training/ensemble.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_files import random_checkpoint

from core.model.checkpoint import DecisionSettings, load_checkpoint
from core.model.network import PartAttentionNetwork
from core.model.profiles import pose_only, tiny
from training.__main__ import main as training_main
from training.ensemble import build_ensemble

CLASSES = ("hug", "push", "no_action")
CONFIG = dataclasses.replace(pose_only(tiny(len(CLASSES))), num_bodies=2, pose_mirror_average=True)
TRAINED = {"train_config": {"data": {"dataset": "pkummd", "split_seed": 0}, "decisions": {}},
           "validation_clips": ["0016-L", "0016-M"], "dataset": "pkummd", "epoch": 3}


def member(tmp_path: Path, seed: int, **extra) -> Path:
    return random_checkpoint(tmp_path / f"member{seed}.pt", CONFIG, CLASSES, seed=seed,
                             extra={**TRAINED, **extra})


def test_an_ensemble_outputs_the_mean_of_its_members_distributions(tmp_path: Path) -> None:
    paths = [member(tmp_path, seed) for seed in (0, 1, 2)]
    path = build_ensemble(paths, tmp_path / "ensemble.pt", decisions=DecisionSettings(0.25, 0.5, 0.3))
    ensemble = load_checkpoint(path)
    assert ensemble.config.pose_members == 3 and ensemble.config.pose_mirror_average
    assert ensemble.decisions == DecisionSettings(0.25, 0.5, 0.3)
    # What a model fine-tuned from it inherits: the ensemble's decisions, not a member's.
    assert ensemble.extra["train_config"]["decisions"] == dataclasses.asdict(ensemble.decisions)
    assert [m["file"] for m in ensemble.extra["ensemble_members"]] == [str(p) for p in paths]
    assert ensemble.extra["validation_clips"] == TRAINED["validation_clips"]
    assert "trained_clips" not in ensemble.extra  # its members do not say
    # What any member learnt, as their --init's: the first member's alone hid the others' from evaluate.
    learnt = [member(tmp_path, seed, trained_clips=[f"00{seed}5-M"]) for seed in (3, 4)]
    joined = load_checkpoint(build_ensemble([*learnt, paths[0]], tmp_path / "learnt.pt"))
    assert joined.extra["trained_clips"] == ["0035-M", "0045-M"]  # as far as they say

    skeleton = torch.randn(4, CONFIG.num_frames, 2, 25, 3)
    members = [load_checkpoint(p).model for p in paths]
    with torch.no_grad():
        want = torch.stack([m(None, skeleton)[0].softmax(-1) for m in members]).mean(0)
        got = ensemble.model(None, skeleton)[0].softmax(-1)
        torch.testing.assert_close(got, want)
        assert not torch.allclose(members[0](None, skeleton)[0].softmax(-1), want)
        # The pose stage trains every member on its own loss.
        assert ensemble.model.pose.stream_logits(skeleton).shape == (4, 3, len(CLASSES))


def test_the_exported_ensemble_computes_the_same(tmp_path: Path) -> None:
    from core.engines import Backend, open_engine

    path = build_ensemble([member(tmp_path, 0), member(tmp_path, 1)], tmp_path / "ensemble.pt")
    skeleton = np.random.default_rng(0).normal(size=(3, CONFIG.num_frames, 2, 25, 3)).astype(np.float32)
    crops = np.zeros((3, 0, CONFIG.num_frames, CONFIG.crop_size, CONFIG.crop_size, 3), np.float32)
    with torch.no_grad():
        want = load_checkpoint(path).model(None, torch.from_numpy(skeleton))[0].softmax(-1).numpy()
    logits, _ = open_engine(path, Backend.ONNXRUNTIME_CPU, threads=1, cache_dir=tmp_path).run(crops, skeleton)
    np.testing.assert_allclose(torch.from_numpy(logits).softmax(-1).numpy(), want, atol=1e-5)


def test_members_of_different_splits_networks_or_classes_are_refused_by_name(tmp_path: Path) -> None:
    first = member(tmp_path, 0)
    other_split = member(tmp_path, 1, validation_clips=["0055-L"])
    with pytest.raises(ValueError, match=r"member1\.pt differs from .*member0\.pt in its validation clips"):
        build_ensemble([first, other_split], tmp_path / "e.pt")
    # Site clips trained in two folders under one relative data.root: S001C001P001R001A121 of each is
    # another clip, and the ensemble recorded the first member's folder for both.
    site_a, site_b = (member(tmp_path, seed, dataset="clips", data_folder=folder)
                      for seed, folder in ((5, "aaaaaaaa"), (6, "bbbbbbbb")))
    with pytest.raises(ValueError, match=r"member6\.pt differs from .* in its folder of clips"):
        build_ensemble([site_a, site_b], tmp_path / "e.pt")
    wider = random_checkpoint(tmp_path / "wider.pt", dataclasses.replace(CONFIG, lstm_hidden=32), CLASSES,
                              extra=TRAINED)
    with pytest.raises(ValueError, match=r"wider\.pt differs from .* in its network: lstm_hidden"):
        build_ensemble([first, wider], tmp_path / "e.pt")
    renamed = random_checkpoint(tmp_path / "renamed.pt", CONFIG, ("hug", "shove", "no_action"), extra=TRAINED)
    with pytest.raises(ValueError, match=r"renamed\.pt differs from .* in its classes"):
        build_ensemble([first, renamed], tmp_path / "e.pt")
    attention = random_checkpoint(tmp_path / "rgb.pt", tiny(len(CLASSES)), CLASSES, extra=TRAINED)
    with pytest.raises(ValueError, match=r"rgb\.pt: members must be single pose-only networks"):
        build_ensemble([attention, first], tmp_path / "e.pt")
    with pytest.raises(ValueError, match="pose_members > 1 needs aggregation 'pose'"):
        dataclasses.replace(tiny(3), pose_members=2)
    with pytest.raises(ValueError, match=r"member0\.pt: given twice"):
        build_ensemble([first, member(tmp_path, 2), tmp_path / "." / first.name], tmp_path / "e.pt")
    with pytest.raises(ValueError, match=r"member0\.pt: given twice"):
        build_ensemble([first, first], tmp_path / "e.pt")
    run_best = tmp_path / "run" / "pose" / "best.pt"  # another run's weights, not a member
    run_best.parent.mkdir(parents=True)
    run_best.write_bytes(first.read_bytes())
    with pytest.raises(ValueError, match=r"best\.pt: already there; --overwrite replaces it"):
        build_ensemble([first, member(tmp_path, 3)], run_best)
    assert run_best.read_bytes() == first.read_bytes()
    build_ensemble([first, member(tmp_path, 3)], run_best, overwrite=True)
    assert load_checkpoint(run_best).config.pose_members == 2
    copy = tmp_path / "copy of member0.pt"
    copy.write_bytes(first.read_bytes())
    with pytest.raises(ValueError, match=r"copy of member0\.pt: the same file as .*member0\.pt \(a copy\)"):
        build_ensemble([first, copy], tmp_path / "e.pt")
    second = member(tmp_path, 2)
    before = first.read_bytes()
    with pytest.raises(ValueError, match=r"--out .*member0\.pt: one of the members"):
        build_ensemble([first, second], first)
    assert first.read_bytes() == before
    with pytest.raises(ValueError, match=r"--out .*: a folder; give the file to write"):
        build_ensemble([first, second], tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(ValueError, match=r"--out .*notes\.txt: the file written is a checkpoint and its name "
                       r"must end in \.pt"):
        build_ensemble([first, second], notes)
    assert notes.read_text() == "mine"


def test_a_member_saved_before_a_data_option_existed_joins_at_that_options_default(tmp_path: Path) -> None:
    """A data record without a key (the option came later) trained as its default does: such a member
    joins newer ones at the default and is refused beside a member that changed it."""
    data = TRAINED["train_config"]["data"]
    older = member(tmp_path, 0)
    newer = member(tmp_path, 1, train_config={"data": {**data, "nucla_drop_contradicted": False}})
    build_ensemble([older, newer], tmp_path / "e.pt")
    changed = member(tmp_path, 2, train_config={"data": {**data, "nucla_drop_contradicted": True}})
    with pytest.raises(ValueError, match=r"in its training data: nucla_drop_contradicted: True vs False"):
        build_ensemble([older, changed], tmp_path / "e.pt")


def test_ensemble_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = [str(member(tmp_path, seed)) for seed in (0, 1)]
    out = tmp_path / "joined.pt"
    assert training_main(["ensemble", *members, "--out", str(out), "--threshold", "0.5"]) == 0
    assert "2 members" in capsys.readouterr().out
    assert load_checkpoint(out).decisions.threshold == 0.5
    assert training_main(["ensemble", *members, "--out", str(out)]) == 2  # already there
    assert "already there; --overwrite replaces it" in capsys.readouterr().err
    assert training_main(["ensemble", *members, "--out", str(out), "--overwrite"]) == 0
    assert load_checkpoint(out).decisions.threshold is None  # replaced: this one was given none
    assert training_main(["ensemble", members[0], "--out", str(out)]) == 2
    assert "at least 2 member checkpoints" in capsys.readouterr().err
    assert training_main(["ensemble", members[0], str(tmp_path / "missing.pt"), "--out", str(out)]) == 2
    assert "missing.pt: no such checkpoint file" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # recorded into the model, the app would have used it
        training_main(["ensemble", *members, "--out", str(out), "--smoothing", "1e9"])
    assert "argument --smoothing: must be from 0 (none) to 10 s" in capsys.readouterr().err


def test_ensemble_command_refuses_an_out_it_cannot_write_before_reading_members(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It was "[Errno 17] File exists" (exit 1) under a file, and a traceback in /proc, after loading every
    # member; the members here are not even there.
    members = [str(tmp_path / "a.pt"), str(tmp_path / "b.pt")]
    (tmp_path / "afile").write_text("")
    for out, message in ((tmp_path / "afile" / "e.pt", f"{tmp_path / 'afile'} is a file, not a folder"),
                         (Path("/proc/e.pt"), "cannot be written (/proc")):
        with pytest.raises(SystemExit) as stop:
            training_main(["ensemble", *members, "--out", str(out)])
        assert stop.value.code == 2 and f"argument --out: {out}: {message}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_network_config_with_members_builds_them_and_saves_each(tmp_path: Path) -> None:
    network = PartAttentionNetwork(dataclasses.replace(CONFIG, pose_members=2))
    keys = set(network.state_dict())
    assert {k.split(".")[2] for k in keys if k.startswith("pose.")} == {"0", "1"}  # pose.members.N.
    assert all(k.startswith("pose.members.") for k in keys)  # the views (trunk, ...) are not saved twice


def test_an_ensemble_costs_its_members_together() -> None:
    from core.model.cost import network_cost, pose_stream_text

    single, three = network_cost(CONFIG), network_cost(dataclasses.replace(CONFIG, pose_members=3))
    assert three.parameters == 3 * single.parameters
    assert three.gmacs == pytest.approx(3 * single.gmacs, rel=0.01)
    assert pose_stream_text(dataclasses.replace(CONFIG, pose_members=3)) == f"lstm {CONFIG.lstm_hidden} x3"


def test_the_pose_stage_trains_every_member_on_its_own_loss() -> None:
    from core.model.network import Stage
    from training.config import TrainConfig
    from training.stages import StageObjective, stage_loss

    network = PartAttentionNetwork(dataclasses.replace(CONFIG, pose_members=2))
    network.set_stage(Stage.POSE)
    network.train()
    objective = StageObjective(network, "pose")
    skeleton = torch.randn(4, CONFIG.num_frames, 2, 25, 3)
    logits, attention = objective(None, skeleton)
    assert logits.shape == (4, 2, len(CLASSES))
    labels = torch.tensor([0, 1, 2, 0])
    loss = stage_loss(network, "pose", logits, attention, labels, TrainConfig())
    # Each member's own cross-entropy, summed (not that of their mean), + lambda2 on both classifiers.
    own = sum(F.cross_entropy(logits[:, k], labels) for k in range(2))
    penalty = sum(member.classifier.weight.pow(2).sum() for member in network.pose.members)
    torch.testing.assert_close(loss, own + TrainConfig().optim.weight_decay * penalty)
    loss.backward()
    for member in network.pose.members:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in member.parameters())

    # What one member learns does not depend on what the other says.
    def gradient(given: torch.Tensor) -> torch.Tensor:
        given = given.detach().clone().requires_grad_()
        loss = stage_loss(network, "pose", given, attention, labels, TrainConfig())
        return torch.autograd.grad(loss, given)[0]

    other = logits.detach().clone()
    other[:, 1] = torch.randn_like(other[:, 1])
    torch.testing.assert_close(gradient(logits)[:, 0], gradient(other)[:, 0])


def test_distributions_mix_as_probabilities_with_their_weights() -> None:
    from core.model.ensemble import mix_distributions

    a, b = torch.randn(3, 5), torch.randn(3, 5)
    mixed = mix_distributions([a, b], [0.25, 0.75]).softmax(-1)
    torch.testing.assert_close(mixed, 0.25 * a.softmax(-1) + 0.75 * b.softmax(-1))
    torch.testing.assert_close(mix_distributions([a, b]).softmax(-1), (a.softmax(-1) + b.softmax(-1)) / 2)
    with pytest.raises(ValueError, match="one positive weight per distribution"):
        mix_distributions([a, b], [1.0])


def test_an_ensemble_given_no_decisions_takes_none_from_its_first_member(tmp_path: Path) -> None:
    """The smoothing and thresholds chosen for one member do not fit the mean of several: without any
    given, the ensemble records none (the app's defaults apply), not its first member's."""
    chosen = DecisionSettings(0.5, 0.6, 0.4)
    paths = [random_checkpoint(tmp_path / f"tuned{seed}.pt", CONFIG, CLASSES, seed=seed, extra=TRAINED,
                               decisions=chosen) for seed in (0, 1)]
    assert load_checkpoint(paths[0]).decisions == chosen
    ensemble = load_checkpoint(build_ensemble(paths, tmp_path / "ensemble.pt"))
    assert ensemble.decisions == DecisionSettings()
    assert ensemble.extra["train_config"]["decisions"] == dataclasses.asdict(DecisionSettings())
    out = tmp_path / "joined.pt"
    assert training_main(["ensemble", *map(str, paths), "--out", str(out)]) == 0
    assert load_checkpoint(out).decisions == DecisionSettings()
