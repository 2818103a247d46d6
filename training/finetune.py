"""`python -m training finetune --from CK --clips DIR`: teach a trained model a site's own classes.

    CK (checkpoint)   its network (profile, parts, bodies), window, part boxes and classes; its training
                      settings (augmentation, Eq. 5's weights, learning rates) and decision settings
                      (smoothing, threshold: --set decisions.threshold=... to choose others) where it
                      recorded them
    DIR               the site's clips (NTU layout + labels.txt: python -m live --record --label ...,
                      python -m recordings label ...); --rehearse DIR: clips of the base model's classes
    prepare           crops cut as CK cuts them                                        -> OUT/cache
    classes           CK's classes (unless --replace-classes), then the site's new ones; no_action last
    pose              the pose stream (LSTM and its classifier) on the clips' skeletons, from CK's
                      weights: the rows of the classes CK knows are copied, new classes' rows start
                      fresh (epochs.pose=0: keep CK's)                                 -> OUT/pose/
    head              attention head + classifier                                      -> OUT/head/
    finetune          + the part I3Ds (pose LSTM frozen: Algorithm 1 step 6)            -> OUT/finetune/
    -> OUT/model.pt   the best fine-tuned network: python -m live --checkpoint OUT/model.pt
    -> OUT/eval_validation/  per-class accuracy on the held-out clips (training/evaluate.py)

A skeleton-only CK (a pose network, as pku_interactions.pt, the default model on real sources) is its
pose stream: it is fine-tuned by the pose stage alone, and prepare keeps the clips' skeletons only (no
crops are cut, so clips recorded with --privacy skeleton serve too). A distillation teacher the base
was trained with is dropped: it knows the base's classes only.

Why this order: a site has tens of clips, not NTU's 57,000. Algorithm 1 trains the pose stream before
the attention, and so does fine-tuning: a new action's skeleton (both arms raised) needs features the
base model's LSTM was never asked for, and the LSTM is small and reads skeletons only (an epoch of the
demo's site clips takes a second). Kept as the base model trained it, the new action reached 69% of its
held-out windows (misses called fall_down or no_action), 92% after this stage (README, "Teaching the
system a new action"); a model with `pose_fusion` takes half of its output from this stream's
classifier. Then the layers with the fewest weights learn — the classifier (one row per class) and the
attention head (where to look for the new class); only then do the part I3Ds adapt, at the base
model's fine-tuning rate, with the pose LSTM frozen as in step 6.

Validation: whole recording sessions are held out (training/datasets/clips.py), so near-copies of a
training clip never validate it. Keeping the old classes needs examples of them: a class without any
clip is forgotten, so fine-tuning says so and points to --rehearse (for the bundled demo model,
`python -m recordings synth` makes clips of its ten classes). Clips with intervals train a model that
has no_action continuously (windows all along, background included); without intervals no_action
gets no examples, and fine-tuning says that too.

Config: defaults <- CK's training config <- fine-tuning defaults (below) <- --config YAML <- --set;
the network, window, part boxes and bodies always come from CK (a config that says otherwise is
overruled, and the run says so).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from core.model.profiles import PROFILES, Aggregation
from core.skeleton import KINECT_V2, layout_by_name
from core.timeline import NO_ACTION, sided_classes
from core.window import MIN_COVERAGE
from core.wording import first_few
from recordings.argument_types import as_typed, package_file
from recordings.clip import frames_within
from recordings.labels import related_names, similar_names
from recordings.pkummd import is_sequence_path
from training import distributed
from training.ablations import network_config
from training.cache import clips_with_nobody, load_clip
from training.config import (
    ConfigError,
    DataConfig,
    TrainConfig,
    config_from_dict,
    load_config,
    wrongly_changed,
)
from training.data import DatasetError
from training.datasets.clips import (
    TAUGHT_HERE,
    LabelledClip,
    clip_classes,
    own_clip_name,
    read_dataset,
    recorded_folder,
    run_folder,
    taught_here,
    without_rehearsal_prefix,
)
from training.prepare import prepare_clip_crops
from training.stages import StageError, train_stage, validation_not_learnt

# Epochs of the stages (early stopping ends them sooner) and the validation share; measured on the
# simulator's demo (README, "Teaching the system a new action"). The pose stage's epochs are short
# (skeletons only: about a second each on the demo's site clips), so it gets more of them.
POSE_EPOCHS = 30
HEAD_EPOCHS = 10
FINETUNE_EPOCHS = 8
VALIDATION_FRACTION = 0.2


def add_finetune_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m training finetune` that fine-tune a trained model on a site's clips."""
    parser.add_argument("--from", dest="base", metavar="CK", type=package_file,
                        help="fine-tune this trained checkpoint on --clips (e.g. "
                             "training/checkpoints/demo.pt)")
    parser.add_argument("--clips", metavar="DIR", help="the site's clips (NTU layout + labels.txt)")
    parser.add_argument("--rehearse", action="append", default=[], metavar="DIR",
                        help="clips of the base model's classes, trained beside the site's so they are kept "
                             "(repeatable; each folder with its own labels.txt)")
    parser.add_argument("--replace-classes", action="store_true",
                        help="the site's classes only (the base model's are dropped, no_action kept)")
    parser.add_argument("--new-class", action="append", default=[], metavar="NAME",
                        help="train NAME as a class of its own although its name is close to one of the "
                             "base model's (repeatable; without it such a name is refused as a typo)")


