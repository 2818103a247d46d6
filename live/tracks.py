"""One track per person, keyed by the sensor's tracking id, created and retired as people come and go.

The capture thread adds each frame's bodies (`observe`); the recognition worker takes copies
(`snapshot`) at every hop. A track keeps the last `history` observations (bounded: a person who
stays all day costs the same as one who walks through) and is retired once unseen for
`retire_after_s` of stream time.

Bodies found again. A Kinect that loses a person for a moment (two people hugging merge into one
blob; somebody passes in front) gives them a new tracking id when it finds them again, and a new id
would start an empty history: no decision for that person until a whole window has passed again, in
the middle of the very interaction that hid them. So before a frame is stored, `rejoin` gives a body
with an id never seen before the id of a track that is not in this frame, was last seen at most
`retire_after_s` ago and within `REJOIN_M` on the floor of where the new body is (the nearest pairs of the
frame first), unless it was last seen walking out at the side of the view (`LEFT_VIEW_AT_DEG`): the
person's history, smoothing and on-screen number go on. Training windows of continuous
recordings (PKU-MMD) keep a body through such gaps too, as zeros (training/datasets/pkummd.py); live's
worker zeros the gap the same way.
A track retired already, unseen for up to `REJOIN_WITHIN_S`, is found again the same way, its history
gone but not its id: a patient the sensor loses as they fall, and finds on the floor two seconds later,
keeps their number and their alert's episode (headless.AlertDispatcher keys it by id), where they were
"person 2" whose fall alerted again. The price: somebody else stepping onto that spot within those
seconds (a nurse reaching a fallen patient the sensor has not found again) takes the number instead,
and the alert's episode with it (an alert of theirs of that class within the cooldown is not raised).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from core.frame import Body
from core.room import body_up, standing_spines
from core.skeleton import KINECT_V2, body_centre

# How far (m, body_centre, on the floor: across the room's up) a body found again may be from where its
# track was last seen. A person moves ~0.5 m in a second at a walk; two people hugging stand closer than
# that to each other, and either identity is right for a scene-wide interaction.
REJOIN_M = 0.5
# The room's up for REJOIN_M is that of the standing spines (core.room.body_up) of the last this many
# frames' bodies that stood fully tracked (10 s of one person at 30 fps, less in a crowd); the camera's up
# until enough have. Measured in the camera's x-z plane instead, a patient dropping 0.8 m straight down in
# front of a sensor pitched 40 degrees down from a wall moved 0.51 m, and was found on the floor as
# somebody new. (A sensor pitched over 45 degrees, on a ceiling, is beyond body_up, as LEFT_VIEW_AT_DEG
# says: a patient lying straight in bed can pass for standing there, and their bed's axis for up.)
UP_FROM_LAST_SPINES = 300
# A room's up within this of the camera's is taken as the camera's (the x-z plane): people lean, and an up
# from their spines is a few degrees off. Over all 190 PKU-MMD sequences (sensors pitched up to ~8 degrees)
# it changed one join, for the worse: a body straightening up after a hug moved 0.506 m across an up
# tilted 6.7 degrees, 0.483 m in the camera's plane, and lost its number (0285-L at 30.5 s).
LEVEL_SENSOR_DEG = 15.0
# How long a retired track's id may still be taken up again (see the module docstring): a Kinect finds a
# person it lost again within a second or two.
REJOIN_WITHIN_S = 3.0
# A track last seen this far to either side (degrees from straight ahead, its body_centre), having come
# OUTWARD_DEG further out over its last OUTWARD_OVER_S without going FALLEN_M down, walked out of view: a
# Kinect v2 tracks bodies across 70.6 degrees, until their middle leaves (PKU-MMD's 190 sequences: at
# most 35.5 degrees, 99.9% within 28.4). Its number is not given to a body found near there, who is more
# likely somebody coming in (a door at the side of the view) than the same person back: in a simulated
# crowd of six (benchmarks/crowd_numbers.py), 18 of 43 numbers rejoined went to somebody else, every one
# at the side; with this rule none of 25. One who stood or fell there (a bed at the side of the view),
# outwards too, is found again as anywhere else. (A slow walk, 0.5 m/s 4.5 m away, goes out 2.4 degrees in
# half a second; the jitter of a still body's middle in PKU-MMD, 0.35 degrees over half a second at the
# side.) Down is along the body's own spine where it stood upright in its history (core.room.body_up),
# not the camera's y: a sensor high on a patient room's wall, tilted 40 degrees, sees a walk of 1 m/s
# towards it go 0.32 m down its y in half a second, which read as a fall. The camera's y where it never
# stood fully tracked (a patient in bed, feet hidden). A sensor pitched more than 45 degrees (on a ceiling)
# is beyond this: body_up then leaves out the standing spines and may keep a lying one as up.
LEFT_VIEW_AT_DEG = 30.0
OUTWARD_DEG = 2.0
OUTWARD_OVER_S = 0.5
FALLEN_M = 0.3
# Tracking ids remembered for "people seen" and their numbers; beyond it the memory starts again (a Kinect
# never reuses an id, so only a replay looping over more people than this would count some twice).
MAX_REMEMBERED_IDS = 10_000


@dataclass(frozen=True)
class Observation:
    timestamp: float  # stream seconds (the capture's monotonic timeline)
    sequence: int  # the frame's sequence number in the FrameRing
    joints: np.ndarray  # float32 (J, 3)
    states: np.ndarray  # int8 (J,)
    joints_color: np.ndarray  # float32 (J, 2)
    truth: str | None = None  # the source's ground truth for this person (core.frame.Body.truth)


@dataclass(frozen=True)
class TrackSnapshot:
    """A copy of one track's history as arrays, oldest first (N observations)."""

    tracking_id: int
    number: int  # the person's number (TrackTable.number_of): what the window, decisions and alerts say
    timestamps: np.ndarray  # float64 (N,)
    sequences: np.ndarray  # int64 (N,)
    joints: np.ndarray  # float32 (N, J, 3)
    states: np.ndarray  # int8 (N, J)
    joints_color: np.ndarray  # float32 (N, J, 2)
    truth: tuple[str | None, ...] = ()  # (N,) ground truth per observation, where the source knows it

    @property
    def last_seen(self) -> float:
        return float(self.timestamps[-1])


