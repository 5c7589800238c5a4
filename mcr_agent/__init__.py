"""mcr-agent: answer questions about videos with Multimodal Contextual Reasoning."""

from memory import Hit, IndexSettings, VideoMemory

from .api import Agent
from .config import AgentConfig
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

__all__ = [
    "Agent",
    "AgentConfig",
    "CacheError",
    "ConfigError",
    "DependencyError",
    "Hit",
    "IndexSettings",
    "MCRAgentError",
    "ModelReplyError",
    "ModelServerError",
    "SubtitleError",
    "VideoError",
    "VideoMemory",
]
