"""The Qt binding every window runs on (PySide6, also under pyqtgraph), checked before a window opens.

shiboken6 6.12.0 on Python 3.11 takes one reference from None at every Qt call that returns nothing
(setValue, setText, show ...). Before Python 3.12 None is counted like any object: the live window makes
a few hundred such calls a second, None's count reaches zero within minutes and Python aborts ("Fatal
Python error: none_dealloc"). PySide6 6.11 does not, and on Python 3.12+ None is never freed.
pyproject.toml keeps 6.12 off Python 3.11; this check stops a window from opening on a binding installed
by other means, where it would watch a room for minutes and then vanish.
"""

from __future__ import annotations

import sys

CALLS = 100  # Qt calls that return nothing, counted
MOST_LOST = 10  # references to None those may leave behind (others than the binding's come and go)


class QtBindingError(RuntimeError):
    """The installed Qt binding cannot keep a window running."""


def references_lost(calls: int = CALLS) -> int:
    """How many references to None `calls` Qt calls that return nothing took away (about one each on a
    faulty binding; none on a sound one, nor on Python 3.12+ where None's count never changes)."""
    from PySide6 import QtCore

    timer = QtCore.QTimer()  # needs no QApplication
    before = sys.getrefcount(None)
    for i in range(calls):
        timer.setInterval(i)
    return before - sys.getrefcount(None)


def check_qt_binding() -> None:
    """Raise QtBindingError, saying what to install, where the binding would bring a window down."""
    lost = references_lost()
    if lost > MOST_LOST:
        import PySide6

        raise QtBindingError(
            f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} takes a reference from None "
            f"at every Qt call ({lost} in {CALLS}): a window would abort within minutes (Fatal Python "
            "error: none_dealloc). Install PySide6 6.11 (pip install 'PySide6-Essentials<6.12') or run on "
            "Python 3.12 or newer"
        )
