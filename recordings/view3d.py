"""`python -m recordings view --3d`: a recording as a 3D scene, in a window or rendered off screen.

    first pass, bodies only: feet ---core.room.fit_floor---> floor plane ---> RoomFrame (z up, floor 0)
    each frame:  bodies ---------------------> bone tubes, one colour per person (order of appearance)
                 Frame.depth -------------------> point cloud, coloured from the colour frame through
                   (.xef depth stream or a clip's   the colour camera where it sees, grey elsewhere
                    _depth.bin, nearest in time)
    SceneFrame (numpy, room coordinates) ---> Renderer3D (open3d's legacy Visualizer)
        window:     Player -- space play / pause, right or . step on, left or , step back, q / Esc quit
        off screen: render_images -- the same renderer in a hidden window -> PNGs or a video (--out)

The floor grid, the depth sensor's field of view (0.5-4.5 m) and the sensor's position stay fixed. The
geometry is core.room's (tested without a renderer); this module only hands it to open3d. open3d is
imported when a renderer is made, so the rest of `python -m recordings` works without the viz3d extra.

Off screen, open3d 0.20 renders through a hidden GLFW window where an X display exists and falls back
to EGL (Mesa's llvmpipe on a machine without a GPU) where none does; its EGL OffscreenRenderer is not
used because the Filament build in the wheel wants a Vulkan loader that servers rarely have.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.camera import DEPTH_CAMERA, ColorCamera
from core.frame import Frame
from core.package_files import pip_install
from core.room import (
    FloorPlane,
    RoomFrame,
    ViewCamera,
    body_up,
    bone_segments,
    depth_points,
    field_of_view_scenery,
    fit_floor,
    foot_positions,
    overview_camera,
    point_colours,
    present_joints,
    standing_spines,
    tube_mesh,
)
from core.skeleton import KINECT_V2, SkeletonLayout
from recordings import xef
from recordings.argument_types import why_no_display
from recordings.clip import ClipRecording, XefRecording, open_recording
from recordings.pkummd import PkuMmdRecording

# One colour per person (RGB, 0-1), in order of first appearance; none is close to the point cloud's
# grey or the background, so a pixel's colour says what was drawn there.
PERSON_COLOURS = (
    (1.0, 0.55, 0.0),
    (0.2, 0.9, 0.2),
    (0.95, 0.2, 0.85),
    (0.0, 0.85, 0.95),
    (1.0, 0.95, 0.1),
    (0.6, 0.4, 1.0),
)
BACKGROUND = (0.08, 0.08, 0.1)
UNSEEN_POINT = (0.55, 0.55, 0.55)  # depth points outside the colour camera's view, or without colour
FLOOR_COLOUR = (0.3, 0.32, 0.36)
FRUSTUM_COLOUR = (0.85, 0.85, 0.85)
MIN_FEET = 10  # foot positions on one plane before it is taken for the floor
KEYS_HELP = "keys: space play / pause, right or . next frame, left or , previous frame, q or Esc quit"


@dataclass(frozen=True)
class View3DConfig:
    width: int = 1280
    height: int = 720
    depth_step: int = 2  # every n-th depth pixel in both directions (1: all 217,088)
    bone_radius_m: float = 0.025
    point_size: float = 2.0
    history: int = 30  # frames kept for stepping back
    survey_frames: int = 3000  # body frames read (evenly spread) to find the floor


# ---- the room: a first pass over the bodies -------------------------------------------------------


@dataclass(frozen=True)
class Survey:
    """What a first pass over a recording's bodies says about the room."""

    room: RoomFrame
    focus: np.ndarray  # room coordinates: the median body centre, where the view looks
    feet: int  # tracked foot positions of upright people (core.room.foot_positions) the floor was fitted to

    def describe(self) -> str:
        floor = self.room.floor
        if floor is None:
            why = (
                f"only {self.feet} tracked foot positions of people upright"
                if self.feet < MIN_FEET
                else f"{self.feet} tracked foot positions do not agree on a plane"
            )
            return f"floor: not found ({why}); drawn in the sensor's frame"
        how = {2: "fitted", 1: "tilt along the feet's line only", 0: "levelled"}[floor.spread_axes]
        return (
            f"floor: sensor {floor.height_m:.2f} m above it, tilted {floor.tilt_deg():.1f} deg ({how}; "
            f"{floor.inliers} of {self.feet} foot positions on it)"
        )


