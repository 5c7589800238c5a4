"""Embeddings: ONNX Runtime on the one-time export gives sentence-transformers' vectors; which
models qualify; the export on disk; the fallback when it cannot be made."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from mcr_agent.errors import DependencyError
from memory.embed import DEFAULT_EMBED_MODEL, SentenceEmbedder, resolve_model
from memory.embed_onnx import EXPORT_MANIFEST, plain_stack
from memory.index import EntryIndex, write_index
from memory.records import Entry, Level

_LONG = " ".join(
    f"At minute {m} the presenter points at slide {m} and explains the quarterly revenue chart."
    for m in range(30)
)  # about 600 tokens: cut at 256 by both runtimes
SENTENCES = [
    "",
    " ",
    "\n\t \n",
    "a",
    "What colour is the car that appears after the explosion?",
    "HOW MANY PEOPLE ARE IN THE ROOM?",
    "Café, naïve, résumé, Übermaßig, ångström",
    "Die Katze sitzt auf der Matte und schaut aus dem Fenster.",
    "Москва — столица России, и Волга — самая длинная река Европы.",
    "東京タワーは赤と白の電波塔です。",
    "我们在视频的第三分钟看到了一只狗。",
    "مرحبا بالعالم، هذا اختبار للنص العربي.",
    "नमस्ते दुनिया, यह एक परीक्षण है।",
    "🎉🔥 The crowd goes wild 😂👍🏽 at the finale! 🇫🇷",
    "👨‍👩‍👧‍👦",
    "Price: $1,299.99 (-15%) — on 2024-03-05T12:30:00Z; id=#A7f-93_x",
    "supercalifragilisticexpialidocious" * 4,  # one word past 100 characters: [UNK]
    "zero\u200bwidth\u00a0nbsp\u0007bell\ufeffbom",
    "[CLS] [SEP] [MASK] [PAD] are literal text here",
    " ".join(["cat"] * 254),  # 254 words + [CLS] + [SEP]: exactly 256 tokens
    " ".join(["cat"] * 255),  # one token over
    "word " * 300,
    _LONG,
]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.sum(a64 * b64, axis=1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """sentence-transformers' vectors of `SENTENCES` (the runtime memories were built with)."""
    embedder = SentenceEmbedder(runtime="sentence-transformers")
    vectors = embedder.embed(SENTENCES)
    assert embedder.runtime == "sentence-transformers"
    return vectors


def test_onnx_vectors_equal_sentence_transformers(
    embedder_exports: Path, reference: np.ndarray
) -> None:
    onnx = SentenceEmbedder(runtime="onnxruntime", cache=embedder_exports)
    batch = onnx.embed(SENTENCES)
    assert onnx.runtime == "onnxruntime" and batch.dtype == np.float32
    assert batch.shape == reference.shape == (len(SENTENCES), 384)
    assert np.min(_cosines(batch, reference)) >= 1 - 1e-4
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([onnx.embed([s]) for s in SENTENCES])  # no padding at all
    assert np.min(_cosines(one_by_one, reference)) >= 1 - 1e-4
    assert onnx.embed([]).shape == (0, 384)
    # The same name for both runtimes: vectors a memory stored stay valid (see below).
    assert onnx.name == SentenceEmbedder(runtime="sentence-transformers").name


def test_a_memory_indexed_by_sentence_transformers_stays_valid(
    embedder_exports: Path, tmp_path: Path
) -> None:
    texts = ["The red car is parked near the station.", "A boat leaves the harbor at noon.",
             "Tickets cost five euros.", "The museum is next to the park."]  # fmt: skip
    entries = [Entry(10.0 * i, 10.0 * i + 5, Level.ASR, "asr", t) for i, t in enumerate(texts)]
    old = SentenceEmbedder(runtime="sentence-transformers")
    write_index(tmp_path, entries, old)
    onnx = Counting(SentenceEmbedder(runtime="onnxruntime", cache=embedder_exports))
    write_index(tmp_path, entries, onnx)  # what a re-index with the new runtime does
    assert onnx.embedded == 0  # every stored vector was kept
    index = EntryIndex.load(tmp_path, entries)
    for query in ("where is the car", "when does the boat leave", "price of a ticket"):
        by_onnx = index.semantic(onnx.embed([query])[0], 4, [Level.ASR])
        by_old = index.semantic(old.embed([query])[0], 4, [Level.ASR])
        assert [row for row, _ in by_onnx] == [row for row, _ in by_old]
        assert [s for _, s in by_onnx] == pytest.approx([s for _, s in by_old], abs=1e-5)


class Counting:
    """An embedder that counts the texts it was asked to embed."""

    def __init__(self, inner: SentenceEmbedder) -> None:
        self.inner = inner
        self.embedded = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed(texts)


