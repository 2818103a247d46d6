"""What a Kinect v2 delivers, whichever library reads it (live/kinect_next_source.py, live/kinect.py)."""

from __future__ import annotations

KINECT_FPS = 30.0  # colour and bodies
LOW_LIGHT_FPS = 15.0  # colour in low light (bodies stay at KINECT_FPS)
COLOR_SHAPE = (1080, 1920)  # colour image (height, width)
JOINT_COUNT = 25  # joints per body, in the SDK's JointType order (core.skeleton.KINECT_V2)