def survey(
    path: Path | str, config: View3DConfig = View3DConfig(), layout: SkeletonLayout = KINECT_V2
) -> Survey:
    """Fit the floor to the tracked feet of up to `config.survey_frames` body frames spread over the
    recording (bodies only: no colour is decoded), and find where the people are."""
    bodies, centres = [], []
    with open_recording(path, color=False, depth=False) as recording:
        stride = max(1, math.ceil(recording.info.frame_count / config.survey_frames))
        frames = recording.frames()
        try:
            for frame in frames:
                if frame.index % stride:
                    continue
                for body in frame.bodies:
                    bodies.append(body)
                    present = present_joints(body.joints, body.states)
                    if present.any():
                        centres.append(body.joints[present].mean(0))
        except xef.XefFormatError:
            pass  # a damaged file: the floor from the frames before the damage (the viewer reports it)
    joints = np.array([body.joints for body in bodies]).reshape(-1, layout.num_joints, 3)
    states = np.array([body.states for body in bodies]).reshape(-1, layout.num_joints)
    up = body_up(standing_spines(joints, states, layout))  # first: which feet stand on the floor needs it
    feet = foot_positions(joints, states, layout, up)
    floor: FloorPlane | None = fit_floor(feet, up=up, min_inliers=MIN_FEET)
    room = RoomFrame.from_floor(floor)
    focus = np.median(room.to_room(np.array(centres)), axis=0) if centres else np.array([0.0, 2.5, 1.0])
    return Survey(room=room, focus=np.asarray(focus, np.float64), feet=len(feet))


# ---- one frame's geometry -------------------------------------------------------------------------


@dataclass
class SceneFrame:
    """What one frame draws, in room coordinates (numpy only)."""

    index: int
    timestamp: float
    bone_vertices: np.ndarray  # float32 (V, 3)
    bone_triangles: np.ndarray  # int32 (T, 3)
    bone_colours: np.ndarray  # float32 (V, 3) RGB 0-1
    points: np.ndarray  # float32 (N, 3)
    point_colours: np.ndarray  # float32 (N, 3) RGB 0-1
    people: list[tuple[int, tuple[float, float, float]]] = field(default_factory=list)  # (id, colour)


class SceneBuilder:
    """Frames of one recording -> SceneFrames. Keeps the person -> colour assignment across frames.

    The point cloud is the frame's own depth image (Frame.depth: the recording's depth frame nearest
    in time), seen through `depth_camera`."""

    def __init__(
        self,
        room: RoomFrame,
        config: View3DConfig = View3DConfig(),
        *,
        colour_camera: ColorCamera | None = None,
        depth_camera: ColorCamera = DEPTH_CAMERA,
        layout: SkeletonLayout = KINECT_V2,
    ) -> None:
        self.room = room
        self.config = config
        self.colour_camera = colour_camera
        self.depth_camera = depth_camera
        self.layout = layout
        self._colours: dict[int, tuple[float, float, float]] = {}

    def colour_of(self, tracking_id: int) -> tuple[float, float, float]:
        if tracking_id not in self._colours:
            self._colours[tracking_id] = PERSON_COLOURS[len(self._colours) % len(PERSON_COLOURS)]
        return self._colours[tracking_id]

    def build(self, frame: Frame) -> SceneFrame:
        vertices, triangles, colours, people = [], [], [], []
        offset = 0
        sides = 8
        for body in frame.bodies:
            segments = bone_segments(body.joints, body.states, self.layout)
            if not len(segments):
                continue  # a body slot without a single bone: nothing to draw, no colour used
            colour = self.colour_of(body.tracking_id)
            v, t = tube_mesh(self.room.to_room(segments), self.config.bone_radius_m, sides)
            vertices.append(v)
            triangles.append(t + offset)
            colours.append(np.tile(np.array(colour, np.float32), (len(v), 1)))
            people.append((body.tracking_id, colour))
            offset += len(v)
        points = np.zeros((0, 3), np.float32)
        rgb = np.zeros((0, 3), np.float32)
        image = frame.depth
        if image is not None:
            camera_points, _ = depth_points(image, self.depth_camera, step=self.config.depth_step)
            rgb = np.tile(np.array(UNSEEN_POINT, np.float32), (len(camera_points), 1))
            if frame.color is not None and self.colour_camera is not None:
                sampled, seen = point_colours(camera_points, frame.color, self.colour_camera)
                rgb[seen] = sampled[seen]
            points = self.room.to_room(camera_points)
        return SceneFrame(
            index=frame.index,
            timestamp=frame.timestamp,
            bone_vertices=np.concatenate(vertices) if vertices else np.zeros((0, 3), np.float32),
            bone_triangles=np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int32),
            bone_colours=np.concatenate(colours) if colours else np.zeros((0, 3), np.float32),
            points=points,
            point_colours=rgb,
            people=people,
        )


