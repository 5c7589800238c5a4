"""Scene captions and summaries for the memory, written by the video-LLM."""

from __future__ import annotations

import prompts
from memory import SceneCaptionRequest, SummaryRequest
from tools import data_block

from .client import VideoLLM
from .messages import Message, image_part, text_part
from .meter import Meter

__all__ = ["VLMCaptioner"]

_PROMPTS = {"scene": "caption_scene", "segment": "summarize_segment", "video": "summarize_video"}


class VLMCaptioner:
    """Implements `memory.Captioner` with a `VideoLLM`.

    Args:
        llm: The model client.
        max_tokens: Most tokens per caption or summary.
        meter: Counts the calls (a `Meter` without a budget over `llm`); None: uncounted.
    """

    def __init__(self, llm: VideoLLM, *, max_tokens: int = 320, meter: Meter | None = None) -> None:
        self.llm = llm
        self.max_tokens = max_tokens
        self.meter = meter

    @property
    def name(self) -> str:
        return self.llm.model_name

    @property
    def prompt_versions(self) -> dict[str, str]:
        return {level: prompts.version(name) for level, name in _PROMPTS.items()}

    def caption_scene(self, request: SceneCaptionRequest) -> str:
        instructions = prompts.render(
            "caption_scene",
            start=f"{request.start:.1f}",
            end=f"{request.end:.1f}",
            duration=f"{request.video_duration:.1f}",
            frame_count=len(request.frames),
            transcript=data_block("speech", request.transcript or "(none)"),
            on_screen_text=data_block("on-screen text", request.on_screen_text or "(none)"),
        )
        content: list[dict[str, object]] = []
        for time, jpeg in request.frames:
            content += [text_part(f"Frame at [{time:.1f}s]:"), image_part(jpeg)]
        content.append(text_part(instructions))
        return self._complete([{"role": "user", "content": content}])

    def summarize(self, request: SummaryRequest) -> str:
        items = "\n".join(f"[{s:.1f}-{e:.1f} s] {text}" for s, e, text in request.items)
        if request.level == "video":
            prompt = prompts.render(
                "summarize_video", duration=f"{request.end:.1f}", items=data_block("parts", items)
            )
        else:
            prompt = prompts.render(
                "summarize_segment",
                start=f"{request.start:.1f}",
                end=f"{request.end:.1f}",
                items=data_block("scenes", items),
            )
        return self._complete([{"role": "user", "content": prompt}])

    def _complete(self, messages: list[Message]) -> str:
        if self.meter is not None:
            return self.meter.complete(messages, max_tokens=self.max_tokens).text
        return self.llm.complete(messages, max_tokens=self.max_tokens).text
