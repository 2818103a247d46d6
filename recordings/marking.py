"""`python -m recordings view CLIP`: play a clip and mark where its actions start and end, with keys.

    keys   1-9  choose the class (the site's labels.txt, in order; listed on screen; F1-F9 too, as in live)
           PgDn / PgUp  the next / previous class (all of them: the tenth and later have no number key)
           s    an action of that class starts now       e   it ends now
           d    remove the interval on screen (one the clip had, or marked here)
           u    undo the last mark or removal             space  pause / resume      q, Esc, Ctrl-C  close
           Left / Right (or , / .)  one frame back / on, paused: to put a mark on the frame it belongs to
           Shift+Left / Shift+Right  ten seconds back / on, Down / Up  a minute back / on, Home / End  the
           start / the last frame: an hour's take is not watched through to mark a minute of it
           + / -  play faster / slower (1/4x to 8x), to look for an action; then 1x again to mark it
                  (not ] and [: on a German keyboard they take AltGr, which Windows reports as Ctrl+Alt)

    frames --timer--> (the last frames shown, for Left) --> draw_skeleton + a strip of the clip's
           intervals and the cursor --> window
    s / e --> IntervalMarker --> ClipLabels.reread + add --> sidecar rewritten atomically at once
    d / u --> ClipLabels.reread + the interval taken out or put back --> sidecar rewritten at once

Each finished interval is written to the sidecar as soon as it is marked (recordings.labelling), so
closing the window, or a crash, loses at most a mark in progress; closing with a mark open (q, Esc, the
window's button, Ctrl-C or SIGTERM in the terminal) ends it at the frame on screen (one on or before its
start cannot end it: that is printed, with the command that adds it). A mark refused at e (its end
overlapping an interval, another editor's save) stays open, to be ended on another frame. The class the
labels give the frame on screen is printed on it, as they stand after each mark. Each mark and undo
reads the sidecar again first: what `recordings label` changed meanwhile is kept, and checked against. A
held key (auto-repeat) or one with Ctrl or Alt does nothing. Marks are scene-wide (whoever is in view);
`python -m recordings label --person` gives one person's. The window shows whatever the clip had
already, and refuses a mark that overlaps one of them (the message is on screen; a mark refused as the
window closes is printed after it, with the command that adds it once the overlap is settled).
"""

from __future__ import annotations

import html
import math
import os
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterator

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from core.frame import Frame  # noqa: E402
from core.timeline import NO_ACTION, Interval, stored_time  # noqa: E402
from recordings.clip import recording_parts_beside  # noqa: E402
from recordings.labelling import ClipLabels, IntervalMarker, SidecarChanged, label_command  # noqa: E402
from recordings.qt_binding import check_qt_binding  # noqa: E402
from recordings.screen_fit import ScreenFit  # noqa: E402
from recordings.stop_signals import STOP_SIGNALS  # noqa: E402

# Left steps back through the frames shown lately, kept up to this many bytes of colour (about 1.5 s of
# 1080p, 6 s of 960x540) and this many frames (10 s at 30 fps of a clip without colour): enough to
# put a mark pressed a moment late on its frame, without holding a long clip in memory.
STEP_BACK_BYTES = 300 * 2**20
STEP_BACK_FRAMES = 300

JUMP_S = 10.0  # Shift+Left / Shift+Right
LONG_JUMP_S = 60.0  # Down / Up: held keys do nothing (a held u emptied a clip), so long takes need these
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # + and - step through them

STRIP_COLOURS = ((80, 200, 255), (120, 230, 120), (255, 170, 60), (220, 120, 255), (90, 90, 255),
                 (255, 255, 90), (200, 200, 200), (0, 160, 160), (160, 0, 160))


def class_colour(classes: list[str], name: str) -> tuple[int, int, int]:
    index = classes.index(name) if name in classes else len(classes)
    return STRIP_COLOURS[index % len(STRIP_COLOURS)]


