"""Checkpoints: one file rebuilds the exact network, says how to feed it, and refuses what does not fit."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest
import torch

from core.glimpse import GlimpseConfig
from core.model import (
    CheckpointError,
    PartAttentionNetwork,
    Preprocessing,
    load_checkpoint,
    load_network_state,
    pose_only,
    read_i3d_weights,
    save_checkpoint,
    tiny,
)
from core.model.checkpoint import FORMAT_VERSION, DecisionSettings
from core.window import WindowSpec

torch.set_num_threads(1)
CLASSES = ["drink water", "eat meal", "brush teeth", "brush hair", "drop"]


def trained_network(seed: int = 0, config=None) -> PartAttentionNetwork:
    torch.manual_seed(seed)
    network = PartAttentionNetwork(config or tiny(5))
    for parameter in network.parameters():  # not the initial values, so a lost tensor shows
        parameter.data.add_(torch.randn_like(parameter) * 0.01)
    return network.eval()


def sample(network: PartAttentionNetwork) -> tuple[torch.Tensor, torch.Tensor]:
    c = network.config
    g = torch.Generator().manual_seed(3)
    crops = torch.rand(2, len(c.parts), c.num_frames, c.crop_size, c.crop_size, 3, generator=g) * 255
    return crops, torch.randn(2, c.num_frames, c.num_bodies, c.num_joints, 3, generator=g)


def test_round_trip_rebuilds_the_exact_model(tmp_path: Path) -> None:
    network = trained_network()
    preprocessing = Preprocessing.matching(
        network.config, duration_s=1.5, glimpse=GlimpseConfig(hand_size_m=0.25)
    )
    path = tmp_path / "model.pt"
    save_checkpoint(path, network, class_names=CLASSES, preprocessing=preprocessing, extra={"epoch": 7})
    checkpoint = load_checkpoint(path)
    assert checkpoint.config == network.config
    assert checkpoint.class_names == CLASSES
    assert checkpoint.extra == {"epoch": 7}
    assert checkpoint.preprocessing == preprocessing
    assert checkpoint.preprocessing.window == WindowSpec(duration_s=1.5, num_frames=8)
    assert (
        checkpoint.preprocessing.glimpse.crop_size == 32
        and checkpoint.preprocessing.glimpse.hand_size_m == 0.25
    )
    assert not checkpoint.model.training
    crops, skeleton = sample(network)
    with torch.no_grad():
        for got, expected in zip(checkpoint.model(crops, skeleton), network(crops, skeleton), strict=True):
            assert torch.equal(got, expected)
    assert not list(tmp_path.glob("*.partial"))


def test_a_save_cut_short_leaves_the_last_checkpoint_whole_and_nothing_beside_it(tmp_path, monkeypatch):
    """A training run writes best.pt every better epoch: a save that fails half-way (a full disk, Ctrl-C)
    left its fixed-name `best.pt.partial` beside the model, hundreds of MB, for ever; and a checkpoint was
    renamed into place without being on disk first, so a power cut could leave best.pt empty."""
    from core import atomic

    network = trained_network()
    preprocessing = Preprocessing.matching(network.config, duration_s=1.5)
    path = tmp_path / "best.pt"
    save_checkpoint(path, network, class_names=CLASSES, preprocessing=preprocessing, extra={"epoch": 1})
    real_save = torch.save

    def cut_short(payload, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", cut_short)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, trained_network(1), class_names=CLASSES, preprocessing=preprocessing,
                        extra={"epoch": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]
    assert load_checkpoint(path).extra == {"epoch": 1}

    monkeypatch.setattr(torch, "save", real_save)
    synced = []
    real_fsync = atomic.os.fsync
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    save_checkpoint(path, network, class_names=CLASSES, preprocessing=preprocessing, extra={"epoch": 3})
    assert len(synced) >= 1 and load_checkpoint(path).extra == {"epoch": 3}


def test_a_full_disk_is_said_as_one_error_naming_the_checkpoint(tmp_path, monkeypatch):
    """PyTorch's zip writer turns a full disk's OSError into "RuntimeError: [enforce fail at
    inline_container.cc:672] . unexpected pos ...": a training run ended in a 40-line traceback, naming
    neither the file nor the disk. The real torch.save, into a file that fills after 4 kB."""
    import errno
    import os

    from core import atomic

    network = trained_network()
    preprocessing = Preprocessing.matching(network.config, duration_s=1.5)
    path = tmp_path / "best.pt"
    save_checkpoint(path, network, class_names=CLASSES, preprocessing=preprocessing, extra={"epoch": 1})

    class FillsUp:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 4096:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    real_fdopen = atomic.os.fdopen
    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: FillsUp(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as raised:
        save_checkpoint(path, trained_network(1), class_names=CLASSES, preprocessing=preprocessing,
                        extra={"epoch": 2})
    assert str(raised.value) == f"{path} could not be written: No space left on device"
    assert raised.value.errno == errno.ENOSPC
    monkeypatch.undo()
    # PyTorch's own failures that are no write's stay what they are.
    from core.model.checkpoint import save_atomically

    def not_a_write(payload, f):
        try:
            raise ValueError("a tensor PyTorch cannot save")
        except ValueError:
            raise RuntimeError("[enforce fail] not a write") from None

    monkeypatch.setattr(torch, "save", not_a_write)
    with pytest.raises(RuntimeError, match="not a write"):
        save_atomically({}, tmp_path / "other.pt")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]
    assert load_checkpoint(path).extra == {"epoch": 1}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised by importing torch.compile
def test_wrapped_models_save_and_prefixed_weights_load(tmp_path: Path) -> None:
    network = trained_network()
    compiled = torch.compile(network)  # compiles lazily: never run here
    parallel = torch.nn.DataParallel(compiled)
    assert next(iter(parallel.state_dict())).startswith("module._orig_mod.")
    path = tmp_path / "wrapped.pt"
    save_checkpoint(path, parallel, class_names=CLASSES, preprocessing=Preprocessing.matching(network.config))
    payload = torch.load(path, weights_only=True)
    assert all(k.startswith(("parts.", "pose.", "attention.", "classifier.")) for k in payload["state_dict"])

    fresh = PartAttentionNetwork(network.config)
    load_network_state(fresh, parallel.state_dict())
    load_network_state(fresh, {f"_orig_mod.module.{k}": v for k, v in network.state_dict().items()})
    for key, value in network.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_checkpoint_that_does_not_fit_says_what_differs(tmp_path: Path) -> None:
    network = trained_network()
    path = tmp_path / "model.pt"
    save_checkpoint(path, network, class_names=CLASSES, preprocessing=Preprocessing.matching(network.config))
    payload = torch.load(path, weights_only=True)

    payload["config"]["width"] = 0.25  # weights of a 1/8-width network under a 1/4-width config
    torch.save(payload, tmp_path / "wider.pt")
    with pytest.raises(
        CheckpointError, match=r"wider\.pt: weights do not fit.*other shapes: parts\.0\.Conv3d_1a"
    ):
        load_checkpoint(tmp_path / "wider.pt")

    payload["config"]["width"] = 0.125
    del payload["state_dict"]["attention.score.bias"]
    payload["state_dict"]["attention.temperature"] = torch.ones(1)
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(
        CheckpointError, match=r"1 missing: attention\.score\.bias; 1 unexpected: attention\.temp"
    ):
        load_checkpoint(tmp_path / "edited.pt")

    payload["format_version"] = FORMAT_VERSION + 1
    torch.save(payload, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match=r"newer\.pt: format version 2; this code reads up to 1 \(the "
                                              r"file was written by a version that did not record itself"):
        load_checkpoint(tmp_path / "newer.pt")
    # What to do about a newer version's file: it says which version wrote it.
    software = {"version": "0.3.0", "commit": "9a8b7c6"}
    torch.save({**payload, "extra": {"software": software}}, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match=r"reads up to 1 \(the file was written by version 0\.3\.0 at "
                                              r"9a8b7c6: a newer version runs it\)"):
        load_checkpoint(tmp_path / "newer.pt")
    setting = {**payload, "format_version": FORMAT_VERSION, "extra": {"software": software},
               "config": {**payload["config"], "pose_stream": "transformer"}}
    torch.save(setting, tmp_path / "setting.pt")
    torch.save({**payload, "extra": {"software": {"commit": "9a8b7c6"}}}, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match=r"\(the file was written by a version that did not record"):
        load_checkpoint(tmp_path / "newer.pt")
    said = (r"'transformer' is not a valid PoseStream \(the file was written by version 0\.3\.0 at 9a8b7c6: "
            r"a setting this version does not know is a newer version's\)")
    with pytest.raises(CheckpointError, match=said):
        load_checkpoint(tmp_path / "setting.pt")

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.pt: cannot read as a torch checkpoint: it is no"):
        load_checkpoint(tmp_path / "junk.pt")
    whole = (tmp_path / "newer.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[: len(whole) // 2])  # a copy that stopped half way
    with pytest.raises(CheckpointError, match=r"cut\.pt: .*cut short or damaged; was the file copied"):
        load_checkpoint(tmp_path / "cut.pt")
    # Said before as torch's "[enforce fail at inline_container.cc:180] . file in archive is not in a
    # subdirectory", and an export as "no PyTorch checkpoint, or one holding more than tensors".
    with zipfile.ZipFile(tmp_path / "photos.pt", "w") as archive:
        archive.writestr("ward.jpg", b"\xff\xd8")
    with pytest.raises(CheckpointError, match=r"photos\.pt: .*a zip archive but no PyTorch checkpoint"):
        load_checkpoint(tmp_path / "photos.pt")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x08\x12\x07pytorch")  # an ONNX graph's first bytes
    with pytest.raises(CheckpointError, match=r"model\.onnx: .*an exported ONNX graph, .* the \.pt"):
        load_checkpoint(tmp_path / "model.onnx")
    torch.save({"Conv3d_1a_7x7.conv3d.weight": torch.zeros(1)}, tmp_path / "port.pt")
    # Not "(format None, ...)": a file with no format record has none to quote.
    with pytest.raises(CheckpointError, match=r"port\.pt: not a network checkpoint: not written by this"):
        load_checkpoint(tmp_path / "port.pt")
    # The resume state beside a run's networks: the likeliest file to be given by mistake.
    torch.save({"stage": "pose", "optimizer": {}, "model": {}}, tmp_path / "state.pt")
    with pytest.raises(CheckpointError, match=r"state\.pt: not a network .*resume state: give its best"):
        load_checkpoint(tmp_path / "state.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pt: the file is empty \(0 bytes\)"):
        load_checkpoint(tmp_path / "empty.pt")
    # Bit rot inside a tensor, same size: torch.load would read the changed weights as they are.
    weights = torch.full((4096,), 0.5)
    torch.save({"weights": weights}, tmp_path / "rot.pt")
    rot = bytearray((tmp_path / "rot.pt").read_bytes())
    at = bytes(rot).find(weights.numpy().tobytes()[:64]) + 1000
    rot[at] ^= 0x40
    (tmp_path / "rot.pt").write_bytes(bytes(rot))
    with pytest.raises(CheckpointError, match=r"rot\.pt: damaged: rot/data/0 fails its CRC check"):
        load_checkpoint(tmp_path / "rot.pt")


def test_save_refuses_inconsistent_metadata(tmp_path: Path) -> None:
    network = trained_network()
    preprocessing = Preprocessing.matching(network.config)
    with pytest.raises(ValueError, match="4 class names for a network with 5 classes"):
        save_checkpoint(tmp_path / "a.pt", network, class_names=CLASSES[:4], preprocessing=preprocessing)
    wrong = Preprocessing(window=WindowSpec(2.0, 20), layout="kinect_v1", num_bodies=1)
    with pytest.raises(
        ValueError, match=r"window has 20 frames, the network 8.*crops are 112 px.*1 bodies.*kinect_v1"
    ):
        save_checkpoint(tmp_path / "b.pt", network, class_names=CLASSES, preprocessing=wrong)
    assert not list(tmp_path.iterdir())


def test_pose_only_model_uses_the_same_checkpoints(tmp_path: Path) -> None:
    network = trained_network(config=pose_only(tiny(5)))
    preprocessing = Preprocessing.matching(network.config)
    assert preprocessing.parts == ()
    save_checkpoint(tmp_path / "pose.pt", network, class_names=CLASSES, preprocessing=preprocessing)
    checkpoint = load_checkpoint(tmp_path / "pose.pt")
    skeleton = sample(network)[1]
    with torch.no_grad():
        logits, attention = checkpoint.model(None, skeleton)
        assert torch.equal(logits, network(None, skeleton)[0])
    assert attention.shape == (2, 0)
    # The pose LSTM of a full network takes these weights directly (Algorithm 1 steps 3 -> 4).
    full = PartAttentionNetwork(tiny(5))
    full.pose.load_state_dict(checkpoint.model.pose.state_dict())


def test_read_i3d_weights_unwraps_state_dict_records(tmp_path: Path) -> None:
    weights = {"Conv3d_1a_7x7.conv3d.weight": torch.ones(2, 3, 7, 7, 7)}
    torch.save(weights, tmp_path / "plain.pt")
    torch.save({"state_dict": weights, "epoch": 3}, tmp_path / "wrapped.pt")
    for name in ("plain.pt", "wrapped.pt"):
        assert torch.equal(
            read_i3d_weights(tmp_path / name)["Conv3d_1a_7x7.conv3d.weight"],
            weights["Conv3d_1a_7x7.conv3d.weight"],
        )
    torch.save({"weights": [1, 2]}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=r"odd\.pt: expected a state dict of tensors"):
        read_i3d_weights(tmp_path / "odd.pt")


# Outputs of a committed LSTM checkpoint, recorded with code from before the pose stream became a
# choice (commit 59c3dd6): files saved without `pose_stream` must rebuild the same LSTM network.
BEFORE_THE_GRAPH_STREAM = {
    "nucla_lstm.pt": (
        [
            [4.874671, 3.958286, 0.618181, -0.736819, -0.559214,
             -0.258200, -2.441751, -2.096030, -2.212419, -2.582316],
            [1.883755, 2.822794, 2.719305, 0.642167, -0.826698,
             -1.905203, -2.410763, -1.593403, -1.114361, -1.968549],
        ],
        [[], []],
    ),
}  # fmt: skip


# Outputs of the committed demo (pose_fusion 0.5), recorded when it was committed (session 17: its last two
# stages trained again on the simulator's kick without arm movement): the mixture of its two branches must
# not change under it (the app's default model on the simulator).
DEMO_WHEN_COMMITTED = (
    [
        [-6.113308, -2.321731, -6.295876, -1.344677, -7.141690, -2.435781,
         -4.648431, -4.869453, -1.845655, -2.682792, -1.186308],
        [-7.347036, -5.402819, -7.430940, -4.028826, -7.833338, -5.442140,
         -2.982480, -5.270789, -0.501514, -3.372004, -1.287366],
    ],
    [[0.039385, 0.568670, 0.391945], [0.034924, 0.067266, 0.897810]],
)  # fmt: skip


@pytest.mark.parametrize("name", sorted(BEFORE_THE_GRAPH_STREAM))
def test_committed_lstm_checkpoints_give_the_outputs_they_gave_before(name: str) -> None:
    _assert_committed_outputs(name, BEFORE_THE_GRAPH_STREAM[name])


def test_the_committed_demo_gives_the_outputs_it_gave_when_committed() -> None:
    _assert_committed_outputs("demo.pt", DEMO_WHEN_COMMITTED)


def _assert_committed_outputs(name: str, expected: tuple[list, list]) -> None:
    """The committed checkpoint's logits and attention for a fixed random input (seed 7)."""
    path = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / name
    loaded = load_checkpoint(path)
    assert loaded.config.pose_stream.value == "lstm"
    config = loaded.config
    g = torch.Generator().manual_seed(7)
    skeleton = torch.randn(2, config.num_frames, config.num_bodies, config.num_joints, 3, generator=g) * 0.5
    crops = None
    if config.parts:
        crops = torch.rand(
            2, len(config.parts), config.num_frames, config.crop_size, config.crop_size, 3, generator=g
        )
        crops = crops * 255
    with torch.no_grad():
        logits, attention = loaded.model(crops, skeleton)
    want_logits, want_attention = (torch.tensor(v).reshape(2, -1) for v in expected)
    torch.testing.assert_close(logits, want_logits, atol=2e-5, rtol=0)
    torch.testing.assert_close(attention, want_attention, atol=2e-6, rtol=0)


