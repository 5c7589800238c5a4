"""`mcr-agent serve --engine vllm`: stock Qwen3-VL models on vLLM, with the flags the agent
needs (Hermes tool calls, multimodal limits), for users with a CUDA GPU.

InternVideo3's latent attention does not load in vLLM's Qwen3-VL class; use the default
transformers engine for it.
"""

from __future__ import annotations

import json
import os
import shutil

from ..errors import DependencyError
from .options import ServeOptions

__all__ = ["run_vllm", "vllm_command"]


def vllm_command(options: ServeOptions, executable: str = "vllm") -> list[str]:
    """The ``vllm serve`` command line for `options` (extra arguments go last)."""
    dtype = {"auto": "auto", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
    command = [
        executable,
        "serve",
        options.model,
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--dtype",
        dtype[options.dtype],
        "--max-model-len",
        str(options.max_model_len),
        "--max-num-seqs",
        str(options.max_batch),
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "hermes",
        "--limit-mm-per-prompt",
        json.dumps({"image": options.max_frames, "video": 1}),
        # vLLM samples 32 frames of a video unless told; keep videos within the frame limit.
        "--media-io-kwargs",
        json.dumps({"video": {"num_frames": options.max_frames}}),
        # The Qwen2/3-VL image processor scales each image and frame down to this many pixels.
        "--mm-processor-kwargs",
        json.dumps({"max_pixels": options.max_pixels}),
    ]
    if options.served_model_name:
        command += ["--served-model-name", options.served_model_name]
    if options.media_root:
        command += ["--allowed-local-media-path", str(options.media_root.resolve())]
    if options.trust_remote_code:
        command.append("--trust-remote-code")
    return command + list(options.extra)


def run_vllm(options: ServeOptions) -> None:
    """Replace this process with vLLM's server (signals and exit code are vLLM's).

    Raises:
        DependencyError: vLLM is not installed.
    """
    executable = shutil.which("vllm")
    if executable is None:
        raise DependencyError(
            "vLLM is not installed: pip install vllm (it needs a CUDA GPU), or drop "
            "--engine vllm to serve with transformers"
        )
    command = vllm_command(options, executable)
    env = dict(os.environ)
    if options.api_key:  # by environment, not argv: `ps` shows the command line
        env["VLLM_API_KEY"] = options.api_key
    os.execve(executable, command, env)
