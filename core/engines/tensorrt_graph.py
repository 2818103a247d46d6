"""TensorRT engines from the exported ONNX file: FP16 from an FP16 graph, built once and cached on disk.

    model.onnx (FP32) --mixed_precision.to_fp16--> model.fp16.onnx (I3Ds FP16; LSTM, softmax, logits FP32;
        |                                           inputs and outputs FP32)
        +--> OnnxParser --> network --> build_serialized_network --> cache_dir/NAME.GPU.fp16.plan (+ .json)

How the network is typed depends on what the installed TensorRT has (pyproject: tensorrt >= 8.6, < 12):

    11.x        strongly typed, always (the STRONGLY_TYPED flag is accepted and ignored; BuilderFlag.FP16,
                INT8, OBEY_PRECISION_CONSTRAINTS ... are gone): precision = the tensor types in the graph
    10.x        created with NetworkDefinitionCreationFlag.STRONGLY_TYPED: the same as 11.x
    8.6 (no STRONGLY_TYPED)  weakly typed: the FP16 builder flag is the only way to FP16 kernels, so it
                is set, with OBEY_PRECISION_CONSTRAINTS and every layer pinned to the type the FP16 graph
                gives it, which keeps the LSTM, softmax and logits in FP32 there too

One file, one build routine, whichever version runs it. TensorRT cannot be installed on the machines
this project is developed on: tests/tensorrt_standins.py reproduces each version's Python API surface
(as documented) to test the build path; running an engine needs a GPU and is measured where one is.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.atomic import write_then_rename
from core.engines.cache import making, mark_used
from core.engines.export import exporter_fingerprint, save_atomically
from core.engines.interface import MAX_PEOPLE, BackendUnavailable, EngineError
from core.engines.metadata import file_sha256
from core.engines.mixed_precision import Fp16Scope, to_fp16
from core.package_files import pip_install

if TYPE_CHECKING:  # imported where a GPU is used: TensorRT's absence is told without PyTorch
    import torch

# How long a failed build is remembered (cached_engine) before it is tried again.
RETRY_FAILED_BUILD_S = 24 * 3600.0
# How long a start waits for another process building the same plan (minutes for the I3Ds) before it
# builds too.
TENSORRT_WAIT_S = 1800.0

log = logging.getLogger(__name__)


class TensorRtBuildError(EngineError):
    """TensorRT's ONNX parser rejected the graph or the builder failed (for this network: the LSTM is
    the usual suspect)."""


class Typing(enum.Enum):
    """How a TensorRT network gets its precisions."""

    STRONG = "strongly-typed"  # from the graph's tensor types (10.x with the flag, 11.x always)
    WEAK_FP16_FLAG = (
        "weakly-typed"  # FP16 builder flag + per-layer constraints (TensorRT without strong typing)
    )


def import_tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as error:
        raise BackendUnavailable(
            f"TensorRT is not installed ({pip_install('tensorrt')})"
        ) from error
    return tensorrt


def network_typing(trt: Any) -> Typing:
    """Strong typing wherever the installed TensorRT has it; the FP16 flag only where nothing else exists."""
    if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        return Typing.STRONG
    return Typing.WEAK_FP16_FLAG


def _major_version(trt: Any) -> int:
    return int(str(trt.__version__).split(".")[0])


def _network_flags(trt: Any, typing: Typing) -> int:
    flags = 0
    if typing is Typing.STRONG:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    if _major_version(trt) < 10:
        # 8.x networks are implicit-batch unless asked; 10.x deprecated the flag, 11.x removed it.
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    return flags


def tensorrt_cache_key(onnx_bytes_sha256: str, *, fp16: bool, max_batch: int) -> dict[str, Any]:
    """What a built TensorRT engine depends on: the model, the GPU, TensorRT's version, the build flags.
    An engine built for another GPU or TensorRT version does not load (or runs slower), so any change
    means a rebuild."""
    import torch

    trt = import_tensorrt()
    if not torch.cuda.is_available():
        raise BackendUnavailable("TensorRT needs a CUDA GPU; torch.cuda.is_available() is False")
    major, minor = torch.cuda.get_device_capability()
    return {
        "onnx_sha256": onnx_bytes_sha256,
        "converter": exporter_fingerprint() if fp16 else None,  # the FP16 graph built from depends on it
        "gpu": torch.cuda.get_device_name(),
        "compute_capability": f"{major}.{minor}",
        "tensorrt": trt.__version__,
        "precision": "fp16" if fp16 else "fp32",
        "fp16_scope": Fp16Scope.I3DS.value if fp16 else None,
        "typing": network_typing(trt).value,
        "max_batch": max_batch,
        "tf32": False,  # plans built before TF32 was cleared (build_tensorrt_plan) are built again
    }


def plan_name(graph_stem: str, key: Mapping[str, Any]) -> str:
    """`<graph stem>.<GPU>.<precision>`: a plan, and a failed-build record, per GPU model. With one name
    for all, machines with different GPUs sharing a cache folder (a mounted share) each built over the
    other's plan at every start, and one's failure took the place of the other's record."""
    gpu = re.sub(r"[^0-9a-z]+", "-", str(key["gpu"]).lower()).strip("-") or "gpu"
    return f"{graph_stem}.{gpu}.{key['precision']}"


