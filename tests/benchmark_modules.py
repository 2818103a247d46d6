"""The benchmarks as modules, for their tests: benchmarks/ is a folder of commands at the repository
root, not an installed package, so it is loaded by path (whatever pytest put on sys.path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py as the module benchmarks.NAME."""
    spec = importlib.util.spec_from_file_location(f"benchmarks.{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses and enums look their module up there
    spec.loader.exec_module(module)
    return module
