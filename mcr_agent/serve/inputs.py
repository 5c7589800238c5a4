"""OpenAI chat messages to Qwen3-VL model inputs, within the server's limits.

The chat template renders the conversation (tools included); each image and video part
becomes the model's vision placeholder, expanded to as many tokens as the image processor
makes patches. Images go through the model's own image processor. Videos are decoded
here (PyAV, at `fps`, within the frame budget left) and laid out the way Qwen3-VL's video
processor does it (pairs of frames per temporal patch, ``<t seconds>`` before each pair),
because that processor needs torchvision, which the CPU install does not have.

Every limit a request can exceed is checked before anything reaches the model, and named
in the `RequestError` (HTTP 400) it raises.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import math
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .messages import Media, RequestError, conversation
from .options import Limits

__all__ = ["InputBuilder", "Limits", "Prepared", "RequestError"]

IMAGE = "<|image_pad|>"
VIDEO = "<|video_pad|>"
START = "<|vision_start|>"
END = "<|vision_end|>"

# Qwen3-VL's video processor spreads about this many pixels over all frames of a video.
VIDEO_PIXELS = 24576 * 32 * 32
_MIN_PIXELS = 32 * 32 * 4


@dataclass
class Prepared:
    """One request's model inputs: prompt ids and the tensors of its images and videos."""

    ids: list[int]
    images: dict[str, Any] | None = None  # pixel_values, image_grid_thw
    videos: dict[str, Any] | None = None  # pixel_values_videos, video_grid_thw
    opens_think: bool = False  # the prompt ends inside a think block