def cached_engine(
    cache_dir: str | os.PathLike, name: str, key: Mapping[str, Any], build: Callable[[], bytes]
) -> tuple[bytes, bool]:
    """The bytes of `cache_dir/name.plan` if its stored key equals `key`; otherwise `build()` them, store
    them with the key and return them. Returns (bytes, rebuilt). One process builds at a time: rooms
    sharing the cache and the GPU, started together, each built for minutes with a workspace of its own,
    and one that ran out of GPU memory kept every room off TensorRT for a day (remember_failed_build)."""
    cache_dir = Path(cache_dir)
    plan_path = cache_dir / f"{name}.plan"
    mark_used(plan_path, cache_dir / f"{name}.plan.json")  # before reading them: no other run removes them
    if (plan := _stored_plan(cache_dir, name, key)) is not None:
        return plan, False
    with making(plan_path, TENSORRT_WAIT_S):
        if (plan := _stored_plan(cache_dir, name, key)) is not None:  # built by the process waited for
            return plan, False
        return _build_plan(cache_dir, name, key, build), True


def _stored_plan(cache_dir: Path, name: str, key: Mapping[str, Any]) -> bytes | None:
    """The bytes of `cache_dir/name.plan` where its stored key equals `key`."""
    plan_path, key_path = cache_dir / f"{name}.plan", cache_dir / f"{name}.plan.json"
    if plan_path.is_file() and key_path.is_file():
        try:
            stored = json.dumps(json.loads(key_path.read_text(encoding="utf-8")), sort_keys=True)
            if stored == json.dumps(dict(key), sort_keys=True):
                return plan_path.read_bytes()
        except (OSError, ValueError):
            pass
    return None


