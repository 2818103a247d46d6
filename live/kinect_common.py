"""What a Kinect v2 delivers, whichever library reads it (live/kinect_next_source.py, live/kinect.py)."""

from __future__ import annotations

import numpy as np

from core.frame import Body
from core.skeleton import without_implausible

KINECT_FPS = 30.0  # colour and bodies
LOW_LIGHT_FPS = 15.0  # colour in low light (bodies stay at KINECT_FPS)
COLOR_SHAPE = (1080, 1920)  # colour image (height, width)
JOINT_COUNT = 25  # joints per body, in the SDK's JointType order (core.skeleton.KINECT_V2)


def needs_windows(option: str, platform: str) -> str:
    """What to say where a Kinect source is asked for off Windows (`option`: as it was given)."""
    return (f"{option} needs 64-bit Windows with the Kinect for Windows Runtime 2.0 (this machine runs "
            f"{platform}); use --source sim or a recording PATH instead")


def sensor_body(
    tracking_id: int, joints: np.ndarray, states: np.ndarray, joints_color: np.ndarray
) -> Body | None:
    """A tracked body as the SDK gives it -> core Body, each joint no sensor measures (a glitch, junk where
    it tracks nothing) passed on as not tracked, at 0 0 0 and no pixel; None when nothing of it is left."""
    joints, states, dropped = without_implausible(joints, states)
    if not joints.any():
        return None
    if dropped.any():
        joints_color = np.where(dropped[:, None], np.nan, joints_color)
    return Body(tracking_id=tracking_id, joints=joints, states=states, joints_color=joints_color)
