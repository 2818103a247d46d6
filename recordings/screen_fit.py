"""A top-level window fitted inside its screen, title bar and borders included: the live window and the
labelling window (recordings.marking) size themselves to the screen's available area, but the size asked
is the inside's, and the frame comes on top: on a 1366x768 screen above a taskbar, or a 1024x600 tablet,
it pushed the status line, the buttons or the key line below the screen's edge."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class ScreenFit:
    """Sizes `window` to `least` (width, height), or to `share` of the primary screen's available area
    where that is larger, never larger than that area; then fits it, title bar and borders included, once
    it is shown (`shown()`, from its showEvent): an X11 window manager frames a window a moment after it
    shows, so the frame is looked for every EVERY_MS for TRIES tries. A size somebody else chose meanwhile
    (a drag, maximised) is left as it is. `stop()` as the window closes."""

    TRIES = 20
    EVERY_MS = 100

    def __init__(self, window: QtWidgets.QWidget, least: tuple[int, int], share: float = 0.0) -> None:
        # The window is not kept here but found as the timer's parent: the window keeps this object, and
        # a cycle through them left a closed window to Python's collector, which runs on whichever thread
        # allocates, and deleted its widgets there (a crash in a window test, in setStyleSheet).
        screen = QtGui.QGuiApplication.primaryScreen()
        room = screen.availableGeometry() if screen is not None else None  # a laptop's 1366x768, say
        if room is None:
            window.resize(*least)
        else:
            window.resize(min(max(least[0], int(share * room.width())), room.width()),
                          min(max(least[1], int(share * room.height())), room.height()))
        self.chosen: QtCore.QSize | None = window.size()  # the size fitted, as asked before it shows
        self._tries_left = 0
        self._timer = QtCore.QTimer(window)  # the window's own: it goes with it
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.fit)

    def shown(self) -> None:
        if self.chosen is not None:
            self._tries_left = self.TRIES
            self._timer.start(0)

    def stop(self) -> None:
        self._timer.stop()

    def fit(self) -> None:
        window = self._timer.parent()
        chosen, screen = self.chosen, window.screen()
        if (chosen is None or screen is None or window.size() != chosen
                or window.windowState() & (QtCore.Qt.WindowState.WindowMaximized
                                           | QtCore.Qt.WindowState.WindowFullScreen)):
            self.chosen = None
            return  # a size somebody else chose
        room, frame, inside = screen.availableGeometry(), window.frameGeometry(), window.geometry()
        if frame.size() == inside.size():  # no frame yet, or none at all (a kiosk, no window manager)
            self._tries_left -= 1
            if self._tries_left > 0:
                self._timer.start(self.EVERY_MS)
                return
        self.chosen = None
        if frame.width() > room.width() or frame.height() > room.height():
            window.resize(min(inside.width(), room.width() - (frame.width() - inside.width())),
                          min(inside.height(), room.height() - (frame.height() - inside.height())))
            frame = window.frameGeometry()
        if not room.contains(frame):
            window.move(max(room.left(), min(frame.left(), room.right() + 1 - frame.width())),
                        max(room.top(), min(frame.top(), room.bottom() + 1 - frame.height())))
