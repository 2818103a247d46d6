"""Stand-ins for the `tensorrt` Python module of TensorRT 8.6, 10.x and 11.x, for testing the build path
where TensorRT cannot be installed (its wheels download their libraries from NVIDIA's own index at install
time, which our machines cannot reach).

Each stand-in has the API surface of its version as NVIDIA's Python API reference documents it, for the
parts a build touches (Logger, Builder, INetworkDefinition, ITensor, ILayer, OnnxParser, IBuilderConfig,
IOptimizationProfile, Runtime / ICudaEngine, and the enums), and nothing the version does not have:

    8.6   NetworkDefinitionCreationFlag: EXPLICIT_BATCH, EXPLICIT_PRECISION (no strong typing); BuilderFlag
          with FP16, INT8, OBEY/PREFER_PRECISION_CONSTRAINTS ...; Builder.platform_has_fast_fp16; the ONNX
          parser needs an explicit-batch network; no DataType.INT64
    10.x  NetworkDefinitionCreationFlag: EXPLICIT_BATCH (deprecated, ignored), STRONGLY_TYPED,
          PREFER_AOT/JIT_PYTHON_PLUGINS; BuilderFlag as 8.6 plus BF16, INT4, FP4, ...; on a strongly
          typed network "setting layer precision and layer output types is not allowed" and precision
          builder flags are refused at build time
    11.x  ("Migrating from TensorRT 10.x to 11.x", removed Python APIs) no BuilderFlag.FP16, INT8, FP8,
          BF16, INT4, FP4, OBEY/PREFER_PRECISION_CONSTRAINTS, DIRECT_IO; no Builder.platform_has_fast_fp16 /
          _fast_int8 / _tf32; no IBuilderConfig.int8_calibrator / set_quantization_flag; no EXPLICIT_BATCH;
          STRONGLY_TYPED kept but ignored: every network is strongly typed

Using an absent name raises AttributeError, as the real module does. Where TensorRT reports a misuse
through its logger and carries on (setting a precision on a strongly typed network), the stand-in
records it and `build_serialized_network` returns None, as a failed build does: code that misuses the
API fails its test either way. A "plan" is JSON describing the engine as built (typing, flags, each
layer's precision, the I/O tensors, the profile), which the tests read; the runtime side
(deserialize_cuda_engine, I/O tensor queries) reads it back. Nothing runs: that needs a GPU.

The layers are one per ONNX node, named after it, with its outputs' types from ONNX shape inference:
the parser's real translation differs (an LSTM becomes a loop of layers), not the types it assigns.
"""

from __future__ import annotations

import enum
import json
import types
from pathlib import Path
from typing import Any

VERSIONS = ("8.6.1", "10.13.0", "11.4.0")


class DataType(enum.Enum):
    FLOAT = "float32"
    HALF = "float16"
    BF16 = "bfloat16"
    INT8 = "int8"
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"
    UINT8 = "uint8"
    FP8 = "fp8"
    INT4 = "int4"
    FP4 = "fp4"


_ONNX_TYPES = {1: DataType.FLOAT, 10: DataType.HALF, 16: DataType.BF16, 3: DataType.INT8, 6: DataType.INT32,
               7: DataType.INT64, 9: DataType.BOOL, 2: DataType.UINT8}  # fmt: skip

