"""The model as tools see it: `tools.Perceiver` over the metered client, with the tool
prompts rendered from ``prompts/tool_<task>.md``."""

from __future__ import annotations

from collections.abc import Sequence

import prompts
from memory import Frame
from tools import ToolFailure

from ..config import Budget
from .messages import frame_parts, text_part
from .meter import Meter

__all__ = ["ModelPerceiver"]


class ModelPerceiver:
    """Sends a tool's frames and rendered prompt to the model, within the question's budget."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def look(self, task: str, frames: Sequence[Frame], **fields: str) -> str:
        """The model's reply to ``prompts/tool_<task>.md`` over `frames`.

        Raises:
            ToolFailure: The frame or call budget of the question is spent.
        """
        budget = self.meter.budget or Budget()  # unmetered: the default per-call limits
        allowed = min(budget.frames_per_call, max(0, self.meter.frames_left))
        if frames and allowed == 0:
            raise ToolFailure("the frame budget of this question is spent")
        content = frame_parts(frames, max_frames=allowed, max_pixels=budget.call_pixels)
        content.append(text_part(prompts.render(f"tool_{task}", **fields)))
        return self.meter.complete([{"role": "user", "content": content}], max_tokens=400).text
