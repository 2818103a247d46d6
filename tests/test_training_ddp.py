"""DDP on CPUs: two gloo processes under torchrun train a few steps and end with identical weights."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "training" / "checkpoints" / "demo.pt"

WORKER = """
import sys, torch
torch.set_num_threads(1)
from training.config import load_config
from training.stages import train_stage
config = load_config(None, sys.argv[2:])
result = train_stage(config, "pose")
import torch.distributed as dist
rank = dist.get_rank() if dist.is_initialized() else 0
world = dist.get_world_size() if dist.is_initialized() else 1
from training import distributed
summed = distributed.sum_over_ranks(distributed.start("cpu"), rank + 1.0, 10.0)  # an epoch's loss, as summed
torch.save({"world": world, "state": result.network.state_dict(), "summed": summed},
           f"{sys.argv[1]}/rank{rank}.pt")
distributed.stop()  # as python -m training does: a process group left to exit with aborted a rank under load
"""


def _run_group(command: list[str], cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """`command` (torchrun) in a process group of its own, the whole group killed past `timeout`: a hung
    run's ranks are torchrun's children, and a timeout that killed torchrun alone left them running, slowing
    every test after it."""
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as run:
        try:
            stdout, stderr = run.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
            raise
    return subprocess.CompletedProcess(command, run.returncode, stdout, stderr)


def _environment(scratch: Path) -> dict:
    """The runs' environment, with `scratch` as the temporary folder: torchrun keeps its ranks' log folders
    (torchelastic_*) there and leaves them, a set for each run, which in the test's own folder go with it."""
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TMPDIR": str(scratch)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_clips(folder: Path) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    codes = ["a01", "a02", "a03", "a04", "a05", "a06", "a08", "a09", "a11", "a12"]
    for k, code in enumerate(codes):
        for i in range(4):
            joints = rng.normal(0, 0.2, (24, 20, 3)) + [0, 0, 3]
            joints[:, 11, 1] += np.sin(np.linspace(0, k + 1, 24))
            name = f"{code}_s0{i + 1}_e00_v01"
            (folder / f"{name}.json").write_text(
                json.dumps({"file_name": name, "skeletons": joints.tolist(), "label": k + 1})
            )


def test_two_gloo_processes_keep_identical_weights(tmp_path: Path) -> None:
    data = tmp_path / "nucla"
    _write_clips(data)
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    overrides = [
        "data.dataset=nucla",
        f"data.root={data}",
        "data.max_bodies=1",
        "data.validation_fraction=0.25",
        "model.profile=tiny",
        "model.ablation=pose",
        "window.num_frames=6",
        "optim.batch_size=4",
        "epochs.pose=1",
        "max_steps_per_epoch=3",
        "workers=0",
        "device=cpu",
        "progress=false",
        f"out={tmp_path / 'run'}",
    ]
    env = _environment(tmp_path)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--nnodes=1",
        f"--master_port={_free_port()}",
        str(worker),
        str(tmp_path),
        *overrides,
    ]
    done = _run_group(command, cwd=REPO, env=env, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    first = torch.load(tmp_path / "rank0.pt", weights_only=True)
    second = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert first["world"] == second["world"] == 2
    assert first["summed"] == second["summed"] == (3.0, 20.0)  # every rank's share, on every rank
    for key, value in first["state"].items():
        assert torch.equal(value, second["state"][key]), key
    # ... and the three optimiser steps did change them: a network built with the run's seed differs.
    from core.model.network import PartAttentionNetwork
    from core.model.profiles import NetworkConfig

    config = torch.load(tmp_path / "run" / "pose" / "best.pt", weights_only=True)["config"]
    torch.manual_seed(0)  # the run's seed, drawn right before it builds its network
    initial = PartAttentionNetwork(NetworkConfig.from_dict(config)).state_dict()
    assert any(not torch.equal(v, initial[k]) for k, v in first["state"].items() if "lstm" in k)
    assert "2 process(es)" in done.stdout


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
               f"--master_port={_free_port()}", "-m", "training", *args]
    env = _environment(cwd)
    return _run_group(command, cwd=cwd, env=env, timeout=300)