class InputBuilder:
    """Builds `Prepared` inputs from chat messages for one model.

    Args:
        tokenizer: The model's tokenizer.
        image_processor: The model's image processor (a Qwen2-VL-style one).
        chat_template: The template text, or None for the tokenizer's own.
        limits: The server's limits.
    """

    def __init__(
        self, tokenizer: Any, image_processor: Any, chat_template: str | None, limits: Limits
    ) -> None:
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.chat_template = chat_template
        self.limits = limits
        self.patch = int(image_processor.patch_size)
        self.merge = int(image_processor.merge_size)
        self.temporal = int(image_processor.temporal_patch_size)
        self.mean = np.asarray(image_processor.image_mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(image_processor.image_std, np.float32).reshape(1, 3, 1, 1)
        self.image_id = tokenizer.convert_tokens_to_ids(IMAGE)
        self.video_id = tokenizer.convert_tokens_to_ids(VIDEO)

    def build(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None = None,
        *,
        fps: float | None = None,
    ) -> Prepared:
        """Render, load media, check limits, tokenize.

        Raises:
            RequestError: A malformed message, unreadable or refused media, or a limit.
        """
        turns, media = conversation(messages)
        text = self._render(turns, tools)
        placeholders = [m.group(0) for m in _PLACEHOLDER.finditer(text)]
        if len(placeholders) != len(media) or text.count(IMAGE) + text.count(VIDEO) != len(media):
            raise RequestError(
                "the messages contain vision placeholder tokens as text "
                f"({IMAGE} or {VIDEO}): send images and videos as image_url/video_url parts"
            )
        images = [m for m in media if m.kind == "image"]
        videos = [m for m in media if m.kind == "video"]
        if len(images) + 2 * len(videos) > self.limits.max_frames:
            raise RequestError(
                f"the request has {len(images)} images and {len(videos)} videos; this server "
                f"takes at most {self.limits.max_frames} images and video frames per request "
                "(--max-frames)",
                param="messages",
            )
        prepared = Prepared(ids=[])
        expanded: dict[str, Iterator[str]] = {IMAGE: iter(()), VIDEO: iter(())}
        if images:
            # Headers first: a request over the context is refused before any pixel is decoded.
            opened = [self._open_image(m) for m in images]
            text_tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            estimate = text_tokens + sum(self._image_tokens(*im.size) for im, _ in opened)
            if estimate >= self.limits.max_model_len:
                raise self._context_error(estimate)
            out = self.image_processor(
                images=[_rgb(im, m) for (im, _), m in zip(opened, images, strict=True)],
                return_tensors="pt",
            )
            prepared.images = {
                "pixel_values": out["pixel_values"],
                "image_grid_thw": out["image_grid_thw"],
            }
            counts = (out["image_grid_thw"].prod(-1) // self.merge**2).tolist()
            expanded[IMAGE] = iter([START + IMAGE * n + END for n in counts])
        if videos:
            import torch

            budget = self.limits.max_frames - len(images)
            shares = [
                budget // len(videos) + int(i < budget % len(videos)) for i in range(len(videos))
            ]
            rate = fps or self.limits.video_fps
            loaded = [
                self._load_video(m, share, rate) for m, share in zip(videos, shares, strict=True)
            ]
            prepared.videos = {
                "pixel_values_videos": torch.from_numpy(
                    np.concatenate([v.patches for v in loaded])
                ),
                "video_grid_thw": torch.tensor([v.grid for v in loaded]),
            }
            expanded[VIDEO] = iter([v.text for v in loaded])
        pieces = _PLACEHOLDER.split(text)
        text = pieces[0] + "".join(
            next(expanded[IMAGE if IMAGE in p else VIDEO]) + rest
            for p, rest in zip(placeholders, pieces[1:], strict=True)
        )
        prepared.ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        prepared.opens_think = text.rstrip().endswith("<think>")
        if len(prepared.ids) >= self.limits.max_model_len:
            raise self._context_error(len(prepared.ids))
        return prepared

    def _context_error(self, tokens: int) -> RequestError:
        return RequestError(
            f"the prompt is {tokens:,} tokens; this server's context is "
            f"{self.limits.max_model_len:,} tokens (--max-model-len): send fewer or smaller "
            "frames, or a shorter conversation",
            param="messages",
        )

    def _image_tokens(self, width: int, height: int) -> int:
        """Tokens the image processor will make of an image of this size."""
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

        factor = self.patch * self.merge
        h, w = smart_resize(height, width, factor, *_pixel_range(self.image_processor))
        return int(h * w // factor**2) + 2  # and the start and end markers

    def _render(self, conversation: list[dict[str, Any]], tools: Any) -> str:
        from jinja2 import TemplateError

        try:
            text = self.tokenizer.apply_chat_template(
                conversation,
                tools=list(tools) if tools else None,
                chat_template=self.chat_template,
                add_generation_prompt=True,
                tokenize=False,
            )
        except (TemplateError, TypeError, ValueError, KeyError) as exc:
            raise RequestError(f"the chat template rejected the messages: {exc}") from exc
        return str(text)

    def _open_image(self, media: Media) -> tuple[Any, Media]:
        """The image with only its header read, its size within the limits."""
        from PIL import Image, UnidentifiedImageError

        with self._open(media) as source:
            try:
                image = Image.open(source)
            except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
                raise _unreadable(media, exc) from exc
        width, height = image.size
        if width * height > self.limits.max_pixels:
            raise RequestError(
                f"{media.where} is {width}x{height} = {width * height:,} pixels; this "
                f"server takes at most {self.limits.max_pixels:,} per image "
                "(--max-pixels): scale it down before sending",
                param=media.where,
            )
        if width < 2 or height < 2 or max(width, height) / min(width, height) > 200:
            raise RequestError(f"{media.where} is {width}x{height}: too thin to read")
        return image, media

    def _load_video(self, media: Media, frames: int, fps: float) -> _Video:
        """Patches, grid and prompt text of one video."""
        from mcr_agent.errors import VideoError
        from memory.frames import sample_window
        from memory.probe import probe

        if frames < 2:
            raise RequestError(
                f"{media.where}: no frame budget left for this video; this server takes at "
                f"most {self.limits.max_frames} images and video frames per request "
                "(--max-frames)",
                param=media.where,
            )
        with self._path(media) as path:
            try:
                duration = probe(path).duration
                count = max(2, min(frames, math.floor(duration * fps)))
                per_frame = max(_MIN_PIXELS, min(self.limits.max_pixels, VIDEO_PIXELS // count))
                sampled = sample_window(
                    path,
                    0.0,
                    duration,
                    fps=count / max(duration, 1e-3),
                    max_frames=count,
                    max_pixels=per_frame,
                )
            except VideoError as exc:
                raise RequestError(f"{media.where}: {exc}", param=media.where) from exc
        return self.video(
            [_decode_jpeg(f.jpeg) for f in sampled], [f.time for f in sampled], per_frame
        )

    def video(
        self, frames: Sequence[np.ndarray], times: Sequence[float], max_pixels: int
    ) -> _Video:
        """Qwen3-VL's video layout of RGB frames taken at `times` seconds.

        Frames are resized to a multiple of the merged patch within `max_pixels`, normalised,
        and cut into patches two frames deep (the last frame repeats to fill a pair); the
        prompt text puts each pair's mean time before its placeholder, as the model's own
        processor does.
        """
        from PIL import Image
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

        height, width = frames[0].shape[:2]
        factor = self.patch * self.merge
        if min(height, width) < 2 or max(height, width) / min(height, width) > 200:
            raise RequestError(f"the video is {width}x{height}: too thin to read")
        h, w = smart_resize(height, width, factor, min_pixels=_MIN_PIXELS, max_pixels=max_pixels)
        clip = np.stack(
            [
                np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.BICUBIC))
                for f in frames
            ]
        ).astype(np.float32)
        clip = (clip.transpose(0, 3, 1, 2) / 255.0 - self.mean) / self.std
        times = list(times)
        if pad := -len(clip) % self.temporal:
            clip = np.concatenate([clip, np.repeat(clip[-1:], pad, axis=0)])
            times += [times[-1]] * pad
        t, gh, gw = len(clip) // self.temporal, h // self.patch, w // self.patch
        m, p = self.merge, self.patch
        patches = clip.reshape(t, self.temporal, 3, gh // m, m, p, gw // m, m, p)
        patches = patches.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
        patches = np.ascontiguousarray(patches).reshape(t * gh * gw, 3 * self.temporal * p * p)
        per_pair = gh * gw // m**2
        stamps = [
            sum(times[i : i + self.temporal]) / self.temporal
            for i in range(0, len(times), self.temporal)
        ]
        text = "".join(f"<{s:.1f} seconds>{START}{VIDEO * per_pair}{END}" for s in stamps)
        return _Video(patches, (t, gh, gw), text)

    @contextlib.contextmanager
    def _open(self, media: Media) -> Iterator[io.BytesIO | Path]:
        """The bytes of a data: URL, or an allowed file."""
        if media.url.startswith("data:"):
            yield io.BytesIO(_data_url(media))
        else:
            yield self._allowed(media)

    @contextlib.contextmanager
    def _path(self, media: Media) -> Iterator[Path]:
        """A file holding the media: an allowed file, or a data: URL written to a temp file."""
        if not media.url.startswith("data:"):
            yield self._allowed(media)
            return
        with tempfile.TemporaryDirectory(prefix="mcr-serve-") as folder:
            path = Path(folder) / "video"
            path.write_bytes(_data_url(media))
            yield path

    def _allowed(self, media: Media) -> Path:
        url = media.url
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url) and not url.startswith("file://"):
            raise RequestError(
                f"{media.where}: this server does not fetch URLs ({url.split('://')[0]}://); "
                "send the media as a data: URL, or as a file under the server's --media-root",
                param=media.where,
            )
        root = self.limits.media_root
        if root is None:
            raise RequestError(
                f"{media.where}: file paths are refused; start the server with --media-root "
                "DIR to allow files under DIR, or send a data: URL",
                param=media.where,
            )
        path = Path(url.removeprefix("file://")).expanduser()
        resolved = (root / path).resolve() if not path.is_absolute() else path.resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise RequestError(
                f"{media.where}: {path} is outside the server's --media-root {root}",
                param=media.where,
            )
        if not resolved.is_file():
            raise RequestError(f"{media.where}: no file {path} on the server", param=media.where)
        return resolved


@dataclass(frozen=True)
class _Video:
    patches: np.ndarray
    grid: tuple[int, int, int]
    text: str


_PLACEHOLDER = re.compile(
    re.escape(START) + f"(?:{re.escape(IMAGE)}|{re.escape(VIDEO)})" + re.escape(END)
)


def _data_url(media: Media) -> bytes:
    header, _, payload = media.url.partition(",")
    if ";base64" not in header:
        raise RequestError(f"{media.where}: only base64 data: URLs are read", param=media.where)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(
            f"{media.where}: the data: URL is not valid base64", param=media.where
        ) from exc


def _rgb(image: Any, media: Media) -> Any:
    """Decode an opened image to RGB (a damaged body fails here, as a 400)."""
    from PIL import Image

    try:
        return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _unreadable(media, exc) from exc


def _unreadable(media: Media, exc: BaseException) -> RequestError:
    return RequestError(
        f"{media.where} is not a readable image ({type(exc).__name__}): send a PNG or JPEG",
        param=media.where,
    )


def _pixel_range(processor: Any) -> tuple[int, int]:
    """The image processor's (min, max) pixels per image."""
    size = processor.size
    get = size.get if isinstance(size, dict) else lambda key: getattr(size, key, None)
    return int(get("shortest_edge") or 56 * 56), int(get("longest_edge") or 28 * 28 * 1280)


def _decode_jpeg(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
