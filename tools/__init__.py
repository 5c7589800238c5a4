"""Agent-callable tools over the video memory (built in the agent issue)."""

__all__: list[str] = []
