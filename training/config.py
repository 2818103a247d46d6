"""The one place where a YAML file plus command-line overrides become a `TrainConfig`.

    defaults (dataclasses below) <- YAML file (--config) <- --set section.key=value ... <- explicit flags
    --> TrainConfig, written resolved as config.yaml into the run folder

Unknown keys and values of the wrong type are errors that name the file (or the flag) and the key:
a misspelt option must not silently train with the default.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import types
import typing
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.model.checkpoint import DecisionSettings
from core.model.loss import NTU_LOSS
from core.timeline import ACTION_FRACTION
from recordings.argument_types import MAX_SMOOTHING_S


class ConfigError(ValueError):
    """A config file or override that does not fit TrainConfig."""


PKUMMD_HOLD_OUTS = ("actors", "performance")


@dataclass(frozen=True)
class DataConfig:
    """Which clips, and how they are split.

    dataset: "nucla" | "ntu60" | "ntu120" | "clips" (our own recordings, NTU layout + label map) |
             "pkummd" (continuous PKU-MMD sequences with no_action).
    protocol: ntu60 "xsub" | "xview"; ntu120 "xsub" | "xset"; nucla "xview"; clips "all";
              pkummd "xsub" | "xview" | "all".
    """

    dataset: str = "nucla"
    root: str = "../shared/data/nucla"
    protocol: str = "xview"
    cache: str = ""  # folder written by `prepare` (crops + skeletons); needed by the RGB stages
    label_map: str = ""  # clips: the site's label map file
    # clips: the classifier's classes in order, matched to the clips' labels by name (fine-tuning: the
    # base model's, then the site's new ones; no_action last). Empty: the label map's classes.
    classes: list[str] = field(default_factory=list)
    # clips: more folders of clips (each with its own labels.txt) trained beside the site's — clips of
    # the base model's classes, so that fine-tuning keeps them (see training/finetune.py)
    rehearse: list[str] = field(default_factory=list)
    # clips, without no_action among the classes: seconds kept on each side of an interval cut out as a
    # clip of its own, so that windows centred in the action see what surrounds it (fine-tuning: half a
    # window)
    interval_context_s: float = 0.0
    # of the training clips, for early stopping: per class (clips: whole recording sessions, see
    # training/datasets/clips.py; PKU-MMD, N-UCLA and NTU RGB+D: of the performances, all views of one on
    # the same side)
    validation_fraction: float = 0.1
    test_fraction: float = 0.0  # PKU-MMD: performances held out as a test set (the shared copy lacks one)
    split_seed: int = 0  # draws the validation clips; independent of the training seed
    # PKU-MMD: what is held out whole. "actors": the performances numbered in one ten (NNN1-NNN0), which
    # holds each pair of actors' interaction performances (training/datasets/pkummd.py); "performance":
    # one performance, as before 2026-12-06, when a held-out performance's actors could train in its pair.
    pkummd_hold_out: str = "actors"
    nucla_fps: float = 15.0  # see training/datasets/nucla.py for why 15
    nucla_train_views: list[int] = field(default_factory=lambda: [1, 2])
    nucla_test_views: list[int] = field(default_factory=lambda: [3])
    # Subjects held out of training and validation and tested alone (empty: every subject). With test
    # views among the training views' cameras, the test then shares no performance with training: a
    # view-only split tests the other camera's recording of events the model was trained on.
    nucla_test_subjects: list[int] = field(default_factory=list)
    # Leave out of training the sit-down / stand-up clips whose hip moves against their label
    # (training/datasets/nucla.py, moves_against_label); the test keeps them.
    nucla_drop_contradicted: bool = False
    max_bodies: int = 2  # bodies kept per clip, most active first
    # The skeleton layout the model takes: "" = the dataset's own; "kinect_v1" trains a Kinect v1 model
    # on Kinect v2 data through core.joint_maps (skeleton-only stages).
    layout: str = ""
    missing_list: str = ""  # NTU: official missing-skeleton list, when not in the dataset folder


    def __post_init__(self) -> None:
        for name in ("validation_fraction", "test_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} is a fraction in [0, 1), got {getattr(self, name)}")
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction leave nothing to train on")
        if not self.nucla_fps > 0:
            raise ValueError(f"nucla_fps must be positive, got {self.nucla_fps}")
        if self.max_bodies < 1:
            raise ValueError(f"max_bodies must be at least 1, got {self.max_bodies}")
        if self.split_seed < 0:  # numpy refuses a negative seed, once the clips are read
            raise ValueError(f"split_seed must not be negative, got {self.split_seed}")
        if self.pkummd_hold_out not in PKUMMD_HOLD_OUTS:
            raise ValueError(f"pkummd_hold_out is one of {', '.join(PKUMMD_HOLD_OUTS)}, got "
                             f"{self.pkummd_hold_out!r}")

@dataclass(frozen=True)
class WindowConfig:
    """What one training example is: the same window live inference classifies."""

    duration_s: float = 2.0
    num_frames: int = 0  # 0: the model profile's number of frames
    jitter: float = 0.3  # fraction of the sample spacing, training only; at most 0.5 keeps samples in order
    eval_windows: int = 5  # windows per clip at test time, logits averaged (the paper: 5)
    # Continuous sequences (datasets with no_action): windows end every `stride_s` along each clip (the
    # live hop by default), labelled by core.timeline's rule; each training epoch draws the same number
    # of windows for every action class and `background_ratio` times that many no_action windows.
    stride_s: float = 0.2
    background_ratio: float = 1.0
    # How much of a window an action must cover to name it (core.timeline.window_label): less names it
    # sooner after it starts, so decisions and alerts come earlier, and longer after it ends.
    action_fraction: float = ACTION_FRACTION


    def __post_init__(self) -> None:
        for name in ("duration_s", "stride_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("num_frames", "jitter", "background_ratio"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.eval_windows < 1:
            raise ValueError(f"eval_windows must be at least 1, got {self.eval_windows}")
        if not 0 < self.action_fraction <= 1:
            raise ValueError(f"action_fraction is a share of the window, above 0 and at most 1, got "
                             f"{self.action_fraction}")

@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 0.0
    tilt_deg: float = 0.0
    scale: float = 0.0
    noise: float = 0.0
    mirror: float = 0.0  # probability of a left-right mirror; only for datasets whose classes allow it
    speed: float = 0.0  # clips play at a random speed factor in [1 - speed, 1 + speed]
    shear: float = 0.0  # off-diagonal entries of a random linear map, uniform in [-shear, shear]
    swap_sides: float = 0.0  # probability of the back-view error: sides swapped, turned 180 degrees
    bone_turn_deg: float = 0.0  # random turns of the bones about their parents, up to this scale (degrees)
    # probability that a window of sit down / stand up plays backwards as the other (training.windows)
    time_reverse: float = 0.0
    drop_limb: float = 0.0  # probability that an arm or leg is hidden over part of the window
    crop_zoom: float = 0.0  # part crops show a random square of [1 - crop_zoom, 1] of their side
    brightness: float = 0.0  # part crops times a brightness in [1 - brightness, 1 + brightness]

    def __post_init__(self) -> None:
        # Checked with the config: a probability of 2 or a scale of 1.5 would otherwise train quietly on
        # nonsense (upside-down bodies, negative speeds) for hours.
        for name in ("mirror", "swap_sides", "time_reverse", "drop_limb"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {getattr(self, name)}")
        for name in ("scale", "speed", "crop_zoom", "brightness"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1) (a factor of 1 +- it), got {getattr(self, name)}")
        for name in ("rotate_deg", "tilt_deg", "noise", "shear", "bone_turn_deg"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")


@dataclass(frozen=True)
class ModelConfig:
    """Which network: a preset of core.model.profiles plus field overrides (e.g. pose_hidden: 128)."""

    profile: str = "lite"  # paper | lite | tiny
    overrides: dict[str, Any] = field(default_factory=dict)
    ablation: str = "none"  # a row of Tables 1-2, see training/ablations.py
    i3d_weights: str = ""  # ImageNet/Kinetics I3D state dict for Algorithm 1 step 1 (parts stage)
    # --init from a network with other classes (NTU -> a site's classes): load every weight but the
    # class-sized ones, which start fresh. Off by default: a class mismatch is otherwise an error.
    init_new_classes: bool = False


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 5e-4
    # Step 6 fine-tunes what step 5 trained: a fresh Adam at the full rate first undoes part of it.
    finetune_lr: float | None = None  # None: lr
    # With --init: the weights loaded from it learn at lr x this, so that a small dataset does not
    # overwrite what pretraining learnt; the classifier of new classes starts fresh at lr. 1: all at lr.
    init_lr_scale: float = 1.0
    batch_size: int = 16
    weight_decay: float = NTU_LOSS.weight  # lambda2 of Eq. 5 (an L2 penalty on the weights)
    attention_weight: float = NTU_LOSS.attention  # lambda1 of Eq. 5 (N-UCLA's 1e-4: nucla_lstm.yaml)
    plateau_factor: float = 0.5
    plateau_patience: int = 3  # epochs without validation improvement before the lr drops
    early_stop_patience: int = 10  # epochs without improvement before the stage stops
    grad_clip: float = 5.0
    # Cross-entropy against (1 - s) one-hot + s uniform; 0 is the paper's plain cross-entropy.
    label_smoothing: float = 0.0
    amp: bool = True  # mixed precision on CUDA (ignored on CPU)

    def __post_init__(self) -> None:
        # Checked with the config: torch would otherwise stop with its own words after the data loaded,
        # or (a negative decay, a smoothing of 1) train quietly on nonsense.
        if not self.lr >= 0 or (self.finetune_lr is not None and not self.finetune_lr >= 0):
            raise ValueError(f"lr and finetune_lr must not be negative, got {self.lr} and {self.finetune_lr}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        for name in ("init_lr_scale", "weight_decay", "attention_weight", "grad_clip",
                     "plateau_patience", "early_stop_patience"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not 0 < self.plateau_factor <= 1:
            raise ValueError(f"plateau_factor must be in (0, 1], got {self.plateau_factor}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


@dataclass(frozen=True)
class DistillConfig:
    """Knowledge distillation (Hinton et al. 2015) in the pose stage: the network also learns a trained
    teacher's class distribution on each training window. Why: an ensemble of pose streams is right
    more often than one, at several times the cost per decision (training/checkpoints/README.md); a
    single network taught by it keeps one network's cost.

        loss = (1 - weight) * CE(labels) + weight * T^2 * KL(softmax(teacher / T) || softmax(student / T))

    The T^2 keeps the soft term's gradients the size of the hard term's (Hinton et al.).
    """

    teacher: str = ""  # a trained checkpoint of the same classes and preprocessing; "" = no teacher
    weight: float = 0.5
    temperature: float = 2.0

    def __post_init__(self) -> None:
        # Checked with the config, before a teacher is loaded or an epoch is spent.
        if not 0 <= self.weight <= 1:
            raise ValueError(f"distill.weight must be in [0, 1], got {self.weight}")
        if not self.temperature > 0:
            raise ValueError(f"distill.temperature must be positive, got {self.temperature}")


@dataclass(frozen=True)
class ConsistencyConfig:
    """Cross-camera consistency in the pose stage, on datasets that filmed each performance with several
    cameras at once (PKU-MMD: three, at -45, 0 and +45 degrees). Each training window comes with the same
    person at the same moment seen by another camera of the performance, and the network also learns to
    give both the same features:

        loss = loss(window) + loss(twin) + weight * (1 - cos(features(window), features(twin)))

    features: the pose stream's hidden states averaged over time (what its classifiers read). Why: what
    makes a model fail on a new camera is what that camera's skeleton tracking gets wrong; the other
    cameras of the same moment are real examples of it.
    """

    weight: float = 0.0  # 0: off

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError(f"consistency.weight must be >= 0, got {self.weight}")


@dataclass(frozen=True)
class StageEpochs:
    parts: int = 20
    pose: int = 100
    attention: int = 30  # N1
    finetune: int = 10  # N2
    head: int = 10  # fine-tuning a trained network: attention head + classifier first (training/finetune.py)
    # The first epochs of N1 with the part I3Ds held as step 2 left them: the attention first learns
    # which part already tells each class apart, before the parts adapt to where it looks.
    attention_frozen_parts: int = 0

    def __post_init__(self) -> None:
        # 0 is meaningful (fine-tuning with epochs.pose=0 keeps the base's pose stream); a stage that is
        # asked to train needs at least one epoch (training.stages.train_stage says so).
        for name, value in dataclasses.asdict(self).items():
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: StageEpochs = field(default_factory=StageEpochs)
    # Smoothing and threshold the app uses with this model unless told otherwise, written into its
    # checkpoints; choose them on validation streams (`evaluate --stream --subset validation`).
    decisions: DecisionSettings = field(default_factory=DecisionSettings)
    distill: DistillConfig = field(default_factory=DistillConfig)
    consistency: ConsistencyConfig = field(default_factory=ConsistencyConfig)
    out: str = "runs/default"
    seed: int = 0
    workers: int = 2  # DataLoader worker processes per training process
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    max_steps_per_epoch: int = 0  # 0 = whole epoch; small values for smoke tests
    progress: bool = True

    def __post_init__(self) -> None:
        # Said before anything is written: the DataLoader refuses a negative count only once the run has
        # started (its folder and lock made).
        if self.workers < 0:
            raise ValueError(f"workers must not be negative, got {self.workers}")
        if self.seed < 0:  # numpy refuses it in the DataLoader's workers, which then hang the run
            raise ValueError(f"seed must not be negative, got {self.seed}")


def wrongly_changed(before: TrainConfig, after: TrainConfig) -> str | None:
    """What is wrong with a setting a config file or --set changed from `before`, of those that train
    without an error and not as anyone means. Checked where a config is given, not in __post_init__: runs
    trained before these checks hold such values in their records (config_from_dict), and must still
    evaluate; a fine-tune, which would train with them, checks its base's against the defaults."""
    def changed(section: str, name: str) -> bool:
        return getattr(getattr(after, section), name) != getattr(getattr(before, section), name)

    optim, window = after.optim, after.window
    if changed("optim", "lr") and not optim.lr > 0:  # init_lr_scale 0 freezes loaded weights on purpose
        return f"optim.lr must be positive (0 trains for hours and learns nothing), got {optim.lr}"
    if changed("optim", "finetune_lr") and optim.finetune_lr is not None and not optim.finetune_lr > 0:
        return f"optim.finetune_lr must be positive (or null: optim.lr), got {optim.finetune_lr}"
    if changed("optim", "early_stop_patience") and optim.early_stop_patience < 1:  # stopped after epoch 1
        return (f"optim.early_stop_patience must be at least 1 (to never stop early: the stage's epochs or "
                f"more), got {optim.early_stop_patience}")
    if changed("window", "jitter") and window.jitter > 0.5:  # samples could pass each other: out of order
        return f"window.jitter must be at most 0.5 (of the sample spacing), got {window.jitter}"
    if after.max_steps_per_epoch != before.max_steps_per_epoch and after.max_steps_per_epoch < 0:
        return f"max_steps_per_epoch must not be negative (0: whole epochs), got {after.max_steps_per_epoch}"
    smoothing = after.decisions.smoothing_s  # written into the checkpoints, for the app (as --smoothing)
    if changed("decisions", "smoothing_s") and smoothing is not None and smoothing > MAX_SMOOTHING_S:
        return (f"decisions.smoothing_s must be at most {MAX_SMOOTHING_S:g} s (decisions lag by it), got "
                f"{smoothing}")
    return None


