"""Draw the live window's 3D panel for real and save what it drew, for tests/test_live_room3d.py.

    python tests/room3d_render.py OUT_DIR SKELETON_FILE

Runs in its own process because the tests' Qt runs on the `offscreen` platform, which draws no OpenGL
widgets: this one needs QT_QPA_PLATFORM=xcb and an X display (Xvfb). It writes to OUT_DIR:

    people.png / people.json   the panel showing frame 40 of the clip, with a Decision per person
    one.png / one.json         the next frame with the second person gone
    window.png, window_hidden.png, window.json
                               the whole live window (simulated room, bundled demo model) with the
                               panel, then after the key 3 hid it; then the panel dragged down over
                               the people's panels
    timing.json                GUI-thread milliseconds per panel update + redraw

The JSON files hold the panel's camera (core.room.ViewCamera fields) and what it was asked to draw
(room coordinates), so the test computes the expected pixels itself.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

from PySide6 import QtCore, QtGui, QtTest, QtWidgets  # noqa: E402

from core.frame import Frame  # noqa: E402
from core.skeleton import KINECT_V2  # noqa: E402
from live import room3d  # noqa: E402
from live.overlay import PALETTE  # noqa: E402
from live.worker import Decision  # noqa: E402
from recordings.clip import open_recording  # noqa: E402

COLOURS = {0: PALETTE[0], 1: PALETTE[1]}  # the overlay's first two person colours
PARTS = ("left_hand", "right_hand", "full_body")


def image_of(widget) -> np.ndarray:
    return rgb(widget.grabFramebuffer() if hasattr(widget, "grabFramebuffer") else widget.grab().toImage())


def rgb(grabbed: QtGui.QImage) -> np.ndarray:
    grabbed = grabbed.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height = grabbed.width(), grabbed.height()
    data = np.frombuffer(grabbed.constBits(), np.uint8, grabbed.bytesPerLine() * height)
    return data.reshape(height, grabbed.bytesPerLine())[:, : 3 * width].reshape(height, width, 3).copy()


def save(path: Path, rgb: np.ndarray) -> None:
    import cv2

    cv2.imwrite(str(path), rgb[..., ::-1])


def describe(panel: room3d.Room3DPanel, people: list[room3d.PersonView]) -> dict:
    view = panel.view_camera()
    field_of_view, grid = panel.model.scenery()
    return {
        "camera": {"eye": view.eye, "target": view.target, "up": view.up, "width": view.width,
                   "height": view.height, "fov_deg": view.fov_deg},
        "floor_height_m": None if panel.model.room.floor is None else panel.model.room.floor.height_m,
        "field_of_view": field_of_view.tolist(),
        "grid": grid.tolist(),
        "people": [
            {"id": p.tracking_id, "colour": p.colour, "bones": p.bones.tolist(), "part": p.part,
             "weight": p.weight, "marker": None if p.marker is None else p.marker.tolist(), "label": p.label,
             # Where the panel put the label (raised over the bodies where it would cover one), and its
             # leader line back to the part, if drawn.
             "label_at": np.asarray(label.pos, np.float64).tolist(),
             "label_side": "right" if label.alignment & QtCore.Qt.AlignmentFlag.AlignRight else "left",
             "label_size": panel._label_size(p.label),  # its box's (width, height) in pixels, with a margin
             "leader": np.asarray(leader.pos).tolist() if leader.visible() else None}
            for p, label, leader in zip(people, panel.labels, panel.leaders, strict=False)
        ],
    }


def settle(app: QtWidgets.QApplication, seconds: float = 0.2) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def panel_views(app: QtWidgets.QApplication, out: Path, skeleton: Path) -> None:
    with open_recording(skeleton, color=False) as clip:
        frames = list(clip.frames())
    ids = [b.tracking_id for b in frames[0].bodies]
    colour_of = {tid: COLOURS[i] for i, tid in enumerate(ids)}.__getitem__
    attention = (np.array([0.1, 0.7, 0.2], np.float32), np.array([0.2, 0.25, 0.55], np.float32))
    decisions = {tid: Decision(0.0, 0.0, tid, (("punch", 0.9),), PARTS, weights, 0.1)
                 for tid, weights in zip(ids, attention, strict=True)}
    if (why_not := room3d.unavailable_reason()) is not None:
        raise SystemExit(f"no 3D panel here: {why_not}")
    panel = room3d.Room3DPanel(KINECT_V2)
    panel.resize(720, 560)
    panel.show()
    settle(app)
    for frame in frames[:40]:  # the floor is fitted after 30 frames
        panel.show_people(frame.bodies, decisions, colour_of)
    people = panel.show_people(frames[40].bodies, decisions, colour_of)
    settle(app)
    save(out / "people.png", image_of(panel.view))
    (out / "people.json").write_text(json.dumps(describe(panel, people)))

    leaving = Frame(frames[41].timestamp, None, frames[41].bodies[:1], frames[41].index)
    people = panel.show_people(leaving.bodies, decisions, colour_of)
    settle(app)
    save(out / "one.png", image_of(panel.view))
    (out / "one.json").write_text(json.dumps(describe(panel, people)))

    # GUI-thread cost of one tick: the update plus the redraw it causes (grabFramebuffer renders now).
    update_ms, draw_ms = [], []
    for frame in frames[:60]:
        start = time.perf_counter()
        panel.show_people(frame.bodies, decisions, colour_of)
        middle = time.perf_counter()
        panel.view.grabFramebuffer()
        update_ms.append((middle - start) * 1000)
        draw_ms.append((time.perf_counter() - middle) * 1000)
    (out / "timing.json").write_text(json.dumps({
        "update_ms_median": float(np.median(update_ms)), "redraw_ms_median": float(np.median(draw_ms)),
        "size": [panel.view.width(), panel.view.height()], "renderer": gl_renderer(panel),
    }))
    panel.close()


def gl_renderer(panel: room3d.Room3DPanel) -> str:
    from OpenGL import GL

    panel.view.makeCurrent()
    return GL.glGetString(GL.GL_RENDERER).decode()


def live_window(app: QtWidgets.QApplication, out: Path) -> None:
    from live.app import LiveConfig, build_pipeline
    from live.overlay import LiveWindow, OverlayConfig

    pipeline = build_pipeline(LiveConfig(engine="onnxruntime-cpu", threads=1))
    pipeline.start()
    window = LiveWindow(pipeline, pipeline.inputs.layout, OverlayConfig(close_at_end=False))
    window.resize(1500, 760)
    window.show()
    settle(app, 4.0)
    visible = window.room3d is not None and window.room3d.isVisible()

    def labelled() -> bool:
        return visible and any(label.visible() for label in window.room3d.labels)

    deadline = time.monotonic() + 20  # until somebody's attended part is labelled (a decision came)
    while not labelled() and time.monotonic() < deadline:
        settle(app, 0.2)
    was_labelled = labelled()
    save(out / "window.png", image_of(window))
    # --screenshot's picture, and the 3D view's own at the same moment (what QWidget.grab leaves out of it).
    save(out / "window_screenshot.png", rgb(window.screenshot().toImage()))
    view = window.room3d.view if window.room3d is not None else None
    if view is not None:
        save(out / "window_view.png", image_of(view))
    view_at = None if view is None else view.mapTo(window, QtCore.QPoint(0, 0))
    top_left = window.room3d.mapTo(window, QtCore.QPoint(0, 0)) if window.room3d is not None else None
    panel_box = None if top_left is None else [top_left.x(), top_left.y(), window.room3d.width(),
                                                  window.room3d.height()]
    QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_3)
    settle(app, 0.5)
    hidden = window.room3d is not None and not window.room3d.isVisible()
    save(out / "window_hidden.png", image_of(window))
    QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_3)
    settle(app, 0.2)
    shown_again = window.room3d is not None and window.room3d.isVisible()
    # The 3D panel dragged down over the people's panels (as a small screen or large fonts leave them): it
    # gives way until everyone's top action fits.
    from live.overlay import PanelSize

    column = window._right_column
    deadline = time.monotonic() + 20  # both simulated people in view: two panels need more than the least
    while len(pipeline.tracks.ids()) < 2 and time.monotonic() < deadline:  # the people area keeps anyway
        settle(app, 0.2)
    dragged = None
    if column is not None:
        column.setSizes([sum(column.sizes()) - 30, 30])
        dragged = column.sizes()[0]

    def squeezed_now() -> dict:
        people = len(pipeline.tracks.ids())
        return {"people": people, "needed_px": people * window._panel_px[PanelSize.TOP_ACTION],
                "people_area_px": window._people_area.viewport().height(), "room3d_dragged_px": dragged,
                "room3d_px": window.room3d.height() if window.room3d is not None else None}

    # Measured while both are in view, a second after both were (simulated people come and go: one
    # leaving in the meantime made the measure one person's; one coming, a measure taken before the window
    # had given them room). Up to 30 s: on a loaded machine the steps before took longer, and the measure
    # fell where one had left and the next was still ten seconds away.
    deadline = time.monotonic() + 30
    while True:
        settle(app, 1.0)
        squeezed = squeezed_now()
        if squeezed["people"] >= 2 or time.monotonic() > deadline:
            break
    # Split by hand so that the two people's top actions fit but not their attention bars: the split stays
    # (the window lent the 3D panel's height to the people's panels against the user's drag).
    kept_by_hand = None
    if column is not None:
        column.splitterMoved.emit(0, 1)  # as a drag does (setSizes does not)
        total, people_px = sum(column.sizes()), 2 * window._panel_px[PanelSize.TOP_ACTION] + 40
        column.setSizes([total - people_px, people_px])
        asked = column.sizes()
        settle(app, 1.0)
        kept_by_hand = column.sizes() == asked
    # A window too short for both top actions even beside the 3D panel's least height (six people on a
    # tablet): the panel goes, and comes back once the window is tall enough again.
    import live.overlay
    from live.overlay import ROOM3D_MIN_PX

    made_way = None
    if column is not None:
        live.overlay.ROOM3D_BACK_AFTER_S = 2.0  # (10 s: a body lost for a frame does not bring it back)
        tall = window.size()
        need_px = 2 * window._panel_px[PanelSize.TOP_ACTION] + ROOM3D_MIN_PX // 2
        short = QtCore.QSize(tall.width(), tall.height() - (sum(column.sizes()) - need_px))
        window.resize(short)
        settle(app, 1.0)
        hidden_when_short = not window.room3d.isVisible()
        window.resize(tall)
        settle(app, 0.3)
        hidden_a_while = not window.room3d.isVisible()  # room again, but not for long enough yet
        settle(app, 2.5)
        shown_again = window.room3d.isVisible()
        # Key 3 while it is hidden for the panels: shown, and kept (it was hidden again the next frame).
        window.resize(short)
        settle(app, 1.0)
        QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_3)
        settle(app, 1.0)
        made_way = {"hidden_when_short": hidden_when_short, "hidden_a_while": hidden_a_while,
                    "shown_again": shown_again,
                    "kept_by_key": window.room3d.isVisible(), "column_px": sum(column.sizes()),
                    "need_px": need_px}
    window.close()  # the pipeline stops on a thread of its own: wait for it before this process ends
    deadline = time.monotonic() + 60
    while window.summary is None and time.monotonic() < deadline:
        settle(app, 0.05)
    (out / "window.json").write_text(json.dumps({
        "visible": visible, "hidden_after_key": hidden, "shown_after_second_key": shown_again,
        "panel_box": panel_box, "window_size": [window.width(), window.height()],
        "view_at": None if view_at is None else [view_at.x(), view_at.y()], "labelled": was_labelled,
        "squeezed": squeezed, "kept_by_hand": kept_by_hand, "made_way": made_way,
    }))


def main() -> int:
    out, skeleton = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    # Two OpenGL views in one process (the panel alone, then the window's): pyqtgraph keeps one set of
    # shader programs, valid only where contexts are shared.
    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication(sys.argv[:1])
    panel_views(app, out, skeleton)
    live_window(app, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
