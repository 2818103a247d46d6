"""The cost report (core/model/cost.py, `python -m core.model`) and the model package's import graph."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.model.cost import main, network_cost
from core.model.profiles import skeleton, skeleton_lstm

MODEL_PACKAGE = Path(__file__).resolve().parents[1] / "core" / "model"


def imported_model_modules(path: Path) -> set[str]:
    """The core.model modules a file imports anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core.model"):
            if node.module == "core.model":  # `from core.model import pose_features`
                found |= {f"core.model.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("core.model.")}
    return found


def test_the_model_package_has_no_import_circle() -> None:
    modules = {
        f"core.model.{p.stem}": p
        for p in MODEL_PACKAGE.glob("*.py")
        if p.stem not in ("__init__", "__main__")
    }
    edges = {name: imported_model_modules(path) & set(modules) for name, path in modules.items()}
    assert "core.model.network" not in edges["core.model.profiles"]  # the circle this file was moved to break

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            pytest.fail("import circle: " + " -> ".join((*path[path.index(name) :], name)))
        for target in edges[name]:
            visit(target, (*path, name))

    for name in modules:
        visit(name, ())


def test_cost_report_lists_the_skeleton_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--classes", "9", "--profiles", "skeleton", "skeleton_lstm"])
    table = capsys.readouterr().out
    assert "skeleton" in table and "gcn 32-32-64" in table and "lstm 512" in table
    gcn, lstm = network_cost(skeleton(9)), network_cost(skeleton_lstm(9))
    assert gcn.i3d_parameters == 0 and 0.1 < gcn.gmacs < 0.2  # two bodies, three streams, 20 frames
    assert gcn.parameters < lstm.parameters / 20
