"""Fine-tuning a trained model on a site's clips (training/finetune.py) and the clips dataset it reads
(training/datasets/clips.py): classifier rows, the head stage, sessions held out, sequences, the whole
chain from recording to a live run, and RECIPE section 5 as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import torch
from model_files import random_checkpoint
from test_recorder import make_frame

from core.model.network import PartAttentionNetwork, Stage
from core.model.profiles import pose_only, tiny
from core.timeline import NO_ACTION, Interval, Timeline
from recordings.labelling import ClipLabels
from recordings.recorder import ClipNaming, Recorder, RecorderConfig
from training.config import DataConfig
from training.data import ClipSource
from training.datasets.clips import clip_splits, hold_out_sessions
from training.stages import class_rows, load_matching

REPO = Path(__file__).resolve().parents[1]
# A fine-tune of a skeleton-only base in seconds: one pose epoch of one step.
QUICK_POSE = ["--set", "epochs.pose=1", "--set", "max_steps_per_epoch=1", "--set", "optim.batch_size=4",
              "--no-progress", "--threads", "1"]


def test_known_classes_keep_their_classifier_rows() -> None:
    base = PartAttentionNetwork(tiny(3))
    grown = PartAttentionNetwork(tiny(4))
    fresh = {k: v.clone() for k, v in grown.state_dict().items()}
    rows = class_rows(["drink", "wave", NO_ACTION], ["drink", "wave", "raise both arms", NO_ACTION])
    assert rows == [0, 1, -1, 2]
    resized = load_matching(grown, base.state_dict(), rows)
    assert sorted(resized) == ["classifier.bias", "classifier.weight", "pose.classifier.bias",
                               "pose.classifier.weight"]
    state, old = grown.state_dict(), base.state_dict()
    for name in ("classifier.weight", "classifier.bias"):
        assert torch.equal(state[name][[0, 1, 3]], old[name])  # copied, not re-initialised
        assert torch.equal(state[name][2], fresh[name][2])  # the new class starts fresh
    assert torch.equal(state["attention.score.weight"], old["attention.score.weight"])


def test_the_head_stage_trains_the_attention_head_and_classifier_only() -> None:
    network = PartAttentionNetwork(tiny(3))
    network.set_stage(Stage.HEAD)
    trainable = {name.split(".")[0] for name, p in network.named_parameters() if p.requires_grad}
    assert trainable == {"attention", "classifier"}
    network.train()
    assert not network.parts[0].training and not network.pose.lstm.training  # frozen: eval mode


def _source(name: str, session: int, label: int, folder: int = 0, also: tuple[int, ...] = ()) -> ClipSource:
    """A clip of `session` whose first class is `label`; `also`: the other classes its intervals name."""
    group = {"session": session, "folder": folder, "class": label, "classes": (label, *also)}
    return ClipSource(name, label, lambda with_crops: None, group)


def test_whole_sessions_are_held_out_and_every_class_keeps_one_for_training() -> None:
    pool = [_source(f"s{s}c{c}k{k}", s, c)
            for s in range(1, 7) for c in (0, 1) for k in range(2) if (s + c) % 3]
    pool += [_source(f"only{k}", 9, 2) for k in range(3)]  # a class recorded in one session
    pool += [_source(f"rehearse{k}", 1, k % 3, folder=1) for k in range(9)]  # one session: by clip
    train, validation, notes = hold_out_sessions(pool, 0.25, seed=0)
    assert sorted(s.name for s in train + validation) == sorted(s.name for s in pool)
    site_train = {s.group["session"] for s in train if s.group["folder"] == 0}
    site_validation = {s.group["session"] for s in validation if s.group["folder"] == 0}
    assert site_validation and not site_train & site_validation
    for c in (0, 1):
        assert any(s.label == c for s in validation if s.group["folder"] == 0)
        assert any(s.label == c for s in train if s.group["folder"] == 0)
    assert all(s.label != 2 for s in validation if s.group["folder"] == 0)
    assert len([s for s in validation if s.group["folder"] == 1]) == 3  # one per class, at random
    assert len(notes) == 1 and "rehearsal folder 1" in notes[0] and "flatter" in notes[0]
    again = hold_out_sessions(pool, 0.25, seed=0)[1]
    assert [s.name for s in again] == [s.name for s in validation]
    # One clip: none held out, so not "validation clips are drawn at random" before "0 validation clips".
    assert hold_out_sessions([_source("one", 1, 0)], 0.25, seed=0)[1:] == ([], [])


def test_a_session_holding_the_only_example_of_a_later_class_stays_in_training() -> None:
    """A sequence of several actions counts for every class it names, not only its first: holding out
    the one session with "patient fell" would leave the class untrained."""
    pool = [_source(f"s{s}", s, 0) for s in (1, 2)] + [_source("s3", 3, 0, also=(1,))]
    for seed in range(10):
        train, validation, _ = hold_out_sessions(pool, 0.34, seed=seed)
        assert [s.name for s in train if 1 in s.group["classes"]] == ["s3"] and validation


def _record(folder: Path, session: int, label: str | None, name: str | None = None, bodies: int = 1) -> Path:
    labels = None
    if label is not None:
        from recordings.labels import ensure_label

        labels = ensure_label(folder / "labels.txt", label)[0]
    config = RecorderConfig(min_free_bytes=1, naming=ClipNaming(setup=session))
    with Recorder(folder, label=label, label_map=labels, sample_name=name, config=config) as rec:
        for i in range(40):
            frame = make_frame(i % 20, i / 10, bodies=bodies)  # 4 s
            for body in frame.bodies:  # each session's a millimetre apart: clips of one take are its copies
                body.joints[:, 2] += 0.001 * session
            rec.write(frame)
    return rec.files.skeleton


def test_clips_two_sensors_recorded_at_once_are_one_session(tmp_path: Path) -> None:
    # Each room's app numbers its own sessions: the second Kinect's S002 clips are the same performances
    # as the first's S001, and holding out one left its near-copies in training.
    from training.datasets.clips import read_clip_folder

    starts = {"kinect1": ("10:00:00", "10:00:04"), "kinect2": ("10:00:01", "10:00:05"),
              "converted": ("10:00:00", "10:00:01"),  # two conversions at once: when the files were written
              "bed14": ("10:00:02", "10:00:03")}  # another room's, recorded meanwhile: another sitting
    for folder, session, source in (("kinect1", 1, "kinect"), ("kinect2", 2, "kinect"),
                                    ("converted", 5, "pkummd:0005-M.txt"), ("bed14", 7, "kinect")):
        for take, start in enumerate(starts[folder]):
            own = session + take * (source != "kinect")  # each conversion its own session
            name = f"S{own:03d}C00{session}P001R00{take + 1}A121"
            skeleton = _record(tmp_path / folder, own, "drink", name)
            sidecar = skeleton.with_suffix(".json")
            raw = json.loads(sidecar.read_text())
            raw.update(started_at=f"2026-12-06T{start}+00:00", finished_at=f"2026-12-06T{start[:-1]}9+00:00",
                       source=source, **({"room": "bed 14"} if folder == "bed14" else {}))
            sidecar.write_text(json.dumps(raw))
    later = _record(tmp_path / "kinect1", 3, "drink")  # recorded now: another sitting
    (tmp_path / "labels.txt").write_text((tmp_path / "kinect1" / "labels.txt").read_text())
    clips, _ = read_clip_folder(tmp_path)
    sessions = {clip.task.name: clip.session for clip in clips}
    assert sessions == {"S001C001P001R001A121": 1, "S001C001P001R002A121": 1, "S002C002P001R001A121": 1,
                        "S002C002P001R002A121": 1, later.stem: 3,
                        "S005C005P001R001A121": 5, "S006C005P001R002A121": 6,
                        "S007C007P001R001A121": 7, "S007C007P001R002A121": 7}


def test_clips_become_sequences_with_no_action_or_cut_intervals_without(tmp_path: Path) -> None:
    _record(tmp_path, 1, "drink")
    marked = _record(tmp_path, 2, None, "live_20261130_083006")
    labels = ClipLabels.open(marked)
    labels.add("wave", 1.0, 2.0)
    labels.add("drink", 2.5, 3.5)
    labels.save()
    data = DataConfig(dataset="clips", root=str(tmp_path), protocol="all", validation_fraction=0.0,
                      classes=["drink", "wave", NO_ACTION])
    splits = clip_splits(data)
    assert splits.continuous and [s.label for s in splits.train] == [-1, -1]
    whole, sequence = (s.load(False) for s in splits.train)
    spans = [(i.start, i.end, i.label) for i in whole.timeline.intervals]
    assert spans == [(0.0, pytest.approx(4.0), "drink")]
    assert [i.label for i in sequence.timeline.intervals] == ["wave", "drink"]
    assert sequence.timeline.window_label(0.0, 1.0) == NO_ACTION

    trimmed = clip_splits(DataConfig(dataset="clips", root=str(tmp_path), protocol="all",
                                     validation_fraction=0.0, classes=["drink", "wave"]))
    assert not trimmed.continuous
    names = {s.name: s.label for s in trimmed.train}
    assert names == {"S001C001P001R001A121": 0, "live_20261130_083006@1.00-2.00": 1,
                     "live_20261130_083006@2.50-3.50": 0}
    cut = next(s for s in trimmed.train if s.name.endswith("@1.00-2.00")).load(False)
    assert cut.timestamps[0] == pytest.approx(1.0) and cut.timestamps[-1] == pytest.approx(1.9)
    assert cut.joints.shape[0] == 10 and cut.label == 1
    context = DataConfig(dataset="clips", root=str(tmp_path), protocol="all", validation_fraction=0.0,
                         classes=["drink", "wave"], interval_context_s=0.5)
    wider = clip_splits(context)
    cut = next(s for s in wider.train if s.name.endswith("@1.00-2.00")).load(False)
    assert cut.timestamps[0] == pytest.approx(0.5) and cut.timestamps[-1] == pytest.approx(2.4)
    last = next(s for s in wider.train if s.name.endswith("@2.50-3.50")).load(False)
    assert last.timestamps[-1] == pytest.approx(3.9)  # the clip ends before the context would

    with pytest.raises(ValueError, match="label 'wave' is not among the classes"):
        clip_splits(DataConfig(dataset="clips", root=str(tmp_path), protocol="all", classes=["drink"]))


def _recipe_command() -> list[str]:
    """RECIPE section 5's fine-tuning command, as written."""
    text = (REPO / "training" / "RECIPE.md").read_text()
    section = text[text.index("## 5. A site's own clips"):]
    block = re.search(r"```\n(python -m training finetune.*?)```", section, re.S).group(1)
    return shlex.split(block.replace("\\\n", " "))[3:]  # after "python -m training"


