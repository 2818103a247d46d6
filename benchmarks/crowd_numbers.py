"""Whether people keep their own numbers in a crowd: the simulated room through live's TrackTable.

    python -m benchmarks.crowd_numbers [--minutes 20] [--seeds 1 2 3 4] [--people 6]

A Kinect that loses somebody gives them a new tracking id when it finds them again; live/tracks.py gives
such a body the id (and the number, and the alert's episode) of a track lost nearby a moment before. This
runs the simulator's room of up to --people people, whose own numbering is the truth, frame by frame
through TrackTable.rejoin / observe as the capture thread does, and counts per seed

    rejoins             bodies given a lost track's id
    taken over          frames where a stored id moved from one simulated person to another (each is a
                        number, and an alert's episode, gone to somebody else)

No frames are drawn (skeletons only): about 20 s of wall clock per 20 minutes of room on one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from live.tracks import TrackTable  # noqa: E402
from recordings.argument_types import integer_in, positive_float  # noqa: E402
from simulation.scene import SimulatedScene  # noqa: E402

FPS = 30


def count(seed: int, minutes: float, people: int) -> tuple[int, int]:
    """(rejoins, ids taken over by somebody else) over `minutes` of the simulated room."""
    scene = SimulatedScene(seed=seed, max_people=people, color=False)
    tracks = TrackTable(history=2 * FPS, retire_after_s=1.0)  # the app's retirement
    owner: dict[int, int] = {}  # stored id -> the simulated person it was last stored for
    taken_over = 0
    for index in range(int(minutes * 60 * FPS)):
        frame = scene.next_frame(draw=False)
        stored = tracks.rejoin(frame.timestamp, list(frame.bodies))
        tracks.observe(frame.timestamp, stored, index)
        person_of = {t.tracking_id: t.person for t in scene.truth() if t.tracking_id is not None}
        for body, kept in zip(frame.bodies, stored, strict=True):
            person = person_of.get(body.tracking_id)
            if person is None:
                continue
            taken_over += owner.get(kept.tracking_id, person) != person
            owner[kept.tracking_id] = person
    return tracks.rejoins, taken_over


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crowd_numbers",
                                     description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--minutes", type=positive_float, default=20.0,
                        help="minutes of room per seed (default: 20)")
    parser.add_argument("--seeds", type=integer_in(0), nargs="+", default=[1, 2, 3, 4],
                        help="the simulated rooms (default: 1 2 3 4)")
    parser.add_argument("--people", type=integer_in(1, 6), default=6,
                        help="people in the room at most (default: 6, as many as a Kinect tracks)")
    args = parser.parse_args(argv)
    totals = [0, 0]
    for seed in args.seeds:
        started = time.perf_counter()
        rejoins, taken_over = count(seed, args.minutes, args.people)
        totals[0] += rejoins
        totals[1] += taken_over
        print(f"seed {seed}: {args.minutes:g} min of up to {args.people} people: {rejoins} rejoins, "
              f"{taken_over} ids taken over by somebody else ({time.perf_counter() - started:.0f} s)",
              flush=True)
    print(f"all: {totals[0]} rejoins, {totals[1]} taken over")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
