"""Turn a video file into its persistent hierarchical memory, resuming any earlier work.

Stages, each saved atomically on completion so an interrupted run resumes after the
last finished one: probe, scenes + keyframes (one decoding pass) with speech transcribed
in parallel, on-screen text, subtitles, captions and summaries (model), embeddings + FAISS.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

from mcr_agent.errors import CacheError

from .embed import SentenceEmbedder
from .probe import probe, video_file
from .protocols import Captioner, Embedder, ProgressSink
from .records import Entry, VideoInfo
from .settings import SCHEMA_VERSION, IndexSettings
from .stages import BuildReport, BuildStages
from .store import cache_dir, cache_errors, fingerprint, read_json, write_json
from .subtitle_tracks import SubtitleTrack, choose_track, subtitle_tracks
from .subtitles import read_subtitles
from .video_memory import VideoMemory

__all__ = [
    "BuildReport",
    "build_memory",
    "find_memory",
    "indexed_settings",
    "memory_folder",
    "open_memory",
    "probe_or_recall",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _NullProgress:
    def stage(self, name: str, total: float | None) -> None:
        pass

    def update(self, name: str, done: float) -> None:
        pass

    def done(self, name: str, summary: str) -> None:
        pass


def memory_folder(video: str | Path, settings: IndexSettings, cache: str | Path | None) -> Path:
    """Where the memory of `video` built with `settings` lives."""
    return cache_dir(cache) / f"{fingerprint(video)[:20]}-{settings.digest()}"


def build_memory(
    video: str | Path | VideoInfo,
    *,
    settings: IndexSettings | None = None,
    cache: str | Path | None = None,
    subtitles: str | Path | None = None,
    captioner: Captioner | None = None,
    embedder: Embedder | None = None,
    progress: ProgressSink | None = None,
    force: bool = False,
) -> tuple[VideoMemory, BuildReport]:
    """Build (or load, or complete) the memory of a video.

    Args:
        video: The video file, or what `probe` found in it (a caller that probed already).
        settings: How to build; defaults to `IndexSettings()`.
        cache: Cache folder (default ``$MCR_CACHE_DIR`` or ``~/.cache/mcr-agent``).
        subtitles: An .srt or .vtt file to import.
        captioner: The video-LLM for captions; None skips captioning (a later run with
            one completes the memory).
        embedder: Text embedder; defaults to the shipped all-MiniLM-L6-v2.
        progress: Receives stage progress.
        force: Rebuild from scratch even if a memory exists.

    Returns:
        The memory and a report of the work done.
    """
    from filelock import FileLock, Timeout

    settings = settings or IndexSettings()
    sink = progress or _NullProgress()
    info = video if isinstance(video, VideoInfo) else probe(video)
    subs, settings = _subtitle_file(subtitles, settings)
    embedder = embedder or SentenceEmbedder(settings.embed_model, cache=cache)
    folder = memory_folder(info.path, settings, cache)
    # Checked before anything is built; a memory to reuse needs no track listed (no PyAV).
    tracks = None
    if force or not _reusable(_peek(folder / "manifest.json"), settings, captioner):
        tracks = _embedded_tracks(info, subtitles, settings)
    report = BuildReport(folder)
    with cache_errors(folder.parent):
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder.parent / f"{folder.name}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            sink.stage("waiting for another process indexing this video", None)
            lock.acquire()
    try:
        with cache_errors(folder):
            if force and folder.exists():
                shutil.rmtree(folder)
            manifest = read_json(folder / "manifest.json")
            if _reusable(manifest, settings, captioner):
                report.reused = True
                memory = VideoMemory.load(folder, embedder=embedder)
                report.missing_captions = memory.missing_captions
                report.counts = dict(memory.manifest.get("counts", {}))
                report.warnings = list(memory.manifest.get("warnings", []))
                report.notes = list(memory.manifest.get("notes", []))
                return memory, report
            if tracks is None:  # the memory went away while this process waited
                tracks = _embedded_tracks(info, subtitles, settings)
            folder.mkdir(parents=True, exist_ok=True)
            # Readers take no lock: without a manifest they never load a half-updated folder.
            before = _files(folder)
            (folder / "manifest.json").unlink(missing_ok=True)
            stages = BuildStages(
                info, settings, folder, subs, captioner, embedder, sink, report, tracks=tracks
            )
            try:
                stages.run()
            except BaseException:
                if manifest is not None and _files(folder) == before:
                    # Nothing was rewritten (e.g. an ASR model that cannot load): the memory
                    # that was complete before this run stays usable.
                    write_json(folder / "manifest.json", manifest)
                elif not any(folder.iterdir()):
                    folder.rmdir()
                raise
            return VideoMemory.load(folder, embedder=embedder), report
    finally:
        lock.release()


def _files(folder: Path) -> dict[str, int]:
    """Each file of a memory folder (its top level) but the manifest, with its modification
    time in ns."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.name != "manifest.json"}


