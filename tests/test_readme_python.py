"""README's Python example ("From Python") runs as written, from the repository root, on the real NTU clip
it names: a researcher's first script is not left to rot as the functions it calls change."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_readmes_python_example_classifies_the_real_handshake(ntu_dir: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    assert '"../shared/data/ntu/skeletons/' in code
    code = code.replace('"../shared/data/', f'"{ntu_dir.parent.as_posix()}/')  # where $SHARED_DATA says
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[('handshaking', 0.99"), done.stdout