def _known_keys(values: Any, template: Any) -> Any:
    """`values` without the keys `template` (a config as a dict) lacks: a checkpoint saved by an older
    or newer version of the trainer still gives the settings both know."""
    if not isinstance(values, dict) or not isinstance(template, dict):
        return values
    return {k: _known_keys(v, template[k]) for k, v in values.items() if k in template}


def base_train_config(base: Checkpoint) -> TrainConfig:
    recorded = base.extra.get("train_config")
    if not isinstance(recorded, dict):
        return TrainConfig()
    return config_from_dict(_known_keys(recorded, dataclasses.asdict(TrainConfig())))


def site_classes(base: Checkpoint, named: list[str], replace: bool) -> list[str]:
    """The fine-tuned classifier's classes: the base model's (unless replaced), then the other classes
    the clips name, in their order; the background class no_action, where the base has it, stays last."""
    old = [] if replace else [c for c in base.class_names if c != NO_ACTION]
    classes = old + [c for c in named if c not in old and c != NO_ACTION]
    if NO_ACTION in base.class_names:
        classes.append(NO_ACTION)
    return classes


def refuse_typos(base: Checkpoint, base_path: Path, new: list[str], allowed: list[str],
                 clips: list[LabelledClip]) -> None:  # fmt: skip
    """A new class whose name is close to one of the base model's is most likely that class mistyped when
    the clips were labelled (labels.txt knows the site's classes, not the model's): trained, it would be a
    class of its own that takes the base class's examples. The clips that name it are named."""
    known = [name for name in base.class_names if name != NO_ACTION]
    for name in new:
        if name in allowed:
            continue
        close = similar_names(name, known)
        if close:
            naming = [str(clip.task.skeleton) for clip in clips if name in clip_classes(clip)]
            raise DatasetError(
                f"class {name!r} of the clips is not one of {base_path.name}'s but close to its "
                f"{' or '.join(map(repr, close))}: a typo? Relabel the clips that name it "
                f"({first_few(naming, 3)}: "
                f"python -m recordings label CLIP --list, --remove N / --clear, then --class ...), or give "
                f"--new-class {name!r} to train it as a class of its own")


def second_names(new: list[str], base_classes: list[str]) -> list[str]:
    """A line for each new class that names, in other words, an action the base model knows ("patient
    fell" beside fall_down): learnt as a second class, the two compete for its windows and its alerts."""
    known = [name for name in base_classes if name != NO_ACTION]
    return [f"new class {name!r} is close in words to the base model's {' and '.join(map(repr, related))}: "
            f"it is learnt beside it, competing for the same windows. To teach {related[0]!r} with the "
            f"site's clips instead, label them {related[0]!r}"
            for name in new if (related := related_names(name, known))]


def close_pairs(names: list[str]) -> list[str]:
    """A line for each pair of the site's classes that are one name written two ways ("Patient Fell",
    "patient  fell", "patient_fell", each added with --new-class): learnt as classes of their own, they
    split one action's clips and compete for its windows. Only the same words: names a letter apart are
    as often two actions ('fall' and 'call', 'bed 1' and 'bed 2'), and --new-class said they are."""
    said: list[str] = []
    for i, name in enumerate(names):
        for other in (n for n in names[:i] if n != name and _words(n) == _words(name)):
            said.append(f"the site's classes {other!r} and {name!r} are one name written two ways: learnt "
                        "as two classes, they split one action's clips and compete for its windows; label "
                        "its clips with one name (python -m recordings label)")
    return said