def test_finetune_under_torchrun_prepares_writes_and_says_everything_once(tmp_path: Path) -> None:
    # Every rank prepared the clips into the same cache (racing on its files), wrote model.pt and printed
    # each line; an error was printed by both.
    subprocess.run([sys.executable, "-m", "recordings", "synth", "--out", "clips", "--clips-per-class", "2",
                    "--seed", "1"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True,
                   capture_output=True)
    short = ["--set", "epochs.pose=1", "--set", "epochs.head=1", "--set", "epochs.finetune=1",
             "--set", "max_steps_per_epoch=2", "--device", "cpu", "--workers", "0", "--no-progress"]
    done = _torchrun("finetune", "--from", "training/checkpoints/demo.pt", "--clips", "clips", "--out", "out",
                     *short, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("prepared 20 clips in") == 1 and "0 already there" in done.stdout
    assert done.stdout.count("[finetune] wrote out/model.pt") == 1
    assert done.stdout.count("[finetune] classes:") == 1
    assert (tmp_path / "out" / "model.pt").is_file()
    assert not list((tmp_path / "out" / "cache").glob(".main-done*"))  # the others' signal, gone after
    refused = _torchrun("finetune", "--from", "training/checkpoints/demo.pt", "--clips", "clips",
                        "--out", "out2", "--set", "optim.nosuch=1", *short, cwd=tmp_path)
    assert refused.returncode != 0 and refused.stderr.count("error: ") == 1, refused.stderr[-3000:]



RANK_1_MEETS_AN_ERROR = """
import os, signal, sys, threading, time
from training import distributed
from training.__main__ import main
wait_s = float(sys.argv[1])
distributed.leave_it_to_rank_0.__defaults__ = (wait_s,)
if wait_s > 5:  # torchrun stopping this rank once rank 0 has said the error and left
    def stop_once_it_waits(before):  # however long it took to get there (a fixed timer lost under load)
        while signal.getsignal(signal.SIGTERM) is before:
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, then torchrun's SIGTERM to every rank
        time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=stop_once_it_waits, args=(signal.getsignal(signal.SIGTERM),), daemon=True).start()
started = time.monotonic()
status = main(["finetune", "--from", sys.argv[2], "--clips", "no-clips", "--out", "out"])
print(f"returned {status} after {time.monotonic() - started:.1f} s")
"""


def test_a_rank_other_than_0_waits_for_torchrun_rather_than_cut_rank_0_short(tmp_path: Path) -> None:
    # Rank 1 left at once, silent, on the error every rank met; torchrun then stopped rank 0 before it said
    # it, and the user read "interrupted: finetune stopped" (CI, 2026-12-07).
    env = {**os.environ, "PYTHONPATH": str(REPO), "RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}

    def rank_1(wait_s: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", RANK_1_MEETS_AN_ERROR, wait_s, str(DEMO)], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)

    stopped = rank_1("30")
    assert stopped.returncode == 2 and stopped.stdout == "" and stopped.stderr == "", stopped
    # Not stopped: rank 0 did not meet it, so this rank says it, named.
    alone = rank_1("0.2")
    assert alone.stdout.startswith("returned 2 after"), alone
    assert alone.stderr == "error: [rank 1] no-clips: no such folder of clips\n", alone.stderr


def test_a_small_set_trains_on_every_rank_and_a_rank_without_validation_clips_does_not_hang(
    tmp_path: Path,
) -> None:
    """Five training clips on two ranks with batches of 4: each rank's share (2) is under one batch, which
    was dropped as "the last short one" (compared with all 5): every epoch trained on nothing. One
    validation clip: rank 1 has none to evaluate, so it skipped the forward at which DDP broadcasts the
    batch-norm statistics (the graph stream has them), and the gather of the results after it hung."""
    data = tmp_path / "nucla"
    data.mkdir()
    rng = np.random.default_rng(0)
    for k, code in enumerate(["a01", "a02", "a03"]):
        for i in range(4 if k == 0 else 1):  # one class with four performances: one is held out
            joints = rng.normal(0, 0.2, (24, 20, 3)) + [0, 0, 3]
            name = f"{code}_s0{i + 1}_e00_v01"
            (data / f"{name}.json").write_text(
                json.dumps({"file_name": name, "skeletons": joints.tolist(), "label": k + 1}))
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    overrides = ["data.dataset=nucla", f"data.root={data}", "data.max_bodies=1",
                 "data.validation_fraction=0.25",
                 "model.profile=tiny", "model.ablation=pose", "model.overrides={pose_stream: gcn}",
                 "window.num_frames=6", "optim.batch_size=4", "epochs.pose=2", "workers=0", "device=cpu",
                 "progress=false", f"out={tmp_path / 'run'}"]
    env = _environment(tmp_path)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
               f"--master_port={_free_port()}", str(worker), str(tmp_path), *overrides]
    done = _run_group(command, cwd=REPO, env=env, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "5 training / 1 validation clips" in done.stdout
    lines = (tmp_path / "run" / "pose" / "metrics.jsonl").read_text().splitlines()
    metrics = [json.loads(line) for line in lines]
    assert [m["epoch"] for m in metrics if m.get("stage") == "pose"] == [1, 2]
    assert all(m["train_loss"] > 0 for m in metrics if m.get("stage") == "pose")  # 0: no batch was trained
