"""Start a model server: bind the port first, load the model, then serve until Ctrl-C."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ..errors import ConfigError, DependencyError
from ..sockets import bind
from .options import ServeOptions

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def serve(options: ServeOptions, *, announce: Callable[[str], None] = logger.warning) -> None:
    """Serve `options.model` until interrupted; `announce` gets one line once it listens.

    Raises:
        ConfigError: The port is taken, or the model cannot be loaded.
        DependencyError: The engine's packages are missing.
    """
    if options.engine == "vllm":
        from .vllm import run_vllm

        run_vllm(options)
        return
    try:
        import uvicorn

        from .app import create_app
        from .inputs import Limits
        from .loading import load_engine
    except ImportError as exc:
        raise DependencyError(
            f"the model server needs {exc.name}: pip install 'mcr-agent' again to get it"
        ) from exc
    _check_folder(options.model)
    sock = bind(options.host, options.port)
    limits = Limits(
        max_frames=options.max_frames,
        max_pixels=options.max_pixels,
        max_model_len=options.max_model_len,
        media_root=options.media_root,
    )
    try:
        engine = load_engine(
            options.model,
            limits,
            dtype=options.dtype,
            device=options.device,
            name=options.served_model_name,
            max_batch=options.max_batch,
            trust_remote_code=options.trust_remote_code,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        sock.close()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot load the model {options.model}: {first} (pass a local model folder, or a "
            "hub id that is downloaded or reachable)"
        ) from exc
    app = create_app(engine, api_key=options.api_key)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5, lifespan="off")

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            engine.close()  # requests in flight end with a 503 now, not after the timeout
            super().handle_exit(sig, frame)

    server = _Server(config)
    sock.listen(2048)  # only now: while the model loads, connections are refused
    limits = engine.limits
    announce(
        f"serving {engine.name} at {options.url} (batches of up to {options.max_batch}; "
        f"{limits.max_frames} frames, {limits.max_pixels:,} pixels each and "
        f"{limits.max_model_len:,} tokens per request); Ctrl-C stops"
    )
    try:
        server.run(sockets=[sock])
    finally:
        engine.close()
        engine.join()
        sock.close()


def _check_folder(model: str) -> None:
    """A model named by path must be a folder with a config.json (hub ids pass through)."""
    path = Path(model).expanduser()
    named_by_path = model.startswith(("/", ".", "~")) or path.exists()
    if named_by_path and not (path / "config.json").is_file():
        raise ConfigError(
            f"{model} is not a model folder (no config.json in it): pass the folder the model "
            "was saved or downloaded to, or a hub id like yanziang/InternVideo3-8B-Instruct"
        )
