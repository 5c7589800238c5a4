"""`mcr-agent doctor`: check what mcr-agent needs on this machine."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..config import AgentConfig

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True)
class Check:
    """One check's outcome."""

    name: str
    ok: bool
    detail: str
    optional: bool = False


def run_checks(config: AgentConfig) -> Iterator[Check]:
    """Run every check, each independent of the others' failures."""
    checks: list[tuple[str, Callable[[], str], bool]] = [
        ("ffmpeg", _ffmpeg, True),
        ("video decoding (PyAV)", _pyav, False),
        ("ASR model", lambda: _asr(config), False),
        ("embedding model", lambda: _embedder(config), False),
        ("OCR (rapidocr)", _ocr, False),
        ("cache folder", lambda: _cache(config), False),
        ("model server", lambda: _server(config), True),
    ]
    for name, fn, optional in checks:
        try:
            yield Check(name, True, fn(), optional)
        except Exception as exc:
            yield Check(name, False, " ".join(str(exc).split()) or type(exc).__name__, optional)


def _ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise RuntimeError(
            "not on PATH (only `mcr-agent demo` needs it): apt-get install ffmpeg espeak-ng"
        )
    return path


def _pyav() -> str:
    import av

    return f"PyAV {av.__version__}, FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))}"


def _asr(config: AgentConfig) -> str:
    from memory.asr import WhisperTranscriber, resolve_asr_model

    WhisperTranscriber(config.index.asr_model, cpu_threads=1)._model()
    return f"{config.index.asr_model} ({resolve_asr_model(config.index.asr_model)})"


def _embedder(config: AgentConfig) -> str:
    from memory.embed import SentenceEmbedder

    embedder = SentenceEmbedder(config.index.embed_model, cache=config.cache_dir)
    vector = embedder.embed(["hello"])
    return f"{config.index.embed_model}, {vector.shape[1]} dimensions, {embedder.runtime}"


def _ocr() -> str:
    import numpy as np

    from memory.ocr import KeyframeReader

    KeyframeReader().read(np.full((64, 64, 3), 255, np.uint8))
    return "PP-OCR models load"


def _cache(config: AgentConfig) -> str:
    folder = config.cache_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise RuntimeError(
            f"{folder} is not writable ({exc.strerror}): set MCR_CACHE_DIR to a writable folder"
        ) from exc
    free = shutil.disk_usage(folder).free / 2**30
    return f"{folder} (writable, {free:.1f} GiB free)"


def _server(config: AgentConfig) -> str:
    from ..model.client import OpenAIVideoLLM

    model = OpenAIVideoLLM(config).ping()
    return f"{config.base_url} serves {model}"