def test_the_chain_record_label_finetune_and_run_live(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Clips recorded through live from the simulated room, labelled afterwards, a tiny random
    checkpoint fine-tuned on them with RECIPE section 5's command, and the result run by live."""
    from live.app import main as live
    from recordings.__main__ import main as recordings
    from training.__main__ import main as training

    base = random_checkpoint(tmp_path / "base.pt", tiny(3), ["drink_left", "kick", NO_ACTION], duration_s=1.0)
    site = tmp_path / "site"
    common = ["--source", "sim", "--sim-actions", "raise_both_arms", "--people", "1",
              "--checkpoint", str(base), "--engine", "torch", "--headless", "--fast", "--hop", "0.5",
              "--record-dir", str(site),
              "--output", str(tmp_path / "decisions.jsonl")]
    for seed in (1, 2, 3):  # three runs: three sessions
        label = ["--label", "raise both arms"] if seed != 3 else []  # the third: labelled afterwards
        # --duration is wall-clock time: 0.8 s of it made 1.03 s of clip on a loaded machine, short of the
        # interval labelled below; 2.5 s makes some 3 s there.
        assert live([*common, "--seed", str(seed), "--duration", "2.5", "--record", *label]) == 0
    clips = sorted(site.glob("*.skeleton"))
    assert [c.name[:5] for c in clips] == ["S001C", "S002C", "live_"]
    interval = ["--class", "raise both arms", "--from", "0.5", "--to", "1.5"]
    assert recordings(["label", str(clips[0]), *interval]) == 0
    assert recordings(["label", str(clips[2]), "--class", "raise both arms"]) == 0
    capsys.readouterr()

    args = _recipe_command()
    assert args[:2] == ["finetune", "--from"] and "--config" in args and "--clips" in args
    values = {"--from": str(base), "--clips": str(site), "--cache": str(tmp_path / "cache"),
              "--out": str(tmp_path / "run 2")}  # a site's folder may have spaces
    args = [values.get(args[i - 1], a) if i else a for i, a in enumerate(args)]
    quick = ["--set", "epochs.pose=1", "--set", "epochs.head=1", "--set", "epochs.finetune=1",
             "--set", "max_steps_per_epoch=1", "--set", "workers=0", "--set", "optim.batch_size=4",
             "--no-progress", "--threads", "1"]
    assert training([*args, *quick]) == 0
    out = capsys.readouterr().out
    assert "classes: 4 = drink_left, kick, raise both arms (new), no_action" in out
    assert "WARNING: no clip of drink_left, kick" in out  # no rehearsal: said, not hidden
    assert "windows along the sequences" in out and "rows of 3 known classes copied, 1 start fresh" in out
    held = re.search(r"whole sessions held out; the site's session (\d): \d+ of its \d+ s\)", out)  # which
    assert held and int(held.group(1)) in (1, 2, 3)

    assert "[pose] starts from" in out  # the pose stream learns the new class first (Algorithm 1's order)
    # One figure for the model: the evaluation's table, of the network as the app runs it.
    table = re.search(r"^top-1 ([\d.]+)%\s+top-5 [\d.]+%\s+\((\d+) windows\)$", out, re.M)
    wrote = re.search(r"wrote .* \(validation top-1 ([\d.]+)% of its (\d+) held-out windows\)", out)
    assert table and wrote and wrote.group(2) == table.group(2)
    assert float(wrote.group(1)) == pytest.approx(float(table.group(1)), abs=0.051)  # (.1f of the .2f)
    model = tmp_path / "run 2" / "model.pt"
    assert f"run it with: python -m live --checkpoint '{model}'" in out  # pasted back as one argument
    from core.model.checkpoint import load_checkpoint

    tuned = load_checkpoint(model)
    assert tuned.class_names == ["drink_left", "kick", "raise both arms", NO_ACTION]
    # The pose LSTM learned from the clips (only the pose stage trains it; head and finetune freeze it).
    lstm = "pose.lstm.weight_ih_l0"
    assert not torch.equal(tuned.model.state_dict()[lstm], load_checkpoint(base).model.state_dict()[lstm])
    assert tuned.config == tiny(4)  # the base model's network (its profile from the checkpoint)
    assert tuned.extra["train_config"]["data"]["classes"] == tuned.class_names
    validation = set(tuned.extra["validation_clips"])
    assert validation and validation < {c.stem for c in clips}
    scored = json.loads((tmp_path / "run 2" / "eval_validation" / "results.json").read_text())
    assert scored["windows"] > scored["sequences"] >= 1  # windows along the held-out clips, each scored

    decisions = tmp_path / "tuned.jsonl"
    assert live(["--source", str(clips[1]), "--fast", "--checkpoint", str(model), "--engine", "torch",
                 "--headless", "--hop", "0.5", "--output", str(decisions)]) == 0
    lines = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert lines and {c["class"] for line in lines for c in line["topk"]} <= set(tuned.class_names)

    # epochs.pose=0 skips the pose stage: the base's pose LSTM is kept as it was (step 6 alone).
    kept_args = [tmp_path / "kept" if a == str(tmp_path / "run 2") else a for a in args]
    assert training([*map(str, kept_args), *quick, "--set", "epochs.pose=0"]) == 0
    assert "[pose] starts from" not in capsys.readouterr().out
    kept = load_checkpoint(tmp_path / "kept" / "model.pt")
    assert torch.equal(kept.model.state_dict()[lstm], load_checkpoint(base).model.state_dict()[lstm])


def test_a_skeleton_only_model_is_fine_tuned_by_its_pose_stage_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The default model on real sources is skeleton-only: a site teaches it a new action from clips
    without any crops, through its pose stream (the only stream it has), and drops its teacher."""
    from core.model.checkpoint import load_checkpoint
    from training.__main__ import main as training

    classes = ["drink_left", "kick", NO_ACTION]
    teacher = random_checkpoint(tmp_path / "teacher.pt", pose_only(tiny(3)), classes, duration_s=1.0, seed=1)
    base = random_checkpoint(tmp_path / "base.pt", pose_only(tiny(3)), classes, duration_s=1.0,
                             extra={"train_config": {"distill": {"teacher": str(teacher)}},
                                    "trained_clips": ["0005-L", "0005-M"]})
    site = tmp_path / "site"
    for session in (1, 2, 3):
        _record(site, session, "raise both arms")
    # A take stopped at once (0.5 s): shorter than the 0.8 s of a person the app needs of a 1 s window.
    from recordings.labels import read_label_map

    config = RecorderConfig(min_free_bytes=1, naming=ClipNaming(setup=3))
    with Recorder(site, label="raise both arms", label_map=read_label_map(site / "labels.txt"),
                  config=config) as rec:
        for i in range(5):
            rec.write(make_frame(i, i / 10))
    # An action marked where the sensor had lost its person (nobody in view after 2 s): trained silently.
    with Recorder(site, sample_name="S004C001P001R001A121", config=RecorderConfig(min_free_bytes=1)) as lost:
        for i in range(40):
            lost.write(make_frame(i % 20, i / 10, bodies=1 if i < 20 else 0))
    marked = ClipLabels.open(lost.files.skeleton)
    marked.add("raise both arms", 0.5, 1.5)
    marked.add("raise both arms", 1.7, 2.45)  # seen in 3 of its 8 frames: mostly empty all the same
    marked.add("raise both arms", 2.5, 3.5)
    marked.save()
    # Labelled as a whole, the person lost after 1 s of its 4: as silent, until it was said too.
    with Recorder(site, label="raise both arms", label_map=read_label_map(site / "labels.txt"),
                  sample_name="S005C001P001R001A121", config=RecorderConfig(min_free_bytes=1)) as whole:
        for i in range(40):
            whole.write(make_frame(i % 20, i / 10, bodies=1 if i < 10 else 0))
    quick = QUICK_POSE
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "run"),
                     *quick]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert ("WARNING: 3 labelled action(s) with nobody in view for most of their time, which teach their "
            "class from empty windows: S004C001P001R001A121 1.70-2.45 s (raise both arms), "
            "S004C001P001R001A121 2.50-3.50 s (raise both arms), S005C001P001R001A121 (raise both arms, "
            "the whole clip)") in out
    # How many examples each class has, said before it trains.
    assert "[finetune] the site's examples per class: raise both arms 8 (" in out, out
    # Clips labelled whole beside marked ones: their idle time trains as the action, not as no_action.
    assert ("WARNING: 5 of the site's clips are labelled as a whole beside clips whose actions are marked: "
            "their time around the action trains as the action, not as 'no_action'") in out
    assert (f"WARNING: 1 clip(s) or action(s) shorter than the 0.8 s of a person the app needs for a "
            f"decision (1 s windows): padded to train, they teach little; record longer takes "
            f"({rec.files.skeleton.stem})") in out
    assert "base.pt is skeleton-only: preparing the clips' skeletons (no crops)" in out
    assert "taught by" in out and "fine-tuning trains without a teacher" in out
    assert "[pose] starts from" in out and "[head]" not in out and "[finetune] wrote" in out
    tuned = load_checkpoint(tmp_path / "run" / "model.pt")
    assert tuned.class_names == ["drink_left", "kick", "raise both arms", NO_ACTION]
    assert tuned.config == pose_only(tiny(4))
    assert tuned.extra["train_config"]["distill"]["teacher"] == ""
    # What its weights learnt from: the site's clips and, through the base, the base's.
    assert {"0005-L", "0005-M"} < set(tuned.extra["trained_clips"])
    assert {c.name for c in site.glob("*.skeleton")} & {f"{n}.skeleton" for n in tuned.extra["trained_clips"]}
    cache = json.loads((tmp_path / "run" / "cache" / "cache.json").read_text())
    assert cache["skeleton_only"] is True

    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "none"),
                     *quick, "--set", "epochs.pose=0"]) == 2  # fmt: skip
    assert "skeleton-only: its pose stage is all there is to fine-tune" in capsys.readouterr().err
    rehearsal = tmp_path / "rehearse"
    _record(rehearsal, 1, "kick")
    _record(rehearsal, 2, "wave")  # a class the base does not know, brought by rehearsal alone
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "other"),
                     "--rehearse", str(rehearsal), *quick, "--set", "distill.teacher=x.pt"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "ignoring distill.teacher='x.pt' (a teacher knows the base's classes only" in printed
    assert "clips bring 1 class(es) the base model does not know, trained as new classes: wave" in printed
    # --new-class names a class the clips bring; one they do not is a typo in the option, said.
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "typo"),
                     "--new-class", "raise both arm", *quick]) == 2  # fmt: skip
    assert ("--new-class 'raise both arm': no clip brings it as a new class (the clips' new classes: "
            "'raise both arms')") in capsys.readouterr().err


def test_a_clip_with_nobody_in_view_is_left_out_not_refused(tmp_path: Path, capsys: pytest.CaptureFixture
                                                             ) -> None:
    """A patient out of the room for a whole part of a long recording: that clip has nobody in it, and the
    fine-tune refused the whole folder ("could not be prepared ... fix or remove them")."""
    from core.model.checkpoint import load_checkpoint
    from training.__main__ import main as training

    base = random_checkpoint(tmp_path / "base.pt", pose_only(tiny(3)), ["drink_left", "kick", NO_ACTION],
                             duration_s=1.0)
    site = tmp_path / "site"
    for session in (1, 2, 3):
        _record(site, session, "raise both arms")
    _record(site, 3, "raise both arms", name="empty_room", bodies=0)
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "run"),
                     *QUICK_POSE]) == 0  # fmt: skip
    assert "1 clip(s) with nobody in view, left out: empty_room" in capsys.readouterr().out
    tuned = load_checkpoint(tmp_path / "run" / "model.pt").extra
    assert "empty_room" not in tuned["trained_clips"] + tuned["validation_clips"]
    # A new class whose only clip has nobody in it would be a row nothing taught: refused, said.
    _record(site, 2, "sit down", name="empty_chair", bodies=0)
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "other"),
                     *QUICK_POSE]) == 2  # fmt: skip
    assert ("nobody is in view in any clip of the new class(es) 'sit down' (empty_chair): record "
            "them with the person in the sensor's view") in capsys.readouterr().err
    (site / "empty_chair.skeleton").unlink()
    (site / "empty_chair.json").unlink()
    _record(tmp_path / "rehearse", 1, "wave", name="empty_hall", bodies=0)  # brought by rehearsal alone
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "third"),
                     "--rehearse", str(tmp_path / "rehearse"), *QUICK_POSE]) == 2  # fmt: skip
    assert "'wave' (" in (err := capsys.readouterr().err) and "they come from the --rehearse clips" in err


def test_a_base_that_learnt_the_held_out_clips_leaves_them_in_training_said(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A model fine-tuned on this folder before, fine-tuned again: the session held out is one it learnt.
    The split was described before it moved, and with every held-out clip moved, model.pt was written
    and the evaluation of an empty validation failed (exit 2)."""
    from training.__main__ import main as training

    site = tmp_path / "site"
    for session in (1, 2, 3):
        _record(site, session, "raise both arms")
        _record(site, session, "kick")
    names = sorted(p.stem for p in site.glob("*.skeleton"))
    learnt = {"dataset": "clips", "trained_clips": names,
              "train_config": {"data": {"dataset": "clips", "root": str(site), "split_seed": 1}}}
    base = random_checkpoint(tmp_path / "base.pt", pose_only(tiny(3)), ["drink_left", "kick", NO_ACTION],
                             duration_s=1.0, extra=learnt)
    quick = QUICK_POSE
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "run"),
                     *quick]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "[finetune] 2 validation clip(s) of 1 session(s) train instead: base.pt learnt 2 of them" in out
    assert "[finetune] 6 training / 0 validation clips" in out
    assert ("no session could be held out (base.pt learnt every clip drawn for it with data.split_seed 0; "
            "another data.split_seed may hold out others)") in out  # it left none unlearnt: no seed to name
    assert (tmp_path / "run" / "model.pt").is_file() and "[pose] 6 training / 0 validation" in out
    from core.model.checkpoint import load_checkpoint
    from training.datasets.clips import folder_digest

    # Its folder as resolved where it trained: a relative --clips resolved elsewhere is another folder.
    assert load_checkpoint(tmp_path / "run" / "model.pt").extra["data_folder"] == folder_digest(site)
    # Fine-tuned here with split_seed 1, which held session 2 out: the draw of 0 (session 3) it learnt.
    held = [name for name in names if name.startswith("S002")]
    here = {"dataset": "clips", "data_folder": folder_digest(site), "validation_clips": held,
            "trained_clips": [name for name in names if name not in held],
            "train_config": {"data": {"dataset": "clips", "root": str(site), "split_seed": 1}}}
    tuned = random_checkpoint(tmp_path / "tuned.pt", pose_only(tiny(3)), ["drink_left", "kick", NO_ACTION],
                              duration_s=1.0, extra=here)
    assert training(["finetune", "--from", str(tuned), "--clips", str(site), "--out", str(tmp_path / "again"),
                     *quick]) == 0  # fmt: skip
    said = capsys.readouterr().out
    assert ("no session could be held out (tuned.pt learnt every clip drawn for it with data.split_seed 0; "
            "it was fine-tuned here with 1, which held out clips it did not learn)") in said


