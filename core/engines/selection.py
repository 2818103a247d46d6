"""`open_engine`: a checkpoint or ONNX file on the backend asked for, or on the fastest one present.

AUTO tries, fastest first, and says in `engine.reason` what it picked, why, and why each faster
backend was passed over:

    tensorrt          TensorRT, FP16 I3Ds (strongly typed from the FP16 graph), cached per GPU + version
    pytorch-cuda      TorchCudaEngine: FP16 I3Ds, cuDNN autotuning, one CUDA graph per batch size
    onnxruntime-cuda  ONNX Runtime's CUDA provider (onnxruntime-gpu), FP32
    onnxruntime-cpu   on a CPU with a checkpoint: ONNX Runtime or PyTorch eager per number of people,
    pytorch-cpu         whichever measured faster on this machine (cpu_batching); ONNX files: ONNX Runtime

A backend whose runtime is absent is skipped; one that is present but fails to open (a TensorRT
build, a CUDA provider without a driver) is skipped too, with its error in the reason.

PyTorch is imported only where it runs or must be asked: a CPU build of torch says so in its
torch/version.py, so the GPU backends are passed over without it, and a checkpoint whose export and CPU
measurement are cached runs on ONNX Runtime alone, its record read from the export without the onnx
package either. The app then comes to its first decision about two seconds sooner, some 250 MB smaller.
"""

from __future__ import annotations

import ast
import atexit
import functools
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata as distributions
from pathlib import Path
from typing import TYPE_CHECKING

from core.atomic import write_then_rename
from core.engines.cache import hold, made_by_engines, making, mark_used, remove_unused, tag_as_cache
from core.engines.cpu_batching import (
    PerBatchEngine,
    cached_measurement,
    choose_per_batch,
    describe_plan,
    machine_key,
    measure,
)
from core.engines.export import export_onnx, exporter_fingerprint, split_onnx
from core.engines.interface import (
    MAX_PEOPLE,
    Backend,
    BackendUnavailable,
    Engine,
    EngineError,
    GraphEngine,
    SplitEngine,
)
from core.engines.metadata import (
    EngineMetadata,
    OnnxMetadataError,
    exported_metadata_props,
    file_sha256,
    read_onnx_metadata,
)
from core.engines.onnxruntime_graph import OnnxRuntimeGraph, import_onnxruntime, usable_cores
from core.engines.tensorrt_graph import TensorRtBuildError, TensorRtGraph, import_tensorrt
from core.model.profiles import Aggregation
from core.wording import no_home_folder

if TYPE_CHECKING:
    from core.model.checkpoint import Checkpoint

log = logging.getLogger(__name__)

# How long a start waits for another process exporting the same checkpoint into the cache (seconds for a
# skeleton model, a minute or two for the I3Ds on a slow CPU) before it exports too.
EXPORT_WAIT_S = 300.0

# Fastest first. On a GPU: TensorRT, then PyTorch with FP16 and CUDA graphs (faster than ONNX Runtime's
# CUDA provider in FP32), then ONNX Runtime's CUDA provider. On a CPU: ONNX Runtime and PyTorch eager,
# each for the numbers of people it is faster at (measured on the machine, cpu_batching).
AUTO_ORDER = (
    Backend.TENSORRT,
    Backend.PYTORCH_CUDA,
    Backend.ONNXRUNTIME_CUDA,
    Backend.ONNXRUNTIME_CPU,
    Backend.PYTORCH_CPU,
)
_WHY_PICKED = {
    Backend.TENSORRT: "TensorRT (FP16 I3Ds), expected fastest on an NVIDIA GPU (not yet measured on one)",
    Backend.PYTORCH_CUDA: "a GPU without TensorRT: PyTorch with FP16 I3Ds and CUDA graphs",
    Backend.ONNXRUNTIME_CUDA: "a GPU with ONNX Runtime's CUDA provider (TensorRT and PyTorch CUDA unusable)",
    Backend.ONNXRUNTIME_CPU: "no usable GPU backend",
    Backend.PYTORCH_CPU: "no faster backend could be opened",
}


