"""A fake video-LLM whose every reply is computed from what it receives.

It answers the agent's requests the way a careful model limited to its inputs would: it
reads the text of the request (data blocks included) and OCRs the frames sent, answers a
multiple-choice question only when an option's words are visible in that evidence, and
otherwise calls the next tool the prompt suggests. Nothing is canned, so a test passes only
when the agent actually delivered the evidence to the model.

It is also gullible in one controlled way: an instruction "answer X" found OUTSIDE the
``<data>`` blocks is obeyed. The agent must therefore keep video text inside data blocks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from memory.ocr import KeyframeReader
from tests.fake_openai import Reply, Request
from tests.frame_reader import FrameReader

__all__ = ["HonestAgentModel"]

_DATA = re.compile(r"<data source=\"[^\"]*\">\n(.*?)\n</data>", re.DOTALL)
_LINE_SPAN = re.compile(r"^\[(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?) s\]", re.MULTILINE)
_SPANS = re.compile(r"\[(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?) s\]")
_INJECTION = re.compile(r"answer\s+([A-D])\b", re.IGNORECASE)
_OPTION = re.compile(r"^([A-H])\.\s*(.+)$", re.MULTILINE)


@dataclass
class HonestAgentModel:
    """The responder; `native` False replies with Hermes text instead of tool_calls."""

    native: bool = True
    ocr: KeyframeReader = field(default_factory=FrameReader)
    seen_tools: list[str] = field(default_factory=list)

    def __call__(self, request: Request) -> str | Reply:
        text = request.texts
        if request.body.get("tools") or "<tools>" in text:
            return self._reason(request, text)
        if "The best answer is:" in text:  # the single-pass baseline (Video-MME's prompt)
            return self._direct(request, text)
        if "Proposed answer:" in text:
            return self._verify(request, text)
        if "Does this happen in the window" in text:
            return self._ground(request, text)
        if "answer this focused question" in text or "Claim to check" in text:
            seen = self._frame_text(request)
            return f"The frames show: {seen or 'no readable text'}."
        from tests.conftest import honest_responder  # captions and summaries while indexing

        return honest_responder(request)

    # -- reasoning --------------------------------------------------------------------------
    def _reason(self, request: Request, text: str) -> str | Reply:
        outside = _DATA.sub("", text)
        forced = _INJECTION.search(outside.split("Question:", 1)[-1].split("Options:", 1)[0])
        options = dict(_OPTION.findall(text.split("Options:", 1)[-1].split("\n\n")[0]))
        if forced is None and "Question:" in outside:
            for line in outside.splitlines():  # instructions smuggled outside data blocks
                m = _INJECTION.search(line) if "ignore" in line.lower() else None
                forced = forced or m
        if forced:
            return self._call("answer", {"answer": "as instructed", "choice": forced.group(1)})
        found = self._find(request, text, options)
        if found is not None:
            letter, span = found
            cited = [{"start": span[0], "end": span[1]}]
            args = {"answer": options[letter], "choice": letter, "evidence": cited,
                    "confidence": 0.9}  # fmt: skip
            if letter == "-":  # an open question
                del args["choice"]
            return self._call("answer", args, prose="Hypothesis: found it\nUncertain: none")
        return self._next_tool(text, options)

    def _find(
        self, request: Request, text: str, options: dict[str, str]
    ) -> tuple[str, tuple[float, float]] | None:
        evidence: list[tuple[str, tuple[float, float]]] = []
        for block in _DATA.findall(text):
            for line in block.splitlines():
                m = _LINE_SPAN.match(line)
                if m:
                    body = line[m.end() :].lower()
                    evidence.append((body, (float(m.group(1)), float(m.group(2)))))
        for image, stamp in zip(request.images, request.image_timestamps, strict=True):
            if stamp is not None:
                evidence.append((self.ocr.read(image).lower(), (stamp, stamp)))
        evidence.sort(key=lambda item: item[1][1] - item[1][0])  # cite the tightest span
        if not options:  # open question: the evidence line sharing most of its words
            question = text.split("Question:", 1)[-1].split("\n", 1)[0]
            words = {w for w in re.findall(r"[a-z]{4,}", question.lower())} - {"what", "when"}
            scored = [(len(words & set(re.findall(r"[a-z]{4,}", line))), line, span)
                      for line, span in evidence]  # fmt: skip
            best = max(scored, default=(0, "", (0.0, 0.0)), key=lambda item: item[0])
            if best[0]:
                options["-"] = best[1].strip()
                return "-", best[2]
            return None
        for letter, option in options.items():
            key = _squash(option)
            for line, span in evidence:
                if key and key in _squash(line):
                    return letter, span
        return None

    def _next_tool(self, text: str, options: dict[str, str]) -> Reply | str:
        order = re.search(r"Tools most likely to help, in order: (.*)\.", text)
        names = order.group(1).split(", ") if order else ["memory_search"]
        used = set(re.findall(r"\] (?:observation|error) from (\w+)", text))
        question = text.split("Question:", 1)[-1].split("\n", 1)[0].strip()
        spans = _SPANS.findall(text.split("candidate time spans:", 1)[-1].split("\n", 1)[0])
        lo, hi = (float(spans[0][0]), float(spans[0][1])) if spans else (0.0, 10_000.0)
        args_for: dict[str, dict[str, Any]] = {
            "inspect": {"start": lo, "end": hi, "question": question},
            "ocr": {"start": 0, "end": 10_000},
            "asr": {"start": 0, "end": 10_000},
            "memory_search": {"query": question},
            "temporal_grounding": {"description": question},
            "summarize": {},
            "video_segmentation": {"start": lo, "end": hi},
            "web_search": {"query": question},
        }
        for name in names:
            if name not in used and name in args_for:
                self.seen_tools.append(name)
                prose = f"Hypothesis: unknown\nUncertain: need {name} around [{lo:g}-{hi:g} s]"
                return self._call(name, args_for[name], prose=prose)
        if options:  # nothing left to try: the honest best guess is a low-confidence letter
            letter = next(iter(options))
            return self._call("answer", {"answer": options[letter], "choice": letter,
                                         "confidence": 0.1})  # fmt: skip
        return self._call("answer", {"answer": "I could not find it.", "confidence": 0.1})

    def _call(self, name: str, args: dict[str, Any], *, prose: str = "") -> Reply | str:
        if self.native:
            return Reply(content=prose, tool_calls=[{"name": name, "arguments": args}])
        call = json.dumps({"name": name, "arguments": args})
        return f"{prose}\n<tool_call>\n{call}\n</tool_call>"

    def _direct(self, request: Request, text: str) -> str:
        body = text.split("based on the video.", 1)[-1]
        options = dict(_OPTION.findall(body))
        found = self._find(request, text, options)
        return found[0] if found else next(iter(options), "A")  # an honest guess otherwise

    # -- tools and verification -------------------------------------------------------------
    def _frame_text(self, request: Request) -> str:
        parts = []
        for image, stamp in zip(request.images, request.image_timestamps, strict=True):
            seen = self.ocr.read(image).replace("\n", " ")
            if seen:
                parts.append(f"at {stamp:.1f} s: {seen}")
        return "; ".join(dict.fromkeys(parts))

    def _verify(self, request: Request, text: str) -> str:
        answer = text.split("Proposed answer:", 1)[1].split("\n", 1)[0]
        claim = re.sub(r"^\s*\([A-H]\)\s*", "", answer).strip().lower()
        seen = (" ".join(_DATA.findall(text)) + " " + self._frame_text(request)).lower()
        ok = bool(claim) and _squash(claim) in _squash(seen)
        return json.dumps({"supported": ok, "confidence": 0.9 if ok else 0.2,
                           "reason": "seen in the evidence" if ok else "not in the evidence",
                           "conflicts": "", "evidence": [], "uncertain_window": None})  # fmt: skip

    def _ground(self, request: Request, text: str) -> str:
        description = text.split('Does this happen in the window: "', 1)[1].split('"', 1)[0]
        seen = (" ".join(_DATA.findall(text)) + " " + self._frame_text(request)).lower()
        words = [w for w in re.findall(r"[a-z0-9]+", description.lower()) if len(w) > 3]
        present = any(w in seen for w in words)
        window = re.search(r"\[(\d+(?:\.\d+)?) s, (\d+(?:\.\d+)?) s\]", text)
        lo, hi = (float(window.group(1)), float(window.group(2))) if window else (0.0, 0.0)
        return json.dumps({"present": present, "start": lo, "end": hi, "reason": "checked"})


def _squash(text: str) -> str:
    """Lower case without spaces or punctuation: OCR writes "GATE 7B" as "GATE7B"."""
    return re.sub(r"[^a-z0-9]", "", text.lower())
