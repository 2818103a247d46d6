"""The regularised cross-entropy of Eq. 5.

    L = -sum_i y_i log y^_i  +  lambda1 * sum_k (1 - alpha_k)^2  +  lambda2 * ||W||^2

The printed equation drops the minus sign of the cross-entropy; we use the proper one. The attention
term is averaged over the batch like the cross-entropy. Given sum_k alpha_k = 1 it is smallest when
all parts get 1/K, so it keeps the model from ignoring a part outright. ||W||^2 is the squared L2
norm (Keras' `l2` regulariser, which the authors used) of the dense layers' weights that
`PartAttentionNetwork.regularised_weights()` returns.

`distillation_loss` (not in the paper) is the term a pose stream taught by a trained model adds
(training/config.py, `DistillConfig`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    attention: float  # lambda1
    weight: float  # lambda2


# The paper's values for NTU RGB+D (training's defaults); for Northwestern-UCLA its lambda1 is 1e-4
# (nucla_lstm.yaml, the paper's LSTM; the graph-stream configs keep the default).
NTU_LOSS = LossWeights(attention=1e-5, weight=1e-3)


@dataclass(frozen=True)
class LossTerms:
    """The loss and its parts (detach the parts for logging)."""

    total: torch.Tensor
    cross_entropy: torch.Tensor
    attention_penalty: torch.Tensor  # sum_k (1 - alpha_k)^2, batch mean, before lambda1
    weight_penalty: torch.Tensor  # ||W||^2, before lambda2


def p_i3d_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    attention: torch.Tensor,
    weights: Iterable[torch.Tensor],
    lambdas: LossWeights,
) -> LossTerms:
    """Eq. 5 for logits (B, C), integer targets (B,), attention (B, K) and the penalised weights."""
    if logits.dim() != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(
            f"need logits (B, C) and targets (B,), got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if attention.dim() != 2 or attention.shape[0] != logits.shape[0]:
        raise ValueError(f"need attention (B, K) with B = {logits.shape[0]}, got {tuple(attention.shape)}")
    cross_entropy = F.cross_entropy(logits, targets)
    attention_penalty = (1.0 - attention).pow(2).sum(dim=1).mean()
    weight_penalty = logits.new_zeros(())
    for weight in weights:
        weight_penalty = weight_penalty + weight.pow(2).sum()
    total = cross_entropy + lambdas.attention * attention_penalty + lambdas.weight * weight_penalty
    return LossTerms(total, cross_entropy, attention_penalty, weight_penalty)


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), batch mean, for logits (B, C) each.

    Hinton et al. 2015: a temperature above 1 lets the student learn how the teacher ranks the wrong
    classes too; the T^2 keeps the gradients comparable to the cross-entropy's as T changes."""
    if student.shape != teacher.shape or student.dim() != 2:
        raise ValueError(f"need student and teacher logits (B, C) alike, got {tuple(student.shape)} and "
                         f"{tuple(teacher.shape)}")
    if temperature <= 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    return F.kl_div(
        F.log_softmax(student / temperature, -1),
        F.log_softmax(teacher / temperature, -1),
        reduction="batchmean",
        log_target=True,
    ) * temperature**2


def view_consistency_loss(features: torch.Tensor, twin_features: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity, batch mean, of two cameras' features (B, H) of the same moments: 0 when each
    pair points the same way. Lengths are left free, so the term cannot be met by shrinking features."""
    if features.shape != twin_features.shape or features.dim() != 2:
        raise ValueError(f"need features (B, H) alike, got {tuple(features.shape)} and "
                         f"{tuple(twin_features.shape)}")
    return (1 - F.cosine_similarity(features, twin_features, dim=-1)).mean()