def test_how_a_model_was_made_travels_with_it_for_the_app_to_say(tmp_path: Path) -> None:
    """Two checkpoints of one class list gave the app the same start-up lines: which one a room ran could
    not be told. The file's hash and what its training recorded, in the checkpoint's metadata and its ONNX
    file's (an export from before has none)."""
    from core.engines.metadata import EngineMetadata

    config = pose_only(tiny(len(CLASSES)))
    path = tmp_path / "made.pt"
    extra = {"dataset": "pkummd", "stage": "pose", "epoch": 8, "validation": {"top1": 0.90237, "loss": 0.4},
             "software": {"version": "0.2.0", "commit": "3f2e1d0+changes", "torch": "2.13.0"},
             "train_config": {"optim": {"lr": 0.001}}}
    save_checkpoint(path, PartAttentionNetwork(config).eval(), class_names=CLASSES,
                    preprocessing=Preprocessing.matching(config), extra=extra)
    loaded = load_checkpoint(path)
    metadata = EngineMetadata.from_checkpoint(loaded, loaded.sha256)
    assert metadata.describe_provenance() == (
        f"sha256 {loaded.sha256[:12]}, trained on dataset pkummd (pose stage, epoch 8, validation top-1 "
        "0.902), by version 0.2.0 at 3f2e1d0+changes")
    props = metadata.to_onnx_props()
    assert EngineMetadata.from_onnx_props(props, source="x.onnx") == metadata
    del props["provenance"]
    assert EngineMetadata.from_onnx_props(props, source="x.onnx").describe_provenance() == (
        f"sha256 {loaded.sha256[:12]}")
    # A first epoch's, a version without its commit (an installed copy), nothing at all.
    first = EngineMetadata.from_checkpoint(dataclasses.replace(loaded, extra={
        "dataset": "nucla", "epoch": 0, "software": {"version": "0.2.0", "commit": None}}), loaded.sha256)
    assert first.describe_provenance().endswith("trained on dataset nucla (epoch 0), by version 0.2.0")
    from core.engines.metadata import provenance_of

    assert provenance_of({}) == {} and provenance_of({"validation": {"top1": None}, "epoch": None}) == {}
    members = [{"file": "a.pt"}, {"file": "b.pt"}, {"file": "c.pt"}]
    ensemble = dataclasses.replace(loaded, extra={"dataset": "pkummd", "ensemble_members": members})
    averaged = EngineMetadata.from_checkpoint(ensemble, loaded.sha256)
    assert averaged.describe_provenance().endswith("trained on dataset pkummd (3 members averaged)")


