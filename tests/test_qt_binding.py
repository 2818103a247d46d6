"""The Qt binding the windows run on, checked before a window opens (recordings/qt_binding.py)."""

from __future__ import annotations

import pytest

from recordings import qt_binding
from recordings.qt_binding import MOST_LOST, QtBindingError, check_qt_binding, references_lost


def test_the_installed_qt_binding_keeps_its_references_to_none() -> None:
    # PySide6 6.12.0 on Python 3.11 took one per call that returns nothing: a live window made a few
    # hundred a second and Python aborted within minutes ("none_dealloc"). pyproject.toml keeps it off.
    assert references_lost(1000) <= MOST_LOST
    check_qt_binding()


def test_a_faulty_binding_is_refused_before_a_window_opens(monkeypatch, capsys) -> None:
    monkeypatch.setattr(qt_binding, "references_lost", lambda calls=qt_binding.CALLS: calls)
    with pytest.raises(QtBindingError, match=r"at every Qt call \(100 in 100\).*'PySide6-Essentials<6.12'"):
        check_qt_binding()
    from live.app import main

    assert main(["--duration", "1"]) == 2  # the window on the simulated room: refused, said in one line
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m live: PySide6 ") and err[-1].endswith("; --headless needs no Qt")
    from recordings.__main__ import _view_window
    from recordings.marking import view_and_mark

    with pytest.raises(QtBindingError):
        _view_window(iter([]), 30.0, "recordings view")
    with pytest.raises(QtBindingError):
        view_and_mark(iter([]), None, [], lambda frame: frame, 30.0, "recordings label")
