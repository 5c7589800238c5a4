"""Our own time on the question path, in fresh processes as a user runs them, with targets.

Run from the repository root::

    python -m evals.bench_latency [--runs 3] [--latency 1.0] [--out DIR] [--quick] [--no-bytecode]

A generated video (`evals.bench_agent`'s "tour") is indexed first, untimed, against a local
fake OpenAI-compatible server of fixed latency whose replies are computed from what it is
sent (`evals.bench_agent.BenchModel`); that first index also makes any one-time export of
the embedding model. Then each figure is printed beside its target, with the wall and CPU
seconds (the median of ``--runs``) and the load average when it was taken:

- ``mcr-agent --help``, ``mcr-agent memory search`` (hybrid) and ``mcr-agent ask`` (agent
  mode, two model calls), each a fresh process. For ``ask``, our own time is the wall time
  minus the model's (the server's latency plus the fake model's own work, timed in the
  server), and the time before the first model request is counted from the process start;
- ``Agent.run`` in a warm process, on bench_agent's questions in agent mode: our overhead
  per step and its share of the wall time with every model call lasting exactly 1 s;
- indexing: embedding 1,000 transcript-like sentences in a fresh process (the model load
  apart), and ``mcr-agent index --force`` of the video.

The project's modules run from cached bytecode, as an installed package's do (pip compiles
them); ``--no-bytecode`` keeps an environment's ``PYTHONDONTWRITEBYTECODE`` instead. On a
shared machine wall times move with the load; CPU seconds much less. A last check runs
``memory search`` and ``ask`` under ``-X importtime`` and lists the heavy packages imported.
Results go to ``<out>/bench_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evals import bench_agent
from evals.bench_index import machine_facts
from mcr_agent.front.media import require_tools
from tests.fake_openai import FakeOpenAIServer, Reply, Request

ROOT = Path(__file__).resolve().parents[1]
VIDEO = "tour"
QUESTION = bench_agent.QUESTIONS[0]  # speech: reason, then verify (two model calls)
QUERY = "the red car parked near the station"
HEAVY = ("torch", "transformers", "sentence_transformers", "openai", "langgraph", "bm25s",
         "scipy", "faiss", "onnxruntime", "tokenizers", "cv2", "av")  # fmt: skip
EMBED_TEXTS = 1000
_EMBED_CHILD = """
import json, random, sys, time
from evals.bench_index import sentence
texts = [sentence(random.Random(i)) for i in range(int(sys.argv[1]))]
t0, c0 = time.perf_counter(), time.process_time()
from memory.embed import SentenceEmbedder
embedder = SentenceEmbedder()
embedder.embed(["warm up"])
t1, c1 = time.perf_counter(), time.process_time()
embedder.embed(texts)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"load": [t1 - t0, c1 - c0], "embed": [t2 - t1, c2 - c1],
                  "runtime": getattr(embedder, "runtime", None) or "sentence-transformers"}))
"""


@dataclass
class Figure:
    """One line of the table: seconds (or ms/% where `unit` says), a target, the load."""

    name: str
    wall: float | None
    cpu: float | None = None
    target: str = ""
    ok: bool | None = None
    load: float = 0.0
    unit: str = "s"
    note: str = ""


class TimedModel:
    """The fake model, recording when each chat request arrived and how long it took."""

    def __init__(self, inner: Callable[[Request], str | Reply]) -> None:
        self.inner = inner
        self.calls: list[tuple[float, float]] = []  # (received_at, seconds without latency)

    def __call__(self, request: Request) -> str | Reply:
        try:
            return self.inner(request)
        finally:
            self.calls.append((request.received_at, time.monotonic() - request.received_at))


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def child_env(cache: Path, *, bytecode: bool = True) -> dict[str, str]:
    """The environment of a child: this checkout first on the path, the bench's cache.

    With `bytecode`, the project's modules run from cached bytecode, as they do once
    installed (pip compiles them) or after a first run: an environment that sets
    ``PYTHONDONTWRITEBYTECODE`` would otherwise have every child compile them again
    (about 0.1 s of a question on 2 cores).
    """
    env = dict(os.environ, MCR_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    env.pop("MCR_BASE_URL", None)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_project() -> None:
    """Write the project's bytecode beside its sources (``__pycache__``, git-ignored)."""
    packages = [str(ROOT / p) for p in ("mcr_agent", "memory", "tools", "prompts", "evals")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True)


def run_child(
    args: Sequence[str], env: dict[str, str], *, python: bool = False
) -> tuple[float, float, str]:
    """Run ``python -m mcr_agent ARGS`` (``python ARGS`` if `python`); return wall seconds,
    CPU seconds (user + system) and stdout. Raises on failure."""
    cmd = [sys.executable, *(args if python else ["-m", "mcr_agent", *args])]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def bench_help(env: dict[str, str], runs: int) -> list[Figure]:
    """``mcr-agent --help``: the start-up of the command itself."""
    at = load()
    times = [run_child(["--help"], env)[:2] for _ in range(runs)]
    wall = median([w for w, _ in times])
    return [Figure("mcr-agent --help", wall, median([c for _, c in times]), "wall <= 0.5 s",
                   wall <= 0.5, at)]  # fmt: skip


