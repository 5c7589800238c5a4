"""The on-disk memory folder: cache location, content fingerprint, atomic writes, locking."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcr_agent.errors import CacheError

__all__ = [
    "atomic_path",
    "cache_dir",
    "cache_errors",
    "fingerprint",
    "read_json",
    "read_jsonl",
    "share",
    "write_json",
]

_SAMPLE = 1 << 20
_SAMPLES = 8


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: `override`, else ``$MCR_CACHE_DIR``, else ``~/.cache/mcr-agent``."""
    raw = override or os.environ.get("MCR_CACHE_DIR") or "~/.cache/mcr-agent"
    return Path(raw).expanduser().resolve()


def fingerprint(path: str | os.PathLike[str]) -> str:
    """A content fingerprint of a file, cheap even for hours of video.

    Hashes the size and eight 1 MiB windows spread evenly through the file (all of it when
    smaller than 8 MiB), so a renamed or copied video maps to the same memory and an edited
    one does not.
    """
    p = Path(path)
    size = p.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with p.open("rb") as f:
        if size <= _SAMPLE * _SAMPLES:
            digest.update(f.read())
        else:
            for i in range(_SAMPLES):
                f.seek((size - _SAMPLE) * i // (_SAMPLES - 1))
                digest.update(f.read(_SAMPLE))
    return digest.hexdigest()


@contextlib.contextmanager
def cache_errors(folder: Path) -> Iterator[None]:
    """Turn disk errors while writing under `folder` into one-line `CacheError`s."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise CacheError(
                f"cannot write the memory under {folder} ({exc.strerror}): "
                "set MCR_CACHE_DIR to a writable folder"
            ) from exc
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise CacheError(
                f"no space left for the memory under {folder}: free disk space or set "
                "MCR_CACHE_DIR to a folder on a disk with room"
            ) from exc
        raise


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` at once.

    Readers see either the old file or the complete new one, never a partial write; on
    failure (or Ctrl-C) the temporary file is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); the result gets the usual mode instead.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; set back at once, at import time
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def share(path: Path) -> None:
    """Give a file or folder made private (mkstemp, mkdtemp: 0600, 0700) the usual mode, so
    a cache shared between users or machines stays readable."""
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_UMASK)


def write_json(target: Path, data: Any) -> None:
    """Write JSON atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def read_json(path: Path) -> Any:
    """Read JSON, or None if the file does not exist.

    Raises:
        CacheError: The file exists but is not valid JSON (it was damaged outside mcr-agent,
            since mcr-agent only ever renames complete files into place).
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CacheError(
            f"{path} is damaged ({type(exc).__name__}): "
            "rebuild with `mcr-agent index VIDEO --force`"
        ) from exc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read an append-only JSON-lines log; a line cut short by a crash is ignored."""
    rows: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
