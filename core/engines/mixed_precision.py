"""An FP16 copy of an exported ONNX graph for strongly typed TensorRT, with FP32 inputs and outputs.

TensorRT 11 removed the FP16 builder flag: every network is strongly typed, and a layer runs in the
precision of its tensors in the graph (NVIDIA's 10.x -> 11.x migration guide: convert the ONNX file to
mixed precision first, keeping the I/O types). This module does that conversion for our network:

    crops (FP32) -> Cast -> [ I3D trunks in FP16: Conv, Pad, MaxPool, Concat, ..., ReduceMean ] -> Cast
         -> pooled features (FP32) -> pose LSTM, attention softmax, classifier (FP32) -> logits, attention

Fp16Scope.I3DS converts the nodes on the paths from `crops` to the global average pools: nearly all of
the arithmetic (paper profile: 104.6 of 104.7 GMAC per window; the pose LSTM, attention and classifier
are 0.12 GMAC). What FP16 harms stays FP32: the LSTM's state and gates accumulate over every frame, the
attention softmax and the logits are what the decision reads, and keeping them FP32 costs ~0.1% of the
work. `Fp16Scope.WHOLE_NETWORK` converts everything, only to measure what FP16 would cost there: on real
NTU crops with the trained demo model (ONNX Runtime, CPU) all-FP16 moves the attention by 1.5e-5 where
the I3DS scope leaves it exact (README; benchmarks/gpu.py repeats it with real FP16 arithmetic on a GPU).
"""

from __future__ import annotations

import enum
import json
from collections import defaultdict
from typing import Any

import numpy as np

from core.engines.interface import INPUT_NAMES, EngineError

PRECISION_KEY = "precision"  # metadata_props entry the converted file carries
_FP16_SUFFIX = "/fp16"


class Fp16Scope(enum.Enum):
    """Which nodes of the graph run in FP16."""

    I3DS = "i3ds"  # crops -> global average pools: the part I3Ds (and a sum_r network's shared blocks)
    WHOLE_NETWORK = "whole-network"  # every node; for measuring what FP16 harms, not for deployment


def fp16_nodes(model: Any, scope: Fp16Scope = Fp16Scope.I3DS) -> set[str]:
    """Names of the nodes that `to_fp16` converts."""
    graph = model.graph
    if scope is Fp16Scope.WHOLE_NETWORK:
        return {node.name for node in graph.node}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    from_crops: set[str] = set()  # node names downstream of the crops input
    frontier = [INPUT_NAMES[0]]
    while frontier:
        for node in consumers[frontier.pop()]:
            if node.name not in from_crops:
                from_crops.add(node.name)
                frontier.extend(node.output)
    pools = [
        n for n in graph.node if n.name in from_crops and n.op_type in ("ReduceMean", "GlobalAveragePool")
    ]
    if not pools:
        raise EngineError("no global average pool downstream of the crops input: not an exported I3D network")
    upstream: set[str] = set()  # node names upstream of (and including) the pools
    stack = list(pools)
    while stack:
        node = stack.pop()
        if node.name in upstream:
            continue
        upstream.add(node.name)
        stack.extend(producer[name] for name in node.input if name in producer)
    return from_crops & upstream


def to_fp16(model: Any, scope: Fp16Scope = Fp16Scope.I3DS) -> Any:
    """A converted copy of `model` (an onnx.ModelProto): the scope's nodes in FP16, Cast nodes where FP32
    tensors enter or leave them, graph inputs and outputs FP32. Checked by the ONNX checker."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    graph = converted.graph
    if len({node.name for node in graph.node}) != len(graph.node) or any(not n.name for n in graph.node):
        raise EngineError("to_fp16 needs uniquely named nodes (as torch.onnx.export writes them)")
    region = fp16_nodes(converted, scope)
    float_tensors = _float32_tensors(converted)
    initializers = {init.name: init for init in graph.initializer}
    graph_outputs = {o.name for o in graph.output}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    produced_in_region = {out for node in graph.node if node.name in region for out in node.output}

    new_nodes: list[Any] = []
    half_of: dict[str, str] = {}  # FP32 tensor entering the region -> its FP16 copy
    new_initializers: list[Any] = []

    def half_input(name: str) -> str:
        if name not in half_of:
            half_name = name + _FP16_SUFFIX
            if name in initializers:
                values = numpy_helper.to_array(initializers[name]).astype(np.float16)
                new_initializers.append(numpy_helper.from_array(values, half_name))
            else:
                new_nodes.append(
                    helper.make_node(
                        "Cast", [name], [half_name], name=f"{name}/to_fp16", to=TensorProto.FLOAT16
                    )
                )
            half_of[name] = half_name
        return half_of[name]

    for node in graph.node:
        if node.name not in region:
            new_nodes.append(node)
            continue
        for index, name in enumerate(node.input):
            if name in float_tensors and name not in produced_in_region:
                node.input[index] = half_input(name)
            elif name in float_tensors:
                node.input[index] = name + _FP16_SUFFIX  # renamed where its producer is emitted
        _convert_attributes(node, numpy_helper, TensorProto)
        back_casts = []
        for index, name in enumerate(node.output):
            if name not in float_tensors:
                continue
            node.output[index] = name + _FP16_SUFFIX
            leaves = name in graph_outputs or any(c.name not in region for c in consumers[name])
            if leaves:
                back_casts.append(
                    helper.make_node(
                        "Cast", [name + _FP16_SUFFIX], [name], name=f"{name}/to_fp32", to=TensorProto.FLOAT
                    )
                )
        new_nodes.append(node)
        new_nodes.extend(back_casts)

    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(new_initializers)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]  # types changed: let shape inference say them again
    props = {p.key: p.value for p in converted.metadata_props}
    props[PRECISION_KEY] = json.dumps(
        {"fp16": scope.value, "inputs": "float32", "outputs": "float32", "nodes_fp16": len(region)}
    )
    del converted.metadata_props[:]
    for key, value in props.items():
        converted.metadata_props.add(key=key, value=value)
    converted = onnx.shape_inference.infer_shapes(converted, strict_mode=True)
    onnx.checker.check_model(converted, full_check=True)
    return converted


def _float32_tensors(model: Any) -> set[str]:
    import onnx
    from onnx import TensorProto

    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    names = set()
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            names.add(value.name)
    names.update(init.name for init in graph.initializer if init.data_type == TensorProto.FLOAT)
    return names


def _convert_attributes(node: Any, numpy_helper: Any, tensor_proto: Any) -> None:
    """Attributes that name or hold FP32 values inside the region: Cast targets, constant fills."""
    for attribute in node.attribute:
        if node.op_type == "Cast" and attribute.name == "to" and attribute.i == tensor_proto.FLOAT:
            attribute.i = tensor_proto.FLOAT16
        elif attribute.type == attribute.TENSOR and attribute.t.data_type == tensor_proto.FLOAT:
            values = numpy_helper.to_array(attribute.t).astype(np.float16)
            attribute.t.CopyFrom(numpy_helper.from_array(values, attribute.t.name))
