"""The Qt window: the video with skeletons and part boxes, a panel per person, and a status line.

    | ALERT (+1 more)  ward 3: person 1: fall down at 14:02:11 (12 min ago)  [Acknowledge]  (until then)
    +---------------------------------------------+----------------------------+
    | video (pyqtgraph ImageItem, row-major)      | person 1  [L] [R] [body]   |
    |   skeletons, part boxes (width = attention) |           ===  ==  =====   |
    |   "drink water 82%" above each head         |  drink water      ######82%|
    |                                             |  eat meal         #     9% |
    |                                             | person 2 ...               |
    +---------------------------------------------+----------------------------+
    | 2 people | sim | 30.0 fps | latency p50 / p95 | dropped | engine   [Pause][Record][Quit]
    | [class for recordings v]  recording patient fell · marking since 2.1 s   [Action starts][ends]
    +--------------------------------------------------------------------------+

The GUI thread only draws: a QTimer at 30 fps copies the newest frame out of the ring (at display
resolution), drains the hops the worker published and redraws. It never waits on the capture or
recognition threads, nor on a disk (a recording is started, and an action's start marked, on a thread
of its own; a recording is finalised on the recorder's). The
image is whatever the capture thread let through (--privacy: faces already blurred, or no image at
all). Alerts are raised from the hops drained here and delivered on their own threads; the window
shows them in a red bar above the video until someone acknowledges them (a, or the bar's button).
Keys: space pauses, r starts / stops recording, 3 shows / hides the 3D room (live/room3d.py, right
column), a acknowledges the alerts shown, q quits (twice while alerts wait or a recording runs).

Recording for a class: the box lists the site's classes (labels.txt in the record folder, or --labels;
--label preselects one, a new name included); keys F1-F9 choose one (the digits belong to the 3D
room), and the box's first entry records an unlabelled clip. While recording, s marks that an action
of the chosen class starts now and e that it ends; the marks go into the clip's sidecar as intervals
(live/pipeline.py). Without marks the whole clip is the class.

Closing hides the window at once and stops the pipeline on a thread of its own (joining the capture
and recognition threads, up to `record_finish_s` for a recording to be finalised); its Summary comes
back to the GUI thread by a queued signal, the window then really closes and emits `stopped`.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import shiboken6  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from core.engines import MAX_PEOPLE  # noqa: E402
from core.glimpse import PART_NAMES, PART_SHORT_NAMES, PARTS, part_boxes  # noqa: E402
from core.privacy import PrivacyMode  # noqa: E402
from core.skeleton import KINECT_V2, SkeletonLayout  # noqa: E402
from core.timeline import NO_ACTION, names_background  # noqa: E402
from live import room3d  # noqa: E402
from live.capture import RingEntry  # noqa: E402
from live.headless import ALERT_BEEP_S, Alert, AlertDispatcher, delivery_status  # noqa: E402
from live.pipeline import LivePipeline, RecordingSettings, Summary  # noqa: E402
from live.worker import Decision, Hop  # noqa: E402
from recordings.labels import LABEL_MAP_FILENAME, LabelMapError, read_label_map  # noqa: E402
from recordings.picture_text import put_text, text_size  # noqa: E402
from recordings.recorder import RECORDING_ERRORS  # noqa: E402
from recordings.screen_fit import ScreenFit  # noqa: E402

log = logging.getLogger(__name__)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

ALARM_RED = (210, 30, 30)  # an action that raises alerts, on the video (RGB)
# The people's colours, told apart from each other, from alarm red and its text, and from the no-action
# grey, with red-green colour blindness too (CIEDE2000 of 10 or more, simulated as the test does; 20 to
# normal eyes), each at least 6.5:1 on the dark panel, as a title: Okabe and Ito's bluish green and
# reddish purple, the set's before, were one grey to a deuteranope (persons 3 and 5 alike) and the purple
# nearly the no-action grey; its blue was dark on the panel and on dark clothes.
PALETTE = ((230, 159, 0), (113, 234, 255), (251, 247, 100), (49, 255, 188), (255, 143, 198), (100, 163, 255))
DISPLAY_WIDTH = 960  # the video is drawn at this width (skeletons and text drawn at that scale)
# The capitals of the action written over a person, as a share of the video's height: drawn into the
# picture, they grow with the window and the screen. A nurse 2-3 m from a 24" screen read nothing of the
# old 11 px; 3.5% is 19 px where the video fills most of a 1366x768 screen, 27 px on a 1920x1080 one (5%
# hid the people under their labels where four stood together; the panel's top action is 20 px as well).
ACTION_LABEL_HEIGHT = 0.035
CROP_PIXELS = 96
# F1-F9 choose among the label map's classes; a new folder has none until one is named.
NO_CLASSES_YET = "no classes yet: start the app with --label NAME to name one"
# A person's last decision this much older (stream time) than the picture, or three hops where hops are
# longer, is not shown as theirs now: their windows stopped being decided (scores not finite, colour
# gone) or recognition is far behind.
STALE_DECISION_S = 3.0
QUIT_AGAIN_S = 3.0  # q with alerts unacknowledged or a recording running: a second press within this quits
# The 3D room panel gives up height, down to this, where the people's panels would not fit even with
# their top action alone (a small screen, large fonts, the alert bar up): everyone's action comes first.
ROOM3D_MIN_PX = 120
# Lent beyond what the panels need, and kept when they need less: a pixel lost (a banner's line) does not
# drop them to a smaller size for a frame, nor a pixel won give height back and forth.
LEND_SPARE_PX = 8
# The 3D panel hidden for everyone's action comes back once they have fitted beside it this long: a body
# lost for a frame (six people in view, then five) would otherwise show and hide it again and again.
ROOM3D_BACK_AFTER_S = 10.0
NO_ACTION_GREY = (150, 150, 150)  # the background class is shown, quietly, never as an action
# Below this share of a person's joints tracked over the window (live.worker.Decision.tracked), their label
# says the pose is guessed: a person in full view has 0.8-1 (the Kinect infers occluded hands often).
GUESSED_BELOW = 0.5
SOURCE_CHARACTERS = 40  # the source's name in the status line (the tooltip has all of it)
ALARM_TEXT = "#ff6e64"  # alarm red as text on the dark window (the red banners' and the alarm title's)
# The top action's words on its panel, large enough to read from across the room; the bars under it (the
# next actions, the attention) are for whoever looks closer.
TOP_ACTION_TEXT_PX = 20
BAR_TEXT_PX = 13
ATTENTION_TEXT_PX = 11  # three bars side by side under the crops: "left hand" fits whole only this small
# A bar's track and text. Its fill is the bar's colour mixed into the track (bar_fill): at least 3:1 against
# the track (WCAG's for graphics) with a step to spare, and the white text on it 4.5:1 or more. One alpha
# for every colour cannot do both (90 of 255 gave 1.8-3.0:1): a light colour needs less of itself than a
# dark one.
BAR_TRACK = (17, 17, 17)
BAR_TEXT = (255, 255, 255)
BAR_FILL_CONTRAST = 3.2


NO_LABEL = "(no label)"


def recording_classes(settings: RecordingSettings, record_dir: Path) -> tuple[list[str], str | None]:
    """The classes the window offers for recordings — the site's label map (`settings.label_map`, else
    labels.txt in the record folder), then --label when it is a new name — and the one --label names."""
    path = settings.label_map or Path(record_dir) / LABEL_MAP_FILENAME
    names: list[str] = []
    chosen = settings.label
    if path.is_file():
        try:
            label_map = read_label_map(path)
            # A "No_Action" line an earlier version let in is the background: not a class to mark.
            names = [name for name in label_map.class_names if not names_background(name)]
            if settings.label:
                chosen = label_map.name(label_map.action_id(settings.label))  # an A-number -> its name
        except KeyError:
            pass  # a new class: labels.txt gets it when the recording starts
        except (LabelMapError, OSError) as error:  # recording will say it again; the window still opens
            log.error("cannot read the label map: %s", error)
    if chosen and chosen not in names:
        names = [*names, chosen]
    return names, chosen


def class_title(name: str | None) -> str:
    """How a class is written on screen: words, not code ("fall down" for fall_down; "no action" for the
    background class)."""
    return "no action" if name == NO_ACTION else str(name).replace("_", " ")


@dataclass(frozen=True)
class OverlayConfig:
    fps: float = 30.0
    record_dir: Path = Path("runs") / "recordings"
    close_at_end: bool = True  # close the window when a replay ends
    max_people: int = MAX_PEOPLE  # panels, and people drawn
    notice_s: float = 15.0  # how long a message ("cannot record: ...") stays in the status line
    show_3d: bool = True  # the 3D room panel at start (key 3 toggles), where OpenGL allows one
    # Seconds between beeps while an alert is unacknowledged (0: silent): a nurse looking away, or at
    # another window, hears it; the taskbar entry flashes too.
    alert_beep_s: float = ALERT_BEEP_S
    # A pause ends by itself after this long (0: only space ends it): a forgotten one would leave a
    # watched room unwatched for the rest of the shift.
    pause_limit_s: float = 600.0


def _rgb_pixmap(rgb: np.ndarray, size: int) -> QtGui.QPixmap:
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    image = QtGui.QImage(rgb.data, width, height, 3 * width, QtGui.QImage.Format.Format_RGB888)
    return QtGui.QPixmap.fromImage(image.copy()).scaled(
        size, size, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
        QtCore.Qt.TransformationMode.SmoothTransformation)


def relative_luminance(color: tuple[float, float, float]) -> float:
    """WCAG 2's relative luminance of an sRGB colour (0-255 each)."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in color]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """WCAG 2's contrast ratio of two colours, 1-21."""
    lighter, darker = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@functools.cache  # a handful of colours, asked for at every restyle of a bar (up to ~0.5 ms each to find)
def bar_fill(color: tuple[int, int, int]) -> tuple[int, int, int]:
    """The filled part of a bar of `color`: the least of it, mixed into BAR_TRACK, that stands
    BAR_FILL_CONTRAST off the track (more would darken the bar's text against it)."""
    for alpha in range(256):
        share = alpha / 255
        fill = tuple(round(share * c + (1 - share) * t) for c, t in zip(color, BAR_TRACK, strict=True))
        if contrast_ratio(fill, BAR_TRACK) >= BAR_FILL_CONTRAST:
            return fill
    return color


class Bar(QtWidgets.QProgressBar):
    """A labelled horizontal bar for a probability or an attention weight."""

    def __init__(self, color: tuple[int, int, int], text_px: int = BAR_TEXT_PX, bold: bool = False) -> None:
        super().__init__()
        self.text_px, self.bold = text_px, bold
        self.setRange(0, 1000)
        self.setTextVisible(True)
        self.setFixedHeight(text_px + 8)  # the text and its descenders inside the border
        self.set_color(color)

    def set_color(self, color: tuple[int, int, int], solid: bool = False) -> None:
        """`solid`: the colour itself as the fill (alarm red, under white text), not a shade of it."""
        fill = "rgb({}, {}, {})".format(*(color if solid else bar_fill(color)))
        self.setStyleSheet(
            "QProgressBar {{border: 1px solid #555; border-radius: 3px; background: rgb({}, {}, {});"
            " color: rgb({}, {}, {});".format(*BAR_TRACK, *BAR_TEXT)
            + f" text-align: left; padding-left: 4px; font-size: {self.text_px}px;"
            f" font-weight: {'bold' if self.bold else 'normal'}}}"
            f" QProgressBar::chunk {{background: {fill}}}"
        )

    def show_value(self, label: str, value: float, written: str = "") -> None:
        """`written`: what to write instead of `label` (a part's short name, PersonPanel), which a screen
        reader still reads whole."""
        self.setValue(int(round(max(0.0, min(1.0, value)) * 1000)))
        percent = f"  {value * 100:.0f}%"
        # The label shortened, not the number: cut at the bar's end, a site's long class name took its %.
        shown = self.fontMetrics().elidedText(written or label, QtCore.Qt.TextElideMode.ElideRight,
                                              self._label_room())
        self.setFormat(f"  {shown}{percent}")  # spaced off the border: padding does not move it
        self.setAccessibleName(f"{label} {value * 100:.0f}%")  # a screen reader's, not the raw 0-1000

    def fits(self, label: str) -> bool:
        """Whether `label` is written whole beside its number."""
        return self.fontMetrics().horizontalAdvance(label) <= self._label_room()

    def _label_room(self) -> int:
        # Room kept for "100%" whatever the number: a value moving about 10% flipped the label's length.
        metrics, room = self.fontMetrics(), self.contentsRect().width() - 6  # 6: the padding and borders
        return max(room - metrics.horizontalAdvance("    100%"), 0)

    def clear_value(self) -> None:
        self.setValue(0)
        self.setFormat("")
        self.setAccessibleName("")


class AlertLine(QtWidgets.QLabel):
    """The alert bar's words: who and when kept whole, the class shortened in its middle to fit (a site's
    long class name cut off the time after it), at every size the bar is laid out at; where even that
    does not fit (a narrow window), two lines."""

    def __init__(self) -> None:
        super().__init__()
        self._parts = ("", "", "")  # before the class, the class, after it

    def show_alert(self, before: str, action: str, after: str) -> bool:
        """Whether the alert said changed (a screen reader is told only then, not at each new fit)."""
        if (before, action, after) == self._parts:
            return False
        self._parts = (before, action, after)
        self.setAccessibleName(before + action + after)  # read out whole
        self._fit()
        return True

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        before, action, after = self._parts
        text, metrics, room = before + action + after, self.fontMetrics(), self.contentsRect().width()
        wrap = False
        if metrics.horizontalAdvance(text) > room:
            rest = metrics.horizontalAdvance(before + after)
            shortest = metrics.horizontalAdvance("fall\u2026down")  # a class still told from the others
            wrap = room - rest < shortest  # a narrow window: two lines, nothing of who or when lost
            # Two lines hold less than twice one: words do not break where the first line ends.
            width = max(int(1.5 * room) - rest if wrap else room - rest, shortest)
            text = before + metrics.elidedText(action, QtCore.Qt.TextElideMode.ElideMiddle, width) + after
        self.setWordWrap(wrap)
        self.setText(text)


class StatusLine(QtWidgets.QLabel):
    """The status line: one line, cut at the right with an ellipsis where the window is narrower than it,
    so that a cut line is seen to be one (its whole text is the tooltip, and what a screen reader reads)."""

    def shown(self) -> str:
        """The line as it fits the widget now."""
        elide = QtCore.Qt.TextElideMode.ElideRight
        return self.fontMetrics().elidedText(self.text(), elide, self._text_rect().width())

    def _text_rect(self) -> QtCore.QRect:
        # Where QLabel writes: inside a frame (the style sheet's padding makes one) it indents by half an
        # "x", as the plain label did; the line would otherwise sit 3 px further left than before.
        indent = self.indent() if self.indent() >= 0 else (
            self.fontMetrics().horizontalAdvance("x") // 2 if self.frameWidth() > 0 else 0)
        return self.contentsRect().adjusted(indent, 0, 0, 0)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QtGui.QPainter(self)
        painter.setPen(self.palette().color(QtGui.QPalette.ColorRole.WindowText))
        painter.drawText(self._text_rect(), self.alignment(), self.shown())


class PanelSize(enum.Enum):
    """How much of a person a panel shows, largest first: the window picks the largest that lets every
    person in view fit the column."""

    FULL = "full"  # the crops, the attention bars, the top actions, the detail line
    COMPACT = "compact"  # the attention bars and the top actions
    TOP_ACTION = "top action"  # the top action alone (four or more people with the 3D panel shown)


class Room3DGivesWay:
    """Whether the 3D room panel makes way for the people's panels, frame by frame: hidden where even at
    its least height (ROOM3D_MIN_PX) it leaves too little for everyone's top action (six people on a
    1024x600 tablet, whose fifth and sixth actions and ALERTs were behind a scrollbar), and back once they
    have fitted beside it for ROOM3D_BACK_AFTER_S. Shown again with key 3 (`toggled`), it stays while that
    crowd lasts; hidden with it, it stays hidden: the user's choice, either way."""

    def __init__(self) -> None:
        self.hidden_at: float | None = None  # when the people last needed its height (None: not hidden)
        self.chosen = False  # shown by key 3: not hidden for the panels until they fit beside it

    def step(self, least_px: int, room_px: int, spare_px: int, shown: bool, now: float) -> bool | None:
        """This frame's call: True to show the panel, False to hide it, None to leave it. `least_px`: what
        everyone's top action needs; `room_px`: the people's column's height; `spare_px`: what the panel
        can give above its least height; `now`: a monotonic clock."""
        if least_px <= room_px:
            self.chosen = False  # the crowd that key 3 kept it for is gone: the next may hide it
        if self.hidden_at is not None:  # (hidden: `room_px` is the whole column's)
            if least_px + ROOM3D_MIN_PX + 2 * LEND_SPARE_PX > room_px:
                self.hidden_at = now  # still needed: room again is counted from here
            elif now - self.hidden_at >= ROOM3D_BACK_AFTER_S:
                self.hidden_at = None  # room beside its least height for a while: back
                return True
        if least_px - room_px > spare_px and shown and not self.chosen:
            self.hidden_at = now
            return False
        return None

    def toggled(self, shown: bool) -> None:
        """Key 3 showed or hid it: not hidden for the panels, nor brought back with the room, by itself."""
        self.hidden_at, self.chosen = None, shown


class PersonPanel(QtWidgets.QFrame):
    """One person: the crops the model saw, its attention over them, and the top actions."""

    def __init__(self, parts: tuple[str, ...], top_k: int) -> None:
        super().__init__()
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        self.title = QtWidgets.QLabel()
        # The person's colour beside the title, also while an alarm makes the title and frame red: the link
        # from the panel to the skeleton on the video and in the 3D room.
        self.swatch = QtWidgets.QLabel()
        self.swatch.setFixedSize(TOP_ACTION_TEXT_PX, TOP_ACTION_TEXT_PX)
        title_row = QtWidgets.QHBoxLayout()
        title_row.addWidget(self.swatch)
        title_row.addWidget(self.title, 1)
        self.detail = QtWidgets.QLabel()
        self.detail.setStyleSheet("color: #999; font-size: 11px")
        self.detail.setWordWrap(True)
        layout.addLayout(title_row)
        layout.addWidget(self.detail)
        crops_row = QtWidgets.QHBoxLayout()
        self.crops: list[QtWidgets.QLabel] = []
        self.attention: list[Bar] = []
        self.parts = parts
        for _part in parts:
            column = QtWidgets.QVBoxLayout()
            crop = QtWidgets.QLabel()
            crop.setFixedSize(CROP_PIXELS, CROP_PIXELS)
            crop.setStyleSheet("background: #111")
            crop.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            bar = Bar((240, 240, 240), ATTENTION_TEXT_PX)
            bar.setFixedWidth(CROP_PIXELS)
            column.addWidget(crop)
            column.addWidget(bar)
            crops_row.addLayout(column)
            self.crops.append(crop)
            self.attention.append(bar)
        layout.addLayout(crops_row)
        self.action_bars = [Bar((200, 200, 200), TOP_ACTION_TEXT_PX, bold=True),
                            *(Bar((200, 200, 200)) for _ in range(top_k - 1))]
        for bar in self.action_bars:
            layout.addWidget(bar)
        self._color: tuple[int, int, int] | None = None
        self._alarm_shown = False  # the panel's frame is alarm red
        self._bar_colors: list[tuple[tuple[int, int, int], bool] | None] = [None] * top_k
        self._waiting_for: int | None = None  # the tracking id whose window is gathering, once cleared
        self._shown: tuple[str, Decision, bool, bool] | None = None  # what show_decision last put up
        self.panel_size = PanelSize.FULL
        self.set_color((200, 200, 200))  # styled from the start: the window measures it before it is anyone's

    def set_size(self, size: PanelSize) -> None:
        """Smaller when more people are in view than fit the column: every person's top action without
        scrolling (the attention bars, and the picture's boxes, still say where the model looks while
        they fit)."""
        self.panel_size = size
        self._shown = None  # the crops (not drawn while hidden) to draw now
        for crop in self.crops:
            crop.setVisible(size is PanelSize.FULL)
        for bar in (*self.attention, *self.action_bars[1:]):
            bar.setVisible(size is not PanelSize.TOP_ACTION)
        self._say(self.detail.text())

    def height_at(self, size: PanelSize) -> int:
        """The panel's height at `size` with all it may show there (at full size, a line of detail), for
        the window to plan its column before any panel is drawn."""
        title, detail = self.title.text(), self.detail.text()
        # Its frame and its title's font are set with its colour: unset, the title measured in the default
        # font, the frame none, and the column planned too short for them (a scrollbar, at 150% scaling).
        self.set_color(self._color or (200, 200, 200), self._alarm_shown)
        self.set_size(size)
        self.title.setText("person 1")
        self._say("labelled: no action")
        self.layout().activate()  # else sizeHint answers from the layout's cache, the size before
        height = self.sizeHint().height()
        self.title.setText(title)
        self._say(detail)
        return height

    def _say(self, detail: str) -> None:
        """The line under the title: shown only with something to say, and only at full size."""
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail) and self.panel_size is PanelSize.FULL)

    def set_color(self, color: tuple[int, int, int], alarming: bool = False) -> None:
        """The person's colour (swatch, title, frame); `alarming`: an alarm-red frame and title instead (the
        frame as wide: the column's layout does not move), the swatch still the person's."""
        if (color, alarming) == (self._color, self._alarm_shown):
            return
        self._color, self._alarm_shown = color, alarming
        self._shown = None  # the bars to colour again
        r, g, b = color
        frame = "rgb({}, {}, {})".format(*(ALARM_RED if alarming else color))
        self.setStyleSheet(f"PersonPanel {{border: 2px solid {frame}; border-radius: 6px}}")
        self.swatch.setStyleSheet(f"background: rgb({r}, {g}, {b}); border-radius: 3px")
        # Alarm: the title (its ALERT) in the banners' light red, which reads on the dark panel (6.3:1).
        title = ALARM_TEXT if alarming else f"rgb({r}, {g}, {b})"
        self.title.setStyleSheet(f"color: {title}; font-weight: bold; font-size: {TOP_ACTION_TEXT_PX}px")
        self._bar_colors = [None] * len(self.action_bars)  # recoloured at the next decision

    def show_decision(self, label: str, decision: Decision, alarming: bool = False, alerted: bool = False,
                      ) -> None:
        """`decision.truth` (where the source knows it) is what its window shows, as scored. `alarming`: the
        top action raises alerts (draw_label): said in words, and in red (the bar, the frame), so that a
        nurse who cannot tell red from green reads it too. `alerted`: an alert about this person waits to
        be acknowledged; the frame and title say ALERT whatever the person does now (a patient on the floor
        after a fall is decided "no action" a few seconds on, and the bar's "person 1" had no panel)."""
        shown = self._shown
        if (shown is not None and shown[1] is decision
                and (shown[0], *shown[2:]) == (label, alarming, alerted)):
            return  # the same again: the window ticks 30 times a second, a person's decisions come 5
        self._waiting_for = None
        self.set_color(self._color or (200, 200, 200), alarming or alerted)
        self.title.setText(f"{label}  ALERT" if alarming or alerted else label)
        # Said in words for whoever watches; the sensor's id and the latency are for whoever looks closer.
        truth = decision.truth
        # What the source's labels say (a replay's, the simulator's script): "the recording says" was read
        # as nonsense on the simulated room, which records nothing. A body mostly of the sensor's guesses,
        # as on the picture (draw_label), whose label may have had no room for it.
        notes = [] if truth is None else [f"labelled: {class_title(truth)}"]
        guessed = pose_guessed(decision)
        if guessed:
            notes.append(f"pose guessed ({min(round(decision.tracked * 100), 49)}% tracked)")  # under the cut
        self._say("  ·  ".join(notes))
        self.setToolTip(f"tracking id {decision.tracking_id}  ·  decided {decision.latency_s * 1000:.0f} ms "
                        "after the newest frame arrived")
        # Three bars side by side in a narrow panel: all by their short names where any whole name would
        # be cut ("left h..." for both hands read as nothing; one short among two long, as odd).
        names = [PART_NAMES.get(part, part) for part in self.parts]
        short = not all(bar.fits(name) for bar, name in zip(self.attention, names, strict=True))
        for i, part in enumerate(self.parts):
            if self.panel_size is not PanelSize.FULL:
                pass  # hidden: drawn when shown (set_size)
            elif decision.crops is not None:
                self.crops[i].setPixmap(_rgb_pixmap(decision.crops[i], CROP_PIXELS))
            else:  # none to show (privacy): not the last person's
                self.crops[i].clear()
            self.attention[i].show_value(names[i], float(decision.attention[i]),
                                         PART_SHORT_NAMES.get(part, "") if short else "")
        for k, (bar, (name, p)) in enumerate(zip(self.action_bars, decision.topk, strict=False)):
            color = NO_ACTION_GREY if name == NO_ACTION else (self._color or (200, 200, 200))
            style = (ALARM_RED, True) if alarming and k == 0 else (color, False)
            if style != self._bar_colors[k]:  # a style sheet change re-polishes the widget: only on change
                bar.set_color(*style)
                self._bar_colors[k] = style
            bar.show_value(f"ALERT {class_title(name)}" if style[1] else class_title(name), p)
        top, p = decision.topk[0]
        self.setAccessibleName(self.title.text())
        said = "ALERT " if alarming or alerted else ""
        self.setAccessibleDescription(f"{said}{class_title(top)} {p * 100:.0f}%"
                                      f"{', pose guessed' if guessed else ''}")
        self._shown = (label, decision, alarming, alerted)

    def show_waiting(self, label: str, tracking_id: int,
                     why: str = "watching: a decision after about two seconds in view", alerted: bool = False,
                     ) -> None:
        """A person with no decision yet (or none lately, `why`). Panels are reused by position: whatever
        an earlier person's decision left here (crops, attention, actions) must go, or it reads as this
        person's. `alerted`: as show_decision's."""
        self._shown = None
        self.set_color(self._color or (200, 200, 200), alerted)  # red only for an alert waiting: no decision
        self.title.setText(f"{label}  ALERT" if alerted else label)
        self._say(why)
        self.setToolTip(f"tracking id {tracking_id}")
        self.setAccessibleName(self.title.text())
        self.setAccessibleDescription(why)
        if self._waiting_for != tracking_id:
            self._waiting_for = tracking_id
            for crop in self.crops:
                crop.clear()
            for bar in (*self.attention, *self.action_bars):
                bar.clear_value()
        # In the first bar too: the line under the title shows only at full size, and an empty bar read
        # as something missing.
        if self.action_bars[0].format() != f"  {why}":
            self.action_bars[0].setFormat(f"  {why}")


