"""Decoded frames as the picture a player shows, in shapes the model and OCR can read.

A player scales the stored frame by its sample aspect ratio (non-square pixels: anamorphic
DVD and broadcast video, 720x576 shown as 1024x576) and turns it by its display matrix.
Keyframes and frames for the model get the same treatment. Pictures far from any screen
shape (a 4000x16 ticker strip) are wrapped into rows, and tiny ones padded, because
vision-language processors refuse them (Qwen2/3-VL's ``smart_resize`` refuses aspect
ratios above 200 and rounds sides below 28-32 pixels to nothing) and OCR detectors shrink
a strip's long side until its text is a pixel high.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from mcr_agent.errors import VideoError

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

__all__ = [
    "MAX_ASPECT",
    "MIN_SIDE",
    "detection_size",
    "encode_jpeg",
    "fit_size",
    "readable",
    "scaled_size",
    "shown",
    "small_bgr",
    "to_jpeg",
]

MAX_ASPECT = 4.0
"""Widest (or tallest) shape passed on unchanged; wider pictures are wrapped into rows."""
MIN_SIDE = 32
"""Shortest side in pixels; smaller pictures are padded (Qwen3-VL's merged patch is 32)."""


def fit_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """Width and height scaled to fit `max_pixels` (never up), as even numbers."""
    scale = min(1.0, math.sqrt(max_pixels / max(1, width * height)))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def scaled_size(
    width: int, height: int, sample_aspect_ratio: Fraction | None, max_pixels: int
) -> tuple[int, int]:
    """The size (stored orientation) to scale a stored frame to: square pixels, in budget.

    Args:
        width: Stored width in pixels.
        height: Stored height in pixels.
        sample_aspect_ratio: Width of a stored pixel over its height (None or 0: square).
        max_pixels: Pixel budget.

    Returns:
        Even (width, height): the width stretched by the sample aspect ratio, as players do
        (ffmpeg's ``scale=iw*sar:ih``), then fitted to the budget.
    """
    sar = float(sample_aspect_ratio or 1) or 1.0
    return fit_size(max(1, round(width * sar)), height, max_pixels)


def shown(
    frame: VideoFrame, size: tuple[int, int], *, rotation: int, max_pixels: int | None = None
) -> np.ndarray:
    """A PyAV frame as BGR pixels: scaled to `size` (stored orientation), turned upright,
    made readable (see `readable`; `max_pixels` bounds a wrapped picture, by default the
    area of `size`). `rotation` is PyAV's ``frame.rotation`` (degrees counter-clockwise)."""
    img: np.ndarray = frame.to_ndarray(
        width=size[0], height=size[1], format="bgr24", interpolation="AREA"
    )
    if rotation:
        img = np.ascontiguousarray(np.rot90(img, rotation // 90))
    return readable(img, max_pixels=max_pixels or size[0] * size[1])


def to_jpeg(img: np.ndarray, *, quality: int, path: str) -> bytes:
    """`img` as JPEG bytes; `path` names the video in the `VideoError` raised if OpenCV
    cannot encode it."""
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise VideoError(f"{path}: could not encode a frame as JPEG")
    return bytes(buf)


def encode_jpeg(
    frame: VideoFrame,
    size: tuple[int, int],
    *,
    rotation: int,
    quality: int,
    path: str,
    max_pixels: int | None = None,
) -> bytes:
    """`shown` as JPEG (see `to_jpeg`)."""
    img = shown(frame, size, rotation=rotation, max_pixels=max_pixels)
    return to_jpeg(img, quality=quality, path=path)


def readable(
    img: np.ndarray,
    *,
    max_aspect: float = MAX_ASPECT,
    min_side: int = MIN_SIDE,
    max_pixels: int | None = None,
) -> np.ndarray:
    """An image in a shape models and OCR accept: wrapped if too long, padded if too small.

    A picture wider than `max_aspect` is cut into overlapping pieces stacked as rows (a
    taller one into columns side by side), in reading order, with a grey line between
    them; the overlap (six times the short side) keeps a word cut at one piece's edge whole
    in the next. A side shorter than `min_side` is padded with the picture's median colour.

    Args:
        img: BGR (or grey) image, H x W (x 3), uint8.
        max_aspect: Longest side over shortest side allowed.
        min_side: Shortest side allowed, in pixels.
        max_pixels: Pixel budget of the result; a wrapped picture is scaled down to it.

    Returns:
        `img` itself when its shape is fine, else a new image.
    """
    import cv2

    h, w = img.shape[:2]
    if max(h, w) > max_aspect * min(h, w):
        img = _wrap(img if w >= h else img.swapaxes(0, 1), max_aspect)
        img = img if w >= h else np.ascontiguousarray(img.swapaxes(0, 1))
        h, w = img.shape[:2]
        if max_pixels and h * w > max_pixels:
            scale = math.sqrt(max_pixels / (h * w))
            size = (max(1, int(w * scale)), max(1, int(h * scale)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            h, w = img.shape[:2]
    if min(h, w) < min_side:
        pad_y, pad_x = max(0, min_side - h), max(0, min_side - w)
        colour = np.median(img.reshape(-1, img.shape[2] if img.ndim == 3 else 1), axis=0)
        img = cv2.copyMakeBorder(
            img,
            pad_y // 2,
            pad_y - pad_y // 2,
            pad_x // 2,
            pad_x - pad_x // 2,
            cv2.BORDER_CONSTANT,
            value=[float(c) for c in colour],
        )
    return img


def _wrap(img: np.ndarray, max_aspect: float) -> np.ndarray:
    """A wide image (rows along axis 1) cut into the fewest overlapping rows that fit."""
    h, length = img.shape[:2]
    gap = max(2, h // 4)
    overlap = min(6 * h, length // 4)
    rows = 2
    while True:
        width = math.ceil((length + (rows - 1) * overlap) / rows)
        height = rows * h + (rows - 1) * gap
        if width <= max_aspect * height or width <= 2 * overlap:
            break
        rows += 1
    out = np.full((height, width, *img.shape[2:]), 128, np.uint8)
    for i in range(rows):
        x0 = min(i * (width - overlap), length - width)
        out[i * (h + gap) : i * (h + gap) + h] = img[:, max(0, x0) : max(0, x0) + width]
    return out


def detection_size(width: int, height: int, side: int) -> tuple[int, int]:
    """PySceneDetect's downscaled size: the longest side brought to about `side` pixels
    (``compute_downscale_factor(max(frame_size))`` in its SceneManager); smaller frames
    stay as they are."""
    factor = max(width, height) / side if max(width, height) >= side else 1.0
    return max(1, round(width / factor)), max(1, round(height / factor))


def small_bgr(frame: VideoFrame, side: int) -> np.ndarray:
    """The frame as PySceneDetect's `detect` sees it: BGR at `detection_size`.

    The library decodes full BGR frames (FFmpeg's BT.601 conversion) and shrinks them with
    OpenCV's bilinear `resize`, which reads a 2x2 pixel neighbourhood per output pixel. For
    8-bit 4:2:0 frames the same samples are taken straight from the planes (far cheaper than
    converting the full frame first) and converted after with OpenCV's BT.601 I420
    conversion, whose colours match the library's closely; other pixel formats go through
    swscale. The colour conversion matters: limited-range dark pixels converted as full
    range look grey, which hides the saturation changes the detector scores.
    """
    import cv2

    w, h = frame.width, frame.height
    size = detection_size(w, h, side)
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        return frame.to_ndarray(width=size[0], height=size[1], format="bgr24")
    half = ((w + 1) // 2, (h + 1) // 2)
    planes = [
        np.frombuffer(memoryview(frame.planes[k]), np.uint8).reshape(ph, -1)[:, :pw]
        for k, (pw, ph) in enumerate(((w, h), half, half))
    ]
    luma = cv2.resize(planes[0], size, interpolation=cv2.INTER_LINEAR)
    if frame.format.name == "yuvj420p" or frame.color_range == 2:  # full (JPEG) range
        chroma = [cv2.resize(p, size, interpolation=cv2.INTER_LINEAR) for p in planes[1:]]
        return cv2.cvtColor(cv2.merge([luma, *chroma]), cv2.COLOR_YUV2BGR)
    even = (size[0] + size[0] % 2, size[1] + size[1] % 2)  # I420 needs even sides
    if even != size:
        luma = cv2.copyMakeBorder(
            luma, 0, even[1] - size[1], 0, even[0] - size[0], cv2.BORDER_REPLICATE
        )
    chroma = [
        cv2.resize(p, (even[0] // 2, even[1] // 2), interpolation=cv2.INTER_LINEAR)
        for p in planes[1:]
    ]
    i420 = np.concatenate([luma.ravel(), *(c.ravel() for c in chroma)])
    bgr = cv2.cvtColor(i420.reshape(even[1] * 3 // 2, even[0]), cv2.COLOR_YUV2BGR_I420)
    return bgr[: size[1], : size[0]]
