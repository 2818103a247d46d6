"""What a network file says about itself: classes, profile, window, crops, normalisation, decision
settings, source hash.

Every engine carries an `EngineMetadata`, so a file alone says how to feed it (torchvision's habit with
weights, taken further). An exported ONNX file holds the same record in its `metadata_props`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import mmap
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.model.profiles import PROFILES, NetworkConfig
from core.model.settings import DecisionSettings, Preprocessing

if TYPE_CHECKING:  # a checkpoint (and PyTorch with it) is loaded by whoever has one
    from core.model.checkpoint import Checkpoint

METADATA_FORMAT = "where-to-focus.engine/1"


class OnnxMetadataError(ValueError):
    """An ONNX file without (or with a broken) where-to-focus metadata record."""


@dataclass(frozen=True)
class EngineMetadata:
    """What a network file says about itself: how to feed it and what its outputs mean."""

    class_names: tuple[str, ...]
    profile: str  # "paper", "lite", "tiny", ... or "custom"
    config: NetworkConfig
    preprocessing: Preprocessing
    checkpoint_sha256: str  # of the checkpoint file the weights came from
    decisions: DecisionSettings = DecisionSettings()  # smoothing / threshold chosen for this model
    # What the checkpoint says of how it was made (`provenance_of`): for the app's start-up line, so that
    # whoever runs a room can tell which model it runs. Empty for files exported before it was recorded.
    provenance: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def describe_provenance(self) -> str:
        """'sha256 1c2b3d4e5f6a, trained on pkummd (pose stage, epoch 8, validation top-1 0.902), version
        0.9.0 at 3f2e1d0': what the start-up line says of the model file."""
        made = self.provenance
        said = [f"sha256 {self.checkpoint_sha256[:12]}"]
        if made.get("dataset"):
            how = [f"{made['stage']} stage"] if made.get("stage") else []
            how += [f"epoch {made['epoch']}"] if made.get("epoch") is not None else []
            how += [f"{made['members']} members averaged"] if made.get("members") else []
            top1 = made.get("validation_top1")
            how += [f"validation top-1 {top1:.3f}"] if top1 is not None else []
            said.append(f"trained on dataset {made['dataset']}" + (f" ({', '.join(how)})" if how else ""))
        if made.get("version"):
            commit = f" at {made['commit']}" if made.get("commit") else ""
            said.append(f"by version {made['version']}{commit}")
        return ", ".join(said)

    @property
    def window_seconds(self) -> float:
        return self.preprocessing.window.duration_s

    @property
    def window_frames(self) -> int:
        return self.config.num_frames

    @property
    def crop_size(self) -> int:
        return self.config.crop_size

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.config.parts)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def crops_shape(self, people: int) -> tuple[int, ...]:
        size = self.crop_size
        return (people, len(self.parts), self.window_frames, size, size, 3)

    def skeleton_shape(self, people: int) -> tuple[int, ...]:
        return (people, self.window_frames, self.config.num_bodies, self.config.num_joints, 3)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, checkpoint_sha256: str) -> EngineMetadata:
        profile = checkpoint.extra.get("profile")
        return cls(
            class_names=tuple(checkpoint.class_names),
            profile=str(profile) if profile else profile_name(checkpoint.config),
            config=checkpoint.config,
            preprocessing=checkpoint.preprocessing,
            checkpoint_sha256=checkpoint_sha256,
            decisions=checkpoint.decisions,
            provenance=provenance_of(checkpoint.extra),
        )

    def to_onnx_props(self) -> dict[str, str]:
        """Key -> JSON text. The plain keys are for any reader (netron, other tools); `network_config`
        and `preprocessing` are the full records this module rebuilds the metadata from."""
        p = self.preprocessing
        values: dict[str, Any] = {
            "format": METADATA_FORMAT,
            "class_names": list(self.class_names),
            "profile": self.profile,
            "window_seconds": self.window_seconds,
            "window_frames": self.window_frames,
            "crop_size": self.crop_size,
            "parts": list(self.parts),
            "skeleton": {
                "layout": p.layout,
                "bodies": self.config.num_bodies,
                "joints": self.config.num_joints,
                "normalisation": p.skeleton_normalisation,
            },
            "normalisation": {
                "input": "crops float32 RGB 0..255, the graph maps x -> x * scale + offset",
                "color_order": p.color_order,
                "scale": p.pixel_scale,
                "offset": p.pixel_offset,
            },
            "checkpoint_sha256": self.checkpoint_sha256,
            "network_config": self.config.to_dict(),
            "preprocessing": p.to_dict(),
            "decisions": dataclasses.asdict(self.decisions),
            "provenance": dict(self.provenance),
        }
        return {key: json.dumps(value) for key, value in values.items()}

    @classmethod
    def from_onnx_props(cls, props: Mapping[str, str], *, source: str) -> EngineMetadata:
        if props.get("format") != json.dumps(METADATA_FORMAT):
            raise OnnxMetadataError(
                f"{source}: no where-to-focus metadata (metadata_props 'format' is "
                f"{props.get('format')!r}, expected {json.dumps(METADATA_FORMAT)}); "
                "export the file with `python -m training export`"
            )
        try:
            values = {key: json.loads(props[key]) for key in props}
            config = NetworkConfig.from_dict(values["network_config"], source=source)
            preprocessing = Preprocessing.from_dict(values["preprocessing"], source=source)
            metadata = cls(
                class_names=tuple(values["class_names"]),
                profile=str(values["profile"]),
                config=config,
                preprocessing=preprocessing,
                checkpoint_sha256=str(values["checkpoint_sha256"]),
                # Files exported before models carried decision settings have none: the app's defaults.
                decisions=DecisionSettings.from_dict(values.get("decisions"), source=source),
                provenance=dict(values.get("provenance") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise OnnxMetadataError(f"{source}: broken metadata_props record ({error!r})") from error
        if len(metadata.class_names) != config.num_classes:
            raise OnnxMetadataError(
                f"{source}: {len(metadata.class_names)} class names for {config.num_classes} logits"
            )
        return metadata


def provenance_of(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The plain facts of a checkpoint's `extra` that say which model it is: the dataset, the stage and
    epoch it was saved at, its validation top-1, its ensemble's member count, and the software's version
    and commit (training.stages.software_record; checkpoints before it have none)."""
    validation = extra.get("validation")
    top1 = validation.get("top1") if isinstance(validation, Mapping) else None
    software = extra.get("software") if isinstance(extra.get("software"), Mapping) else {}
    members = extra.get("ensemble_members")
    facts = {
        "dataset": extra.get("dataset"),
        "stage": extra.get("stage"),
        "epoch": extra.get("epoch"),
        "validation_top1": float(top1) if isinstance(top1, (int, float)) else None,
        "members": len(members) if isinstance(members, list) else None,
        "version": software.get("version"),
        "commit": software.get("commit"),
    }
    return {key: value for key, value in facts.items() if isinstance(value, (str, int, float))}


def profile_name(config: NetworkConfig) -> str:
    """The preset a config equals (ignoring its class count), or "custom"."""
    for name, preset in PROFILES.items():
        if preset(config.num_classes) == config:
            return name
    return "custom"


def read_onnx_metadata(path: str | os.PathLike) -> EngineMetadata:
    """The metadata record of an ONNX file written by `export_onnx` (weights are not loaded)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    if path.stat().st_size == 0:
        raise OnnxMetadataError(f"{path}: the file is empty (0 bytes); was it copied completely?")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf raises DecodeError and others: all mean "not an ONNX file"
        raise OnnxMetadataError(f"{path}: cannot read as ONNX ({type(error).__name__}: {error})") from error
    props = {p.key: p.value for p in model.metadata_props}
    metadata = EngineMetadata.from_onnx_props(props, source=str(path))
    _check_input_shapes(model.graph, metadata, path)
    return metadata


# ModelProto's metadata_props and StringStringEntryProto's key and value (onnx.proto's field numbers).
_METADATA_PROPS, _KEY, _VALUE = 14, 1, 2


def exported_metadata_props(path: str | os.PathLike) -> dict[str, str]:
    """The metadata_props of an ONNX file this project exported (its bytes checked by the caller: a cached
    export against the hash the export wrote), read from the file's protobuf fields without the onnx
    package, whose import costs a start half a second. ValueError where the fields do not parse."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        props = {}
        for number, start, end in _length_fields(data, 0, len(data)):
            if number == _METADATA_PROPS:  # the graph before it (field 7, the weights in it) is skipped whole
                entry = {n: bytes(data[s:e]).decode("utf-8") for n, s, e in _length_fields(data, start, end)}
                props[entry.get(_KEY, "")] = entry.get(_VALUE, "")
        return props


def _length_fields(data: mmap.mmap, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(field number, start, end) of each length-delimited field of the protobuf message data[start:end];
    the others (numbers, fixed-size values) are skipped."""
    position = start
    while position < end:
        key, position = _varint(data, position)
        wire_type = key & 7
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        elif wire_type == 2:
            length, position = _varint(data, position)
            if position + length > end:
                raise ValueError(f"a field runs past its message's end (byte {position + length} > {end})")
            yield key >> 3, position, position + length
            position += length
        else:
            raise ValueError(f"wire type {wire_type} at byte {position}: not a protobuf message")
    if position != end:
        raise ValueError(f"a field runs past its message's end (byte {position} > {end})")


def _varint(data: mmap.mmap, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError(f"a number cut short at byte {position}")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _check_input_shapes(graph, metadata: EngineMetadata, path: Path) -> None:
    """The graph's inputs have the shapes its metadata describes (per person; the batch is free): another
    model's record on this graph would otherwise fail as a runtime's shape error at the first window."""
    expected = {"crops": metadata.crops_shape(1)[1:], "skeleton": metadata.skeleton_shape(1)[1:]}
    for value in graph.input:
        if value.name not in expected:
            continue
        dims = value.type.tensor_type.shape.dim
        declared = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)[1:]
        wanted = expected[value.name]
        if len(declared) != len(wanted) or any(
            d is not None and d != w for d, w in zip(declared, wanted, strict=True)
        ):
            shown = "x".join("?" if d is None else str(d) for d in declared)
            raise OnnxMetadataError(
                f"{path}: its graph takes {value.name} of {shown} per person, and its metadata describes "
                f"{'x'.join(map(str, wanted))}: the record is another model's; export the checkpoint again"
            )


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
