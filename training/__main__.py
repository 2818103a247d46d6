"""python -m training — prepare, train (stages of Algorithm 1), evaluate, demo.

    python -m training prepare  --dataset ntu60 --root /data/ntu --out /data/ntu_cache [--workers 16]
    python -m training pose     --config training/configs/nucla_gcn.yaml [--set optim.lr=1e-3 ...]
    python -m training all      --config training/configs/ntu60_xsub.yaml --cache /data/ntu_cache
    torchrun --nproc_per_node=4 -m training all --config ...          (DDP: NCCL on Linux GPUs, else gloo)
    python -m training evaluate --checkpoint runs/x/finetune/best.pt --data /data/ntu [--subset test]
    python -m training evaluate --stream --checkpoint CK --data sim:seed=9,minutes=60 | FOLDER [--subset ...]
    python -m training evaluate --rescore RUN_DIR [--threshold 0.4]     (a finished --stream run, again)
    python -m training evaluate --decisions FILE --data RECORDING --checkpoint CK   (the app's --output lines
                                                                     of a replay of RECORDING, scored)
    python -m training demo     --out runs/demo
    python -m training finetune --from training/checkpoints/demo.pt --clips site_clips --out runs/site
    python -m training ensemble runs/a/pose/best.pt runs/b/pose/best.pt --out runs/ab.pt

Stage commands: parts, pose, attention, finetune, all. Explicit flags (--out, --data, ...) are
shorthands for `--set` keys and win over the config file. `finetune --from CK --clips DIR` is
fine-tuning a trained model on a site's own clips (training/finetune.py); `finetune` without them
is Algorithm 1's step 6 of a run.
"""

from __future__ import annotations

if __name__ == "__main__":
    # Run as `python -m training`: through run_program, which imports this module again under its own
    # name (training.__main__, the rest of this file) and runs main; a stop while PyTorch is imported, a
    # few seconds, is then said in one line rather than as a traceback or a bare 143.
    from recordings.stop_signals import run_program, stop_once

    raise SystemExit(run_program("python -m training", "training.__main__", on_stop=stop_once))

import argparse
import dataclasses
import signal
import sys

from core.engines.interface import EngineError  # an --engine this machine lacks
from core.model.checkpoint import CheckpointError, DecisionSettings
from recordings.argument_types import (
    MAX_THREADS,
    THREADS_PER_CORE,
    CommandLineParser,
    any_path,
    hop_seconds,
    integer_in,
    non_negative_float,
    output_folder,
    package_file,
    prepare_console,
    probability,
    smoothing_seconds,
    thread_count,
)
from recordings.clip import ClipError
from recordings.labels import LabelMapError
from recordings.stop_signals import STOP_SIGNALS
from training.ablations import ABLATIONS
from training.config import ConfigError, TrainConfig, load_config
from training.data import DatasetError
from training.distributed import is_main_process, leave_it_to_rank_0, rank_prefix
from training.stages import StageError

STAGE_COMMANDS = ("parts", "pose", "attention", "finetune", "all")


