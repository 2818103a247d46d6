"""The recognition worker: windows, crops, one engine call per hop, smoothing, skipping (live/worker.py)."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from model_files import random_checkpoint

from core.camera import DEFAULT_CAMERA
from core.frame import Body, Frame
from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION
from live.capture import Capture, FrameRing
from live.pipeline import LivePipeline, PipelineConfig
from live.sources import EndOfStream, FrameStream, ReplayOptions, replay_source
from live.tracks import TrackSnapshot, TrackTable
from live.worker import (
    PARTNER_MAX_M,
    Decision,
    Hop,
    RecognitionConfig,
    RecognitionWorker,
    ScoreSmoother,
    _at_samples,
    _nearest_partner,
    softmax,
    without_partner,
)

CLASSES = ("drink", "wave", "sit_down", "fall_down")
SCALE = 4  # tests downscale 1920x1080 to 480x270 to keep the ring small
CAMERA = DEFAULT_CAMERA.scaled(1920 // SCALE, 1080 // SCALE)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny-profile network with random weights, as a checkpoint, opened on PyTorch (fast to open)."""
    from core.engines import open_engine
    from core.model.profiles import tiny
    from live.app import open_model

    path = random_checkpoint(tmp_path_factory.mktemp("model") / "tiny.pt", tiny(len(CLASSES)), CLASSES,
                             duration_s=1.0)
    engine, inputs = open_model(path, "pytorch-cpu")
    assert isinstance(engine, type(open_engine(path, "pytorch-cpu")))
    return engine, inputs


class SpyEngine:
    """Counts engine calls and keeps their inputs."""

    def __init__(self, inner, delay_s: float = 0.0) -> None:
        self.inner = inner
        self.name, self.metadata = "spy", inner.metadata
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []
        self.delay_s = delay_s

    def run(self, crops, skeleton):
        self.calls.append((crops.copy(), skeleton.copy()))
        if self.delay_s:
            time.sleep(self.delay_s)
        return self.inner.run(crops, skeleton)


def downscaled(source: FrameStream) -> FrameStream:
    """The same recording at 1/SCALE resolution (pixels and colour joints)."""

    def frames():
        source.open()
        while True:
            try:
                f = source.read()
            except EndOfStream:
                return
            color = None if f.color is None else cv2.resize(f.color, (1920 // SCALE, 1080 // SCALE),
                                                              interpolation=cv2.INTER_AREA)
            bodies = [replace(b, joints_color=b.joints_color / SCALE) for b in f.bodies]
            yield Frame(f.timestamp, color, bodies, f.index)

    shape = None if source.color_shape is None else (1080 // SCALE, 1920 // SCALE)
    return FrameStream(source.name, frames, options=ReplayOptions(realtime=False), color_shape=shape,
                       camera=CAMERA, fps=30.0)


def fill(source: FrameStream, capacity: int = 64, limit: int | None = None):
    """Read a whole (fast) source through a capture into a ring + tracks, on this thread."""
    source.open()
    ring = FrameRing(capacity, source.color_shape)
    tracks = TrackTable(history=capacity)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    count = 0
    while limit is None or count < limit:
        try:
            f = source.read()
        except EndOfStream:
            break
        capture.accept(f, time.perf_counter())
        count += 1
    return ring, tracks


@pytest.fixture()
def ntu_clip(shared_data, tmp_path):
    name = "S001C001P001R001A001"  # drink water, one person, with the RGB video
    (tmp_path / f"{name}.skeleton").symlink_to(shared_data / "ntu" / "skeletons" / f"{name}.skeleton")
    (tmp_path / f"{name}_rgb.avi").symlink_to(shared_data / "ntu" / "rgb" / f"{name}_rgb.avi")
    return tmp_path


# ---- pieces ---------------------------------------------------------------------------------------

def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, 0.0]]))
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert p[1, 0] == pytest.approx(1.0)


def test_smoothing_follows_its_time_constant():
    smoother = ScoreSmoother(time_constant_s=1.0)
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(smoother.update(5, a, at=0.0), a)  # first decision: as is
    weight = 1 - np.exp(-0.5)
    np.testing.assert_allclose(smoother.update(5, b, at=0.5), [1 - weight, weight])
    np.testing.assert_allclose(smoother.update(6, b, at=0.5), b)  # per person
    smoother.keep_only({6})
    np.testing.assert_allclose(smoother.update(5, b, at=0.6), b)  # person 5 was forgotten
    np.testing.assert_allclose(ScoreSmoother(0.0).update(1, b, at=0.0), b)
    # A caller reusing one array for every hop: the first update kept it, and the next one averaged the
    # new scores with themselves (no smoothing at all).
    reused, smoother = np.array([1.0, 0.0]), ScoreSmoother(time_constant_s=1.0)
    smoother.update(7, reused, at=0.0)
    reused[:] = [0.0, 1.0]
    np.testing.assert_allclose(smoother.update(7, reused, at=0.5), [1 - weight, weight])


def test_mean_lag_is_the_mean_age_of_the_windows_a_smoothed_score_averages():
    # Feed one-hot "window k" scores at 0.2 s hops; the smoothed vector's weights say how old each is.
    hop, hops = 0.2, 200
    smoother = ScoreSmoother(time_constant_s=0.5)
    for k in range(hops):
        smoothed = smoother.update(1, np.eye(hops)[k], at=k * hop)
    ages = (hops - 1 - np.arange(hops)) * hop
    assert smoother.mean_lag_s(hop) == pytest.approx(float(smoothed @ ages), abs=1e-6)
    assert smoother.mean_lag_s(hop) == pytest.approx(0.407, abs=1e-3)
    assert ScoreSmoother(0.0).mean_lag_s(hop) == 0.0


def test_decision_json_has_time_person_topk_attention_latency():
    decision = Decision(time=1700000000.0, stream_time=3.2, tracking_id=9,
                        topk=(("drink", 0.7), ("wave", 0.2)), parts=("left_hand", "right_hand", "full_body"),
                        attention=np.array([0.5, 0.3, 0.2]), latency_s=0.1234, number=2)
    record = decision.to_json()
    assert record == {
        "time": 1700000000.0, "stream_time": 3.2, "window_start": 0.0, "person": 9, "number": 2,
        "topk": [{"class": "drink", "p": 0.7}, {"class": "wave", "p": 0.2}],
        "attention": {"left_hand": 0.5, "right_hand": 0.3, "full_body": 0.2},
        "latency_ms": 123.4,
    }
    # Ground truth only where the source knows it.
    known = replace(decision, window_start=1.2, truth="drink", truth_now="no_action").to_json()
    assert (known["window_start"], known["truth"], known["truth_now"]) == (1.2, "drink", "no_action")
    # How much of the body the sensor tracked, where the worker knows it; read back from the line.

    guessed = replace(decision, tracked=0.41234).to_json()
    assert guessed["tracked"] == 0.412 and Decision.from_json(guessed).tracked == 0.412
    assert Decision.from_json(record).tracked is None


def test_model_inputs_reject_parts_live_cannot_crop(tiny_model):
    _, inputs = tiny_model
    with pytest.raises(ValueError, match="full_image"):
        replace(inputs, parts=("full_image",))


