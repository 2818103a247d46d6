"""`python -m training evaluate --stream`: the app's pipeline on whole sequences (training/streaming.py)."""

from __future__ import annotations

import json
import lzma
import re
from pathlib import Path

import numpy as np
import pytest
from model_files import random_checkpoint

from core.frame import Frame
from core.model.checkpoint import DecisionSettings, load_checkpoint
from core.timeline import NO_ACTION
from recordings.recorder import Recorder
from simulation import CLASS_NAMES
from training.__main__ import build_parser, main
from training.data import DatasetError
from training.streaming import SimSpec, evaluate_stream, rescore_stream, score_decision_file, stream_cases


@pytest.fixture(scope="module")
def sim_model(tmp_path_factory) -> Path:
    """A tiny random network over the simulated classes + no_action, one body, 1 s windows."""
    from dataclasses import replace

    from core.model.profiles import tiny

    config = replace(tiny(len(CLASS_NAMES) + 1), num_bodies=1)
    path = tmp_path_factory.mktemp("model") / "tiny_sim.pt"
    return random_checkpoint(path, config, [*CLASS_NAMES, NO_ACTION], duration_s=1.0)


def test_sim_specs_are_checked() -> None:
    assert SimSpec.parse("sim:seed=4,minutes=0.5") == SimSpec(4, 0.5, 2)
    assert SimSpec.parse("sim:seed=4,minutes=2,people=3").people == 3
    extra = SimSpec.parse("sim:seed=4,minutes=2,actions=default+raise_both_arms")
    assert extra.actions[-1] == "raise_both_arms" and len(extra.actions) == 11
    with pytest.raises(DatasetError, match="unknown simulated action 'juggle'"):
        SimSpec.parse("sim:seed=4,minutes=2,actions=juggle")
    for bad in ("sim:seed=4", "sim:minutes=1", "sim:seed=x,minutes=1", "sim:seed=1,minutes=1,colour=2",
                "sim:seed=1,minutes=1,people=9"):
        with pytest.raises(DatasetError, match="sim:seed=N,minutes=M|people"):
            SimSpec.parse(bad)


def test_a_file_given_as_the_stream_data_is_said_to_be_a_file(tmp_path: Path) -> None:
    # "not a folder of labelled recordings" left it open whether the name was wrong or the kind of path.
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"--data .*data\.txt: a file, not a folder \(expected a folder of "
                                           r"labelled recordings, or sim:seed=N,minutes=M\)"):
        stream_cases(str(tmp_path / "data.txt"))


