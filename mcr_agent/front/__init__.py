"""What people use: the public API, the CLI and what they print or write.

api.py        `Agent`: run, stream, index, traces (the public entry point)
answer.py     `Answer`, `Event`: what a question returns
cli.py        the `mcr-agent` command (parse, configure, call `Agent`, print)
entry.py      its entry point: a Ctrl-C while the CLI loads is one line, exit 130
startup.py    a fresh process's start and end: the collector, the embedder, tool schemas
console.py    terminal consoles (whole lines when output is not a terminal)
report.py     terminal summaries of answers, steps and index runs
progress.py   terminal progress bars for indexing
corpus/       many videos at once: finding them, one video's work, the worker pool, Ray
trace.py      HTML and JSON traces of an answer
doctor.py     `mcr-agent doctor`: checks of the machine and the server
demo.py       `mcr-agent demo`
media.py      generated videos with known ground truth (demo, tests, benchmarks)
media_quirks.py  files with real files' quirks: variable frame rate, rotation, broken
mcp/          `mcr-agent mcp`: the agent as tools of a Model Context Protocol server
ui/           `mcr-agent ui`: the local web app (FastAPI, server-sent events, a static page)
"""