def longer_names(names: list[str]) -> list[str]:
    """A line for each pair of the site's classes one of which is the other with words added ("Falling"
    and "falling down", "sit" and "sit down"): often one action named two ways, which close_pairs (the same
    words only) let through; as often two ("wave" and "wave twice"), so a note, not a warning."""
    said: list[str] = []
    for i, name in enumerate(names):
        for other in names[:i]:
            shorter, longer = sorted((set(_words(other).split()), set(_words(name).split())), key=len)
            if shorter < longer:
                said.append(f"the site's classes {other!r} and {name!r}: one is the other with words added. "
                            "If they are one action, label its clips with one name (python -m recordings "
                            "label): as two classes they split its clips")
    return said


def _words(name: str) -> str:
    """A class name with case, spaces, hyphens and underscores set aside."""
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


# A site's class with fewer examples (clips, or marked intervals) than this is warned of before training:
# too few to learn from, and its validation figure is that of one clip or two.
FEW_EXAMPLES = 5
# A site's class with under this share of the largest site class's examples is warned of: the model leans
# to the larger.
UNEVEN_SHARE = 0.1


def site_examples(clips: list[LabelledClip]) -> dict[str, tuple[int, int, float]]:
    """The site's classes (in `clips` of the run's own folder) -> (examples, sessions, seconds): a marked
    interval is one example of its class, a clip labelled as a whole one of its class."""
    found: dict[str, tuple[int, set[int], float]] = {}
    for clip in (c for c in clips if c.folder == 0):
        if clip.timeline is not None:
            labelled = [(i.label, i.end - i.start) for i in clip.timeline.intervals]
        else:
            labelled = [(clip.action, clip.duration)] if clip.action is not None else []
        for name, seconds in labelled:
            if name == NO_ACTION:  # background, not one of the site's actions
                continue
            count, sessions, total = found.get(name, (0, set(), 0.0))
            found[name] = (count + 1, sessions | {clip.session}, total + seconds)
    return {name: (count, len(sessions), total) for name, (count, sessions, total) in found.items()}


def too_few_examples(examples: dict[str, tuple[int, int, float]]) -> list[str]:
    """A line for the site's classes with fewer than FEW_EXAMPLES examples, and one for those with under
    UNEVEN_SHARE of the largest class's: `finetune` said only the classes' names, and one class of 40
    clips beside one of 2 trained and "validated" on a single clip without a word."""
    lines: list[str] = []
    if not examples:
        return lines
    few = {name: count for name, (count, _, _) in examples.items() if count < FEW_EXAMPLES}
    if few:
        named = ", ".join(f"{n!r} ({c})" for n, c in few.items())
        lines.append(f"the site's class(es) {named} have fewer than {FEW_EXAMPLES} examples: too few to "
                     "learn from, and their validation figures rest on a clip or two; record more (ten or "
                     "more, in two sessions or more)")
    most_name, (most, _, _) = max(examples.items(), key=lambda item: item[1][0])
    uneven = {name: count for name, (count, _, _) in examples.items()
              if count < UNEVEN_SHARE * most and name not in few}
    if uneven:
        lines.append(f"the site's classes are uneven: {most_name!r} has {most} examples, "
                     f"{', '.join(f'{n!r} {c}' for n, c in uneven.items())}: the model leans to the larger; "
                     "record more of the smaller")
    return lines


def whole_beside_marked(clips: list[LabelledClip], classes: list[str]) -> list[str]:
    """The site's clips labelled as a whole where others mark their actions and the model has NO_ACTION:
    the marked clips train the time around an action as no_action, these as the action."""
    if NO_ACTION not in classes or not any(c.timeline is not None for c in clips):
        return []
    return [c.task.name for c in clips if c.folder == 0 and c.timeline is None]


def short_takes(clips: list[LabelledClip], config: TrainConfig, *, cut_out: bool) -> list[str]:
    """The site's clips shorter than the app needs of a window to decide (core.window.MIN_COVERAGE), which
    trained padded and were validated without a word; and `cut_out` (no no_action: each interval cut out
    as a clip of its own, with data.interval_context_s either side, as training.datasets.clips cuts it)
    the actions whose cut is that short."""
    least_s = MIN_COVERAGE * config.window.duration_s
    context = config.data.interval_context_s
    short = [c.task.name for c in clips if c.folder == 0 and c.duration < least_s]
    if cut_out:
        short += [f"{c.task.name} {i.start:.2f}-{i.end:.2f} s" for c in clips
                  if c.folder == 0 and c.timeline is not None and c.duration >= least_s
                  for i in c.timeline.intervals
                  if min(c.duration, i.end + context) - max(0.0, i.start - context) < least_s]
    return short