def test_a_model_for_a_sensor_without_a_map_is_refused_before_an_engine_is_built(monkeypatch, tmp_path):
    from core.engines import selection as engines  # where open_engine looks _open up
    from core.model.profiles import tiny
    from core.skeleton import SkeletonLayout
    from live.app import open_model

    def no_engine(*_, **__):
        raise AssertionError("an engine was built for a model live cannot feed")

    # A sensor with 15 joints (say, OpenNI's): no map from the Kinect v2 leads to it.
    openni = SkeletonLayout("openni15", KINECT_V2.joint_names[:15], KINECT_V2.parents[:15], 1, 2, 4, 8, 3,
                            (7, 6, 5), (11, 10, 9))
    monkeypatch.setattr("core.skeleton.LAYOUTS", (KINECT_V2, openni))
    path = random_checkpoint(tmp_path / "openni.pt", replace(tiny(len(CLASSES)), num_joints=15), CLASSES,
                             layout="openni15")
    monkeypatch.setattr(engines, "_open", no_engine)
    with pytest.raises(ValueError, match="openni15 skeletons .15 joints.; live sources give Kinect v2"):
        open_model(path, "auto")


def test_a_kinect_v1_model_is_fed_v2_bodies_through_the_joint_map(ntu_clip):
    from core.joint_maps import KINECT_V2_TO_V1
    from core.skeleton import KINECT_V1, normalize_window
    from live.app import open_model

    nucla = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "nucla_pose.pt"  # Kinect v1
    engine, inputs = open_model(nucla, "pytorch-cpu", threads=1)
    assert inputs.layout == KINECT_V1 and inputs.num_bodies == 1 and inputs.parts == ()
    ring, tracks = fill(downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False), color=False)))
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None)
    hop = worker.step(ring.latest())
    assert hop is not None and len(hop.decisions) == 1
    _, skeleton = spy.calls[0]
    assert skeleton.shape == (1, inputs.window.num_frames, 1, 20, 3)
    # Exactly the v2 joints of the window, mapped and normalised as the v1 model was trained.
    person = tracks.snapshot()[0]
    from core.window import window_indices

    index = window_indices(person.timestamps, ring.latest().timestamp, inputs.window)
    mapped, states = KINECT_V2_TO_V1.apply(person.joints[index][:, None], person.states[index][:, None])
    np.testing.assert_allclose(skeleton[0], normalize_window(mapped, states, KINECT_V1), atol=1e-5)
    assert {name for name, _ in hop.decisions[0].topk} <= set(inputs.class_names)


def test_a_hop_longer_than_the_models_window_is_refused(tiny_model) -> None:
    # The frames between two windows would never be looked at (the app said nothing, and decided seldom).
    engine, inputs = tiny_model  # 1 s windows
    ring, tracks = FrameRing(4, None), TrackTable(history=4)
    def worker(hop_s: float) -> RecognitionWorker:
        return RecognitionWorker(ring, tracks, engine, inputs, CAMERA, lambda hop: None,
                                 RecognitionConfig(hop_s=hop_s))

    with pytest.raises(ValueError, match="--hop 1.5 s: longer than the model's 1 s window"):
        worker(1.5)
    worker(1.0)  # a window's length: every frame is in one window


# ---- one hop on real data -------------------------------------------------------------------------

def test_a_hop_on_the_real_drinking_clip(tiny_model, ntu_clip):
    engine, inputs = tiny_model
    ring, tracks = fill(downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False))))
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None,
                               RecognitionConfig(top_k=3))
    hop = worker.step(ring.latest())
    assert isinstance(hop, Hop) and len(hop.decisions) == 1 and len(spy.calls) == 1
    crops, skeleton = spy.calls[0]
    size, frames = inputs.glimpse.crop_size, inputs.window.num_frames
    assert crops.shape == (1, 3, frames, size, size, 3) and crops.dtype == np.uint8  # as cut: see Worker
    assert skeleton.shape == (1, frames, 2, 25, 3)
    assert crops.max() > 50  # real pixels, not black
    assert np.abs(skeleton[0, :, 0]).sum() > 0 and np.abs(skeleton[0, :, 1]).sum() == 0  # one person
    decision = hop.decisions[0]
    assert decision.tracking_id == tracks.ids()[0]
    probabilities = [p for _, p in decision.topk]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
    assert {name for name, _ in decision.topk} <= set(CLASSES)
    assert decision.attention.shape == (3,) and decision.attention.sum() == pytest.approx(1.0, abs=1e-4)
    assert decision.crops.shape == (3, size, size, 3) and decision.crops.dtype == np.uint8
    assert 0 <= decision.latency_s < 30 and worker.counters.decisions == 1


def test_crops_kept_from_hop_to_hop_are_the_crops_a_fresh_worker_cuts(tiny_model, ntu_clip, monkeypatch):
    """A worker keeps each person's crops from its last window and cuts only the frames new since (and
    those whose boxes moved onto other pixels); what it feeds the engine is what cutting everything
    gives, hop after hop of the real drinking clip (her hands move)."""
    import core.glimpse

    engine, inputs = tiny_model
    source = downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False)))
    source.open()
    ring = FrameRing(64, source.color_shape)
    tracks = TrackTable(history=64)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    kept, fresh_spy = SpyEngine(engine), SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, kept, inputs, CAMERA, lambda hop: None)
    cut = []
    original = core.glimpse.crop_frame

    def counting(*args, **kwargs):
        cut.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(core.glimpse, "crop_frame", counting)
    cuts_per_hop = []
    for index in range(100):
        capture.accept(source.read(), time.perf_counter())
        # Every 0.5 s: four of this model's sampling intervals (1 s / 8), so windows share half their
        # frames (the bundled models sample every 0.1 or 0.2 s and hop 0.2 s: they share 18 of 20 or 9 of 10).
        if index >= 30 and index % 15 == 0:
            cut.clear()
            assert worker.step(ring.latest()) is not None
            cuts_per_hop.append(len(cut))
            fresh = RecognitionWorker(ring, tracks, fresh_spy, inputs, CAMERA, lambda hop: None)
            fresh.step(ring.latest())
            assert np.array_equal(kept.calls[-1][0], fresh_spy.calls[-1][0])
    frames = inputs.window.num_frames
    # Four frames new at each hop, and at most one whose smoothed boxes were still settling.
    assert cuts_per_hop[0] == frames and max(cuts_per_hop[1:]) <= frames // 2 + 1, cuts_per_hop


def test_two_people_go_through_one_engine_call_with_their_partner(tiny_model, shared_data):
    engine, inputs = tiny_model
    source = replay_source(shared_data / "ntu" / "skeletons" / "S001C003P008R002A058.skeleton",
                           ReplayOptions(realtime=False))  # handshaking; skeleton only
    ring, tracks = fill(source, capacity=80)
    assert source.color_shape is None and len(tracks) == 2
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, DEFAULT_CAMERA, lambda hop: None)
    hop = worker.step(ring.latest())
    assert len(spy.calls) == 1 and len(hop.decisions) == 2
    crops, skeleton = spy.calls[0]
    assert crops.shape[0] == 2 and crops.max() == 0  # no colour stream: black crops
    for person in range(2):  # each person is body 0 of its own window, the partner body 1
        assert np.abs(skeleton[person, :, 0]).sum() > 0 and np.abs(skeleton[person, :, 1]).sum() > 0
    assert {d.tracking_id for d in hop.decisions} == set(tracks.ids())
    # Each names the other as their partner (a two-person action's alert is the pair's, naming both).
    first, second = hop.decisions
    assert (first.partner, second.partner) == (second.tracking_id, first.tracking_id)
    assert (first.partner_number, second.partner_number) == (second.number, first.number) != (0, 0)
    assert first.to_json()["partner"] == second.tracking_id