_BUILDER_FLAGS = {
    "8": ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "STRICT_TYPES", "REFIT", "DISABLE_TIMING_CACHE", "TF32",
          "SPARSE_WEIGHTS", "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS",
          "DIRECT_IO", "REJECT_EMPTY_ALGORITHMS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "FP8"],
    "10": ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS",
           "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO",
           "REJECT_EMPTY_ALGORITHMS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "FP8",
           "ERROR_ON_TIMING_CACHE_MISS", "BF16", "DISABLE_COMPILATION_CACHE", "STRIP_PLAN", "REFIT_IDENTICAL",
           "WEIGHT_STREAMING", "INT4", "REFIT_INDIVIDUAL", "STRICT_NANS", "MONITOR_MEMORY", "FP4",
           "EDITABLE_TIMING_CACHE", "DISTRIBUTIVE_INDEPENDENCE"],
    "11": ["DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS", "SAFETY_SCOPE",
           "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "ERROR_ON_TIMING_CACHE_MISS",
           "DISABLE_COMPILATION_CACHE", "STRIP_PLAN", "REFIT_IDENTICAL", "WEIGHT_STREAMING",
           "REFIT_INDIVIDUAL", "STRICT_NANS", "MONITOR_MEMORY", "EDITABLE_TIMING_CACHE",
           "DISTRIBUTIVE_INDEPENDENCE", "REQUIRE_USER_ALLOCATION"],
}  # fmt: skip
_NETWORK_FLAGS = {
    "8": {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1},
    "10": {
        "EXPLICIT_BATCH": 0,
        "STRONGLY_TYPED": 1,
        "PREFER_AOT_PYTHON_PLUGINS": 2,
        "PREFER_JIT_PYTHON_PLUGINS": 3,
    },
    "11": {"STRONGLY_TYPED": 1, "PREFER_AOT_PYTHON_PLUGINS": 2, "PREFER_JIT_PYTHON_PLUGINS": 3},
}
_DATA_TYPES = {
    "8": ["FLOAT", "HALF", "INT8", "INT32", "BOOL", "UINT8", "FP8"],
    "10": ["FLOAT", "HALF", "BF16", "INT8", "INT32", "INT64", "BOOL", "UINT8", "FP8", "INT4", "FP4"],
    "11": ["FLOAT", "HALF", "BF16", "INT8", "INT32", "INT64", "BOOL", "UINT8", "FP8", "INT4", "FP4"],
}
_ALIASES = {"float32": "FLOAT", "float16": "HALF", "bfloat16": "BF16", "int8": "INT8", "int32": "INT32",
            "int64": "INT64", "bool": "BOOL", "uint8": "UINT8"}  # fmt: skip
_PRECISION_FLAGS = ("FP16", "INT8", "FP8", "BF16", "INT4", "FP4")


def _members(name: str, names: list[str] | dict[str, int]) -> type:
    values = names if isinstance(names, dict) else {n: i for i, n in enumerate(names)}
    return enum.IntEnum(name, values)