def test_the_split_names_the_rehearsal_held_out_and_what_is_learnt_now(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """PKU-MMD sequences the base held out, given as rehearsal: the note said all of them were "learnt
    now", the one held out for validation too, and the split named the site's sessions alone, though
    that sequence's windows are in the validation figures."""
    from training.__main__ import main as training

    site = tmp_path / "site"
    for session in (1, 2, 3):
        _record(site, session, "raise both arms")
        _record(site, session, "kick")
    rehearsal = tmp_path / "rehearse"
    for sequence in ("0016-M", "0026-M", "0036-M", "0046-M", "0056-M"):
        _record(rehearsal, int(sequence[:4]), "kick", sequence)
    base = random_checkpoint(tmp_path / "base.pt", pose_only(tiny(3)), ["drink_left", "kick", NO_ACTION],
                             duration_s=1.0, extra={"dataset": "pkummd", "trained_clips": ["0005-M"]})
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--rehearse", str(rehearsal),
                     "--out", str(tmp_path / "run"), *QUICK_POSE]) == 0
    out = capsys.readouterr().out
    # Few examples of a new class are warned of; of a class the base knows (kick), the rehearsal keeps it.
    assert "WARNING: the site's class(es) 'raise both arms' (3) have fewer than 5 examples" in out
    held = re.search(r"; of the --rehearse clips ([0-9]{4}-M)\)", out)
    assert held, out
    learnt_now = re.search(r"note: 4 of the --rehearse clips are PKU-MMD sequences base\.pt did not train "
                           r"on, its validation or test ones \((.*)\): learnt now", out)
    assert learnt_now and held[1] not in learnt_now[1], out
    # A rehearsal folder inside the site's: its clips were read as the site's, refused under its labels.
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--rehearse",
                     str(site / "rehearse"), "--out", str(tmp_path / "run2"), *QUICK_POSE]) == 2
    assert "lies inside --clips" in capsys.readouterr().err
    # Its validation scored on the site's folder alone: the held-out sequence is in the rehearsal's.
    model = str(tmp_path / "run" / "model.pt")
    assert training(["evaluate", "--checkpoint", model, "--data", str(site), "--subset", "validation"]) == 2
    assert "they are of its --rehearse folders; without --data" in capsys.readouterr().err