def test_a_lone_persons_two_person_actions_go_to_no_action():
    probabilities = np.array([0.9, 0.06, 0.04])  # hugging, patient fell, no_action
    hugging = np.array([True, False, False])
    # The fall stays at 6%: spread in proportion it would have become 60%, an alert.
    assert without_partner(probabilities, hugging, no_action=2) == pytest.approx([0, 0.06, 0.94])
    # Without no_action the rest are renormalised; with nothing left, zeros.
    assert without_partner(probabilities, hugging, no_action=None) == pytest.approx([0, 0.6, 0.4])
    assert not without_partner(probabilities, np.array([True, True, True]), no_action=None).any()


def test_two_person_actions_are_decided_only_with_somebody_near(tiny_model, ntu_clip, shared_data):
    """The real drinking clip (one person) never gets the class marked two-person; the real handshake
    (two people a metre apart) does, the same network's output untouched."""
    engine, inputs = tiny_model
    wave_needs_partner = replace(inputs, needs_partner=(False, True, False, False))
    no_smoothing = RecognitionConfig(top_k=len(CLASSES), smoothing_s=0.0)
    ring, tracks = fill(downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False))))
    masked = RecognitionWorker(ring, tracks, engine, wave_needs_partner, CAMERA, lambda hop: None,
                               no_smoothing)
    as_is = RecognitionWorker(ring, tracks, engine, inputs, CAMERA, lambda hop: None, no_smoothing)
    (lone,) = masked.step(ring.latest()).decisions
    (unmasked,) = as_is.step(ring.latest()).decisions
    assert unmasked.probability("wave") > 0.05  # random weights: every class has some share
    assert lone.probability("wave") == 0.0 and sum(lone.probabilities.values()) == pytest.approx(1.0)
    share = 1 - unmasked.probability("wave")
    assert lone.probability("drink") == pytest.approx(unmasked.probability("drink") / share, rel=1e-4)

    source = replay_source(shared_data / "ntu" / "skeletons" / "S001C003P008R002A058.skeleton",
                           ReplayOptions(realtime=False))
    ring, tracks = fill(source, capacity=80)
    pair = RecognitionWorker(ring, tracks, engine, wave_needs_partner, DEFAULT_CAMERA, lambda hop: None,
                             no_smoothing)
    decisions = pair.step(ring.latest()).decisions
    assert len(decisions) == 2 and all(d.probability("wave") > 0.05 for d in decisions)

    # A model that knows only two-person actions decides nothing for the person alone.
    ring, tracks = fill(downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False))))
    pairs_only = RecognitionWorker(ring, tracks, engine, replace(inputs, needs_partner=(True,) * 4), CAMERA,
                                   lambda hop: None, no_smoothing)
    hop = pairs_only.step(ring.latest())
    assert hop.decisions == () and pairs_only.counters.decisions == 0


def test_a_partner_the_sensor_lost_counts_for_five_seconds(tiny_model, shared_data):
    """During a hug the sensor often loses one of the two bodies: the real handshake clip, then its first
    person alone (the other gone from the frames) -- two-person actions stay possible for 5 s after the
    last window with the partner in it, not after."""
    engine, inputs = tiny_model
    source = replay_source(shared_data / "ntu" / "skeletons" / "S001C003P008R002A058.skeleton",
                           ReplayOptions(realtime=False))
    pair = read_all(source)
    last = pair[-1]
    alone = [Frame(last.timestamp + (i + 1) / 30, None, last.bodies[:1], last.index + i + 1)
             for i in range(200)]
    ring, tracks = FrameRing(80, None), TrackTable(history=80)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    wave_needs_partner = replace(inputs, needs_partner=(False, True, False, False))
    worker = RecognitionWorker(ring, tracks, engine, wave_needs_partner, DEFAULT_CAMERA, lambda hop: None,
                               RecognitionConfig(smoothing_s=0.0))
    wave, partners = {}, {}
    for i, frame in enumerate(pair + alone):
        capture.accept(frame, time.perf_counter())
        if i >= 30 and i % 6 == 0:  # a hop every 0.2 s once a window of history is there
            hop = worker.step(ring.latest())
            first = next(d for d in hop.decisions if d.tracking_id == last.bodies[0].tracking_id)
            wave[round(frame.timestamp - last.timestamp, 1)] = first.probability("wave")
            partners[round(frame.timestamp - last.timestamp, 1)] = first.partner
    # The last window with the partner in it ends up to a window (1 s) after they vanished; 5 s from then.
    assert all(p > 0.01 for t, p in wave.items() if t <= 5.0)
    assert all(p == 0.0 for t, p in wave.items() if t >= 5.0 + inputs.window.duration_s + 0.2)
    # Whom the decisions say they are with follows the same memory.
    assert all(p == last.bodies[1].tracking_id for t, p in partners.items() if t <= 5.0)
    assert all(p is None for t, p in partners.items() if t >= 5.0 + inputs.window.duration_s + 0.2)
    assert max(wave) > 6


def test_a_ghost_body_for_a_few_frames_is_no_partner(tiny_model, shared_data):
    """A Kinect ghost (a coat on a chair) flickers in beside a person alone for a few frames: it must not
    open the two-person actions to them for the next five seconds."""
    engine, inputs = tiny_model
    source = replay_source(shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton",
                           ReplayOptions(realtime=False))
    frames = read_all(source)
    person = frames[0].bodies[0]
    ghost = replace(person, tracking_id=person.tracking_id + 1,
                    joints=person.joints + np.float32([0.5, 0, 0]))
    for frame in frames[40:44]:  # 4 frames, 0.13 s
        frame.bodies = [*frame.bodies, ghost]
    ring, tracks = FrameRing(80, None), TrackTable(history=80)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    wave_needs_partner = replace(inputs, needs_partner=(False, True, False, False))
    worker = RecognitionWorker(ring, tracks, engine, wave_needs_partner, DEFAULT_CAMERA, lambda hop: None,
                               RecognitionConfig(smoothing_s=0.0))
    decided = 0
    for i, frame in enumerate(frames):
        capture.accept(frame, time.perf_counter())
        if i >= 30 and i % 6 == 0:
            hop = worker.step(ring.latest())
            for decision in hop.decisions:
                if decision.tracking_id == person.tracking_id:
                    assert decision.probability("wave") == 0.0, f"frame {i}"
                    assert decision.partner is None and "partner" not in decision.to_json()
                    decided += 1
    assert decided >= 8


