"""The files this package brings (trained models, training configs), and what to run to install more,
alike from a checkout (`pip install -e .`) and from a wheel installed into site-packages.

The READMEs write the bundled files as `training/checkpoints/demo.pt` or `training/configs/x.yaml`:
relative to a checkout. An installed copy keeps them in site-packages, where no user types them and no
output of theirs belongs (root writes there silently, and `pip uninstall` leaves what was written).
"""

from __future__ import annotations

import functools
import os
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the checkout, or site-packages
# A checkout has pyproject.toml beside the packages; a wheel installs the packages alone.
CHECKOUT = (PACKAGE_ROOT / "pyproject.toml").is_file()
DISTRIBUTION = "where-to-focus"  # pyproject's [project] name, what pip installs
OUTPUT_FOLDER = Path("runs")  # the current folder's, for what is made from a bundled file when installed
BUNDLED_FOLDERS = ("training/checkpoints", "training/configs")  # as the READMEs write them
# 2026-01-01: this software did not exist before, so nothing it made is dated earlier. A file or a clip
# stamped earlier was made while the computer's clock was behind (a flat clock battery starts it in 2000,
# or 1970, until it synchronises): its age cannot be told from its date.
NOTHING_MADE_BEFORE = 1_767_225_600.0


def software_version() -> str:
    """The installed version (setuptools-scm's, from git at install), "unknown" where not installed. A
    checkout installed with `pip install -e` keeps its install's: software_commit says which code runs."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def software_commit() -> str | None:
    """The checkout's commit, with "+changes" where tracked files have uncommitted changes (new files
    are not looked for: a run folder inside the checkout would always count); None for an installed
    copy (one under a virtual environment inside some repository is not that repository's commit) or
    without git."""
    if not (PACKAGE_ROOT / ".git").exists():
        return None
    # Read as whoever runs it: a checkout owned by another account (a service's) is not refused as
    # "dubious ownership"; no index lock taken (an admin's git pull during a restart must not fail); and
    # a git that hangs delays the app's start by seconds at most.
    git = ["git", "-c", f"safe.directory={PACKAGE_ROOT.as_posix()}", "--no-optional-locks", "-C",
           str(PACKAGE_ROOT)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2)
        changes = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if changes.stdout.strip() else "")


@functools.cache
def running_software() -> dict[str, str | None]:
    """What this process runs, asked of git once (what the code was as it started): {"name", "version",
    "commit"}, for a status file written every few seconds and each clip's sidecar."""
    return {"name": DISTRIBUTION, "version": software_version(), "commit": software_commit()}


def describe_software() -> str:
    """'where-to-focus VERSION', and in a checkout its commit: what --version and the app's first log
    line say."""
    described = f"{DISTRIBUTION} {software_version()}"
    commit = software_commit()
    if commit is None:
        return described
    return f"{described} (checkout at {commit[:12]}{'+changes' if commit.endswith('+changes') else ''})"


def bundled(path: str | os.PathLike[str]) -> Path:
    """`path` where it exists; else, for a relative path into BUNDLED_FOLDERS, the package's own file of
    that name when there is one (`training/checkpoints/demo.pt` typed in any folder, or into an installed
    copy); else `path`, for the caller's error to name as typed. Nothing else of a checkout is found
    from elsewhere: a mistyped `runs/site/model.pt` is not the checkout's run."""
    given = Path(path)
    if given.exists() or given.is_absolute() or given.parent.as_posix() not in BUNDLED_FOLDERS:
        return given
    own = PACKAGE_ROOT / given
    return own if own.exists() else given


def output_folder_beside(path: str | os.PathLike[str]) -> Path:
    """The folder for what is made from the file `path` (an evaluation's results, its ONNX export) when
    no output is named: the file's own folder, except for a file of an installed copy: runs/ here."""
    folder = Path(path).parent
    if not CHECKOUT and PACKAGE_ROOT in Path(path).resolve().parents:
        return OUTPUT_FOLDER
    return folder


def pip_install(extra: str) -> str:
    """The command that adds an optional part (pyproject's extras), as this copy was installed: one that
    pastes into bash, cmd.exe and PowerShell alike, from any folder; `python` is the app's own where its
    virtual environment is active (a service's is not: use that environment's python there)."""
    if CHECKOUT:
        return f'python -m pip install -e "{PACKAGE_ROOT}[{extra}]"'
    return f'python -m pip install "{DISTRIBUTION}[{extra}]"'