def draw_strip(image: np.ndarray, labels: ClipLabels, classes: list[str], now: float,
               opened: tuple[float, str] | None) -> None:
    """A strip along the bottom of a BGR image: the clip's intervals (filled, in their class's colour as
    the status line's key shows it), the one being marked (an outline: not saved yet), the cursor."""
    height, width = image.shape[:2]
    top = height - max(10, height // 40)
    image[top:] = (image[top:] * 0.3).astype(np.uint8)
    scale = width / max(labels.duration, 1e-6)

    def span(start: float, end: float) -> tuple[int, int]:
        return int(start * scale), max(int(end * scale), int(start * scale) + 1)

    for interval in labels.intervals:
        x0, x1 = span(interval.start, interval.end)
        cv2.rectangle(image, (x0, top + 2), (x1, height - 2), class_colour(classes, interval.label), -1)
    if opened is not None:
        x0, x1 = span(min(opened[0], now), max(opened[0], now))
        cv2.rectangle(image, (x0, top), (x1, height - 1), class_colour(classes, opened[1]), 2)
    x = int(now * scale)
    cv2.line(image, (x, top - 4), (x, height), (255, 255, 255), 2)


class ClipMarker:
    """What the keys do, apart from the window (the window calls `handle`; tests too)."""

    def __init__(self, labels: ClipLabels, classes: list[str]) -> None:
        self.labels = labels
        self.classes = classes
        self.chosen: str | None = classes[0] if classes else None
        self.marker = IntervalMarker()
        self._now = 0.0  # clip seconds of the frame on screen, as stored (`now`)
        self.paused = False
        self.speed = 1.0  # of the clip's own rate (+ / -)
        self.message = ""
        self.saved = 0  # intervals written by this window
        self.removed = 0  # intervals this window took out of the sidecar
        # What u takes back, the last first: (True, a mark saved) or (False, an interval removed). Not
        # marker.intervals, which holds refused marks too.
        self.history: list[tuple[bool, Interval]] = []
        self.lost_at_close: Interval | None = None  # the mark open at closing, refused (why: `message`)
        # The mark open at closing on a frame on or before its start (start, class): nothing to end it at.
        self.unended_at_close: tuple[float, str] | None = None
        # Set by the window on the last frame it shows: where e there ends the interval, the frame's time
        # plus a frame (the clip's end, or where --max-frames cut the view), or the last frame could never
        # be inside an interval. None on any other frame.
        self.end_of_view: float | None = None
        # One part of a long recording whose other parts have marks: without marks of its own it is the
        # time between them, background, as training reads it (recordings.clip.parts_between_marks); the
        # window said "the whole clip is <its class>" of it.
        found = recording_parts_beside(labels.sidecar_path) if labels.on_disk else None
        self.other_parts_marked = found is not None and any(
            part.path.name != labels.sidecar_path.name and bool(part.timeline and part.timeline.intervals)
            for part in found[1])

    @property
    def now(self) -> float:
        return self._now

    @now.setter
    def now(self, seconds: float) -> None:
        # Marks are saved to 0.1 ms: a frame at 8/30 s marked unrounded started 33 us before the end of
        # the interval just saved there (0.2667), was refused as overlapping it, and d on it missed.
        self._now = stored_time(seconds)

    def handle(self, key: str) -> bool:
        """One key ('1'..'9', 's', 'e', 'd', 'u', ' ', '+', '-'); False when it means nothing here."""
        if key.isdigit() and key != "0":
            number = int(key)
            if number > len(self.classes):
                self.message = f"no class {number}: labels.txt has {len(self.classes)}"
            else:
                self.chosen = self.classes[number - 1]
                self.message = f"class {self.chosen}"
        elif key == "s":
            if self.chosen is None:
                self.message = "no class to mark: add one to labels.txt (python -m recordings label CLIP " \
                               "--class NAME --from S --to S adds it with an interval)"
            else:
                opened = self.marker.opened
                moved = opened if opened is not None and self.now <= opened[0] else None
                closed = self.marker.start(self.now, self.chosen)
                self._store(closed)
                stored = f"{self.message}; " if closed is not None else ""  # saved, or why not: both said
                if moved is not None:  # stepped back to a frame before it: s is a mark moved earlier
                    stored = f"the {moved[1]} mark from {moved[0]:.2f} s is dropped; "
                self.message = f"{stored}{self.chosen} starts at {self.now:.2f} s{self._inside()}"
        elif key == "e":
            if self.marker.opened is None:
                self.message = "no action is being marked (s starts one)"
            # Paused, or stepped back to its start or past it: it stays open.
            elif self._end_here() <= self.marker.opened[0]:
                where = "on this frame" if self.now == self.marker.opened[0] else "after this frame"
                self.message = (f"nothing marked: the {self.marker.opened[1]} mark starts at "
                                f"{self.marker.opened[0]:.2f} s, {where}; play or step on (Right) to its "
                                f"end, or u drops it")
            else:
                interval = self.marker.end(self._end_here())
                # Refused (an overlap of its end, another editor's save): its start is kept, not found again,
                # unless the start itself is inside an interval, which no end can mend.
                saved = self._store(interval)
                if not saved and self._inside_at(interval.start) is None:
                    self.marker.opened = (interval.start, interval.label)
                    self.message += (f"; the {interval.label} mark from {interval.start:.2f} s stays open: "
                                     "end it on another frame, or u drops it")
                elif not saved:
                    self.message += "; the mark is dropped: it starts inside an interval (d there removes it)"
        elif key == "d":
            self.remove_on_screen()
        elif key == "u":
            self.undo()
        elif key == " ":
            self.paused = not self.paused
        elif key in ("+", "=", "-"):  # = is + unshifted on a US keyboard
            at = SPEEDS.index(self.speed) + (-1 if key == "-" else 1)
            self.speed = SPEEDS[min(max(at, 0), len(SPEEDS) - 1)]
            self.message = f"playing at {self.speed:g}x"
        else:
            return False
        return True

    def _inside(self) -> str:
        """Where the frame on screen is inside an interval the clip has: said at s, not first at e."""
        if (interval := self._inside_at(self.now)) is not None:
            return (f", inside {interval.label} {interval.start:.2f}-{interval.end:.2f} s: "
                    f"e will be refused (a clip's marks may not overlap)")
        return ""

    def _inside_at(self, seconds: float) -> Interval | None:
        return next((i for i in self.labels.intervals if i.start <= seconds < i.end), None)

    def _end_here(self) -> float:
        """Where e ends an interval: at the frame on screen, or past the last frame shown."""
        return self.end_of_view if self.end_of_view is not None else self.now

    def step_class(self, step: int) -> None:
        """The next (1) or previous (-1) class, round the list."""
        if not self.classes:
            self.message = "no class to mark"
            return
        now = self.classes.index(self.chosen) if self.chosen in self.classes else -1
        self.chosen = self.classes[(now + step) % len(self.classes)]
        self.message = f"class {self.chosen}"

    def _store(self, interval: Interval | None) -> bool:
        if interval is None:
            return True
        try:
            self.labels.reread()  # what `recordings label` changed meanwhile is kept, and checked against
            kept = list(self.labels.intervals)
            added = self.labels.add(interval.label, interval.start, interval.end)
            try:
                self.labels.save()
            except (OSError, SidecarChanged):
                self.labels.intervals = kept  # not written: not written by a later save, nor drawn
                raise
        except (ValueError, OSError) as error:
            self.message = f"not saved: {error}"
            return False
        # Undo finds it in the sidecar as stored: times to 0.1 ms (7/30 s is 0.2333), the map's spelling.
        self.history.append((True, Interval.from_json(added.to_json())))
        self.saved += 1
        self.message = f"saved {interval.label} {interval.start:.2f}-{interval.end:.2f} s"
        return True

    def remove_on_screen(self) -> None:
        """Take the interval the frame on screen is in out of the sidecar: one an earlier session or
        `recordings label` put there could only be removed from the command line."""
        if self.marker.opened is not None:  # u would drop the mark, not put the removal back
            start, label = self.marker.opened
            self.message = f"a {label} mark is open since {start:.2f} s: e ends it, u drops it; then d"
            return
        try:
            self.labels.reread()
        except (ValueError, OSError) as error:
            self.message = f"not removed: {error}"
            return
        here = [i for i in self.labels.intervals if i.start <= self.now < i.end]
        if len(here) != 1:  # one person's intervals (--person) may overlap another's
            self.message = (f"no interval at {self.now:.2f} s to remove" if not here else
                            f"{len(here)} intervals at {self.now:.2f} s (of different people): python -m "
                            f"recordings label CLIP --remove N removes one")
            return
        if (error := self._rewrite([i for i in self.labels.intervals if i != here[0]])) is not None:
            self.message = f"not removed: {error}"
            return
        self.history.append((False, here[0]))
        self.removed += 1
        self.message = f"removed {_said(here[0])} (u puts it back)"

    def undo(self) -> None:
        """Drop the mark being made; else take back the last saved mark, or put back the last removal."""
        if self.marker.opened is not None:
            start, _ = self.marker.undo()
            self.message = f"dropped the mark started at {start:.2f} s"
            return
        if not self.history:
            self.message = "nothing to undo"
            return
        saved, interval = self.history[-1]
        try:
            self.labels.reread()
        except (ValueError, OSError) as error:  # a ClipError too: the sidecar damaged meanwhile
            self.message = f"not {'removed' if saved else 'put back'}: {error}"  # still last: u tries again
            return
        if saved and interval not in self.labels.intervals:
            self.history.pop()
            self.saved -= 1
            self.message = f"{_said(interval)} was removed already (by another editor)"
        elif not saved and interval in self.labels.intervals:  # (it was called an overlap with itself)
            self.history.pop()
            self.removed -= 1
            self.message = f"{_said(interval)} is back already (put back by another editor)"
        elif saved:
            if (error := self._rewrite([i for i in self.labels.intervals if i != interval])) is not None:
                self.message = f"not removed: {error}"
                return
            self.history.pop()
            self.saved -= 1
            self.message = f"removed {_said(interval)}"
        else:
            error = self._rewrite(sorted([*self.labels.intervals, interval], key=lambda i: (i.start, i.end)))
            if isinstance(error, OSError | SidecarChanged):  # not an overlap: not written
                self.message = f"not put back: {error}"  # still last: u tries again
                return
            self.history.pop()  # put back, or never: u goes on to what came before it
            if error is not None:
                if (True, interval) in self.history:  # marked here, then removed here: nothing to take back
                    self.history.remove((True, interval))
                    self.saved -= 1
                self.message = (f"not put back: {_said(interval)} overlaps what was marked there since, so "
                                f"it stays removed ({label_command(self.labels.paths.skeleton, interval)} "
                                "adds it once that is settled)")
                return
            self.removed -= 1
            self.message = f"put back {_said(interval)}"

    def _rewrite(self, intervals: list[Interval]) -> ValueError | OSError | None:
        """The sidecar rewritten with these intervals, checked (one put back may overlap one marked
        meanwhile: ValueError); why not, when they are not written."""
        kept, self.labels.intervals = self.labels.intervals, intervals
        try:
            self.labels.timeline()
            self.labels.save()
        except (ValueError, OSError) as error:
            self.labels.intervals = kept
            return error
        return None

    def finish(self) -> None:
        """The window closes: a mark in progress ends at the frame on screen, if that is after its start."""
        if self.marker.opened is None:
            return
        opened = self.marker.opened
        interval = self.marker.end(self._end_here())
        if interval is None:  # stepped back to its start or before it (Home): it was lost without a word
            self.unended_at_close = opened
            self.message = (f"not saved: the frame on screen ({self.now:.2f} s) is not after its start "
                            f"({opened[0]:.2f} s)")
        elif not self._store(interval):
            self.lost_at_close = interval

    def shown_label(self) -> str:
        """What the clip's labels say of the frame on screen, as they stand now (training reads them so):
        its interval's class; no_action outside the intervals of a marked clip, and in a part of a
        recording marked in its other parts; else the whole clip's."""
        here = [i.label for i in self.labels.intervals if i.start <= self.now < i.end]
        if here:
            return " + ".join(here)
        if self.labels.intervals:
            return NO_ACTION
        if self.other_parts_marked:
            return f"{NO_ACTION} (its recording's other parts are marked)"
        return f"{self.labels.label} (the whole clip)" if self.labels.label else "not labelled"

    def legend(self) -> str:
        """The status line, as Qt rich text: the time, what is being marked, the last message; the keys,
        each class after a square of its colour on the strip (which colour was which class was shown
        nowhere). Spaces kept as written: the columns do not shift as the time grows."""
        keys = "  ".join(f"{self._swatch(name)}{n}:{html.escape(name)}"
                         for n, name in enumerate(self.classes[:9], start=1))
        if len(self.classes) > 9:
            keys += f"  (PgDn/PgUp: all {len(self.classes)})"
        state = f"marking {self.marker.opened[1]} since {self.marker.opened[0]:.2f} s" if self.marker.opened \
            else f"class {self.chosen or '-'}"
        # What happened first, on a line of its own: at the end of one long line, past the keys of nine
        # long class names, it was off the screen.
        if self.labels.intervals or not (self.labels.label or self.other_parts_marked):
            counted = f"{len(self.labels.intervals)} intervals"
        elif self.other_parts_marked:
            counted = "no intervals: background, as its recording's other parts are marked"
        else:
            counted = f"no intervals: the whole clip is {self.labels.label}"
        speed = "" if self.speed == 1 else f" ({self.speed:g}x)"
        first = html.escape(f"{self.now:7.2f} s{speed}  |  {state}  |  {counted}  |  {self.message}")
        second = (f"{keys}  (or F1-F9)  |  s start  e end  d remove  u undo  space pause  Left/Right a "
                  f"frame  Shift+Left/Right {JUMP_S:.0f} s  Down/Up {LONG_JUMP_S:.0f} s  Home/End  "
                  "+ - faster / slower")
        return f'<span style="white-space:pre-wrap">{first}<br>{second}</span>'

    def _swatch(self, name: str) -> str:
        blue, green, red = class_colour(self.classes, name)
        return f'<span style="color:#{red:02x}{green:02x}{blue:02x}">&#9632;</span>'


def _said(interval: Interval) -> str:
    return f"{interval.label} {interval.start:.2f}-{interval.end:.2f} s"


class MarkingWindow(QtWidgets.QWidget):
    """The clip, the strip of its intervals and a status line; the keys go to a ClipMarker."""

    def __init__(self, frames: Iterator[Frame], marker: ClipMarker,
                 draw: Callable[[Frame, str | None], np.ndarray],
                 fps: float, title: str, start_time: float = 0.0, close_at_end: bool = False,
                 seek: Callable[[int], Iterator[Frame]] | None = None, times: np.ndarray | None = None,
                 ) -> None:
        """`draw(frame, caption)`: the frame drawn, `caption` (what the labels say of it) printed on it.
        `seek(i)`: the clip's frames from frame i on, whose times (seconds from start_time) are `times`;
        without them the window cannot jump."""
        super().__init__()
        self.frames = frames
        self.seek, self.times = seek, times
        # Where e on the last frame shown ends an interval: a frame past it, at most the clip's end (a view
        # cut short by --max-frames labels no frame it did not show), to 0.1 ms below, as stored.
        self._view_end: float | None = None
        if times is not None and len(times):
            period = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / (fps if fps > 0 else 30.0)
            self._view_end = min(marker.labels.duration, math.floor((times[-1] + period) * 1e4) / 1e4)
        self.marker = marker
        self.draw = draw
        self.start_time = start_time
        self.close_at_end = close_at_end
        self.setWindowTitle(title)
        layout = QtWidgets.QVBoxLayout(self)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys come to the window
        view = self.graphics.addViewBox(lockAspect=True, invertY=True)
        self.item = pg.ImageItem(axisOrder="row-major")
        view.addItem(self.item)
        self.status = QtWidgets.QLabel()
        self.status.setTextFormat(QtCore.Qt.TextFormat.RichText)  # the class key's coloured squares
        # Named: Windows has no font called monospace, and a proportional one shifted the columns.
        self.status.setStyleSheet('font-family: Consolas, "DejaVu Sans Mono", "Courier New", monospace; '
                                  "font-size: 12px")
        self.status.setWordWrap(True)  # wrapped to the window, not widening it past the screen
        policy = QtWidgets.QSizePolicy.Policy
        self.status.setSizePolicy(policy.Ignored, policy.Preferred)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.status)
        # 1280 x 800 where the screen has it: on a 1024x600 tablet a quarter of the picture and the key line
        # were off the screen.
        self.screen_fit = ScreenFit(self, least=(1280, 800))
        self.frame: Frame | None = None
        self.behind: deque[Frame] = deque()  # frames shown before self.frame, the newest last
        self.behind_bytes = 0  # their colour images
        self.forgot_behind = False  # whether the clip's first frames were let go (STEP_BACK_BYTES)
        self.ahead: list[Frame] = []  # frames stepped back over, the next one last
        self.frame_ms = 1000 / fps if fps > 0 else 33.3  # at 1x
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.advance)
        self.timer.start(max(1, round(self.frame_ms)))

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        modifiers = QtCore.Qt.KeyboardModifier
        if event.isAutoRepeat() or event.modifiers() & (modifiers.ControlModifier | modifiers.AltModifier
                                                        | modifiers.MetaModifier):
            # A held u emptied the clip's labels, a held s saved one-frame intervals; Ctrl-S is no s.
            super().keyPressEvent(event)
            return
        key = event.key()
        if key in (QtCore.Qt.Key.Key_Q, QtCore.Qt.Key.Key_Escape):
            self.close()
            return
        if key == QtCore.Qt.Key.Key_Backspace:
            self.marker.undo()
        elif QtCore.Qt.Key.Key_F1 <= key <= QtCore.Qt.Key.Key_F9:
            self.marker.handle(str(key - QtCore.Qt.Key.Key_F1 + 1))
        elif key == QtCore.Qt.Key.Key_Space:
            self.marker.handle(" ")
        elif key in (QtCore.Qt.Key.Key_PageDown, QtCore.Qt.Key.Key_PageUp):
            self.marker.step_class(1 if key == QtCore.Qt.Key.Key_PageDown else -1)
        elif key in (QtCore.Qt.Key.Key_Left, QtCore.Qt.Key.Key_Right) and \
                event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier:
            self.jump(-JUMP_S if key == QtCore.Qt.Key.Key_Left else JUMP_S)
        elif key in (QtCore.Qt.Key.Key_Down, QtCore.Qt.Key.Key_Up):
            self.jump(-LONG_JUMP_S if key == QtCore.Qt.Key.Key_Down else LONG_JUMP_S)
        elif key == QtCore.Qt.Key.Key_Home:
            self.jump(None)
        elif key == QtCore.Qt.Key.Key_End:
            self.jump(math.inf)
        elif key in (QtCore.Qt.Key.Key_Left, QtCore.Qt.Key.Key_Comma):
            self.step_back()
        elif key in (QtCore.Qt.Key.Key_Right, QtCore.Qt.Key.Key_Period):
            self.step_on()
        elif not self.marker.handle(event.text().lower()):
            super().keyPressEvent(event)
            return
        # + / -: slower, a longer tick; faster, more frames a tick (advance). A timer stopped at the end
        # stays stopped.
        self.timer.setInterval(max(1, round(self.frame_ms / min(self.marker.speed, 1.0))))
        self.redraw()

    def advance(self) -> None:
        """The next frame (a timer tick), unless paused; at 2x and more, that many frames on, those between
        kept for Left but not drawn: drawing is most of a frame's time, and 8x drawn every frame reached
        2.7x at 1080p."""
        if self.marker.paused:
            return
        shown = False
        for _ in range(max(1, round(self.marker.speed))):
            if not self._show_next():
                break
            shown = True
        if shown:
            self.redraw()

    def _show_next(self) -> bool:
        """The frame after the one on screen: one stepped back over, else the clip's next; False at its
        end (the timer stops there; stepping back starts it again)."""
        frame = self.ahead.pop() if self.ahead else next(self.frames, None)
        if frame is None:
            self.timer.stop()
            if self.close_at_end:
                self.close()
            return False
        if self.frame is not None:
            self._keep_behind(self.frame)
        self._show(frame)
        return True

    def _keep_behind(self, frame: Frame) -> None:
        self.behind.append(frame)
        self.behind_bytes += _colour_bytes(frame)
        while len(self.behind) > STEP_BACK_FRAMES or (self.behind_bytes > STEP_BACK_BYTES
                                                      and len(self.behind) > 1):
            self.behind_bytes -= _colour_bytes(self.behind.popleft())
            self.forgot_behind = True

    def _show(self, frame: Frame) -> None:
        self.frame = frame
        at = frame.timestamp - self.start_time  # as `times` has it: `now` is rounded to 0.1 ms as stored
        self.marker.now = at
        last = self.times[-1] if self.times is not None and len(self.times) else math.inf
        self.marker.end_of_view = self._view_end if at >= last - 1e-6 else None

    def step_back(self) -> None:
        """Left: pause, and show the frame before this one: one kept (STEP_BACK_BYTES), else read again
        where the recording can jump (after End, or any jump, nothing is kept: the last frame could not
        be stepped back from to end an action on its frame)."""
        self.marker.paused = True
        if not self.behind:
            if self.forgot_behind and self._can_seek() and self.frame is not None:
                this = int(np.searchsorted(self.times, self.frame.timestamp - self.start_time - 1e-6))
                if this > 0 and self._seek(this - 1):
                    self.marker.message = "a frame back (space plays on)"
                    return
            self.marker.message = "no earlier frame kept (Left goes back a few seconds at most)" \
                if self.forgot_behind else "the first frame of the clip"
            return
        self.ahead.append(self.frame)
        self.timer.start()  # stopped at the end of the clip: space plays these again
        self.behind_bytes -= _colour_bytes(self.behind[-1])
        self._show(self.behind.pop())
        self.marker.message = "a frame back (space plays on)"

    def step_on(self) -> None:
        """Right: pause, and show the next frame."""
        self.marker.paused = True
        self.marker.message = "a frame on (space plays on)" if self._show_next() else "the end of the clip"

    def jump(self, seconds: float | None) -> None:
        """`seconds` back or on from the frame on screen (None: to the clip's start; inf: its last frame),
        playing or paused as before; the frames kept for Left are let go."""
        if not self._can_seek():
            self.marker.message = "this recording cannot jump: it plays from its start only"
            return
        # From the frame's own time: `now`, rounded to 0.1 ms as stored, landed a third of jumps a frame off.
        now = self.frame.timestamp - self.start_time if self.frame is not None else 0.0
        target = 0.0 if seconds is None else now + seconds
        index = min(int(np.searchsorted(self.times, target - 1e-6)), len(self.times) - 1)
        if self._seek(index):
            self.marker.message = f"at {self.marker.now:.2f} s"

    def _can_seek(self) -> bool:
        return self.seek is not None and self.times is not None and len(self.times) > 0

    def _seek(self, index: int) -> bool:
        """Show frame `index` of the clip, read from there on (`seek`); the frames kept for Left let go.
        False where there is none."""
        assert self.seek is not None
        if isinstance(self.frames, Generator):
            self.frames.close()  # its video's file and decoder let go now, not when the window closes
        self.frames = self.seek(index)
        self.frame, self.ahead = None, []
        self.behind.clear()
        self.behind_bytes = 0
        self.forgot_behind = index > 0
        self.timer.start()  # stopped at the clip's end: it plays on from here
        return self._show_next()

    def redraw(self) -> None:
        if self.frame is not None:
            image = self.draw(self.frame, self.marker.shown_label())
            if image.shape[1] > 1280:
                half = (image.shape[1] // 2, image.shape[0] // 2)
                image = cv2.resize(image, half, interpolation=cv2.INTER_AREA)
            draw_strip(image, self.marker.labels, self.marker.classes, self.marker.now,
                       self.marker.marker.opened)
            self.item.setImage(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), autoLevels=False, levels=(0, 255))
        self.status.setText(self.marker.legend())

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.screen_fit.shown()  # its title bar and borders inside the screen, once framed

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.timer.stop()
        self.marker.finish()
        event.accept()