def _peek(manifest: Path) -> dict[str, Any] | None:
    """A manifest read without the folder's lock, or None where it cannot be read (the
    locked read then reports why)."""
    try:
        found = read_json(manifest)
    except (OSError, CacheError):
        return None
    return found if isinstance(found, dict) else None


def _subtitle_file(
    subtitles: str | Path | None, settings: IndexSettings
) -> tuple[list[Entry], IndexSettings]:
    """The cues of a subtitle file, and the settings keyed by their digest.

    Raises:
        SubtitleError: The file is unusable.
    """
    if not subtitles:
        return [], settings
    subs = read_subtitles(subtitles)
    digest = hashlib.blake2b("\n".join(repr(e) for e in subs).encode(), digest_size=8)
    return subs, replace(settings, subtitles_digest=digest.hexdigest())


def _embedded_tracks(
    info: VideoInfo, subtitles: str | Path | None, settings: IndexSettings
) -> list[SubtitleTrack]:
    """The video's subtitle tracks, when they are to be read (no subtitle file given), with
    the chosen one checked.

    Raises:
        SubtitleError: The file cannot be opened, or the chosen track does not exist or is
            images.
    """
    if subtitles or not settings.embedded_subtitles:
        return []
    tracks = subtitle_tracks(info.path)
    choose_track(tracks, settings.subtitle_track)
    return tracks


def _reusable(
    manifest: dict[str, Any] | None, settings: IndexSettings, captioner: Captioner | None
) -> bool:
    if not manifest or not manifest.get("complete") or manifest.get("schema") != SCHEMA_VERSION:
        return False
    if manifest.get("settings") != settings.memory_fields():
        return False
    if captioner is None:
        return True
    same = manifest.get("models", {}).get("caption") == captioner.name and manifest.get(
        "prompt_versions"
    ) == dict(captioner.prompt_versions)
    return same and not manifest.get("captions_incomplete")


def open_memory(
    video: str | Path, cache: str | Path | None = None, *, embedder: Embedder | None = None
) -> VideoMemory | None:
    """Load the newest complete memory of `video`, or None if it was never indexed.

    Raises:
        CacheError: Another process is building this video's memory right now.
    """
    from filelock import FileLock, Timeout

    folder = find_memory(video, cache)
    locks = [folder.parent / f"{folder.name}.lock"] if folder else []
    locks = locks or sorted(cache_dir(cache).glob(f"{fingerprint(video)[:20]}-*.lock"))
    for path in locks:
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise CacheError(
                f"{video} is being indexed by another process: wait for it to finish, then retry"
            ) from None
        try:
            if folder is not None:
                return VideoMemory.load(folder, embedder=embedder)
        finally:
            lock.release()
    return None


def find_memory(video: str | Path, cache: str | Path | None = None) -> Path | None:
    """The newest complete memory folder of `video`, whatever settings built it."""
    newest = _newest_manifest(video, cache)
    return newest[0] if newest else None


def _newest_manifest(
    video: str | Path, cache: str | Path | None
) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete memory folder of `video` and its manifest, as read once."""
    prefix = fingerprint(video)[:20]
    found = []
    for manifest in cache_dir(cache).glob(f"{prefix}-*/manifest.json"):
        try:
            stamp = manifest.stat().st_mtime
        except FileNotFoundError:  # removed since the glob (a rebuild with --force)
            continue
        saved = read_json(manifest)
        if isinstance(saved, dict) and saved.get("complete"):
            found.append((stamp, manifest.parent, saved))
    if not found:
        return None
    _, folder, saved = max(found, key=lambda f: (f[0], f[1]))
    return folder, saved


def probe_or_recall(video: str | Path, cache: str | Path | None = None) -> VideoInfo:
    """What `probe` finds in `video`, recalled from the newest complete memory of the same
    content (`fingerprint`) when there is one, else probed.

    A question about an indexed video then opens no decoder before its first model request
    (PyAV's import and a first-frame decode: 0.05 s for a small file on 2 cores, more for a
    long 4K one). The info is the one the memory was built from, with today's path.

    Raises:
        VideoError: As `probe` does.
    """
    path = video_file(video)
    try:
        newest = _newest_manifest(path, cache)
    except (OSError, CacheError):  # an unreadable cache: opening the memory will say so
        newest = None
    manifest = newest[1] if newest else {}
    saved = manifest.get("video")
    if manifest.get("schema") == SCHEMA_VERSION and isinstance(saved, dict):
        try:
            return VideoInfo.from_dict({**saved, "path": str(path.resolve())})
        except (KeyError, TypeError, ValueError):  # damaged: probe again
            pass
    return probe(path)


def indexed_settings(video: str | Path, cache: str | Path | None = None) -> IndexSettings | None:
    """The settings the newest complete memory of `video` was built with (the options of the
    `index` run that made it), or None if it was never indexed."""
    newest = _newest_manifest(video, cache)
    saved = newest[1].get("settings") if newest else None
    if not isinstance(saved, dict):
        return None
    names = {f.name for f in fields(IndexSettings)}
    return IndexSettings(**{k: v for k, v in saved.items() if k in names})