def make_tensorrt(version: str) -> types.ModuleType:
    """A `tensorrt` module with the API surface of `version` (one of VERSIONS' majors: 8, 10, 11)."""
    major = version.split(".")[0]
    if major not in _BUILDER_FLAGS:
        raise ValueError(f"no stand-in for TensorRT {version}")
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.__doc__ = f"stand-in for TensorRT {version}'s Python API (tests/tensorrt_standins.py)"
    data_types = {n: DataType[n] for n in _DATA_TYPES[major]}
    trt.DataType = types.SimpleNamespace(**data_types)
    for alias, member in _ALIASES.items():
        if member in data_types:
            setattr(trt, alias, data_types[member])
    trt.BuilderFlag = _members("BuilderFlag", _BUILDER_FLAGS[major])
    trt.NetworkDefinitionCreationFlag = _members("NetworkDefinitionCreationFlag", _NETWORK_FLAGS[major])
    pools = ["WORKSPACE", "DLA_MANAGED_SRAM", "DLA_LOCAL_DRAM", "DLA_GLOBAL_DRAM", "TACTIC_DRAM"]
    trt.MemoryPoolType = _members(
        "MemoryPoolType", pools + (["TACTIC_SHARED_MEMORY"] if major != "8" else [])
    )
    trt.TensorIOMode = _members("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])
    state = _State(trt, major)
    trt.Logger = state.logger_class()
    trt.Builder = state.builder_class()
    trt.OnnxParser = state.parser_class()
    trt.Runtime = state.runtime_class()
    trt.standin_log = state.log  # what the stand-in "logged": API misuse, build errors (tests read it)
    return trt


class _State:
    def __init__(self, trt: types.ModuleType, major: str) -> None:
        self.trt = trt
        self.major = major
        self.log: list[str] = []

    # ---- Logger ----------------------------------------------------------------------------------
    def logger_class(self) -> type:
        class Logger:
            INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

            def __init__(self, min_severity: int = 2) -> None:
                self.min_severity = min_severity

        return Logger

    # ---- Builder ---------------------------------------------------------------------------------
    def builder_class(self) -> type:
        state = self
        trt = self.trt

        class Builder:
            def __init__(self, logger: Any) -> None:
                self.logger = logger

            def create_network(self, flags: int = 0) -> _Network:
                known = sum(1 << int(f) for f in trt.NetworkDefinitionCreationFlag)
                if flags & ~known:
                    raise TypeError(f"create_network: unknown flag bits {flags & ~known:#x}")
                strongly_typed = state.major == "11" or bool(
                    hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED")
                    and flags & (1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
                )
                explicit_batch = state.major != "8" or bool(
                    flags & (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
                )
                return _Network(state, strongly_typed=strongly_typed, explicit_batch=explicit_batch)

            def create_builder_config(self) -> _Config:
                return _Config(state)

            def create_optimization_profile(self) -> _Profile:
                return _Profile()

            def build_serialized_network(self, network: _Network, config: _Config) -> bytes | None:
                return state.build(network, config)

        if self.major != "11":  # removed in 11 ("use strongly typed networks")
            Builder.platform_has_fast_fp16 = property(lambda self: True)
            Builder.platform_has_fast_int8 = property(lambda self: True)
            Builder.platform_has_tf32 = property(lambda self: True)
        return Builder

    def build(self, network: _Network, config: _Config) -> bytes | None:
        trt = self.trt
        errors = list(network.api_errors)
        precision_flags = [f for f in config.flags if f.name in _PRECISION_FLAGS]
        if network.strongly_typed and precision_flags:
            errors.append(
                f"precision builder flags {[f.name for f in precision_flags]} on a strongly typed network"
            )
        for tensor in network.inputs:
            if any(d < 0 for d in tensor.shape):
                shapes = [p.shapes.get(tensor.name) for p in config.profiles]
                if not shapes or any(s is None for s in shapes):
                    errors.append(f"dynamic input {tensor.name} has no shapes in the optimisation profile")
                    continue
                for low, opt, high in shapes:
                    fits = all(a <= b <= c for a, b, c in zip(low, opt, high, strict=True))
                    static = all(
                        d < 0 or d == lo == hi for d, lo, hi in zip(tensor.shape, low, high, strict=True)
                    )
                    if not (fits and static and len(low) == len(tensor.shape)):
                        errors.append(f"profile {low}/{opt}/{high} does not fit {tensor.name} {tensor.shape}")
        obey = any(f.name == "OBEY_PRECISION_CONSTRAINTS" for f in config.flags)
        fp16_allowed = network.strongly_typed or any(f.name == "FP16" for f in config.flags)
        layers = {}
        for layer in network.layers:
            if network.strongly_typed or layer.graph_precision() == "none":
                precision = layer.graph_precision()
            elif layer.precision_set:
                precision = layer._precision.value if obey else "builder's choice"
                if layer._precision is trt.DataType.HALF and not fp16_allowed:
                    errors.append(f"layer {layer.name}: FP16 requested without FP16 enabled")
            else:
                precision = "fp32 or fp16 (builder's choice)" if fp16_allowed else "float32"
            layers[layer.name] = {"op": layer.op_type, "precision": precision}
        if errors:
            self.log.extend(errors)
            return None
        plan = {
            "tensorrt": trt.__version__,
            "strongly_typed": network.strongly_typed,
            "explicit_batch": network.explicit_batch,
            "flags": sorted(f.name for f in config.flags),
            "workspace": config.pools.get("WORKSPACE"),
            "profiles": [{k: [list(s) for s in v] for k, v in p.shapes.items()} for p in config.profiles],
            "io": [{"name": t.name, "mode": "INPUT", "dtype": t.dtype.value, "shape": list(t.shape)}
                   for t in network.inputs]
                  + [{"name": t.name, "mode": "OUTPUT", "dtype": t.dtype.value, "shape": list(t.shape)}
                     for t in network.outputs],
            "layers": layers,
        }  # fmt: skip
        return json.dumps(plan).encode()

    # ---- OnnxParser -------------------------------------------------------------------------------
    def parser_class(self) -> type:
        state = self

        class ParserError:
            def __init__(self, code: str, desc: str, node: int) -> None:
                self._code, self._desc, self._node = code, desc, node

            def code(self) -> str:
                return self._code

            def desc(self) -> str:
                return self._desc

            def node(self) -> int:
                return self._node

        class OnnxParser:
            def __init__(self, network: _Network, logger: Any) -> None:
                self.network = network
                self.errors: list[ParserError] = []

            @property
            def num_errors(self) -> int:
                return len(self.errors)

            def get_error(self, index: int) -> ParserError:
                return self.errors[index]

            def clear_errors(self) -> None:
                self.errors.clear()

            def parse_from_file(self, model: str) -> bool:
                return self.parse(Path(model).read_bytes(), model)

            def parse(self, model: bytes, path: str | None = None) -> bool:
                error = state.parse_into(self.network, model)
                if error:
                    self.errors.append(ParserError("INVALID_GRAPH", error, -1))
                return not error

        return OnnxParser

    def parse_into(self, network: _Network, model_bytes: bytes) -> str | None:
        import onnx

        if not network.explicit_batch:
            return "the ONNX parser needs a network created with the EXPLICIT_BATCH flag"
        try:
            model = onnx.load_from_string(model_bytes)
            onnx.checker.check_model(model)
            model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        except Exception as error:
            return f"not a valid ONNX model: {error}"
        graph = model.graph
        types_of = {}
        for value in (*graph.input, *graph.output, *graph.value_info):
            types_of[value.name] = _ONNX_TYPES.get(value.type.tensor_type.elem_type, DataType.FLOAT)
        for init in graph.initializer:
            types_of[init.name] = _ONNX_TYPES.get(init.data_type, DataType.FLOAT)
        known = set(self.trt.DataType.__dict__.values())
        tensors: dict[str, _Tensor] = {}

        def tensor(name: str, shape: tuple[int, ...] = ()) -> _Tensor:
            if name not in tensors:
                dtype = types_of.get(name, DataType.FLOAT)
                if dtype is DataType.INT64 and self.major == "8":
                    dtype = (
                        DataType.INT32
                    )  # 8.x's parser: "INT64 weights ... Attempting to cast down to INT32"
                if dtype not in known:
                    raise ValueError(
                        f"tensor {name}: {dtype.name} is not a TensorRT {self.trt.__version__} type"
                    )
                tensors[name] = _Tensor(name, shape, dtype)
            return tensors[name]

        def dims(value: Any) -> tuple[int, ...]:
            return tuple(
                d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim
            )

        try:
            initializers = {i.name for i in graph.initializer}
            network.inputs = [tensor(v.name, dims(v)) for v in graph.input if v.name not in initializers]
            for node in graph.node:
                inputs = [tensor(n) if n else None for n in node.input]
                outputs = [tensor(n) for n in node.output]
                network.layers.append(_Layer(network, node.name, node.op_type, inputs, outputs))
            network.outputs = [tensor(v.name, dims(v)) for v in graph.output]
        except ValueError as error:
            return str(error)
        return None

    # ---- Runtime ----------------------------------------------------------------------------------
    def runtime_class(self) -> type:
        trt = self.trt

        class ICudaEngine:
            def __init__(self, plan: dict[str, Any]) -> None:
                self.plan = plan
                self._io = {t["name"]: t for t in plan["io"]}

            @property
            def num_io_tensors(self) -> int:
                return len(self.plan["io"])

            def get_tensor_name(self, index: int) -> str:
                return self.plan["io"][index]["name"]

            def get_tensor_mode(self, name: str) -> Any:
                return trt.TensorIOMode[self._io[name]["mode"]]

            def get_tensor_dtype(self, name: str) -> DataType:
                return DataType(self._io[name]["dtype"])

            def get_tensor_shape(self, name: str) -> tuple[int, ...]:
                return tuple(self._io[name]["shape"])

            def create_execution_context(self) -> Any:
                raise RuntimeError("the stand-in does not run engines: that needs TensorRT and a GPU")

        class Runtime:
            def __init__(self, logger: Any) -> None:
                self.logger = logger

            def deserialize_cuda_engine(self, serialized_engine: bytes) -> ICudaEngine | None:
                try:
                    plan = json.loads(bytes(serialized_engine))
                except ValueError:
                    return None
                return ICudaEngine(plan) if plan.get("tensorrt") == trt.__version__ else None

        return Runtime


class _Tensor:
    def __init__(self, name: str, shape: tuple[int, ...], dtype: DataType) -> None:
        self.name = name
        self.shape = shape
        self.dtype = dtype


class _Layer:
    def __init__(self, network: _Network, name: str, op_type: str, inputs: list, outputs: list) -> None:
        self._network = network
        self.name = name
        self.op_type = op_type
        self._inputs = inputs
        self._outputs = outputs
        self._precision = DataType.FLOAT
        self.precision_set = False
        self.output_types: dict[int, DataType] = {}

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    def get_input(self, index: int) -> _Tensor | None:
        return self._inputs[index]

    def get_output(self, index: int) -> _Tensor:
        return self._outputs[index]

    @property
    def precision(self) -> DataType:
        return self._precision

    @precision.setter
    def precision(self, dtype: DataType) -> None:
        if self._network.strongly_typed:  # "Setting layer precision ... is not allowed"
            self._network.api_errors.append(f"layer {self.name}: precision set on a strongly typed network")
        self._precision = dtype
        self.precision_set = True

    def set_output_type(self, index: int, dtype: DataType) -> None:
        if self._network.strongly_typed:
            self._network.api_errors.append(f"layer {self.name}: output type set on a strongly typed network")
        self.output_types[index] = dtype

    def graph_precision(self) -> str:
        """Strong typing: a layer computes in the type of its (first floating) input."""
        floats = (DataType.FLOAT, DataType.HALF)
        for tensor in (*self._inputs, *self._outputs):
            if tensor is not None and tensor.dtype in floats:
                return tensor.dtype.value
        return "none"


class _Network:
    def __init__(self, state: _State, *, strongly_typed: bool, explicit_batch: bool) -> None:
        self.strongly_typed = strongly_typed
        self.explicit_batch = explicit_batch
        self.inputs: list[_Tensor] = []
        self.outputs: list[_Tensor] = []
        self.layers: list[_Layer] = []
        self.api_errors: list[str] = []
        if state.major == "8":
            self.has_implicit_batch_dimension = not explicit_batch

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    @property
    def num_outputs(self) -> int:
        return len(self.outputs)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def get_input(self, index: int) -> _Tensor:
        return self.inputs[index]

    def get_output(self, index: int) -> _Tensor:
        return self.outputs[index]

    def get_layer(self, index: int) -> _Layer:
        return self.layers[index]


class _Config:
    def __init__(self, state: _State) -> None:
        self._state = state
        # As TensorRT's: TF32 on by default (8.x to 11.x), every other flag off.
        self.flags: set[Any] = {f for f in state.trt.BuilderFlag if f.name == "TF32"}
        self.pools: dict[str, int] = {}
        self.profiles: list[_Profile] = []
        if state.major != "11":
            self.int8_calibrator = None  # removed in 11 (explicit quantization instead)

    def set_flag(self, flag: Any) -> None:
        if not isinstance(flag, self._state.trt.BuilderFlag):
            raise TypeError(f"set_flag takes a tensorrt.BuilderFlag, got {flag!r}")
        self.flags.add(flag)

    def get_flag(self, flag: Any) -> bool:
        return flag in self.flags

    def clear_flag(self, flag: Any) -> None:
        self.flags.discard(flag)

    def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
        if not isinstance(pool, self._state.trt.MemoryPoolType):
            raise TypeError(f"set_memory_pool_limit takes a tensorrt.MemoryPoolType, got {pool!r}")
        self.pools[pool.name] = int(pool_size)

    def get_memory_pool_limit(self, pool: Any) -> int:
        return self.pools.get(pool.name, 0)

    def add_optimization_profile(self, profile: _Profile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1


class _Profile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {}

    def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:  # noqa: A002 (the API's names)
        self.shapes[input] = (tuple(min), tuple(opt), tuple(max))

    def get_shape(self, input: str) -> list[tuple[int, ...]]:  # noqa: A002
        return list(self.shapes[input])