def _colour_bytes(frame: Frame) -> int:
    return frame.color.nbytes if frame.color is not None else 0


def view_and_mark(frames: Iterator[Frame], labels: ClipLabels, classes: list[str],
                  draw: Callable[[Frame, str | None], np.ndarray], fps: float, title: str,
                  start_time: float = 0.0, seek: Callable[[int], Iterator[Frame]] | None = None,
                  times: np.ndarray | None = None) -> ClipMarker:
    """Play `frames` in a window with the marking keys until it is closed; returns its marker."""
    check_qt_binding()
    app = pg.mkQApp(title)
    marker = ClipMarker(labels, classes)
    window = MarkingWindow(frames, marker, draw, fps, title, start_time, seek=seek, times=times)
    window.show()
    # Ctrl-C in the terminal (or SIGTERM) closes the window as q does, the open mark saved: raised in a
    # Qt slot it was printed as a traceback and the clip played on. Python runs a handler only between
    # its own bytecodes, so a timer gives it some while Qt waits.
    stops = {signum: signal.signal(signum, lambda *_: QtCore.QTimer.singleShot(0, window.close))
             for signum in STOP_SIGNALS}
    wake = QtCore.QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        app.exec()
    finally:
        wake.stop()
        for signum, previous in stops.items():
            signal.signal(signum, previous)
    return marker