def test_a_new_class_the_model_did_not_learn_is_said(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A site's class that scored 0 of its validation windows was hidden behind "validation top-1 82.4%",
    the rehearsed classes' (a night's raise_both_arms against 20 clips a class of rehearsal)."""
    import dataclasses
    import shutil

    from core.model.checkpoint import load_checkpoint
    from training import evaluate as evaluation
    from training.__main__ import main as training

    base = random_checkpoint(tmp_path / "base.pt", pose_only(tiny(3)), ["drink_left", "kick", NO_ACTION],
                             duration_s=1.0)
    for session in (1, 2, 3):
        _record(tmp_path / "site", session, "raise both arms")
    evaluate = evaluation.evaluate

    def not_learnt(*args, **kwargs):  # the real evaluation, as a model that never says the new class
        report = evaluate(*args, **kwargs)
        rows = [(n, w, 0.0 if n == "raise both arms" else top1) for n, w, top1 in report.per_class]
        return dataclasses.replace(report, per_class=rows)

    monkeypatch.setattr(evaluation, "evaluate", not_learnt)
    assert training(["finetune", "--from", str(base), "--clips", str(tmp_path / "site"), "--out",
                     str(tmp_path / "run"), "--set", "epochs.pose=1", "--set", "max_steps_per_epoch=1",
                     "--no-progress", "--threads", "1"]) == 0
    said = capsys.readouterr().out
    assert re.search(r"WARNING: the new class 'raise both arms' is right on 0% of its \d+ validation clips?: "
                     r"the model has not learnt it; record more of it \(README, \"Teaching the system a new "
                     r"action\"\), or --replace-classes where the site needs only its own classes\n", said)
    assert load_checkpoint(tmp_path / "run" / "model.pt").extra["site_classes_taught"] == ["raise both arms"]
    # A second round on the same folder, recorded as the warning says: the class is the base's now, and
    # still not learnt, said again (a base class the site labels is not: 'kick').
    _record(tmp_path / "site", 4, "raise both arms")
    for session in (1, 2, 3, 4):
        _record(tmp_path / "site", session, "kick", name=f"kick{session}")
    again = ["finetune", "--from", str(tmp_path / "run" / "model.pt"), "--clips", str(tmp_path / "site"),
             "--set", "epochs.pose=1", "--set", "max_steps_per_epoch=1", "--no-progress", "--threads", "1"]
    monkeypatch.setattr(evaluation, "evaluate", lambda *args, **kwargs: dataclasses.replace(
        evaluate(*args, **kwargs), per_class=[(n, 3, 0.0) for n in ("kick", "raise both arms")]))
    assert training([*again, "--out", str(tmp_path / "again")]) == 0
    said = capsys.readouterr().out
    assert "WARNING: the site class 'raise both arms' is right on 0% of its 3 validation" in said
    assert "'kick' is right on" not in said
    taught = load_checkpoint(tmp_path / "again" / "model.pt").extra["site_classes_taught"]
    assert taught == ["raise both arms"]
    # Kept by what else writes such a model: each stage (a next one with --init), an ensemble.
    stage_best = load_checkpoint(tmp_path / "again" / "pose" / "best.pt")
    assert stage_best.extra["site_classes_taught"] == ["raise both arms"]
    assert training([*again, "--out", str(tmp_path / "seed1"), "--cache", str(tmp_path / "again" / "cache"),
                     "--set", "seed=1"]) == 0  # another member of the same run but for its seed
    members = [str(tmp_path / "again" / "model.pt"), str(tmp_path / "seed1" / "model.pt")]
    assert training(["ensemble", *members, "--out", str(tmp_path / "both.pt")]) == 0
    assert load_checkpoint(tmp_path / "both.pt").extra["site_classes_taught"] == ["raise both arms"]
    capsys.readouterr()
    # A model an earlier version fine-tuned here records no classes taught: said, not guessed.
    from core.model.checkpoint import save_checkpoint

    first = load_checkpoint(tmp_path / "run" / "model.pt")
    older = {k: v for k, v in first.extra.items() if k != "site_classes_taught"}
    save_checkpoint(tmp_path / "older.pt", first.model, class_names=first.class_names,
                    preprocessing=first.preprocessing, extra=older, decisions=first.decisions)
    from_older = [a if a != str(tmp_path / "run" / "model.pt") else str(tmp_path / "older.pt") for a in again]
    assert training([*from_older, "--out", str(tmp_path / "from_older")]) == 0
    assert ("note: older.pt was fine-tuned on this folder by an earlier version, which did not record the "
            "classes it taught") in capsys.readouterr().out
    # Fine-tuned on another folder, the class is one the base brings: not the site's to learn there.
    shutil.copytree(tmp_path / "site", tmp_path / "elsewhere")
    again[again.index("--clips") + 1] = str(tmp_path / "elsewhere")
    assert training([*again, "--out", str(tmp_path / "other")]) == 0
    assert "is right on" not in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "other" / "model.pt").extra["site_classes_taught"] == []


def test_how_much_of_the_sites_recordings_validation_holds_out_is_said() -> None:
    """A session is held out whole, whatever its length: one run held out 463 of the site's 533 s, leaving
    70 s to learn from, and said only which session."""
    from training.datasets.clips import LabelledClip
    from training.finetune import held_out_site

    def clip(session: int, seconds: float, folder: int = 0) -> LabelledClip:
        return LabelledClip(None, "raise both arms", None, session, folder, seconds)

    clips = [clip(1, 40.0), clip(2, 30.0), clip(3, 463.0), clip(1, 900.0, folder=1)]  # the last: rehearsal
    held = held_out_site(clips, [1])
    assert held == ("whole sessions held out; the site's session 1: 40 of its 533 s", None)
    said, warning = held_out_site(clips, [3])
    assert said == "whole sessions held out; the site's session 3: 463 of its 533 s"
    assert warning.startswith("[finetune] WARNING: most of the site's recordings (463 of 533 s) are held out "
                              "for validation, not learnt from: --set data.split_seed=N (1, 2, ...) may hold "
                              "out another session")
    assert held_out_site(clips, []) == ("whole sessions held out", None)
    # One session only: some of its clips are held out, not all of it, and no seed picks another.
    said, warning = held_out_site([clip(1, 60.0) for _ in range(10)], [1])
    assert said.startswith("the site's clips drawn at random from its one session: those held out are "
                           "near-copies of training ones and flatter the model") and warning is None


def test_rehearsal_sequences_the_base_held_out_are_named() -> None:
    """PKU-MMD sequences converted for rehearsal that the base never trained on are its validation or test
    ones: learnt by the fine-tune, they stop measuring it (the note names them)."""
    from types import SimpleNamespace

    from training.datasets.clips import rehearsal_prefix
    from training.finetune import held_out_sequences

    base = SimpleNamespace(extra={"dataset": "pkummd", "trained_clips": ["0005-L", "0005-M"]})
    prefix = rehearsal_prefix("/site/rehearse", 1)
    clips = [SimpleNamespace(task=SimpleNamespace(name=prefix + name))
             for name in ("0005-L", "0016-R", "0016-L", "S001C001P001R001A121")]
    assert held_out_sequences(base, clips) == ["0016-L", "0016-R"]
    assert held_out_sequences(SimpleNamespace(extra={"dataset": "pkummd"}), clips) == []  # cannot tell


def test_finetune_refuses_what_it_cannot_do(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from core.model.profiles import pose_only, single_part
    from training.__main__ import main as training

    pose = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(3)), ["a", "b", "c"])
    single = random_checkpoint(tmp_path / "single.pt", single_part(tiny(3), "full_body"), ["a", "b", "c"])
    (tmp_path / "clips").mkdir()
    assert training(["finetune", "--from", str(single), "--clips", str(tmp_path / "clips")]) == 2
    assert "is a 'single' network" in capsys.readouterr().err
    kinect_v1 = REPO / "training" / "checkpoints" / "nucla_pose.pt"
    assert training(["finetune", "--from", str(kinect_v1), "--clips", str(tmp_path / "clips")]) == 2
    assert "nucla_pose.pt reads kinect_v1 skeletons (20 joints); a site's clips are Kinect v2" in (
        capsys.readouterr().err)
    assert training(["finetune", "--from", str(pose)]) == 2
    assert "needs both --from CHECKPOINT and --clips DIR" in capsys.readouterr().err
    release = tmp_path / "pkummd"  # PKU-MMD as released: sequences to convert first
    for part in ("skeletons", "labels"):
        (release / part).mkdir(parents=True)
    assert training(["finetune", "--from", str(pose), "--clips", str(release)]) == 2
    assert "looks like PKU-MMD sequences: python -m recordings convert" in capsys.readouterr().err
    assert training(["finetune", "--from", str(pose), "--clips", "x", "--profile", "lite"]) == 2
    assert "drop --profile" in capsys.readouterr().err


def test_a_damaged_sidecar_or_label_map_is_named_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from training.__main__ import main as training

    model = random_checkpoint(tmp_path / "model.pt", tiny(3), ["patient fell", "b", NO_ACTION])
    clips = tmp_path / "clips"
    with Recorder(clips, sample_name="S001C001P001R001A121", config=RecorderConfig(min_free_bytes=1)) as rec:
        for i in range(3):
            rec.write(make_frame(i, i / 30))
    (clips / "labels.txt").write_text("A121\tpatient fell\n")
    evaluate = ["evaluate", "--checkpoint", str(model), "--dataset", "clips", "--data", str(clips)]
    skeleton = clips / "S001C001P001R001A121.skeleton"
    good = skeleton.read_text()
    first_joint = good.splitlines()[4]  # frame 1, body 1, joint 1's line
    skeleton.write_text(good.replace(first_joint, "1e30" + first_joint[first_joint.index(" "):], 1))
    # A clip damaged after it was recorded, read as the windows are drawn (a skeleton-only model reads
    # clips directly, an RGB one through its prepared cache): named, not a traceback.
    pose = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(3)), ["patient fell", "b", NO_ACTION])
    assert training(["evaluate", "--checkpoint", str(pose), "--dataset", "clips", "--data", str(clips),
                     "--subset", "all"]) == 2
    assert "S001C001P001R001A121.skeleton, line 5: frame 1, body 1, joint 1 (SpineBase): (1e+30" in \
        capsys.readouterr().err
    skeleton.write_text(good)
    sidecar = clips / "S001C001P001R001A121.json"
    sidecar.write_text(sidecar.read_text()[:40])  # cut short
    assert training(evaluate) == 2
    assert "S001C001P001R001A121.json" in capsys.readouterr().err
    sidecar.unlink()
    (clips / "labels.txt").write_text("A121\tpatient fell\ngarbage line without a tab\n")
    finetune = ["finetune", "--from", str(model), "--clips", str(clips), "--out", str(tmp_path / "out")]
    assert training(finetune) == 2
    assert "labels.txt: line 2" in capsys.readouterr().err


def test_labels_a_hand_edit_or_a_typo_would_mistrain_are_refused(tmp_path: Path, capsys) -> None:
    from training.__main__ import main as training

    model = random_checkpoint(tmp_path / "model.pt", tiny(3), ["fall_down", "wave", NO_ACTION])
    clips = tmp_path / "clips"
    first = _record(clips, 1, "raise_both_arms")
    _record(clips, 2, "raise_both_arms")
    finetune = ["finetune", "--from", str(model), "--clips", str(clips), "--out", str(tmp_path / "out")]
    sidecar = first.with_suffix(".json")
    sidecar.write_text(sidecar.read_text().replace('"raise_both_arms"', '"raise_both_armz"'))  # by hand
    assert training(finetune) == 2
    err = capsys.readouterr().err
    assert f"{sidecar}: label 'raise_both_armz' but A121 is 'raise_both_arms'" in err
    sidecar.write_text(sidecar.read_text().replace('"raise_both_armz"', '"raise_both_arms"'))

    # labels.txt knows the site's classes, not the model's: a model class mistyped becomes a new class.
    typo = _record(clips, 3, "fall_dwn")
    assert training(finetune) == 2
    err = capsys.readouterr().err
    assert "class 'fall_dwn' of the clips is not one of model.pt's but close to its 'fall_down'" in err
    assert f"Relabel the clips that name it ({typo}: python -m recordings label CLIP" in err  # which clip
    assert not (tmp_path / "out").exists()  # refused before anything was prepared or trained
    from core.model.checkpoint import load_checkpoint
    from training.finetune import refuse_typos

    refuse_typos(load_checkpoint(model), model, ["fall_dwn"], allowed=["fall_dwn"], clips=[])  # --new-class
    typo.with_suffix(".json").unlink()

    # Paths that are not a folder of clips, and a folder given as the model, say what they are.
    for wrong, said in ((clips / "nope", "no such folder of clips"), (first, "a file, not folder of clips")):
        assert training(["finetune", "--from", str(model), "--clips", str(wrong)]) == 2
        assert f"{wrong}: {said}" in capsys.readouterr().err
    assert training(["finetune", "--from", str(tmp_path), "--clips", str(clips)]) == 2
    assert f"{tmp_path}: a folder, not a checkpoint file" in capsys.readouterr().err


def test_a_site_class_that_says_which_side_turns_the_bases_mirroring_off(tmp_path: Path, capsys) -> None:
    """pku_interactions.pt mirrors (augment.mirror 0.5 in training, pose_mirror_average when it decides):
    fine-tuned with a site's wave_left, both went on, teaching and scoring a left-hand wave as a right one.
    And clips labelled "No_Action" (before labels.txt refused it) were trained as an action."""
    import dataclasses

    from core.model.checkpoint import load_checkpoint
    from training.__main__ import main as training

    mirroring = dataclasses.replace(pose_only(tiny(3)), pose_mirror_average=True)
    base = random_checkpoint(tmp_path / "base.pt", mirroring, ["handshaking", "kick", NO_ACTION],
                             duration_s=1.0, extra={"train_config": {"augment": {"mirror": 0.5}}})
    site = tmp_path / "site"
    for session in (1, 2):
        _record(site, session, "wave_left")
    quick = QUICK_POSE
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "run"),
                     *quick]) == 0  # fmt: skip
    assert ("the classes wave_left say which side acts, so windows are not mirrored (augment.mirror and "
            "pose_mirror_average of base.pt turned off)") in capsys.readouterr().out
    tuned = load_checkpoint(tmp_path / "run" / "model.pt")
    assert not tuned.config.pose_mirror_average and tuned.extra["train_config"]["augment"]["mirror"] == 0

    sidecar = _record(site, 3, "wave_left").with_suffix(".json")
    raw = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**raw, "label": "No_Action", "action_id": 122}))  # as labelled before
    (site / "labels.txt").write_text((site / "labels.txt").read_text() + "A122\tNo_Action\n")
    assert training(["finetune", "--from", str(base), "--clips", str(site), "--out", str(tmp_path / "bg"),
                     "--new-class", "No_Action", *quick]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "class 'No_Action' of the clips is the background ('no_action': everything outside the" in err
    assert f"remove it from the clips that name it ({sidecar.with_suffix('.skeleton')}: python -m" in err


def test_a_base_trained_with_a_setting_now_refused_must_be_told_another(tmp_path: Path, capsys) -> None:
    """A run trained before early_stop_patience 0 was refused evaluates as it is, but its fine-tune would
    stop every stage after one epoch: refused, with the record named, before anything is prepared."""
    from training.__main__ import main as training

    extra = {"train_config": {"optim": {"early_stop_patience": 0}}}
    model = random_checkpoint(tmp_path / "model.pt", tiny(3), ["fall_down", "wave", NO_ACTION], extra=extra)
    clips = tmp_path / "clips"
    _record(clips, 1, "raise_both_arms")
    out = tmp_path / "out"
    assert training(["finetune", "--from", str(model), "--clips", str(clips), "--out", str(out)]) == 2
    assert (f"{model}: its training record would train this fine-tune with a setting now refused "
            "(optim.early_stop_patience must be at least 1" in capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_the_fine_tuned_classes_and_the_base_settings_it_keeps(tmp_path: Path) -> None:
    from core.model.checkpoint import load_checkpoint
    from training.finetune import base_train_config, site_classes

    extra = {"train_config": {"optim": {"lr": 0.003, "retired_option": 1}, "window": {"jitter": 0.1},
                              "obsolete_section": {}}}
    base = load_checkpoint(random_checkpoint(tmp_path / "b.pt", tiny(3), ["drink", "kick", NO_ACTION],
                                             extra=extra))
    assert site_classes(base, ["raise", "drink"], replace=False) == ["drink", "kick", "raise", NO_ACTION]
    assert site_classes(base, ["raise", "drink"], replace=True) == ["raise", "drink", NO_ACTION]
    trained = base_train_config(base)  # settings this trainer no longer knows are dropped, not fatal
    assert trained.optim.lr == 0.003 and trained.window.jitter == 0.1


def test_a_fine_tuned_model_decides_as_its_base_unless_told() -> None:
    """The base's decision settings come with its training config (the demo's 0.25 s, 0.45 and 0.3)."""
    from core.model.checkpoint import DecisionSettings, load_checkpoint
    from training.config import load_config
    from training.demo import DEMO_END_THRESHOLD, DEMO_SMOOTHING_S, DEMO_THRESHOLD
    from training.finetune import base_train_config

    demo = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "demo.pt"
    inherited = base_train_config(load_checkpoint(demo))
    assert inherited.decisions == DecisionSettings(DEMO_SMOOTHING_S, DEMO_THRESHOLD, DEMO_END_THRESHOLD)
    assert load_config(None, ["decisions.threshold=0.6"], base=inherited).decisions.threshold == 0.6


def test_every_committed_model_passes_on_the_decision_settings_it_runs_with() -> None:
    """What live uses with a bundled model (its decisions record) is what a site's model fine-tuned from
    it inherits (the record in its training config): both were set when the settings were chosen."""
    from core.model.checkpoint import DecisionSettings, load_checkpoint
    from training.finetune import base_train_config

    folder = Path(__file__).resolve().parents[1] / "training" / "checkpoints"
    for path in sorted(folder.glob("*.pt")):
        checkpoint = load_checkpoint(path)
        if "train_config" in checkpoint.extra:
            assert base_train_config(checkpoint).decisions == checkpoint.decisions, path.name
    assert load_checkpoint(folder / "pku_interactions.pt").decisions == DecisionSettings(0.25, 0.55, 0.3)


def test_a_lower_threshold_over_the_base_models_end_threshold_is_taken() -> None:
    """finetune's documented '--set decisions.threshold=...': 0.25 under pku_interactions.pt's end threshold
    of 0.3 was refused as a contradiction the user never wrote (the end threshold is dropped where used)."""
    from core.model.checkpoint import load_checkpoint
    from training.config import load_config
    from training.finetune import base_train_config

    checkpoints = Path(__file__).resolve().parents[1] / "training" / "checkpoints"
    base = load_checkpoint(checkpoints / "pku_interactions.pt")
    config = load_config(None, ["decisions.threshold=0.25"], base=base_train_config(base))
    assert config.decisions.threshold == 0.25


def test_site_classes_that_are_one_name_written_two_ways_are_warned_of() -> None:
    """'Patient Fell', 'patient fell', 'patient  fell ' and 'patient_fell', each added with --new-class,
    trained as four classes competing for one action's windows, without a word."""
    from training.finetune import close_pairs

    said = close_pairs(["Patient Fell", "patient fell", "patient  fell ", "patient_fell", "wave", "walk"])
    assert len(said) == 6  # every pair of the four; wave and walk are two actions
    assert said[0].startswith("the site's classes 'Patient Fell' and 'patient fell' are one name written")
    # Names a letter apart are as often two actions, which --new-class said they are.
    assert close_pairs(["fall", "fall"]) == []  # one name twice is no pair
    assert close_pairs(["drink", "drinks", "fall", "call", "bed 1", "bed 2", "wave left", "wave right",
                        "sit down", "stand up", "put on", "put in"]) == []