def default_cache_dir() -> Path:
    """Where exported ONNX files and TensorRT engines are kept: $WHERE_TO_FOCUS_CACHE, else the user's
    cache, else (no home) a folder for this run."""
    override = os.environ.get("WHERE_TO_FOCUS_CACHE")
    if override:
        return Path(override)
    return _home_cache_dir() or _homeless_cache()


def _home_cache_dir() -> Path | None:
    """The user's cache ($XDG_CACHE_HOME, else ~/.cache), or None where this user has no home folder (a
    container's or a service's user missing from the password database, with HOME unset)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative path there is invalid and ignored
        return Path(xdg) / "where-to-focus" / "engines"
    try:
        return Path.home() / ".cache" / "where-to-focus" / "engines"
    except RuntimeError:  # "Could not determine home directory."
        return None


@functools.cache
def _homeless_cache() -> Path:
    """One folder for this process's exports where there is no home to keep them in (said once)."""
    return _temporary_cache(Path("~/.cache/where-to-focus/engines"), f"cannot be found ({no_home_folder()})")


def _cpu_build_unimported() -> bool:
    """Whether torch, not imported yet, was built without CUDA (and ROCm), read from its torch/version.py
    without importing it (a second and some 200 MB): PyPI's Windows and macOS wheels say so only there,
    the CPU wheels of Linux in their version ("+cpu") too. False where that cannot tell (torch imported
    already, a version.py not as expected): torch is then asked."""
    spec = importlib.util.find_spec("torch") if "torch" not in sys.modules else None
    if spec is None or spec.origin is None:
        return False
    try:
        tree = ast.parse(Path(spec.origin).with_name("version.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    built_for: dict[str, object] = {}  # `cuda: Optional[str] = None`, `hip: Optional[str] = '6.4...'`
    for statement in tree.body:
        if isinstance(statement, ast.AnnAssign | ast.Assign) and isinstance(statement.value, ast.Constant):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            built_for.update({t.id: statement.value.value for t in targets if isinstance(t, ast.Name)})
    return "cuda" in built_for and built_for["cuda"] is None and built_for.get("hip") is None


def _no_gpu() -> str | None:
    """Why PyTorch sees no CUDA GPU, or None where it sees one."""
    cpu_build = _cpu_build_unimported()
    if not cpu_build:
        import torch

        if torch.cuda.is_available():  # a CUDA build's GPU, or a ROCm build's (torch.cuda works on both)
            return None
        cpu_build = torch.version.cuda is None and getattr(torch.version, "hip", None) is None
    why = f"no CUDA GPU (torch {distributions.version('torch')}: torch.cuda.is_available() is False)"
    if cpu_build:  # a GPU in the machine would not help either
        why += "; this torch is a CPU build: install a CUDA one (README, 'On a GPU') and check nvidia-smi"
    return why


def unavailable_reason(backend: Backend) -> str | None:
    """Why `backend` cannot run on this machine, or None if its runtime and device are present."""
    if backend is Backend.AUTO or backend is Backend.PYTORCH_CPU:
        return None
    if backend is Backend.PYTORCH_CUDA:
        return _no_gpu()
    if importlib.util.find_spec("onnx") is None:  # the others run an ONNX graph: exported and read with it
        return "the onnx package is not installed (pip install onnx)"
    if backend is Backend.TENSORRT:
        try:
            import_tensorrt()
        except BackendUnavailable as error:
            return str(error)
        return _no_gpu()
    try:
        ort = import_onnxruntime()
    except BackendUnavailable as error:
        return str(error)
    if backend is Backend.ONNXRUNTIME_CUDA and "CUDAExecutionProvider" not in ort.get_available_providers():
        return (f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (pip uninstall onnxruntime, "
                "then pip install onnxruntime-gpu: the two packages clash)")
    if backend is Backend.ONNXRUNTIME_CUDA and not _cpu_build_unimported():
        # onnxruntime-gpu lists its CUDA provider whether or not a GPU is visible (no driver, a container
        # started without one), then falls back to the CPU when a session opens. A CUDA torch that sees
        # no GPU says so; a CPU build of torch cannot tell, and onnxruntime is left to try.
        import torch

        if torch.version.cuda is not None and not torch.cuda.is_available():
            return _no_gpu()
    return None


_FOR_THIS_RUN: set[Path] = set()  # the folders _writable_or_temporary made in the cache's place


def _writable_or_temporary(cache_dir: Path) -> Path:
    """`cache_dir` if files can be written there and nobody else can; otherwise a folder of this process's
    own, with a warning: a read-only home or a cache path under a file then costs an export and a
    measurement at every start, not the engine (AUTO would otherwise pass over ONNX Runtime as if it had
    failed). Another user who can write the cache could put a graph of their own, with its checksum, in
    the place of the export (one that never says fall), so one they can write is not used."""
    try:
        made_here = not cache_dir.is_dir()
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=cache_dir):
            pass
        why_not = _open_to_others(cache_dir, may_close=cache_dir == _home_cache_dir())
        if why_not is None:
            # The engines' own, which cache.py cleans: made here, the default, one a run made and did not
            # get to tag (empty), or one an earlier version made before there was a tag.
            if (made_here or cache_dir == _home_cache_dir() or not any(cache_dir.iterdir())
                    or made_by_engines(cache_dir)):
                tag_as_cache(cache_dir)
            return cache_dir
    except OSError as error:
        # A start by hand as root made it root's (mode 700): every start of the service's user exported and
        # measured again, told to set WHERE_TO_FOCUS_CACHE, which named that very folder.
        why_not = _belongs_to_another(cache_dir) or f"cannot be written ({error.strerror or error})"
    return _temporary_cache(cache_dir, why_not)


def _belongs_to_another(folder: Path) -> str | None:
    """'belongs to root (uid 0); chown -R wtf FOLDER gives it to this user', where `folder` is another
    user's (POSIX), else None."""
    if os.name == "nt":
        return None
    try:
        owner = folder.stat().st_uid
    except OSError:
        return None
    if owner == os.getuid():
        return None
    import pwd

    def name(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    if os.getuid() == 0:  # root by hand on a service's cache: the cache stays the service's
        return (f"belongs to {name(owner)} (uid {owner}); run as that user (sudo -u {name(owner)} ...) to "
                "use it")
    return (f"belongs to {name(owner)} (uid {owner}); chown -R {name(os.getuid())} {folder} gives it to this "
            "user")


def _temporary_cache(cache_dir: Path, why_not: str) -> Path:
    """A folder of this process's own in place of `cache_dir`, removed at exit, with a warning saying why."""
    _remove_temporary_caches_of_ended_runs()
    try:
        fallback = Path(tempfile.mkdtemp(prefix=f"{_TEMPORARY_CACHE}{os.getpid()}-"))
    except OSError as error:  # said only inside the engine line, as a backend that failed
        log.warning("engine cache %s %s, and no temporary folder can be written either (%s): the "
                    "checkpoint cannot be exported for ONNX Runtime or TensorRT (PyTorch runs it: slower, "
                    "larger); set WHERE_TO_FOCUS_CACHE to "
                    "a folder of this user's that only it can write", cache_dir, why_not, error)
        raise
    atexit.register(shutil.rmtree, fallback, ignore_errors=True)
    _FOR_THIS_RUN.add(fallback)
    log.warning("engine cache %s %s: exports and CPU measurements go to %s for this run only and are made "
                "again at the next start; set WHERE_TO_FOCUS_CACHE to a folder of this user's that only it "
                "can write", cache_dir, why_not, fallback)
    return fallback


_TEMPORARY_CACHE = "where-to-focus-engines-"  # and the process's id: `_temporary_cache`'s folders


def _remove_temporary_caches_of_ended_runs() -> None:
    """Remove this user's `_temporary_cache` folders of runs that have ended without removing them: killed
    (SIGKILL, a watchdog's SIGABRT), their exit hook never ran, and each left its export behind (MBs, and
    hundreds of MB for an RGB model) in a folder nothing else cleans, once per restart."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{_TEMPORARY_CACHE}*"):
        made_by = re.fullmatch(rf"{_TEMPORARY_CACHE}(\d+)-\w+", folder.name)
        try:
            status = folder.lstat()
            # Another user's first, whose names anybody can make up in /tmp: only this user's are looked into.
            if (made_by is None or not stat.S_ISDIR(status.st_mode)
                    or (hasattr(os, "getuid") and status.st_uid != os.getuid())
                    or _process_running(int(made_by[1]))):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += not folder.exists()
    if removed:
        log.info("removed %d engine folder(s) of runs that were killed before they could remove them",
                 removed)


def _process_running(pid: int) -> bool:
    """Whether the process `pid` may still be running (a number taken again since: kept, harmlessly; a
    run in a container with PID numbers of its own would look ended, were /tmp shared with it). A number
    no process can have (a name made up) is no process."""
    if not 0 < pid < 2**31:
        return False
    if os.name == "nt":  # os.kill there would stop it: asked of the system instead
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.OpenProcess.restype = ctypes.c_void_p
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:  # no such process; one of another account's is refused, and counts as running
            return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(ctypes.c_void_p(handle), ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE: an ended process's handle lives while others hold it
        finally:
            kernel32.CloseHandle(ctypes.c_void_p(handle))
    try:
        os.kill(pid, 0)  # signal 0: nothing sent, only whether there is such a process
    except ProcessLookupError:
        return False
    except OSError:  # another user's process of that number: running
        return True
    return True


def _open_to_others(folder: Path, may_close: bool) -> str | None:
    """Why others than this user could change what is in `folder` (POSIX owner and mode bits; Windows
    keeps ACLs, not checked here), or None. `may_close`: the default cache, this user's own, and its files
    that others may write (made under a 002 umask, say) are closed to them here; a folder named by
    WHERE_TO_FOCUS_CACHE may be shared on purpose, and is left as it is and not used."""
    if os.name == "nt":
        return None
    if (another := _belongs_to_another(folder)) is not None:
        return another
    status = folder.stat()
    # Where nobody else may enter the folder, its files can be reached only through a hard link made while
    # they could: a umask of 002 (many distributions' default for users) makes every export group-writable,
    # which is harmless there.
    closed = not status.st_mode & 0o011
    open_to_others = [(path, mode) for path, mode, links in _modes_within(folder)
                      if mode & 0o022 and not (closed and (links == 1 or not stat.S_ISREG(mode)))]
    if not open_to_others:
        return None
    if not may_close:
        path, mode = open_to_others[0]
        return f"can be written by other users (mode of {path}: {stat.filemode(mode)}; chmod -R go-w it)"
    try:
        for path, mode in open_to_others:
            os.chmod(path, stat.S_IMODE(mode) & ~0o022)
    except OSError as error:
        return f"can be written by other users and cannot be closed to them ({error.strerror or error})"
    log.info("engine cache %s: %d file(s) closed to other users' writes", folder, len(open_to_others))
    return None


def _modes_within(folder: Path) -> list[tuple[str, int, int]]:
    """(path, mode, hard links) of `folder` and of everything under it, symbolic links not followed (nor
    counted: one points at what is outside, and only this user could have put it in a folder of theirs),
    nor what went away meanwhile (another run's temporary file)."""
    found = []
    for root, folders, files in os.walk(folder):
        for path in (root, *(os.path.join(root, name) for name in (*folders, *files))):
            try:
                status = os.lstat(path)
            except FileNotFoundError:
                continue
            if not stat.S_ISLNK(status.st_mode):
                found.append((path, status.st_mode, status.st_nlink))
    return found


class _Source:
    """A checkpoint or an ONNX file, with what each backend needs derived lazily (and once)."""

    def __init__(self, path: Path, cache_dir: Path, *, graph_backends: bool = True) -> None:
        self.path = path
        self._cache_dir = cache_dir
        # Whether an ONNX graph may run it (not a PyTorch backend asked for): only then is a cached export
        # looked for, and the cache opened.
        self.graph_backends = graph_backends
        self._cache_checked = False
        self.is_onnx = path.suffix.lower() == ".onnx"
        self._checkpoint: Checkpoint | None = None
        self._metadata: EngineMetadata | None = None
        self._onnx: Path | None = path if self.is_onnx else None

    @property
    def cache_dir(self) -> Path:
        """Where exports, engines and measurements are kept (checked on first use: an ONNX file on ONNX
        Runtime never needs it)."""
        if not self._cache_checked:
            self._cache_dir = _writable_or_temporary(self._cache_dir)
            self._cache_checked = True
        return self._cache_dir

    @property
    def opened_lasting_cache(self) -> bool:
        """Whether the cache was opened and is the lasting one, not a folder of this run's own."""
        return self._cache_checked and self._cache_dir not in _FOR_THIS_RUN

    def files_in_cache(self) -> tuple[Path, ...]:
        """The cache files of this model: its ONNX file where the cache holds it, what was made from it
        (names that start with its stem: checksum, FP16 and split graphs, TensorRT plans), and its CPU
        measurements."""
        in_cache = self.is_onnx and self.path.resolve().parent == self._cache_dir.resolve()
        if not (self.opened_lasting_cache or in_cache):
            return ()
        folder = self.cache_dir if self.opened_lasting_cache else self.path.parent
        prefixes = [f"cpu-batching-{self.metadata().checkpoint_sha256[:16]}-"]
        unnamed_gpu = None
        if self._onnx is not None:
            stem = self._onnx.stem
            # An export's stem holds its checkpoint's hash; a file outside the cache (runs/x/best.onnx) is
            # named by its own hash in its FP16 and split graphs, or other models named best would be kept.
            in_this = self._onnx.parent == folder
            prefixes += [f"{stem}-" if in_this else f"{stem}-{file_sha256(self._onnx)[:16]}", f"{stem}."]
            # Its TensorRT plans, whole or of its split graphs, from before their names held the GPU
            # (tensorrt_graph.plan_name): none uses them now, so they are left for remove_unused (hundreds
            # of MB each, at every site).
            unnamed_gpu = re.compile(rf"{re.escape(stem)}(-[0-9a-f]{{16}}\.(parts|head))?"
                                     r"\.fp(16|32)\.(plan(\.json)?|failed\.json)")
        try:
            return tuple(path for path in folder.iterdir() if path.name.startswith(tuple(prefixes))
                         and not (unnamed_gpu and unnamed_gpu.fullmatch(path.name)))
        except OSError:
            return ()

    def checkpoint(self) -> Checkpoint:
        if self.is_onnx:
            raise BackendUnavailable(
                f"{self.path}: PyTorch backends need the checkpoint (.pt), not an ONNX file"
            )
        if self._checkpoint is None:
            from core.model.checkpoint import load_checkpoint  # PyTorch: only where the checkpoint is needed

            checkpoint = load_checkpoint(self.path)
            if self._metadata is not None and checkpoint.sha256 != self._metadata.checkpoint_sha256:
                # The record came from the export of the file as it was a moment ago: these weights would
                # run under another model's classes.
                raise EngineError(f"{self.path}: changed while it was being opened (a training run wrote "
                                  "it?): open it again")
            self._checkpoint = checkpoint
        return self._checkpoint

    def metadata(self) -> EngineMetadata:
        if self._metadata is None:
            if self.is_onnx:
                self._metadata = read_onnx_metadata(self.path)
            elif (exported := self._checked_export()) is not None:
                self._onnx, self._metadata = exported
            else:
                checkpoint = self.checkpoint()
                self._metadata = EngineMetadata.from_checkpoint(checkpoint, checkpoint.sha256)
        return self._metadata

    def _export_path(self, checkpoint_sha256: str) -> Path:
        """Where the checkpoint's export is cached: named by its hash and by the exporting code's."""
        return self.cache_dir / f"{self.path.stem}-{checkpoint_sha256[:16]}-{exporter_fingerprint()[:8]}.onnx"

    def _checked_export(self) -> tuple[Path, EngineMetadata] | None:
        """The checkpoint's cached export and the metadata it carries, where it is there whole and made from
        these very bytes (the checkpoint's hash, in its metadata too): its metadata is the checkpoint's,
        read without loading PyTorch. None otherwise (exported again, from the loaded checkpoint)."""
        # Nothing cached; no ONNX graph to run (a PyTorch backend asked for, or no onnx: PyTorch then runs
        # it, its cache untouched).
        no_graph = not self.graph_backends or importlib.util.find_spec("onnx") is None
        if no_graph or not self._cache_dir.is_dir():
            return None
        checkpoint_sha256 = file_sha256(self.path)
        target = self._export_path(checkpoint_sha256)
        digest = target.with_name(f"{target.name}.sha256")
        mark_used(target, digest)  # before checking it: no run removes it then
        # Its bytes checked first (quietly: the export made again says it), then its record read without
        # the onnx package (half a second of the start).
        if not target.is_file() or not _as_exported(target, digest, say=False):
            return None
        try:
            metadata = EngineMetadata.from_onnx_props(exported_metadata_props(target), source=str(target))
        except (OSError, ValueError):
            return None
        return (target, metadata) if metadata.checkpoint_sha256 == checkpoint_sha256 else None

    def onnx(self) -> Path:
        """The ONNX file: the source itself, or the checkpoint exported into the cache (once per hash of
        the checkpoint and of the exporting code)."""
        metadata = self.metadata()  # takes the cached export where it can be used as it is
        if self._onnx is None:
            target = self._export_path(metadata.checkpoint_sha256)
            digest = target.with_name(f"{target.name}.sha256")  # what the export wrote, to check it by
            mark_used(target, digest)  # before checking it (seconds for an RGB model): no run removes it then
            if not target.is_file() or _stale_export(target, metadata, digest, say=False):
                with making(target, EXPORT_WAIT_S):  # looked at again: another room's start exported it
                    if not target.is_file() or _stale_export(target, metadata, digest):
                        log.info("exporting %s to ONNX (once, kept in %s)%s", self.path.name, self.cache_dir,
                                 _why_exported_again(target))
                        export_onnx(self.checkpoint().model, metadata, target)
                        # Whole or not at all: another app starting on this cache took a half-written one
                        # for damaged bytes ("exported again").
                        written = (file_sha256(target) + "\n").encode("utf-8")
                        write_then_rename(digest, lambda f: f.write(written))
            self._onnx = target
        return self._onnx


def _why_exported_again(target: Path) -> str:
    """Why a start exports a checkpoint that it exported before, where it did: after an upgrade each room
    PC's log says why its start took seconds longer once."""
    if target.is_file():  # made again for its damaged bytes, which the log has said
        return ""
    # The cached file's name: the checkpoint's stem, its hash, the exporting code's hash (_export_path);
    # graphs made from an export (.parts, .head, .fp16) add to its name.
    checkpoint_part = target.stem.rsplit("-", 1)[0]
    earlier = re.compile(re.escape(checkpoint_part) + r"-[0-9a-f]{8}\.onnx")
    if any(earlier.fullmatch(other.name) for other in target.parent.iterdir()):
        return ": the exporting code changed since its last export (a new version of this software)"
    return ""


def _stale_export(onnx_path: Path, metadata: EngineMetadata, digest: Path, *, say: bool = True) -> bool:
    """Whether a cached export must be made again: other metadata, or bytes that are no longer those the
    export wrote (_as_exported; `say`: log it)."""
    try:
        return read_onnx_metadata(onnx_path) != metadata or not _as_exported(onnx_path, digest, say=say)
    except (OSError, OnnxMetadataError):
        return True


def _as_exported(onnx_path: Path, digest: Path, *, say: bool = True) -> bool:
    """Whether a cached export's bytes are those the export wrote, as its `digest` file holds their hash
    (ONNX carries no checksum: a damaged weight would run, wrong, without a word); `say`: log it where
    they are not."""
    try:
        if not digest.is_file():
            return False
        if digest.read_text(encoding="utf-8").strip() != file_sha256(onnx_path):
            if say:
                log.warning("%s: its bytes changed since it was exported (damaged on disk?): exported again",
                            onnx_path)
            return False
        return True
    except OSError:
        return False


def _open(backend: Backend, source: _Source, *, threads: int | None, reason: str) -> Engine:
    why_not = unavailable_reason(backend)
    if why_not:
        raise BackendUnavailable(f"{backend.value}: {why_not}")
    if backend is Backend.PYTORCH_CPU:
        import torch

        from core.engines.torch_engine import TorchEngine

        checkpoint = source.checkpoint()
        if threads is not None:
            torch.set_num_threads(threads)  # PyTorch's setting is per process: the same cores as ORT's
        return TorchEngine(checkpoint.model, source.metadata(), "cpu", reason=reason)
    if backend is Backend.PYTORCH_CUDA:
        from core.engines.torch_engine import TorchCudaEngine

        return TorchCudaEngine(source.checkpoint().model, source.metadata(), "cuda", reason=reason)
    metadata = source.metadata()
    onnx_path = source.onnx()
    if backend is not Backend.TENSORRT:
        graph = OnnxRuntimeGraph(onnx_path, cuda=backend is Backend.ONNXRUNTIME_CUDA, threads=threads)
        return GraphEngine(graph, metadata, reason=reason)
    try:
        # FP16 is for the I3Ds (mixed_precision.Fp16Scope.I3DS); a skeleton-only network has none and is
        # built in FP32 (its FP16 graph cannot be made).
        graph = TensorRtGraph(onnx_path, source.cache_dir, fp16=bool(metadata.parts))
        return GraphEngine(graph, metadata, reason=reason)
    except TensorRtBuildError as error:
        if metadata.config.aggregation is not Aggregation.ATTENTION:
            raise
        # TensorRT could not take the LSTM: I3Ds (nearly all the work) on TensorRT, the small pose
        # head on ONNX Runtime — on its CUDA provider where present.
        parts_path, head_path = split_onnx(onnx_path, source.cache_dir)
        parts = TensorRtGraph(parts_path, source.cache_dir)
        head_on_cuda = unavailable_reason(Backend.ONNXRUNTIME_CUDA) is None
        head = OnnxRuntimeGraph(head_path, cuda=head_on_cuda, threads=threads)
        first_error = str(error).split(" | ")[0]
        return SplitEngine(
            parts,
            head,
            metadata,
            reason=f"{reason}; TensorRT could not take the whole graph ({first_error}), so the I3Ds run "
            f"on TensorRT and the pose LSTM + attention on {head.name}",
        )


def _open_cpu(source: _Source, *, threads: int | None, reason: str) -> Engine:
    """auto on a CPU: ONNX Runtime, and for a checkpoint PyTorch eager too, each running the numbers of
    people it measured faster at (cpu_batching; measured once per model and machine, then cached). Eager
    is opened only to be measured or where the measurement gives it some number of people: PyTorch is
    then never imported (a second of the start, some 200 MB)."""
    onnxruntime_engine = _open(Backend.ONNXRUNTIME_CPU, source, threads=threads, reason=reason)
    if source.is_onnx:
        return onnxruntime_engine
    engines: dict[Backend, Engine] = {Backend.ONNXRUNTIME_CPU: onnxruntime_engine}

    def open_eager() -> None:
        engines[Backend.PYTORCH_CPU] = _open(Backend.PYTORCH_CPU, source, threads=threads, reason=reason)

    metadata = source.metadata()
    cores = threads or usable_cores()
    key = {
        **machine_key(cores),
        "checkpoint_sha256": metadata.checkpoint_sha256,
        "backends": sorted(backend.value for backend in (Backend.ONNXRUNTIME_CPU, Backend.PYTORCH_CPU)),
    }
    # One file per thread count: the app (all cores but one) and evaluation (all) keep their own; and per
    # CPU model: room computers of two kinds sharing one cache folder measured again at each other's start.
    cpu = hashlib.sha256(key["cpu"].encode("utf-8")).hexdigest()[:8]
    calibration = source.cache_dir / f"cpu-batching-{metadata.checkpoint_sha256[:16]}-{cores}t-{cpu}.json"

    def measure_now() -> dict[Backend, dict[int, float]]:
        # Seconds to tens of seconds of silence otherwise: say what is going on first.
        kept = (f"once; then cached in {calibration}" if source.opened_lasting_cache
                else "for this run only (see the warning above)")
        log.info("measuring ONNX Runtime against PyTorch eager on this CPU for %s (%s profile), up to ~20 s, "
                 "%s", source.path.name, metadata.profile, kept)
        open_eager()
        return measure(engines, metadata)

    seconds, measured = cached_measurement(calibration, key, measure_now)
    plan = choose_per_batch(seconds, MAX_PEOPLE)
    if Backend.PYTORCH_CPU in plan.values() and Backend.PYTORCH_CPU not in engines:
        open_eager()
    figures = "; ".join(
        f"{backend.value} " + ", ".join(f"{people}: {s * 1e3:.0f} ms" for people, s in sorted(times.items()))
        for backend, times in seconds.items()
    )
    how = "measured now" if measured else "measured earlier on this machine, cached"
    return PerBatchEngine(
        engines,
        plan,
        metadata,
        reason=f"{reason}; per number of people the faster CPU backend: {describe_plan(plan)} "
        f"({how}, per call by people: {figures})",
    )


def open_engine(
    path: str | os.PathLike,
    backend: Backend | str = Backend.AUTO,
    *,
    cache_dir: str | os.PathLike | None = None,
    threads: int | None = None,
    accept: Callable[[EngineMetadata], object] | None = None,
) -> Engine:
    """An engine for a checkpoint (.pt) or an exported ONNX file on `backend`.

    AUTO tries AUTO_ORDER (fastest first), skipping backends that are absent or fail to open, and
    records in `engine.reason` what it picked, why, and why each faster backend was passed over.
    ONNX files exported from a checkpoint, TensorRT engines and CPU measurements are cached in
    `cache_dir` (default_cache_dir()); where the engines made that folder, what no run used for 60 days
    is removed from it (cache.py). `threads`: CPU threads of ONNX Runtime and PyTorch eager
    (default: ONNX Runtime takes the usable cores, PyTorch its own default); on PyTorch it sets
    PyTorch's process-wide thread count (torch.set_num_threads), for every other use of PyTorch too.
    `accept` sees the model's metadata before any backend opens and may raise to refuse the model: a
    model the caller cannot feed is then said before minutes of TensorRT build.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: a folder; give a checkpoint (.pt) or an ONNX file in it")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint or ONNX file")
    if backend not in {b.value for b in Backend} | set(Backend):
        raise ValueError(f"backend {backend!r}: one of {', '.join(b.value for b in Backend)}")
    backend = Backend(backend)
    source = _Source(path, Path(cache_dir) if cache_dir is not None else default_cache_dir(),
                     graph_backends=backend not in (Backend.PYTORCH_CPU, Backend.PYTORCH_CUDA))
    if accept is not None:
        accept(source.metadata())
    if backend is Backend.AUTO:
        engine = _open_fastest(source, threads=threads)
    else:
        engine = _open(backend, source, threads=threads, reason=f"{backend.value} was asked for")
    # Once the engine is open, so that the files it took from the cache are marked used first.
    held = source.files_in_cache()
    mark_used(*held)  # an ONNX file of the cache opened by name is not handed out by the cache
    hold(held)
    if source.opened_lasting_cache:
        remove_unused(source.cache_dir)
    return engine


def _open_fastest(source: _Source, *, threads: int | None) -> Engine:
    """The first backend of AUTO_ORDER that is present and opens, with what it passed over and why."""
    passed_over: list[str] = []
    for candidate in AUTO_ORDER:
        if source.is_onnx and candidate in (Backend.PYTORCH_CUDA, Backend.PYTORCH_CPU):
            passed_over.append(f"{candidate.value}: needs the checkpoint, got an ONNX file")
            continue
        why_not = unavailable_reason(candidate)
        if why_not:
            passed_over.append(f"{candidate.value}: {why_not}")
            continue
        reason = f"auto picked {candidate.value}: {_WHY_PICKED[candidate]}"
        if passed_over:
            reason += " (passed over: " + "; ".join(passed_over) + ")"
        try:
            if candidate is Backend.ONNXRUNTIME_CPU:
                return _open_cpu(source, threads=threads, reason=reason)
            return _open(candidate, source, threads=threads, reason=reason)
        except (EngineError, OSError, RuntimeError) as error:
            # An absent runtime is filtered above; this is one that is present but failed (a TensorRT
            # build, a CUDA provider without a driver): fall back to the next backend, and say so.
            passed_over.append(f"{candidate.value} failed: {error}")
    raise EngineError(f"{source.path}: no backend could open it: " + "; ".join(passed_over))


def describe(engine: Engine) -> str:
    """One line for logs and the live app's status bar."""
    m = engine.metadata
    return (
        f"{engine.name} | {m.profile} profile, {len(m.class_names)} classes, {m.crop_size} px crops, "
        f"{m.window_frames} frames / {m.window_seconds:g} s | {engine.reason}"
    )
