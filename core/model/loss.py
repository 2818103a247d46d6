"""The regularised cross-entropy of Eq. 5.

    L = -sum_i y_i log y^_i  +  lambda1 * sum_k (1 - alpha_k)^2  +  lambda2 * ||W||^2

The printed equation drops the minus sign of the cross-entropy; we use the proper one. The attention
term is averaged over the batch like the cross-entropy. Given sum_k alpha_k = 1 it is smallest when
all parts get 1/K, so it keeps the model from ignoring a part outright. ||W||^2 is the squared L2
norm (Keras' `l2` regulariser, which the authors used) of the dense layers' weights that
`PartAttentionNetwork.regularised_weights()` returns.
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


NTU_LOSS = LossWeights(attention=1e-5, weight=1e-3)  # the paper's values for NTU RGB+D
NUCLA_LOSS = LossWeights(attention=1e-4, weight=1e-3)  # ... and for Northwestern-UCLA


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
