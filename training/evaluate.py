"""`python -m training evaluate`: a checkpoint on a dataset folder, with the clip-level protocol.

The dataset kind, protocol and validation clips come from the checkpoint (recorded by the trainer);
`--data` points at the folder to read, so a checkpoint trained on one copy of N-UCLA evaluates on any
other (for example a folder holding the view-3 test sequences).

Recorded clips (dataset "clips") are scored against the checkpoint's own classes, matched by name to
their labels; a folder given with `--data` and no `--cache` gets its crops cut the way the checkpoint
says (into <out>/cache), so `--data FOLDER --subset all` is all it takes to score a model on new clips.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from core.model.checkpoint import DecisionSettings, load_checkpoint
from core.skeleton import layout_by_name
from core.timeline import ACTION_FRACTION
from training import distributed
from training.config import DataConfig, config_from_dict, recorded_data
from training.data import DatasetError, names_the_simulator
from training.datasets import build_splits
from training.datasets.clips import REHEARSAL_PREFIX, folder_digest, learnt_from
from training.datasets.nucla import NuclaName
from training.evaluation import (
    Report,
    check_out_holds,
    default_results_dir,
    format_report,
    make_report,
    predict,
    replaced_note,
    save_results,
    writable_folder,
    write_figures,
)
from training.streaming import StreamRun, evaluate_stream, stream_cases
from training.windows import StreamWindowDataset, WindowDataset

ONLY_PROTOCOL = {"clips": "all", "nucla": "xview"}  # datasets with one protocol: a checkpoint's is not theirs


def trained_clip_names(extra: dict, names: list[str], root: str | Path | None = None) -> set[str] | None:
    """Of `names` (the clips of folder `root`), those the checkpoint trained on; None where it cannot
    tell. Checkpoints record them (`trained_clips`, since session 31), a site's clips with their folder
    (training.datasets.clips.learnt_from: another site's clip of the same name is another clip; a
    dataset's names, PKU-MMD sequences wherever they were converted, are its own). An older N-UCLA
    checkpoint trained on every sequence of its training views but the validation clips it names, and
    N-UCLA's names are the dataset's own too, so those are known as well."""
    if "trained_clips" in extra:
        learnt = learnt_from(extra, folder_digest(root) if root is not None else None)
        return {name for name in names if learnt(name)}
    data = recorded_data(extra.get("train_config", {}).get("data", {}))
    if data["dataset"] != "nucla" or "validation_clips" not in extra or data["nucla_drop_contradicted"]:
        return None
    views, held_subjects = set(data["nucla_train_views"]), set(data["nucla_test_subjects"])
    held_out = set(extra["validation_clips"])
    trained = set()
    for name in names:
        try:
            parsed = NuclaName.parse(name)
        except ValueError:  # another dataset's sequence, or a site's clip: not N-UCLA, so not trained on
            continue
        if parsed.view in views and parsed.subject not in held_subjects and name not in held_out:
            trained.add(name)
    return trained


def check_not_trained_on(
    checkpoint: Path, extra: dict, names: list[str], subset: str, root: str | Path
) -> int | None:
    """A split drawn again from --data (PKU-MMD's test performances, N-UCLA's views) holds clips the
    checkpoint trained on when the folder is not the one it was trained on: other performances give
    another draw. A test subset that does is refused; any other subset gets a note of how many. Returns
    that number (for results.json: a figure over clips it learnt is not comparable to a held-out one),
    None where the checkpoint does not record what it trained on. Counted by name: PKU-MMD reads each
    sequence once per body order, and "142 of the 284" read as half of them."""
    names = sorted(set(names))
    trained = trained_clip_names(extra, names, root)
    seen = sorted(trained or ())
    if seen and subset == "test":
        raise DatasetError(
            f"{root}: {len(seen)} of the {len(names)} test clips drawn from this folder are in "
            f"{checkpoint.name}'s training set (e.g. {seen[:3]}): a folder with other performances draws "
            "another split. Score the folder it was trained on, or --subset all (which says how many it "
            "trained on)"
        )
    if seen:
        print(f"note: {len(seen)} of the {len(names)} clips scored {'is' if len(seen) == 1 else 'are'} in "
              f"{checkpoint.name}'s training set: their figures flatter it")
    elif trained is None and subset == "all":
        print(f"note: {checkpoint.name} does not record the clips it trained on: any of them in {root} "
              "flatter its figures (--subset validation scores the ones it held out)")
    elif trained is None and "train_config" in extra and subset in ("test", "train"):
        trained_root = Path(extra["train_config"].get("data", {}).get("root") or ".")
        if Path(root).resolve() != trained_root.resolve():
            print(f"note: {checkpoint.name} does not record the clips it trained on, and {root} is not the "
                  f"folder it was trained on ({trained_root}): its {subset!r} split is drawn again from this "
                  "folder and may hold clips it trained on")
    return None if trained is None else len(seen)


def recorded_data_here(data: DataConfig) -> DataConfig:
    """A checkpoint's recorded data settings, for evaluating it here: the training machine's copy of the
    missing-skeleton list (data.missing_list), where this machine has no such file, is left to be found
    beside the data (it stopped every evaluation elsewhere: "no such file")."""
    if data.missing_list and not Path(data.missing_list).is_file():
        print(f"note: {data.missing_list}, the missing-skeleton list the model trained with, is not here; "
              "the one beside the data is read")
        return dataclasses.replace(data, missing_list="")
    return data


def evaluate(
    checkpoint: str | Path,
    *,
    data: str | Path | None = None,
    subset: str = "test",
    out: str | Path | None = None,
    dataset: str | None = None,
    cache: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    workers: int = 0,
    eval_windows: int = 5,
    progress: bool = True,
) -> Report:
    checkpoint = Path(checkpoint)
    loaded = load_checkpoint(checkpoint)
    extra = loaded.extra
    trained = config_from_dict(extra["train_config"]) if "train_config" in extra else None
    data_config = recorded_data_here(trained.data) if trained is not None else DataConfig()
    changes = {}
    if data is not None:
        changes["root"] = str(data)
    if dataset is not None:
        changes["dataset"] = dataset
        if dataset in ONLY_PROTOCOL and data_config.dataset != dataset:
            # The trained dataset's protocol (xsub, ...) means nothing for another that has one protocol.
            changes["protocol"] = ONLY_PROTOCOL[dataset]
    if cache is not None:
        changes["cache"] = cache
    data_config = dataclasses.replace(data_config, **changes)
    if trained is None and dataset is None:
        raise DatasetError(f"{checkpoint} does not record its dataset: pass --dataset")
    out_dir = writable_folder(Path(out) if out else default_results_dir(
        checkpoint, data_config.dataset, subset, data=data_config.root
    ))
    earlier = check_out_holds(out_dir, "clips")  # a stream run there would lose its results.json
    if data_config.dataset == "clips":
        # Labels are matched to the model's classes by name; another folder is only itself.
        data_config = dataclasses.replace(data_config, classes=list(loaded.class_names))
        if data is not None:
            data_config = dataclasses.replace(data_config, rehearse=[], label_map="")
            if cache is None:
                data_config = dataclasses.replace(data_config, cache="")
        if loaded.config.parts and not data_config.cache:
            from training.prepare import prepare_clip_crops

            data_config = dataclasses.replace(data_config, cache=str(out_dir / "cache"))
            prepare_clip_crops(data_config, loaded.preprocessing, data_config.cache, progress=progress)
    layout = layout_by_name(loaded.preprocessing.layout)
    splits = build_splits(data_config)
    if splits.layout.name != layout.name:
        raise DatasetError(
            f"{checkpoint} takes {layout.name} skeletons, "
            f"dataset {data_config.dataset!r} gives {splits.layout.name}"
        )
    if list(splits.class_names) != list(loaded.class_names):
        raise DatasetError(
            f"{checkpoint} has {len(loaded.class_names)} classes ({loaded.class_names[:3]}...), "
            "the dataset at "
            f"{data_config.root} has {len(splits.class_names)} ({splits.class_names[:3]}...)"
        )
    trained_on: int | None = 0  # of the clips scored, how many the checkpoint learnt (None: not recorded)
    if subset == "validation" and "validation_clips" in extra:
        # The clips this checkpoint held out, by name (the split is not re-drawn).
        wanted = set(extra["validation_clips"])
        sources = [s for s in splits.subset("all") if s.name in wanted]
        missing = wanted - {s.name for s in sources}
        if missing:
            rehearsed = all(REHEARSAL_PREFIX.match(name) for name in missing)
            raise DatasetError(
                f"{data_config.root}: {len(missing)} of the checkpoint's validation clips are absent "
                f"(e.g. {sorted(missing)[:3]})" + (
                    ": they are of its --rehearse folders; without --data the validation clips are read "
                    "where it trained, those folders with them" if rehearsed else "")
            )
    else:
        sources = splits.subset(subset)
        names = [s.name for s in sources]
        trained_on = check_not_trained_on(checkpoint, extra, names, subset, data_config.root)
    if not sources:
        hint = ""
        if data_config.dataset == "nucla" and subset == "test":
            views = sorted({s.group["view"] for s in splits.subset("all")})
            hint = (
                f" (this checkpoint's N-UCLA test set is view(s) {data_config.nucla_test_views}; this "
                f"folder holds view(s) {views} — --subset all evaluates every sequence in it, "
                "--subset validation the performances the checkpoint held out)"
            )
        if data_config.dataset == "clips" and subset == "test":
            hint = " (recorded clips have no test split: --subset all scores every clip of --data)"
        raise DatasetError(f"{data_config.root}: no clips in subset {subset!r}{hint}")
    with_crops = bool(loaded.config.parts)
    if with_crops and not splits.has_rgb:
        raise DatasetError(
            f"{checkpoint} needs part crops; {data_config.root} has no prepared cache (data.cache)"
        )
    process = distributed.start(device)
    network = loaded.model.to(process.device).eval()
    window = loaded.preprocessing.window
    part_index = splits.part_index(loaded.config.parts, loaded.config.crop_size) if with_crops else None
    # Windows along sequences are labelled as the checkpoint's were in training (older ones: the default).
    fraction = trained.window.action_fraction if trained is not None else ACTION_FRACTION
    if splits.continuous:  # every window along the sequences, each scored against its own label
        stride = trained.window.stride_s if trained is not None else 0.2
        dataset_windows: WindowDataset = StreamWindowDataset(
            sources, window, layout, loaded.preprocessing.num_bodies, loaded.class_names, train=False,
            stride_s=stride, action_fraction=fraction, with_crops=with_crops, part_index=part_index,
        )
    else:
        dataset_windows = WindowDataset(
            sources,
            window,
            layout,
            loaded.preprocessing.num_bodies,
            train=False,
            with_crops=with_crops,
            eval_windows=eval_windows,
            part_index=part_index,
        )
    predictions = predict(
        network,
        network,
        dataset_windows,
        None,
        process,
        stage=subset,  # names the progress bar
        batch_size=batch_size,
        workers=workers,
        progress=progress,
    )
    report = make_report(predictions, loaded.class_names, list(loaded.config.parts))
    title = f"{checkpoint.name} on {data_config.dataset} {subset} ({Path(data_config.root).name})"
    if process.is_main:
        # Along continuous sequences every window is scored on its own; cut clips average eval_windows.
        print(format_report(report, title, "windows" if splits.continuous else "clips"))
        if splits.continuous and fraction != ACTION_FRACTION:  # its windows' truth is not the usual
            print(f"note: each window is labelled with the action covering {fraction:g} of it, as "
                  f"{checkpoint.name} was trained (window.action_fraction; {ACTION_FRACTION:g} elsewhere): "
                  "compare these window figures only with models trained so")
        written = write_figures(report, loaded.class_names, out_dir, f"{data_config.dataset} {subset}")
        scored = ({"sequences": len(sources), "windows": int(report.confusion.sum()), "stride_s": stride,
                   "action_fraction": fraction} if splits.continuous
                  else {"clips": len(sources), "eval_windows": eval_windows})
        save_results(
            report,
            out_dir / "results.json",
            {
                "checkpoint": str(checkpoint),
                # Which file it was, whatever is at that path now (a longer run replaces best.pt).
                "checkpoint_sha256": loaded.sha256,
                "data": str(data_config.root),
                "dataset": data_config.dataset,
                "subset": subset,
                **scored,
                "trained_on": trained_on,
                "window": dataclasses.asdict(window),
            },
        )
        print("wrote " + ", ".join(str(p) for p in [*written, out_dir / "results.json"])
              + replaced_note("clips", earlier))
    return report


def evaluate_streams(
    checkpoint: str | Path,
    *,
    data: str | None = None,
    subset: str = "all",
    out: str | Path | None = None,
    hop_s: float = 0.2,
    decisions: DecisionSettings | None = None,
    alert_classes: list[str] | None = None,
    alert_cooldown_s: float | None = None,
    engine: str = "auto",
    threads: int | None = None,
    progress: bool = True,
) -> StreamRun:
    """`evaluate --stream`: whole sequences through the app's pipeline (training/streaming.py).

    `subset` picks sequences of a folder by name: "validation" the ones the checkpoint held out,
    "train" / "test" its dataset's protocol split, "all" every labelled sequence there."""
    checkpoint = Path(checkpoint)
    loaded = load_checkpoint(checkpoint)
    trained = config_from_dict(loaded.extra["train_config"]) if "train_config" in loaded.extra else None
    if data is None:
        if trained is None:
            raise DatasetError(f"{checkpoint} does not record its data: pass --data")
        data = trained.data.root
    out = out or default_results_dir(checkpoint, "stream", subset, data=data)
    check_out_holds(Path(out), "stream")  # before the sequences are read (190 PKU-MMD ones: 20 s)
    names, cases = None, None
    # Of the sequences scored, how many it learnt (none of those it held out); a simulated room is not
    # looked at (null): a seed it trained on would have been learnt.
    trained_on: int | None = None if names_the_simulator(data) else 0
    if not names_the_simulator(data) and subset == "all":  # a folder of its own may hold what it trained on
        cases = stream_cases(str(data), progress=progress)
        names_read = [case.name for case in cases]
        trained_on = check_not_trained_on(checkpoint, loaded.extra, names_read, subset, data)
    if not names_the_simulator(data) and subset != "all":
        if subset == "validation":
            if "validation_clips" not in loaded.extra:
                raise DatasetError(f"{checkpoint} does not record which sequences it held out")
            names = set(loaded.extra["validation_clips"])
        else:
            if trained is None:
                raise DatasetError(f"{checkpoint} does not record its dataset: --subset {subset} is unknown")
            splits = build_splits(dataclasses.replace(recorded_data_here(trained.data), root=str(data)))
            names = {s.name for s in splits.subset(subset)}
            trained_on = check_not_trained_on(checkpoint, loaded.extra, sorted(names), subset, data)
    return evaluate_stream(checkpoint, str(data), out=out, names=names, subset=subset, hop_s=hop_s,
                           decisions=decisions, alert_classes=alert_classes,
                           alert_cooldown_s=alert_cooldown_s, engine=engine, threads=threads,
                           progress=progress, cases=cases, trained_on=trained_on)
