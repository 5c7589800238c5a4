"""`mcr-agent ui`: a local web app to index a video, ask, watch the loop and play the evidence.

FastAPI serves a static page (``static/``: plain HTML, CSS and JavaScript, no build step)
and a JSON API over `Agent` and `VideoMemory`; index runs and questions stream their
progress and steps to the page as server-sent events (``sse-starlette``).

command.py   the click command (imported by the CLI; loads nothing heavy)
server.py    `serve_ui`: check the options, build the app, run uvicorn
app.py       the FastAPI app: middleware, static files, error handlers
routes.py    the routes (JSON, server-sent events, files)
jobs.py      index runs and questions as jobs in threads, their events, the question queue
library.py   the videos the app may read (``--videos DIR`` and uploads), path checks
access.py    who may connect (loopback, HTTP Basic, a token) and the security headers
"""

from __future__ import annotations

from .server import UIOptions, serve_ui

__all__ = ["UIOptions", "serve_ui"]