def bench_search(env: dict[str, str], video: Path, runs: int) -> list[Figure]:
    """``mcr-agent memory search`` in the default (hybrid) mode."""
    at = load()
    times = []
    for _ in range(runs):
        wall, cpu, out = run_child(["memory", "search", str(video), QUERY, "--json"], env)
        if not json.loads(out):
            raise RuntimeError("memory search found nothing")
        times.append((wall, cpu))
    wall, cpu = median([w for w, _ in times]), median([c for _, c in times])
    return [Figure("memory search (hybrid)", wall, cpu, "wall <= 1.0 s, CPU <= 1.5 s",
                   wall <= 1.0 and cpu <= 1.5, at)]  # fmt: skip


def ask_args(video: Path, srv: FakeOpenAIServer) -> list[str]:
    """``mcr-agent ask`` of the bench question, agent mode, JSON out."""
    options = [x for o in QUESTION.options for x in ("--option", o)]
    return ["ask", str(video), QUESTION.text, *options, "--base-url", srv.base_url,
            "--model", "fake-vlm", "--json"]  # fmt: skip


def bench_ask(
    env: dict[str, str], video: Path, srv: FakeOpenAIServer, model: TimedModel, runs: int
) -> list[Figure]:
    """``mcr-agent ask``: own time (wall minus model) and the time to the first request."""
    at = load()
    rows: list[tuple[float, float, float, float, int]] = []
    for _ in range(runs):
        model.calls.clear()
        started = time.monotonic()
        wall, cpu, out = run_child(ask_args(video, srv), env)
        answer = json.loads(out)
        waited = sum(seconds + srv.latency for _, seconds in model.calls)
        first = model.calls[0][0] - started if model.calls else wall
        rows.append((wall, cpu, wall - waited, first, int(answer["usage"]["model_calls"])))
    wall, cpu, own, first = (median([r[i] for r in rows]) for i in range(4))
    calls = {r[4] for r in rows}
    note = f"{'/'.join(map(str, sorted(calls)))} model calls; wall {wall:.2f} s"
    return [
        Figure("ask: own time (wall - model)", own, cpu, "<= 1.5 s", own <= 1.5, at, note=note),
        Figure("ask: before the first model request", first, None, "<= 1.0 s", first <= 1.0, at,
               note=f"the 1st ask after indexing: {rows[0][3]:.2f} s"),
    ]  # fmt: skip


def bench_warm(
    srv: FakeOpenAIServer, model: bench_agent.BenchModel, work: Path, questions: int, latency: float
) -> list[Figure]:
    """`Agent.run` in one warm process (bench_agent's questions, agent mode)."""
    chosen = bench_agent.QUESTIONS[:questions]
    videos = bench_agent.make_videos(work / "media", {q.video for q in chosen})
    agents, llm = bench_agent.agents_for(srv, work / "warm")
    srv.latency = 0.0
    bench_agent.prepare(agents, llm, model, videos, chosen[0])
    srv.latency = latency
    at = load()
    records = [bench_agent.ask(agents, llm, model, videos[q.video], n, q, "agent")
               for n, q in enumerate(chosen, 1)]  # fmt: skip
    s = bench_agent.summarize(records)
    step_ms, tools_ms = 1000 * s["overhead_s_per_step"], 1000 * s["tools_s_per_step"]
    share = s["overhead_share_at_1s"]
    note = (f"{len(chosen)} questions, {s['steps_per_q']:.1f} steps/q; tools {tools_ms:.1f} ms, "
            f"framework {step_ms - tools_ms:.1f} ms; accuracy {s['accuracy']:.0%}")  # fmt: skip
    return [
        Figure("Agent.run warm: overhead per step", step_ms, None, "<= 30 ms", step_ms <= 30,
               at, "ms", note),
        Figure("Agent.run warm: share at 1 s/call", 100 * share, None, "<= 3 %", share <= 0.03,
               at, "%", f"measured at {latency:g} s: {s['overhead_share']:.1%}"),
    ]  # fmt: skip


def bench_index(env: dict[str, str], video: Path, srv: FakeOpenAIServer) -> list[Figure]:
    """Embedding throughput in a fresh process, and a forced re-index of the video."""
    at = load()
    _, _, out = run_child(["-c", _EMBED_CHILD, str(EMBED_TEXTS)], env, python=True)
    got = json.loads(out)
    (load_w, load_c), (embed_w, embed_c) = got["load"], got["embed"]
    rate = f"{EMBED_TEXTS / embed_w:.0f} sentences/s ({got['runtime']})"
    figures = [
        Figure("index: embedding model import + load", load_w, load_c, "", None, at),
        Figure(f"index: embed {EMBED_TEXTS:,} sentences", embed_w, embed_c,
               "throughput >= before", None, at, note=rate),
    ]  # fmt: skip
    at = load()
    wall, cpu, _ = run_child(["index", str(video), "--ocr", "--force", "--base-url",
                              srv.base_url, "--model", "fake-vlm"], env)  # fmt: skip
    return [*figures, Figure("index --force of the video", wall, cpu, "<= before", None, at)]


