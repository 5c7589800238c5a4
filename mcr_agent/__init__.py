"""mcr-agent: answer questions about videos with Multimodal Contextual Reasoning.

The public API is listed in `__all__`; each name loads on first use, so importing the
package (what `mcr-agent --help` and the lower layers' use of `mcr_agent.errors` do) loads
nothing heavy.

The package has four rooms:
    loop/    the MCR loop: graph, state, one module per node, routing, pre-fetch, the
             context C and span helpers, multiple-choice options, the direct baseline
    model/   the model protocol: the OpenAI client, replicas, reply parsing, the usage
             meter, the captioner and perceiver built on the client
    front/   what people use: the public `Agent`, the CLI, answers, traces, reports,
             progress, doctor, the demo and its sample-video generator
    serve/   `mcr-agent serve`: the model server
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import (
    CacheError,
    ConfigError,
    DependencyError,
    MCRAgentError,
    ModelReplyError,
    ModelServerError,
    SubtitleError,
    VideoError,
)

if TYPE_CHECKING:
    from memory import Hit, IndexSettings, VideoMemory

    from .config import AgentConfig, Budget
    from .front.answer import Answer, Event
    from .front.api import Agent

__all__ = [
    "Agent",
    "AgentConfig",
    "Answer",
    "Budget",
    "CacheError",
    "ConfigError",
    "DependencyError",
    "Event",
    "Hit",
    "IndexSettings",
    "MCRAgentError",
    "ModelReplyError",
    "ModelServerError",
    "SubtitleError",
    "VideoError",
    "VideoMemory",
]

_LAZY = {
    "Agent": "mcr_agent.front.api",
    "AgentConfig": "mcr_agent.config",
    "Answer": "mcr_agent.front.answer",
    "Budget": "mcr_agent.config",
    "Event": "mcr_agent.front.answer",
    "Hit": "memory",
    "IndexSettings": "memory",
    "VideoMemory": "memory",
}


def __getattr__(name: str) -> object:
    """Load a public name on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'mcr_agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
