"""The stages of one memory build, each saved on completion so a later run resumes after it.

Scenes and keyframes (one decoding pass) with speech transcribed in a worker thread at the
same time, on-screen text, the video's subtitle track, captions and summaries (the model),
then embeddings and the FAISS indexes. `memory.build.build_memory` decides whether to build,
takes the video's lock and runs `BuildStages`.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from .asr import WhisperTranscriber
from .asr_filter import FILTER, SpeechStats, Transcript
from .captions import CaptionLog, caption_scenes, scene_key, summarize_all
from .index import write_index
from .ocr import KeyframeReader, read_scenes
from .protocols import Captioner, Embedder, ProgressSink, SceneCaptionRequest
from .records import Entry, Level, Scene, VideoInfo
from .scenes import ScanResult, pick_keyframes, scan_video, split_scenes
from .settings import SCHEMA_VERSION, IndexSettings
from .store import read_json, write_json
from .subtitle_tracks import SubtitleTrack, embedded_subtitles

__all__ = ["BuildReport", "BuildStages"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class BuildReport:
    """What a build did.

    Attributes:
        folder: The memory folder.
        reused: True when everything came from the cache.
        seconds: Wall seconds per stage that ran.
        counts: Items per kind (scenes, asr, ocr, subtitle, captions, entries).
        missing_captions: Scenes without a caption (model server unreachable or failing,
            or the request refused).
        caption_error: Why captioning stopped, if it did.
        refused_captions: Scenes the server refused or gave no usable caption for, by
            index, with why; the next run asks for them again.
        caption_model: The model that wrote the captions (None without a captioner).
        warnings: Other things the user should know.
        notes: What the summary should say about the text tracks (speech lines kept and
            dropped, the subtitle track read).
    """

    folder: Path
    reused: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    missing_captions: list[int] = field(default_factory=list)
    caption_error: str | None = None
    refused_captions: dict[int, str] = field(default_factory=dict)
    caption_model: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class BuildStages:
    """One build's stages over a memory folder; `run` does the work `build_memory` starts."""

    info: VideoInfo
    settings: IndexSettings
    folder: Path
    subtitles: list[Entry]
    captioner: Captioner | None
    embedder: Embedder
    sink: ProgressSink
    report: BuildReport
    tracks: list[SubtitleTrack] = field(default_factory=list)
    """The video's subtitle tracks, when they are to be read (no subtitle file given)."""
    summaries_missing: bool = False
    """True when the server failed while writing segment or video summaries."""
    asr_dropped: int = 0
    """Transcript lines dropped as not said (see `memory.asr_filter`)."""

    @contextmanager
    def _stage(self, name: str, total: float | None, *, timed_as: str = "") -> Iterator[None]:
        self.sink.stage(name, total)
        start = time.perf_counter()
        yield
        self.report.seconds[timed_as or name] = round(time.perf_counter() - start, 3)

    def run(self) -> None:
        start = time.perf_counter()
        scenes, ocr, asr = self._stages_without_model()
        if self.tracks:
            self.subtitles = self._embedded_subtitles()
        self.subtitles = self._within_video(self.subtitles)
        entries = self._captions(scenes, asr, ocr)
        entries += asr + self.subtitles + ocr
        self._index(entries)
        self.report.seconds["total"] = round(time.perf_counter() - start, 3)
        counts = {
            "scenes": len(scenes),
            "asr": len(asr),
            "asr_dropped": self.asr_dropped,
            "subtitle": len(self.subtitles),
            "ocr": len(ocr),
            "captions": len(scenes) - len(self.report.missing_captions),
            "entries": len(entries),
        }
        self.report.counts = counts
        write_json(self.folder / "manifest.json", self._manifest(counts))

    def _stages_without_model(self) -> tuple[list[Scene], list[Entry], list[Entry]]:
        """Scenes, then on-screen text, in this thread while ASR runs in a worker thread."""
        saved_scenes = read_json(self.folder / "scenes.json")
        asr_key = {
            "model": self.settings.asr_model if self.settings.asr else None,
            "language": self.settings.asr_language,
            "beam_size": self.settings.asr_beam_size,
            "filter": dict(FILTER),
        }
        saved_asr = read_json(self.folder / "asr.json")
        if saved_asr is not None and saved_asr.get("settings") != asr_key:
            saved_asr = None
        speech = _Worker(self._transcribe) if saved_asr is None else None
        try:
            if saved_scenes is None:
                scenes = self._detect_scenes()
            else:
                scenes = [Scene.from_dict(s) for s in saved_scenes]
            ocr = self._ocr(scenes)
            if speech is not None:
                # Speech is transcribed beside the other stages: this is only what is left.
                with self._stage("speech", None, timed_as="waiting for speech"):
                    transcript = speech.result()
                stats = transcript.stats if transcript else None
                asr = transcript.entries if transcript else []
                write_json(
                    self.folder / "asr.json",
                    {
                        "settings": asr_key,
                        "entries": [e.to_dict() for e in asr],
                        "stats": stats.to_dict() if stats else None,
                    },
                )
                self.sink.done("speech", f"{len(asr)} transcript segments")
            else:
                asr = [Entry.from_dict(e) for e in saved_asr["entries"]]
                saved = saved_asr.get("stats")
                stats = SpeechStats.from_dict(saved) if saved else None
        finally:
            if speech is not None:
                speech.stop()
        self._speech_summary(stats)
        return scenes, ocr, asr

    def _speech_summary(self, stats: SpeechStats | None) -> None:
        self.asr_dropped = sum(stats.dropped.values()) if stats else 0
        if stats is not None:
            self.report.notes.append(stats.note())
            warning = stats.warning()
            if warning:
                self.report.warnings.append(warning)

    def _transcribe(self, should_stop: Callable[[], bool]) -> Transcript | None:
        if not (self.settings.asr and self.info.has_audio):
            return None
        started = time.perf_counter()
        transcriber = WhisperTranscriber(
            self.settings.asr_model,
            language=self.settings.asr_language,
            beam_size=self.settings.asr_beam_size,
        )
        transcript = transcriber.run(
            self.info.path,
            on_progress=lambda t: self.sink.update("speech", t),
            should_stop=should_stop,
        )
        self.report.seconds["speech (in parallel)"] = round(time.perf_counter() - started, 3)
        return transcript

    def _embedded_subtitles(self) -> list[Entry]:
        with self._stage("subtitles", self.info.duration):
            outcome = embedded_subtitles(
                self.info.path,
                self.folder,
                self.tracks,
                self.settings.subtitle_track,
                on_progress=lambda t: self.sink.update("subtitles", t),
            )
        self.report.notes += outcome.notes
        self.report.warnings += outcome.warnings
        self.sink.done("subtitles", f"{len(outcome.entries)} cues")
        return outcome.entries

    def _detect_scenes(self) -> list[Scene]:
        keyframes = self.folder / "keyframes"
        if keyframes.exists():  # left by an interrupted run: redo the stage
            shutil.rmtree(keyframes)
        try:
            with self._stage("scenes", self.info.duration):
                scan = scan_video(
                    self.info, self.settings, on_progress=lambda t: self.sink.update("scenes", t)
                )
                spans = split_scenes(
                    scan.cuts, scan.end, max_seconds=self.settings.max_scene_seconds
                )
                scenes = pick_keyframes(
                    spans, scan.samples, self.folder, self.settings, scan.text_samples
                )
                self._save_scenes(scenes, scan)
        except BaseException:
            shutil.rmtree(keyframes, ignore_errors=True)  # no half-written stage on disk
            raise
        self.sink.done("scenes", f"{len(scan.cuts)} cuts, {len(scenes)} scenes")
        return scenes

    def _within_video(self, cues: list[Entry]) -> list[Entry]:
        """Cues that start within the video, ending by its end; the others are a warning (a
        subtitle file of another video, or of another cut of it)."""
        end = self.info.duration
        kept = [replace(c, end=min(c.end, end)) for c in cues if c.start < end]
        if len(kept) < len(cues):
            self.report.warnings.append(
                f"{len(cues) - len(kept)} of {len(cues)} subtitle cues start after the video "
                f"ends ({end:.1f} s) and were dropped: check that the subtitles belong to "
                "this video and this cut of it"
            )
        return kept

    def _save_scenes(self, scenes: list[Scene], scan: ScanResult) -> None:
        if scan.end < self.info.duration - 1.0:
            self.report.warnings.append(
                f"only {scan.end:.1f} s of {self.info.duration:.1f} s could be decoded "
                "(truncated or corrupt file); the rest is not in memory"
            )
        if scan.bad_packets:
            self.report.warnings.append(
                f"{scan.bad_packets} damaged packet(s) could not be decoded and were skipped"
            )
        write_json(self.folder / "scenes.json", [s.to_dict() for s in scenes])

    def _ocr(self, scenes: Sequence[Scene]) -> list[Entry]:
        if not self.settings.ocr:
            return []
        saved = read_json(self.folder / "ocr.json")
        key = {"min_score": self.settings.ocr_min_score}
        if saved is not None and saved.get("settings") == key:
            return [Entry.from_dict(e) for e in saved["entries"]]
        total = sum(len(s.keyframes) + len(s.text_frames) for s in scenes)
        with self._stage("on-screen text", total):
            entries = read_scenes(
                scenes,
                self.folder,
                KeyframeReader(min_score=self.settings.ocr_min_score),
                on_progress=lambda n: self.sink.update("on-screen text", n),
            )
        write_json(
            self.folder / "ocr.json", {"settings": key, "entries": [e.to_dict() for e in entries]}
        )
        self.sink.done("on-screen text", f"{len(entries)} text entries")
        return entries

    def _captions(
        self, scenes: Sequence[Scene], asr: Sequence[Entry], ocr: Sequence[Entry]
    ) -> list[Entry]:
        log = CaptionLog(self.folder / "captions.jsonl", self.captioner)
        speech = sorted([*asr, *self.subtitles], key=lambda e: e.start)
        if self.captioner is not None:
            with self._stage("captions", len(scenes)):
                outcome = caption_scenes(
                    scenes,
                    lambda s: self._request(s, speech, ocr),
                    self.captioner,
                    log,
                    concurrency=self.settings.caption_concurrency,
                    on_done=lambda n: self.sink.update("captions", n),
                )
            self.report.caption_error = outcome.error
            self.report.refused_captions = outcome.refused
            self.report.caption_model = self.captioner.name
        missing = [s.index for s in scenes if log.get(scene_key(s)) is None]
        self.report.missing_captions = missing
        entries = [_scene_entry(s, log.get(scene_key(s)), speech, ocr) for s in scenes]
        if self.captioner is not None:
            self.sink.done("captions", f"{len(scenes) - len(missing)}/{len(scenes)} captioned")
        if self.captioner is not None and not missing:
            with self._stage("summaries", None):
                summaries, error = summarize_all(
                    scenes,
                    self.captioner,
                    log,
                    segment_seconds=self.settings.segment_seconds,
                    duration=self.info.duration,
                )
            self.report.caption_error = self.report.caption_error or error
            self.summaries_missing = error is not None
            entries += summaries
            self.sink.done("summaries", f"{len(summaries)} summaries")
        return entries

    def _request(
        self, scene: Scene, speech: Sequence[Entry], ocr: Sequence[Entry]
    ) -> SceneCaptionRequest:
        frames = tuple((k.time, (self.folder / k.path).read_bytes()) for k in scene.keyframes)
        return SceneCaptionRequest(
            index=scene.index,
            start=scene.start,
            end=scene.end,
            frames=frames,
            transcript=_timed_text(speech, scene.start, scene.end),
            on_screen_text=_timed_text(ocr, scene.start, scene.end),
            video_duration=self.info.duration,
        )

    def _index(self, entries: list[Entry]) -> None:
        with self._stage("embeddings", len(entries)):
            write_index(self.folder, entries, self.embedder)
        self.sink.done("embeddings", f"{len(entries)} entries indexed")

    def _manifest(self, counts: dict[str, int]) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "complete": True,
            "captions_incomplete": bool(self.report.missing_captions) or self.summaries_missing,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "fingerprint": self.folder.name.split("-")[0],
            "video": self.info.to_dict(),
            "settings": self.settings.memory_fields(),
            "models": {
                "asr": self.settings.asr_model,
                "embed": self.embedder.name,
                # Which runtime made the vectors (both make the same ones); custom
                # embedders may not say.
                "embed_runtime": getattr(self.embedder, "runtime", None),
                "caption": self.captioner.name if self.captioner else None,
            },
            "prompt_versions": dict(self.captioner.prompt_versions) if self.captioner else {},
            "counts": counts,
            "missing_captions": self.report.missing_captions,
            "stage_seconds": self.report.seconds,
            "warnings": self.report.warnings,
            "notes": self.report.notes,
        }


