"""The videos the web app may read: those under ``--videos DIR`` and the upload folder.

A video is named by an id, ``videos/<relative path>`` or ``uploads/<file name>``. Every id
is resolved (symlinks followed) and must land inside its folder, so ``../../etc/passwd``
and a symlink pointing out are refused. Uploads get a sanitised name and are refused before
anything is written when they announce more than the size limit, and deleted when they send
more than it or are not a readable video.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from memory import VideoInfo, probe
from memory.build import find_memory

from ...errors import MCRAgentError, VideoError

__all__ = ["OutsideFolders", "TooLarge", "VideoItem", "VideoLibrary", "safe_name"]

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi"})
_MOST_LISTED = 1000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutsideFolders(VideoError):
    """A video id that does not resolve inside the video folders (refused)."""


class TooLarge(VideoError):
    """An upload over the size limit (refused)."""


@dataclass(frozen=True)
class VideoItem:
    """One video of the list.

    Attributes:
        id: ``videos/<relative path>`` or ``uploads/<name>``.
        name: What the list shows.
        size: Bytes.
        duration: Seconds, or None when the file is not a readable video.
        error: Why it cannot be read, if it cannot.
        indexed: Whether a complete memory of it is in the cache.
    """

    id: str
    name: str
    size: int
    duration: float | None
    error: str | None
    indexed: bool


def safe_name(name: str) -> str:
    """A file name safe to create in the upload folder: the last path component, letters,
    digits, ``.``, ``_`` and ``-`` only, no leading dot, at most 100 characters.

    Raises:
        VideoError: Nothing usable is left, or the suffix is not a video's.
    """
    base = unicodedata.normalize("NFKD", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = base.encode("ascii", "ignore").decode()
    stem, dot, suffix = _UNSAFE.sub("_", base).lstrip("._-").rpartition(".")
    if not dot or f".{suffix.lower()}" not in VIDEO_SUFFIXES or not stem.strip("._-"):
        kinds = ", ".join(sorted(VIDEO_SUFFIXES))
        raise VideoError(f"{name!r} is not a video file name: upload a file ending in {kinds}")
    return f"{stem[:90]}.{suffix.lower()}"


class VideoLibrary:
    """The video folders of one app.

    Args:
        videos: The ``--videos`` folder, or None.
        uploads: The upload folder (created when needed).
        cache: The memory cache folder (to tell whether a video is indexed).
        max_upload: Most bytes one upload may have.
    """

    def __init__(self, videos: Path | None, uploads: Path, cache: Path, max_upload: int) -> None:
        self.roots = {"uploads": uploads.resolve()}
        if videos is not None:
            self.roots = {"videos": videos.resolve(), **self.roots}
        self.cache = cache
        self.max_upload = max_upload
        self._probed: dict[tuple[str, int, int], VideoInfo | str] = {}
        self._lock = threading.Lock()

    def resolve(self, video_id: str) -> Path:
        """The file of a video id.

        Raises:
            OutsideFolders: The id names no folder, or resolves outside its folder.
            VideoError: The file does not exist.
        """
        root_name, _, rel = video_id.partition("/")
        root = self.roots.get(root_name)
        if root is None or not rel or "\x00" in rel:
            raise OutsideFolders(f"refused {video_id!r}: {self._where()}")
        path = (root / rel).resolve()
        if not path.is_relative_to(root) or path == root:
            raise OutsideFolders(f"refused {video_id!r}: {self._where()}")
        if not path.is_file():
            raise VideoError(f"no video {video_id!r}: refresh the list")
        return path

    def subtitles_for(self, video: Path) -> Path | None:
        """The video's sidecar subtitles (same name, .srt or .vtt, same folder), if any."""
        for suffix in (".srt", ".vtt"):
            sidecar = video.with_suffix(suffix)
            if sidecar.is_file() and sidecar.resolve().is_relative_to(video.parent):
                return sidecar
        return None

    def _where(self) -> str:
        return "videos are read only from " + " and ".join(str(r) for r in self.roots.values())

    def list(self) -> list[VideoItem]:
        """Every video file in the folders (symlinks out of them left out), by id."""
        items = []
        for root_name, root in self.roots.items():
            for path in _walk(root)[:_MOST_LISTED]:
                video_id = f"{root_name}/{path.relative_to(root).as_posix()}"
                items.append(self.item(video_id, path))
        return items

    def item(self, video_id: str, path: Path) -> VideoItem:
        """The list entry of one video (its probe is cached by size and mtime)."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            found = self._probed.get(key)
        if found is None:
            try:
                found = probe(path)
            except MCRAgentError as exc:
                found = str(exc)
            with self._lock:
                self._probed[key] = found
        indexed = isinstance(found, VideoInfo) and find_memory(path, self.cache) is not None
        name = video_id.partition("/")[2]
        if isinstance(found, str):
            return VideoItem(video_id, name, stat.st_size, None, found, False)
        return VideoItem(video_id, name, stat.st_size, found.duration, None, indexed)

    async def store_upload(
        self, name: str, length: int | None, chunks: AsyncIterator[bytes]
    ) -> VideoItem:
        """Write an upload into the upload folder under a sanitised, unused name.

        Args:
            name: The name the browser sent.
            length: The announced Content-Length, if any.
            chunks: The body.

        Raises:
            TooLarge: Over the limit (announced: nothing is written; sent: the part is deleted).
            VideoError: Not a video name, or not a readable video (deleted).
        """
        clean = safe_name(name)
        if length is not None and length > self.max_upload:
            raise TooLarge(self._too_large(length))
        folder = self.roots["uploads"]
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f".{uuid.uuid4().hex}.part"
        written = 0
        try:
            with part.open("xb") as out:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > self.max_upload:
                        raise TooLarge(self._too_large(written))
                    out.write(chunk)
            try:
                await anyio.to_thread.run_sync(probe, part)
            except VideoError:
                raise VideoError(
                    f"{clean} is not a readable video: upload a complete video file"
                ) from None
            path = _claim(part, folder, clean)
        finally:
            part.unlink(missing_ok=True)
        return self.item(f"uploads/{path.name}", path)

    def _too_large(self, size: int) -> str:
        return (
            f"the upload is over the limit ({size / 1e6:.1f} MB > {self.max_upload / 1e6:.0f} "
            "MB): start the app with a larger --max-upload-mb, or put the file in --videos DIR"
        )


def _walk(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder, name)
            if name.startswith(".") or path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            if path.resolve().is_relative_to(root) and path.resolve().is_file():
                found.append(path)
    return found


def _claim(part: Path, folder: Path, name: str) -> Path:
    """Link `part` under `name` (or name-1, name-2...) without replacing any file."""
    stem, suffix = os.path.splitext(name)
    for i in itertools.count():
        target = folder / (f"{stem}-{i}{suffix}" if i else name)
        with contextlib.suppress(FileExistsError):
            os.link(part, target)
            return target
    raise AssertionError("unreachable")
