"""The network: part I3Ds, the pose stream (LSTM or graph network) and its attention, the loss, profiles
and checkpoints.

from core.model import PartAttentionNetwork, paper, lite, tiny, load_checkpoint
"""

from core.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    Preprocessing,
    load_checkpoint,
    load_network_state,
    read_i3d_weights,
    save_checkpoint,
)
from core.model.graph import PoseGCN
from core.model.i3d import InceptionI3d, load_i3d_state_dict
from core.model.loss import NTU_LOSS, LossTerms, LossWeights, p_i3d_loss
from core.model.network import PartAttentionNetwork, PartLogits, PoseLogits, Stage
from core.model.pose import AttentionHead, PoseLSTM
from core.model.pose_features import PoseInput
from core.model.profiles import (
    BODY_PARTS,
    FULL_IMAGE,
    PROFILES,
    Aggregation,
    NetworkConfig,
    PoseStream,
    lite,
    paper,
    paper_nucla,
    pose_only,
    single_part,
    skeleton,
    tiny,
    with_aggregation,
)

__all__ = [
    "BODY_PARTS",
    "FULL_IMAGE",
    "NTU_LOSS",
    "PROFILES",
    "Aggregation",
    "AttentionHead",
    "Checkpoint",
    "CheckpointError",
    "InceptionI3d",
    "LossTerms",
    "LossWeights",
    "NetworkConfig",
    "PartAttentionNetwork",
    "PartLogits",
    "PoseGCN",
    "PoseInput",
    "PoseLSTM",
    "PoseLogits",
    "PoseStream",
    "Preprocessing",
    "Stage",
    "load_checkpoint",
    "load_i3d_state_dict",
    "load_network_state",
    "lite",
    "p_i3d_loss",
    "paper",
    "paper_nucla",
    "pose_only",
    "read_i3d_weights",
    "save_checkpoint",
    "single_part",
    "skeleton",
    "tiny",
    "with_aggregation",
]
