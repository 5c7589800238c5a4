"""The ``mcr-agent ui`` command: parse, configure, call `serve_ui`. Imports nothing heavy."""

from __future__ import annotations

from pathlib import Path

import click

from ...config import AgentConfig

__all__ = ["ui"]


@click.command(context_settings={"show_default": True})
@click.option(
    "--videos",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder whose videos the page lists (the only videos it reads, with uploads).",
)
@click.option("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0: all).")
@click.option("--port", default=7860, type=click.IntRange(0, 65535))
@click.option(
    "--auth",
    envvar="MCR_UI_AUTH",
    help="USER:PASS for HTTP Basic login (or $MCR_UI_AUTH); required beyond 127.0.0.1 "
    "unless $MCR_UI_TOKEN is set.",
)
@click.option(
    "--concurrency", default=2, type=click.IntRange(1, 64), help="Questions answered at once."
)
@click.option("--max-upload-mb", default=2000, type=click.IntRange(1), help="Largest upload.")
@click.option("--ocr/--no-ocr", default=True, help="Read on-screen text when indexing.")
@click.option("--max-steps", type=click.IntRange(1, 50), help="Reasoning steps (default 6).")
@click.option("--model", help="Model id (default: $MCR_MODEL or the server's first).")
@click.option("--base-url", help="OpenAI-compatible URL (default: $MCR_BASE_URL or :8000/v1).")
def ui(
    videos: Path | None,
    host: str,
    port: int,
    auth: str | None,
    concurrency: int,
    max_upload_mb: int,
    ocr: bool,
    max_steps: int | None,
    model: str | None,
    base_url: str | None,
) -> None:
    """A local web app: pick or upload a video, index it, ask, watch the steps, play the
    evidence."""
    import dataclasses
    import os

    from . import UIOptions, serve_ui

    config = AgentConfig.from_env(base_url=base_url, model=model)
    config = config.replace(index=dataclasses.replace(config.index, ocr=ocr))
    if max_steps is not None:
        config = config.replace(budget=dataclasses.replace(config.budget, max_steps=max_steps))
    options = UIOptions(
        videos=videos,
        host=host,
        port=port,
        auth=auth,
        token=os.environ.get("MCR_UI_TOKEN") or None,
        concurrency=concurrency,
        max_upload_mb=max_upload_mb,
    )
    serve_ui(config, options, announce=lambda line: click.echo(line, err=True))
