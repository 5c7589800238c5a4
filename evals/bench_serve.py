"""Throughput of `mcr-agent serve` at concurrency 1, 4 and 16, so the batching gain shows.

Run from the repository root::

    python -m evals.bench_serve [--requests 48] [--max-tokens 32] [--model PATH] [--out DIR]

By default it builds the tiny random Qwen3-VL (`evals.tiny_vlm`) and serves it on this
machine's CPU with the real CLI (``--max-batch 16``), then sends the same requests (half
text, half with a 64x64 image; greedy, fixed `max_tokens`) from 1, 4 and 16 concurrent
clients through the openai client. A second server with ``--max-batch 1`` runs the 16-client
load once more, as the no-batching baseline. Target: at least 2.5x the requests per second
at concurrency 16 as at concurrency 1. Results go to ``<out>/bench_serve.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from evals.bench_index import machine_facts
from evals.tiny_vlm import build_tiny_qwen3vl
from tests.serve_helpers import png_url, serve_process

LEVELS = (1, 4, 16)
TARGET = 2.5


def workload(count: int) -> list[list[dict[str, Any]]]:
    """`count` user messages: half text, half text with one image."""
    image = {"type": "image_url", "image_url": {"url": png_url(64, 64)}}
    messages = []
    for i in range(count):
        text = {"type": "text", "text": f"Question {i}: where is the red car parked?"}
        content = [image, text] if i % 2 else [text]
        messages.append([{"role": "user", "content": content}])
    return messages


def load(
    url: str, requests: list[list[dict[str, Any]]], clients: int, max_tokens: int
) -> dict[str, Any]:
    """Send every request from `clients` threads; latencies, tokens and batch sizes."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=300)
    model = client.models.list().data[0].id
    health = url.removesuffix("/v1") + "/health"
    before = httpx.get(health).json()

    def one(messages: list[dict[str, Any]]) -> tuple[float, int]:
        start = time.perf_counter()
        reply = client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            temperature=0,
        )
        assert reply.usage is not None
        return time.perf_counter() - start, reply.usage.completion_tokens

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, requests))
    wall = time.perf_counter() - start
    after = httpx.get(health).json()
    latencies = sorted(r[0] for r in results)
    batches = after["batches"] - before["batches"]
    return {
        "clients": clients,
        "requests": len(requests),
        "wall_s": wall,
        "req_per_s": len(requests) / wall,
        "tokens_per_s": sum(r[1] for r in results) / wall,
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
        "mean_batch": (after["served"] - before["served"]) / max(1, batches),
    }


def report(rows: list[dict[str, Any]]) -> None:
    print("\n| server | clients | req/s | tokens/s | p50 | p95 | mean batch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        p50, p95 = r["p50_s"] * 1000, r["p95_s"] * 1000
        print(f"| {r['server']} | {r['clients']} | {r['req_per_s']:.1f} | {r['tokens_per_s']:.0f} "
              f"| {p50:.0f} ms | {p95:.0f} ms | {r['mean_batch']:.1f} |")  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Serve, load at each concurrency, print the table, write ``<out>/bench_serve.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.bench_serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=48, help="requests per level")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--model", type=Path, help="a model folder (default: the tiny one)")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args(argv)
    if args.requests < max(LEVELS) or args.max_tokens < 1:
        parser.error(f"--requests must be at least {max(LEVELS)}; --max-tokens at least 1")
    facts = {**machine_facts(), "load_before": os.getloadavg()}
    print(f"machine: {facts['nproc']} cores, {facts['cpu']}, load {facts['load_before'][0]:.2f}")
    requests = workload(args.requests)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work:
        model = args.model or build_tiny_qwen3vl(Path(work) / "tiny-qwen3vl")
        for batch, levels in ((16, LEVELS), (1, (16,))):
            with serve_process(model, "--max-batch", str(batch)) as url:
                load(url, requests[:4], 1, args.max_tokens)  # warm-up
                for clients in levels:
                    row = load(url, requests, clients, args.max_tokens)
                    rows.append({"server": f"--max-batch {batch}", **row})
    report(rows)
    gain = rows[LEVELS.index(16)]["req_per_s"] / rows[0]["req_per_s"]
    unbatched = rows[LEVELS.index(16)]["req_per_s"] / rows[-1]["req_per_s"]
    verdict = "PASS" if gain >= TARGET else "FAIL"
    print(f"\n16 clients vs 1: {gain:.2f}x requests/s (target >= {TARGET}x): {verdict}")
    print(f"batching vs --max-batch 1 at 16 clients: {unbatched:.2f}x")
    facts["load_after"] = os.getloadavg()
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": facts,
        "model": str(args.model or "tiny random Qwen3-VL"),
        "max_tokens": args.max_tokens,
        "rows": rows,
        "gain_16_vs_1": gain,
        "gain_vs_unbatched": unbatched,
        "target": TARGET,
        "pass": gain >= TARGET,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "bench_serve.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