def _stage_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help=f"train stage {name!r}" if name != "all" else "train every stage in order")
    p.add_argument("--config", type=package_file, help="YAML file (training/configs/*.yaml)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. optim.lr=1e-3 (repeatable)",
    )
    p.add_argument("--out", type=output_folder, help="run folder (out)")
    p.add_argument("--data", help="dataset folder (data.root)")
    p.add_argument("--cache", help="prepared cache folder (data.cache)")
    p.add_argument("--profile", help="model profile (model.profile): paper, paper_nucla, lite, demo, "
                                     "skeleton, skeleton_lstm, tiny (python -m core.model lists them)")
    p.add_argument("--ablation", choices=sorted(ABLATIONS), help="a row of Tables 1-2 (model.ablation)")
    p.add_argument("--seed", type=integer_in(0), help="seed of the weights, the windows drawn and their "
                   "augmentation (seed); which clips are held out is data.split_seed's")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    epochs_help = "epochs of this stage (all: of every stage)"
    if name == "finetune":  # a site's fine-tune (--from) is three stages of its own, each with its key
        epochs_help += "; not with --from: --set epochs.pose=N, epochs.head=N, epochs.finetune=N"
    p.add_argument("--epochs", type=integer_in(1), help=epochs_help)
    p.add_argument("--workers", type=integer_in(0), help="DataLoader workers per process (0: in the process)")
    p.add_argument("--init", type=package_file,
                   help="checkpoint to start from instead of the previous stage's best.pt")
    p.add_argument("--restart", action="store_true", help="ignore an unfinished run state and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    _threads_argument(p)
    if name == "finetune":
        from training.finetune import add_finetune_arguments

        add_finetune_arguments(p)


def _threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=thread_count,
        help="torch CPU threads per process (e.g. 1 on a shared machine, "
        "where OpenMP threads competing for busy cores slow training several-fold; at most "
        f"{MAX_THREADS}, {THREADS_PER_CORE} per core)",
    )


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = list(args.overrides)
    flags = {
        "out": args.out,
        "data.root": args.data,
        "data.cache": args.cache,
        "model.profile": args.profile,
        "model.ablation": args.ablation,
        "seed": args.seed,
        "device": args.device,
        "workers": args.workers,
    }
    for key, value in flags.items():
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.epochs is not None:
        stages = ("parts", "pose", "attention", "finetune") if args.command == "all" else (args.command,)
        overrides += [f"epochs.{s}={args.epochs}" for s in stages]
    if args.no_progress:
        overrides.append("progress=false")
    config = load_config(args.config, overrides)
    if args.out is None:  # `out` from the YAML or --set: checked as --out is, or '' would train into '.'
        try:
            config = dataclasses.replace(config, out=str(output_folder(config.out)))
        except argparse.ArgumentTypeError as exc:
            given = [o for o in args.overrides if o.split("=", 1)[0].strip() == "out"]
            if given:
                where = f"--set {given[-1]}: out"
            elif config.out != TrainConfig().out:  # the config file's
                where = f"{args.config}: out"
            else:
                where = "out"
            raise ConfigError(f"{where}: {exc}") from None
    return config


# `evaluate`'s options by the mode they apply to (argument dest -> flag): one given to another mode is
# refused rather than ignored. The options have no argparse defaults, so "given" is "not None".
CLIP_OPTIONS = {"dataset": "--dataset", "cache": "--cache", "device": "--device", "windows": "--windows",
                "batch_size": "--batch-size", "workers": "--workers"}
RUN_OPTIONS = {"hop": "--hop", "smoothing": "--smoothing", "alert_classes": "--alert-class",
               "engine": "--engine"}
STREAM_OPTIONS = {**RUN_OPTIONS, "threshold_given": "--threshold", "end_threshold_given": "--end-threshold",
                  "alert_cooldown": "--alert-cooldown"}
MODEL_OPTIONS = {"checkpoint": "--checkpoint", "data": "--data", "subset": "--subset"}  # not for --rescore


def _refuse(
    parser: argparse.ArgumentParser, args: argparse.Namespace, options: dict[str, str], mode: str
) -> None:
    given = [flag for dest, flag in options.items() if getattr(args, dest) is not None]
    if given:
        parser.error(f"{', '.join(given)}: not used when evaluating {mode}")