def test_a_ghost_nearer_than_the_partner_is_not_fed_in_their_place(tiny_model, shared_data):
    """PKU-MMD 0015-L: a fragment near the sensor for two frames, nearer to a person than their partner
    (1.8 m away, there the whole window), was fed as the second body in the partner's place for a whole
    window, while the decision named the partner: a punch read as a hug."""
    engine, inputs = tiny_model
    source = replay_source(shared_data / "ntu" / "skeletons" / "S001C003P008R002A058.skeleton",
                           ReplayOptions(realtime=False))
    frames = read_all(source)[:60]
    person, partner = frames[-1].bodies[:2]
    for frame in frames[-12:-10]:  # two frames, 0.07 s, 0.3 m from the person, gone 0.3 s before the end
        near = frame.bodies[0].joints + np.float32([0.3, 0, 0])
        ghost = replace(frame.bodies[0], tracking_id=999, joints=near)
        frame.bodies = [*frame.bodies, ghost]
    ring, tracks = FrameRing(80, None), TrackTable(history=80)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    for frame in frames:
        capture.accept(frame, time.perf_counter())
    worker = RecognitionWorker(ring, tracks, engine, inputs, DEFAULT_CAMERA, lambda hop: None)
    everyone = tracks.snapshot()
    decided = next(s for s in everyone if s.tracking_id == person.tracking_id)
    crops = np.zeros((len(inputs.parts), inputs.window.num_frames, inputs.glimpse.crop_size,
                      inputs.glimpse.crop_size, 3), np.uint8)
    _, _, near, _ = worker._window(decided, everyone, frames[-1].timestamp, crops)
    assert near is not None and near.tracking_id == partner.tracking_id  # the ghost fed: no partner near


def test_a_real_kinect_fragment_is_not_fed_as_the_partner(tiny_model, shared_data):
    """PKU-MMD 0015-L at 37.2 s: a fragment near the sensor, two frames long and gone since, was nearer
    than the real partner (seen for 1.6 s of the window, 1.8 m away), and was fed in their place."""
    engine, inputs = tiny_model
    sequence = shared_data / "pkummd" / "skeletons" / "0015-L.txt.xz"
    source = replay_source(sequence, ReplayOptions(realtime=False))
    ring, tracks = FrameRing(80, None), TrackTable(history=80)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    for frame in read_all(source):
        if frame.timestamp > 37.2 + 1e-6:
            break
        capture.accept(frame, time.perf_counter())
    worker = RecognitionWorker(ring, tracks, engine, inputs, DEFAULT_CAMERA, lambda hop: None)
    everyone = tracks.snapshot()
    crops = np.zeros((len(inputs.parts), inputs.window.num_frames, inputs.glimpse.crop_size,
                      inputs.glimpse.crop_size, 3), np.uint8)
    person = next(s for s in everyone if s.number == 1)
    _, _, near, _ = worker._window(person, everyone, ring.latest().timestamp, crops)
    assert near is not None and near.number == 2  # the fragment fed: no partner counted near


def read_all(source: FrameStream) -> list[Frame]:
    source.open()
    frames = []
    while True:
        try:
            frames.append(source.read())
        except EndOfStream:
            return frames


def test_nobody_with_enough_history_means_no_engine_call(tiny_model, ntu_clip):
    engine, inputs = tiny_model
    ring, tracks = fill(downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False))), limit=10)
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None)
    assert worker.step(ring.latest()) is None  # 10 frames = 0.3 s of a 1 s window
    assert spy.calls == []


def test_frames_overwritten_during_the_crop_are_detected_not_used(tiny_model, ntu_clip):
    engine, inputs = tiny_model
    source = downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False)))
    source.open()
    ring = FrameRing(6, source.color_shape)  # far less than a window
    tracks = TrackTable(history=64)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    for _ in range(40):
        capture.accept(source.read(), time.perf_counter())
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None)
    assert worker.step(ring.latest()) is None
    assert worker.counters.stale_windows == 1 and spy.calls == []


def room_frames(count: int, people: int = 1, *, color: bool = True) -> list[Frame]:
    """`count` frames at 30 fps of `people` standing 0.8 m apart (ids 100, 101, ...), 270x480 noise."""
    rng = np.random.default_rng(0)
    return [Frame(i / 30, rng.integers(0, 255, (270, 480, 3), dtype=np.uint8) if color else None,
                  [standing(100 + p, -0.6 + 0.8 * p) for p in range(people)], i) for i in range(count)]


def capturing(ring: FrameRing, tracks: TrackTable) -> Capture:
    """A capture into `ring` and `tracks`, fed frame by frame with `accept`."""
    source = FrameStream("synthetic", lambda: iter(()), options=ReplayOptions(realtime=False),
                         color_shape=ring.color_shape, camera=CAMERA, fps=30.0)
    return Capture(source, ring, tracks, period_s=1 / 30)


def test_a_window_whose_frames_the_ring_already_overwrote_is_stale_not_colourless(tiny_model):
    # A ring shorter than a window: most of the window's frames are gone before their crops are cut.
    # Refused as stale (the ring's doing) and never fed to the engine; counted as colourless instead, the
    # log would blame a damaged video.
    engine, inputs = tiny_model
    ring, tracks = FrameRing(6, (270, 480)), TrackTable(history=64)
    capture = capturing(ring, tracks)
    for f in room_frames(40):
        capture.accept(f, time.perf_counter())
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None)
    assert worker.step(ring.latest()) is None
    assert worker.counters.stale_windows == 1 and worker.counters.colourless_windows == 0
    assert spy.calls == []


def test_frames_overwritten_while_their_crops_are_cut_are_not_fed_to_the_engine(tiny_model, monkeypatch):
    # The capture thread never waits for the worker: it may overwrite a window's frames while the worker
    # is cutting crops out of them. Those crops may be torn (half one frame, half another): the window is
    # refused, not decided on.
    import live.worker

    engine, inputs = tiny_model
    frames = room_frames(80)
    ring, tracks = FrameRing(40, (270, 480)), TrackTable(history=64)
    capture = capturing(ring, tracks)
    for f in frames[:40]:
        capture.accept(f, time.perf_counter())
    cut = live.worker.WindowCrops.cut

    def cut_while_the_capture_goes_on(self, *args, **kwargs):
        result = cut(self, *args, **kwargs)
        for f in frames[40:]:  # a whole ring of new frames arrived meanwhile
            capture.accept(f, time.perf_counter())
        return result

    monkeypatch.setattr(live.worker.WindowCrops, "cut", cut_while_the_capture_goes_on)
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None)
    assert worker.step(ring.entry(39)) is None
    assert worker.counters.stale_windows == 1 and spy.calls == []


def test_decisions_rank_the_classes_best_first_and_name_the_persons_number(tiny_model):
    # The window and the alerts show the top classes, best first, for "person 1", "person 2": the
    # tracking id (100, 101: a Kinect's are 64-bit) is not what staff read.
    engine, inputs = tiny_model
    ring, tracks = FrameRing(80, None), TrackTable(history=80)
    capture = capturing(ring, tracks)
    for f in room_frames(40, people=2, color=False):
        capture.accept(f, time.perf_counter())
    worker = RecognitionWorker(ring, tracks, engine, inputs, CAMERA, lambda hop: None,
                               RecognitionConfig(top_k=3))
    decisions = worker.step(ring.latest()).decisions
    assert [(d.tracking_id, d.number) for d in decisions] == [(100, 1), (101, 2)]
    for d in decisions:
        best = sorted(d.probabilities.items(), key=lambda item: -item[1])[:3]
        assert [name for name, _ in d.topk] == [name for name, _ in best]
        assert [p for _, p in d.topk] == sorted((p for _, p in d.topk), reverse=True)