class Track:
    def __init__(self, tracking_id: int, history: int) -> None:
        self.tracking_id = tracking_id
        self.observations: deque[Observation] = deque(maxlen=history)

    @property
    def last_seen(self) -> float:
        return self.observations[-1].timestamp


def _snapshot(tracking_id: int, number: int, obs: list[Observation]) -> TrackSnapshot:
    return TrackSnapshot(
        tracking_id=tracking_id,
        number=number,
        timestamps=np.array([o.timestamp for o in obs], np.float64),
        sequences=np.array([o.sequence for o in obs], np.int64),
        joints=np.stack([o.joints for o in obs]),
        states=np.stack([o.states for o in obs]),
        joints_color=np.stack([o.joints_color for o in obs]),
        truth=tuple(o.truth for o in obs),
    )


def _rejoin_up(spines: np.ndarray) -> np.ndarray:
    """The up across which REJOIN_M is measured: the room's from standing `spines`, the camera's for a
    sensor within LEVEL_SENSOR_DEG of level."""
    return body_up(spines, level_within_deg=LEVEL_SENSOR_DEG)


def _walked_out(observations: deque[Observation]) -> bool:
    """Whether a track was last seen walking out at the side of the view (LEFT_VIEW_AT_DEG)."""
    last = observations[-1]
    earlier = next((o for o in reversed(observations) if last.timestamp - o.timestamp >= OUTWARD_OVER_S),
                   observations[0])
    side, before = (abs(np.degrees(np.arctan2(*body_centre(o.joints)[[0, 2]]))) for o in (last, earlier))
    if side < LEFT_VIEW_AT_DEG or side - before < OUTWARD_DEG:
        return False
    # Up as the body showed it standing anywhere in its history (body_up leaves out a spine lying in
    # bed, whose legs are in line with it too: along it, a patient rolling out of bed fell nowhere).
    up = body_up(standing_spines(np.stack([o.joints for o in observations]),
                                 np.stack([o.states for o in observations]), KINECT_V2), min_spines=1)
    return float((body_centre(earlier.joints) - body_centre(last.joints)) @ up) < FALLEN_M