def test_site_classes_one_of_which_adds_words_to_the_other_are_noted() -> None:
    """"Falling" and "falling down" split one action's clips in two classes without a word: close_pairs
    takes the same words only."""
    from training.finetune import longer_names

    assert longer_names(["sit down", "down sit"]) == []  # the same words: close_pairs' to say
    said = longer_names(["Falling", "wave left", "falling down", "wave right", "sit", "stand up"])
    assert said == ["the site's classes 'Falling' and 'falling down': one is the other with words added. If "
                    "they are one action, label its clips with one name (python -m recordings label): as two "
                    "classes they split its clips"]


def test_a_class_of_one_session_is_said_to_go_unjudged_by_validation(tmp_path: Path, capsys) -> None:
    """'jog' in one session, 'wave' in three: jog's clips all trained (right), and validation printed
    "jog 0" in its table with no word that it was never measured."""
    for session in (1, 2, 3):
        _record(tmp_path, session, "wave")
    _record(tmp_path, 1, "jog")
    data = DataConfig(dataset="clips", root=str(tmp_path), protocol="all", validation_fraction=0.34,
                      classes=["wave", "jog"])
    splits = clip_splits(data)
    assert splits.validation and all(s.label == 0 for s in splits.validation)
    assert ("[clips] jog: no clip of it is held out (holding out a session of it would leave a class "
            "without training clips), so the validation figures say nothing of it") in capsys.readouterr().out