def actions_without_anybody(clips: list[LabelledClip], cache: Path) -> list[str]:
    """'CLIP 7.60-9.80 s (fall)' for each interval of `clips`, and 'CLIP (fall, the whole clip)' for each
    clip labelled as a whole, in which a body is in view in fewer than half its frames (from the prepared
    skeletons): a clip with nobody at all is left out and said, but an action marked where the sensor lost
    its person trained silently."""
    found: list[str] = []
    for clip in clips:
        prepared = load_clip(cache, clip.task.name, False)
        seen = np.abs(prepared.joints).reshape(len(prepared.timestamps), -1).max(axis=1) > 0
        if clip.timeline is None:
            if clip.action is not None and seen.mean() < 0.5:
                found.append(f"{clip.task.name} ({clip.action}, the whole clip)")
            continue
        stamps = prepared.timestamps - prepared.timestamps[0]
        for interval in clip.timeline.intervals:
            inside = frames_within(stamps, interval.start, interval.end)
            if inside.any() and seen[inside].mean() < 0.5:
                found.append(f"{clip.task.name} {interval.start:.2f}-{interval.end:.2f} s ({interval.label})")
    return found


def held_out_sequences(base: Checkpoint, rehearsal: list[LabelledClip]) -> list[str]:
    """The rehearsal clips that are PKU-MMD sequences a PKU-MMD base records not having trained on."""
    if base.extra.get("dataset") != "pkummd" or "trained_clips" not in base.extra:
        return []
    trained = set(base.extra["trained_clips"])
    names = sorted({without_rehearsal_prefix(clip.task.name) for clip in rehearsal})
    return [name for name in names if is_sequence_path(name) and name not in trained]


def network_overrides(base: Checkpoint) -> dict[str, Any]:
    """The base network's every field but the dataset-sized ones, as model.overrides."""
    values = base.config.to_dict()
    for key in ("num_classes", "num_joints", "num_bodies"):
        values.pop(key)
    return values


def finetune_config(
    base: Checkpoint, base_path: Path, args: argparse.Namespace, classes: list[str], cache: Path
) -> tuple[TrainConfig, list[str]]:
    """The run's TrainConfig (see the module docstring) and what of the given config was overruled."""
    trained = base_train_config(base)
    profile = trained.model.profile if trained.model.profile in PROFILES else "paper"
    window = base.preprocessing.window
    defaults = [
        "data.dataset=clips",
        f"data.root={args.clips}",
        "data.protocol=all",
        f"data.validation_fraction={VALIDATION_FRACTION}",
        "data.split_seed=0",
        f"epochs.pose={POSE_EPOCHS}",
        f"epochs.head={HEAD_EPOCHS}",
        f"epochs.finetune={FINETUNE_EPOCHS}",
        f"out={args.out}",
        "workers=0",
        "max_steps_per_epoch=0",
    ]
    config = load_config(None, defaults, base=trained)
    config = load_config(args.config, list(args.overrides), base=config)
    if (wrong := wrongly_changed(TrainConfig(), config)) is not None:  # kept from an older base's record
        raise ConfigError(f"{base_path}: its training record would train this fine-tune with a setting now "
                          f"refused ({wrong}): give the setting with --set")
    flags = {"seed": args.seed, "device": args.device, "workers": args.workers}
    config = dataclasses.replace(config, **{k: v for k, v in flags.items() if v is not None})
    if args.no_progress:
        config = dataclasses.replace(config, progress=False)
    ablation = "pose" if base.config.aggregation is Aggregation.POSE else "none"
    forced = {
        "data.max_bodies": base.config.num_bodies,
        "window.duration_s": window.duration_s,
        "window.num_frames": base.config.num_frames,
        "model.profile": profile,
        "model.ablation": ablation,
        "model.overrides": network_overrides(base),
        "model.init_new_classes": True,
        "model.i3d_weights": "",
        "distill.teacher": "",
    }
    overruled = []
    for key, value in forced.items():
        section, name = key.split(".")
        given = getattr(getattr(config, section), name)
        if key != "model.overrides" and given != value and given != getattr(getattr(trained, section), name):
            why = ("a teacher knows the base's classes only: fine-tuning trains without one"
                   if key == "distill.teacher" else f"the checkpoint's {value!r} is used")
            overruled.append(f"{key}={given!r} ({why})")
    data = dataclasses.replace(config.data, dataset="clips", root=str(args.clips), classes=list(classes),
                               rehearse=[str(r) for r in args.rehearse], cache=str(cache), label_map="",
                               max_bodies=base.config.num_bodies, interval_context_s=window.duration_s / 2)
    config = dataclasses.replace(
        config,
        data=data,
        window=dataclasses.replace(config.window, duration_s=window.duration_s,
                                   num_frames=base.config.num_frames),
        model=dataclasses.replace(config.model, profile=profile, ablation=ablation,
                                  overrides=network_overrides(base), init_new_classes=True, i3d_weights=""),
        distill=dataclasses.replace(config.distill, teacher=""),
        out=str(args.out),
    )
    expected = dataclasses.replace(base.config, num_classes=len(classes))
    if network_config(config, len(classes), KINECT_V2) != expected:
        raise StageError(f"{base_path}: its network could not be rebuilt from its record")
    return config, overruled


