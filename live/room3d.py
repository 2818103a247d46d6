"""The live window's 3D panel: the people in room coordinates, the part each person's model attends to
(marked, sized and labelled with its attention weight), the floor and the sensor's field of view.

    LiveWindow.refresh (GUI thread, 30 fps): the bodies of the frame it shows + the latest Decisions
        --> RoomModel.observe --> core.room.FloorTracker: tracked feet into a bounded sample; every
            `refit_frames` frames core.room.fit_floor (levelled to the bodies' up, core.room.body_up)
            -> RoomFrame (z is up from the start; once the floor is known the scene sits on it, the
            sensor at its height)
        --> RoomModel.people: per person bones (room coordinates), attended part, its weight
        --> Room3DPanel: pyqtgraph OpenGL items (lines, one marker, one label per person; a label
            raised over the bodies keeps a thin line to its part)

It reads only what the overlay already holds -- no access to the capture ring, the tracks or the
worker -- and does nothing while hidden (key 3, or `python -m live --no-3d` to start hidden), so the
capture and recognition threads never see it. The floor fit (a few hundred feet, once a second) and
the item updates take about a millisecond of the GUI thread; OpenGL draws the rest.

pyqtgraph's OpenGL view needs PyOpenGL (the viz3d extra) and a Qt platform that draws OpenGL widgets:
not `offscreen` (tests, `--screenshot` without a display), where the window opens without the panel
and says why in the log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from core.camera import DEPTH_CAMERA  # noqa: E402
from core.engines import MAX_PEOPLE  # noqa: E402
from core.frame import Body  # noqa: E402
from core.glimpse import PART_NAMES, PART_SHORT_NAMES  # noqa: E402
from core.package_files import pip_install  # noqa: E402
from core.room import (  # noqa: E402
    FloorTracker,
    RoomFrame,
    SensorMounting,
    ViewCamera,
    bone_segments,
    field_of_view_scenery,
    part_centre,
)
from core.skeleton import SkeletonLayout  # noqa: E402
from live.worker import Decision  # noqa: E402

log = logging.getLogger(__name__)

FLOOR_RGBA = (0.35, 0.37, 0.42, 1.0)
FIELD_OF_VIEW_RGBA = (0.8, 0.8, 0.8, 1.0)
BACKGROUND = (14, 16, 30)  # dark blue: told apart from the window's grey in screenshots
_BOTTOM = QtCore.Qt.AlignmentFlag.AlignBottom
LABEL_ALIGNMENT = {"left": QtCore.Qt.AlignmentFlag.AlignLeft | _BOTTOM,
                   "right": QtCore.Qt.AlignmentFlag.AlignRight | _BOTTOM}


def unavailable_reason() -> str | None:
    """Why the 3D panel cannot be drawn in this process (call after the QApplication exists), or None."""
    try:
        import OpenGL.GL  # noqa: F401  (pyqtgraph.opengl draws through PyOpenGL)
        import pyqtgraph.opengl  # noqa: F401
    except ImportError as error:
        return f"the 3D panel needs PyOpenGL: {pip_install('viz3d')} ({error})"
    platform = QtGui.QGuiApplication.platformName()
    if platform in ("offscreen", "minimal"):
        return f"Qt platform {platform!r} draws no OpenGL widgets"
    context = QtGui.QOpenGLContext()
    if not context.create():
        return f"no OpenGL context on Qt platform {platform!r}"
    return None


# ---- what to draw (no Qt, no OpenGL) --------------------------------------------------------------


@dataclass(frozen=True)
class PersonView:
    """One person in room coordinates, as the panel draws them."""

    tracking_id: int
    colour: tuple[int, int, int]  # RGB 0-255, the overlay's colour for this person
    bones: np.ndarray  # float32 (B, 2, 3)
    part: str | None  # the part with the highest attention weight (None before the first decision)
    weight: float  # its attention weight, 0-1
    marker: np.ndarray | None  # float32 (3,) where that part is, None if none of its joints is present
    number: int = 0  # the person's number, as the window calls them (0: not known)
    top: np.ndarray | None = None  # float32 (3,) their highest bone point: a label's place with no marker

    @property
    def anchor(self) -> np.ndarray | None:
        """Where their label starts: over the attended part, else over their head."""
        return self.marker if self.marker is not None else self.top

    @property
    def label(self) -> str:
        """'2: looks at right hand 71%': whose marker it is (several people's look alike), and that the part
        and its weight are where the model looks (a bare "left hand 46%" was read as a finding). A model
        that attends to no part (skeleton only, the default on real sources): '2', who it is, as the
        video and the panels say it (the colours alone, mirrored, were hard to match)."""
        if self.part is None:
            return str(self.number) if self.number else ""
        whose = f"{self.number}: " if self.number else ""
        return f"{whose}looks at {PART_NAMES.get(self.part, self.part)} {self.weight * 100:.0f}%"

    @property
    def short_label(self) -> str:
        """'2: at R hand 71%', for a crowd whose labels do not all fit (`fitted_labels`)."""
        if self.part is None:
            return self.label
        whose = f"{self.number}: " if self.number else ""
        return f"{whose}at {PART_SHORT_NAMES.get(self.part, self.part)} {self.weight * 100:.0f}%"

    @property
    def number_label(self) -> str:
        """'2' by its marker, for a crowd whose short labels do not fit either: which marker is whose (the
        part it sits on says where the model looks, the person's panel how much)."""
        return str(self.number) if self.number else self.short_label


LABEL_RAISE_M = 0.05  # a label covering a body or another label goes up in steps of this much
LABEL_MAX_RAISE_M = 3.0
LABEL_MAX_LOWER_M = 0.8  # where no place above is clear of other labels (a crowd): from a hand to a knee
LABEL_OVER_LABEL = 100  # where none is clear: covering a label costs as much as covering this many bodies
# A label raised further than this is tied to its part by a thin line in the person's colour.
LABEL_LEADER_FROM_M = 0.2


@dataclass(frozen=True)
class LabelPlace:
    """Where a label is drawn: `position` (room coordinates) is its bottom-`side` point on screen."""

    position: np.ndarray
    side: str  # "left": the text starts at the point; "right": it ends there
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1) view pixels
    raised_m: float = 0.0  # how far above its anchor (below it, where negative)


def place_labels(anchors: Sequence[np.ndarray], sizes: Sequence[tuple[float, float]],
                 camera: ViewCamera, bodies: Sequence[np.ndarray] = ()) -> list[LabelPlace]:
    """Where each person's label goes, worked out on the panel's pixels (what a reader sees): starting at
    its anchor (just above the attended part), ending there where it would run off the panel's right
    edge, and raised while its box would cover an earlier label's or any person's body. People side by
    side (a hug, a nurse at the bed), or one behind the other as the view is turned, would otherwise
    have their labels printed over each other, or over a body whose pose the reader wants to see. Never
    raised out of the panel (a view zoomed in): where no place above is clear, one below that is (a crowd
    in a small panel), else the one covering least.
    `sizes`: each label's (width, height) in view pixels; `bodies`: the points (..., 3) of every person
    drawn, labelled or not. A raised label keeps its leader line to the part (the panel draws it)."""
    bodies_seen = [box for box in (_screen_box(points, camera) for points in bodies) if box is not None]
    up = np.arange(int(LABEL_MAX_RAISE_M / LABEL_RAISE_M)) * LABEL_RAISE_M
    down = -up[1:round(LABEL_MAX_LOWER_M / LABEL_RAISE_M) + 1]
    raises = np.concatenate([up, down])  # up first at equal cost
    placed: list[LabelPlace] = []
    for anchor, (width, height) in zip(anchors, sizes, strict=True):
        # Every candidate at once: one projection per label, not one per step.
        candidates = np.asarray(anchor, np.float64) + raises[:, None] * np.array([0.0, 0.0, 1.0])
        uv, in_front = camera.project(candidates)
        u, v = uv[:, 0], uv[:, 1]
        # Ends at the point instead where starting there runs further off the panel (its right edge; and a
        # label wider than the space on either side goes where less of it is cut: turned near the left
        # edge of a narrow panel it lost its person's number off that edge).
        cut_starting = np.maximum(0.0, -u) + np.maximum(0.0, u + width - camera.width)
        cut_ending = np.maximum(0.0, width - u) + np.maximum(0.0, u - camera.width)
        turned = cut_ending < cut_starting
        x0 = np.where(turned, u - width, u)
        boxes = np.stack([x0, v - height, x0 + width, v], axis=1)
        if not in_front[0]:
            placed.append(LabelPlace(candidates[0], "left", (np.nan,) * 4))
            continue
        # Words over words cannot be read; words over a body only hide some of it.
        cost = LABEL_OVER_LABEL * _covering(boxes, [p.box for p in placed]) + _covering(boxes, bodies_seen)
        inside = (in_front & (boxes[:, 0] >= 0) & (boxes[:, 1] >= 0) & (boxes[:, 2] <= camera.width)
                  & (boxes[:, 3] <= camera.height))  # raising goes down the panel in a view from above
        inside[0] = True  # where it starts, even if that is cut already
        chosen = int(np.argmin(np.where(inside, cost, np.inf)))  # the lowest of the least covering
        placed.append(LabelPlace(candidates[chosen], "right" if turned[chosen] else "left",
                                 tuple(float(c) for c in boxes[chosen]), float(raises[chosen])))
    return placed


def fitted_labels(people: Sequence[PersonView], size_of: Callable[[str], tuple[float, float]],
                  camera: ViewCamera, bodies: Sequence[np.ndarray] = ()) -> list[tuple[str, LabelPlace]]:
    """Each labelled person's label and its place (`place_labels`): their short labels where the whole
    ones cannot all be placed clear of each other (six people in a panel made small to give their own
    panels room printed "1: looks at full body 67%" over "5: looks at right hand 78%") or whole inside the
    panel (one at the edge of a narrow panel lost its number off it), their numbers where the short ones
    cannot either (a crowd standing close), or one over another's words is the price of none. `people`
    have a label and an anchor."""
    anchors = [p.anchor + np.array([0.0, 0.0, 0.1 + 0.2 * p.weight]) for p in people]  # over marker or head
    fitted: list[tuple[str, LabelPlace]] = []
    tiers = ([p.label for p in people], [p.short_label for p in people], [p.number_label for p in people])
    for texts in tiers:
        places = place_labels(anchors, [size_of(text) for text in texts], camera, bodies)
        fitted = list(zip(texts, places, strict=True))
        boxes = [place.box for place in places if np.isfinite(place.box).all()]
        # Cut although its person is in view (one partly out of view is cut whatever its words): shorter
        # words would fit, for all, as labels go by tiers.
        cut = any((box[0] < 0 or box[2] > camera.width) and 0 <= _anchor_u(place) <= camera.width
                  for place in places if np.isfinite(place.box).all() for box in [place.box])
        if not cut and not any(_covering(np.array([box]), boxes[:i]).any() for i, box in enumerate(boxes)):
            break
    return fitted


def _anchor_u(place: LabelPlace) -> float:
    """Where on the panel, across, a label's point is: its box's start, or its end where it is turned."""
    return place.box[0] if place.side == "left" else place.box[2]


def _covering(boxes: np.ndarray, others: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """How many of `others` each of `boxes` (N, 4) covers, as (N,) ints."""
    if not others:
        return np.zeros(len(boxes), int)
    other = np.asarray(others, np.float64)[None]
    return ((boxes[:, None, 0] < other[..., 2]) & (other[..., 0] < boxes[:, None, 2])
            & (boxes[:, None, 1] < other[..., 3]) & (other[..., 1] < boxes[:, None, 3])).sum(1)


def _screen_box(points: np.ndarray, camera: ViewCamera) -> tuple[float, float, float, float] | None:
    """The pixels (x0, y0, x1, y1) a body's points span on the panel, None where none is in front."""
    uv, in_front = camera.project(np.asarray(points, np.float64).reshape(-1, 3))
    if not in_front.any():
        return None
    (x0, y0), (x1, y1) = uv[in_front].min(0), uv[in_front].max(0)
    return float(x0), float(y0), float(x1), float(y1)


class RoomModel:
    """The room as the live stream shows it: the floor the feet seen so far stand on (core.room.FloorTracker)
    and each person's bones and attended part in room coordinates."""

    def __init__(self, layout: SkeletonLayout) -> None:
        self.layout = layout
        self.floor = FloorTracker(layout)
        self.room = RoomFrame.from_floor(None)

    def observe(self, bodies: Sequence[Body]) -> bool:
        """Take the bodies of one shown frame; True when the room frame changed (the fixed scenery must be
        redrawn)."""
        if not self.floor.observe(bodies):
            return False
        self.room = RoomFrame.from_floor(self.floor.floor)
        return True

    def people(
        self,
        bodies: Sequence[Body],
        decisions: Mapping[int, Decision],
        colour_of: Callable[[int], tuple[int, int, int]],
    ) -> list[PersonView]:
        views = []
        for body in bodies:
            bones = self.room.to_room(bone_segments(body.joints, body.states, self.layout))
            decision = decisions.get(body.tracking_id)
            part, weight, marker = None, 0.0, None
            if decision is not None and len(decision.attention):
                best = int(np.argmax(decision.attention))
                part, weight = decision.parts[best], float(decision.attention[best])
                centre = part_centre(part, body.joints, body.states, self.layout)
                marker = None if centre is None else self.room.to_room(centre)
            colour = colour_of(body.tracking_id)
            number = decision.number if decision is not None else 0
            points = bones.reshape(-1, 3)
            top = points[np.argmax(points[:, 2])] if len(points) else None
            views.append(PersonView(body.tracking_id, colour, bones, part, weight, marker, number, top))
        return views

    def scenery(self) -> tuple[np.ndarray, np.ndarray]:
        """(field-of-view segments, floor grid segments), float32 (S, 2, 3) room coordinates; the field
        of view stops at the floor once one is known, and the grid is empty until then."""
        return field_of_view_scenery(self.room, DEPTH_CAMERA)


# ---- the camera ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Orbit:
    """pyqtgraph's orbit camera (room coordinates, z up): it looks at `centre` from `distance` metres,
    `elevation` degrees above the floor plane, `azimuth` degrees around z from +x; `fov_deg` is its
    horizontal field of view. The default looks from behind and to the right of the sensor."""

    centre: tuple[float, float, float] = (0.0, 2.8, 0.8)
    distance: float = 5.0
    elevation: float = 24.0
    azimuth: float = -65.0
    fov_deg: float = 60.0

    def eye(self) -> np.ndarray:
        elevation, azimuth = np.radians(self.elevation), np.radians(self.azimuth)
        direction = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        return np.asarray(self.centre, np.float64) + self.distance * direction

    def view_camera(self, width: int, height: int) -> ViewCamera:
        """The same camera as a look-at pinhole for a width x height view: where things land in pixels."""
        vertical = 2 * np.degrees(np.arctan(np.tan(np.radians(self.fov_deg) / 2) * height / width))
        # Up on screen is the way the elevation grows: z's own direction looked along at 90 deg (a view
        # dragged straight overhead, as pyqtgraph allows) left no up for a look-at camera.
        elevation, azimuth = np.radians(self.elevation), np.radians(self.azimuth)
        up = (-np.sin(elevation) * np.cos(azimuth), -np.sin(elevation) * np.sin(azimuth), np.cos(elevation))
        return ViewCamera(
            eye=tuple(float(v) for v in self.eye()),
            target=tuple(float(v) for v in self.centre),
            up=tuple(float(v) for v in up),
            width=width,
            height=height,
            fov_deg=float(vertical),
        )


# ---- the widget ---------------------------------------------------------------------------------


class Room3DPanel(QtWidgets.QWidget):
    """pyqtgraph's GLViewWidget with the room's scenery and a pool of per-person items. Only
    `show_people` changes it (GUI thread); the mouse turns the view."""

    def __init__(self, layout: SkeletonLayout, max_people: int = MAX_PEOPLE, orbit: Orbit = Orbit()) -> None:
        import pyqtgraph.opengl as gl  # after unavailable_reason() said it can

        from live.room3d_label import BoxedLabel

        super().__init__()
        self.model = RoomModel(layout)
        self.orbit = orbit
        self.view = gl.GLViewWidget()
        self.view.setBackgroundColor(BACKGROUND)
        self.view.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys stay with the window
        # Low enough to give way to the people's panels on a small screen (the window's ROOM3D_MIN_PX).
        self.view.setMinimumSize(240, 90)
        self.reset_camera()
        self.field_of_view = gl.GLLinePlotItem(mode="lines", color=FIELD_OF_VIEW_RGBA, width=1,
                                               antialias=True)
        self.grid = gl.GLLinePlotItem(mode="lines", color=FLOOR_RGBA, width=1, antialias=True)
        self.view.addItem(self.grid)
        self.view.addItem(self.field_of_view)
        self.bones, self.markers, self.labels, self.leaders = [], [], [], []
        self._label_font = QtGui.QFont("Sans", 11, QtGui.QFont.Weight.Bold)  # 9 pt was unread at a distance
        for _ in range(max_people):
            bones = gl.GLLinePlotItem(mode="lines", width=4, antialias=True)
            marker = gl.GLScatterPlotItem(pxMode=False)
            # Markers are translucent: the hand under them stays visible.
            marker.setGLOptions("translucent")
            label = BoxedLabel(font=self._label_font)
            label.setDepthValue(1)  # drawn after every bone and marker: none crosses the words
            leader = gl.GLLinePlotItem(mode="lines", width=1, antialias=True)
            for item in (bones, marker, label, leader):
                item.setVisible(False)
                self.view.addItem(item)
            self.bones.append(bones)
            self.markers.append(marker)
            self.labels.append(label)
            self.leaders.append(leader)
        self.caption = QtWidgets.QLabel()
        self.caption.setStyleSheet("color: #999; font-size: 11px")
        # Wrapped to the column's width rather than widening it (and squeezing the video), or being cut.
        self.caption.setWordWrap(True)
        policy = QtWidgets.QSizePolicy.Policy
        self.caption.setSizePolicy(policy.Ignored, policy.Preferred)
        column = QtWidgets.QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.view, 1)
        column.addWidget(self.caption)
        self._draw_scenery()

    def reset_camera(self) -> None:
        self.view.setCameraParams(
            center=QtGui.QVector3D(*self.orbit.centre),
            distance=self.orbit.distance,
            elevation=self.orbit.elevation,
            azimuth=self.orbit.azimuth,
            fov=self.orbit.fov_deg,
        )

    def view_camera(self) -> ViewCamera:
        """The view's current camera as a pinhole over its pixels (device pixels)."""
        params = self.view.cameraParams()
        centre = params["center"]
        orbit = Orbit(
            centre=(centre.x(), centre.y(), centre.z()),
            distance=params["distance"],
            elevation=params["elevation"],
            azimuth=params["azimuth"],
            fov_deg=params["fov"],
        )
        return orbit.view_camera(self.view.deviceWidth(), self.view.deviceHeight())

    def _draw_scenery(self) -> None:
        field_of_view, grid = self.model.scenery()
        self.field_of_view.setData(pos=field_of_view.reshape(-1, 3))
        self.grid.setData(pos=grid.reshape(-1, 3) if len(grid) else np.zeros((2, 3), np.float32))
        self.grid.setVisible(len(grid) > 0)
        floor = self.model.room.floor
        where = (
            "floor not found yet: the sensor's own frame"
            if floor is None
            else f"the sensor {SensorMounting.of(floor).text(say_level=False)}"
        )
        # The colour image is mirrored (the Kinect's), this view is not: left and right swap between them.
        self.caption.setText(f"3D room from behind the sensor (video mirrored) · [3] hides\n{where}")

    def show_people(
        self,
        bodies: Sequence[Body],
        decisions: Mapping[int, Decision],
        colour_of: Callable[[int], tuple[int, int, int]],
    ) -> list[PersonView]:
        """Draw the people of the frame on screen; returns what was drawn."""
        if self.model.observe(bodies):
            self._draw_scenery()
        people = self.model.people(bodies[: len(self.bones)], decisions, colour_of)
        labelled = [p for p in people if len(p.bones) > 0 and p.anchor is not None and p.label]
        named_ids = {p.tracking_id for p in labelled}
        bodies = [p.bones for p in people if len(p.bones) > 0]
        places = iter(fitted_labels(labelled, self._label_size, self.view_camera(), bodies))
        items = zip(self.bones, self.markers, self.labels, self.leaders, strict=True)
        for i, (bones, marker, label, leader) in enumerate(items):
            person = people[i] if i < len(people) else None
            drawn = person is not None and len(person.bones) > 0
            bones.setVisible(drawn)
            rgb = tuple(np.array(person.colour) / 255.0) if person is not None else (0.0, 0.0, 0.0)
            if drawn:
                bones.setData(pos=person.bones.reshape(-1, 3), color=(*rgb, 1.0))
            marked = drawn and person.marker is not None
            named = drawn and person.tracking_id in named_ids
            marker.setVisible(marked)
            label.setVisible(named)
            leader.setVisible(False)
            if marked:
                # The marker grows with the weight: 0.1 m across for no attention, 0.5 m for all of it.
                size = 0.1 + 0.4 * person.weight
                marker.setData(pos=person.marker[None], size=size, color=(*rgb, 0.45))
            if named:
                text, place = next(places)
                label.setData(pos=place.position, text=text, color=QtGui.QColor(*person.colour),
                              alignment=LABEL_ALIGNMENT[place.side])
                if abs(place.raised_m) > LABEL_LEADER_FROM_M:  # moved off its part (or head): tied to it
                    leader.setData(pos=np.stack([person.anchor, place.position]), color=(*rgb, 0.6))
                    leader.setVisible(True)
        return people

    def _label_size(self, text: str) -> tuple[float, float]:
        """A label's (width, height) in device pixels, as GLTextItem measures it to align it, with its box
        (BoxedLabel) and a margin: labels of five people that only touched read as one line of text."""
        from live.room3d_label import LABEL_PAD_PX

        rect = QtGui.QFontMetrics(self._label_font).tightBoundingRect(text)
        ratio = self.view.devicePixelRatioF()
        return (rect.width() + 2 * LABEL_PAD_PX + 6) * ratio, (rect.height() + 2 * LABEL_PAD_PX + 5) * ratio