def test_a_short_action_is_a_short_take_only_where_its_cut_is_short(tmp_path: Path) -> None:
    """Each interval is cut out with half a window of context either side: a 0.3 s action in the middle of
    a long clip trains on a whole window, and was warned of as a take 'padded to train'."""
    from training.config import DataConfig, TrainConfig, WindowConfig
    from training.datasets.clips import read_clip_folder
    from training.finetune import short_takes

    marked = ClipLabels.open(_record(tmp_path, 1, None, "live_20261207_150000"))  # 4 s
    marked.add("wave", 1.8, 2.1)
    marked.save()
    (tmp_path / "labels.txt").write_text("A121\twave\n")
    clips, _ = read_clip_folder(tmp_path)
    window = WindowConfig(duration_s=1.0)
    with_context = TrainConfig(window=window, data=DataConfig(interval_context_s=0.5))
    assert short_takes(clips, with_context, cut_out=True) == []
    assert short_takes(clips, TrainConfig(window=window), cut_out=True) == [
        "live_20261207_150000 1.80-2.10 s"]  # no context: cut to 0.3 s
    assert short_takes(clips, TrainConfig(window=window), cut_out=False) == []  # windows along the clip
    # A take stopped at once is the site's to record again; a rehearsal clip as short is none of its takes.
    from dataclasses import replace

    take = replace(clips[0], duration=0.5)
    assert short_takes([take], with_context, cut_out=False) == ["live_20261207_150000"]
    assert short_takes([replace(take, folder=1)], with_context, cut_out=False) == []