def draw_person(image: np.ndarray, pixels: np.ndarray, bones: np.ndarray, boxes: np.ndarray | None,
                decision: Decision | None, color: tuple[int, int, int], scale: float) -> None:
    """Draw one person's skeleton and part boxes onto an RGB display image (in place).

    `pixels` (J, 2) and `boxes` (P, 4) are in the sensor's colour pixels; `scale` maps them to the
    display image. Drawn into the pixels rather than as scene items: one image upload per tick,
    whatever the number of people, and nothing for Qt to keep per person.
    """
    pixels = pixels * scale
    # Only pixels near the image are drawn: cv2 clips a line to it, but takes no coordinate past 2^31 (a
    # glitch's 1e30 failed the whole picture).
    drawn = np.isfinite(pixels).all(1) & (np.abs(np.nan_to_num(pixels)) < 4 * max(image.shape)).all(1)
    for a, b in bones:
        if drawn[a] and drawn[b]:
            cv2.line(image, _pt(pixels[a]), _pt(pixels[b]), color, 2, cv2.LINE_AA)
    for p in pixels[drawn]:
        cv2.circle(image, _pt(p), 2, (255, 255, 255), -1, cv2.LINE_AA)
    if boxes is not None:
        for i, box in enumerate(boxes):
            cx, cy, w, h = (box * scale).tolist()
            if not np.isfinite([cx, cy, w, h]).all():
                continue
            # Line width follows the latest attention: the model's focus is visible on the video itself.
            # Drawn outside the box (a hand is 30-45 px here: a 7 px line across it would hide what the
            # model looks at) and at most an eighth of the box wide.
            weight = float(decision.attention[i]) if decision is not None else 0.0
            thickness = max(1, min(1 + int(round(6 * weight)), int(min(w, h) / 8)))
            out = thickness / 2
            cv2.rectangle(image, _pt((cx - w / 2 - out, cy - h / 2 - out)),
                          _pt((cx + w / 2 + out, cy + h / 2 + out)), color, thickness, cv2.LINE_AA)