def held_out_site(clips: list[LabelledClip], held: list[int]) -> tuple[str, str | None]:
    """How validation holds out the site's clips, `held` its sessions there: which sessions and how much of
    its recordings that is, and a warning where it is most of them (a session is held out whole, whatever
    its length: one run held out 463 of the site's 533 s, leaving 70 s to learn from); or, from a site's
    one session, its clips at random."""
    if len({c.session for c in clips if c.folder == 0}) < 2:  # clips of its one session held out, not all
        return ("the site's clips drawn at random from its one session: those held out are near-copies of "
                "training ones and flatter the model (a second session, another live --record run or "
                "--session N, gives a fair split)"), None
    if not held:
        return "whole sessions held out", None
    said = f"whole sessions held out; the site's session{'s' * (len(held) > 1)} {', '.join(map(str, held))}"
    site_s = sum(c.duration for c in clips if c.folder == 0)
    held_s = sum(c.duration for c in clips if c.folder == 0 and c.session in held)
    said += f": {held_s:.0f} of its {site_s:.0f} s"
    if held_s <= site_s / 2:
        return said, None
    return said, (f"[finetune] WARNING: most of the site's recordings ({held_s:.0f} of {site_s:.0f} s) are "
                  "held out for validation, not learnt from: --set data.split_seed=N (1, 2, ...) may hold "
                  "out another session")


def _quiet(*_args: object, **_kwargs: object) -> None:
    """print on the ranks that say nothing."""