def test_classes_with_few_or_uneven_examples_are_warned_of_before_training() -> None:
    """finetune said only the classes' names: "drinking" trained on 2 clips beside "waving"'s 60 and was
    then "100.0% of 19 windows", all of its one held-out clip."""
    from training.finetune import too_few_examples

    said = too_few_examples({"waving": (60, 3, 300.0), "patient fell": (5, 2, 20.0), "drinking": (2, 1, 6.0)})
    assert said == [
        "the site's class(es) 'drinking' (2) have fewer than 5 examples: too few to learn from, and their "
        "validation figures rest on a clip or two; record more (ten or more, in two sessions or more)",
        "the site's classes are uneven: 'waving' has 60 examples, 'patient fell' 5: the model leans to the "
        "larger; record more of the smaller"]
    assert too_few_examples({"waving": (12, 3, 60.0), "patient fell": (6, 2, 30.0)}) == []
    assert too_few_examples({}) == []  # no new class of the site's


def test_the_site_s_examples_are_its_own_folder_s_actions(tmp_path: Path) -> None:
    """Each marked interval an example of its class, their seconds added; a clip labelled whole one; the
    rehearsal's clips and the background are not the site's."""
    import types

    from training.datasets.clips import LabelledClip
    from training.finetune import site_examples

    def clip(action, intervals=(), folder=0, session=1):
        task = types.SimpleNamespace(name="c")
        timeline = Timeline(tuple(Interval(a, b, label) for a, b, label in intervals)) if intervals else None
        return LabelledClip(task, action, timeline, session, folder, 10.0)

    clips = [clip(None, [(1.0, 3.0, "fall"), (5.0, 6.5, "fall"), (7.0, 9.0, NO_ACTION)]),
             clip("fall", session=2), clip("drink", folder=1)]
    assert site_examples(clips) == {"fall": (3, 2, 13.5)}