def test_the_smoothed_scores_of_people_who_left_are_forgotten(tiny_model):
    # A service runs for weeks and a Kinect never gives an id twice: the smoothing kept for every person
    # ever seen would grow without end. Once a person's track retires, their scores go with it.
    engine, inputs = tiny_model
    frames = room_frames(90, people=2, color=False)
    for f in frames[45:]:  # person 101 left at 1.5 s; retired a second later
        f.bodies.pop()
    ring, tracks = FrameRing(100, None), TrackTable(history=100, retire_after_s=1.0)
    capture = capturing(ring, tracks)
    worker = RecognitionWorker(ring, tracks, engine, inputs, CAMERA, lambda hop: None)
    for f in frames[:40]:
        capture.accept(f, time.perf_counter())
    assert [d.tracking_id for d in worker.step(ring.latest()).decisions] == [100, 101]
    assert set(worker._smoother._state) == {100, 101}
    for f in frames[40:]:
        capture.accept(f, time.perf_counter())
    assert tracks.ids() == [100]
    assert [d.tracking_id for d in worker.step(ring.latest()).decisions] == [100]
    assert set(worker._smoother._state) == {100}


# ---- the worker thread under load -----------------------------------------------------------------

def standing(tracking_id: int, x: float) -> Body:
    """A person standing 2.5 m from the sensor (joint positions from the layout's bones)."""
    heights = {0: 0.0, 1: 0.25, 20: 0.5, 2: 0.55, 3: 0.7, 4: 0.48, 8: 0.48, 5: 0.2, 9: 0.2, 6: 0.0, 10: 0.0,
               7: -0.05, 11: -0.05, 21: -0.12, 23: -0.12, 22: -0.05, 24: -0.05, 12: -0.05, 16: -0.05,
               13: -0.45, 17: -0.45, 14: -0.85, 18: -0.85, 15: -0.9, 19: -0.9}
    side = {4: 1, 5: 1, 6: 1, 7: 1, 21: 1, 22: 1, 12: 1, 13: 1, 14: 1, 15: 1,
            8: -1, 9: -1, 10: -1, 11: -1, 23: -1, 24: -1, 16: -1, 17: -1, 18: -1, 19: -1}
    joints = np.array([[x + 0.2 * side.get(j, 0), heights[j], 2.5] for j in range(25)], np.float32)
    uv, _ = CAMERA.project(joints)
    return Body(tracking_id, joints, np.full(25, 2, np.int8), uv)


def synthetic_room(seconds: float, people: int = 1) -> FrameStream:
    def frames():
        rng = np.random.default_rng(0)
        for i in range(int(seconds * 30)):
            image = rng.integers(0, 255, (270, 480, 3), dtype=np.uint8)
            yield Frame(i / 30, image, [standing(100 + p, -0.6 + 0.8 * p) for p in range(people)], i)

    return FrameStream("synthetic", frames, options=ReplayOptions(realtime=True), color_shape=(270, 480),
                       camera=CAMERA, fps=30.0)


def run_in_lockstep(frames, engine, inputs, hop_s: float):
    """`frames` (270x480) replayed as fast as possible, every frame examined: (pipeline, its summary)."""
    source = FrameStream("synthetic", frames, options=ReplayOptions(realtime=False), color_shape=(270, 480),
                         camera=CAMERA, fps=30.0)
    pipeline = LivePipeline(source, engine, inputs,
                            PipelineConfig(recognition=RecognitionConfig(hop_s=hop_s), lockstep=True))
    pipeline.start()
    while not pipeline.ended:
        time.sleep(0.02)
    return pipeline, pipeline.stop()


def test_a_silent_sensor_skips_no_hops(tiny_model):
    """A sensor that sends nothing for a minute, then goes on: no hop came due in the silence (nothing was
    there to decide on), so none was skipped for being busy; the status line said thousands were."""
    engine, inputs = tiny_model

    def frames():
        for i in range(120):  # 2 s, a minute of silence, 2 s
            yield Frame(i / 30 + (60.0 if i >= 60 else 0.0), np.zeros((270, 480, 3), np.uint8),
                        [standing(7, 0.0)], i)

    _, summary = run_in_lockstep(frames, engine, inputs, hop_s=0.2)
    assert summary.hops > 5 and summary.skipped_hops == 0

    # Counted on the frames that came in, whenever the worker looks: a hop at 2 s, the sensor silent, then
    # frames at 62 s and 62.033 s. A worker that wakes for the first decides there: none skipped; one
    # that wakes a frame late decides at the second, and an idle one would not have run two: none either.
    # Busy for a second instead (frames every 1/30 s): the four hops due in it were skipped.
    ring = FrameRing(256, None)
    worker = RecognitionWorker(ring, TrackTable(history=256), engine, inputs, CAMERA, lambda hop: None,
                               RecognitionConfig(hop_s=0.2))
    times = [*(i / 30 for i in range(61)), 62.0, 62.0 + 1 / 30, *(63.0 + i / 30 for i in range(31))]
    for t in times:
        ring.push(Frame(t, None, [], 0), t, 0.0)
    worker._last_end, worker._walked = 2.0, 60
    assert worker._skipped_hops(61) == 0 and worker._skipped_hops(62) == 0
    worker._last_end, worker._walked, worker._idle_due = 63.0, 63, None
    assert worker._skipped_hops(len(times) - 1) == 4


def test_hops_run_late_one_after_another_count_those_an_idle_worker_would_have_run(tiny_model):
    # 0.3 s a hop at a 0.2 s hop, frames every 1/30 s: hops run at 0, 0.3, 0.6, ... while an idle worker
    # runs one at 0.2, 0.4, ...: a third never run. Counted from each late hop, each looked on time and
    # the status line said "0 hops skipped" while the decisions came every 0.3 s.
    engine, inputs = tiny_model
    ring = FrameRing(256, None)
    worker = RecognitionWorker(ring, TrackTable(history=256), engine, inputs, CAMERA, lambda hop: None,
                               RecognitionConfig(hop_s=0.2))
    for i in range(118):
        ring.push(Frame(i / 30, None, [], i), i / 30, 0.0)
    worker._last_end, worker._walked = 0.0, 0
    skipped = 0
    for run_at in range(9, 118, 9):  # 13 late hops after the first, to 3.9 s; an idle worker's 19 to 3.8 s
        skipped += worker._skipped_hops(run_at)
        worker._last_end = run_at / 30
    assert skipped == 19 - 13


def test_a_slow_engine_skips_hops_instead_of_queueing_them(tiny_model):
    engine, inputs = tiny_model
    slow = SpyEngine(engine, delay_s=0.4)
    config = PipelineConfig(recognition=RecognitionConfig(hop_s=0.1))
    pipeline = LivePipeline(synthetic_room(3.0), slow, inputs, config)
    pipeline.start()
    deadline = time.monotonic() + 10
    while not pipeline.ended and time.monotonic() < deadline:
        time.sleep(0.05)
    summary = pipeline.stop()
    # The slow engine never holds the capture up: every frame is read (a paced replay on a loaded
    # machine may miss a few, and counts them; how many is benchmarks/live_latency.py's business). Held
    # up, the capture would read a hop's 3 frames per 0.4 s engine call: about a quarter of them.
    assert summary.frames + summary.dropped == 90 and summary.frames >= 60
    assert summary.skipped_hops >= 5  # ~2 s of hops at 0.1 s, but one decision per ~0.4 s
    assert summary.hops <= 1 + 3.0 / 0.4
    # Latency stays at about one engine call: nothing piles up behind a slow engine (piled up, the last
    # of 3 s of hops would wait for the 0.4 s calls of all before it, several seconds).
    assert summary.latency_p95_s is not None and summary.latency_p95_s < 0.4 + 1.2
    assert not pipeline.capture.alive and not pipeline.worker.alive


