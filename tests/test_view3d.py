"""`python -m recordings view --3d` (recordings/view3d.py) drawn for real through open3d, and the pixels read.

In-process renders use a real OpenGL window on a private Xvfb server (the `x_display` fixture); the
--out path is also run in a subprocess with no display at all, where open3d renders through EGL.
Expected pixel positions come from the renderer's own view camera (core.room.ViewCamera): a bone's
colour must appear where its joints project, and nowhere far from them.
"""

from __future__ import annotations

import ctypes.util
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import xef_writer
from xef_writer import sample_recording

from core.camera import DEPTH_CAMERA
from core.frame import Frame
from core.room import RoomFrame, bone_segments, depth_points, overview_camera
from core.skeleton import KINECT_V2
from recordings import view3d
from recordings.__main__ import main
from recordings.clip import open_recording

try:
    import open3d  # noqa: F401  (the module's tests draw through it)
except ModuleNotFoundError as error:  # open3d or a package it needs
    pytest.skip(f"the viz3d extra is not installed ({error})", allow_module_level=True)
except ImportError as error:  # installed without a system library it loads: skipped, as .ci/run says
    pytest.skip(f"open3d cannot load ({error}): {view3d.SYSTEM_LIBRARIES}", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
CONFIG = view3d.View3DConfig(width=800, height=450, depth_step=2)
FLOOR_Y = -1.0  # sample_recording's feet stand at camera y = -1.0
WALL_Z = 4.0


def room_depth() -> np.ndarray:
    """A floor 1 m below the sensor (where the sample recording's feet are), a wall 4 m ahead."""
    camera = DEPTH_CAMERA
    return xef_writer.room_depth(camera.fx, camera.fy, camera.cx, camera.cy, floor_y=FLOOR_Y, wall_z=WALL_Z)


@pytest.fixture(scope="module")
def room_xef(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("view3d") / "room.xef"
    sample_recording(path, frames=4, depth_mm=room_depth())
    return path


def exact(image: np.ndarray, rgb: tuple[float, float, float]) -> np.ndarray:
    """Pixels (H, W) drawn in exactly this colour (the renderer is unlit)."""
    target = np.round(np.array(rgb) * 255).astype(np.int16)
    return (np.abs(image.astype(np.int16) - target) <= 1).all(-1)


def distance_to_segments(points: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Pixel distance (P,) from each point (P, 2) to the nearest 2D segment (S, 2, 2)."""
    a, b = segments[:, 0][None], segments[:, 1][None]
    p = points[:, None].astype(np.float64)
    t = np.clip(((p - a) * (b - a)).sum(-1) / np.maximum(((b - a) ** 2).sum(-1), 1e-9), 0, 1)
    return np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1).min(1)


def check_bones(image: np.ndarray, frame: Frame, builder: view3d.SceneBuilder, view) -> None:
    """Every body's colour is at each of its bones' projected midpoints and only near its bones."""
    for body in frame.bodies:
        colour = builder.colour_of(body.tracking_id)
        segments = builder.room.to_room(bone_segments(body.joints, body.states, KINECT_V2))
        projected, in_front = view.project(segments)
        assert in_front.all()
        drawn = exact(image, colour)
        hits = 0
        for u, v in projected.mean(1).round().astype(int):
            hits += bool(drawn[v - 2 : v + 3, u - 2 : u + 3].any())
        assert hits >= 0.9 * len(segments), f"{hits} of {len(segments)} bone midpoints show {colour}"
        ys, xs = np.nonzero(drawn)
        near = distance_to_segments(np.stack([xs, ys], 1), projected) <= 8
        assert near.mean() > 0.99, f"{(~near).sum()} pixels of {colour} are away from its bones"


def test_scene_frames_in_room_coordinates_without_a_renderer(room_xef: Path) -> None:
    room_survey = view3d.survey(room_xef, CONFIG)
    assert room_survey.room.floor is not None
    assert room_survey.room.floor.height_m == pytest.approx(-FLOOR_Y, abs=1e-4)
    assert "sensor 1.00 m above it" in room_survey.describe()
    with open_recording(room_xef) as recording:
        builder = view3d.scene_builder(recording, room_survey.room, CONFIG)
        first, second = (builder.build(f) for f in list(recording.frames())[:2])
    # Frame 0: one person; frame 1: a second person appears and gets the second colour.
    assert [c for _, c in first.people] == [view3d.PERSON_COLOURS[0]]
    assert [c for _, c in second.people] == list(view3d.PERSON_COLOURS[:2])
    assert len(first.bone_vertices) == 24 * 2 * 8 and len(second.bone_vertices) == 2 * 24 * 2 * 8
    # The point cloud: the room's floor at height 0 and its wall 4 m ahead, in room coordinates.
    points = first.points
    assert len(points) == len(depth_points(room_depth(), DEPTH_CAMERA, step=2)[0])
    on_floor = np.abs(points[:, 2]) < 0.01
    # Rays meet the floor before the wall below image row cy + fy * 1 m / 4 m.
    floor_rows = 424 - np.ceil(DEPTH_CAMERA.cy + DEPTH_CAMERA.fy * -FLOOR_Y / WALL_Z)
    assert on_floor.mean() == pytest.approx(floor_rows / 424, abs=0.01)
    assert np.isclose(points[~on_floor, 1].max(), WALL_Z, atol=1e-3)
    assert points[:, 2].max() == pytest.approx(1.0 + WALL_Z * 208.2 / 367.4, abs=0.01)
    # Coloured where the colour camera sees (red / blue halves of the colour frame), grey elsewhere.
    colours = {tuple(np.round(c, 3)) for c in first.point_colours}
    red, blue = first.point_colours[:, 0] > 0.9, first.point_colours[:, 2] > 0.9
    grey = (first.point_colours == np.float32(view3d.UNSEEN_POINT[0])).all(1)
    assert red.any() and blue.any() and grey.any() and (red | blue | grey).all(), colours
    # The colour image is mirrored: its left (red) half shows the room's right.
    assert points[red, 0].mean() > 0 > points[blue, 0].mean()


def test_xef_with_depth_draws_bones_points_and_nothing_for_absent_bodies(
    room_xef: Path, x_display: str, tmp_path: Path
) -> None:
    room_survey = view3d.survey(room_xef, CONFIG)
    view = overview_camera(room_survey.room, room_survey.focus, width=CONFIG.width, height=CONFIG.height)
    renderer = view3d.Renderer3D(room_survey.room, view, CONFIG, visible=False)
    try:
        with open_recording(room_xef) as recording:
            builder = view3d.scene_builder(recording, room_survey.room, CONFIG)
            images = []
            for frame in list(recording.frames())[:2]:
                scene = builder.build(frame)
                renderer.show(scene)
                image = renderer.capture()
                images.append(image)
                cv2.imwrite(str(tmp_path / f"xef_{frame.index}.png"), image[..., ::-1])
                assert image.shape == (CONFIG.height, CONFIG.width, 3)
                check_bones(image, frame, builder, renderer.view)
                # The point cloud covers exactly where its points project.
                points_drawn = exact(image, view3d.UNSEEN_POINT) | (
                    (image[..., 0] > 240) & (image[..., 1] < 15) & (image[..., 2] < 15)
                ) | ((image[..., 2] > 240) & (image[..., 0] < 15) & (image[..., 1] < 15))
                ys, xs = np.nonzero(points_drawn)
                pixels, _ = renderer.view.project(scene.points)
                inside = ((pixels >= 0) & (pixels < [CONFIG.width, CONFIG.height])).all(1)
                expected = pixels[inside]
                assert abs(xs.min() - expected[:, 0].min()) <= 3 and abs(xs.max() - expected[:, 0].max()) <= 3
                assert abs(ys.min() - expected[:, 1].min()) <= 3 and abs(ys.max() - expected[:, 1].max()) <= 3
                # A red point's pixel is red where nothing stands in front of it.
                red = np.flatnonzero(scene.point_colours[:, 0] > 0.9)
                middle = red[len(red) // 2]
                u, v = renderer.view.project(scene.points[middle])[0].round().astype(int)
                assert exact(image[v - 1 : v + 2, u - 1 : u + 2], scene.point_colours[middle]).sum() >= 6
        first, second = images
        # Person 2 (second colour) is absent from frame 0: not one pixel of its colour; present in 1.
        assert exact(first, view3d.PERSON_COLOURS[1]).sum() == 0
        assert exact(second, view3d.PERSON_COLOURS[1]).sum() > 200
        # The floor grid and field of view are drawn whatever the frame.
        assert exact(first, view3d.FLOOR_COLOUR).sum() > 500
        assert exact(first, view3d.FRUSTUM_COLOUR).sum() > 300
    finally:
        renderer.close()


@pytest.fixture(scope="module")
def room_clip(room_xef: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The room .xef converted by our recorder: skeleton + video + sidecar + room_depth.bin."""
    out = tmp_path_factory.mktemp("view3d_clip")
    assert main(["convert", str(room_xef), str(out), "--name", "room"]) == 0
    assert (out / "room_depth.bin").is_file()
    return out / "room.skeleton"


def test_a_recorded_clips_depth_is_drawn_as_the_same_point_cloud(room_clip: Path, room_xef: Path) -> None:
    room_survey = view3d.survey(room_clip, CONFIG)
    assert room_survey.room.floor is not None
    assert room_survey.room.floor.height_m == pytest.approx(-FLOOR_Y, abs=1e-4)
    with open_recording(room_clip) as recording:
        builder = view3d.scene_builder(recording, room_survey.room, CONFIG)
        assert builder.depth_camera == DEPTH_CAMERA and builder.colour_camera is not None  # from the sidecar
        first = builder.build(next(recording.frames()))
    # The room's floor at height 0 and its wall 4 m ahead, exactly as from the .xef's own depth stream.
    points = first.points
    assert len(points) == len(depth_points(room_depth(), DEPTH_CAMERA, step=2)[0])
    on_floor = np.abs(points[:, 2]) < 0.01
    floor_rows = 424 - np.ceil(DEPTH_CAMERA.cy + DEPTH_CAMERA.fy * -FLOOR_Y / WALL_Z)
    assert on_floor.mean() == pytest.approx(floor_rows / 424, abs=0.01)
    assert np.isclose(points[~on_floor, 1].max(), WALL_Z, atol=1e-3)
    assert points[:, 2].max() == pytest.approx(1.0 + WALL_Z * 208.2 / 367.4, abs=0.01)
    with open_recording(room_xef) as recording:
        xef_first = view3d.scene_builder(recording, room_survey.room, CONFIG).build(next(recording.frames()))
    np.testing.assert_allclose(points, xef_first.points, atol=1e-4)  # PNG-16 is lossless
    # Painted from the clip's (MJPEG) video through its sidecar's colour camera: red and blue halves.
    red = (first.point_colours[:, 0] > 0.85) & (first.point_colours[:, 2] < 0.15)
    blue = (first.point_colours[:, 2] > 0.85) & (first.point_colours[:, 0] < 0.15)
    assert red.mean() == pytest.approx((xef_first.point_colours[:, 0] > 0.9).mean(), abs=0.01)
    assert blue.any() and points[red, 0].mean() > 0 > points[blue, 0].mean()


@pytest.mark.skipif(ctypes.util.find_library("EGL") is None, reason="no libEGL (Debian: libegl-mesa0)")
def test_out_renders_a_recorded_clips_point_cloud_off_screen(room_clip: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [sys.executable, "-m", "recordings", "view", str(room_clip), "--3d", "--out", str(tmp_path / "png"),
         "--width", "640", "--max-frames", "2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 2 frames" in done.stdout
    image = cv2.imread(str(tmp_path / "png" / "frame_000001.png"))[..., ::-1]
    assert exact(image, view3d.PERSON_COLOURS[0]).sum() > 100
    assert exact(image, view3d.UNSEEN_POINT).sum() > 1000  # the floor and wall the colour camera misses
    red = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)
    assert red.sum() > 1000  # ... and the part it sees, painted from the clip's video


def test_out_renders_a_pku_mmd_sequence_two_people_no_depth(shared_data: Path, tmp_path: Path) -> None:
    # PKU-MMD sequences are skeletons only: no depth to look for, no sidecar for the cameras.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    sequence = shared_data / "pkummd" / "skeletons" / "0005-L.txt.xz"
    done = subprocess.run(
        [sys.executable, "-m", "recordings", "view", str(sequence), "--3d", "--out", str(tmp_path / "png"),
         "--width", "640", "--max-frames", "2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    image = cv2.imread(str(tmp_path / "png" / "frame_000001.png"))[..., ::-1]
    assert all(exact(image, view3d.PERSON_COLOURS[i]).sum() > 100 for i in (0, 1))


def test_real_ntu_clip_bones_where_the_joints_project(
    shared_data: Path, x_display: str, tmp_path: Path
) -> None:
    """Two people fighting (NTU A050, real Kinect skeletons, no depth): both drawn where their joints
    project; when one of them is taken out of a frame, its colour vanishes and the other stays."""
    path = shared_data / "ntu" / "skeletons" / "S001C001P001R001A050.skeleton"
    room_survey = view3d.survey(path, CONFIG)
    assert room_survey.room.floor is not None
    view = overview_camera(room_survey.room, room_survey.focus, width=CONFIG.width, height=CONFIG.height)
    renderer = view3d.Renderer3D(room_survey.room, view, CONFIG, visible=False)
    try:
        with open_recording(path, color=False) as recording:
            builder = view3d.scene_builder(recording, room_survey.room, CONFIG)
            frames = list(recording.frames())
        for frame in frames[::24]:
            renderer.show(builder.build(frame))
            image = renderer.capture()
            cv2.imwrite(str(tmp_path / f"ntu_{frame.index}.png"), image[..., ::-1])
            check_bones(image, frame, builder, renderer.view)
            assert not exact(image, view3d.UNSEEN_POINT).any()  # a clip has no depth: no points
        leaving = Frame(frames[30].timestamp, None, frames[30].bodies[:1], frames[30].index)
        renderer.show(builder.build(leaving))
        image = renderer.capture()
        cv2.imwrite(str(tmp_path / "ntu_one_left.png"), image[..., ::-1])
        check_bones(image, leaving, builder, renderer.view)
        assert exact(image, builder.colour_of(frames[30].bodies[1].tracking_id)).sum() == 0
    finally:
        renderer.close()


def test_player_keys_play_pause_and_step_in_a_real_window(room_xef: Path, x_display: str) -> None:
    room_survey = view3d.survey(room_xef, CONFIG)
    view = overview_camera(room_survey.room, room_survey.focus, width=CONFIG.width, height=CONFIG.height)
    renderer = view3d.Renderer3D(room_survey.room, view, CONFIG, visible=True)
    try:
        with open_recording(room_xef) as recording:
            builder = view3d.scene_builder(recording, room_survey.room, CONFIG)
            player = view3d.Player(recording.frames(), builder, renderer, fps=30.0)
            assert player.tick(0.0) and player.current.index == 0
            frame0 = renderer.capture()
            assert not player.tick(0.01)  # not due yet (30 fps)
            assert player.tick(0.04) and player.current.index == 1
            player.toggle()  # pause
            assert not player.tick(10.0) and player.current.index == 1
            assert player.step_forward() and player.current.index == 2
            frame2 = renderer.capture()
            # Person 1 walks 0.1 m per frame to the sensor's left (room -x): drawn further left.
            columns = [np.nonzero(exact(f, view3d.PERSON_COLOURS[0]))[1].mean() for f in (frame0, frame2)]
            assert columns[1] < columns[0]
            assert player.step_back() and player.step_back() and player.current.index == 0
            assert not player.step_back()  # the oldest frame kept
            assert np.array_equal(renderer.capture(), frame0)
            assert player.step_forward() and player.step_forward() and player.step_forward()
            assert player.current.index == 3 and not player.step_forward() and player.ended
            player.toggle()
            assert not player.playing  # nothing left to play
    finally:
        renderer.close()


def test_window_loop_plays_the_recording_to_the_end(room_xef: Path, x_display: str) -> None:
    with open_recording(room_xef) as recording:
        assert view3d.show(recording, recording.frames(), 60.0, CONFIG, close_at_end=True) == 4


def test_3d_window_needs_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(sys, "platform", "linux")
    assert "--out" in view3d.no_window_reason({})
    # A DISPLAY with no X server behind it (an ssh -X session gone stale) is no display either, as for the
    # Qt windows; a Qt platform chosen gives open3d no screen.
    number = 800 + os.getpid() % 99  # a display number nothing uses
    why = view3d.no_window_reason({"DISPLAY": f":{number}"})
    assert f"DISPLAY=:{number}, but no X server answers there" in why and "--out" in why
    assert "--out" in view3d.no_window_reason({"QT_QPA_PLATFORM": "offscreen"})
    with socket.socket(socket.AF_UNIX) as server:  # where an X server listens for display :number
        server.bind(f"\0/tmp/.X11-unix/X{number}")
        server.listen(8)
        assert view3d.no_window_reason({"DISPLAY": f":{number}"}) is None


@pytest.mark.skipif(ctypes.util.find_library("EGL") is None, reason="no libEGL (Debian: libegl-mesa0)")
def test_out_renders_pngs_and_a_video_off_screen_without_any_display(room_xef: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [sys.executable, "-m", "recordings", "view", str(room_xef), "--3d", "--out", str(tmp_path / "png"),
         "--width", "640"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "floor: sensor 1.00 m above it" in done.stderr and "wrote 4 frames" in done.stdout
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.name for p in pngs] == [f"frame_{i:06d}.png" for i in range(4)]
    image = cv2.imread(str(pngs[1]))[..., ::-1]
    assert image.shape == (360, 640, 3)
    assert exact(image, view3d.PERSON_COLOURS[0]).sum() > 100
    assert exact(image, view3d.PERSON_COLOURS[1]).sum() > 100
    assert exact(image, view3d.UNSEEN_POINT).sum() > 1000
    done = subprocess.run(
        [sys.executable, "-m", "recordings", "view", str(room_xef), "--3d", "--out", str(tmp_path / "v.avi"),
         "--max-frames", "2", "--width", "480"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    capture = cv2.VideoCapture(str(tmp_path / "v.avi"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    assert size == (480, 270)
    done = subprocess.run(  # an image name: numbered images beside it, not one JPEG named .png
        [sys.executable, "-m", "recordings", "view", str(room_xef), "--3d", "--out",
         str(tmp_path / "room.png"), "--max-frames", "2", "--width", "320"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 2 frames" in done.stdout
    assert not (tmp_path / "room.png").exists()
    for index in range(2):
        image = cv2.imread(str(tmp_path / f"room_{index:06d}.png"))[..., ::-1]
        assert image.shape == (180, 320, 3) and exact(image, view3d.PERSON_COLOURS[0]).sum() > 10


def test_room_without_a_floor_is_drawn_in_the_sensor_frame(tmp_path: Path) -> None:
    """Too few feet for a floor: no grid, and the survey says so."""
    path = tmp_path / "short.xef"
    sample_recording(path, frames=2)
    room_survey = view3d.survey(path, CONFIG)
    assert room_survey.room.floor is None and room_survey.feet == 6
    described = room_survey.describe()
    assert described == ("floor: not found (only 6 tracked foot positions of people upright); drawn in the "
                         "sensor's frame")
    assert room_survey.room.sensor_position.tolist() == [0.0, 0.0, 0.0]
    assert isinstance(room_survey.room, RoomFrame)


def test_main_view_3d_without_a_display_points_to_out(
    room_xef: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["view", str(room_xef), "--3d"])
    assert stopped.value.code == 2  # a usage error, as the 2D view's without a display
    assert re.search("no display for the 3D window .* --out DIR", capsys.readouterr().err)