def test_clips_labelled_whole_are_warned_of_only_beside_marked_ones(tmp_path: Path) -> None:
    import types

    from training.datasets.clips import LabelledClip
    from training.finetune import whole_beside_marked

    def clip(name, marked=False, folder=0):
        timeline = Timeline((Interval(1.0, 2.0, "fall"),)) if marked else None
        task = types.SimpleNamespace(name=name)
        return LabelledClip(task, None if marked else "fall", timeline, 1, folder, 4.0)

    classes = ["fall", NO_ACTION]
    assert whole_beside_marked([clip("a", marked=True), clip("b"), clip("r", folder=1)], classes) == ["b"]
    assert whole_beside_marked([clip("b"), clip("c")], classes) == []  # none marked: nothing to compare
    assert whole_beside_marked([clip("a", marked=True), clip("b")], ["fall"]) == []  # no background class


def test_copies_of_one_take_are_one_session_and_said(tmp_path: Path, caplog) -> None:
    """One fall saved twice under two names trained twice, and with the copies in two sessions one could
    be held out to validate on the other: validation scored a clip the model trained on."""
    import shutil

    from training.datasets.clips import read_clip_folder

    for session in (1, 2, 3):  # on three days
        sidecar = _record(tmp_path, session, "drink").with_suffix(".json")
        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()),
                                       "started_at": f"2026-12-0{session}T10:00:00+01:00"}))
    shutil.copy(tmp_path / "S001C001P001R001A121.skeleton", tmp_path / "S006C001P001R001A121.skeleton")
    with caplog.at_level("WARNING", logger="training.datasets.clips"):
        clips, _ = read_clip_folder(tmp_path)
    sessions = {clip.task.name: clip.session for clip in clips}
    assert sessions["S006C001P001R001A121"] == sessions["S001C001P001R001A121"] == 1
    assert sessions["S002C001P001R001A121"] == 2
    assert any("S001C001P001R001A121.skeleton" in r.getMessage() and "S006C001P001R001A121.skeleton"
               in r.getMessage() and "hold the same skeletons: one take saved twice?" in r.getMessage()
               for r in caplog.records)
