"""`mcr-agent serve`: InternVideo3 (or any Qwen3-VL-style model) behind the OpenAI API.

The default engine is transformers with micro-batching (`engine`), behind a thin FastAPI
layer (`app`); `--engine vllm` hands stock Qwen3-VL models to vLLM (`vllm`). Importing this
package is cheap: torch, transformers and FastAPI load when a server starts.
"""

from .options import ServeOptions
from .run import serve

__all__ = ["ServeOptions", "serve"]