def scene_builder(
    recording: ClipRecording | XefRecording | PkuMmdRecording, room: RoomFrame, config: View3DConfig
) -> SceneBuilder:
    """The builder for a recording, with its cameras: a .xef file's or a PKU-MMD sequence's colour camera
    (the one its joints were projected with); a clip's from its sidecar (colour and depth calibration),
    where it has one."""
    if isinstance(recording, XefRecording | PkuMmdRecording):
        return SceneBuilder(room, config, colour_camera=recording.camera)
    sidecar = recording.sidecar
    if sidecar is None:
        return SceneBuilder(room, config)
    return SceneBuilder(room, config, colour_camera=sidecar.camera, depth_camera=sidecar.depth_camera)


# ---- drawing through open3d -----------------------------------------------------------------------


# What open3d loads on Linux besides itself (README, '3D views').
SYSTEM_LIBRARIES = ("on Debian or Ubuntu, apt-get install libusb-1.0-0 (and, without a GPU driver, "
                    "libgl1-mesa-dri libegl-mesa0 libglx-mesa0)")


def _import_open3d():
    try:
        import open3d
    except ModuleNotFoundError as error:  # open3d, or a Python package it needs: pip installs either
        raise SystemExit(f"the 3D view needs open3d: {pip_install('viz3d')} ({error})") from None
    except ImportError as error:  # installed, but a system library it loads is missing: pip cannot help
        raise SystemExit(f"open3d is installed but cannot load ({error}): {SYSTEM_LIBRARIES}") from None
    return open3d


def no_window_reason(environ: dict[str, str] | os._Environ = os.environ) -> str | None:
    """Why a 3D window cannot open here, or None: as for the Qt windows (`why_no_display`, which also finds
    a DISPLAY where no X server answers), except that a Qt platform chosen does not give open3d a screen.
    Without one open3d would quietly render to an invisible EGL surface and the viewer would wait for a
    window nobody sees."""
    why = why_no_display({name: value for name, value in environ.items() if name != "QT_QPA_PLATFORM"})
    if why is None:
        return None
    return f"no display for the 3D window ({why}): render it off screen with --out DIR (PNGs) or FILE.mp4"


def _segments_lineset(o3d, segments: np.ndarray, colour: tuple[float, float, float]):
    segments = np.asarray(segments, np.float64).reshape(-1, 2, 3)
    lines = o3d.geometry.LineSet()
    lines.points = o3d.utility.Vector3dVector(segments.reshape(-1, 3))
    lines.lines = o3d.utility.Vector2iVector(np.arange(2 * len(segments), dtype=np.int32).reshape(-1, 2))
    lines.colors = o3d.utility.Vector3dVector(np.tile(colour, (len(segments), 1)))
    return lines