def test_decisions_a_second_late_are_said_as_the_computer_not_keeping_up(tiny_model, caplog, monkeypatch):
    """Recognition slower than the room (too many people for the cores, a slow engine) said nothing: skipped
    hops and a p95 in the status line at INFO, while every alert came that much later."""
    import os

    import live.stats
    from live.headless import AlertConfig, HeadlessConfig, run_headless

    engine, inputs = tiny_model
    pipeline = LivePipeline(synthetic_room(8.0), SpyEngine(engine, delay_s=1.1), inputs,
                            PipelineConfig(recognition=RecognitionConfig(hop_s=0.1)))
    quiet = HeadlessConfig(output=Path(os.devnull), alerts=AlertConfig(classes=()))
    with caplog.at_level("INFO", logger="live.headless"):
        run_headless(pipeline, quiet)
    assert caplog.text.count("this computer is not keeping up with recognition") == 1  # once, not per check
    stats = pipeline.stats()  # within 10 s of the last decisions
    assert stats.late_decisions_s is not None and stats.late_decisions_s >= 1.1
    assert stats.troubled and re.search(r"DECISIONS \d+\.\d S LATE", stats.health())
    # Ten seconds on without a decision (the room emptied, the replay ended): no longer said.
    later = live.stats.time.monotonic() + 11.0
    monkeypatch.setattr(live.stats.time, "monotonic", lambda: later)
    assert pipeline.stats().late_decisions_s is None


def test_latency_is_measured_finer_than_windows_monotonic_clock(tiny_model, monkeypatch):
    # On Windows before Python 3.13 time.monotonic() moves in 15.6 ms steps: latencies of a few ms
    # read from it all came out as 0 or 15.6 ms, and so did the p50 / p95 the window and benchmarks print.
    engine, inputs = tiny_model
    tick, monotonic = 1 / 64, time.monotonic
    monkeypatch.setattr(time, "monotonic", lambda: monotonic() // tick * tick)
    pipeline = LivePipeline(synthetic_room(2.0), engine, inputs,
                            PipelineConfig(recognition=RecognitionConfig(hop_s=0.1)))
    pipeline.start()
    hops, deadline = [], monotonic() + 10
    while not pipeline.ended and monotonic() < deadline:
        time.sleep(0.05)
        hops += pipeline.drain()
    pipeline.stop()
    latencies = [d.latency_s for hop in hops + pipeline.drain() for d in hop.decisions]
    assert len(latencies) >= 5
    steps = [latency / tick for latency in latencies]
    assert any(abs(s - round(s)) > 1e-6 for s in steps), latencies


def test_decisions_follow_stream_time_on_a_fast_replay(tiny_model):
    engine, inputs = tiny_model
    source = synthetic_room(2.0, people=2)
    source.options = ReplayOptions(realtime=False)
    pipeline = LivePipeline(source, SpyEngine(engine, delay_s=0.0), inputs,
                            PipelineConfig(recognition=RecognitionConfig(hop_s=0.25)))
    pipeline.start()
    deadline = time.monotonic() + 20
    while not pipeline.ended and time.monotonic() < deadline:
        time.sleep(0.02)
    summary = pipeline.stop()
    hops = pipeline.drain()
    assert summary.frames == 60 and hops
    for hop in hops:
        assert len(hop.decisions) == 2
        assert {d.tracking_id for d in hop.decisions} == {100, 101}
    times = [hop.stream_time for hop in hops]
    gaps = np.diff(times)
    assert np.all(gaps >= 0.25 - 1e-6)


def test_decisions_carry_the_window_start_and_the_truth_at_its_centre(tiny_model):
    engine, inputs = tiny_model  # 1.0 s windows
    truth = lambda t: "wave" if 1.0 <= t < 2.0 else NO_ACTION  # noqa: E731

    def frames():
        for i in range(90):
            body = replace(standing(7, 0.0), truth=truth(i / 30))
            yield Frame(i / 30, np.zeros((270, 480, 3), np.uint8), [body], i)

    pipeline, _ = run_in_lockstep(frames, engine, inputs, hop_s=0.1)
    decisions = [d for hop in pipeline.drain() for d in hop.decisions]
    assert len(decisions) > 10
    for d in decisions:
        # The window is `duration_s` long: its first frame is the one nearest end - duration + 1 sample.
        spacing = inputs.window.duration_s / inputs.window.num_frames
        # (the first windows, with 0.8 of a window of history, start at the stream's first frame).
        expected = max(0.0, d.stream_time - inputs.window.duration_s + spacing)
        assert d.window_start == pytest.approx(expected, abs=1 / 30)
        assert d.truth == truth(round(d.window_centre * 30) / 30)
        assert d.truth_now == truth(d.stream_time)
    assert {d.truth for d in decisions} == {"wave", NO_ACTION}


def test_a_fast_replay_decides_at_every_hop_in_lockstep(tiny_model, ntu_clip):
    """--fast must give the hops a real-time replay gives on an idle machine: none skipped, even with an
    engine slower than the frames arrive."""
    engine, inputs = tiny_model
    spy = SpyEngine(engine, delay_s=0.05)
    source = downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False)))
    config = PipelineConfig(recognition=RecognitionConfig(hop_s=0.2), lockstep=True, hop_queue=2)
    pipeline = LivePipeline(source, spy, inputs, config)
    pipeline.start()
    deadline = time.monotonic() + 60
    while not pipeline.ended and time.monotonic() < deadline:
        time.sleep(0.3)  # a slow consumer: in lockstep the worker waits for it instead of dropping hops
        collected = getattr(pipeline, "_collected", [])
        pipeline._collected = collected + pipeline.drain()
    summary = pipeline.stop()
    hops = pipeline._collected + pipeline.drain()
    assert summary.frames == 103 and summary.skipped_hops == 0 and summary.dropped_hops == 0
    times = np.array([hop.stream_time for hop in hops])
    # The first hop once 0.8 of a window is there, then one every 0.2 s to the end of the clip.
    first = times[0]
    assert first == pytest.approx(0.8 * inputs.window.duration_s, abs=1 / 30 + 1e-6)
    expected = int((102 / 30 - first) / 0.2 + 1e-6) + 1
    assert len(hops) == expected and np.allclose(np.diff(times), 0.2, atol=1 / 30 + 1e-6)
    # Without lockstep a slow engine skips hops on the same fast replay (0.3 s per call: frames keep
    # arriving meanwhile, however fast this machine decodes the video).
    source = downscaled(replay_source(ntu_clip, ReplayOptions(realtime=False)))
    pipeline = LivePipeline(source, SpyEngine(engine, delay_s=0.3), inputs,
                            PipelineConfig(recognition=RecognitionConfig(hop_s=0.2)))
    pipeline.start()
    while not pipeline.ended:
        time.sleep(0.02)
    assert pipeline.stop().skipped_hops > 0