def draw_label(image: np.ndarray, pixels: np.ndarray, decision: Decision | None, label: str, scale: float,
               labels_drawn: list[tuple[int, int, int, int]] | None = None, text_scale: float = 1.0,
               alarming: bool = False, color: tuple[int, int, int] | None = None) -> None:
    """Write a person's top action above their head (in place). Labels go on after every skeleton
    (`LiveWindow._draw_people`) so that no one's bones cross another's words. `labels_drawn`: the label
    boxes (x0, y0, x1, y1) already written in this image; this one goes up until it covers none of
    them (two people side by side would write over each other), then joins. `text_scale`: how much larger
    than at full size to write, so that a label stays readable when the window shows the video smaller.
    `alarming`: the action is one that raises alerts, at the alert threshold: white on red, so that who
    it is stands out among several people. `color`: the person's (their skeleton's and panel's), as the
    label's frame: with several people, a label pushed up off its head still says whose it is."""
    pixels = pixels * scale
    visible = np.isfinite(pixels).all(1)
    if not visible.any():
        return
    head = pixels[visible][np.argmin(pixels[visible, 1])]
    size, thickness, pad = 0.5 * text_scale, max(1, round(text_scale)), round(4 * text_scale)
    frame = max(2, round(2 * text_scale))  # the person's colour around it, half outside the box
    rows, columns = image.shape[:2]
    # The box and its frame stay inside the picture (a head at its edge wrote a label cut in half).
    margin = pad + frame
    text, ink = label, (255, 255, 255)
    if decision is not None and decision.topk[0][0] == NO_ACTION:
        text, ink = f"{label}: no action", NO_ACTION_GREY  # nothing is happening: said quietly
    elif decision is not None:
        # In words as well as on red: red and black are one dark olive to some eyes.
        before, title = f"{'ALERT ' if alarming else ''}{label}: ", class_title(decision.topk[0][0])
        # A body the sensor mostly guesses (under a blanket, lying down, at the edge of the view): said, so
        # that staff weigh the label accordingly; where the whole name fits with it (the action comes first).
        guessed = ""
        if pose_guessed(decision):
            guessed = " (pose guessed)"
            if text_size(f"{before}{title} 100%{guessed}", size, thickness)[0][0] > columns - 2 * margin:
                guessed = ""
        after = f" {decision.topk[0][1] * 100:.0f}%{guessed}"
        # A site's long class name, written large in a small window, ran off the picture with its %:
        # the name is shortened instead.
        shown = title
        for keep in range(len(title) - 1, 0, -1):  # fitted as at 100%: a changing number keeps the cut
            if text_size(f"{before}{shown} 100%", size, thickness)[0][0] <= columns - 2 * margin:
                break
            shown = f"{title[:keep].rstrip()}..."
        text = before + shown + after
    (width, height), _ = text_size(text, size, thickness)
    x = int(min(max(head[0] - width / 2, margin), max(columns - width - margin, margin)))
    over_head_y = int(min(max(head[1] - 3.5 * pad, height + margin), max(rows - margin, height + margin)))
    taken = labels_drawn if labels_drawn is not None else []

    def box_at(y: int) -> tuple[int, int, int, int]:
        return x - pad, y - height - pad, x + width + pad, y + pad

    # Up from above the head until it covers no other label; where the picture's top comes first, down
    # from there instead; with no room at all, over the head.
    step = height + 2 * pad + 2 + frame
    above = range(over_head_y, height + margin - 1, -step)
    below = range(over_head_y + step, rows - margin + 1, step)
    y = next((y for y in (*above, *below) if not any(_overlap(box_at(y), other) for other in taken)),
             over_head_y)
    box = box_at(y)
    taken.append(box)
    cv2.rectangle(image, box[:2], box[2:], ALARM_RED if alarming else (0, 0, 0), -1)
    if color is not None:
        cv2.rectangle(image, box[:2], box[2:], color, frame)
    put_text(image, text, (x, y), size, ink, thickness)


