"""mcr-agent: answer questions about videos with Multimodal Contextual Reasoning."""

from memory import Hit, IndexSettings, VideoMemory

from .answer import Answer, Event
from .api import Agent
from .config import AgentConfig, Budget
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
