"""mcr-agent's errors: one hierarchy, defined in `memory` (the lowest layer), re-exported."""

from memory.errors import (
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
    "CacheError",
    "ConfigError",
    "DependencyError",
    "MCRAgentError",
    "ModelReplyError",
    "ModelServerError",
    "SubtitleError",
    "VideoError",
]