def _check_type(value: Any, annotation: Any, where: str) -> Any:
    """Coerce a YAML/CLI value to the annotated type, or raise naming `where`."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin is list:
        (item,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _check_type(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} does not fit {annotation}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if annotation is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads "5e-4" (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None and math.isfinite(number):  # inf / nan: no setting means that
            return number
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {annotation}")


def _merge(instance: Any, values: dict[str, Any], where: str) -> Any:
    """A copy of the dataclass `instance` with `values` (a nested mapping) applied. `where`: the keys'
    path so far ("optim"), or a file ending in ":" ("train.yaml:") for its top level."""
    named = f"{where.rstrip(':')}: " if where.rstrip(":") else ""
    if not isinstance(values, dict):
        raise ConfigError(f"{named}expected a mapping, got {values!r}")
    hints = typing.get_type_hints(type(instance))
    changes = {}
    names = {f.name for f in dataclasses.fields(instance)}
    for key, value in values.items():
        inside = f"{where} {key}" if where.endswith(":") else f"{where}.{key}" if where else key
        if key not in names:
            raise ConfigError(f"{named}unknown key {key!r}; expected one of: {', '.join(sorted(names))}")
        current = getattr(instance, key)
        if dataclasses.is_dataclass(current):
            changes[key] = _merge(current, value, inside)
        elif isinstance(current, dict) and isinstance(value, dict):
            # A mapping (model.overrides) takes the keys given on top of those it has: `--set
            # model.overrides.lstm_hidden=64` must not drop the config file's other overrides.
            changes[key] = {**current, **_check_type(value, hints[key], inside)}
        else:
            changes[key] = _check_type(value, hints[key], inside)
    try:
        return dataclasses.replace(instance, **changes)
    except ValueError as error:  # a section's own checks (e.g. DecisionSettings)
        raise ConfigError(f"{named}{error}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error: PyYAML keeps the last, and a
    second `optim:` section appended to a config silently dropped the whole first one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged by the base class
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # `? [a, b]`: said by the base class, as YAML's error
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _load_yaml(text: str, name: str | None = None) -> Any:
    """`text` as YAML; `name`: the file it came from, which PyYAML's messages then give for where an error
    is (else "<unicode string>")."""
    if name is None:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no Python objects from the file
    stream = io.StringIO(text)
    stream.name = name  # type: ignore[misc]  (read by PyYAML's Reader for its marks)
    return yaml.load(stream, Loader=_UniqueKeyLoader)


def parse_override(text: str) -> dict[str, Any]:
    """'optim.lr=1e-3' -> {"optim": {"lr": 0.001}}; the value is read as YAML (numbers, lists, true).
    Its errors say what is wrong, not where: load_config prefixes the override."""
    if "=" not in text:
        raise ConfigError("expected section.key=value")
    key, raw = text.split("=", 1)
    try:
        value = _load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"the value is not valid YAML ({exc})") from exc
    nested: dict[str, Any] = {}
    node = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def _dangling_link(path: Path) -> str:
    """Why a link names no file. Its own target alone misled for a chain of links (that target is there,
    a link itself) and for a loop: the chain's end is named, or the loop said."""
    target = os.readlink(path)
    try:
        end = path.resolve()
    except (RuntimeError, OSError):  # a loop: RuntimeError up to Python 3.12, OSError after
        return f"is a link to {target}, and the links lead round in a loop, to no file"
    onward = f", a link on to {end}" if (path.parent / target).is_symlink() else ""
    return f"is a link to {target}{onward}, which does not exist"


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None, base: TrainConfig | None = None
) -> TrainConfig:
    """Defaults (or `base`) <- YAML file <- `--set` overrides, checked key by key."""
    config = base if base is not None else TrainConfig()
    if path:
        path = Path(path)
        if path.is_symlink() and not path.exists():
            raise ConfigError(f"config file {path} {_dangling_link(path)}")
        if not path.is_file():
            raise ConfigError(f"config file {path} {'is a folder' if path.is_dir() else 'does not exist'}")
        try:
            values = _load_yaml(path.read_text(encoding="utf-8-sig"), str(path))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: byte {exc.start}: not UTF-8 text (a YAML config)") from None
        if values is None:  # an empty file would train on the defaults, another network than meant
            raise ConfigError(f"{path}: empty, no settings in it (a YAML config: training/configs/ has some)")
        merged = _merge(config, values, f"{path}:")
        if (wrong := wrongly_changed(config, merged)) is not None:
            raise ConfigError(f"{path}: {wrong}")
        config = merged
    for text in overrides or []:
        try:
            merged = _merge(config, parse_override(text), "")
            if (wrong := wrongly_changed(config, merged)) is not None:
                raise ConfigError(wrong)
            config = merged
        except ConfigError as exc:
            raise ConfigError(f"--set {text}: {exc}") from exc
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """A configuration a checkpoint recorded (`config_to_dict`), read as the run that wrote it meant it."""
    if isinstance(values.get("data"), dict):
        values = {**values, "data": recorded_data(values["data"])}
    return _merge(TrainConfig(), values, "config")


def recorded_data(data: dict[str, Any]) -> dict[str, Any]:
    """A recorded `data` section, every setting it was written without filled in as it was then: the
    default, since a checkpoint saved before an option existed trained as the default does; except
    `pkummd_hold_out` of a PKU-MMD checkpoint from before it, which held PKU-MMD out by performance (its
    test set is that split's: its weights trained on much of the other one's). Other datasets' keep the
    default, which does not touch them, so that old and new checkpoints of theirs still go together."""
    filled = {**dataclasses.asdict(DataConfig()), **data}
    if "pkummd_hold_out" not in data and filled["dataset"] == "pkummd":
        filled["pkummd_hold_out"] = "performance"
    return filled


def write_config(config: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")
