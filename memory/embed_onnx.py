"""Sentence embeddings with ONNX Runtime and `tokenizers`: the same vectors as
sentence-transformers without importing torch, from a one-time ONNX export of the model.

A sentence-transformers folder qualifies when it is the plain stack Transformer (BERT) →
mean pooling → L2 normalisation (``modules.json``, ``1_Pooling/config.json``) and ships
``tokenizer.json`` and ``model.safetensors``. Its export lives in the cache under
``embedders/<name>-<key>/``, where the key is derived from the weights file's path, size and
modification time (one ``stat``, no hashing on the question path); the export records the
weights' sha256, computed once when it was made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .threads import thread_limit

__all__ = ["EXPORT_MANIFEST", "OnnxEncoder", "PlainStack", "export_folder", "plain_stack"]

logger = logging.getLogger(__name__)

EXPORT_MANIFEST = "embedder.json"
"""Written last into an export folder: the folder is complete when it exists."""
QUERY_THREADS = 1
"""Intra-op threads for a handful of texts: a query runs in a few milliseconds on one core,
and more threads only add hand-over cost (measured 6-7 ms on 1 thread, 13-16 ms on 2)."""
BATCH_THREADS = min(4, os.cpu_count() or 1)
"""Intra-op threads for indexing batches, with spinning off (idle threads yield the core);
a process's `memory.threads.thread_limit` (a corpus worker's share) caps them."""
_SMALL = 4  # up to this many texts use the query session


def batch_threads() -> int:
    """Intra-op threads for a batch: `BATCH_THREADS`, within the process's thread limit."""
    return min(BATCH_THREADS, thread_limit() or BATCH_THREADS)


@dataclass(frozen=True)
class PlainStack:
    """What the ONNX path needs to know about a qualifying model folder.

    Attributes:
        folder: The sentence-transformers folder.
        max_seq_length: Tokens per text, special tokens included (longer texts are cut).
        lower_case: sentence-transformers lower-cases texts itself before tokenizing.
        dimension: Length of the embedding vectors.
        pad_id: Token id used for padding.
    """

    folder: Path
    max_seq_length: int
    lower_case: bool
    dimension: int
    pad_id: int


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _kind(module: dict[str, Any]) -> str:
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def plain_stack(folder: Path) -> PlainStack | None:
    """The folder's settings if it is Transformer (BERT) → mean pooling → normalize with a
    ``tokenizer.json``; None for anything else (it then stays on sentence-transformers)."""
    try:
        modules = _read(folder / "modules.json")
        kinds = [_kind(m) for m in sorted(modules, key=lambda m: int(m.get("idx", 0)))]
        if kinds != ["Transformer", "Pooling", "Normalize"] or modules[0].get("path", ""):
            return None
        pooling = _read(folder / modules[1]["path"] / "config.json")
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True}
        config = _read(folder / "config.json")
        bert = _read(folder / "sentence_bert_config.json")
        tokenizer = _read(folder / "tokenizer.json")
        if modes != {"pooling_mode_mean_tokens"} or config.get("model_type") != "bert":
            return None
        if not (folder / "model.safetensors").is_file():
            return None
        pad = tokenizer.get("padding") or {}
        return PlainStack(
            folder=folder,
            max_seq_length=int(bert["max_seq_length"]),
            lower_case=bool(bert.get("do_lower_case", False)),
            dimension=int(pooling["word_embedding_dimension"]),
            pad_id=int(pad.get("pad_id", config.get("pad_token_id") or 0)),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def export_folder(stack: PlainStack, cache: Path) -> Path:
    """Where the export of `stack`'s weights lives under the cache folder (made or not)."""
    weights = (stack.folder / "model.safetensors").resolve()
    st = weights.stat()
    key = f"{weights}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stack.folder.resolve().name)[:40] or "model"
    if name in ("model", "models"):  # a package's inner folder: name it by the package
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", stack.folder.resolve().parent.name)[:40]
    return cache / "embedders" / f"{name}-{hashlib.blake2b(key, digest_size=6).hexdigest()}"


class OnnxEncoder:
    """Embeds texts with an exported model: float32 rows of unit length.

    Args:
        stack: The model folder's settings (`plain_stack`).
        export: The export folder (``model.onnx`` with its weights beside it).
    """

    runtime = "onnxruntime"

    def __init__(self, stack: PlainStack, export: Path) -> None:
        from tokenizers import Tokenizer

        self.stack = stack
        self.export = export
        self.dimension = stack.dimension
        self._tokenizer = Tokenizer.from_file(str(stack.folder / "tokenizer.json"))
        # tokenizer.json of all-MiniLM-L6-v2 ships truncation at 128 and fixed padding to
        # 128; sentence-transformers cuts at max_seq_length (256) and pads to the longest
        # text of a batch, which is done here on the ids.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=stack.max_seq_length)
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _session(self, threads: int) -> Any:
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3  # ORT's own warnings are not the user's
                self._sessions[threads] = ort.InferenceSession(
                    str(self.export / "model.onnx"), options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads]

    def token_ids(self, text: str) -> list[int]:
        """The ids sentence-transformers would feed the model for `text` (no padding)."""
        # sentence-transformers strips each text (and lower-cases it when configured).
        text = text.strip().lower() if self.stack.lower_case else text.strip()
        return list(self._tokenizer.encode(text).ids)

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed texts; returns float32, shape (len(texts), dimension), rows of unit length."""
        out = np.zeros((len(texts), self.stack.dimension), np.float32)
        if not texts:
            return out
        # Encoded one by one: a batch encode would start the tokenizer's thread pool, which
        # a process forking later (worker pools) would then have to disable with a warning.
        ids = [self.token_ids(t) for t in texts]
        session = self._session(QUERY_THREADS if len(texts) <= _SMALL else batch_threads())
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # less padding per batch
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[i]) for i in rows)
            batch = np.full((len(rows), width), self.stack.pad_id, np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                batch[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            feed = {"input_ids": batch, "attention_mask": mask, "token_type_ids": 0 * batch}
            out[rows] = session.run(None, feed)[0]
        return out
