"""mcr-agent's errors: one hierarchy, defined in `memory` (the lowest layer), re-exported."""

from memory.errors import *  # noqa: F403
from memory.errors import __all__ as __all__
