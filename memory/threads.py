"""One limit on the CPU threads each library of this process may use.

Indexing many videos at once runs one build per worker process. Left alone, every library in
every worker sizes its own thread pool to the whole machine (torch, OpenMP in FAISS and
CTranslate2, ONNX Runtime in RapidOCR, FFmpeg's decoder threads in PyAV, OpenCV), so N workers
run N x cores busy threads that mostly wait for each other. `limit_threads` caps them all for
the process it is called in; the pools are process-wide in those libraries, so the limit is
too.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["limit_threads", "thread_limit"]

_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_LIMIT: list[int] = []
"""The limit set in this process, if any (a list so the module holds no rebinding global)."""


def limit_threads(threads: int) -> None:
    """Let each library of this process use at most `threads` CPU threads.

    Call it at the start of a worker process, before its first build: OpenMP reads its
    variables when it starts, and ONNX Runtime and CTranslate2 size their pools when their
    model loads (models already loaded keep their pools).

    Args:
        threads: Threads per library, at least 1.

    Raises:
        ValueError: `threads` is below 1.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    for name in _ENV:
        os.environ[name] = str(threads)
    _LIMIT[:] = [threads]
    import cv2
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # possible only before torch's first parallel work
        torch.set_num_interop_threads(1)
    cv2.setNumThreads(threads)
    import faiss

    faiss.omp_set_num_threads(threads)


def thread_limit() -> int | None:
    """The limit `limit_threads` set in this process, or None (each library's default)."""
    return _LIMIT[0] if _LIMIT else None
