"""--privacy through the running pipeline: what the window gets, what the model crops, what is recorded."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from model_files import random_checkpoint

from core.camera import DEFAULT_CAMERA
from core.frame import Body, Frame
from core.privacy import PrivacyMode, face_boxes
from live.pipeline import LivePipeline, PipelineConfig
from live.sources import FrameStream, ReplayOptions
from live.worker import RecognitionConfig

CLASSES = ("drink", "wave", "sit_down", "fall_down")
CAMERA = DEFAULT_CAMERA.scaled(640, 360)
SHAPE = (360, 640)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from core.model.profiles import pose_only, tiny
    from live.app import open_model

    folder = tmp_path_factory.mktemp("models")
    crops = random_checkpoint(folder / "crops.pt", tiny(len(CLASSES)), CLASSES, duration_s=1.0)
    pose = random_checkpoint(folder / "pose.pt", pose_only(tiny(len(CLASSES))), CLASSES, duration_s=1.0)
    return {"crops": open_model(crops, "pytorch-cpu", threads=1),
            "pose": open_model(pose, "pytorch-cpu", threads=1)}


def person(t: float) -> Body:
    joints = np.zeros((25, 3), np.float32)
    joints[:, 0] = np.linspace(-0.2, 0.2, 25)
    joints[:, 1] = np.linspace(0.2, -0.9, 25)
    joints[:, 2] = 2.8
    joints[3] = (0.05 * np.sin(t), 0.45, 2.8)  # the head, swaying a little
    joints[2] = (0.0, 0.3, 2.8)
    uv, _ = CAMERA.project(joints)
    return Body(7, joints, np.full(25, 2, np.int8), uv)


BACKGROUND = np.random.default_rng(0).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)  # texture everywhere


def room() -> FrameStream:
    def frames():
        for i in range(10**6):
            yield Frame(i / 30, BACKGROUND.copy(), [person(i / 30)], i)

    return FrameStream("textured room", frames, options=ReplayOptions(realtime=True), color_shape=SHAPE,
                       camera=CAMERA, fps=30.0)


def detail(image: np.ndarray) -> float:
    return float(np.abs(np.diff(image.astype(np.int16), axis=1)).mean())


def run(models, model: str, privacy: PrivacyMode, record_dir, seconds: float = 1.6):
    engine, inputs = models[model]
    pipeline = LivePipeline(room(), engine, inputs, PipelineConfig(
        recognition=RecognitionConfig(hop_s=0.3), privacy=privacy, record_from_start=record_dir))
    pipeline.start()
    started = time.monotonic()
    while (pipeline.stats().decisions == 0 or time.monotonic() - started < seconds) \
            and time.monotonic() < started + 20:
        time.sleep(0.05)
    return pipeline


def test_blur_reaches_the_window_the_crops_and_the_recording_before_they_see_a_face(models, tmp_path):
    pipeline = run(models, "crops", PrivacyMode.BLUR, tmp_path)
    entry, image = pipeline.latest_image()
    hops = pipeline.drain()
    summary = pipeline.stop()
    assert summary.errors == () and summary.decisions > 0
    # The window's image: each face box blurred, every other pixel exactly as the sensor gave it.
    (box,) = face_boxes(entry.bodies, CAMERA, SHAPE)
    x0, y0, x1, y1 = box
    assert detail(image[y0:y1, x0:x1]) < 0.1 * detail(BACKGROUND[y0:y1, x0:x1])
    outside = np.ones(SHAPE, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(image[outside], BACKGROUND[outside])
    # Blur still shows crops (cut from the ring's screened pixels, checked above).
    assert hops[-1].decisions[0].crops is not None
    # The recording: the face is blurred in every frame written, the rest still has its texture.
    (video,) = tmp_path.glob("*_rgb.avi")
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert sidecar["privacy"] == "blur"
    reader = cv2.VideoCapture(str(video))
    frames = 0
    while True:
        ok, frame = reader.read()
        if not ok:
            break
        (fx0, fy0, fx1, fy1), = face_boxes([person(sidecar["timestamps"][frames])], CAMERA, SHAPE)
        assert detail(frame[fy0:fy1, fx0:fx1]) < 0.2 * detail(BACKGROUND[fy0:fy1, fx0:fx1])
        assert detail(frame[:, :100]) > 0.5 * detail(BACKGROUND[:, :100])
        frames += 1
    assert frames == sidecar["frame_count"] > 10


def test_skeleton_shows_and_records_no_colour_but_feeds_a_cropping_model(models, tmp_path):
    pipeline = run(models, "crops", PrivacyMode.SKELETON, tmp_path)
    entry, image = pipeline.latest_image()
    hops = pipeline.drain()
    ring_bytes = pipeline.ring.nbytes
    summary = pipeline.stop()
    assert summary.errors == () and summary.decisions > 0
    assert image is None  # nothing for the window or a screenshot
    assert ring_bytes > 0  # the model crops colour: held in memory for it only
    assert all(d.crops is None for hop in hops for d in hop.decisions)  # no crops to display
    assert list(tmp_path.glob("*.skeleton")) and not list(tmp_path.glob("*_rgb.avi"))
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert sidecar["video"] is None and sidecar["privacy"] == "skeleton"


def test_skeleton_with_a_skeleton_only_model_keeps_no_pixels_at_all(models, tmp_path):
    pipeline = run(models, "pose", PrivacyMode.SKELETON, tmp_path)
    assert pipeline.ring.nbytes == 0
    assert pipeline.latest_image()[1] is None
    summary = pipeline.stop()
    assert summary.errors == () and summary.decisions > 0 and summary.ring_mb == 0
    assert not list(tmp_path.glob("*_rgb.avi"))


def test_off_keeps_the_image_as_it_came(models, tmp_path):
    pipeline = run(models, "crops", PrivacyMode.OFF, tmp_path, seconds=0.3)
    _, image = pipeline.latest_image()
    pipeline.stop()
    assert np.array_equal(image, BACKGROUND)
    assert list(tmp_path.glob("*_rgb.avi"))
