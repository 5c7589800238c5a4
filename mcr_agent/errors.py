"""mcr-agent's errors: one hierarchy for every layer (`memory` and `tools` raise them too).

This module imports nothing, so the lower layers may import it: it is the one module of
`mcr_agent` they import, allowed by name in the import-linter contracts. Each error's message
is one line that says what went wrong and how to fix it; the CLI prints it as is and exits
with code 1. Problems the agent can recover from are not raised.
"""

from __future__ import annotations

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


class MCRAgentError(Exception):
    """Base class of every user-facing mcr-agent error."""


class ConfigError(MCRAgentError):
    """A setting or argument is invalid."""


class VideoError(MCRAgentError):
    """The video is missing, unreadable, corrupt or has no usable video stream."""


class SubtitleError(MCRAgentError):
    """A subtitle file is missing or cannot be parsed."""


class CacheError(MCRAgentError):
    """The cache folder cannot be written (read-only, full) or holds a broken memory."""


class DependencyError(MCRAgentError):
    """A model or package the pipeline needs is not installed or cannot be loaded."""


class ModelServerError(MCRAgentError):
    """The model server is unreachable or keeps failing after retries."""


class ModelReplyError(ModelServerError):
    """The model server answered, but the reply is empty or unusable."""