def draw_recording_mark(image: np.ndarray, text_scale: float = 1.0) -> None:
    """A red dot and REC in the picture's top left corner (in place)."""
    size, thickness = 0.6 * text_scale, max(1, round(1.5 * text_scale))
    radius, margin = round(8 * text_scale), round(14 * text_scale)
    cv2.circle(image, (margin + radius, margin + radius), radius, ALARM_RED, -1, cv2.LINE_AA)
    cv2.putText(image, "REC", (margin + 2 * radius + round(6 * text_scale), margin + 2 * radius),
                cv2.FONT_HERSHEY_SIMPLEX, size, ALARM_RED, thickness, cv2.LINE_AA)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _pt(p) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


class ClassBox(QtWidgets.QComboBox):
    """The class recordings are made for: chosen by a click or F1-F9, not by a mouse wheel passing over it
    (a scroll near the bottom row changed the class the next s marks, unseen)."""

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:  # noqa: N802 (Qt's name)
        event.ignore()


def pose_guessed(decision: Decision) -> bool:
    """Whether the sensor tracked too little of the person over the window to trust their pose
    (GUESSED_BELOW): said on the picture's label and on their panel."""
    return decision.tracked is not None and decision.tracked < GUESSED_BELOW


def shortened(text: str, characters: int) -> str:
    """`text` cut in its middle to `characters` (its start and end say most: a clip's date and take)."""
    if len(text) <= characters:
        return text
    end = (characters - 1) // 2
    return f"{text[:characters - 1 - end]}\u2026{text[len(text) - end:]}"


