"""recordings/screen_fit.py: a window sized to the screen's available area is fitted inside it once its
window manager has framed it (title bar and borders), on screens and frames stood in for here: a real
window manager's frame cannot be had off screen."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from recordings.screen_fit import ScreenFit  # noqa: E402

TASKBAR_1366 = QtCore.QRect(0, 0, 1366, 728)  # a 1366x768 screen's available area above a 40 px taskbar
TITLE_BAR = (1, 30, 1, 1)  # a window manager's frame: left, top (the title bar), right, bottom


class Screen:
    def __init__(self, available: QtCore.QRect) -> None:
        self.available = available

    def availableGeometry(self) -> QtCore.QRect:  # noqa: N802 - Qt's name
        return QtCore.QRect(self.available)


class FramedWindow(QtWidgets.QWidget):
    """A top-level window as a window manager keeps it: its inside at `inside`, its frame `border` around
    it once framed (none before), moved by its frame's corner."""

    def __init__(self, inside: QtCore.QRect, screen: Screen) -> None:
        super().__init__()
        self.inside, self.border, self.state, self._screen = QtCore.QRect(inside), (0, 0, 0, 0), None, screen
        self.resized: list[tuple[int, int]] = []

    def framed(self, border: tuple[int, int, int, int] = TITLE_BAR) -> None:
        self.border = border

    def size(self) -> QtCore.QSize:
        return self.inside.size()

    def geometry(self) -> QtCore.QRect:
        return QtCore.QRect(self.inside)

    def frameGeometry(self) -> QtCore.QRect:  # noqa: N802 - Qt's name
        left, top, right, bottom = self.border
        return self.inside.adjusted(-left, -top, right, bottom)

    def resize(self, width: int, height: int) -> None:
        self.resized.append((width, height))
        self.inside.setSize(QtCore.QSize(width, height))

    def move(self, x: int, y: int) -> None:
        self.inside.moveTopLeft(QtCore.QPoint(x + self.border[0], y + self.border[1]))

    def windowState(self) -> QtCore.Qt.WindowState:  # noqa: N802 - Qt's name
        return self.state or QtCore.Qt.WindowState.WindowNoState

    def screen(self) -> Screen:
        return self._screen

    def available(self) -> QtCore.QRect:
        return self._screen.availableGeometry()


def fitted(window: FramedWindow, monkeypatch: pytest.MonkeyPatch) -> ScreenFit:
    """`window`'s fit, asked for all of its screen's available area (as a window on a small screen is)."""
    monkeypatch.setattr(QtGui.QGuiApplication, "primaryScreen", lambda: window.screen())
    fit = ScreenFit(window, least=(window.available().width(), window.available().height()))
    window.resized.clear()  # (the size asked before it shows)
    return fit


def test_a_window_is_asked_for_its_least_size_or_a_share_of_the_screen_never_more_than_the_screen(
    qtbot, monkeypatch
) -> None:
    for available, least, share, asked in (
        (QtCore.QRect(0, 0, 1024, 560), (1280, 800), 0.0, (1024, 560)),  # a tablet: the labelling window
        (QtCore.QRect(0, 0, 1920, 1040), (1280, 800), 0.0, (1280, 800)),
        (QtCore.QRect(0, 0, 1366, 728), (1500, 760), 0.8, (1366, 728)),  # a laptop: the live window
        (QtCore.QRect(0, 0, 3840, 2100), (1500, 760), 0.8, (3072, 1680)),  # a wall screen across the room
    ):
        window = FramedWindow(QtCore.QRect(0, 0, 100, 100), Screen(available))
        monkeypatch.setattr(QtGui.QGuiApplication, "primaryScreen", lambda window=window: window.screen())
        ScreenFit(window, least=least, share=share)
        assert window.size() == QtCore.QSize(*asked), available


def test_a_window_the_size_of_the_screen_is_fitted_inside_it_title_bar_and_all(qtbot, monkeypatch) -> None:
    window = FramedWindow(QtCore.QRect(0, 0, 1366, 728), Screen(TASKBAR_1366))
    fit = fitted(window, monkeypatch)
    fit.shown()
    fit.fit()  # shown, not framed yet: looked for again a moment later, not fitted without it
    assert window.resized == [] and fit._timer.isActive() and fit.chosen is not None
    window.framed()
    fit.fit()
    assert window.resized == [(1366 - 2, 728 - 31)] and TASKBAR_1366.contains(window.frameGeometry())
    assert window.frameGeometry().topLeft() == TASKBAR_1366.topLeft()
    window.inside.setSize(QtCore.QSize(1366, 728))  # made that big again by the user, then minimised
    fit.shown()  # and restored: the size is the user's now, not refitted
    fit.fit()
    assert window.resized == [(1366 - 2, 728 - 31)] and window.size() == QtCore.QSize(1366, 728)


def test_a_window_without_a_frame_is_fitted_once_the_tries_run_out(qtbot, monkeypatch) -> None:
    """A kiosk without a window manager frames nothing: once it has been looked for long enough, the
    window is fitted as it is (no resize needed), not looked for again."""
    window = FramedWindow(QtCore.QRect(40, 20, 1366, 728), Screen(TASKBAR_1366))
    fit = fitted(window, monkeypatch)
    fit.shown()
    for _ in range(ScreenFit.TRIES):
        fit.fit()
    assert window.resized == [] and window.frameGeometry() == TASKBAR_1366 and fit.chosen is None


def test_a_size_somebody_else_chose_meanwhile_is_left_as_it_is(qtbot, monkeypatch) -> None:
    """Dragged bigger, or maximised, before the window manager's frame came: not undone."""
    window = FramedWindow(QtCore.QRect(0, 0, 1366, 728), Screen(TASKBAR_1366))
    fit = fitted(window, monkeypatch)
    fit.shown()
    window.framed()
    window.inside.setSize(QtCore.QSize(1400, 760))  # the user's drag
    fit.fit()
    assert window.resized == [] and window.size() == QtCore.QSize(1400, 760) and fit.chosen is None
    maximised = FramedWindow(QtCore.QRect(0, 0, 1366, 728), Screen(TASKBAR_1366))
    fit = fitted(maximised, monkeypatch)
    fit.shown()
    maximised.framed()
    maximised.state = QtCore.Qt.WindowState.WindowMaximized
    fit.fit()
    assert maximised.resized == []


def test_a_fitted_window_let_go_is_deleted_at_once_on_the_thread_letting_go(qtbot) -> None:
    """The window kept its ScreenFit, which kept the window: a closed window was left to Python's
    collector, which runs on whichever thread allocates, and deleted its widgets there (a window test
    crashed in setStyleSheet on the capture thread). Let go, it goes at once."""
    import gc
    import weakref

    class Fitted(QtWidgets.QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.screen_fit = ScreenFit(self, least=(640, 480))

    window = Fitted()
    gone = weakref.ref(window)
    gc.disable()
    try:
        del window
        assert gone() is None
    finally:
        gc.enable()