class TrackTable:
    """Tracks by tracking id. Thread-safe: one writer (capture), any number of readers."""

    def __init__(self, history: int, retire_after_s: float = 1.0) -> None:
        if history < 1:
            raise ValueError(f"a track needs a history of at least 1 observation, got {history}")
        self._history = history
        self._retire_after_s = retire_after_s
        self._rejoin_within_s = max(retire_after_s, REJOIN_WITHIN_S)
        self._tracks: dict[int, Track] = {}
        self._rejoined: dict[int, int] = {}  # the sensor's new id -> the track it continues
        # Retired tracks' ids -> (when, where: body_centre) they were last seen, for REJOIN_WITHIN_S;
        # those that walked out of view are not kept.
        self._lost: dict[int, tuple[float, np.ndarray]] = {}
        self._standing_spines: deque[np.ndarray] = deque(maxlen=UP_FROM_LAST_SPINES)  # for the room's up
        self._lock = threading.Lock()
        # Each distinct tracking id's number, 1, 2, 3, ... in order of appearance (64-bit ids are for no one
        # to read): the window, the decisions and the alerts all say "person 2" of the same person. A looped
        # replay (clear) brings its people back under the same ids: the same people, the same numbers, not
        # counted again in "people seen". Bounded for runs of months.
        self._numbers: dict[int, int] = {}
        self.people_seen = 0
        self.retired = 0
        self.rejoins = 0
        self.in_view = 0  # bodies in the newest frame (a track lives on for retire_after_s after its last)

    def rejoin(self, timestamp: float, bodies: list[Body]) -> list[Body]:
        """`bodies` with the ids of the tracks they continue (see the module docstring); the others as
        they are. Call before storing the frame, so ring, window and recorder agree on who is who."""
        with self._lock:
            back = {b.tracking_id for b in bodies if b.tracking_id in self._tracks}
            if any(track_id in back for track_id in self._rejoined.values()):
                # A track's own id is back: whoever was rejoined to it meanwhile is somebody else (or the
                # sensor's second body for the same person) and must not be stored under it as well.
                self._rejoined = {k: v for k, v in self._rejoined.items() if v not in back}
            claimed = {self._rejoined.get(b.tracking_id, b.tracking_id) for b in bodies}
            newcomers = [i for i, b in enumerate(bodies)
                         if b.tracking_id not in self._rejoined and b.tracking_id not in self._tracks]
            # The nearest pairs first, over the whole frame: two people found again at once, each body
            # taking its nearest track in the sensor's order, could swap numbers.
            # Up only for a newcomer: the median of the spines kept cost 0.15 ms a frame with six people.
            up = _rejoin_up(np.array(self._standing_spines).reshape(-1, 3)) if newcomers else None
            pairs = sorted((distance, i, track_id) for i in newcomers
                           for distance, track_id in self._lost_tracks_near(bodies[i], timestamp, claimed,
                                                                            up))
            found: set[int] = set()  # indices in bodies given a track
            for _, i, track_id in pairs:
                if i not in found and track_id not in claimed:
                    found.add(i)
                    claimed.add(track_id)
                    # The ids this track was found under before are gone for good (the sensor never gives
                    # one twice, and one in this frame would have claimed the track): kept, a patient
                    # found again under new ids for days while never out of view grew the map with no
                    # end, and every frame read it all.
                    self._rejoined = {k: v for k, v in self._rejoined.items() if v != track_id}
                    self._rejoined[bodies[i].tracking_id] = track_id
                    self.rejoins += 1
            out = []
            for body in bodies:
                track_id = self._rejoined.get(body.tracking_id)
                out.append(body if track_id is None else dataclasses.replace(body, tracking_id=track_id))
            in_frame = {body.tracking_id for body in out}
            for body in out:  # numbered before the frame is stored: the window never shows one without
                self._number(body.tracking_id, in_frame)
            return out

    def _number(self, tracking_id: int, in_frame: set[int]) -> None:
        """Give a tracking id seen for the first time the next number (under the lock). Too many
        remembered: only the live tracks' and this frame's ids (not yet tracks) keep theirs."""
        if tracking_id not in self._numbers:
            if len(self._numbers) >= MAX_REMEMBERED_IDS:
                self._numbers = {k: v for k, v in self._numbers.items() if k in self._tracks or k in in_frame}
            self.people_seen += 1
            self._numbers[tracking_id] = self.people_seen

    def track_of(self, tracking_id: int) -> int:
        """The id of the track a sensor's tracking id is stored under: the track it continues, else
        itself (while that track lives; the streaming evaluation asks right after each frame)."""
        with self._lock:
            return self._rejoined.get(tracking_id, tracking_id)

    def _lost_tracks_near(self, body: Body, timestamp: float, claimed: set[int], up: np.ndarray | None
                          ) -> list[tuple[float, int]]:
        """(distance, track id) of each track `body` may continue: unseen in this frame, lately, within
        REJOIN_M of it across the room's `up` (a unit vector), and not last seen walking out at the side
        of the view."""
        unseen = [(track_id, track.last_seen, body_centre(track.observations[-1].joints))
                  for track_id, track in self._tracks.items() if not _walked_out(track.observations)]
        unseen += [(track_id, *last) for track_id, last in self._lost.items()]
        near = []
        for track_id, last_seen, last in unseen:
            if track_id in claimed or not 0 < timestamp - last_seen <= self._rejoin_within_s:
                continue
            assert up is not None
            offset = body_centre(body.joints) - last
            distance = float(np.linalg.norm(offset - (offset @ up) * up))
            if distance <= REJOIN_M:
                near.append((distance, track_id))
        return near

    def observe(self, timestamp: float, bodies: list[Body], sequence: int) -> tuple[list[int], list[int]]:
        """Add one frame's bodies; returns (tracking ids created, tracking ids retired)."""
        created, retired = [], []
        with self._lock:
            self.in_view = len(bodies)
            for body in bodies:
                track = self._tracks.get(body.tracking_id)
                if track is None:
                    track = self._tracks[body.tracking_id] = Track(body.tracking_id, self._history)
                    created.append(body.tracking_id)
                track.observations.append(
                    Observation(timestamp, sequence, body.joints, body.states, body.joints_color, body.truth)
                )
            if bodies:  # the room's up as standing people show it, for rejoin (UP_FROM_LAST_SPINES)
                self._standing_spines.extend(standing_spines(np.stack([b.joints for b in bodies]),
                                                             np.stack([b.states for b in bodies]), KINECT_V2))
            for tracking_id, track in list(self._tracks.items()):
                if timestamp - track.last_seen > self._retire_after_s:
                    del self._tracks[tracking_id]
                    retired.append(tracking_id)
                    if not _walked_out(track.observations):
                        last_place = body_centre(track.observations[-1].joints)
                        self._lost[tracking_id] = (track.last_seen, last_place)
            for tracking_id in [k for k, (seen, _) in self._lost.items()
                                if k in self._tracks or timestamp - seen > self._rejoin_within_s]:
                del self._lost[tracking_id]
            if retired:
                self._rejoined = {k: v for k, v in self._rejoined.items() if v in self._tracks}
            for tracking_id in created:
                self._number(tracking_id, set(created))
            self.retired += len(retired)
        return created, retired

    def clear(self) -> None:
        """Forget everybody (a replay that loops back to its start)."""
        with self._lock:
            self.retired += len(self._tracks)
            self.in_view = 0
            self._tracks.clear()
            self._rejoined.clear()
            self._lost.clear()

    def snapshot(self) -> list[TrackSnapshot]:
        """Copies of every live track, by tracking id."""
        with self._lock:  # copy the references only; the arrays are stacked outside the lock
            histories = [(k, self._numbers[k], list(self._tracks[k].observations))
                         for k in sorted(self._tracks)]
        return [_snapshot(k, number, obs) for k, number, obs in histories]

    def number_of(self, tracking_id: int) -> int | None:
        """The person's number (1, 2, 3, ... in order of appearance); None for an id never stored."""
        with self._lock:
            return self._numbers.get(tracking_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tracks)

    def ids(self) -> list[int]:
        with self._lock:
            return sorted(self._tracks)