def test_somebody_across_the_room_is_not_fed_as_the_partner(tiny_model):
    engine, inputs = tiny_model

    def room(partner_x: float) -> FrameStream:
        def frames():
            for i in range(60):
                yield Frame(i / 30, None, [standing(1, 0.0), standing(2, partner_x)], i)

        return FrameStream("room", frames, options=ReplayOptions(realtime=False), camera=CAMERA, fps=30.0)

    for partner_x, has_partner in ((0.9, True), (3.5, False)):
        ring, tracks = fill(room(partner_x), capacity=80)
        spy = SpyEngine(engine)
        RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None).step(ring.latest())
        _, skeleton = spy.calls[0]
        assert (np.abs(skeleton[:, :, 1]).sum(axis=(1, 2, 3)) > 0).all() == has_partner


def test_a_partner_there_from_the_start_is_padded_as_the_person_is_and_a_latecomer_is_not(tiny_model):
    # Training repeats a clip's first frame for both bodies; live left the partner zero before the stream
    # began while it repeated the person's first pose (the first windows of every replay differed).
    engine, inputs = tiny_model

    def room(partner_from: int) -> FrameStream:
        def frames():
            for i in range(16):  # half the 1 s window: its first samples come before the stream's start
                people = [standing(1, 0.0)] + ([standing(2, 0.9)] if i >= partner_from else [])
                yield Frame(i / 30, None, people, i)

        return FrameStream("room", frames, options=ReplayOptions(realtime=False), camera=CAMERA, fps=30.0)

    for partner_from, padded in ((0, True), (8, False)):
        ring, tracks = fill(room(partner_from), capacity=80)
        spy = SpyEngine(engine)
        RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None,
                          RecognitionConfig(min_coverage=0.5)).step(ring.latest())
        _, skeleton = spy.calls[0]
        person, partner = (np.abs(skeleton[0, :, body]).sum(axis=(1, 2)) > 0 for body in (0, 1))
        assert person.all() and partner.all() == padded and partner[-1]


def test_a_skeleton_only_model_gets_no_crops_and_decides(tmp_path, shared_data, monkeypatch):
    from core.model.profiles import pose_only, tiny
    from live.app import open_model

    path = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(len(CLASSES))), CLASSES, duration_s=1.0)
    engine, inputs = open_model(path, "pytorch-cpu")
    assert inputs.parts == ()
    source = replay_source(shared_data / "ntu" / "skeletons" / "S001C003P008R002A058.skeleton",
                           ReplayOptions(realtime=False))
    ring, tracks = fill(source, capacity=80)
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, DEFAULT_CAMERA, lambda hop: None)

    def no_boxes(*_, **__):
        raise AssertionError("boxes placed for a model that takes no crops")

    monkeypatch.setattr("live.worker.part_boxes", no_boxes)
    hop = worker.step(ring.latest())
    crops, skeleton = spy.calls[0]
    assert crops.shape[:2] == (2, 0) and np.abs(skeleton).sum() > 0
    assert len(hop.decisions) == 2 and all(d.attention.shape == (0,) for d in hop.decisions)


def test_a_person_the_sensor_lost_for_a_moment_keeps_deciding_with_the_gap_as_zeros(tiny_model):
    """Two people hug, the sensor loses one of them for half a second and finds them again under a new
    tracking id: the track goes on (no second wait for a whole window), and the window the worker cuts
    has that person's joints at zero where nothing was seen, as training windows of a recording do."""
    engine, inputs = tiny_model  # 1 s windows

    def frames():
        for i in range(60):
            people = [standing(1, 0.0)]
            if not 30 <= i < 45:  # lost from 1.0 to 1.5 s, found again as id 7, 5 cm further
                people.append(standing(2 if i < 30 else 7, 0.4 if i < 30 else 0.45))
            yield Frame(i / 30, None, people, i)

    source = FrameStream("hug", frames, options=ReplayOptions(realtime=False), camera=CAMERA, fps=30.0)
    ring, tracks = fill(source, capacity=80)
    assert tracks.ids() == [1, 2] and tracks.rejoins == 1
    assert {b.tracking_id for b in ring.latest().bodies} == {1, 2}  # the ring agrees
    spy = SpyEngine(engine)
    hop = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None).step(ring.latest())
    assert sorted(d.tracking_id for d in hop.decisions) == [1, 2]
    _, skeleton = spy.calls[0]  # (people, T, bodies, J, 3), person 2 second
    times = inputs.window.sample_times(59 / 30)
    near = 1.5 * inputs.window.duration_s / inputs.window.num_frames  # the worker's frame gap
    gap = (times > 29 / 30 + near) & (times < 45 / 30 - near)  # samples with no frame of person 2 near
    assert gap.any()
    present = np.abs(skeleton[1, :, 0]).sum(axis=(1, 2)) > 0
    assert not present[gap].any() and present[~gap].all()
    assert (np.abs(skeleton[0, :, 1]).sum(axis=(1, 2)) > 0)[~gap].all()  # person 1's partner, the same
    # Each decision says how much of the person the sensor tracked: all of person 1, none of the gap.
    tracked = {d.tracking_id: d.tracked for d in hop.decisions}
    assert tracked[1] == 1.0 and tracked[2] == pytest.approx(present.mean()) and tracked[2] < 0.9


def test_padding_before_a_persons_first_frame_is_their_first_pose_not_zeros(tiny_model):
    engine, inputs = tiny_model

    def frames():
        for i in range(26):  # 0.83 s of a 1 s window: enough history, the first sample before it
            body = standing(1, 0.0)
            if i == 0:  # coming into view at its edge: the first pose inferred
                body.states[:] = 1
            yield Frame(i / 30, None, [body], i)

    source = FrameStream("new", frames, options=ReplayOptions(realtime=False), camera=CAMERA, fps=30.0)
    ring, tracks = fill(source, capacity=40)
    spy = SpyEngine(engine)
    hop = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None).step(ring.latest())
    _, skeleton = spy.calls[0]
    assert (np.abs(skeleton[0, :, 0]).sum(axis=(1, 2)) > 0).all()
    # How much was tracked is over the samples since they came: the first sample, before them, repeats
    # their inferred first pose and is not counted (0.875 when it was); the others' frames are tracked.
    assert inputs.window.sample_times(25 / 30)[0] < 0 and hop.decisions[0].tracked == 1.0


def test_somebody_who_left_the_view_is_not_decided_for(tiny_model):
    # Person 2 walked out half a second ago: enough history still covers the window, but a decision
    # about them now would be about somebody no longer there.
    engine, inputs = tiny_model

    def frames():
        for i in range(60):
            yield Frame(i / 30, None, [standing(1, -0.5)] + ([standing(2, 0.5)] if i < 45 else []), i)

    source = FrameStream("left", frames, options=ReplayOptions(realtime=False), camera=CAMERA, fps=30.0)
    ring, tracks = fill(source, capacity=80)
    spy = SpyEngine(engine)
    hop = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None).step(ring.latest())
    assert [d.tracking_id for d in hop.decisions] == [1]
    assert spy.calls[0][1].shape[0] == 1


