"""A tiny, randomly initialised model of the Qwen3-VL architecture, built offline in seconds.

It has the real classes, token layout, chat template format and image processor of
Qwen3-VL (and so of InternVideo3), at 250k parameters: enough to serve, batch and time
(`tests/test_serve*.py`, `evals/bench_serve.py`).
`remote=True` adds a `trust_remote_code` copy with its own class names, the way
InternVideo3 ships.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
MARKUP = [
    "<tool_call>",
    "</tool_call>",
    "<think>",
    "</think>",
    "<tool_response>",
    "</tool_response>",
]

# Qwen's chat format, written out for the test model (real checkpoints ship their own).
CHAT_TEMPLATE = """\
{%- if tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}

{% endif %}# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{%- for tool in tools %}
{{ tool | tojson }}
{%- endfor %}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' and tools %}{% continue %}{% endif %}
{%- if message.role == 'tool' %}<|im_start|>user
<tool_response>
{{ message.content }}
</tool_response><|im_end|>
{% continue %}{% endif %}
<|im_start|>{{ message.role }}
{% if message.content is string %}{{ message.content }}{% elif message.content %}
{%- for part in message.content %}
{%- if part.type == 'image' %}<|vision_start|><|image_pad|><|vision_end|>
{%- elif part.type == 'video' %}<|vision_start|><|video_pad|><|vision_end|>
{%- elif part.type == 'text' %}{{ part.text }}{% endif %}
{%- endfor %}{% endif %}
{%- for call in message.tool_calls or [] %}
<tool_call>
{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}
</tool_call>{% endfor %}<|im_end|>
{% endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

REMOTE_CONFIG = """\
from transformers import Qwen3VLConfig


class TinyVideoConfig(Qwen3VLConfig):
    model_type = "tiny_video"
"""

REMOTE_MODEL = """\
from transformers import Qwen3VLForConditionalGeneration

from .configuration_tiny_video import TinyVideoConfig


class TinyVideoForConditionalGeneration(Qwen3VLForConditionalGeneration):
    config_class = TinyVideoConfig
"""


def build_tiny_qwen3vl(folder: Path, *, remote: bool = False) -> Path:
    """Write a tiny Qwen3-VL (tokenizer, config, weights, image processor) to `folder`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3VLConfig, Qwen3VLForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    corpus = ["The red car is parked by the blue door.", "What does the speaker say?"] * 20
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={
            "image_token": "<|image_pad|>",
            "video_token": "<|video_pad|>",
            "vision_start_token": "<|vision_start|>",
            "vision_end_token": "<|vision_end|>",
        },
    )
    tokenizer.add_tokens(MARKUP)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    ids = {t: int(tokenizer.convert_tokens_to_ids(t)) for t in SPECIAL}  # type: ignore[arg-type]
    vocab = (len(tokenizer) + 63) // 64 * 64
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            max_position_embeddings=32768,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 5e6,
                "mrope_section": [4, 2, 2],
                "mrope_interleaved": True,
            },
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=64,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            num_position_embeddings=64,
            deepstack_visual_indexes=[1],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "Qwen2VLImageProcessor",
                "patch_size": 16,
                "merge_size": 2,
                "temporal_patch_size": 2,
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5],
                "size": {"shortest_edge": 1024, "longest_edge": 65536},
            }
        )
    )
    if remote:
        _make_remote(folder)
    return folder


def _make_remote(folder: Path) -> None:
    """Turn the folder into a `trust_remote_code` model with its own class names."""
    (folder / "configuration_tiny_video.py").write_text(REMOTE_CONFIG)
    (folder / "modeling_tiny_video.py").write_text(REMOTE_MODEL)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "tiny_video"
    config["architectures"] = ["TinyVideoForConditionalGeneration"]
    config["auto_map"] = {
        "AutoConfig": "configuration_tiny_video.TinyVideoConfig",
        "AutoModelForCausalLM": "modeling_tiny_video.TinyVideoForConditionalGeneration",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def copy_remote(folder: Path, target: Path) -> Path:
    """A `trust_remote_code` copy of a tiny model folder."""
    shutil.copytree(folder, target)
    _make_remote(target)
    return target
