"""The one-time ONNX export of a sentence-transformers model (needs torch, transformers, onnx).

BERT, mean pooling over the attention mask and L2 normalisation are exported as one graph
with PyTorch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``, opset
17), its weights stored beside it as external data (``model.onnx.data``), which ONNX Runtime
maps from disk instead of parsing: a session opens several times faster. Before the folder is
published, the graph run by ONNX Runtime is checked against the same module run by torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .embed_onnx import EXPORT_MANIFEST, OnnxEncoder, PlainStack, export_folder
from .store import share

__all__ = ["CHECK_TEXTS", "OPSET", "ensure_export"]

logger = logging.getLogger(__name__)

OPSET = 17
CHECK_TEXTS = (
    "",
    "a",
    "What colour is the car that appears after the explosion?",
    "Café, naïve — 東京タワー 🎉",
    "word " * 300,  # past max_seq_length: the cut must match
)
MAX_CHECK_DISTANCE = 1e-5
"""Largest 1 - cosine allowed between ONNX Runtime and torch (measured: about 1e-12)."""


def ensure_export(stack: PlainStack, cache: Path) -> Path:
    """The export folder of `stack` under `cache`, exported first if missing.

    Two processes never export the same model at once (a file lock); the folder appears
    complete or not at all (made aside, then renamed).

    Raises:
        ImportError: torch, transformers or onnx is missing.
        OSError: The cache folder cannot be written.
        RuntimeError: The exported graph does not reproduce torch's vectors.
    """
    from filelock import FileLock

    target = export_folder(stack, cache)
    if (target / EXPORT_MANIFEST).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f"{target.name}.lock")):
        if not (target / EXPORT_MANIFEST).is_file():
            started = time.perf_counter()
            logger.info("exporting %s to ONNX once, into %s", stack.folder, target)
            _export(stack, target)
            logger.info("exported in %.1f s", time.perf_counter() - started)
    return target


def _pooled_module(stack: PlainStack) -> Any:
    """The sentence-transformers stack as one torch module: ids, mask, types -> unit rows."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    bert = AutoModel.from_pretrained(str(stack.folder), attn_implementation="eager")
    return Pooled(bert).eval()


def _export(stack: PlainStack, target: Path) -> None:
    import onnx
    import torch

    module = _pooled_module(stack)
    prefix = f".{target.name}.export-"
    for stale in target.parent.glob(f"{prefix}*"):  # a process killed mid-export (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        names = ["input_ids", "attention_mask", "token_type_ids"]
        ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]])
        mask = (ids != 0).to(torch.int64)
        axes = {name: {0: "batch", 1: "sequence"} for name in names}
        with torch.no_grad(), warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of dynamo (which needs
            # onnxscript besides); tracing warnings concern decoder masks, not an encoder.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (ids, mask, torch.zeros_like(ids)), str(tmp / "graph.onnx"),
                input_names=names, output_names=["sentence_embedding"], opset_version=OPSET,
                dynamic_axes={**axes, "sentence_embedding": {0: "batch"}}, dynamo=False,
            )  # fmt: skip
        onnx.save(
            onnx.load(str(tmp / "graph.onnx")), str(tmp / "model.onnx"),
            save_as_external_data=True, all_tensors_to_one_file=True,
            location="model.onnx.data", size_threshold=1024,
        )  # fmt: skip
        (tmp / "graph.onnx").unlink()
        distance = _check(stack, tmp, module)
        manifest = _manifest(stack, distance, torch.__version__, onnx.__version__)
        (tmp / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for path in (tmp, *tmp.iterdir()):  # mkdtemp and onnx make them private
            share(path)
        if target.exists():  # left incomplete by a crash: no manifest, nobody reads it
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)


def _check(stack: PlainStack, folder: Path, module: Any) -> float:
    """Largest 1 - cosine between ONNX Runtime and torch on `CHECK_TEXTS`."""
    import torch

    encoder = OnnxEncoder(stack, folder)
    got = encoder.embed(CHECK_TEXTS).astype(np.float64)
    want = []
    for text in CHECK_TEXTS:
        ids = torch.tensor([encoder.token_ids(text)])
        with torch.no_grad():
            want.append(module(ids, torch.ones_like(ids), torch.zeros_like(ids))[0].numpy())
    distance = float(np.max(1.0 - np.sum(got * np.asarray(want, np.float64), axis=1)))
    if not distance <= MAX_CHECK_DISTANCE:
        raise RuntimeError(f"the ONNX graph differs from torch (1 - cosine {distance:.1e})")
    return distance


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(stack: PlainStack, distance: float, torch_version: str, onnx_version: str) -> dict:
    weights = stack.folder / "model.safetensors"
    st = weights.stat()
    return {
        "source": str(stack.folder.resolve()),
        "weights": {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256(weights)},
        "max_seq_length": stack.max_seq_length,
        "dimension": stack.dimension,
        "pooling": "mean, L2-normalized",
        "exporter": f"torch {torch_version} torch.onnx.export (TorchScript), opset {OPSET}",
        "onnx": onnx_version,
        "check_max_1_minus_cosine": distance,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