def test_more_people_than_max_people_are_decided_for_in_turn(tiny_model):
    # Cut to the lowest ids, the same person would go without a decision for as long as the crowd stays.
    engine, inputs = tiny_model
    ring, tracks = fill(synthetic_room(2.0, people=3), capacity=80)
    spy = SpyEngine(engine)
    worker = RecognitionWorker(ring, tracks, spy, inputs, CAMERA, lambda hop: None,
                               RecognitionConfig(max_people=2))
    hops = [ring.entry(ring.latest().sequence - back) for back in (12, 6, 0)]  # 0.2 s apart
    decided = [[d.tracking_id for d in worker.step(entry).decisions] for entry in hops]
    assert decided == [[100, 101], [100, 102], [101, 102]]
    assert [skeleton.shape[0] for _, skeleton in spy.calls] == [2, 2, 2]


class OverflowingEngine:
    """An engine whose second call overflows for the first person, and whose third for everybody (an FP16
    network, say)."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.calls = inner, "overflowing", 0
        self.metadata = inner.metadata

    def run(self, crops, skeleton):
        self.calls += 1
        logits, attention = self.inner.run(crops, skeleton)
        logits = np.array(logits, copy=True)
        if self.calls == 2:
            logits[0, 0] = np.inf
        if self.calls == 3:
            logits[:] = np.nan
        return logits, attention


def test_scores_that_are_not_numbers_are_not_decided_on_and_leave_the_smoothed_scores_clean(
    tiny_model, caplog
):
    """One NaN let into the exponential average would stay there and silence that person's alerts. The
    person whose scores overflow gets no decision that hop, the others do."""
    engine, inputs = tiny_model
    ring, tracks = fill(synthetic_room(2.0, people=2), capacity=80)
    worker = RecognitionWorker(ring, tracks, OverflowingEngine(engine), inputs, CAMERA, lambda hop: None)
    assert [d.tracking_id for d in worker.step(ring.latest()).decisions] == [100, 101]
    with caplog.at_level("WARNING", "live.worker"):
        assert [d.tracking_id for d in worker.step(ring.latest()).decisions] == [101]
    assert "overflowing: scores that are not finite numbers (NaN or inf) for person 1" in caplog.text
    # Nobody's scores are numbers: nobody decided, and not a failed hop (five would stop the worker for
    # good, even for a patient alone in the room).
    assert worker.step(ring.latest()).decisions == ()
    assert worker.counters.not_finite == 3 and worker.counters.errors == 0
    for decision in worker.step(ring.latest()).decisions:
        assert all(np.isfinite(p) for _, p in decision.topk)


def _track(tracking_id: int, x: float, timestamps: list[float]) -> TrackSnapshot:
    n = len(timestamps)
    joints = np.zeros((n, 25, 3), np.float32)
    joints[:, :, 0] = x
    joints[:, :, 2] = 2.5
    joints += np.arange(n, dtype=np.float32)[:, None, None] * 0.001  # each observation its own pose
    return TrackSnapshot(tracking_id, tracking_id, np.array(timestamps, np.float64),
                         np.arange(n, dtype=np.int64), joints, np.full((n, 25), 2, np.int8),
                         np.zeros((n, 25, 2), np.float32))


def test_the_partner_is_the_nearest_person_seen_lately_within_reach():
    person = _track(1, 0.0, [9.0, 10.0])
    near_but_gone = _track(2, 0.3, [4.0, 5.0])  # nearest, but last seen before `since`
    near = _track(3, 0.8, [9.0, 10.0])
    farther = _track(4, -1.5, [9.0, 10.0])
    too_far = _track(5, PARTNER_MAX_M + 0.5, [9.0, 10.0])
    everyone = [person, near_but_gone, farther, near, too_far]
    assert _nearest_partner(person, everyone, since=6.0) is near
    assert _nearest_partner(person, [person, near_but_gone, farther], since=6.0) is farther
    assert _nearest_partner(person, everyone, since=0.0) is near_but_gone
    assert _nearest_partner(person, [person, too_far], since=0.0) is None
    # A spine joint the sensor did not give (0 0 0) is no body at the sensor: the partner a metre away
    # was out of reach from there, and a lone person's two-person actions were taken from them.
    person.joints[:, KINECT_V2.origin] = 0.0
    assert _nearest_partner(person, [person, near, farther], since=6.0) is near
    near.joints[:, KINECT_V2.origin] = 0.0
    assert _nearest_partner(person, [person, near, farther], since=6.0) is near


def test_samples_without_an_observation_are_zeros_or_the_first_pose_before_the_track():
    track = _track(1, 0.0, [1.0, 1.1, 1.2])
    times = np.array([0.8, 0.9, 1.0, 1.1, 1.2, 1.5])
    index = np.array([0, 0, 0, 1, 2, 2])  # each sample's nearest observation
    for pad_start, seen in ((True, [1, 1, 1, 1, 1, 0]), (False, [0, 0, 1, 1, 1, 0])):
        joints, states = _at_samples(track, index, times, 0.05, pad_start=pad_start)
        expected = np.where(np.array(seen, bool)[:, None, None], track.joints[index], 0.0)
        np.testing.assert_array_equal(joints, expected)
        np.testing.assert_array_equal(states[:, 0], np.array(seen) * 2)


def test_a_worker_that_runs_for_days_marks_its_engines_cache_files_used_again(
    tiny_model, tmp_path, monkeypatch
):
    """Other runs remove cache files no run used for 60 days: a room up for months would lose its export
    (on a GPU its TensorRT engine) and make it again at its next start, after a crash say."""
    import os

    import live.worker
    from core.engines import cache

    engine, inputs = tiny_model
    export = tmp_path / f"room-{'0' * 16}-{'0' * 8}.onnx"
    export.write_bytes(b"graph")
    os.utime(export, (0, 0))
    monkeypatch.setattr(cache, "_held", set())
    cache.hold((export,))
    monkeypatch.setattr(live.worker, "HOLD_EVERY_S", 0.05)  # a day, here
    worker = RecognitionWorker(FrameRing(16, None), TrackTable(history=16), engine, inputs, CAMERA,
                               lambda hop: None, RecognitionConfig())
    worker.start()
    deadline = time.monotonic() + 10
    while export.stat().st_mtime == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.finish()
    assert time.time() - export.stat().st_mtime < 60


def test_a_window_s_truth_at_its_centre_is_the_earlier_of_two_middle_frames():
    """A window of 58 frames has two middle frames; training/checkpoints/README.md scores by the earlier,
    but a nearest by floating point alone took the later in about a quarter of such windows (by the last
    bit of the times' sum): frame accuracy mixed two rules. The earlier, every time."""
    from dataclasses import replace

    from live.worker import _window_truth

    for first in range(60):  # windows starting at frames 0-59 of a 30 fps stream
        times = [(first + i) / 30 for i in range(58)]
        person = replace(_track(1, 0.0, times), truth=("before",) * 29 + ("after",) * 29)
        start, at_centre, newest = _window_truth(person, np.arange(58), times[-1])
        assert (start, at_centre, newest) == (times[0], "before", "after"), first
        # The earlier middle frame itself, not the one before it either.
        person = replace(person, truth=("before",) * 28 + ("after",) * 30)
        assert _window_truth(person, np.arange(58), times[-1])[1] == "after", first
