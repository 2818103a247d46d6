"""The package's own files from any folder, and from a copy installed from a wheel (core/package_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import package_files
from core.package_files import PACKAGE_ROOT, bundled, output_folder_beside, pip_install
from live.app import build_parser
from training.evaluation import default_results_dir

DEMO = Path("training/checkpoints/demo.pt")


@pytest.fixture
def installed(monkeypatch):
    """As a wheel installs it: the packages alone in site-packages, no checkout around them."""
    monkeypatch.setattr(package_files, "CHECKOUT", False)


def test_a_bundled_file_as_the_readmes_write_it_is_found_from_any_folder(tmp_path, monkeypatch):
    # Installed from a wheel, `--checkpoint training/checkpoints/pku_interactions.pt` (the app's own advice
    # for a skeleton-only source) and `finetune --from training/checkpoints/demo.pt` said "not found".
    monkeypatch.chdir(tmp_path)
    assert bundled(DEMO) == PACKAGE_ROOT / DEMO and bundled(DEMO).is_file()
    assert bundled("training/configs/nucla_gcn.yaml").is_file()
    assert build_parser().parse_args(["--checkpoint", str(DEMO)]).checkpoint == PACKAGE_ROOT / DEMO
    assert bundled("model.pt") == Path("model.pt")  # not the package's: named as typed, for the error
    assert bundled("pyproject.toml") == Path("pyproject.toml")  # the checkout's other files stay its own
    outside = "training/checkpoints/../../pyproject.toml"
    assert bundled(outside) == Path(outside)
    (tmp_path / DEMO).parent.mkdir(parents=True)
    (tmp_path / DEMO).write_bytes(b"the user's own")
    assert bundled(DEMO) == DEMO  # a file of that name here is the one meant


def test_what_is_made_from_a_bundled_model_goes_to_runs_here_when_installed(tmp_path, monkeypatch, installed):
    # Root's evaluate and export wrote into site-packages, and pip uninstall left it there.
    monkeypatch.chdir(tmp_path)
    model = PACKAGE_ROOT / DEMO
    assert output_folder_beside(model) == Path("runs")
    assert default_results_dir(model, "all", data="sim").parent == Path("runs")
    assert output_folder_beside(tmp_path / "site" / "model.pt") == tmp_path / "site"  # the user's: beside it


def test_in_a_checkout_results_stay_beside_the_model(tmp_path):
    assert package_files.CHECKOUT  # the tests run from a checkout
    assert output_folder_beside(PACKAGE_ROOT / DEMO) == PACKAGE_ROOT / "training" / "checkpoints"


def test_install_hints_name_the_command_for_how_this_copy_was_installed(monkeypatch):
    # "(in C:\\...)" after the command broke it pasted into PowerShell or cmd.exe; ".[x]" needed the folder.
    assert pip_install("viz3d") == f'python -m pip install -e "{PACKAGE_ROOT}[viz3d]"'
    monkeypatch.setattr(package_files, "CHECKOUT", False)
    assert pip_install("viz3d") == 'python -m pip install "where-to-focus[viz3d]"'


def test_every_requirement_comes_from_the_package_index():
    # The kinect-pykinect2 extra named PyKinect2's git URL: PyPI refuses such an upload ("Can't have direct
    # dependency"), so `pip install "where-to-focus[...]"` could never have been published. PyKinect2 is a
    # second command in the app's hint instead (live/kinect.py INSTALL_HINT).
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    project = tomllib.loads((PACKAGE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    assert requirements
    assert [r for r in requirements if "@" in r.split(";")[0]] == []
