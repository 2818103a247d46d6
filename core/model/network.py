"""The paper's network (Fig. 2): part I3Ds weighted by pose-driven attention, and its ablations.

    crops (B, P, T, S, S, 3) RGB 0..255 --> /127.5 - 1, channels first --> one I3D per part
        part k: (B, 3, T, S, S) -> I3D_k -> g_k (B, D) after Mixed_5c, global average
    skeleton (B, T, M, J, 3) normalised --> pose stream -> hidden states (B, T, H)
        --> AttentionHead -> alpha (B, K)
    pose stream (`NetworkConfig.pose_stream`): the paper's PoseLSTM, or PoseGCN (core/model/graph.py);
    both give logits (B, C) and per-time-step hidden states, so everything else is the same for both;
    pose-only networks may hold several (`pose_members`, core/model/ensemble.py), distributions averaged
    F = sum_k alpha_k g_k (Eq. 4) --> dropout --> linear --> logits (B, C)
    with `NetworkConfig.pose_fusion` w > 0: softmax(output) = (1 - w) softmax(logits) + w softmax(pose logits)

Forward always returns (logits (B, C), attention (B, P)), whatever the aggregation, so engines and
evaluation treat every variant alike: uniform 1/K where parts are combined without attention, 1 for a
single part, an empty (B, 0) for the pose-only model.

Training stages (Algorithm 1), set with `set_stage`:
    Stage.PARTS     step 2: each part's I3D on its own crops, loss on `part_logits`: through the classifier of
                    F where that classifier reads a sum of part features (attention, sum_0; sum_r through
                    the shared blocks first, a part at a time), else through each I3D's own logits layer
                    (concat_0, single)
    Stage.POSE      step 3: the pose stream alone, loss on each of its streams' logits
                    (`network.pose.stream_logits(skeleton)`; the LSTM has one)
    Stage.JOINT     step 5: what `forward` uses (parts, pose trunk, attention, classifier), loss on `forward`
    Stage.FINETUNE  step 6: as JOINT with the pose trunk (LSTM or graph network) frozen
    Stage.HEAD      the attention head and the classifier alone (and the pose classifier where the output
                    fuses it): fine-tuning a trained network on a site's few clips starts here (the layers
                    with the fewest weights), then FINETUNE
    Stage.ALL       every parameter trainable (the default after construction)
Frozen modules get requires_grad False and stay in eval mode (no dropout noise, no BatchNorm
statistics updates) even when the network is put in train mode. JOINT also trains the ablations
(and a 'single' part network). Parameters a stage's loss does not reach are frozen, so
DistributedDataParallel needs no find_unused_parameters; to put `part_logits` / the pose classifier
under DDP, wrap `PartLogits(network)` / `PoseLogits(network)`, whose forward is that output.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import torch
from torch import nn

from core.model.ensemble import PoseEnsemble, mix_distributions
from core.model.graph import PoseGCN
from core.model.i3d import (
    ENDPOINTS,
    INCEPTION_BLOCKS,
    I3dLoadReport,
    InceptionI3d,
    global_average,
    load_i3d_state_dict,
)
from core.model.pose import AttentionHead, PoseLSTM
from core.model.profiles import Aggregation, NetworkConfig, PoseStream, layout_with_joints


class Stage(enum.Enum):
    PARTS = "parts"
    POSE = "pose"
    JOINT = "joint"
    FINETUNE = "finetune"
    HEAD = "head"
    ALL = "all"


class PartAttentionNetwork(nn.Module):
    """K part I3Ds + pose-driven attention (or an ablation of it), built from a `NetworkConfig`."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        aggregation = config.aggregation
        shared = aggregation.shared_blocks
        # sum_r: parts run up to the (9 - r)-th Inception block, the rest runs once on the sum.
        last_part_endpoint = INCEPTION_BLOCKS[len(INCEPTION_BLOCKS) - 1 - shared]
        # Where the classifier reads a (weighted) sum of part features, step 2 trains each part through
        # that same classifier instead of a logits layer of its own. The three I3Ds then put their
        # features in one space, so that Eq. 4 adds like with like, and the joint stage starts with a
        # classifier that already reads every part: the attention's gradient compares what each part
        # says about the class, instead of what a freshly initialised classifier happens to read best.
        # sum_r's parts go through the shared blocks too, one part at a time: the paper sums blocks
        # "pre-trained on individual body parts", and each part with the shared blocks is a whole I3D.
        # (For the sums the classifier then reads K parts' features at once, about K times one part's
        # scale: like with like holds for the attention's weights, which add to 1, not for the sums.)
        self.parts_share_classifier = aggregation in (Aggregation.ATTENTION, Aggregation.SUM0,
                                                      Aggregation.SUM1, Aggregation.SUM2)
        own_logits = shared == 0 and not self.parts_share_classifier
        i3d = {
            "num_frames": config.num_frames,
            "crop_size": config.crop_size,
            "width": config.width,
            "dropout": config.i3d_dropout,
        }
        self.parts = nn.ModuleList(
            InceptionI3d(
                **i3d,
                final_endpoint=last_part_endpoint,
                num_classes=config.num_classes if own_logits else None,
            )
            for _ in config.parts
        )
        self.shared: InceptionI3d | None = None
        if shared:
            first_shared = ENDPOINTS[ENDPOINTS.index(last_part_endpoint) + 1]
            self.shared = InceptionI3d(**i3d, first_endpoint=first_shared)

        self.pose: PoseLSTM | PoseGCN | PoseEnsemble | None = None
        if aggregation.uses_pose and config.pose_members > 1:
            self.pose = PoseEnsemble([build_pose_stream(config) for _ in range(config.pose_members)])
        elif aggregation.uses_pose:
            self.pose = build_pose_stream(config)
        self.attention: AttentionHead | None = None
        if aggregation is Aggregation.ATTENTION:
            self.attention = AttentionHead(
                num_frames=config.num_frames,
                hidden_size=self.pose.hidden_size,
                attention_size=config.attention_size,
                num_parts=len(config.parts),
            )

        self.classifier: nn.Linear | None = None
        if aggregation not in (Aggregation.SINGLE, Aggregation.POSE):
            feature_size = (self.shared if self.shared is not None else self.parts[0]).out_channels
            if aggregation is Aggregation.CONCAT0:
                feature_size *= len(config.parts)
            self.classifier_dropout = nn.Dropout(config.i3d_dropout)
            self.classifier = nn.Linear(feature_size, config.num_classes)

        if config.pose_mirror_average:  # not weights: absent from state dicts, rebuilt from the config
            layout = layout_with_joints(config.num_joints)
            self.register_buffer("mirror_order", torch.tensor(layout.mirror_order), persistent=False)
            self.register_buffer("mirror_sign", torch.tensor([-1.0, 1.0, 1.0]), persistent=False)

        self.stage = Stage.ALL

    # ---- inference ------------------------------------------------------------------------------

    def forward(
        self, crops: torch.Tensor | None, skeleton: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """crops float32 (B, P, T, S, S, 3) RGB 0..255; skeleton float32 (B, T, M, J, 3) normalised.

        Returns logits (B, C) and attention (B, P). Inputs a variant does not use may be None
        (skeleton for the ablations without attention, crops for the pose-only model).
        """
        aggregation = self.config.aggregation
        if skeleton is not None:  # before the mirror image doubles the batch and indexes the joints
            c = self.config
            if not isinstance(skeleton, torch.Tensor) or skeleton.dim() != 5 \
                    or tuple(skeleton.shape[2:]) != (c.num_bodies, c.num_joints, 3):
                got = tuple(getattr(skeleton, "shape", ()))
                got = got if isinstance(skeleton, torch.Tensor) else f"a {type(skeleton).__name__} {got}"
                raise ValueError(f"skeleton must be a tensor (B, T, {c.num_bodies}, {c.num_joints}, 3), "
                                 f"normalised (core.skeleton.normalize_window), got {got}")
            # A float64 skeleton (numpy's default) failed deep in torch ("mixed dtype", "RNN input dtype").
            # Compared with the pose stream, which reads it: engines may run the I3Ds alone in FP16.
            pose_dtype = None if self.pose is None else next(self.pose.parameters()).dtype
            if pose_dtype is not None and skeleton.dtype != pose_dtype:
                raise ValueError(f"skeleton must be {pose_dtype} (the pose stream's weights' dtype), got "
                                 f"{skeleton.dtype}; convert it with skeleton.to({pose_dtype})")
        if aggregation is Aggregation.POSE:
            if self.config.pose_mirror_average:
                # The window and its mirror image in one batch: one pass over the recurrent weights
                # serves both (at a few people per hop, reading those weights is most of an LSTM step).
                batch = skeleton.shape[0]
                mirrored = skeleton[:, :, :, self.mirror_order] * self.mirror_sign
                both, _ = self._pose(torch.cat([skeleton, mirrored]))
                logits = mix_distributions([both[:batch], both[batch:]])
            else:
                logits, _ = self._pose(skeleton)
            return logits, logits.new_zeros(logits.shape[0], 0)

        if aggregation is Aggregation.ATTENTION:
            return self.attend(self.pooled_part_features(crops), skeleton)

        features = self.part_features(crops)
        batch, num_parts = features[0].shape[0], len(features)
        if aggregation is Aggregation.SINGLE:
            logits = self.parts[0].classify(global_average(features[0]))
            return logits, logits.new_ones(batch, 1)

        if aggregation is Aggregation.SUM0:
            fused = torch.stack([global_average(f) for f in features], dim=1).sum(dim=1)
        elif aggregation is Aggregation.CONCAT0:
            fused = torch.cat([global_average(f) for f in features], dim=1)
        else:  # sum_r: add the feature maps, then the shared blocks
            fused = global_average(self.shared.features(torch.stack(features, dim=0).sum(dim=0)))
        logits = self.classifier(self.classifier_dropout(self._in_head_precision(fused)))
        return logits, logits.new_full((batch, num_parts), 1.0 / num_parts)

    def pooled_part_features(self, crops: torch.Tensor | None) -> torch.Tensor:
        """g_k of Eq. 4: each part's I3D features averaged over time and space, (B, P, D)."""
        return torch.stack([global_average(f) for f in self.part_features(crops)], dim=1)

    def attend(
        self, pooled: torch.Tensor, skeleton: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 2-4 and the classifier: the pose LSTM's attention alpha (B, P) weighs the pooled part
        features (B, P, D) into F, which is classified -> logits (B, C), alpha.

        The second half of `forward` for the attention network; ONNX export calls it too (with
        `pooled_part_features`), so the exported graph is this forward, split where TensorRT may need it.
        """
        logits, pose_logits, attention = self._attention_branches(pooled, skeleton)
        if self.config.pose_fusion:
            weight = self.config.pose_fusion
            logits = mix_distributions([logits, pose_logits], [1 - weight, weight])
        return logits, attention

    def branch_logits(
        self, crops: torch.Tensor | None, skeleton: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The two classifications that `pose_fusion` mixes, (B, 2, C): the classifier of F's (the paper's)
        and the pose classifier's; and attention (B, P). Training gives each its own loss, so that
        neither leans on the other (training/stages.py)."""
        logits, pose_logits, attention = self._attention_branches(self.pooled_part_features(crops), skeleton)
        return torch.stack([logits, pose_logits], dim=1), attention

    def _attention_branches(
        self, pooled: torch.Tensor, skeleton: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pose_logits, hidden = self._pose(skeleton)
        attention = self.attention(hidden)
        fused = (attention.unsqueeze(-1) * self._in_head_precision(pooled)).sum(dim=1)
        return self.classifier(self.classifier_dropout(fused)), pose_logits, attention

    def _in_head_precision(self, features: torch.Tensor) -> torch.Tensor:
        """I3D features in the dtype of the layers after them. Engines may run the I3Ds in half precision
        and keep the head (attention, classifier) in FP32, where FP16 harms; in one precision (or under
        autocast) this is the identity and adds nothing to a traced graph."""
        head_dtype = self.classifier.weight.dtype
        return features if features.dtype == head_dtype else features.to(head_dtype)

    def part_features(self, crops: torch.Tensor | None) -> list[torch.Tensor]:
        """Each part's feature map at the aggregation point, (B, C, T', H', W') per part."""
        c = self.config
        expected = (len(c.parts), c.num_frames, c.crop_size, c.crop_size, 3)
        if crops is None or crops.dim() != 6 or tuple(crops.shape[1:]) != expected:
            got = None if crops is None else tuple(crops.shape)
            raise ValueError(f"crops must be (B, {', '.join(map(str, expected))}) RGB 0..255, got {got}")
        # I3D's convention: RGB in [-1, 1], channels first. Done here so engines feed crops as cut.
        x = crops.permute(0, 1, 5, 2, 3, 4) * (1.0 / 127.5) - 1.0
        trunk_dtype = self.parts[0].Conv3d_1a_7x7.conv3d.weight.dtype
        if x.dtype != trunk_dtype:  # I3Ds in half precision (engines): normalise in FP32, then convert
            x = x.to(trunk_dtype)
        return [part.features(x[:, k]) for k, part in enumerate(self.parts)]

    def part_logits(self, crops: torch.Tensor) -> torch.Tensor:
        """Each part's own classification (B, P, C) — the loss of Algorithm 1 step 2."""
        self._check_part_classification()
        features = self.part_features(crops)
        if self.shared is not None:
            features = [self.shared.features(f) for f in features]
        if self.parts_share_classifier:
            logits = [self.classifier(self.classifier_dropout(global_average(f))) for f in features]
        else:
            logits = [part.classify(global_average(f)) for part, f in zip(self.parts, features, strict=True)]
        return torch.stack(logits, dim=1)

    def part_classifier_weights(self) -> list[torch.Tensor]:
        """The weight matrices that classify the parts in step 2 (Eq. 5's lambda2 term there)."""
        self._check_part_classification()
        if self.parts_share_classifier:
            return [self.classifier.weight]
        return [part.logits.conv3d.weight for part in self.parts]

    def _check_part_classification(self) -> None:
        if not self.parts_share_classifier and any(part.num_classes is None for part in self.parts):
            raise ValueError(
                f"parts of a {self.config.aggregation.value!r} network have no logits; "
                "pretrain parts as 'single' or 'attention' networks and load them"
            )

    def _pose(self, skeleton: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if skeleton is None:
            raise ValueError(f"a {self.config.aggregation.value!r} network needs the skeleton input")
        return self.pose(skeleton)

    # ---- training ---------------------------------------------------------------------------------

    def set_stage(self, stage: Stage) -> None:
        """Make trainable exactly what `stage` trains (see the module docstring); freeze the rest."""
        trainable = self._stage_modules(stage)
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        for module in trainable:
            for parameter in module.parameters():
                parameter.requires_grad_(True)
        self.stage = stage
        self.train(self.training)

    def train(self, mode: bool = True) -> PartAttentionNetwork:
        super().train(mode)
        if mode:
            for module in self._leaf_groups():
                if not any(p.requires_grad for p in module.parameters()):
                    module.eval()
            if self.pose is not None and not any(p.requires_grad for p in self.pose.classifier.parameters()):
                self.pose.dropout.eval()
        return self

    def regularised_weights(self) -> list[torch.Tensor]:
        """The dense layers' weight matrices that Eq. 5's lambda2 term penalises: the attention head's
        W_h and W_s and the final classifier (the layers the paper adds on top of I3D and the pose
        stream), and the pose classifier where the output fuses it (`pose_fusion`); the pose classifiers
        for the pose-only network."""
        weights = []
        if self.attention is not None:
            weights += [self.attention.project.weight, self.attention.score.weight]
        if self.classifier is not None:
            weights.append(self.classifier.weight)
            if self.config.pose_fusion:
                weights += self.pose.classifier_weights()
        elif self.config.aggregation is Aggregation.SINGLE:
            weights.append(self.parts[0].logits.conv3d.weight)
        elif self.pose is not None:
            weights += self.pose.classifier_weights()
        return weights

    def load_pretrained_i3d(
        self, state_dict: Mapping[str, torch.Tensor], *, source: str = "<state dict>"
    ) -> list[I3dLoadReport]:
        """Algorithm 1 step 1: the same ImageNet/Kinetics I3D weights into every part (and the shared
        blocks of sum_r); a classifier with another class count is left as initialised."""
        targets = [*self.parts, *([self.shared] if self.shared is not None else [])]
        return [load_i3d_state_dict(target, state_dict, source=source) for target in targets]

    def _stage_modules(self, stage: Stage) -> list[nn.Module]:
        def need(module: nn.Module | None, what: str) -> nn.Module:
            if module is None:
                raise ValueError(
                    f"stage {stage.value!r} needs {what}, which a "
                    f"{self.config.aggregation.value!r} network does not have"
                )
            return module

        if stage is Stage.ALL:
            return [self]
        if stage is Stage.PARTS:
            if not self.parts:
                raise ValueError(
                    f"stage 'parts' needs parts; a {self.config.aggregation.value!r} network has none"
                )
            self._check_part_classification()
            shared = [self.shared] if self.shared is not None else []
            return [self.parts, *shared, self.classifier] if self.parts_share_classifier else [self.parts]
        if stage is Stage.POSE:
            return [need(self.pose, "the pose stream")]
        if stage is Stage.HEAD:
            heads = [need(self.classifier, "a classifier on part features")]
            heads += [self.attention] if self.attention is not None else []
            return heads + ([self.pose.classifier] if self.config.pose_fusion else [])
        used = self._used_by_forward()
        if stage is Stage.JOINT:
            return used
        finetuned = [m for m in used if self.pose is None or m is not self.pose.trunk]
        if not finetuned or self.config.aggregation is Aggregation.POSE:
            raise ValueError("stage 'finetune' freezes the pose stream, which is all a 'pose' network has")
        return finetuned

    def _used_by_forward(self) -> list[nn.Module]:
        """The modules whose parameters `forward` uses. Only these train in JOINT / FINETUNE, so that
        DistributedDataParallel finds no unused trainable parameter (the parts' own logits where they
        have them, the pose stream's classifier)."""
        aggregation = self.config.aggregation
        if aggregation is Aggregation.POSE:
            return [self.pose.trunk, self.pose.classifier]
        if aggregation is Aggregation.SINGLE:
            return [self.parts[0]]
        trunks = [part._modules[name] for part in self.parts for name in part.endpoints]
        heads = [m for m in (self.shared, self.attention, self.classifier) if m is not None]
        pose = [self.pose.trunk] if self.pose is not None else []
        if self.config.pose_fusion:
            pose.append(self.pose.classifier)
        return [*trunks, *heads, *pose]

    def _leaf_groups(self) -> list[nn.Module]:
        """The units that are frozen or trained as a whole, for keeping frozen ones in eval mode."""
        groups: list[nn.Module] = [*self.parts]
        for module in (self.shared, self.attention, self.classifier):
            if module is not None:
                groups.append(module)
        if self.pose is not None:
            groups += [self.pose.trunk, self.pose.classifier]
        return groups


class PartLogits(nn.Module):
    """`network.part_logits` as a module's forward, so DDP can wrap it (Algorithm 1 step 2)."""

    def __init__(self, network: PartAttentionNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """crops (B, P, T, S, S, 3) -> each part's logits (B, P, C)."""
        return self.network.part_logits(crops)


class PoseLogits(nn.Module):
    """The pose stream's classification as a module's forward, so DDP can wrap it (Algorithm 1 step 3)."""

    def __init__(self, network: PartAttentionNetwork) -> None:
        super().__init__()
        if network.pose is None:
            raise ValueError(f"a {network.config.aggregation.value!r} network has no pose stream")
        self.network = network

    def forward(self, skeleton: torch.Tensor) -> torch.Tensor:
        """skeleton (B, T, M, J, 3) -> logits (B, C)."""
        return self.network.pose(skeleton)[0]


def build_pose_stream(config: NetworkConfig) -> PoseLSTM | PoseGCN:
    """One pose stream as `config` describes it: the paper's LSTM or the graph network."""
    if config.pose_stream is PoseStream.GCN:
        return PoseGCN(
            parents=layout_with_joints(config.num_joints).parents,
            num_bodies=config.num_bodies,
            num_classes=config.num_classes,
            inputs=config.gcn_inputs,
            channels=config.gcn_channels,
            temporal_kernel=config.gcn_temporal_kernel,
            temporal_dilations=config.gcn_temporal_dilations,
            dropout=config.gcn_dropout,
        )
    return PoseLSTM(
        num_joints=config.num_joints,
        num_bodies=config.num_bodies,
        num_classes=config.num_classes,
        hidden_size=config.lstm_hidden,
        num_layers=config.lstm_layers,
        dropout=config.lstm_dropout,
        bidirectional=config.lstm_bidirectional,
        velocity=config.pose_velocity,
        centre_frames=config.pose_centre_frames,
        bone_parents=layout_with_joints(config.num_joints).parents if config.pose_bones else None,
    )


class ExportGraph(nn.Module):
    """The network's own forward as one traceable graph, plus the pooled part features as a third output
    (core/engines/export.py exports it).

    For the attention network it calls the two halves `forward` is made of (`pooled_part_features`,
    then `attend`), so the point between the I3Ds and the pose/attention head is a named tensor where
    the ONNX file can be split when TensorRT cannot take the LSTM. Other aggregations trace `forward`.
    """

    def __init__(self, network: PartAttentionNetwork) -> None:
        super().__init__()
        self.network = network
        self.splittable = network.config.aggregation is Aggregation.ATTENTION

    def forward(self, crops: torch.Tensor, skeleton: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not self.splittable:
            return self.network(crops, skeleton)
        pooled = self.network.pooled_part_features(crops)
        logits, attention = self.network.attend(pooled, skeleton)
        return logits, attention, pooled