def clock_time(seconds: float) -> str:
    """The local time of day of `seconds` (epoch) as a nurse reads it; with its day where that is not
    today, and its UTC offset where the clocks changed since (02:40 then 02:10 after summer time ended:
    the later read as the earlier). An offset, not %Z: Windows names zones in long localised words."""
    then, now = time.localtime(seconds), time.localtime()
    day = "" if then[:3] == now[:3] else "%a %d %b "
    zone = ""
    if then.tm_gmtoff != now.tm_gmtoff:
        hours, minutes = divmod(abs(then.tm_gmtoff) // 60, 60)
        zone = f" UTC{'-' if then.tm_gmtoff < 0 else '+'}{hours:02d}:{minutes:02d}"
    return time.strftime(f"{day}%H:%M:%S", then) + zone


class LiveWindow(QtWidgets.QMainWindow):
    """Draws what the pipeline publishes; owns nothing but widgets (the pipeline is started outside)."""

    # Emitted on the GUI thread once the pipeline has stopped after a close (`summary` is set).
    stopped = QtCore.Signal()
    _pipeline_stopped = QtCore.Signal(object)  # the Summary, from the thread that stopped the pipeline
    _recording_refused = QtCore.Signal(str)  # why a recording could not start, from the thread that tried
    _action_marked = QtCore.Signal(str)  # what became of an action's start, from the thread that marked it

    def __init__(
        self, pipeline: LivePipeline, layout: SkeletonLayout, config: OverlayConfig = OverlayConfig(),
        alerts: AlertDispatcher | None = None,
    ) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.config = config
        self.alerts = alerts  # raised from the hops this window drains; delivered off the GUI thread
        self.summary: Summary | None = None
        self._draw_failure: str | None = None  # the first error drawing the picture, for the summary
        self._draw_failures = 0  # ... and how many ticks it has failed
        self._drawing_fails: str | None = None  # why the last tick's drawing failed: the banner says it
        self._alert_failure: str | None = None  # the first error raising alerts, for the summary
        self._alerting_fails: str | None = None  # why this tick's alerts failed: the banner says it
        self._stopper: threading.Thread | None = None
        self._stop_finished = False  # the stopping thread has reported back: a close now closes
        # Queued: emitted on the stopping thread, delivered to the GUI thread that owns this window.
        self._pipeline_stopped.connect(self._finish_close, QtCore.Qt.ConnectionType.QueuedConnection)
        self._recording_refused.connect(self._cannot_record, QtCore.Qt.ConnectionType.QueuedConnection)
        self._record_starter: threading.Thread | None = None
        self._action_marked.connect(self._say_marked, QtCore.Qt.ConnectionType.QueuedConnection)
        self._action_starter: threading.Thread | None = None
        self._recording_problems_shown = 0
        self._recording_stopped: str | None = None  # why the last recording ended early, till the next
        self._recordings_shown = 0
        self._paused_at: float | None = None  # monotonic time the window paused the pipeline
        self._notice: tuple[str, float] | None = None  # (text, monotonic time it expires)
        self._bones = np.array(layout.bones, dtype=np.int64)
        self._decisions: dict[int, Decision] = {}
        self._colours: dict[int, int] = {}  # tracking id -> its PALETTE entry, while tracked
        self._in_view_before: set[int] = set()  # the tracking ids of the frame drawn last
        self._stale_after_s = max(STALE_DECISION_S, 3 * pipeline.config.recognition.hop_s)
        self._was_paused = False
        self._last_sequence = -1
        self._shown: tuple[RingEntry, np.ndarray | None] | None = None  # the frame on screen, as read
        self._recording_drawn = False  # whether that frame carries the recording mark
        self._panels_fit_px = -1  # the height of the people's column the panels were last sized for
        self._ended_at: float | None = None
        self._quit_asked_at: float | None = None  # monotonic time of a q that asked to be pressed again
        # The room it watches first (--room; the computer's name by default): a nurse's screen with several
        # rooms' windows, or its taskbar, told them apart only by their source.
        room_name = f"{alerts.config.room} - " if alerts is not None and alerts.config.room else ""
        self.setWindowTitle(f"Where to focus - {room_name}live - {pipeline.source.name}")
        # 1500 x 760 at least where it fits, most of a larger screen (a wall screen across the room).
        self.screen_fit = ScreenFit(self, least=(1500, 760), share=0.8)
        self.setStyleSheet("QMainWindow, QWidget {background: #1b1b1b; color: #ddd}")

        self.graphics = pg.GraphicsLayoutWidget()
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.image = pg.ImageItem()
        self.view.addItem(self.image)
        # "paused", "end of replay", "sensor disconnected": a bar above the video, large, never over a
        # person (drawn on the picture it hid whoever stood under it), cut at the right in a small window.
        self.banner = QtWidgets.QLabel()
        self.banner.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        ignored, preferred = QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        self.banner.setSizePolicy(ignored, preferred)
        self.banner.hide()
        shape = pipeline.source.color_shape or (1080, 1920)
        # Every n-th pixel copied out of the ring (cheap), then resized to exactly DISPLAY_WIDTH.
        self._step = max(1, shape[1] // DISPLAY_WIDTH)
        self._scale = DISPLAY_WIDTH / shape[1]  # sensor pixels -> display pixels
        self._display_shape = (int(round(shape[0] * self._scale)), DISPLAY_WIDTH)
        self.image.setImage(np.zeros((*self._display_shape, 3), np.uint8), autoLevels=False)
        self.view.setRange(QtCore.QRectF(0, 0, self._display_shape[1], self._display_shape[0]), padding=0)

        parts = pipeline.inputs.parts
        top_k = pipeline.config.recognition.top_k
        self.panels = [PersonPanel(parts, top_k) for _ in range(config.max_people)]
        side = QtWidgets.QWidget()
        side_layout = QtWidgets.QVBoxLayout(side)
        self.nobody = QtWidgets.QLabel("Nobody in view")
        self.nobody.setStyleSheet("color: #888; font-size: 14px")
        side_layout.addWidget(self.nobody)
        for panel in self.panels:
            side_layout.addWidget(panel)
            panel.hide()
        side_layout.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Keys go to the window: clicked, the column took the focus, and PgUp/PgDn scrolled it instead of
        # choosing the recording's class.
        scroll.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        scroll.setMinimumWidth(3 * (CROP_PIXELS + 12) + 40)
        self._people_area = scroll
        # A panel's height at each size, measured before any is shown: the largest at which everyone fits.
        self._panel_px = {size: self.panels[0].height_at(size) + side_layout.spacing() for size in PanelSize}
        self.panels[0].set_size(PanelSize.FULL)

        splitter = QtWidgets.QSplitter()
        splitter.addWidget(self.graphics)
        splitter.addWidget(self._with_room3d(scroll, layout))
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        self.status = StatusLine()
        self.status.setStyleSheet("font-family: monospace; font-size: 12px; padding: 2px")
        # A long line is cut at the right instead of widening the window past the screen and pushing the
        # buttons off it; what needs attention comes first.
        policy = QtWidgets.QSizePolicy.Policy
        self.status.setSizePolicy(policy.Ignored, policy.Preferred)
        self.pause_button = QtWidgets.QPushButton("Pause [space]")
        self.record_button = QtWidgets.QPushButton("Record [r]")
        quit_button = QtWidgets.QPushButton("Quit [q]")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.record_button.clicked.connect(self.toggle_recording)
        quit_button.clicked.connect(self.request_quit)
        for button in (self.pause_button, self.record_button, quit_button):
            button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys go to the window
            button.setStyleSheet("QPushButton {background: #333; border: 1px solid #555; padding: 3px 10px}")
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.status, 1)
        for button in (self.pause_button, self.record_button, quit_button):
            bottom.addWidget(button)

        # The class recordings are made for, and where its actions start and end while recording.
        self.classes, chosen = recording_classes(pipeline.config.recording, config.record_dir)
        self.class_box = ClassBox()
        self.class_box.addItems([NO_LABEL, *(f"F{n}  {name}" if n <= 9 else name
                                             for n, name in enumerate(self.classes, start=1))])
        self.class_box.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        if chosen is not None:
            self.class_box.setCurrentIndex(1 + self.classes.index(chosen))
        self.marking = QtWidgets.QLabel()
        self.marking.setStyleSheet("font-size: 12px; padding: 2px")
        start_button = QtWidgets.QPushButton("Action starts [s]")
        end_button = QtWidgets.QPushButton("Action ends [e]")
        start_button.clicked.connect(self.start_action)
        end_button.clicked.connect(self.end_action)
        # Usable only while recording (_update_marking): pressed outside one, they looked as if they had
        # logged an event for the notes, and only a small "not recording" said otherwise.
        self._marking_buttons = (start_button, end_button)
        labelling = QtWidgets.QHBoxLayout()
        labelling.addWidget(QtWidgets.QLabel("class [F1-F9, PgUp/PgDn]:"))
        labelling.addWidget(self.class_box)
        labelling.addWidget(self.marking, 1)
        for button in (start_button, end_button):
            button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            button.setStyleSheet("QPushButton {background: #333; border: 1px solid #555; padding: 3px 10px}"
                                 "QPushButton:disabled {color: #777; border-color: #444}")
            labelling.addWidget(button)
        self._marking_note = ""  # the last marking message (refused mark, ...)

        # Alerts raised while the window is open stay in this bar until someone acknowledges them: a
        # nurse who looks away misses nothing (the status line's messages come and go).
        # The newest, for the bar and its tooltip, each with the monotonic time it came: how long ago, which
        # no clock set back or forward (nor summer time ending) distorts.
        self._unacknowledged: deque[tuple[Alert, float]] = deque(maxlen=50)
        self._unacknowledged_count = 0  # all of them (a bar nobody answers for a night stays bounded)
        self._beeped_at: float | None = None  # monotonic time of the last beep for unacknowledged alerts
        self.alert_bar = QtWidgets.QFrame()
        self.alert_bar.setStyleSheet("QFrame {background: #b3261e} QLabel {color: white; font-size: 22px;"
                                     " font-weight: bold; padding: 4px}")
        self.alert_text = AlertLine()
        # Cut at the right, never widening the window past the screen (the tooltip lists them all).
        self.alert_text.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                      QtWidgets.QSizePolicy.Policy.Preferred)
        acknowledge_button = QtWidgets.QPushButton("Acknowledge [a]")
        acknowledge_button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        acknowledge_button.setStyleSheet("QPushButton {background: #fff; color: #b3261e; font-weight: bold;"
                                         " padding: 4px 12px}")
        acknowledge_button.clicked.connect(self.acknowledge_alerts)
        # The earlier alerts a press acknowledges too, under the latest: in its tooltip alone they could not
        # be read on a touch screen or from the keyboard.
        self.earlier_alerts = StatusLine()
        self.earlier_alerts.setStyleSheet("font-size: 14px; font-weight: normal; padding: 0px 4px 2px 4px")
        self.earlier_alerts.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                          QtWidgets.QSizePolicy.Policy.Preferred)
        words = QtWidgets.QVBoxLayout()
        words.setSpacing(0)
        words.addWidget(self.alert_text)
        words.addWidget(self.earlier_alerts)
        alert_row = QtWidgets.QHBoxLayout(self.alert_bar)
        alert_row.setContentsMargins(4, 2, 4, 2)
        alert_row.addLayout(words, 1)
        alert_row.addWidget(acknowledge_button)
        self.alert_bar.hide()

        central = QtWidgets.QWidget()
        main = QtWidgets.QVBoxLayout(central)
        main.setContentsMargins(4, 4, 4, 4)
        main.addWidget(self.alert_bar)
        main.addWidget(self.banner)
        main.addWidget(splitter, 1)
        main.addLayout(bottom)
        main.addLayout(labelling)
        self.setCentralWidget(central)

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(int(1000 / config.fps))
        self._frames_drawn = 0

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.screen_fit.shown()  # once the window manager has framed it

    # ---- drawing --------------------------------------------------------------------------

    def person_number(self, tracking_id: int) -> int:
        """1, 2, 3, ... in order of appearance (tracking ids are 64-bit numbers nobody can read): the
        tracks' numbering (live/tracks.py), so that decisions and alerts say the same "person 2"."""
        tracks = self.pipeline.tracks
        return (tracks.number_of(tracking_id) if tracks is not None else None) or 0

    def refresh(self) -> None:
        """One GUI tick: newest image, newest decisions, status. Never blocks."""
        if self._was_paused and not self.pipeline.paused:  # the decisions from before are not of now
            self._decisions.clear()
        self._was_paused = self.pipeline.paused
        self._alerting_fails = None
        for hop in self.pipeline.drain():
            for decision in hop.decisions:
                self._decisions[decision.tracking_id] = decision
            if self.alerts is not None:
                self._guarding_alerts(functools.partial(self._raise_alerts, self.alerts, hop))
        if self.alerts is not None:
            self._guarding_alerts(self.alerts.watch_commands)  # also while no hop comes: nobody in view
        self._update_alert_bar()
        self._sound_alerts()
        saved = self.pipeline.recordings
        if len(saved) > self._recordings_shown:  # r stopped one and it is finalised: where it went
            self._recordings_shown = len(saved)
            self.show_notice(f"saved {saved[-1]}")
        self._end_a_forgotten_pause()
        problems = self.pipeline.recording_errors
        if len(problems) > self._recording_problems_shown:  # a disk that filled: REC is gone, say why
            self._recording_problems_shown = len(problems)
            self._recording_stopped = problems[-1]  # said until the next recording starts, not 15 s
            self.show_notice(problems[-1])
        try:
            self._draw_newest()
            self._drawing_fails = None
        except Exception as error:  # the status, the banner and the end of a replay go on being seen to
            # A picture that froze with nothing said, a traceback each tick, and an exit of 0.
            if self._draw_failure is None:
                log.exception("the picture cannot be drawn")
                self._draw_failure = f"{type(error).__name__}: {error}"
            self._draw_failures += 1
            self._drawing_fails = f"{type(error).__name__}: {error}"  # the banner says what fails now
        self._update_status()
        # Not on a failure: a window that vanishes says nothing; its banner says what went wrong.
        if self.pipeline.ended and self.config.close_at_end and self.pipeline.failure is None:
            now = QtCore.QDateTime.currentMSecsSinceEpoch() / 1000.0
            if self._ended_at is None:
                self._ended_at = now
            elif now - self._ended_at > 1.0:  # leave the last decision on screen for a moment
                self.close()

    def _raise_alerts(self, alerts: AlertDispatcher, hop: Hop) -> None:
        for alert in alerts.update(hop):
            self._unacknowledged.append((alert, time.monotonic()))
            self._unacknowledged_count += 1
            self._beeped_at = None  # a new alert is heard at once

    def _guarding_alerts(self, step: Callable[[], object]) -> None:
        """`step` of raising alerts, its error said (the log, the banner, the exit status) rather than left
        to Qt, which printed it and went on: every tick failed again, the picture froze, and no fall was
        alerted again, with nothing on screen (a hung alert command that could not be stopped)."""
        try:
            step()
        except Exception as error:
            said = f"{type(error).__name__}: {error}"
            if self._alert_failure is None:
                log.exception("alerts cannot be raised")
                self._alert_failure = said
            self._alerting_fails = said

    def _draw_frame(self, entry: RingEntry, image: np.ndarray | None) -> None:
        """A frame from the ring (`image` BGR, a copy; None from a skeleton-only source) with everyone's
        skeleton, boxes and labels, and the recording mark, shown; `image` itself is left as it was."""
        if image is None:  # skeleton-only source, --privacy skeleton, or no image yet: on black, and said
            image = np.zeros((*self._display_shape, 3), np.uint8)
            if self.pipeline.config.privacy is PrivacyMode.SKELETON:
                why = "--privacy skeleton"
            elif self.pipeline.source.color_shape is None:
                why = "this source has skeletons only"
            else:  # a sensor's colour camera starting, or stalled (live.kinect_common.COLOR_REPEAT_S)
                why = "no colour image from the source just now"
            scale = self.label_scale()
            put_text(image, f"no picture: {why}", (round(14 * scale), image.shape[0] - round(14 * scale)),
                     0.5 * scale, NO_ACTION_GREY, max(1, round(scale)))
        else:
            if image.shape[:2] != self._display_shape:
                image = cv2.resize(image, self._display_shape[::-1], interpolation=cv2.INTER_AREA)
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # a new array: the copy kept stays unmarked
        self._draw_people(image, entry.bodies, entry.timestamp)
        self._recording_drawn = self.pipeline.recording
        if self._recording_drawn:  # on the picture itself: whoever is in view is being recorded
            draw_recording_mark(image, self.label_scale())
        self._show_room3d(entry.bodies, entry.timestamp)
        self.image.setImage(image, autoLevels=False)  # uint8 without levels: drawn as is, no rescaling

    def _draw_people(self, image: np.ndarray, bodies: list, now: float) -> None:
        live_ids = set(self.pipeline.tracks.ids()) if self.pipeline.tracks is not None else set()
        for gone in set(self._decisions) - live_ids:  # people who left: forget them (bounded memory)
            del self._decisions[gone]
        order = sorted(bodies[: self.config.max_people], key=lambda b: self.person_number(b.tracking_id))
        # Smaller where everyone's would not fit (in a 760 px window: three people without crops, six with
        # only their top action; with the 3D panel shown, two and four): nobody's action needs scrolling.
        margins = self._people_area.widget().layout().contentsMargins()  # the column's, around the panels
        self._panels_fit_px = self._people_area.viewport().height()
        room = self._panels_fit_px - margins.top() - margins.bottom()
        size = next((s for s in PanelSize if len(order) * self._panel_px[s] <= room), PanelSize.TOP_ACTION)
        least_px = len(order) * self._panel_px[PanelSize.TOP_ACTION]
        if self.room3d is not None:  # (the clock: not the stream's time, which a looped replay starts again)
            spare = self._room3d_spare() if least_px > room else 0  # (the splitter asked only when short)
            shown = self.room3d.isVisible()
            show = self._room3d_gives_way.step(least_px, room, spare, shown, time.monotonic())
            if show is not None:
                self.room3d.setVisible(show)
            if show is False:
                log.info("3D room panel hidden while %d people's actions need its height (back once they "
                         "fit beside it for %.0f s; key 3 shows it)", len(order), ROOM3D_BACK_AFTER_S)
        if (short_px := least_px - room) > 0:
            self._room_from_3d(short_px)  # the panels have it from the next frame
        elif size is PanelSize.TOP_ACTION and order and not self._dragged and (
                compact_px := len(order) * self._panel_px[PanelSize.COMPACT] - room + LEND_SPARE_PX
        ) <= self._room3d_spare():
            # Where the 3D panel can give what the attention bars and the next actions need (150% scaling,
            # a small screen), it does: the model's actions and where it looked come before the 3D view.
            self._room_from_3d(compact_px)
        elif (slack := room - len(order) * self._panel_px[size] - LEND_SPARE_PX) > 0 and self._lent_px:
            # Fewer people: the 3D view has its height back (after a drag, only what was lent since: a split
            # chosen by hand gives height only for everyone's top action, and has it back).
            self._room_from_3d(-min(slack, self._lent_px))
        alerted = self._alerted_people()  # their panels say ALERT until someone acknowledges it
        self._give_colours([body.tracking_id for body in order], alerted)
        labels = []
        for i, panel in enumerate(self.panels):
            if i >= len(order):
                panel.hide()
                continue
            body = order[i]
            number = self.person_number(body.tracking_id)
            label, color = f"person {number}", self._colour_of(body.tracking_id)
            decision, age = self._decision_now(body.tracking_id, now)
            draw_person(image, body.joints_color, self._bones, self._boxes_now(body), decision, color,
                        self._scale)
            alarming = self._alarming(decision)
            waiting_alert = body.tracking_id in alerted
            labels.append((body.joints_color, decision, label, alarming, color))
            panel.set_color(color, alarming or waiting_alert)
            if panel.panel_size is not size:
                panel.set_size(size)
            panel.show()
            if decision is not None:
                panel.show_decision(label, decision, alarming=alarming, alerted=waiting_alert)
            elif age is not None:
                # In the title: the line under it shows only at full size, and a panel with just its title
                # reads as somebody who came in a moment ago.
                panel.show_waiting(f"{label}: no decision for {age:.0f} s", body.tracking_id,
                                   "no decision lately: the log says why", alerted=waiting_alert)
            else:
                panel.show_waiting(label, body.tracking_id, alerted=waiting_alert)
        labels_drawn: list[tuple[int, int, int, int]] = []
        text_scale = self.action_label_scale()
        for pixels, decision, label, alarming, color in labels:  # after every skeleton: no bone crosses words
            draw_label(image, pixels, decision, label, self._scale, labels_drawn, text_scale, alarming, color)
        self.nobody.setVisible(not order)

    def _decision_now(self, tracking_id: int, now: float) -> tuple[Decision | None, float | None]:
        """The person's latest decision unless it is stale (STALE_DECISION_S) at the picture's stream
        time `now`, and its age (None: never decided)."""
        decision = self._decisions.get(tracking_id)
        if decision is None:
            return None, None
        age = abs(now - decision.stream_time)  # abs: a replay that looped starts its stream time again
        return (decision if age <= self._stale_after_s else None), age

    def label_scale(self) -> float:
        """How much larger than at full size to write the people's labels: the video shown smaller than
        it is drawn (a small window) would shrink them past reading. Image pixels per screen pixel, 1-3."""
        return min(3.0, max(1.0, float(self.view.viewPixelSize()[0])))

    def action_label_scale(self) -> float:
        """The `text_scale` of the action written over each person: capitals ACTION_LABEL_HEIGHT of the
        video's height, and never smaller on screen than `label_scale` keeps the other words."""
        capitals_px = 0.5 * 21  # FONT_HERSHEY_SIMPLEX's are 21 px at scale 1; draw_label writes at 0.5
        return max(self.label_scale(), ACTION_LABEL_HEIGHT * self._display_shape[0] / capitals_px)

    # ---- the 3D room (live/room3d.py) ------------------------------------------------------

    def _with_room3d(self, people: QtWidgets.QWidget, layout: SkeletonLayout) -> QtWidgets.QWidget:
        """The right column: the 3D room panel above the person panels, where OpenGL allows it."""
        self.room3d: room3d.Room3DPanel | None = None
        self._right_column: QtWidgets.QSplitter | None = None  # the 3D panel over the people's
        self._lent_px = 0  # height the 3D panel gave the people's panels, given back once they need less
        self._dragged = False  # the column's split chosen by hand: lent from only for everyone's top action
        self._room3d_gives_way = Room3DGivesWay()
        if (why_not := room3d.unavailable_reason()) is not None:
            log.info("no 3D room panel: %s", why_not)
            return people
        self.room3d = room3d.Room3DPanel(layout, self.config.max_people)
        column = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        column.addWidget(self.room3d)
        column.addWidget(people)
        column.setSizes([320, 440])
        column.splitterMoved.connect(self._split_by_hand)  # a user's drag only, not setSizes
        self._right_column = column
        # Hidden only once it has a parent: shown or hidden before, it would be a window of its own, and
        # its OpenGL context (with pyqtgraph's shaders) would not survive the move into this one.
        self.room3d.setVisible(self.config.show_3d)
        return column

    def _split_by_hand(self, *_: object) -> None:
        self._dragged, self._lent_px = True, 0

    def _room3d_spare(self) -> int:
        """How much height the 3D panel can give the people's panels, down to ROOM3D_MIN_PX (0: none)."""
        column = self._right_column
        if column is None or self.room3d is None or not self.room3d.isVisible():
            return 0
        return max(0, column.sizes()[0] - ROOM3D_MIN_PX)

    def _room_from_3d(self, wanted_px: int) -> None:
        """Give the people's panels `wanted_px` more height from the 3D panel above them, as far as
        ROOM3D_MIN_PX allows; a negative `wanted_px` gives height lent before back."""
        if self._right_column is None or self.room3d is None or not self.room3d.isVisible():
            return
        given = min(wanted_px, self._room3d_spare())
        if given != 0:
            room3d_px, people_px = self._right_column.sizes()
            self._right_column.setSizes([room3d_px - given, people_px + given])
            self._lent_px = max(0, self._lent_px + room3d_px - self._right_column.sizes()[0])  # as applied

    def screenshot(self) -> QtGui.QPixmap:
        """The window as shown. QWidget.grab renders the 3D view without what pyqtgraph paints over it with
        a QPainter (the people's labels), so the view's own framebuffer is painted over its place."""
        shot = self.grab()
        if self.room3d is not None and self.room3d.isVisible():
            view = self.room3d.view
            painter = QtGui.QPainter(shot)
            painter.drawImage(view.mapTo(self, QtCore.QPoint(0, 0)), view.grabFramebuffer())
            painter.end()
        return shot

    def _show_room3d(self, bodies: list, now: float) -> None:
        # Hidden: not even the floor fit runs. It reads only the bodies and decisions drawn anyway.
        if self.room3d is not None and self.room3d.isVisible():
            shown = bodies[: self.config.max_people]
            decisions = {b.tracking_id: d for b in shown if (d := self._decision_now(b.tracking_id, now)[0])}
            self.room3d.show_people(shown, decisions, self._colour_of)

    def _give_colours(self, in_view: list[int], alerted: set[int] | None = None) -> None:
        """Colours (skeleton, label, panel, 3D figure) for the people of the frame drawn, none shared among
        them. From their numbers, which rise all day, persons 2 and 8 were one colour side by side. Kept
        while tracked; one that somebody in view shares (six were tracked when they came) moves to a
        colour nobody in view has, one held by somebody out of view last. Those an alert still up names
        hold theirs too, tracked or not: a newcomer in the colour of "person 1 (not in view now)", who
        fell, would be the one looked at."""
        alerted = self._alerted_people() if alerted is None else alerted  # _draw_people's, once a tick
        live = set(self.pipeline.tracks.ids()) if self.pipeline.tracks is not None else set()
        kept = live | alerted | set(in_view)
        self._colours = {k: v for k, v in self._colours.items() if k in kept}
        out_of_view = {v for k, v in self._colours.items() if k not in in_view}
        named = {v for k, v in self._colours.items() if k not in in_view and k in alerted}
        used: set[int] = set()
        # Whoever was in view the frame before keeps their colour; one back after a moment away is recoloured.
        before, self._in_view_before = self._in_view_before, set(in_view)
        for tracking_id in sorted(in_view, key=lambda k: (k not in self._colours, k not in before,
                                                          self.person_number(k))):
            colour = self._colours.get(tracking_id)
            if colour is None or colour in used:
                free = [i for i in range(len(PALETTE)) if i not in used]  # none: more in view than colours
                colour = min(free, key=lambda i: (i in named, i in out_of_view)) if free else colour or 0
                self._colours[tracking_id] = colour
            used.add(colour)

    def _alerted_people(self) -> set[int]:
        """The tracking ids the alerts up in the bar (not yet acknowledged) are about."""
        return {person for alert, _ in self._unacknowledged for person in alert.people}

    def _colour_of(self, tracking_id: int) -> tuple[int, int, int]:
        return PALETTE[self._colours.get(tracking_id, (self.person_number(tracking_id) - 1) % len(PALETTE))]

    def toggle_room3d(self) -> None:
        if self.room3d is not None:
            self.room3d.setVisible(not self.room3d.isVisible())
            self._room3d_gives_way.toggled(self.room3d.isVisible())

    def _boxes_now(self, body) -> np.ndarray | None:
        """The part boxes on the frame shown (the decision's own boxes are a hop or more old)."""
        inputs, camera = self.pipeline.inputs, self.pipeline.camera
        if camera is None or not inputs.parts:
            return None
        boxes = part_boxes(body.joints[None], body.states[None], camera, KINECT_V2, inputs.glimpse,
                           joints_color=body.joints_color[None])[:, 0]
        return boxes[[PARTS.index(p) for p in inputs.parts]]

    def _draw_newest(self) -> None:
        latest = self.pipeline.latest_image(self._step)
        if latest is not None and latest[0].sequence != self._last_sequence and not self.pipeline.paused:
            self._last_sequence = latest[0].sequence
            self._shown = latest
            self._draw_frame(*latest)
            self._frames_drawn += 1
        elif self._shown is not None and (self.pipeline.recording != self._recording_drawn
                                          or self._people_area.viewport().height() != self._panels_fit_px):
            # A recording started or stopped, or the window was resized, while the picture stands still
            # (paused, or a sensor that sends nothing): the same frame again, so that REC on it says what
            # is happening now and the people's panels fit their column (they sat behind a scrollbar).
            self._draw_frame(*self._shown)

    def _update_status(self) -> None:
        stats = self.pipeline.stats()
        # The room paged once it has gone unwatched (the banner says why); a replay that ran out is no outage.
        if self.alerts is not None and not (self.pipeline.ended and self.pipeline.failure is None):
            watch = functools.partial(self.alerts.watch_room, stats.problems(), already_s=stats.unwatched_s)
            self._guarding_alerts(watch)

        def ms(value: float | None) -> str:
            return "  -  " if value is None else f"{value * 1000:4.0f} ms"

        parts = []
        if stats.recording:
            dropped = stats.recording_dropped
            holes = f" (LEFT OUT {dropped} FRAMES: slow disk)" if dropped else ""
            part = f" (part {stats.recording_part})" if stats.recording_part > 1 else ""
            parts.append(f"REC {stats.recording}{part}{holes}")
            self._recording_stopped = None
        elif self._recording_stopped is not None:  # for whoever comes back to the screen later
            parts.append(f"RECORDING STOPPED: {self._recording_stopped}")
        elif stats.record_not_begun is not None:  # --record into a folder that does not answer
            parts.append(f"RECORDING NOT BEGUN: {stats.record_not_begun[0]} silent "
                         f"{stats.record_not_begun[1]:.0f} s")
        if stats.saving:
            parts.append(f"saving {', '.join(stats.saving)}")
        parts.append(f"privacy {stats.privacy.value}")  # off too: a sharp room says so, not nothing
        if stats.paused:
            parts.append("PAUSED (no alerts)")
        if self.alerts is not None:  # here too: a stronger banner may hide the one that says it
            parts += delivery_status(self.alerts)
        if self._notice is not None:
            if time.monotonic() < self._notice[1]:
                parts.append(self._notice[0])  # kept for notice_s, not overwritten by the next tick
            else:
                self._notice = None
        if not stats.paused and self.alerts is not None and self.alerts.classes:
            # What the room is watched for: with no alert bar up, "watching for falls" looked the same as
            # "alerts off" (no alert class has a banner of its own). After what fails: the line is cut
            # at its end.
            names = ", ".join(sorted(class_title(c) for c in self.alerts.classes))
            count = len(self.alerts.classes)
            parts.append(f"alerts: {names}" if len(names) <= 30 or count == 1 else f"alerts: {count} classes")
        elif self.alerts is not None and not self.alerts.classes:
            parts.append("NO ALERTS")  # here too: a stronger banner (missing frames, a pause) hides the one
        people = stats.people_text()
        rates = [f"{stats.capture_fps:4.1f} fps", f"latency p50 {ms(stats.latency_p50_s)} p95 "
                 f"{ms(stats.latency_p95_s)}", f"dropped {stats.dropped}"]
        # The bar is one line; the tooltip has all of it. The source's name cut in its middle (a site's long
        # clip name cut the latency off), and the engine last, without its per-people plan.
        text = "  |  ".join([*parts, people, shortened(stats.source, SOURCE_CHARACTERS), *rates,
                             f"engine {stats.engine.split(' (')[0]}"])
        if text != self.status.text():
            self.status.setText(text)
            whole = [*parts, people, stats.source, *rates, f"engine {stats.engine}"]
            self.status.setToolTip("  |  ".join(whole))
        banner, ink = "", "#fff"
        if (failure := self.pipeline.failure) is not None:  # not "end of replay": the video may still run
            banner, ink = (f"{failure} - nothing is recognised, no alerts can be raised; restart the app "
                           "(the log says why)"), ALARM_TEXT
        elif not stats.connected and not self.pipeline.ended:
            banner, ink = "sensor disconnected - waiting for it to return", ALARM_TEXT
        elif stats.stalled_s is not None:
            banner, ink = (f"no new picture from the sensor for {stats.stalled_s:.0f} s - what is shown is "
                           "not live, nothing is recognised"), ALARM_TEXT
        elif stats.recognition_stuck_s is not None:
            banner, ink = (f"recognition stuck for {stats.recognition_stuck_s:.0f} s - the actions shown are "
                           "from before, no alerts can be raised"), ALARM_TEXT
        elif self._alerting_fails is not None:
            banner, ink = (f"alerts cannot be raised ({self._alerting_fails}) - nobody is called; restart "
                           "the app (the log says why)"), ALARM_TEXT
        elif self._drawing_fails is not None:
            banner, ink = (f"the picture cannot be drawn ({self._drawing_fails}) - what is shown is not "
                           "live; recognition and alerts go on"), ALARM_TEXT
        elif stats.undecided_s is not None:  # people in view and no action for anyone: not a quiet room
            banner, ink = (f"no decision for anyone for {stats.undecided_s:.0f} s - no alerts can be raised "
                           "(the log says why)"), ALARM_TEXT
        elif (undelivered := self._undelivered()) is not None:
            banner, ink = f"{undelivered} - alerts show only in this window", ALARM_TEXT
        elif stats.missing_frames is not None and stats.late_decisions_s is not None:
            # Both at once on a computer far behind: the lateness is what the alerts wait for, said too.
            banner, ink = (f"decisions {stats.late_decisions_s:.1f} s late, {stats.missing_frames:.0%} of "
                           "the sensor's frames missing - this computer is not keeping up; alerts come that "
                           "much later"), "#ffb000"
        elif stats.missing_frames is not None:
            banner, ink = (f"missing {stats.missing_frames:.0%} of the sensor's frames - this computer is "
                           "not keeping up; recognition sees less of each movement"), "#ffb000"
        elif self.pipeline.ended:
            banner = "end of replay"
        elif stats.late_decisions_s is not None:
            banner, ink = (f"decisions {stats.late_decisions_s:.1f} s late - this computer is not keeping up "
                           "with recognition; alerts come that much later"), "#ffb000"
        elif stats.paused:
            banner, ink = "PAUSED - no recognition, no alerts (space resumes)", "#ffb000"
            if (left := self._pause_left_s()) is not None:
                minutes, seconds = divmod(max(0, round(left)), 60)
                banner = banner[:-1] + f"; by itself in {minutes}:{seconds:02d})"
        elif self.alerts is not None and not self.alerts.classes:
            # A room that looks watched but is not: the model knows none of the alert classes (a real source's
            # default model has no fall class). Said for as long as it lasts, not once in a log.
            banner, ink = "NO ALERTS - the model knows none of the alert classes (--alert-class)", "#ffb000"
        if banner != self.banner.text():
            self.banner.setText(banner)
            self.banner.setStyleSheet(f"background: #000; color: {ink}; font-size: 20px; font-weight: bold; "
                                      "padding: 4px")
            self.banner.setVisible(bool(banner))
        self.pause_button.setText("Resume [space]" if stats.paused else "Pause [space]")
        starting = self._record_starter is not None and self._record_starter.is_alive()
        self.record_button.setText("Stop recording [r]" if stats.recording
                                   else "Starting... [r]" if starting else "Record [r]")
        self._update_marking()

    def _update_marking(self) -> None:
        label, opened, marked = self.pipeline.marking
        if self.pipeline.recording:
            text = f"recording {label or 'unlabelled'}"
            if opened is not None:
                text += f"  ·  {opened[1]} being marked for {opened[0]:.1f} s (e ends it)"
            if marked:
                text += f"  ·  {marked} action{'s' if marked != 1 else ''} marked"
            elif label and opened is None:
                text += "  ·  the whole clip, unless s / e mark where the action is"
        else:
            chosen = self.chosen_class()
            text = f"r records {chosen}" if chosen else "r records an unlabelled clip"
        recording = self.pipeline.recording is not None
        if self._marking_buttons[0].isEnabled() is not recording:  # this runs every tick
            for button in self._marking_buttons:
                button.setEnabled(recording)
                button.setToolTip("" if recording else "marks an action in a recording: r starts one")
        if self._marking_note:
            text += f"  ·  {self._marking_note}"
        self.marking.setText(text)

    def _undelivered(self) -> str | None:
        """Where alerts are not reaching staff now (the endpoint refusing or down, the alert command
        failing), in words; None: they are, or nothing sends them on."""
        if self.alerts is None:
            return None
        said = []
        delivery = self.alerts.delivery
        if delivery is not None and delivery.failing:
            said.append(f"alerts not delivered to {delivery.config.shown_url} ({delivery.pending} waiting)")
        if self.alerts.command_failing:
            said.append("the alert command failed on its last run")
        return "; ".join(said) or None

    def _alarming(self, decision: Decision | None) -> bool:
        """Whether a decision's top action is one that raises alerts, at the alert threshold."""
        return decision is not None and self.alerts is not None and self.alerts.alarming(decision)

    def _alert_text(self, alert: Alert, came: float, earlier: int = 0, gone: bool = False) -> str:
        """`came`: the monotonic time the alert came, for how long ago it was."""
        return "".join(self._alert_parts(alert, came, earlier, gone))

    def _alert_parts(self, alert: Alert, came: float, earlier: int = 0, gone: bool = False,
                     ) -> tuple[str, str, str]:
        """The alert's line as (before its class, the class, after it): AlertLine shortens the class."""
        # Without the probability: an alert is raised as the class crosses the threshold, so it would
        # read about the threshold for as long as the bar stays up; the person's panel has it as it is now.
        # What matters most first: the bar cuts what does not fit (a narrow window, large fonts), and a count
        # of earlier alerts cut off would have one press acknowledge alerts nobody saw. The bar stays until
        # acknowledged: a fall of yesterday at 01:40 read as one of an hour ago; its day is said, and its age.
        when = clock_time(alert.time)
        minutes = int(time.monotonic() - came) // 60
        ago = "" if minutes < 1 else f" ({minutes} min ago)" if minutes < 60 else (
            f" ({minutes // 60} h {minutes % 60} min ago)")
        where = f"{alert.room}: " if alert.room else ""
        return (f"ALERT{f' (+{earlier} more)' if earlier else ''}  {where}{alert.who()}"
                f"{' (not in view now)' if gone else ''}: ", class_title(alert.action), f" at {when}{ago}")

    def _update_alert_bar(self) -> None:
        if not self._unacknowledged_count:
            self.alert_bar.hide()
            return
        latest, came = self._unacknowledged[-1]
        # Still up when the person has left the sensor's view (out of the room, or on the floor behind the
        # bed): the bar says so, since the picture no longer shows whom it is about.
        gone = self.pipeline.tracks is not None and not set(latest.people) & set(self.pipeline.tracks.ids())
        self.alert_bar.show()  # first: laid out, the line is fitted to its width, not a hidden one's
        earlier = [f"{alert.who()}: {class_title(alert.action)} at {clock_time(alert.time)}"
                   for alert, _ in reversed(list(self._unacknowledged)[:-1])]  # newest first
        self.earlier_alerts.setText("and before: " + "; ".join(earlier) if earlier else "")
        self.earlier_alerts.setVisible(bool(earlier))
        if self.alert_text.show_alert(*self._alert_parts(latest, came, self._unacknowledged_count - 1, gone)):
            self.alert_text.setToolTip("\n".join(self._alert_text(*shown) for shown in self._unacknowledged))
            # Read out by a screen reader as it changes, not only when someone moves to it.
            QtGui.QAccessible.updateAccessibility(QtGui.QAccessibleEvent(self.alert_text,
                                                                         QtGui.QAccessible.Event.Alert))

    def _sound_alerts(self) -> None:
        """Beep at a new alert, and every `alert_beep_s` (0: never) while any is unacknowledged; flash the
        window's taskbar entry until it is looked at. The bar is seen only by whoever looks at this window."""
        if not self._unacknowledged_count:
            return
        now, every = time.monotonic(), self.config.alert_beep_s
        if self._beeped_at is None:  # a new alert: the taskbar entry flashes until the window is looked at
            QtWidgets.QApplication.alert(self, 0)
        if self._beeped_at is None or now - self._beeped_at >= every:
            if every > 0:
                QtWidgets.QApplication.beep()
            self._beeped_at = now

    # ---- controls -------------------------------------------------------------------------

    def acknowledge_alerts(self) -> None:
        """Key a, or the bar's button: the alerts shown have been seen; the bar goes until the next."""
        if self._unacknowledged_count:
            log.info("%d alert(s) acknowledged in the window", self._unacknowledged_count)
            self._unacknowledged.clear()
            self._unacknowledged_count = 0
            self._beeped_at = None
        if self.alerts is not None:  # a second fall is an alert of its own, not the first's episode
            self.alerts.acknowledge()
        self._update_alert_bar()

    def toggle_pause(self) -> None:
        self.pipeline.set_paused(not self.pipeline.paused)
        self._paused_at = time.monotonic() if self.pipeline.paused else None

    def _pause_left_s(self) -> float | None:
        """Seconds until the pause ends by itself; None when not paused by the window or without a limit."""
        if self._paused_at is None or not 0 < self.config.pause_limit_s < math.inf:  # 0 or inf: no limit
            return None
        return self.config.pause_limit_s - (time.monotonic() - self._paused_at)

    def _end_a_forgotten_pause(self) -> None:
        if not self.pipeline.paused:  # resumed by other means: the next pause starts its own count
            self._paused_at = None
        left = self._pause_left_s()
        if left is not None and left <= 0 and self.pipeline.paused:
            self.pipeline.set_paused(False)
            self._paused_at = None
            self.show_notice(f"resumed by itself after {self.config.pause_limit_s / 60:g} min paused "
                             "(--pause-limit)")

    def show_notice(self, text: str) -> None:
        """A message in the status line that stays for `notice_s` seconds."""
        self._notice = (text, time.monotonic() + self.config.notice_s)
        self._update_status()

    def chosen_class(self) -> str | None:
        index = self.class_box.currentIndex()
        return self.classes[index - 1] if index > 0 else None

    def choose_class(self, number: int) -> None:
        """Key F1-F9: that class (as the box lists them)."""
        if number <= len(self.classes):
            self.class_box.setCurrentIndex(number)
            self._marking_note = ""
        elif not self.classes:
            self._marking_note = NO_CLASSES_YET
        else:
            self._marking_note = f"no class {number}: the label map has {len(self.classes)}"
        self._update_marking()

    def step_class(self, step: int) -> None:
        """PgDn / PgUp: the next / previous class, round the list: a label map of more than nine classes
        had its tenth and later ones for the mouse only (the box takes no keys)."""
        if not self.classes:
            self._marking_note = NO_CLASSES_YET
            self._update_marking()
            return
        now = self.class_box.currentIndex()  # 0: no class yet
        start = now - 1 if now > 0 else (-1 if step > 0 else 0)
        self.choose_class((start + step) % len(self.classes) + 1)

    def start_action(self) -> None:
        chosen = self.chosen_class()
        if not self.pipeline.recording:
            self._marking_note = "not recording: r starts a recording"
        elif chosen is None:
            self._marking_note = "choose the action's class first (F1-F9)" if self.classes else NO_CLASSES_YET
        elif self._action_starter is not None and self._action_starter.is_alive():
            self._marking_note = "the last action's start is still being marked (a slow disk?)"
        else:
            # On a thread of its own: it reads labels.txt and may add the class, on a disk that may be slow
            # or a share that may hang. The mark's time is taken as the thread starts, not when it is done.
            _, opened, _ = self.pipeline.marking
            self._action_starter = threading.Thread(target=self._start_action, args=(chosen, opened),
                                                    name="action-start", daemon=True)
            self._action_starter.start()
            return
        self._update_marking()

    def _start_action(self, label: str, opened: tuple[float, str] | None) -> None:
        """The action-start thread: nothing here touches a widget. `opened`: the action being marked when
        s was pressed, which ends there (the same class too: s twice marks two performances)."""
        try:
            note = f"{label} starts {self.pipeline.start_action(label):.1f} s into the clip"
            if opened is not None:
                note += f", the {opened[1]} marked before ends there"
        except (RuntimeError, ValueError, OSError) as error:  # a bad labels.txt, a full disk
            note = f"cannot mark: {error}"
        try:
            self._action_marked.emit(note)
        except RuntimeError:  # the window was deleted meanwhile
            pass

    def _say_marked(self, note: str) -> None:
        self._marking_note = note
        self._update_marking()

    def end_action(self) -> None:
        if self._action_starter is not None and self._action_starter.is_alive():
            self._marking_note = "the action's start is still being marked (a slow disk?): e once it shows"
            self._update_marking()
            return
        try:
            length = self.pipeline.end_action()
            self._marking_note = ("no action being marked (s starts one)" if length is None
                                  else "no time passed since s (paused?): nothing marked" if length == 0
                                  else f"action marked ({length:.1f} s)")
        except RuntimeError as error:  # the recording stopped itself (a full disk) a moment before
            self._marking_note = f"cannot mark: {error}"
        self._update_marking()

    def toggle_recording(self) -> None:
        if self.pipeline.recording:
            # Finalised on the recorder's own thread: a slow or hung disk never freezes the window.
            self.pipeline.stop_recording(wait=False)
            self._marking_note = ""  # an action still marked ends with it: "starts 7.2 s in" would be stale
        elif self._record_starter is None or not self._record_starter.is_alive():
            self._marking_note = ""  # the last recording's marks are its own
            # Started on a thread of its own too: it makes folders and files and may add the class to
            # labels.txt, on a disk that may be slow or a share that may hang.
            self._record_starter = threading.Thread(
                target=self._start_recording, args=(self.chosen_class(),), name="recording-start", daemon=True
            )
            self._record_starter.start()
        else:  # r again while the start still makes its files: it would not be cancelled, so say so
            self.show_notice("the recording is still starting (a slow disk?): r stops it once it runs")

    def _start_recording(self, label: str | None) -> None:
        """The recording-start thread: nothing here touches a widget."""
        try:
            self.pipeline.start_recording(self.config.record_dir, label=label, chosen=True)
        except Exception as error:  # low disk space, unwritable folder: say so, keep running
            log.error("cannot record: %s", error, exc_info=not isinstance(error, RECORDING_ERRORS))
            try:
                self._recording_refused.emit(str(error))
            except RuntimeError:  # the window was deleted meanwhile
                pass

    def _cannot_record(self, why: str) -> None:
        self.show_notice(f"cannot record: {why}")

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        key = event.key()
        modifiers = QtCore.Qt.KeyboardModifier
        # A key held down repeats: r held a second made 17 clips, space flipped the pause to and fro. And a
        # key with Ctrl or Alt is somebody else's shortcut (Ctrl+S out of habit marked an action's start).
        if event.isAutoRepeat() or event.modifiers() & (modifiers.ControlModifier | modifiers.AltModifier
                                                        | modifiers.MetaModifier):
            super().keyPressEvent(event)
            return
        if key == QtCore.Qt.Key.Key_Space:
            self.toggle_pause()
        elif key == QtCore.Qt.Key.Key_R:
            self.toggle_recording()
        elif key == QtCore.Qt.Key.Key_3:
            self.toggle_room3d()
        elif key == QtCore.Qt.Key.Key_A:
            self.acknowledge_alerts()
        elif QtCore.Qt.Key.Key_F1 <= key <= QtCore.Qt.Key.Key_F9:
            self.choose_class(key - QtCore.Qt.Key.Key_F1 + 1)
        elif key in (QtCore.Qt.Key.Key_PageDown, QtCore.Qt.Key.Key_PageUp):
            self.step_class(1 if key == QtCore.Qt.Key.Key_PageDown else -1)
        elif key == QtCore.Qt.Key.Key_S:
            self.start_action()
        elif key == QtCore.Qt.Key.Key_E:
            self.end_action()
        elif key == QtCore.Qt.Key.Key_Q:  # not Escape: pressed by reflex to close a menu, it ended the watch
            self.request_quit()
        else:
            super().keyPressEvent(event)

    def request_quit(self) -> None:
        """q or the Quit button: close, at once unless that ends something unseen (alerts nobody has
        acknowledged, a recording); then a second press within QUIT_AGAIN_S closes, and the first says
        what it would end."""
        at_stake = []
        if self._unacknowledged_count:
            count = self._unacknowledged_count
            at_stake.append(f"{count} alert{'s' * (count != 1)} not acknowledged")
        if self.pipeline.recording is not None:
            at_stake.append(f"recording {self.pipeline.recording} ends")
        now = time.monotonic()
        if at_stake and (self._quit_asked_at is None or now - self._quit_asked_at > QUIT_AGAIN_S):
            self._quit_asked_at = now
            self.show_notice(f"q again to quit: {' and '.join(at_stake)}, and nothing is watched")
            return
        self.close()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._stop_finished:  # stopped: close for real
            event.accept()
            return
        # pipeline.stop() joins threads and may wait for a recording to be finalised: never on this
        # thread. Hide now, stop on a thread of its own, close when it is done (_finish_close).
        event.ignore()
        self.timer.stop()
        self.screen_fit.stop()
        self.hide()
        if self._stopper is None:
            self._stopper = threading.Thread(target=self._stop_pipeline, name="pipeline-stop", daemon=True)
            self._stopper.start()

    def _stop_pipeline(self) -> None:
        """The stopping thread: nothing here touches a widget."""
        summary = None
        try:
            summary = self.pipeline.stop()  # joins the threads and finalises any recording
        except Exception:  # the window still closes; run_window stops again and reports the error
            log.exception("stopping the pipeline failed")
        try:
            self._pipeline_stopped.emit(summary)
        except RuntimeError:  # the window was deleted meanwhile: nobody is waiting for it
            pass

    def dispose(self) -> None:
        """Delete the window's Qt objects now, on the GUI thread, once it has closed. Left to Python's
        garbage collector, the window would be destroyed by whichever thread dropped the last reference
        (the stopping thread holds one until it ends) or ran a collection: Qt crashes when a widget is
        destroyed off the GUI thread."""
        if self._stopper is not None:
            self._stopper.join(timeout=5.0)  # it has handed over the summary; it only has to return
        shiboken6.delete(self)

    def _finish_close(self, summary: Summary | None) -> None:
        if summary is not None and self._draw_failure is not None:  # exit 1: the window did not work
            failed = f"the picture could not be drawn ({self._draw_failure}; {self._draw_failures} times)"
            summary = replace(summary, errors=(*summary.errors, failed))
        if summary is not None and self._alert_failure is not None:
            summary = replace(summary, errors=(*summary.errors, f"alerts could not be raised "
                                                                f"({self._alert_failure})"))
        self.summary = summary
        self._stop_finished = True
        if self.alerts is not None and summary is not None:
            for hop in self.pipeline.drain():  # the last hop, made while stopping
                self.alerts.update(hop)
        self.close()
        self.stopped.emit()
