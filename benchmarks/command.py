"""How a benchmark command ends on input it cannot use: one line that names the file and what is wrong,
exit status 2, instead of a traceback (the benchmarks' figures are for people to read)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from core.engines import EngineError
from core.model.checkpoint import CheckpointError


def run(main: Callable[[], object], prog: str) -> NoReturn:
    try:
        status = main()
    except (CheckpointError, EngineError, FileNotFoundError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)