class Renderer3D:
    """open3d's legacy Visualizer holding one recording's scene: fixed floor grid, field of view and
    sensor; bones and points replaced each frame. Unlit, so every pixel has exactly the colour of what
    was drawn there (the tests read them)."""

    def __init__(
        self,
        room: RoomFrame,
        view: ViewCamera,
        config: View3DConfig = View3DConfig(),
        *,
        visible: bool = True,
        title: str = "recordings view 3D",
    ) -> None:
        o3d = _import_open3d()
        self.o3d = o3d
        self.room = room
        self.view = view
        self.config = config
        self.visualizer = o3d.visualization.VisualizerWithKeyCallback()
        if not self.visualizer.create_window(title, width=view.width, height=view.height, visible=visible):
            raise RuntimeError("open3d could not open a window (no OpenGL context)")
        options = self.visualizer.get_render_option()
        options.background_color = np.array(BACKGROUND)
        options.light_on = False
        options.point_size = config.point_size
        options.mesh_show_back_face = True

        # The first geometry sets the view's bounding box: with none, open3d's camera maths gives NaN.
        for n, static in enumerate(self._fixed_geometry()):
            self.visualizer.add_geometry(static, reset_bounding_box=n == 0)
        self.bones = o3d.geometry.TriangleMesh()
        self.points = o3d.geometry.PointCloud()
        self.visualizer.add_geometry(self.bones, reset_bounding_box=False)
        self.visualizer.add_geometry(self.points, reset_bounding_box=False)
        self.reset_view()

    def _fixed_geometry(self) -> list:
        o3d = self.o3d
        field_of_view, grid = field_of_view_scenery(self.room, DEPTH_CAMERA)
        lines = [_segments_lineset(o3d, field_of_view, FRUSTUM_COLOUR)]
        if len(grid):
            lines.append(_segments_lineset(o3d, grid, FLOOR_COLOUR))
        return lines

    def reset_view(self) -> None:
        """Look through `self.view` (the mouse may have moved the camera)."""
        o3d = self.o3d
        params = o3d.camera.PinholeCameraParameters()
        params.intrinsic = o3d.camera.PinholeCameraIntrinsic(
            self.view.width, self.view.height, self.view.intrinsic()
        )
        params.extrinsic = self.view.extrinsic()
        control = self.visualizer.get_view_control()
        control.set_constant_z_near(0.05)
        control.set_constant_z_far(100.0)
        if not control.convert_from_pinhole_camera_parameters(params, allow_arbitrary=True):
            raise RuntimeError(f"open3d refused the view camera {self.view}")

    def show(self, scene: SceneFrame) -> None:
        o3d = self.o3d
        self.bones.vertices = o3d.utility.Vector3dVector(scene.bone_vertices.astype(np.float64))
        self.bones.triangles = o3d.utility.Vector3iVector(scene.bone_triangles.astype(np.int32))
        self.bones.vertex_colors = o3d.utility.Vector3dVector(scene.bone_colours.astype(np.float64))
        self.points.points = o3d.utility.Vector3dVector(scene.points.astype(np.float64))
        self.points.colors = o3d.utility.Vector3dVector(scene.point_colours.astype(np.float64))
        self.visualizer.update_geometry(self.bones)
        self.visualizer.update_geometry(self.points)

    def capture(self) -> np.ndarray:
        """Render now and read the picture back: RGB uint8 (height, width, 3)."""
        self.visualizer.poll_events()
        self.visualizer.update_renderer()
        buffer = np.asarray(self.visualizer.capture_screen_float_buffer(do_render=True))
        return (buffer * 255.0 + 0.5).astype(np.uint8)

    def close(self) -> None:
        self.visualizer.destroy_window()


