"""web_search: look facts up on the web (ddgs by default), with a hard wall-clock timeout.

Web hits are not video evidence: they come back as delimited data in the result text and
never as `Evidence` with video times.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar, Protocol

from pydantic import Field

from .base import ToolArgs, ToolContext, ToolFailure, ToolResult, WebResult, data_block

__all__ = ["DDGSearcher", "TextSearchBackend", "WebSearch", "WebSearchArgs"]

logger = logging.getLogger(__name__)

_OFFLINE_HINT = "answer from the video"


class TextSearchBackend(Protocol):
    """The part of ``ddgs.DDGS`` that `DDGSearcher` uses (a fake one in tests)."""

    def text(self, query: str, *, max_results: int) -> Sequence[Mapping[str, object]]:
        """Hits as mappings with ``title``, ``href`` and ``body``."""
        ...


BackendFactory = Callable[[float], TextSearchBackend]
"""Makes a backend given the per-request timeout in seconds."""


class DDGSearcher:
    """`WebSearcher` over the ``ddgs`` metasearch package.

    ddgs waits for all its engine threads before returning, whatever its own timeout says,
    so each search runs in a daemon thread and is abandoned after ``timeout`` seconds.
    Every failure becomes a one-line `ToolFailure`.

    Args:
        proxy: Proxy URL for ddgs (default: its ``DDGS_PROXY`` environment variable).
        backend: Makes the search client from a timeout; defaults to ``ddgs.DDGS``.
    """

    def __init__(self, *, proxy: str | None = None, backend: BackendFactory | None = None) -> None:
        self.proxy = proxy
        self._backend = backend or self._ddgs

    def _ddgs(self, timeout: float) -> TextSearchBackend:
        try:
            from ddgs import DDGS
        except ImportError as exc:
            raise ToolFailure(
                f"web search is unavailable (pip install ddgs): {_OFFLINE_HINT}"
            ) from exc
        client: TextSearchBackend = DDGS(proxy=self.proxy, timeout=max(1, math.ceil(timeout)))
        return client

    def search(self, query: str, *, max_results: int, timeout: float) -> list[WebResult]:
        """Hits for `query`, best first.

        Raises:
            ToolFailure: Offline, blocked, rate-limited, timed out, or any other failure.
        """
        outcome: list[Sequence[Mapping[str, object]] | BaseException] = []

        def work() -> None:
            try:
                outcome.append(self._backend(timeout).text(query, max_results=max_results))
            except BaseException as exc:  # handed to the caller's thread, which reports it
                outcome.append(exc)

        thread = threading.Thread(target=work, name="web-search", daemon=True)
        thread.start()
        thread.join(timeout)
        if not outcome:
            logger.info("web search for %r abandoned after %.1f s", query, timeout)
            raise ToolFailure(f"web search timed out after {timeout:g} s: {_OFFLINE_HINT}")
        found = outcome[0]
        if not isinstance(found, BaseException):
            return [_hit(row) for row in found[:max_results]]
        if isinstance(found, ToolFailure):
            raise found
        failure = _as_failure(found)
        if failure is None:
            return []
        raise failure from found


def _as_failure(exc: BaseException) -> ToolFailure | None:
    """A one-line `ToolFailure` for a backend exception; None when there were just no hits."""
    # Matched by name: importing ddgs here would defeat the lazy import.
    kind = type(exc).__name__
    reason = " ".join(str(exc).split())[:160] or kind
    logger.info("web search failed: %s: %s", kind, reason)
    if kind == "DDGSException" and reason.startswith("No results found"):
        return None  # every engine answered and none had hits: not an outage
    if kind == "RatelimitException":
        return ToolFailure(f"web search is rate-limited, try later: {_OFFLINE_HINT}")
    if kind == "TimeoutException":
        return ToolFailure(f"web search timed out ({reason}): {_OFFLINE_HINT}")
    return ToolFailure(f"web search is unavailable (offline or blocked: {reason}): {_OFFLINE_HINT}")


def _hit(row: Mapping[str, object]) -> WebResult:
    def field(*keys: str) -> str:
        return next((" ".join(str(row[k]).split()) for k in keys if row.get(k)), "")

    return WebResult(field("title"), field("href", "url"), field("body", "snippet"))


class WebSearchArgs(ToolArgs):
    """Arguments of web_search."""

    query: str = Field(min_length=1, description="What to look up on the web, in words.")
    max_results: int = Field(default=5, ge=1, le=10, description="Most hits (1 to 10).")


class WebSearch:
    """Web search for background facts the video does not show (names, places, events)."""

    name: ClassVar[str] = "web_search"
    description: ClassVar[str] = (
        "Search the web for background knowledge the video itself does not give (who a "
        "named person is, what a place or term is). Results are not evidence from the video."
    )
    args: ClassVar[type[ToolArgs]] = WebSearchArgs

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def run(self, args: WebSearchArgs, ctx: ToolContext) -> ToolResult:
        if ctx.web is None:
            raise ToolFailure("web search is off")
        hits = ctx.web.search(args.query, max_results=args.max_results, timeout=self.timeout)
        note = "web hits are background knowledge, not evidence from the video"
        if not hits:
            return ToolResult(f"no web results for {args.query!r}", notes=(note,))
        blocks = [
            data_block("web", f"title: {h.title}\nurl: {h.url}\nsnippet: {h.snippet}")
            for h in hits[: args.max_results]
        ]
        return ToolResult("\n".join(blocks), notes=(note,))