def test_a_simulated_stream_is_decided_at_every_hop_and_scored(sim_model: Path, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    run = evaluate_stream(sim_model, "sim:seed=3,minutes=0.5", out=tmp_path, progress=False,
                          engine="pytorch-cpu", threads=1)
    lines = (tmp_path / "decisions" / "sim_seed3.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == run.scores.decisions > 0
    # Lockstep: per person, one decision every hop while in view (no hop skipped however slow the model).
    for person in {r["person"] for r in records}:
        times = np.array([r["stream_time"] for r in records if r["person"] == person])
        assert np.allclose(np.diff(times)[np.diff(times) < 1.0], 0.2, atol=0.04)
    assert all("truth" in r and "window_start" in r for r in records)
    assert {r["truth"] for r in records} <= {*CLASS_NAMES, NO_ACTION}
    assert {r["room"] for r in records} == {"sim_seed3"}  # was "": the line's sequence, as live's room
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["room_hours"] == pytest.approx(0.5 / 60, rel=0.01)
    assert set(results["per_class"]) == set(CLASS_NAMES) and results["alert_classes"] == ["fall_down"]
    assert 0 <= results["frame_accuracy"] <= 1 and results["truth"]
    assert (tmp_path / "timeline.png").stat().st_size > 2000

    # Scored again from what the run wrote: the same figures; another threshold changes events only.
    again = rescore_stream(tmp_path, out=tmp_path / "again")
    same = ("frame_accuracy", "frame_accuracy_now", "decisions", "per_class", "map_50", "false_events",
            "alerts")
    assert {k: getattr(again.scores, k) for k in same} == {k: getattr(run.scores, k) for k in same}
    assert again.scores.background_hours == pytest.approx(run.scores.background_hours)  # truth kept to 0.1 ms
    assert results["event_lag_s"] == pytest.approx(0.407, abs=1e-3)  # the default smoothing's lag
    strict = rescore_stream(tmp_path, threshold=0.99, out=tmp_path / "strict")
    assert strict.scores.frame_accuracy == run.scores.frame_accuracy
    assert sum(row["events"] for row in strict.scores.per_class.values()) <= sum(
        row["events"] for row in run.scores.per_class.values())
    assert json.loads((tmp_path / "strict" / "results.json").read_text())["threshold"] == 0.99
    held = rescore_stream(tmp_path, threshold=0.6, end_threshold=0.2, out=tmp_path / "held")
    assert sum(row["events"] for row in held.scores.per_class.values()) <= sum(
        row["events"] for row in run.scores.per_class.values())  # hysteresis joins events, never adds
    assert json.loads((tmp_path / "held" / "results.json").read_text())["end_threshold"] == 0.2
    # The alerts' cooldown, as live's --alert-cooldown: kept with the run, and given again to a rescoring
    # (evaluation always used 30 s, whatever a site runs the app with).
    assert results["alert_cooldown_s"] == 30.0
    raised = {n: row["alerts"] for n, row in run.scores.alerts.items()}
    eager = rescore_stream(tmp_path, alert_cooldown_s=0.0, out=tmp_path / "eager")
    assert json.loads((tmp_path / "eager" / "results.json").read_text())["alert_cooldown_s"] == 0.0
    assert all(eager.scores.alerts[n]["alerts"] >= raised[n] for n in raised)
    older = {k: v for k, v in results.items() if k != "alert_cooldown_s"}  # a run of an earlier version
    (tmp_path / "older").mkdir()
    (tmp_path / "older" / "results.json").write_text(json.dumps(older))
    (tmp_path / "older" / "decisions").symlink_to(tmp_path / "decisions")
    assert rescore_stream(tmp_path / "older", out=tmp_path / "older_again").scores.alerts == run.scores.alerts
    with pytest.raises(ValueError, match="end threshold 0.7 is above threshold 0.5"):  # given together
        rescore_stream(tmp_path, threshold=0.5, end_threshold=0.7, out=tmp_path / "above")
    with caplog.at_level("WARNING", "training.streaming"):  # over the run's: dropped, as live drops it
        rescore_stream(tmp_path, end_threshold=0.7, out=tmp_path / "above")
    assert "the given --end-threshold 0.7 is not below the threshold 0.6" in caplog.text  # the run's
    # The decisions keep 5 classes: an event followed down to 0.1 could hold on outside them, unseen.
    assert {len(r["topk"]) for r in records} == {5}
    with pytest.raises(DatasetError, match="top 5 classes, which follow an event only above 0.167"):
        rescore_stream(tmp_path, end_threshold=0.1, out=tmp_path / "low")
    damaged = json.loads((tmp_path / "results.json").read_text())
    edited = {**damaged, "durations": {"SIM_SEED3": 30.0}}  # a sequence renamed by hand: a traceback
    (tmp_path / "results.json").write_text(json.dumps(edited))
    with pytest.raises(DatasetError, match="results.json: its sequences, durations and truth name different"):
        rescore_stream(tmp_path)
    damaged["truth"][0]["intervals"] = [{"start": 1.0, "label": "kick"}]  # no end
    (tmp_path / "results.json").write_text(json.dumps(damaged))
    with pytest.raises(DatasetError, match="results.json: its truth is damaged"):
        rescore_stream(tmp_path)
    (tmp_path / "decisions" / "sim_seed3.jsonl").write_text("{not json\n")
    with pytest.raises(DatasetError, match="sim_seed3.jsonl: cannot read the run's decisions"):
        rescore_stream(tmp_path)
    (tmp_path / "results.json").write_text("0.5\n")  # was a TypeError
    with pytest.raises(DatasetError, match=r"results.json: not the results .* \(a JSON float, not an "):
        rescore_stream(tmp_path)


def test_an_out_holding_another_kind_of_evaluation_is_refused_before_anything_runs(
    sim_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clip evaluation into a finished stream run replaced its results.json (its scores gone, --rescore
    no longer possible); --rescore RUN --out OTHER_RUN wrote "rescored_from": RUN beside OTHER_RUN's own
    decisions, so a later --rescore OTHER_RUN scored them against RUN's truth. Both are refused now, with
    nothing written; a rescoring into the default RUN/rescored replaces the one before, and says so."""
    import shutil

    run, other = tmp_path / "run", tmp_path / "other"
    evaluate_stream(sim_model, "sim:seed=3,minutes=0.2", out=run, progress=False, engine="pytorch-cpu",
                    threads=1)
    shutil.copytree(run, other)  # another stream run
    capsys.readouterr()

    def files(folder: Path) -> dict:
        return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    before = files(tmp_path)
    # A clip evaluation: refused before its data is even looked at (this folder does not exist).
    assert main(["evaluate", "--checkpoint", str(sim_model), "--dataset", "clips", "--data",
                 str(tmp_path / "no_clips"), "--subset", "all", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{run} holds a stream evaluation (`evaluate --stream`) of tiny_sim.pt on sim:seed=3" in err
    assert "a clip evaluation (`evaluate`) there would replace it. Give another --out, or remove" in err
    assert main(["evaluate", "--rescore", str(run), "--out", str(other)]) == 2
    assert f"{other} holds a stream evaluation" in capsys.readouterr().err
    assert files(tmp_path) == before

    # A rescoring and a clip evaluation are not a stream run's to replace either.
    rescored = rescore_stream(run)
    assert rescored.scores.decisions > 0 and "replacing" not in capsys.readouterr().out
    with pytest.raises(DatasetError, match=r"rescored holds a rescored stream run \(`evaluate --rescore`\)"):
        evaluate_stream(sim_model, "sim:seed=3,minutes=0.2", out=run / "rescored", progress=False)
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "results.json").write_text(json.dumps({"checkpoint": "m.pt", "data": "site", "top1": 0.9}))
    with pytest.raises(DatasetError, match="holds a clip evaluation .* of m.pt on site: a stream evaluation"):
        evaluate_stream(sim_model, "sim:seed=3,minutes=0.2", out=clips, progress=False)
    with pytest.raises(DatasetError, match="holds a clip evaluation"):
        rescore_stream(run, out=clips)
    assert sorted(p.name for p in clips.iterdir()) == ["results.json"]
    # The default RUN/rescored holds what is derived from RUN: scored again, it is replaced, and said.
    rescore_stream(run, threshold=0.9)
    assert f"(replacing a rescored stream run (`evaluate --rescore`) of {run} written there before)" in \
        capsys.readouterr().out
    assert json.loads((run / "rescored" / "results.json").read_text())["threshold"] == 0.9


def test_a_stream_run_again_into_its_own_folder_leaves_no_decisions_of_the_run_before(
    sim_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same kind of evaluation into its own folder goes on as before; the earlier run's decisions and
    events of sequences the new one does not cover went unremoved, mixed in with the new run's, and so did
    its rescoring (RUN/rescored), another run's figures beside this one's decisions."""
    evaluate_stream(sim_model, "sim:seed=3,minutes=0.2", out=tmp_path, progress=False, engine="pytorch-cpu",
                    threads=1)
    rescore_stream(tmp_path, threshold=0.9)
    evaluate_stream(sim_model, "sim:seed=4,minutes=0.2", out=tmp_path, progress=False, engine="pytorch-cpu",
                    threads=1)
    said = capsys.readouterr().out
    assert "removed 2 file(s) of the earlier run" in said
    assert f"removed {tmp_path / 'rescored'}: the rescoring of the earlier run's decisions" in said
    assert not (tmp_path / "rescored").exists()
    assert ("(replacing a stream evaluation (`evaluate --stream`) of tiny_sim.pt on sim:seed=3,minutes=0.2 "
            "written there before)") in said
    # Another run's rescoring put there (--rescore OTHER --out RUN/rescored) is not this run's to remove.
    (tmp_path / "rescored").mkdir()
    others = {"rescored_from": str(tmp_path / "other")}
    (tmp_path / "rescored" / "results.json").write_text(json.dumps(others))
    evaluate_stream(sim_model, "sim:seed=4,minutes=0.2", out=tmp_path, progress=False, engine="pytorch-cpu",
                    threads=1)
    assert "rescoring" not in capsys.readouterr().out and (tmp_path / "rescored" / "results.json").exists()
    (tmp_path / "rescored" / "results.json").unlink()
    (tmp_path / "rescored").rmdir()
    for sub in ("decisions", "events"):
        assert sorted(p.name for p in (tmp_path / sub).iterdir()) == ["sim_seed4.jsonl"]
    assert json.loads((tmp_path / "results.json").read_text())["sequences"] == ["sim_seed4"]
    assert rescore_stream(tmp_path).scores.decisions > 0
    # Files in a folder no stream run wrote (an events/ of the user's own) are not an earlier run's to remove.
    theirs = tmp_path / "theirs"
    (theirs / "events").mkdir(parents=True)
    (theirs / "events" / "ward3.jsonl").write_text("{}\n")
    evaluate_stream(sim_model, "sim:seed=4,minutes=0.2", out=theirs, progress=False, engine="pytorch-cpu",
                    threads=1)
    assert sorted(p.name for p in (theirs / "events").iterdir()) == ["sim_seed4.jsonl", "ward3.jsonl"]


def test_a_run_that_cannot_finish_leaves_the_earlier_run_in_out_whole(
    sim_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong --alert-class, --rescore into its own run and a run stopped half-way (Ctrl-C: the app's
    headless loop ends quietly) used to replace or delete the decisions of the run already in --out."""
    import training.streaming as streaming

    evaluate_stream(sim_model, "sim:seed=3,minutes=0.2", out=tmp_path, progress=False, engine="pytorch-cpu",
                    threads=1)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.jsonl")}
    results = (tmp_path / "results.json").read_bytes()
    assert len(before) == 2  # decisions/ and events/

    args = ["evaluate", "--stream", "--checkpoint", str(sim_model), "--data", "sim:seed=4,minutes=0.2",
            "--out", str(tmp_path), "--engine", "pytorch-cpu", "--threads", "1"]
    assert main([*args, "--alert-class", "juggling"]) == 2
    err = capsys.readouterr().err
    assert "--alert-class: alert classes ['juggling'] are not among the model's classes" in err
    assert main(["evaluate", "--rescore", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "--out must be another folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--rescore", str(tmp_path), "--checkpoint", str(sim_model)])
    assert "--checkpoint: not used when evaluating --rescore" in capsys.readouterr().err

    def stopped_half_way(pipeline, config):  # as Ctrl-C does to the headless loop: it returns early
        return run_headless(pipeline, config, duration_s=0.3)

    run_headless = streaming.run_headless
    monkeypatch.setattr(streaming, "run_headless", stopped_half_way)
    assert main(args) == 130
    assert "interrupted: evaluate stopped" in capsys.readouterr().err
    assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*.jsonl*")} == before
    assert (tmp_path / "results.json").read_bytes() == results


def test_sigterm_stops_a_training_command_as_ctrl_c_does(sim_model: Path, tmp_path: Path) -> None:
    """A scheduler, a service manager or `timeout` stops a job with SIGTERM: the same message and status
    as Ctrl-C, nothing half-done left (Python's default ended it without a word)."""
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "training", "evaluate", "--stream", "--checkpoint", str(sim_model),
               "--data", "sim:seed=4,minutes=5", "--out", str(tmp_path / "run"), "--engine", "pytorch-cpu",
               "--threads", "1"]  # fmt: skip
    repository = Path(__file__).resolve().parents[1]
    run = subprocess.Popen(command, cwd=repository, stderr=subprocess.PIPE, text=True)
    said = []
    for line in run.stderr:  # once the stream is being decided, twice (a second one changes nothing)
        said.append(line)
        if "s of stream" in line and len(said) in (2, 3):
            run.send_signal(signal.SIGTERM)
    assert run.wait(60) == 130, said
    assert "interrupted: evaluate stopped\n" in said, said
    assert not (tmp_path / "run" / "results.json").exists()


def test_truth_the_model_has_no_class_for_is_said(sim_model: Path, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", "training.streaming"):
        evaluate_stream(sim_model, "sim:seed=5,minutes=0.2,actions=raise_both_arms", out=tmp_path,
                        progress=False, engine="pytorch-cpu", threads=1)
    assert re.search(r"the truth holds actions tiny_sim.pt is not trained for: 'raise_both_arms' "
                     r"\(sim_seed5 at \d+\.\d s", caplog.text)  # where: a mislabelled recording is found


def test_the_stream_evaluation_decides_as_live_would_with_the_models_settings(tmp_path: Path) -> None:
    """A model's own smoothing and threshold are what the evaluation uses, as live does; given ones win."""
    from dataclasses import replace

    from core.model.checkpoint import DecisionSettings
    from core.model.profiles import tiny

    config = replace(tiny(len(CLASS_NAMES) + 1), num_bodies=1)
    model = random_checkpoint(tmp_path / "own.pt", config, [*CLASS_NAMES, NO_ACTION], duration_s=1.0,
                              decisions=DecisionSettings(smoothing_s=0.0, threshold=0.8, end_threshold=0.4))
    evaluate_stream(model, "sim:seed=3,minutes=0.2", out=tmp_path / "run", progress=False,
                    engine="pytorch-cpu", threads=1, decisions=DecisionSettings(threshold=0.5))
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["smoothing_s"], results["threshold"], results["event_lag_s"]) == (0.0, 0.5, 0.0)
    assert results["end_threshold"] == 0.4



def test_stream_results_without_out_are_named_after_the_checkpoint(sim_model: Path, tmp_path: Path) -> None:
    """`evaluate --stream` without --out writes beside the checkpoint, under its file name, subset and data,
    so that two models of one folder (the bundled ones in training/checkpoints), and one model on two
    sources, keep their own results."""
    import shutil

    model = tmp_path / "models" / "first.pt"
    model.parent.mkdir()
    shutil.copy(sim_model, model)
    for minutes in (0.1, 0.05):  # other data: results of its own, the first run's kept
        assert main(["evaluate", "--stream", "--checkpoint", str(model), "--data",
                     f"sim:seed=3,minutes={minutes}", "--engine", "pytorch-cpu", "--threads", "1"]) == 0
    written = sorted((tmp_path / "models").glob("eval_first_stream_all_sim-*/results.json"))
    hours = sorted(json.loads(path.read_text())["room_hours"] for path in written)
    assert hours == pytest.approx([0.05 / 60, 0.1 / 60], rel=0.01)



@pytest.mark.parametrize("data", ["sim:seed=x", "sim:seed=1,minutes=-1", "sim:seed=1,minutes=1,bogus=1",
                                  "sim:seed=1,minutes=1,people=0"])
def test_bad_stream_data_is_refused_before_out_is_made(
    data: str, sim_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It was refused too, but after events/ and decisions/ had been made in --out.
    code = main(["evaluate", "--stream", "--checkpoint", str(sim_model), "--data", data, "--engine",
                 "pytorch-cpu", "--threads", "1", "--out", str(tmp_path / "eval")])
    assert code == 2 and f"--data {data!r}" in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()


def test_a_hop_longer_than_the_window_is_refused_before_out_is_made(
    sim_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A hop of 1e9 s decided nothing and wrote a 0% run over --out; the app, too, looked at no frame
    # between two windows.

    window = load_checkpoint(sim_model).preprocessing.window.duration_s
    code = main(["evaluate", "--stream", "--checkpoint", str(sim_model), "--data", "sim:seed=3,minutes=0.05",
                 "--engine", "pytorch-cpu", "--threads", "1", "--hop", str(window + 0.5), "--out",
                 str(tmp_path / "eval")])
    said = f"error: --hop {window + 0.5:g} s: longer than the model's {window:g} s window"
    assert code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize("engine", ["tensorrt", "pytorch-cuda"])
def test_an_engine_this_machine_lacks_is_an_error_line_not_a_traceback(
    engine: str, sim_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.engines import Backend, unavailable_reason

    if (why := unavailable_reason(Backend(engine))) is None:
        pytest.skip(f"{engine} is present here")
    code = main(["evaluate", "--stream", "--checkpoint", str(sim_model), "--data", "sim:seed=3,minutes=0.05",
                 "--engine", engine, "--out", str(tmp_path / "eval")])
    err = capsys.readouterr().err
    assert code == 2 and f"error: {engine}: {why}" in err and "Traceback" not in err


def test_results_that_cannot_be_written_are_refused_before_any_scoring(
    sim_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only install holds the bundled checkpoints, beside which results go by default: said at once
    in a line, for the stream and the clip-level evaluation alike, not as a traceback after the work."""
    blocked = tmp_path / "a file"
    blocked.write_text("")
    for how in (["--stream", "--engine", "pytorch-cpu", "--threads", "1"], ["--dataset", "clips"]):
        data = "sim:seed=3,minutes=0.05" if "--stream" in how else str(tmp_path)
        code = main(["evaluate", *how, "--checkpoint", str(sim_model), "--data", data, "--out",
                     str(blocked / "results")])
        err = capsys.readouterr().err
        assert code == 2 and f"{blocked / 'results'}: the results cannot be written there" in err
        assert "--out names another folder" in err and "Traceback" not in err


def test_a_folder_of_labelled_clips_through_the_cli(sim_model: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """Our own recordings with intervals in their sidecars, or labelled as a whole, are streams too;
    unlabelled ones are skipped."""
    from live.sources import EndOfStream, ReplayOptions, replay_source, simulated_source

    clips = tmp_path / "clips"
    source = simulated_source(people=1, seed=8, duration_s=12.0, options=ReplayOptions(realtime=False))
    source.open()
    frames = []
    try:
        while True:
            frames.append(source.read())
    except EndOfStream:
        pass
    assert len(frames) == 360
    with Recorder(clips, sample_name="S001C001P001R001A121", source="sim") as recorder:
        for frame in frames:
            recorder.write(Frame(frame.timestamp, None, frame.bodies, frame.index))
    sidecar = clips / "S001C001P001R001A121.json"
    data = json.loads(sidecar.read_text())
    data["intervals"] = [{"start": 3.0, "end": 6.0, "label": "wave_left"}]
    sidecar.write_text(json.dumps(data))
    with Recorder(clips, sample_name="S001C001P001R002A121", source="sim") as recorder:  # unlabelled
        for frame in frames[:90]:
            recorder.write(Frame(frame.timestamp, None, frame.bodies, frame.index))
    # Labelled as a whole (a headless recording's --label): one interval of its class over all of it.
    with Recorder(clips, sample_name="S001C001P001R003A121", source="sim") as recorder:
        for frame in frames[:60]:
            recorder.write(Frame(frame.timestamp, None, frame.bodies, frame.index))
    whole = clips / "S001C001P001R003A121.json"
    whole.write_text(json.dumps({**json.loads(whole.read_text()), "label": "wave_right"}))
    (clips / "labels.txt").write_text("A121\twave_left\n")  # a site folder's class list: not a sequence
    assert [c.name for c in stream_cases(str(clips))] == ["S001C001P001R001A121", "S001C001P001R003A121"]
    replayed = replay_source(whole, ReplayOptions(realtime=False), whole_clip_truth=True)
    replayed.open()
    truths = []
    try:
        while True:
            truths += [body.truth for body in replayed.read().bodies]
    except EndOfStream:
        replayed.close()
    assert len(truths) >= 60 and set(truths) == {"wave_right"}
    code = main(["evaluate", "--stream", "--checkpoint", str(sim_model), "--data", str(clips), "--out",
                 str(tmp_path / "eval"), "--engine", "pytorch-cpu", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "frame accuracy" in out and "wave_left" in out
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["sequences"] == ["S001C001P001R001A121", "S001C001P001R003A121"]
    assert results["subset"] == "all"  # which of the folder's sequences: the figures' split, kept
    # Which model file, whatever is at its path later; and how many of the sequences it learnt (none).
    assert results["checkpoint_sha256"] == load_checkpoint(sim_model).sha256
    assert results["trained_on"] is None  # it records none
    assert results["per_class"]["wave_left"]["instances"] == 1
    assert results["per_class"]["wave_right"]["instances"] == 1
    with pytest.raises(DatasetError, match="1 of the 1 sequences --subset names .* --subset all"):
        stream_cases(str(clips), names={"S999"})
    # A model that trained on one of them says so, as the clip-level evaluate does.
    from dataclasses import replace

    from core.model.profiles import tiny

    trained = random_checkpoint(tmp_path / "trained.pt", replace(tiny(len(CLASS_NAMES) + 1), num_bodies=1),
                                [*CLASS_NAMES, NO_ACTION], duration_s=1.0,
                                extra={"trained_clips": ["S001C001P001R001A121"]})
    assert main(["evaluate", "--stream", "--checkpoint", str(trained), "--data", str(clips), "--out",
                 str(tmp_path / "eval_trained"), "--engine", "pytorch-cpu", "--threads", "1"]) == 0
    assert "1 of the 2 clips scored is in trained.pt's training set" in capsys.readouterr().out
    assert json.loads((tmp_path / "eval_trained" / "results.json").read_text())["trained_on"] == 1
    # Scored again with another threshold, the run keeps saying so.
    assert main(["evaluate", "--rescore", str(tmp_path / "eval_trained"), "--threshold", "0.7"]) == 0
    rescored = json.loads((tmp_path / "eval_trained" / "rescored" / "results.json").read_text())
    assert rescored["trained_on"] == 1 and rescored["checkpoint_sha256"] == load_checkpoint(trained).sha256


def test_the_figures_title_says_which_of_the_folders_sequences_were_scored() -> None:
    from training.streaming import _run_title

    run = {"checkpoint": "runs/x/pku.pt", "data": "pkummd"}
    assert _run_title({**run, "subset": "validation"}) == "pku.pt on pkummd, its validation sequences"
    assert _run_title({**run, "subset": "all"}) == _run_title(run) == "pku.pt on pkummd"


def test_a_person_found_again_under_a_new_id_is_scored_as_one_person() -> None:
    """The sensor loses a falling person for 0.3 s and finds them again under a new id; live continues
    their track (live/tracks.py), so the decisions carry the first id. The truth, split between the two
    ids, must be scored as that one track's: one fall, not a fall that ends early and a second person
    whose actions nobody decided on."""
    from core.frame import Body
    from core.timeline import Interval, Timeline
    from live.tracks import TrackTable
    from training.streaming import TruthTap

    fps = 30.0

    def person(tracking_id: int) -> Body:
        joints = np.zeros((25, 3), np.float32)
        joints[:, 2] = 2.5
        return Body(tracking_id, joints, np.full(25, 2, np.int8), np.full((25, 2), 100.0, np.float32))

    class Sensor:  # id 1 until 2 s, nobody until 2.3 s, then id 2 at the same place until 6 s
        def __init__(self) -> None:
            self.fps, self.index = fps, 0

        def read(self, timeout: float = 0.1) -> Frame | None:
            t = self.index / fps
            if t >= 6.0:
                return None
            self.index += 1
            bodies = [person(1)] if t < 2.0 else [] if t < 2.3 else [person(2)]
            return Frame(t, None, bodies, self.index - 1)

    split = Timeline.checked([Interval(1.0, 2.0, "fall_down", 1), Interval(2.3, 3.0, "fall_down", 2),
                              Interval(4.0, 5.0, "drink_left", 2)], classes=("fall_down", "drink_left"))
    table = TrackTable(history=90)
    tap = TruthTap(Sensor())
    tap.track_of = table.track_of
    while (frame := tap.read()) is not None:  # what the capture thread does with each frame
        bodies = table.rejoin(frame.timestamp, frame.bodies)
        table.observe(frame.timestamp, bodies, frame.index)
    assert table.rejoins == 1
    (track,) = tap.tracks("room", split, scene_wide=False)
    assert track.person == 1 and track.start == 0.0 and track.end == pytest.approx(6.0)
    assert [(i.start, i.end, i.label, i.person) for i in track.intervals] == [
        (1.0, 3.0, "fall_down", 1), (4.0, 5.0, "drink_left", 1)]


def test_the_scored_events_are_moved_back_by_the_smoothings_lag(tmp_path: Path) -> None:
    """Smoothed decisions describe windows on average `event_lag_s` older than their newest: a 1 s wave
    said 0.4 s late at the default smoothing is found (IoU ~1) only once its span is moved back by it."""
    from core.timeline import Interval
    from live.headless import AlertConfig
    from live.worker import Decision
    from training.stream_metrics import Track
    from training.streaming import _score_and_write

    classes = ("wave", "fall_down", NO_ACTION)
    decisions = []
    for k in range(50):  # one hop every 0.2 s, 2 s windows: centres 1.0 .. 10.8
        end = round(2.0 + 0.2 * k, 3)
        said = "wave" if 5.4 - 1e-6 <= end - 1.0 < 6.4 - 1e-6 else NO_ACTION  # the truth, 0.4 s late
        others = [c for c in classes if c != said]
        decisions.append(Decision(time=end, stream_time=end, tracking_id=1,
                                  topk=((said, 0.9), (others[0], 0.05), (others[1], 0.05)), parts=("body",),
                                  attention=np.ones(1, np.float32), latency_s=0.0, window_start=end - 2.0))
    truth = Track("room", 1, 0.0, 12.0, (Interval(5.0, 6.0, "wave", 1),))
    settings = {"checkpoint": "x.pt", "data": "room", "classes": list(classes), "hop_s": 0.2,
                "smoothing_s": 0.5}
    alert = AlertConfig(classes=("fall_down",), threshold=0.6)
    run = _score_and_write(tmp_path, settings, {"room": decisions}, [truth], {"room": 12.0}, 0.6, None,
                           alert, 0.0, "lag")
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["event_lag_s"] == pytest.approx(0.407, abs=1e-3)
    assert run.scores.per_class["wave"]["events"] == 1
    # Unmoved, the event [5.4, 6.4] meets the wave at IoU 0.43: no detection at 0.5.
    assert results["per_class"]["wave"]["recall_50"] == run.scores.per_class["wave"]["f1_50"] == 1.0


def test_truth_is_kept_in_stream_time_for_a_source_that_starts_late() -> None:
    """A recording's timeline counts from its first frame, the stream's clock need not start at 0 (a
    Kinect's clock, a recording cut from a longer one): truth moves to the stream's time, per person
    and scene-wide (PKU-MMD) alike, or every event misses its instance by the offset."""
    from core.frame import Body
    from core.timeline import Interval, Timeline
    from training.streaming import TruthTap

    fps, first = 30.0, 100.0

    def person(tracking_id: int) -> Body:
        joints = np.zeros((25, 3), np.float32)
        joints[:, 2] = 2.5
        return Body(tracking_id, joints, np.full(25, 2, np.int8), np.full((25, 2), 100.0, np.float32))

    class LateSensor:  # two people for 4 s, the clock at 100 s at the first frame
        def __init__(self) -> None:
            self.fps, self.index = fps, 0

        def read(self, timeout: float = 0.1) -> Frame | None:
            if self.index >= 4 * fps:
                return None
            self.index += 1
            return Frame(first + (self.index - 1) / fps, None, [person(1), person(2)], self.index - 1)

    def seen() -> TruthTap:
        tap = TruthTap(LateSensor())
        while tap.read() is not None:
            pass
        return tap

    own = Timeline.checked([Interval(1.0, 2.0, "wave_left", 1), Interval(2.5, 3.5, "fall_down", 2)],
                           classes=("wave_left", "fall_down"))
    tracks = {t.person: t for t in seen().tracks("room", own, scene_wide=False)}
    assert tracks[1].start == first and tracks[1].end == pytest.approx(first + 4.0)
    assert [(i.start, i.end, i.label) for i in tracks[1].intervals] == [(101.0, 102.0, "wave_left")]
    assert [(i.start, i.end, i.label) for i in tracks[2].intervals] == [(102.5, 103.5, "fall_down")]
    scene = Timeline.checked([Interval(1.0, 2.0, "wave_left"), Interval(2.5, 3.5, "fall_down")],
                             classes=("wave_left", "fall_down"))
    (track,) = seen().tracks("pku", scene, scene_wide=True)
    assert track.person is None and (track.start, track.end) == pytest.approx((first, first + 4.0))
    assert [(i.start, i.end, i.label, i.person) for i in track.intervals] == [
        (101.0, 102.0, "wave_left", None), (102.5, 103.5, "fall_down", None)]


def test_a_real_pkummd_folder_named_by_a_relative_path_reads_its_sequences_not_its_label_files(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evaluate --stream` with the default `--data ../shared/data/pkummd` stopped at once: "labels/0016-L.txt
    ... expected 150 numbers". The label files found beside a sequence are absolute paths, and a relative
    label file never equalled its own, so each was taken for a skeleton sequence (and sorts first)."""
    if not (shared_data / "pkummd" / "skeletons" / "0005-L.txt.xz").is_file():
        pytest.skip(f"PKU-MMD sequences not found under {shared_data / 'pkummd'}")
    monkeypatch.chdir(shared_data)
    from recordings.pkummd import is_skeleton_sequence

    assert not is_skeleton_sequence(Path("pkummd/labels/0005-L.txt"))
    assert is_skeleton_sequence(Path("pkummd/skeletons/0005-L.txt.xz"))
    (case,) = stream_cases("pkummd", names={"0005-L"})
    source = case.open()
    try:
        assert len(source.timeline.intervals) == 8
    finally:
        source.close()


# ---- evaluate --decisions: the app's own lines of a replay, scored -------------------------------------

PKU_MODEL = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "pku_interactions.pt"
SAME = ("frame_accuracy", "frame_accuracy_now", "mean_class_recall", "decisions", "per_class", "map_50",
        "map_10", "instances", "false_events", "alerts", "durations", "truth", "room_hours")


@pytest.fixture(scope="module")
def pku_replay(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """PKU-MMD's 0005-L (50 s, real bodies, with its labels) replayed by `python -m live --headless --fast`
    with the bundled model: (the sequence, the app's --output file, its lines)."""
    from conftest import SHARED_DATA

    sequence = SHARED_DATA / "pkummd" / "skeletons" / "0005-L.txt.xz"
    if not sequence.is_file():
        pytest.skip(f"PKU-MMD sequences not found under {SHARED_DATA / 'pkummd'} (research-only data)")
    from live.app import main as live_main

    output = tmp_path_factory.mktemp("replay") / "decisions.jsonl"
    assert live_main(["--source", str(sequence), "--headless", "--fast", "--checkpoint", str(PKU_MODEL),
                      "--engine", "pytorch-cpu", "--room", "ward-1", "--output", str(output)]) == 0
    return sequence, output, [json.loads(line) for line in output.read_text().splitlines()]


def _write_lines(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_the_apps_decisions_of_a_whole_replay_score_as_the_stream_evaluation_of_it(
    pku_replay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A researcher with the app's --output file of a labelled replay had no command to score it: the
    figures from its lines are those `evaluate --stream` gives for the same sequence, and its folder can be
    rescored."""
    sequence, output, records = pku_replay
    folder = tmp_path / "one" / "skeletons"  # the sequence and its label file, where --stream finds them
    folder.mkdir(parents=True)
    (folder / sequence.name).symlink_to(sequence)
    (tmp_path / "one" / "labels").mkdir()
    (tmp_path / "one" / "labels" / "0005-L.txt").symlink_to(sequence.parents[1] / "labels" / "0005-L.txt")
    streamed = evaluate_stream(PKU_MODEL, str(folder), out=tmp_path / "stream", progress=False,
                               engine="pytorch-cpu", threads=1)
    assert main(["evaluate", "--decisions", str(output), "--data", str(sequence), "--checkpoint",
                 str(PKU_MODEL), "--out", str(tmp_path / "scored")]) == 0
    said = capsys.readouterr().out
    assert f"scored from the decision file {output}" in said
    assert "1 of the 1 clips scored is in pku_interactions.pt's training set" in said  # as --stream says
    scored = json.loads((tmp_path / "scored" / "results.json").read_text())
    stream = json.loads((tmp_path / "stream" / "results.json").read_text())
    assert streamed.scores.decisions == len(records) > 400
    assert {k: scored[k] for k in SAME} == {k: stream[k] for k in SAME}
    assert scored["decisions_file"] == str(output.resolve()) and scored["run"] == records[0]["run"]
    assert main(["evaluate", "--rescore", str(tmp_path / "scored")]) == 0
    again = json.loads((tmp_path / "scored" / "rescored" / "results.json").read_text())
    assert {k: again[k] for k in SAME} == {k: stream[k] for k in SAME}
    assert again["decisions_file"] == scored["decisions_file"]
    # Lines written before they said their model and run: read all the same.
    old = [{k: v for k, v in r.items() if k not in ("model", "run")} for r in records]
    run = score_decision_file(_write_lines(tmp_path / "old.jsonl", old), PKU_MODEL, str(sequence),
                              out=tmp_path / "old")
    assert run.scores.frame_accuracy == scored["frame_accuracy"]
    assert run.scores.decisions == scored["decisions"]
    # Lines without truth (a clip labelled after its replay): the recording's labels give it, as --stream's
    # replay does, at the window centres (2 of these 482 a frame apart at a boundary).
    bare = [{k: v for k, v in r.items() if k not in ("truth", "truth_now")} for r in records]
    run = score_decision_file(_write_lines(tmp_path / "bare.jsonl", bare), PKU_MODEL, str(sequence),
                              out=tmp_path / "bare")
    assert run.scores.frame_accuracy == pytest.approx(scored["frame_accuracy"], abs=0.005)
    assert run.scores.map_50 == scored["map_50"]
    assert "--decisions" in build_parser().format_help() + _evaluate_help()


def _evaluate_help() -> str:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return sub.choices["evaluate"].format_help()


def test_a_run_stopped_part_way_is_scored_over_the_span_it_covered(pku_replay, tmp_path: Path) -> None:
    """A --duration run that stopped at 20 s of a 50 s sequence: scored as `evaluate --stream` scores the
    sequence cut there, not as if the model had missed the actions after it, nor the one begun 0.13 s
    before it stopped (pat on back, from frame 596), which no window held enough of to name."""
    sequence, _, records = pku_replay
    stopped = _write_lines(tmp_path / "stopped.jsonl", [r for r in records if r["stream_time"] <= 20.0])
    run = score_decision_file(stopped, PKU_MODEL, str(sequence), out=tmp_path / "scored")
    cut = tmp_path / "cut"  # frames 0..600 (20 s) and the labels as far as them
    (cut / "skeletons").mkdir(parents=True)
    (cut / "labels").mkdir()
    frames = lzma.decompress(sequence.read_bytes()).decode().splitlines(keepends=True)
    (cut / "skeletons" / "0005-L.txt").write_text("".join(frames[:601]))
    labels = []
    for line in (sequence.parents[1] / "labels" / "0005-L.txt").read_text().splitlines():
        label, start, end, confidence = (int(f) for f in line.split(","))
        if start <= 600:
            labels.append(f"{label},{start},{min(end, 600)},{confidence}\n")
    (cut / "labels" / "0005-L.txt").write_text("".join(labels))
    streamed = evaluate_stream(PKU_MODEL, str(cut / "skeletons"), out=tmp_path / "stream", progress=False,
                               engine="pytorch-cpu", threads=1)
    assert run.scores.decisions == streamed.scores.decisions == sum(r["stream_time"] <= 20.0 for r in records)
    assert run.scores.frame_accuracy == streamed.scores.frame_accuracy
    assert run.scores.room_hours == pytest.approx(streamed.scores.room_hours)
    assert run.scores.room_hours * 3600 == pytest.approx(20.0 + 1 / 30)
    late = "pat on back of other person"
    assert {n: row["instances"] for n, row in run.scores.per_class.items()} == {
        n: row["instances"] - (n == late) for n, row in streamed.scores.per_class.items()}
    assert run.scores.instances == 3  # of the sequence's 8, those begun a window (2 s) before 20 s
    assert streamed.scores.per_class[late]["ap_50"] == 0.0 and run.scores.per_class[late]["ap_50"] is None
    # Its 0.17 s counted as background instead.
    background_s = streamed.scores.background_hours * 3600 + 0.167
    assert run.scores.background_hours * 3600 == pytest.approx(background_s, abs=0.01)
    assert run.scores.false_events == streamed.scores.false_events
    # The whole run's lines against the sequence cut at 20 s: they reach past its end.
    with pytest.raises(DatasetError, match=r"decisions reach 49\.\d+ s of stream time, past the end of .*"
                                           r"0005-L.txt \(20.00 s\): not a replay of it"):
        score_decision_file(_write_lines(tmp_path / "all.jsonl", records), PKU_MODEL,
                            str(cut / "skeletons" / "0005-L.txt"), out=tmp_path / "past")


def test_decision_files_that_cannot_be_scored_as_one_run_of_the_model_are_refused(
    pku_replay, tmp_path: Path
) -> None:
    sequence, output, records = pku_replay
    half = len(records) // 2
    restart = "2026-12-01T07:00:02+01:00/4182"  # a service's restart appending to the same file
    restarted = [*records[:half], *({**r, "run": restart} for r in records[half:])]
    first = re.escape(records[0]["run"])
    with pytest.raises(DatasetError, match=rf"restarted.jsonl: lines of 2 runs \(1: {first} from line 1; "
                                           rf"2: {re.escape(restart)} from line {half + 1}\): one run is "
                                           "scored at a time: --run N scores the Nth"):
        score_decision_file(_write_lines(tmp_path / "restarted.jsonl", restarted), PKU_MODEL, str(sequence))
    picked = score_decision_file(tmp_path / "restarted.jsonl", PKU_MODEL, str(sequence), run_number=1,
                                 out=tmp_path / "first")  # the first run alone: stopped half-way
    assert picked.scores.decisions == half
    with pytest.raises(DatasetError, match=r"--run 3: .*restarted.jsonl holds 2 run\(s\)"):
        score_decision_file(tmp_path / "restarted.jsonl", PKU_MODEL, str(sequence), run_number=3)
    # Older lines say no run: a replay started again goes back in stream time.
    old = [{k: v for k, v in r.items() if k not in ("model", "run")} for r in records]
    with pytest.raises(DatasetError, match=rf"appended.jsonl: lines of 2 runs .* from line 1; .* from line "
                                           rf"{len(records) + 1}\)"):
        score_decision_file(_write_lines(tmp_path / "appended.jsonl", old + old), PKU_MODEL, str(sequence))
    other = [{**r, "model": "0123456789ab"} for r in records]
    with pytest.raises(DatasetError, match=r"other.jsonl: decisions of model 0123456789ab, not of .*"
                                           r"pku_interactions.pt \(sha256 f76599c9e38a\)"):
        score_decision_file(_write_lines(tmp_path / "other.jsonl", other), PKU_MODEL, str(sequence))
    rooms = [{**r, "room": "bed-2"} if k % 2 else r for k, r in enumerate(records)]
    with pytest.raises(DatasetError, match=r"rooms.jsonl: lines of 2 rooms \('bed-2', 'ward-1'\)"):
        score_decision_file(_write_lines(tmp_path / "rooms.jsonl", rooms), PKU_MODEL, str(sequence))
    with pytest.raises(DatasetError, match="truth is per person.*`evaluate --stream` runs the model"):
        score_decision_file(output, PKU_MODEL, "sim:seed=1,minutes=1")
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    (unlabelled / sequence.name).symlink_to(sequence)
    with pytest.raises(DatasetError, match=r"unlabelled/0005-L.txt.xz: no labels"):
        score_decision_file(output, PKU_MODEL, str(unlabelled / sequence.name))
    # Settings the written lines cannot be scored at: refused, as --rescore refuses them.
    with pytest.raises(DatasetError, match=r"keep their top 3 classes, which follow an event only above"):
        score_decision_file(output, PKU_MODEL, str(sequence), decisions=DecisionSettings(threshold=0.2))
    with pytest.raises(DatasetError, match=r"--alert-class: alert classes \['falling'\] are not among"):
        score_decision_file(output, PKU_MODEL, str(sequence), alert_classes=("falling",))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="empty.jsonl: no decisions"):
        score_decision_file(tmp_path / "empty.jsonl", PKU_MODEL, str(sequence))
    # Another recording's labels: the lines' own truth disagrees with them (PKU-MMD 0006-L's: 286 of 482).
    other_labels = sequence.with_name("0006-L.txt.xz")
    if other_labels.is_file():
        with pytest.raises(DatasetError, match=r"disagrees with .*0006-L.txt.xz's labels at \d+ of "
                                               rf"{len(records)} decisions: a replay of another "
                                               "recording, or one labelled again since"):
            score_decision_file(output, PKU_MODEL, str(other_labels))
    # A line that is no decision is named by its number; a last line a killed run cut short is left out.
    broken = _write_lines(tmp_path / "broken.jsonl", [*records[:3], {**records[3], "stream_time": None}])
    with pytest.raises(DatasetError, match=r"broken.jsonl: line 4 is no decision \(TypeError"):
        score_decision_file(broken, PKU_MODEL, str(sequence))
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\ufeff" + output.read_text()[:-40])  # with a BOM (Notepad's), as the app's lines are not
    assert score_decision_file(cut, PKU_MODEL, str(sequence), out=tmp_path / "cut").scores.decisions == (
        len(records) - 1)


def test_only_sim_colon_names_the_simulated_room() -> None:
    """A folder of recordings named "simroom" (or "sim_ward") was taken for the simulator's settings."""
    from training.data import names_the_simulator

    assert names_the_simulator("sim:seed=7,minutes=60") and names_the_simulator("sim")
    assert not names_the_simulator("simroom/0005-L.txt.xz") and not names_the_simulator("sim_ward")


@pytest.mark.parametrize(("argv", "said"), [
    (["--stream"], "--decisions scores the app's lines: not with --stream"),
    ([], "--decisions needs --data: the recording the run replayed"),
    (["--data", "x.txt", "--hop", "0.5"], "--hop: not used when evaluating --decisions"),
])
def test_decisions_options_that_do_not_go_with_it_are_usage_errors(argv, said, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--decisions", str(tmp_path / "d.jsonl"), "--checkpoint", str(PKU_MODEL), *argv])
    assert stop.value.code == 2 and said in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --run picks a run of a decision file: nothing without one
        main(["evaluate", "--rescore", str(tmp_path), "--run", "2"])
    assert "--run N picks a run of a --decisions file" in capsys.readouterr().err
