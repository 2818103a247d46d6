"""Each benchmark's command line refuses a value that would fail later with a traceback (a --work-dir
that is a file), exhaust the machine (a batch of 1000 people) or measure nonsense (NaN degrees) before
it loads anything."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
from benchmark_modules import load_benchmark


@pytest.mark.parametrize(("name", "argv", "said"), [
    ("gpu", ["--work-dir", "{afile}"], "argument --work-dir: {afile}: a file, not a folder"),
    ("gpu", ["--work-dir", "{afile}/parts"], "argument --work-dir: {afile}/parts: {afile} is a file"),
    ("engines", ["--people", "1", "1000"], "argument --people: must be from 1 to 6, got 1000"),
    ("engines", ["--seconds", "nan"], "argument --seconds: expected a finite number, got 'nan'"),
    # `--json model.pt` replaced the checkpoint by the results.
    ("engines", ["--json", "{afile}"], "argument --json: {afile}: name the results file .json"),
    ("cross_dataset", ["--json", "{afile}"], "argument --json: {afile}: name the results file .json"),
    ("gpu", ["--out", "{afile}"], "argument --out: {afile}: name the results file .json"),
    ("camera_error", ["--degrees", "nan"], "argument --degrees: expected a finite number, got 'nan'"),
    ("camera_error", ["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    ("live_latency", ["--warmup", "-5"], "argument --warmup: must be 0 or more, got -5"),
    ("contact_sheet", ["--smoothing", "inf"], "argument --smoothing: expected a finite number, got 'inf'"),
    ("hand_box_legs", ["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    ("privacy_accuracy", ["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    ("simulation_speed", ["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    ("crowd_numbers", ["--people", "7"], "argument --people: must be from 1 to 6, got 7"),
    # A traceback each, at the checkpoint's load and at the dataset's.
    ("site_finetune", ["--base", "{afile}.pt"], "argument --base: {afile}.pt: no such file"),
    ("nucla_crossview", ["--data", "{afile}.d"], "argument --data: {afile}.d: no such file or folder"),
])
def test_a_bad_benchmark_option_is_a_usage_error(
    name: str, argv: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("")
    argv = [a.format(afile=tmp_path / "afile") for a in argv]
    bench = load_benchmark(name)
    monkeypatch.setattr(sys, "argv", [f"benchmarks/{name}.py", *argv])  # for a main() that reads it
    with pytest.raises(SystemExit) as stop:
        if hasattr(bench, "parse_args"):
            bench.parse_args(argv)
        elif "argv" in inspect.signature(bench.main).parameters:
            bench.main(argv)
        else:
            bench.main()
    assert stop.value.code == 2 and said.format(afile=tmp_path / "afile") in capsys.readouterr().err


def test_the_engines_benchmark_keeps_a_trained_model_in_its_cache_folder(tmp_path: Path) -> None:
    """Its random checkpoints were named after their profile: --cache-dir on a folder of models replaced
    demo.pt by random weights."""
    trained = tmp_path / "tiny.pt"
    trained.write_bytes(b"a trained model")
    load_benchmark("engines").main(["--profiles", "tiny", "--backends", "pytorch-cpu", "--people", "1",
                                    "--seconds", "0", "--min-runs", "1", "--max-runs", "1", "--warmup", "0",
                                    "--in-process", "--cache-dir", str(tmp_path)])
    assert trained.read_bytes() == b"a trained model"


def test_the_engines_benchmark_removes_the_temporary_cache_it_made(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --cache-dir each run left an engine-bench-* folder of exports behind (a paper profile's
    100s of MB)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    load_benchmark("engines").main(["--profiles", "tiny", "--backends", "pytorch-cpu", "--people", "1",
                                    "--seconds", "0", "--min-runs", "1", "--max-runs", "1", "--warmup", "0",
                                    "--in-process"])
    assert not list(tmp_path.glob("engine-bench-*"))


def test_the_hand_box_benchmark_refuses_a_model_that_cuts_no_crops(capsys: pytest.CaptureFixture[str]
                                                                    ) -> None:
    """A skeleton-only checkpoint printed a table of hand boxes its model never cuts."""
    checkpoint = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "pku_interactions.pt"
    assert load_benchmark("hand_box_legs").main(["--checkpoint", str(checkpoint), "--clips", "1"]) == 2
    assert "a skeleton-only model cuts no crops" in capsys.readouterr().err