def _timed_text(entries: Sequence[Entry], start: float, end: float) -> str:
    return "\n".join(
        f"[{e.start:.1f}-{e.end:.1f}s] {e.text}" for e in entries if e.overlaps(start, end)
    )


def _scene_entry(
    scene: Scene, caption: str | None, speech: Sequence[Entry], ocr: Sequence[Entry]
) -> Entry:
    frames = tuple(k.path for k in scene.keyframes)
    if caption:
        return Entry(scene.start, scene.end, Level.SCENE, "caption", caption, frames)
    said = " ".join(e.text for e in speech if e.overlaps(scene.start, scene.end))
    shown = " ".join(e.text for e in ocr if e.overlaps(scene.start, scene.end))
    parts = [
        p for p in (f"Speech: {said}" if said else "", f"On screen: {shown}" if shown else "") if p
    ]
    text = "(not captioned yet) " + " | ".join(parts) if parts else "(not captioned yet)"
    return Entry(scene.start, scene.end, Level.SCENE, "uncaptioned", text, frames)


class _Worker(Generic[T]):
    """Runs `fn(should_stop)` in a daemon thread; `result()` waits for it."""

    def __init__(self, fn: Callable[[Callable[[], bool]], T]) -> None:
        self._stop = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn(self._stop.is_set)
            except BaseException as exc:  # re-raised by result()
                self._error = exc

        self._thread = threading.Thread(target=run, name="mcr-asr", daemon=True)
        self._thread.start()

    def result(self) -> T | None:
        while self._thread.is_alive():
            self._thread.join(timeout=0.2)
        if self._error is not None:
            raise self._error
        return self._value

    def stop(self) -> None:
        self._stop.set()
