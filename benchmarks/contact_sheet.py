"""Contact sheet of the glimpse crops over a real clip, to check by eye what the model will see.

    python -m benchmarks.contact_sheet --out /tmp/sheet.png [--columns 10] [--crop-size 112] [--project]

Top row: the scene around the person (1.5x the body box) with the three boxes drawn (left hand
green, right hand red, body blue). Then one row per part: its crop at that frame, with a dot where
the sensor put the hand joint. Boxes come from the whole clip at 30 fps (the sensor's own colour
pixels, or with --project the default camera model). The images are research-only NTU RGB+D data:
write them outside the repository (e.g. /tmp), never commit them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from core.camera import DEFAULT_CAMERA
from core.glimpse import PARTS, GlimpseConfig, crop_frame, crop_window, part_boxes
from core.skeleton import KINECT_V2
from recordings.argument_types import existing_path, integer_in, non_negative_float
from recordings.ntu import read_skeleton
from recordings.ntu_video import RgbVideo
from recordings.picture_text import write_image

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
BOX_COLOURS = ((0, 200, 0), (0, 0, 230), (230, 80, 0))  # BGR: left hand, right hand, body
LABEL_WIDTH = 90
LABEL_HEIGHT = 18
CONTEXT_SCALE = 1.5  # the top row shows this much more than the body box


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.contact_sheet",
                                     description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG to write (outside the repository)")
    parser.add_argument("--data", type=existing_path, default=SHARED_DATA / "ntu")
    parser.add_argument("--clip", default="S001C001P001R001A001")
    parser.add_argument("--columns", type=integer_in(1), default=10)
    parser.add_argument("--crop-size", type=integer_in(1), default=112)
    parser.add_argument("--smoothing", type=non_negative_float, default=GlimpseConfig.smoothing_s,
                        help="Gaussian sigma of box smoothing, seconds")
    parser.add_argument("--project", action="store_true", help="project joints with DEFAULT_CAMERA instead "
                        "of using the colour pixels stored in the file")
    args = parser.parse_args()
    if args.out.resolve().is_relative_to(REPO_ROOT):
        raise SystemExit(f"{args.out}: the sheet shows research-only data; write it outside {REPO_ROOT}")

    arrays = read_skeleton(args.data / "skeletons" / f"{args.clip}.skeleton").arrays(max_bodies=1)
    joints, states, color = arrays.xyz[:, 0], arrays.states[:, 0], arrays.color[:, 0]
    config = GlimpseConfig(crop_size=args.crop_size, smoothing_s=args.smoothing)
    boxes = part_boxes(joints, states, DEFAULT_CAMERA, KINECT_V2, config,
                       joints_color=None if args.project else color)
    chosen = np.linspace(0, len(joints) - 1, args.columns).round().astype(int)
    with RgbVideo(args.data / "rgb" / f"{args.clip}_rgb.avi") as video:
        frames = video.read_frames(list(chosen))
    crops = crop_window(frames, boxes[:, chosen], config)[..., ::-1].copy()  # back to BGR to draw and save

    size = args.crop_size
    sheet = np.full((LABEL_HEIGHT + (1 + len(PARTS)) * size, LABEL_WIDTH + args.columns * size, 3), 255,
                    np.uint8)
    for column, (t, frame) in enumerate(zip(chosen, frames, strict=True)):
        x = LABEL_WIDTH + column * size
        cv2.putText(sheet, f"frame {t}", (x + 4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
        scene = frame.copy()
        context = boxes[2, t] * np.array([1, 1, CONTEXT_SCALE, CONTEXT_SCALE], np.float32)
        thickness = max(2, int(context[2] / size))
        for part in range(len(PARTS)):
            cx, cy, w, h = boxes[part, t]
            cv2.rectangle(scene, (int(cx - w / 2), int(cy - h / 2)), (int(cx + w / 2), int(cy + h / 2)),
                          BOX_COLOURS[part], thickness)
        scene_crop = crop_frame(scene, context[None], config)[0]
        sheet[LABEL_HEIGHT:LABEL_HEIGHT + size, x:x + size] = scene_crop[..., ::-1]
        for part, hand in ((0, KINECT_V2.left_hand[0]), (1, KINECT_V2.right_hand[0])):
            cx, cy, w, _ = boxes[part, t]
            u, v = (color[t, hand] - (cx - w / 2, cy - w / 2)) * size / w
            cv2.circle(crops[part, column], (int(u), int(v)), 3, BOX_COLOURS[part], -1)
        for part in range(len(PARTS)):
            y = LABEL_HEIGHT + (1 + part) * size
            sheet[y:y + size, x:x + size] = crops[part, column]
    for part, name in enumerate(PARTS):
        y = LABEL_HEIGHT + (1 + part) * size + size // 2
        cv2.putText(sheet, name, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, BOX_COLOURS[part], 1, cv2.LINE_AA)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.out, sheet)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]}): {args.clip}, frames {chosen.tolist()}")


if __name__ == "__main__":
    from recordings.argument_types import run_command

    run_command(main, "python -m benchmarks.contact_sheet")