def _given_decisions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> DecisionSettings:
    """`evaluate`'s --smoothing / --threshold / --end-threshold (None where not given: the model's own,
    else the app's)."""
    try:
        return DecisionSettings.given(smoothing_s=args.smoothing, threshold=args.threshold_given,
                                end_threshold=args.end_threshold_given)
    except ValueError as error:
        parser.error(f"--smoothing / --threshold / --end-threshold: {error}")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_version()
    sub = parser.add_subparsers(dest="command", required=True)
    for name in STAGE_COMMANDS:
        _stage_parser(sub, name)

    ev = sub.add_parser("evaluate", help="top-1/top-5, per-class accuracy, confusion and attention PNGs")
    ev.add_argument("--checkpoint", type=package_file, help="the model (every evaluation but --rescore)")
    ev.add_argument("--data", help="dataset folder (default: the one the checkpoint was trained on)")
    ev.add_argument(
        "--subset",
        choices=("test", "validation", "train", "all"),
        help="test: the protocol's test clips (the default); validation: the clips the checkpoint held out; "
        "train: its training clips; all: every clip of --data (a folder of new clips); with --stream the "
        "default is all",
    )
    ev.add_argument(
        "--dataset",
        choices=("nucla", "ntu60", "ntu120", "clips", "pkummd"),
        help="dataset kind, if the checkpoint does not record it",
    )
    ev.add_argument("--cache", help="prepared crops for RGB networks")
    ev.add_argument("--out", type=any_path,
                    help="folder for results.json, confusion.png, attention.png (default: beside "
                    "the checkpoint, eval_CHECKPOINT_WHAT_DATA-HASH); one holding another kind of evaluation "
                    "(clips, --stream, --rescore) is refused, the same kind replaced")
    ev.add_argument("--device", help="auto (the default), cpu, cuda or cuda:N")
    ev.add_argument("--windows", type=integer_in(1),
                    help="windows per clip, logits averaged (default and paper: 5)")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    stream = ev.add_argument_group(
        "continuous streams (--stream): the app's own pipeline on whole sequences, scored per decision, "
        "event and alert"
    )
    stream.add_argument("--stream", action="store_true",
                        help="--data is sim:seed=N,minutes=M[,people=K] or a folder of labelled recordings")
    from live.headless import AlertConfig
    from live.worker import RecognitionConfig

    stream.add_argument("--hop", type=hop_seconds,
                        help=f"seconds between decisions (default: {RecognitionConfig.hop_s}, as "
                             "python -m live)")
    stream.add_argument("--smoothing", type=smoothing_seconds, default=None,
                        help="time constant (s, 0 to 10) of the score smoothing (default: the model's own, "
                             f"else {RecognitionConfig.smoothing_s}, as python -m live)")
    stream.add_argument("--threshold", type=probability, default=None, dest="threshold_given",
                        metavar="THRESHOLD",
                        help="probability a person's top action needs for an event or alert (default: the "
                             f"model's own, else {AlertConfig.threshold}; with --rescore, the run's)")
    stream.add_argument("--end-threshold", type=probability, default=None, dest="end_threshold_given",
                        metavar="END_THRESHOLD",
                        help="an event lasts while its probability stays at or above this (default: the "
                             "model's own, else the threshold; with --rescore, the run's)")
    stream.add_argument("--alert-class", action="append", dest="alert_classes", metavar="CLASS",
                        help="alert classes (default: the app's, falling / fall_down, where the model "
                             "has them)")
    stream.add_argument("--alert-cooldown", type=non_negative_float, default=None, metavar="SECONDS",
                        help="an alert's episode ends after this long without its class, as python -m live "
                             f"--alert-cooldown (default: {AlertConfig.cooldown_s:.0f}; with --rescore, the "
                             "run's)")
    from live.app import ENGINE_CHOICES

    stream.add_argument("--engine", choices=ENGINE_CHOICES,
                        help="inference backend, as python -m live --engine (default: auto)")
    stream.add_argument("--rescore", metavar="RUN_DIR",
                        help="score a finished --stream run again from its results.json and decisions "
                             "(no model runs; --threshold / --end-threshold may differ: they change events "
                             "and alerts only); writes to --out, default RUN_DIR/rescored")
    stream.add_argument("--decisions", metavar="FILE", type=any_path,
                        help="score the decision lines `python -m live --headless --output FILE` wrote "
                             "for one run of --checkpoint on a replay of one labelled recording, --data "
                             "(a PKU-MMD sequence file, or a clip with intervals or a label: the scene's "
                             "truth, not a person's), over the span the run covered, as --stream scores "
                             "(no model runs; --smoothing, --threshold, --end-threshold: the run's, default "
                             "the model's own as live); writes what --stream writes, for --rescore")
    stream.add_argument("--run", type=integer_in(1), metavar="N", dest="run_number",
                        help="with --decisions: the Nth run of a file that holds several (a service's "
                             "restarts appended to one file; the error without it lists them)")
    ev.add_argument("--batch-size", type=integer_in(1), help="clips per batch (default: 64)")
    ev.add_argument("--workers", type=integer_in(0), help="DataLoader worker processes (default: 0)")
    _threads_argument(ev)

    pr = sub.add_parser("prepare", help="decode every clip once into a memory-mappable crop + skeleton cache")
    from training.prepare import add_prepare_arguments

    add_prepare_arguments(pr)

    de = sub.add_parser("demo", help="simulated clips -> prepare -> all stages -> evaluation, on a CPU")
    from training.demo import add_demo_arguments

    add_demo_arguments(de)
    _threads_argument(de)

    ex = sub.add_parser("export", help="checkpoint -> ONNX with metadata (and a TensorRT engine), checked")
    from training.export import add_export_arguments

    add_export_arguments(ex)
    _threads_argument(ex)

    en = sub.add_parser("ensemble", help="pose-only checkpoints trained apart -> one averaging checkpoint")
    from training.ensemble import add_ensemble_arguments

    add_ensemble_arguments(en)
    return parser