def heavy_imports(env: dict[str, str], args: Sequence[str]) -> dict[str, float]:
    """Heavy top-level packages a command imports, with their cumulative import seconds."""
    cmd = [sys.executable, "-X", "importtime", "-m", "mcr_agent", *args]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() in HEAVY:
            found[parts[2].strip()] = int(parts[1]) / 1e6
    return found


def report(figures: list[Figure], imports: dict[str, dict[str, float]]) -> None:
    """Print the table, then the heavy imports per command."""
    print(f"\n{'figure':<40} {'wall':>9} {'CPU':>8}  {'target':<28} {'':4}  load  note")
    for f in figures:
        digits = 2 if f.unit == "s" else 1
        wall = "-" if f.wall is None else f"{f.wall:.{digits}f} {f.unit}"
        cpu = "-" if f.cpu is None else f"{f.cpu:.2f} s"
        verdict = "" if f.ok is None else "PASS" if f.ok else "FAIL"
        print(f"{f.name:<40} {wall:>9} {cpu:>8}  {f.target:<28} {verdict:4} {f.load:5.1f}  "
              f"{f.note}")  # fmt: skip
    print("\nheavy packages imported (cumulative import seconds under -X importtime):")
    for command, found in imports.items():
        listed = ", ".join(f"{k} {v:.2f}" for k, v in sorted(found.items(), key=lambda x: -x[1]))
        print(f"  {command:<14} {listed or 'none'}")


def run(args: argparse.Namespace, work: Path) -> tuple[list[Figure], dict[str, Any]]:
    """Index the video (untimed), then take every figure."""
    video = bench_agent.make_videos(args.out / "bench-agent-media", {VIDEO})[VIDEO]
    env = child_env(work / "cache", bytecode=args.bytecode)
    if args.bytecode:
        compile_project()
    bench = bench_agent.BenchModel()
    model = TimedModel(bench)
    with FakeOpenAIServer(model, latency=0.0) as srv:
        first = run_child(["index", str(video), "--ocr", "--base-url", srv.base_url,
                           "--model", "fake-vlm"], env)  # fmt: skip
        print(f"indexed {video.name} in {first[0]:.1f} s ({first[1]:.1f} CPU-s, one-time "
              f"exports included)")  # fmt: skip
        srv.latency = args.latency
        figures = bench_help(env, args.runs)
        figures += bench_search(env, video, args.runs)
        figures += bench_ask(env, video, srv, model, args.runs)
        figures += bench_warm(srv, bench, work, args.questions, args.latency)
        figures += bench_index(env, video, srv)
        imports = {
            "--help": heavy_imports(env, ["--help"]),
            "memory search": heavy_imports(env, ["memory", "search", str(video), QUERY]),
            "ask": heavy_imports(env, ask_args(video, srv)),
        }
    return figures, {"first_index_s": first[:2], "imports": imports}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Take the figures, print them, write ``<out>/bench_latency.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.bench_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per figure")
    parser.add_argument("--latency", type=float, default=1.0, help="model seconds per call")
    parser.add_argument("--questions", type=int, default=len(bench_agent.QUESTIONS),
                        help="bench_agent questions for the warm Agent.run figure")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--quick", action="store_true", help="1 run, 2 questions, 0.2 s latency")
    parser.add_argument("--no-bytecode", dest="bytecode", action="store_false",
                        help="keep this environment's PYTHONDONTWRITEBYTECODE: every child "
                             "compiles the project's modules again")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.questions, args.latency = 1, 2, 0.2
    if args.runs < 1 or not 1 <= args.questions <= len(bench_agent.QUESTIONS):
        parser.error(f"--runs >= 1 and --questions 1..{len(bench_agent.QUESTIONS)}")
    require_tools(speech=True)
    facts = {**machine_facts(), "load_before": os.getloadavg()}
    print(f"machine: {facts['nproc']} cores, {facts['cpu']}, load {facts['load_before'][0]:.1f}")
    print("bytecode: " + ("cached, as an installed package has it" if args.bytecode else
                          "compiled again by every child (--no-bytecode)"))  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-latency-", dir=args.out) as work:
        figures, extra = run(args, Path(work))
    facts["load_after"] = os.getloadavg()
    report(figures, extra["imports"])
    print(f"\nload average (1 min) before {facts['load_before'][0]:.1f}, after "
          f"{facts['load_after'][0]:.1f} on {facts['nproc']} cores")  # fmt: skip
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": facts, "runs": args.runs,
        "latency_s": args.latency, "bytecode": args.bytecode,
        "figures": [asdict(f) for f in figures], **extra,
    }  # fmt: skip
    out = args.out / "bench_latency.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out}")
    return result


if __name__ == "__main__":
    main()