def test_the_export_on_disk(embedder_exports: Path) -> None:
    folders = [p for p in (embedder_exports / "embedders").iterdir() if p.is_dir()]
    assert len(folders) == 1, "made aside, then renamed: nothing else is left"
    export = folders[0]
    assert sorted(p.name for p in export.iterdir()) == [
        EXPORT_MANIFEST, "model.onnx", "model.onnx.data"
    ]  # fmt: skip
    manifest = json.loads((export / EXPORT_MANIFEST).read_text())
    weights = Path(resolve_model(DEFAULT_EMBED_MODEL)) / "model.safetensors"
    assert manifest["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert manifest["max_seq_length"] == 256 and manifest["dimension"] == 384
    assert manifest["check_max_1_minus_cosine"] <= 1e-5
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(export.stat().st_mode) == 0o777 & ~umask  # a shared cache stays readable
    for path in export.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name


def _model_copy(tmp_path: Path, changed: dict[str, object] | None = None) -> Path:
    """The default model's folder, linked file by file; `changed` maps a relative path to
    the JSON it holds instead (None: the file is left out)."""
    source = Path(resolve_model(DEFAULT_EMBED_MODEL))
    folder = tmp_path / "model"
    for path in source.rglob("*"):
        target = folder / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    for name, content in (changed or {}).items():
        (folder / name).unlink(missing_ok=True)
        if content is not None:
            (folder / name).write_text(json.dumps(content))
    return folder


def test_which_models_run_on_onnx(tmp_path: Path) -> None:
    stack = plain_stack(Path(resolve_model(DEFAULT_EMBED_MODEL)))
    assert stack is not None
    assert (stack.max_seq_length, stack.dimension, stack.pad_id) == (256, 384, 0)
    pooling = json.loads((stack.folder / "1_Pooling" / "config.json").read_text())
    cls = {**pooling, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    modules = json.loads((stack.folder / "modules.json").read_text())
    cases: dict[str, dict[str, object]] = {
        "cls pooling": {"1_Pooling/config.json": cls},
        "no normalize": {"modules.json": modules[:2]},
        "no tokenizer.json": {"tokenizer.json": None},
        "not BERT": {"config.json": {"model_type": "mpnet"}},
    }
    for case, changes in cases.items():
        assert plain_stack(_model_copy(tmp_path / case.replace(" ", "-"), changes)) is None, case
    cls_model = tmp_path / "cls-pooling" / "model"
    with pytest.raises(DependencyError, match="not a local BERT with mean pooling"):
        SentenceEmbedder(str(cls_model), runtime="onnxruntime").embed(["x"])


def test_no_export_possible_falls_back_to_sentence_transformers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, embedder_exports: Path
) -> None:
    model = _model_copy(tmp_path)  # another folder: nothing loaded in this process yet
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder should be")  # the export cannot be written
    embedder = SentenceEmbedder(str(model), cache=cache)
    with caplog.at_level(logging.WARNING, logger="memory.embed"):
        vector = embedder.embed(["The red car is parked near the station."])
    assert embedder.runtime == "sentence-transformers"
    assert "ONNX export" in caplog.text and "MCR_CACHE_DIR" in caplog.text
    onnx = SentenceEmbedder(runtime="onnxruntime", cache=embedder_exports)
    same = onnx.embed(["The red car is parked near the station."])
    assert _cosines(vector, same)[0] >= 1 - 1e-4


def test_an_unfinished_export_is_not_used(embedder_exports: Path, tmp_path: Path) -> None:
    """A folder without its manifest (a crash before the rename cannot leave one, a copy
    can) is made again rather than loaded."""
    from memory.embed_export import ensure_export

    stack = plain_stack(Path(resolve_model(DEFAULT_EMBED_MODEL)))
    assert stack is not None
    done = next(p for p in (embedder_exports / "embedders").iterdir() if p.is_dir())
    cache = tmp_path / "cache"
    partial = cache / "embedders" / done.name
    shutil.copytree(done, partial)
    (partial / EXPORT_MANIFEST).unlink()
    (partial / "model.onnx.data").write_bytes(b"truncated")
    assert ensure_export(stack, cache) == partial
    assert (partial / EXPORT_MANIFEST).is_file()
    assert (partial / "model.onnx.data").stat().st_size > 50_000_000


def test_load_if_exported_never_exports_nor_imports_torch(
    embedder_exports: Path, tmp_path: Path
) -> None:
    """What `Agent` loads beside the model client's import: an export in the cache, or
    nothing (a model to export, or one on sentence-transformers, loads with the memory)."""
    model = str(_model_copy(tmp_path))  # another folder: nothing loaded in this process yet
    empty = tmp_path / "empty-cache"
    assert SentenceEmbedder(model, cache=empty).load_if_exported() is False
    assert not empty.exists()  # no export was started
    st = SentenceEmbedder(model, runtime="sentence-transformers", cache=embedder_exports)
    assert st.load_if_exported() is False and st.runtime is None
    exported = SentenceEmbedder(cache=embedder_exports)
    assert exported.load_if_exported() is True and exported.runtime == "onnxruntime"
    again = SentenceEmbedder(cache=empty)  # the process has it now: no cache needed
    assert again.load_if_exported() is True