def _build_plan(cache_dir: Path, name: str, key: Mapping[str, Any], build: Callable[[], bytes]) -> bytes:
    """`build()` the plan and store it with its key (cached_engine), unless a build for this key failed
    within the day."""
    plan_path = cache_dir / f"{name}.plan"
    key_path = cache_dir / f"{name}.plan.json"
    expected = json.dumps(dict(key), sort_keys=True)
    failed_path = cache_dir / f"{name}.failed.json"
    # A build that failed for this key fails again (the graph, the GPU and TensorRT are the same): said at
    # once, not after minutes of building at every start (the whole network's, before the split engine).
    # For a day: a failure of the moment (the GPU's memory taken by another program) is tried again.
    try:
        failed = json.loads(failed_path.read_text(encoding="utf-8"))
        age = time.time() - failed_path.stat().st_mtime
        recent = 0 <= age < RETRY_FAILED_BUILD_S  # dated ahead (a clock set wrong): tried again
    except (OSError, ValueError):
        failed, recent = {}, False
    ours = isinstance(failed, dict) and json.dumps(failed.get("key"), sort_keys=True) == expected
    if recent and ours:
        said = (f"{failed.get('error')} (when built before; {failed_path} keeps that for a day: delete it "
                "to try again now)")
        # Refused by TensorRT (the split engine may get round it), or built and not loaded (it would not).
        raise TensorRtBuildError(said) if failed.get("refused") is not False else EngineError(said)
    # Minutes in which the app has nothing else to say (the log and the service manager saw only "loading
    # the model"): a start that looks hung to whoever watches it.
    log.info("building the TensorRT engine %s for this GPU, once per model, GPU and TensorRT version "
             "(minutes; kept in %s)", name, cache_dir)
    try:
        plan = build()
    except TensorRtBuildError as error:
        remember_failed_build(cache_dir, name, key, str(error))
        raise
    if ours:  # another key's (a GPU sharing the folder) is its own to keep
        failed_path.unlink(missing_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Plan first, key last: a crash in between leaves a stale key, which means a rebuild, never a
    # mismatched plan accepted.
    key_path.unlink(missing_ok=True)
    write_then_rename(plan_path, lambda f: f.write(plan))  # Ctrl-C too leaves no partial plan (100s of MB)
    # Whole or not at all: another app starting on this cache (a second room's) reads it meanwhile.
    key_text = json.dumps(dict(key), indent=1, sort_keys=True).encode("utf-8")
    write_then_rename(key_path, lambda f: f.write(key_text))
    return plan


def remember_failed_build(
    cache_dir: str | os.PathLike, name: str, key: Mapping[str, Any], error: str, *, refused: bool = True
) -> None:
    """Keep `error` for `key` beside the cache (`cache_dir/name.failed.json`), so that `cached_engine`
    says it at once for a day instead of building again. `refused`: TensorRT refused the graph (a
    TensorRtBuildError, which the split engine may get round); else a plan built for this key did not
    load, and is removed."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not refused:
        (cache_dir / f"{name}.plan.json").unlink(missing_ok=True)
        (cache_dir / f"{name}.plan").unlink(missing_ok=True)
    record = json.dumps({"key": dict(key), "error": error, "refused": refused}, indent=1).encode("utf-8")
    write_then_rename(cache_dir / f"{name}.failed.json", lambda f: f.write(record))


def fp16_onnx(onnx_path: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """The FP16 graph TensorRT builds from (mixed_precision.to_fp16), written once per source hash."""
    import onnx

    onnx_path = Path(onnx_path)
    # Named by the converter's code too: a change to to_fp16 converts again.
    name = f"{onnx_path.stem}-{file_sha256(onnx_path)[:16]}-{exporter_fingerprint()[:8]}.fp16.onnx"
    target = Path(out_dir) / name
    if target.is_file():
        mark_used(target)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            converted = to_fp16(onnx.load(str(onnx_path)), Fp16Scope.I3DS)
        except (EngineError, ValueError, onnx.checker.ValidationError) as error:
            raise EngineError(f"{onnx_path}: cannot make its FP16 graph ({error})") from error
        save_atomically(converted, target)
    return target


def _parser_error_text(error: Any) -> str:
    try:
        return f"node {error.node()} ({error.code()}): {error.desc()}"
    except AttributeError:  # another TensorRT version's error object: its own text
        return str(error)


def _pin_layers_to_graph_types(trt: Any, network: Any) -> int:
    """Weak typing only: constrain each layer to the precision its tensors have in the parsed FP16 graph
    (FP16 I3Ds, FP32 head), so the FP16 flag cannot move the LSTM, softmax or logits to FP16.
    Returns the number of layers pinned."""
    floats = (trt.float16, trt.float32)
    pinned = 0
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        inputs = [layer.get_input(i) for i in range(layer.num_inputs)]
        input_types = [t.dtype for t in inputs if t is not None and t.dtype in floats]
        output_types = [layer.get_output(i).dtype for i in range(layer.num_outputs)]
        if not input_types and not any(t in floats for t in output_types):
            continue
        # A layer computes in its inputs' type (a Cast's output type differs: that is set below).
        layer.precision = input_types[0] if input_types else next(t for t in output_types if t in floats)
        for i, dtype in enumerate(output_types):
            if dtype in floats:
                layer.set_output_type(i, dtype)
        pinned += 1
    return pinned


def build_tensorrt_plan(
    onnx_path: str | os.PathLike,
    *,
    fp16: bool = True,
    max_batch: int = MAX_PEOPLE,
    workspace_gib: float = 4,
    graph_dir: str | os.PathLike | None = None,
) -> bytes:
    """Parse the ONNX file (its FP16 graph when `fp16`, written to `graph_dir`, default beside it) and
    build a serialized engine with one optimisation profile, batch 1..max_batch (optimised for 1: one
    person in view is the common case and the latency budget is per window)."""
    trt = import_tensorrt()
    typing = network_typing(trt)
    onnx_path = Path(onnx_path)
    graph_path = fp16_onnx(onnx_path, graph_dir or onnx_path.parent) if fp16 else onnx_path
    logger = trt.Logger(trt.Logger.WARNING)
    builder = _started(trt, trt.Builder, logger)
    network = builder.create_network(_network_flags(trt, typing))
    parser = trt.OnnxParser(network, logger)
    # Read here, not by parse_from_file: a file name TensorRT opens itself has been reported to fail on
    # Windows outside the system's code page (NVIDIA/TensorRT#4240, a Chinese folder name), and a site's
    # checkpoints may sit under C:\Users\Müller. The path only locates external weights (ours have none).
    if not parser.parse(graph_path.read_bytes(), str(graph_path)):
        errors = [_parser_error_text(parser.get_error(i)) for i in range(parser.num_errors)]
        raise TensorRtBuildError(f"{graph_path}: TensorRT's ONNX parser failed: " + " | ".join(errors))
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if hasattr(trt.BuilderFlag, "TF32"):
        # On by default: on Ampere and newer the layers kept in FP32 (the LSTM, the attention, the logits;
        # a skeleton-only network's all) would multiply in TF32, 10 bits of mantissa, which FP32 is for.
        config.clear_flag(trt.BuilderFlag.TF32)
    if fp16 and typing is Typing.WEAK_FP16_FLAG:
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        _pin_layers_to_graph_types(trt, network)
    profile = builder.create_optimization_profile()
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        dims = tuple(tensor.shape)
        if any(d < 0 for d in dims[1:]):
            raise EngineError(f"{onnx_path}: input {tensor.name} {dims} has a dynamic axis besides the batch")
        profile.set_shape(tensor.name, (1, *dims[1:]), (1, *dims[1:]), (max_batch, *dims[1:]))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise TensorRtBuildError(
            f"{graph_path}: TensorRT {trt.__version__} could not build an engine "
            f"({typing.value}, see its log)"
        )
    return bytes(plan)


def _started(trt: Any, factory: Callable[[Any], Any], logger: Any) -> Any:
    """trt.Builder / trt.Runtime: where CUDA does not start (a driver older than the wheel's CUDA, e.g.
    tensorrt-cu13 on a driver before 580), pybind11 raises TypeError ("factory function returned
    nullptr"), which said nothing and stopped `auto` from trying the next backend."""
    try:
        return factory(logger)
    except TypeError as error:
        raise EngineError(f"TensorRT {trt.__version__} could not start CUDA ({error}): is the NVIDIA driver "
                          "new enough for the CUDA this TensorRT wheel was built for (tensorrt-cu12 or "
                          "-cu13)?") from error


def bindable_address(tensor: torch.Tensor, keep: list[torch.Tensor]) -> int:
    """The address to bind `tensor` at. An empty tensor (a skeleton-only model's attention, (people, 0))
    has address 0 in PyTorch, and TensorRT needs at least one byte of real memory for every binding
    ("Working with Empty Tensors"): such a tensor is bound at a one-element stand-in, kept alive in `keep`
    until the engine has run."""
    import torch

    if tensor.numel() > 0:
        return tensor.data_ptr()
    stand_in = torch.empty(1, dtype=tensor.dtype, device=tensor.device)
    keep.append(stand_in)
    return stand_in.data_ptr()


class TensorRtGraph:
    """One ONNX graph as a TensorRT engine (FP16 by default), built once and cached on disk.

    Device memory is torch CUDA tensors (no pycuda); the engine runs on a CUDA stream of its own.
    Batches larger than the engine's profile run in chunks. uint8 crops go to the GPU as they are and are
    widened to the engine's input type there.
    """

    widens_crops = True

    def __init__(
        self,
        onnx_path: str | os.PathLike,
        cache_dir: str | os.PathLike,
        *,
        fp16: bool = True,
        max_batch: int = MAX_PEOPLE,
    ) -> None:
        import torch

        trt = import_tensorrt()
        onnx_path = Path(onnx_path)
        key = tensorrt_cache_key(file_sha256(onnx_path), fp16=fp16, max_batch=max_batch)
        self.cache_name = plan_name(onnx_path.stem, key)

        def cached() -> tuple[bytes, bool]:
            return cached_engine(cache_dir, self.cache_name, key, lambda: build_tensorrt_plan(
                onnx_path, fp16=fp16, max_batch=max_batch, graph_dir=cache_dir))

        plan, self.rebuilt = cached()
        self._trt = trt
        self._runtime = _started(trt, trt.Runtime, trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None and not self.rebuilt:
            # A cached plan its key matches that does not load (a damaged file; a driver the key cannot
            # see): built again once, not refused at every start.
            (Path(cache_dir) / f"{self.cache_name}.plan.json").unlink(missing_ok=True)
            plan, self.rebuilt = cached()
            self._engine = self._runtime.deserialize_cuda_engine(plan)
        if self._engine is None:
            error = f"{onnx_path}: TensorRT could not load the engine it built in {cache_dir}"
            remember_failed_build(cache_dir, self.cache_name, key, error, refused=False)  # not at every start
            raise EngineError(error)
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self.input_names = tuple(
            n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT
        )
        self.output_names = tuple(n for n in names if n not in self.input_names)
        self.max_batch = max_batch
        self.device = torch.device("cuda", torch.cuda.current_device())
        # A stream of its own: TensorRT on the default stream adds synchronisations of its own.
        self._stream = torch.cuda.Stream(self.device)
        self.key = key
        self.name = f"tensorrt-{key['precision']}"

    def _torch_dtype(self, name: str) -> torch.dtype:
        import torch

        trt = self._trt
        dtype = self._engine.get_tensor_dtype(name)
        table = {
            trt.float32: torch.float32,
            trt.float16: torch.float16,
            trt.int32: torch.int32,
            trt.int8: torch.int8,
            trt.bool: torch.bool,
        }
        if hasattr(trt, "int64"):
            table[trt.int64] = torch.int64
        return table[dtype]

    def run(self, feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]:
        import torch

        batch = next(iter(feeds.values())).shape[0]
        if batch > self.max_batch:
            chunks = [
                self.run({k: v[start : start + self.max_batch] for k, v in feeds.items()}, outputs)
                for start in range(0, batch, self.max_batch)
            ]
            return [np.concatenate(pieces) for pieces in zip(*chunks, strict=True)]
        with torch.cuda.stream(self._stream):  # inputs, outputs and the engine all on the engine's stream
            inputs, results = self._enqueue(feeds, batch)
        # Wait before the input tensors go out of scope: the engine reads them asynchronously.
        self._stream.synchronize()
        del inputs
        return [results[name].float().cpu().numpy() for name in outputs]

    def _enqueue(
        self, feeds: Mapping[str, np.ndarray], batch: int
    ) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        import torch

        context = self._context
        inputs = []
        for name in self.input_names:
            # Copied in its own type, then converted on the GPU: a blocking .to(device, dtype) converts
            # on the CPU before the copy (six people's uint8 crops at the paper profile, 54 MB made 217 MB:
            # 50-120 ms on 2 cores).
            tensor = torch.from_numpy(np.ascontiguousarray(feeds[name])).to(self.device)
            tensor = tensor.to(self._torch_dtype(name))
            context.set_input_shape(name, tuple(tensor.shape))
            context.set_tensor_address(name, bindable_address(tensor, inputs))
            inputs.append(tensor)
        results = {}
        for name in self.output_names:
            shape = tuple(context.get_tensor_shape(name))
            tensor = torch.empty(shape, dtype=self._torch_dtype(name), device=self.device)
            context.set_tensor_address(name, bindable_address(tensor, inputs))
            results[name] = tensor
        if not context.execute_async_v3(self._stream.cuda_stream):
            raise EngineError(f"TensorRT engine {self.cache_name} failed to run (batch {batch})")
        return inputs, results