def run_finetune(args: argparse.Namespace) -> int:
    started = time.monotonic()
    # Under torchrun every rank runs this: one says it, prepares the clips and writes model.pt.
    say = print if distributed.is_main_process() else _quiet
    if not args.base or not args.clips:
        raise ConfigError("fine-tuning on a site's clips needs both --from CHECKPOINT and --clips DIR")
    stray = [f for f in ("data", "profile", "ablation", "init", "epochs") if getattr(args, f, None)]
    if stray:
        raise ConfigError(f"--from takes the network from the checkpoint and --clips the data: drop "
                          f"{', '.join('--' + f for f in stray)} "
                          "(or set epochs.pose / epochs.head / epochs.finetune)")
    site_folder = Path(args.clips).resolve()
    inside = [folder for folder in args.rehearse if Path(folder).resolve().is_relative_to(site_folder)]
    if inside:  # its clips were read as the site's, and refused under labels.txt's numbers
        raise ConfigError(f"--rehearse {inside[0]} lies inside --clips {args.clips}: its clips would be read "
                          "as the site's too; keep the rehearsal folder beside the site's clips, not in them")
    base_path = Path(args.base)
    base = load_checkpoint(base_path)
    layout = layout_by_name(base.preprocessing.layout)
    if layout is not KINECT_V2:
        raise StageError(f"{base_path.name} reads {layout.name} skeletons ({layout.num_joints} joints); a "
                         f"site's clips are Kinect v2 (25 joints): fine-tune a Kinect v2 model "
                         f"(pku_interactions.pt, demo.pt)")
    skeleton_only = base.config.aggregation is Aggregation.POSE
    if base.config.aggregation is not Aggregation.ATTENTION and not skeleton_only:
        raise StageError(f"{base_path} is a {base.config.aggregation.value!r} network; `finetune --from` "
                         "fine-tunes the paper's attention network and skeleton-only (pose) networks "
                         "(for the others use the stage commands with --init and --set "
                         "model.init_new_classes=true)")
    args.out = args.out or "runs/site"
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / "cache"

    # The site's classes, as its clips name them (label map order first), and what they cover.
    clips, unlabelled = read_dataset(DataConfig(dataset="clips", root=str(args.clips),
                                                rehearse=[str(r) for r in args.rehearse]))
    named: list[str] = []
    for clip in clips:
        for name in clip_classes(clip):
            if name not in named:
                named.append(name)
    site_named = [n for c in clips if c.folder == 0 for n in clip_classes(c)]
    new = [n for n in named if n not in base.class_names]
    unused = [n for n in args.new_class if n not in new]
    if unused:  # a typo in the option would otherwise pass unnoticed
        raise DatasetError(f"--new-class {unused[0]!r}: no clip brings it as a new class (the clips' new "
                           f"classes: {', '.join(map(repr, new)) or 'none'})")
    refuse_typos(base, base_path, new, args.new_class, clips)
    classes = site_classes(base, named, args.replace_classes)
    forgotten = [c for c in classes if c != NO_ACTION and c not in named]
    say(f"[finetune] base {base_path}: {len(base.class_names)} classes; {len(clips)} labelled clips "
        f"({sum(c.folder == 0 for c in clips)} of the site, {sum(c.folder > 0 for c in clips)} rehearsal)"
        + (f", {len(unlabelled)} unlabelled left out" if unlabelled else ""))
    say(f"[finetune] classes: {len(classes)} = "
        + ", ".join(f"{c} (new)" if c in new else c for c in classes))
    if examples := site_examples(clips):
        say("[finetune] the site's examples per class: " + ", ".join(
            f"{name} {count} ({sessions} session{'s' * (sessions != 1)}, {seconds:.0f} s)"
            for name, (count, sessions, seconds) in examples.items()))
        # Of the classes the model learns from them alone: one it knows is kept by the rehearsal too.
        for line in too_few_examples({name: seen for name, seen in examples.items() if name in new}):
            say(f"[finetune] WARNING: {line}")
    if not new and not args.replace_classes:
        say("[finetune] note: every class of the clips is one the base model knows; none is added")
    if not args.replace_classes:  # (with it, the base's classes go: nothing competes)
        for note in second_names([n for n in new if n in site_named], base.class_names):
            say(f"[finetune] note: {note}")
    for note in close_pairs([n for n in new if n in site_named]):
        say(f"[finetune] WARNING: {note}")
    for note in longer_names([n for n in new if n in site_named]):
        say(f"[finetune] note: {note}")
    if not set(site_named):
        raise DatasetError(f"{args.clips}: no labelled clips of the site (python -m recordings label)")
    # Rehearsal is for keeping the base's classes: a class only rehearsal clips bring is a new class all
    # the same, and worth a word (a one-person PKU-MMD sequence brings dozens).
    from_rehearsal = [n for n in new if n not in site_named]
    if from_rehearsal:
        say(f"[finetune] note: the --rehearse clips bring {len(from_rehearsal)} class(es) the base model "
            f"does not know, trained as new classes: {', '.join(from_rehearsal)}")
    if forgotten:
        say(f"[finetune] WARNING: no clip of {', '.join(forgotten)}: the fine-tuned model will forget "
            f"{'it' if len(forgotten) == 1 else 'them'}. Add clips of the base model's classes with "
            f"--rehearse DIR (for the bundled demo model: python -m recordings synth --out DIR "
            f"--clips-per-class 20; for pku_interactions.pt: PKU-MMD sequences, python -m recordings "
            f"convert SEQUENCE DIR), or drop them with --replace-classes")
    has_intervals = any(c.timeline is not None for c in clips)
    if whole := whole_beside_marked(clips, classes):
        say(f"[finetune] WARNING: {len(whole)} of the site's clips are labelled as a whole beside clips "
            f"whose actions are marked: their time around the action trains as the action, not as "
            f"{NO_ACTION!r} ({first_few(whole, 3)}); mark where it is: python -m recordings label CLIP "
            "--class X --from S --to S")
    if NO_ACTION in classes and not has_intervals:
        say(f"[finetune] note: no clip marks where its actions are (intervals), so {NO_ACTION!r} gets no "
            f"examples; mark them (python -m recordings label CLIP --class X --from S --to S) to keep "
            f"telling actions from background")

    config, overruled = finetune_config(base, base_path, args, classes, cache)
    for item in overruled:
        say(f"[finetune] the network comes from the checkpoint: ignoring {item}")
    if short := short_takes(clips, config, cut_out=not (NO_ACTION in classes and has_intervals)):
        least_s = MIN_COVERAGE * config.window.duration_s
        say(f"[finetune] WARNING: {len(short)} clip(s) or action(s) shorter than the {least_s:.1f} s of a "
            f"person the app needs for a decision ({config.window.duration_s:g} s windows): padded to train, "
            f"they teach little; record longer takes ({first_few(short, 3)})")
    overrides = config.model.overrides
    mirrored = [name for name, on in (("augment.mirror", config.augment.mirror > 0),
                                      ("pose_mirror_average", overrides.get("pose_mirror_average"))) if on]
    if mirrored and (sided := sided_classes(classes)):
        # A base of classes without sides (PKU-MMD's interactions) mirrors; a site's wave_left cannot be.
        config = dataclasses.replace(
            config, augment=dataclasses.replace(config.augment, mirror=0.0),
            model=dataclasses.replace(config.model, overrides={**overrides, "pose_mirror_average": False}))
        say(f"[finetune] note: the classes {first_few(sided, 4)} say which side acts, so windows are not "
            f"mirrored ({' and '.join(mirrored)} of {base_path.name} turned off): a mirror image shows the "
            "other side's action")
    if base_train_config(base).distill.teacher:
        say(f"[finetune] note: {base_path.name} was taught by {base_train_config(base).distill.teacher}, "
            "which knows its classes only: fine-tuning trains without a teacher")
    if skeleton_only and config.epochs.pose < 1:
        raise StageError(f"{base_path.name} is skeleton-only: its pose stage is all there is to fine-tune, "
                         f"and epochs.pose is {config.epochs.pose} (drop --set epochs.pose=...)")
    workers = max(1, args.workers or 1)
    if skeleton_only:
        say(f"[finetune] {base_path.name} is skeleton-only: preparing the clips' skeletons (no crops) "
            f"into {cache}, then the pose stage alone")
    else:
        say(f"[finetune] preparing crops as {base_path.name} cuts them "
            f"({base.preprocessing.glimpse.crop_size} px) into {cache}")
    process = distributed.start(config.device)
    with distributed.main_first(process, cache) as mine:
        if mine:
            prepare_clip_crops(config.data, base.preprocessing, cache, workers=workers,
                               progress=config.progress)
    # Clips with nobody in view are left out (prepare said which): a new class they alone bring would be
    # a row of the classifier that nothing taught, counted as taught.
    nobody = clips_with_nobody(cache)
    untaught = [n for n in new if not any(n in clip_classes(c) for c in clips if c.task.name not in nobody)]
    if untaught:
        empty = first_few([c.task.name for c in clips if c.task.name in nobody
                           and set(clip_classes(c)) & set(untaught)], 3)
        fix = ("record them with the person in the sensor's view" if set(untaught) & set(site_named)
               else "they come from the --rehearse clips: give those folders clips with people in them")
        raise DatasetError(f"nobody is in view in any clip of the new class(es) "
                           f"{', '.join(map(repr, untaught))} ({empty}): {fix}")
    site_clips = [c for c in clips if c.folder == 0 and c.task.name not in nobody]
    if empty_actions := actions_without_anybody(site_clips, cache):
        say(f"[finetune] WARNING: {len(empty_actions)} labelled action(s) with nobody in view for most of "
            f"their time, which teach their class from empty windows: {first_few(empty_actions, 3)} (mark "
            "where the person is in view: python -m recordings label CLIP --list shows the intervals)")

    from training.datasets import build_splits  # after prepare: the splits read the cache's index

    # Held-out clips the base learnt (rehearsal sequences of its training side) train instead, said here
    # with the counts below; each stage would move them too, after these lines had described the split.
    drawn = build_splits(config.data)
    splits = validation_not_learnt(config.data, drawn, base.extra, base_path,
                                   lambda line: say(f"[finetune] {line}"))
    # Which: a site checks that the held-out session is one it can judge the model on, and sees which of
    # the rehearsal's are held out with it (their windows are in the validation figures too).
    held = sorted({s.group["session"] for s in splits.validation if s.group.get("folder") == 0})
    said, warning = held_out_site(clips, held)
    rehearsal_held = sorted({own_clip_name(s.name) for s in splits.validation
                             if s.group.get("folder", 0) > 0})
    if rehearsal_held:
        said += f"; of the --rehearse clips {first_few(rehearsal_held, 3)}"
    say(f"[finetune] {len(splits.train)} training / {len(splits.validation)} validation "
        f"{'sequences' if splits.continuous else 'clips'} ({said})"
        + (", windows along the sequences with no_action between actions" if splits.continuous else ""))
    if warning:
        say(warning)
    trained = {own_clip_name(s.name) for s in splits.train}
    learnt_now = [name for name in held_out_sequences(base, [c for c in clips if c.folder > 0])
                  if name in trained]
    if learnt_now:
        say(f"[finetune] note: {len(learnt_now)} of the --rehearse clips are PKU-MMD sequences "
            f"{base_path.name} did not train on, its validation or test ones ({first_few(learnt_now, 3)}): "
            "learnt now, they no longer measure it or its fine-tunes")
    here = recorded_folder(base.extra) == run_folder(config.data)  # the base: a fine-tune on this folder
    # The site's classes fine-tuning on this folder taught: this round's new ones and an earlier round's.
    # Recorded in model.pt, so that a second round (the warning below says to record more) warns of one
    # still not learnt, which is then a class its base knows, as the site's other labelled base classes.
    earlier = taught_here(base.extra, run_folder(config.data))
    taught = [n for n in classes if n in site_named and (n in new or n in earlier)]
    if here and TAUGHT_HERE not in base.extra:  # fine-tuned here by a version before the record
        say(f"[finetune] note: {base_path.name} was fine-tuned on this folder by an earlier version, which "
            "did not record the classes it taught: one of those the model has still not learnt is not "
            "warned of below (fine-tuning from the first round's base again warns of them all)")
    if not splits.validation:
        if drawn.validation:  # the sessions drawn were learnt; another draw (split_seed) may hold out others
            why = (f"{base_path.name} learnt every clip drawn for it with data.split_seed "
                   f"{config.data.split_seed}")
            its = ((base.extra.get("train_config") or {}).get("data") or {}).get("split_seed")
            if here and its is not None and its != config.data.split_seed and base.extra.get(
                    "validation_clips"):  # which held some out
                why += f"; it was fine-tuned here with {its}, which held out clips it did not learn"
            else:
                why += "; another data.split_seed may hold out others"
        else:
            why = "each class needs two or more"
        say(f"[finetune] WARNING: no session could be held out ({why}); "
            "validation uses the training clips and says little")
    if skeleton_only:
        tuned = train_stage(config, "pose", init=base_path, restart=args.restart, splits=splits)
    else:
        start = base_path
        if config.epochs.pose > 0:
            pose = train_stage(config, "pose", init=base_path, restart=args.restart, splits=splits)
            start = pose.best_checkpoint
        head = train_stage(config, "head", init=start, restart=args.restart, splits=splits)
        tuned = train_stage(config, "finetune", init=head.best_checkpoint, restart=args.restart,
                            splits=splits)
    model = out / "model.pt"
    with distributed.main_first(process, out) as mine:  # the evaluation below reads it on every rank
        if mine:
            best = load_checkpoint(tuned.best_checkpoint)
            save_checkpoint(model, best.model, class_names=best.class_names, preprocessing=best.preprocessing,
                            extra={**best.extra, TAUGHT_HERE: taught}, decisions=best.decisions)
    trained_s = time.monotonic() - started
    unit = "window" if splits.continuous else "clip"
    report = None
    try:
        if splits.validation:
            from training.evaluate import evaluate

            report = evaluate(model, subset="validation", out=out / "eval_validation",
                              progress=config.progress, workers=0)
    finally:  # the model is written, whatever its evaluation came to
        # The table's figure, of the network as the app runs it (a pose network averaging each window with
        # its mirror image, its streams' distributions mixed); the stage's, which chose the epoch, judges
        # the mean of its streams' logits without the mirror image: two lines gave 75.5% and 75.28% for one
        # model.
        scored = int(report.confusion.sum()) if report is not None else 0
        figure = (f"validation top-1 {100 * report.top1:.1f}% of its {scored} held-out {unit}s" if scored
                  else f"top-1 {100 * tuned.best_validation_top1:.1f}% on its "
                       f"{'validation' if splits.validation else 'training'} {unit}s as its stage scored it")
        say(f"[finetune] wrote {model} ({figure}) after {trained_s:.0f} s; run it with: python -m live "
            f"--checkpoint {as_typed(model)}")
    if report is not None:
        # The overall top-1 is mostly the rehearsed classes': a site's new class the model did not learn
        # (0 of its windows) was hidden behind "validation top-1 82.4%".
        rehearsed = any(c.folder > 0 for c in clips)
        for name, scored, top1 in report.per_class:
            if name in taught and scored and top1 < 0.5:
                ways = ["record more of it (README, \"Teaching the system a new action\")"]
                if rehearsed:
                    ways.append("give the rehearsal fewer clips")
                if not args.replace_classes:
                    ways.append("--replace-classes where the site needs only its own classes")
                said = "new" if name in new else "site"  # an earlier round's, the base's class now
                say(f"[finetune] WARNING: the {said} class {name!r} is right on {100 * top1:.0f}% of its "
                    f"{scored} validation {unit}{'s' * (scored != 1)}: the model has not learnt it; "
                    + ", or ".join(ways))
    return 0
