"""The network: part I3Ds, the pose stream (LSTM or graph network) and its attention, the loss, profiles
and checkpoints.

from core.model import PartAttentionNetwork, paper, lite, tiny, load_checkpoint
"""

import importlib

# Each name and the module that holds it, imported when first asked for: reading a model's settings
# (core.model.settings, core.model.profiles) must not import PyTorch, which the network's modules do --
# the app then starts a model on ONNX Runtime without it (core/engines/selection.py).
_WHERE = {
    "Checkpoint": "checkpoint", "load_checkpoint": "checkpoint", "load_network_state": "checkpoint",
    "read_i3d_weights": "checkpoint", "save_checkpoint": "checkpoint",
    "PoseGCN": "graph",
    "InceptionI3d": "i3d", "load_i3d_state_dict": "i3d",
    "LossTerms": "loss", "LossWeights": "loss", "NTU_LOSS": "loss", "p_i3d_loss": "loss",
    "PartAttentionNetwork": "network", "PartLogits": "network", "PoseLogits": "network",
    "Stage": "network",
    "AttentionHead": "pose", "PoseLSTM": "pose",
    "Aggregation": "profiles", "BODY_PARTS": "profiles", "demo": "profiles", "FULL_IMAGE": "profiles",
    "lite": "profiles",
    "NetworkConfig": "profiles", "paper": "profiles", "paper_nucla": "profiles", "pose_only": "profiles",
    "PoseInput": "profiles", "PoseStream": "profiles", "PROFILES": "profiles", "single_part": "profiles",
    "skeleton": "profiles", "skeleton_lstm": "profiles", "tiny": "profiles", "with_aggregation": "profiles",
    "CheckpointError": "settings", "Preprocessing": "settings",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'core.model' has no attribute {name!r}")
    return getattr(importlib.import_module(f"core.model.{_WHERE[name]}"), name)
