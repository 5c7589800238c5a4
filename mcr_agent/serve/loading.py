"""Loading a Qwen3-VL-style model (stock, or remote code like InternVideo3) into an `Engine`:
weights, tokenizer, image processor and chat template."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

from .engine import Engine
from .inputs import InputBuilder, Limits

__all__ = ["load_engine"]

logger = logging.getLogger(__name__)

_CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def load_engine(
    model_id: str,
    limits: Limits,
    *,
    dtype: str = "auto",
    device: str = "auto",
    name: str | None = None,
    max_batch: int = 8,
    trust_remote_code: bool = True,
) -> Engine:
    """Load a Qwen3-VL-style model (stock or remote code) and start its engine.

    Raises:
        RuntimeError: The model, its tokenizer or its image processor cannot be loaded (the
            message says why and what to check).
    """
    import torch
    from transformers import AutoImageProcessor, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_dtype = _dtype(dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(model_id, trust_remote_code=trust_remote_code)
    tokenizer.padding_side = "left"
    image_processor = AutoImageProcessor.from_pretrained(
        model_id, trust_remote_code=trust_remote_code
    )
    model = _load_model(model_id, torch_dtype, device, trust_remote_code)
    model.eval()
    context = _context_length(model.config)
    if context and limits.max_model_len > context:
        logger.warning(
            "--max-model-len %d is over the model's %d; using %d",
            limits.max_model_len,
            context,
            context,
        )
        limits = Limits(**{**limits.__dict__, "max_model_len": context})
    builder = InputBuilder(tokenizer, image_processor, _chat_template(model_id, tokenizer), limits)
    return Engine(
        model, tokenizer, builder, name=name or _default_name(model_id), max_batch=max_batch
    )


def _load_model(model_id: str, dtype: Any, device: str, trust_remote_code: bool) -> Any:
    """InternVideo3 registers itself as a causal LM, stock Qwen3-VL as image-text-to-text."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    errors = []
    # With accelerate, weights load straight onto the device; without, through host memory.
    placement = {"device_map": device} if importlib.util.find_spec("accelerate") else {}
    for auto in (AutoModelForImageTextToText, AutoModelForCausalLM):
        try:
            model = auto.from_pretrained(
                model_id, dtype=dtype, trust_remote_code=trust_remote_code, **placement
            )
        except ValueError as exc:  # this auto class does not know the config
            errors.append(f"{auto.__name__}: {str(exc).splitlines()[0]}")
            continue
        return model if placement else model.to(device)  # type: ignore[arg-type]
    raise RuntimeError(f"cannot load {model_id} as a vision-language model ({'; '.join(errors)})")


def _dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def _context_length(config: Any) -> int | None:
    text = getattr(config, "text_config", config)
    value = getattr(text, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def _chat_template(model_id: str, tokenizer: Any) -> str | None:
    """The processor's chat template when the model ships one beside the tokenizer's."""
    import json

    folder = Path(model_id)
    if not folder.is_dir():
        from huggingface_hub import try_to_load_from_cache

        for file in _CHAT_TEMPLATE_FILES:
            cached = try_to_load_from_cache(model_id, file)
            if isinstance(cached, str):
                folder = Path(cached).parent
                break
    for file in _CHAT_TEMPLATE_FILES:
        path = folder / file
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return str(json.loads(text)["chat_template"]) if file.endswith(".json") else text
    if tokenizer.chat_template is None:
        raise RuntimeError(f"{model_id} has no chat template (chat_template.jinja or .json)")
    return None


def _default_name(model_id: str) -> str:
    path = Path(model_id)
    return path.name if path.is_dir() else model_id