def test_decision_settings_travel_with_the_model(tmp_path: Path) -> None:
    """The smoothing and threshold chosen for a model are in its checkpoint and in its ONNX file; files
    from before they existed have none (the app's defaults), and bad values name the file."""
    from core.engines.metadata import EngineMetadata, OnnxMetadataError

    config = pose_only(tiny(len(CLASSES)))
    network = PartAttentionNetwork(config).eval()
    chosen = DecisionSettings(smoothing_s=0.25, threshold=0.7, end_threshold=0.3)
    path = tmp_path / "chosen.pt"
    save_checkpoint(path, network, class_names=CLASSES, preprocessing=Preprocessing.matching(config),
                    decisions=chosen)
    loaded = load_checkpoint(path)
    assert loaded.decisions == chosen
    metadata = EngineMetadata.from_checkpoint(loaded, "0" * 64)
    props = metadata.to_onnx_props()
    assert EngineMetadata.from_onnx_props(props, source="x.onnx").decisions == chosen
    del props["decisions"]
    assert EngineMetadata.from_onnx_props(props, source="x.onnx").decisions == DecisionSettings()
    with pytest.raises(OnnxMetadataError, match="bad.onnx.*threshold"):
        EngineMetadata.from_onnx_props({**props, "decisions": '{"threshold": 1.5}'}, source="bad.onnx")

    payload = torch.load(path, weights_only=True)
    del payload["decisions"]  # as every file saved before the record existed
    torch.save(payload, tmp_path / "old.pt")
    assert load_checkpoint(tmp_path / "old.pt").decisions == DecisionSettings()
    payload["decisions"] = {"smoothing_s": -1.0}
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt: invalid decisions record.*smoothing_s"):
        load_checkpoint(tmp_path / "bad.pt")
    # Given settings win over a model's, a model's over the fallback.
    assert DecisionSettings(threshold=0.9).over(chosen) == DecisionSettings(0.25, 0.9, 0.3)
    with pytest.raises(ValueError, match="end_threshold must be in"):
        DecisionSettings(end_threshold=0.0)
    assert DecisionSettings().over(DecisionSettings()).over(chosen) == chosen


