"""A simulated Kinect v2: people performing known actions, their skeletons as the sensor reports them,
and colour frames drawn through the same camera model as `core.camera`.

    motion.py    articulated 25-joint body, keyframed controls, forward / inverse kinematics
    actions.py   the action classes (CLASSES, each with the body part that tells it apart) and scripts
    tracker.py   the body tracker's noise, inferred / untracked joints and dropouts
    appearance.py  people's colours, held objects, the image's exposure
    room.py      the sensor's pose, the room and its chairs, drawn once per camera
    figure.py    people drawn over the room, frame by frame (OpenCV primitives)
    noise.py     the colour sensor's noise
    idle.py      what people do between actions: arm rests and fidgets (the background is not stillness)
    walking.py   walks across the room: the root's path and the steps
    clip.py      generate_clip: one person, one action -> SimClip (skeleton + lazy frames)
    person.py    one visitor's plan, a segment at a time: walks, idle time, talking, actions, objects
    scene.py     SimulatedScene: an endless stream of Frames with people coming and going
"""

from simulation.actions import CLASS_NAMES, CLASSES, PARTS, ActionClass, ObjectKind, class_index
from simulation.clip import RENDER_CAMERA, ClipFrames, SimClip, SimulationConfig, generate_clip

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "PARTS",
    "RENDER_CAMERA",
    "ActionClass",
    "ClipFrames",
    "ObjectKind",
    "SimClip",
    "SimulationConfig",
    "class_index",
    "generate_clip",
]