def main(argv: list[str] | None = None) -> int:
    if (why := prepare_console("python -m training", sys.argv[1:] if argv is None else argv)) is not None:
        print(why, file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    command_parser = parser.chosen_subcommand(args)  # for its errors, which name its options
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    try:
        if args.command == "finetune" and (args.base or args.clips):
            from training.finetune import run_finetune

            return run_finetune(args)
        if args.command in STAGE_COMMANDS:
            from training.stages import train_all, train_stage

            config = _config_from_args(args)
            if args.command == "all":
                results = train_all(config, restart=args.restart, init=args.init)
            else:
                results = [train_stage(config, args.command, restart=args.restart, init=args.init)]
            for result in results if is_main_process() else ():  # torchrun: said once
                print(
                    f"best checkpoint {result.best_checkpoint} ({result.scored_on} top-1 "
                    f"{100 * result.best_validation_top1:.2f}%, {result.epochs_run} epochs)"
                )
        elif args.command == "evaluate" and args.run_number is not None and not args.decisions:
            command_parser.error("--run N picks a run of a --decisions file: not without --decisions")
        elif args.command == "evaluate" and args.rescore:
            from training.streaming import rescore_stream

            _refuse(command_parser, args, {**CLIP_OPTIONS, **RUN_OPTIONS, **MODEL_OPTIONS},
                    "--rescore (it runs no model: the run's own model, data and subset)")
            given = _given_decisions(command_parser, args)
            rescore_stream(args.rescore, threshold=given.threshold, end_threshold=given.end_threshold,
                           alert_cooldown_s=args.alert_cooldown, out=args.out)
        elif args.command == "evaluate" and not args.checkpoint:
            command_parser.error("needs --checkpoint (or --rescore RUN_DIR)")
        elif args.command == "evaluate" and args.decisions:
            from training.streaming import score_decision_file

            _refuse(command_parser, args, {**CLIP_OPTIONS, "hop": "--hop", "engine": "--engine",
                                           "subset": "--subset"},
                    "--decisions (no model runs: the hop is the run's, read from its lines)")
            if args.stream:
                command_parser.error("--decisions scores the app's lines: not with --stream (which runs the "
                                     "model)")
            if not args.data:
                command_parser.error("--decisions needs --data: the recording the run replayed")
            score_decision_file(args.decisions, args.checkpoint, args.data, out=args.out,
                                decisions=_given_decisions(command_parser, args),
                                alert_classes=args.alert_classes, alert_cooldown_s=args.alert_cooldown,
                                run_number=args.run_number)
        elif args.command == "evaluate" and args.stream:
            from live.worker import RecognitionConfig
            from training.evaluate import evaluate_streams

            _refuse(command_parser, args, CLIP_OPTIONS, "--stream (the app's pipeline: see --engine)")
            evaluate_streams(
                args.checkpoint,
                data=args.data,
                subset=args.subset or "all",
                out=args.out,
                hop_s=args.hop or RecognitionConfig.hop_s,
                decisions=_given_decisions(command_parser, args),
                alert_classes=args.alert_classes,
                alert_cooldown_s=args.alert_cooldown,
                engine=args.engine or "auto",
                threads=args.threads,
                progress=not args.no_progress,
            )
        elif args.command == "evaluate":
            from training.evaluate import evaluate

            _refuse(command_parser, args, STREAM_OPTIONS, "clips (they apply with --stream)")
            evaluate(
                args.checkpoint,
                data=args.data,
                subset=args.subset or "test",
                out=args.out,
                dataset=args.dataset,
                cache=args.cache,
                device=args.device or "auto",
                batch_size=args.batch_size or 64,
                workers=args.workers or 0,
                eval_windows=args.windows or 5,
                progress=not args.no_progress,
            )
        elif args.command == "prepare":
            from training.prepare import run_prepare

            return run_prepare(args)
        elif args.command == "demo":
            from training.demo import run_demo

            return run_demo(args)
        elif args.command == "ensemble":
            from training.ensemble import run_ensemble

            return run_ensemble(args)
        elif args.command == "export":
            from training.export import run_export

            return run_export(args)
    except (ConfigError, DatasetError, StageError, CheckpointError, ClipError, LabelMapError,
            EngineError) as exc:
        # torchrun: every rank meets the same settings and data; rank 0 says it, once.
        if is_main_process():
            print(f"error: {exc}", file=sys.stderr)
        else:
            leave_it_to_rank_0()  # returns only if torchrun did not stop this rank: then it says it
            print(f"error: {rank_prefix()}{exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing file, a folder that cannot be written, a full disk: named in it
        # Each rank its own, named: a file one node lacks, a disk full on one, is no other rank's to say.
        print(f"error: {rank_prefix()}{exc}", file=sys.stderr)
        return 2 if isinstance(exc, FileNotFoundError) else 1
    except KeyboardInterrupt:
        # A second stop must not cut this one short: torchrun follows Ctrl-C with SIGTERM to every rank,
        # and raised again in this handler it printed a rank's traceback.
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        if not is_main_process():  # torchrun: the reason is rank 0's to say (an interrupt, or its error)
            return 130
        # Nothing half-done is scored or put in place of an earlier run: training keeps its state.pt to
        # resume from, a stream evaluation leaves --out as it was.
        how = ""
        # --restart began from scratch: only without it does a rerun go on.
        if args.command in (*STAGE_COMMANDS, "demo"):
            again = "without --restart the same command" if args.restart else "the same command again"
            done = "the last finished epoch (from the start, if none had finished)"
            if args.restart:  # its first epoch replaces the earlier run: until then, that is kept as it was
                done = ("this run's last finished epoch, or, where it finished none, the earlier run, kept "
                        "as it was (--restart again starts over)")
            if args.command == "demo":  # it keeps the rooms it simulated too
                done = "the rooms it simulated and " + done
            how = f"; {again} resumes from {done}"
        print(f"interrupted: {args.command} stopped{how}", file=sys.stderr)
        return 130
    finally:
        from training.distributed import stop

        stop()
    return 0