def test_a_checkpoint_knows_the_hash_of_the_bytes_it_was_loaded_from(tmp_path):
    """Cached exports are keyed by it: hashed after loading, the file could be a newer one a training run
    put in its place meanwhile, and the old weights would be cached under the new file's hash."""
    import hashlib

    from model_files import random_checkpoint

    from core.model.profiles import tiny

    path = random_checkpoint(tmp_path / "m.pt", tiny(3), ["a", "b", "c"])
    data = path.read_bytes()
    assert load_checkpoint(path).sha256 == hashlib.sha256(data).hexdigest()
    # torch's format before 1.6 (no zip, so no CRCs to check) still loads.
    legacy = tmp_path / "legacy.pt"
    torch.save(torch.load(path, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    assert load_checkpoint(legacy).class_names == ["a", "b", "c"]


def test_pixels_recorded_other_than_the_network_maps_them_are_refused():
    from core.model.checkpoint import Preprocessing
    from core.model.profiles import tiny

    config = tiny(3)
    fitting = Preprocessing.matching(config)
    assert fitting.mismatches(config) == []
    bgr = dataclasses.replace(fitting, color_order="BGR", pixel_scale=1 / 255, pixel_offset=0.0)
    assert bgr.mismatches(config) == ["pixels BGR x 0.00392157 + 0; the network maps RGB x 0.00784314 + -1"]


def test_an_end_threshold_above_the_threshold_is_refused_given_and_dropped_stored() -> None:
    """Given together on a command line it is a contradiction. Stored (a checkpoint or a run saved before
    this was refused, a fine-tune's --set decisions.threshold under its base's end threshold) it must still
    load: refusing it there made such models unusable everywhere."""
    from core.model.checkpoint import DecisionSettings

    with pytest.raises(ValueError, match="end threshold 0.3 is above threshold 0.25"):
        DecisionSettings.given(threshold=0.25, end_threshold=0.3)
    stored = DecisionSettings.from_dict({"smoothing_s": 0.25, "threshold": 0.25, "end_threshold": 0.3})
    assert stored.over(DecisionSettings()).end_threshold is None  # where it is used: events end at 0.25


def test_a_checkpoint_cut_short_inside_its_zip_header_is_refused_by_name(tmp_path) -> None:
    """Cut to 4-21 bytes, a file still starts with the zip signature: mmap's "seek out of range" was a
    traceback from evaluate, finetune and ensemble, and a bare line without the file's name from live."""
    whole = (Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "demo.pt").read_bytes()
    for size in (4, 10, 21):
        path = tmp_path / f"cut_{size}.pt"
        path.write_bytes(whole[:size])
        with pytest.raises(CheckpointError, match=rf"cut_{size}\.pt: cannot read as a torch checkpoint"):
            load_checkpoint(path)


@pytest.mark.usefixtures("one_torch_thread")
def test_our_onnx_export_given_as_a_checkpoint_names_the_pt_it_was_exported_from(tmp_path) -> None:
    """Renamed .pt it read as "no PyTorch checkpoint"; as .onnx it did not say which .pt to give."""
    import shutil

    from model_files import random_checkpoint

    from core.engines import EngineMetadata, export_onnx

    source = random_checkpoint(tmp_path / "tiny.pt", tiny(3), ["a", "b", "c"])
    checkpoint = load_checkpoint(source)
    export_onnx(checkpoint.model, EngineMetadata.from_checkpoint(checkpoint, checkpoint.sha256),
                tmp_path / "tiny.onnx")
    with pytest.raises(CheckpointError, match=r"tiny\.onnx: cannot read as a torch checkpoint: an exported "
                                              r"ONNX graph, .* exported from \(.*tiny\.pt is beside it\)"):
        load_checkpoint(tmp_path / "tiny.onnx")
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(tmp_path / "tiny.onnx", tmp_path / "elsewhere" / "model.pt")
    said = (r"model\.pt: cannot read as a torch checkpoint: an exported ONNX graph, not a checkpoint "
            r"\(python -m live runs it named \.onnx\); this command reads the \.pt checkpoint it was "
            r"exported from$")
    with pytest.raises(CheckpointError, match=said):
        load_checkpoint(tmp_path / "elsewhere" / "model.pt")