def label(image_bgr: np.ndarray, scene: SceneFrame, extra: str = "") -> np.ndarray:
    """Frame number and time in the top-left corner (in place)."""
    count = len(scene.people)
    text = f"{scene.index}  {scene.timestamp:7.2f} s  {count} {'person' if count == 1 else 'people'}{extra}"
    cv2.putText(image_bgr, text, (12, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
    return image_bgr


# ---- off screen -----------------------------------------------------------------------------------


def render_images(
    recording: ClipRecording | XefRecording,
    frames: Iterator[Frame],
    config: View3DConfig = View3DConfig(),
    *,
    room_survey: Survey | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, BGR image) for every frame, rendered in a hidden window (EGL where there is no
    display); the caller writes them (PNGs or a video)."""
    room_survey = room_survey or survey(recording.info.path, config)
    print(room_survey.describe(), file=sys.stderr)
    view = overview_camera(room_survey.room, room_survey.focus, width=config.width, height=config.height)
    builder = scene_builder(recording, room_survey.room, config)
    renderer = Renderer3D(room_survey.room, view, config, visible=False)
    try:
        for frame in frames:
            scene = builder.build(frame)
            renderer.show(scene)
            yield frame.index, label(cv2.cvtColor(renderer.capture(), cv2.COLOR_RGB2BGR), scene)
    finally:
        renderer.close()


# ---- the window -----------------------------------------------------------------------------------


class Player:
    """Plays SceneFrames in a Renderer3D window: play / pause, step on and back (through the last
    `config.history` frames), at `fps`. The recording is read as it plays, never ahead."""

    def __init__(
        self,
        frames: Iterator[Frame],
        builder: SceneBuilder,
        renderer: Renderer3D,
        fps: float,
        *,
        close_at_end: bool = False,
    ) -> None:
        self.frames = frames
        self.builder = builder
        self.renderer = renderer
        self.period_s = 1.0 / fps if fps > 0 else 1.0 / 30.0
        self.close_at_end = close_at_end
        self.history: deque[SceneFrame] = deque(maxlen=max(1, builder.config.history))
        self.position = -1  # index into history of the frame on screen
        self.playing = True
        self.ended = False
        self.shown = 0  # frames put on screen, counting steps back and forth
        self._due = 0.0
        keys = {
            ord(" "): self.toggle,
            262: self.step_forward,  # GLFW_KEY_RIGHT
            ord("."): self.step_forward,
            263: self.step_back,  # GLFW_KEY_LEFT
            ord(","): self.step_back,
            ord("Q"): self.quit,
        }
        for key, action in keys.items():
            renderer.visualizer.register_key_callback(key, lambda _vis, action=action: action() or True)

    @property
    def current(self) -> SceneFrame | None:
        return self.history[self.position] if self.position >= 0 else None

    def toggle(self) -> None:
        self.playing = not self.playing and not self.ended
        self._due = time.monotonic()

    def step_forward(self) -> bool:
        """Show the next frame (from history after stepping back, else read from the recording)."""
        if self.position + 1 < len(self.history):
            self.position += 1
        else:
            frame = next(self.frames, None)
            if frame is None:
                self.ended, self.playing = True, False
                return False
            self.history.append(self.builder.build(frame))
            self.position = len(self.history) - 1
        self._show()
        return True

    def step_back(self) -> bool:
        self.playing = False
        if self.position <= 0:
            return False
        self.position -= 1
        self._show()
        return True

    def quit(self) -> None:
        self.renderer.visualizer.close()

    def _show(self) -> None:
        scene = self.current
        assert scene is not None
        self.renderer.show(scene)
        self.shown += 1

    def tick(self, now: float) -> bool:
        """One pass of the window loop: advance when playing and a frame is due. True when redrawn."""
        if not self.playing or now < self._due:
            return False
        self._due = max(self._due + self.period_s, now)  # late: skip the wait, never run ahead
        advanced = self.step_forward()
        if not advanced and self.close_at_end:
            self.quit()
        return advanced

    def run(self) -> int:
        """Open the window loop until the window closes; returns the frames shown."""
        visualizer = self.renderer.visualizer

        def animate(_vis) -> bool:
            now = time.monotonic()
            redrawn = self.tick(now)
            if not redrawn:
                # The loop polls without waiting: rest until the next frame is due instead of spinning.
                time.sleep(min(0.01, max(0.0, self._due - now)) if self.playing else 0.01)
            return redrawn

        visualizer.register_animation_callback(animate)
        self._due = time.monotonic()
        visualizer.run()
        return self.shown


def show(
    recording: ClipRecording | XefRecording,
    frames: Iterator[Frame],
    fps: float,
    config: View3DConfig = View3DConfig(),
    *,
    close_at_end: bool = False,
) -> int:
    """The interactive 3D window; returns the frames shown when it closes."""
    if (why_not := no_window_reason()) is not None:
        print(f"error: {why_not}", file=sys.stderr)
        raise SystemExit(2)  # a usage error, as the 2D view's
    room_survey = survey(recording.info.path, config)
    print(room_survey.describe(), file=sys.stderr)
    print(KEYS_HELP, file=sys.stderr)
    view = overview_camera(room_survey.room, room_survey.focus, width=config.width, height=config.height)
    renderer = Renderer3D(room_survey.room, view, config, title=f"{recording.info.path.name} - 3D")
    try:
        return Player(frames, scene_builder(recording, room_survey.room, config), renderer, fps,
                      close_at_end=close_at_end).run()
    finally:
        renderer.close()
