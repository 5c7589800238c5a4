"""Three ways a model writes its final answer, over the honest fake model (Video-MME tests
and the measurement in issue 13's closing note).

- ``letters``: a clean letter ("B"; for the agent, an ``answer`` call with ``choice``).
- ``prose``: the letter inside a sentence, "The correct option is (B)." (for the agent, as
  plain text instead of an ``answer`` call).
- ``no-letter``: the chosen option's words without its letter ("GATE 7B"): no answer we
  may count, though the official parser may read a capital A-D in the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.agent_model import HonestAgentModel
from tests.fake_openai import Reply, Request

__all__ = ["STYLES", "StyledModel"]

STYLES = ("letters", "prose", "no-letter")
_OPTION = re.compile(r"^([A-D])\.\s*(.+)$", re.MULTILINE)


@dataclass
class StyledModel:
    """`HonestAgentModel` whose final answers are rewritten in one of `STYLES`."""

    style: str
    honest: HonestAgentModel = field(default_factory=HonestAgentModel)

    def __call__(self, request: Request) -> str | Reply:
        reply = self.honest(request)
        if self.style == "letters":
            return reply
        if isinstance(reply, Reply) and reply.tool_calls:  # the agent's reasoning step
            call = reply.tool_calls[0]
            if call["name"] != "answer" or "choice" not in call["arguments"]:
                return reply
            letter = call["arguments"]["choice"]
            return Reply(content=self._written(letter, call["arguments"].get("answer", "")))
        if isinstance(reply, str) and "The best answer is:" in request.texts:  # direct
            options = dict(_OPTION.findall(request.texts.split("based on the video.", 1)[-1]))
            letter = reply.strip()[:1]
            return self._written(letter, options.get(letter, ""))
        return reply

    def _written(self, letter: str, text: str) -> str:
        if self.style == "prose":
            return f"The correct option is ({letter})."
        return text.strip().rstrip(".") or "I cannot tell."
