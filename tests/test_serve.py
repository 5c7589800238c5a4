"""`mcr-agent serve` end to end: a tiny random Qwen3-VL served by the real CLI in a
subprocess, driven with the real openai client over 127.0.0.1."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from evals.tiny_vlm import copy_remote
from tests.fake_openai import HANG_GUARD_S
from tests.serve_helpers import (
    data_url,
    free_port,
    make_video,
    png_url,
    serve_app,
    serve_process,
    wait_for,
)

LIMITS = ["--max-frames", "8", "--max-pixels", "250000", "--max-model-len", "16384"]


@pytest.fixture(scope="module")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    make_video(root / "clip.mp4")
    return root


@pytest.fixture(scope="module")
def server(tiny_vlm: Path, media_root: Path) -> Iterator[str]:
    with serve_process(
        tiny_vlm, *LIMITS, "--max-batch", "8", "--media-root", str(media_root)
    ) as url:
        yield url


@pytest.fixture
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server, api_key="unused", max_retries=0, timeout=HANG_GUARD_S)


def health(url: str) -> dict[str, object]:
    """The server's /health: status, model, queue and batch counters."""
    found: dict[str, object] = httpx.get(
        url.removesuffix("/v1") + "/health", timeout=HANG_GUARD_S
    ).json()
    return found


def ask(client: openai.OpenAI, content: object, **kwargs: object) -> object:
    messages = [{"role": "user", "content": content}]
    options = {"max_tokens": 8, "temperature": 0, **kwargs}
    return client.chat.completions.create(model="tiny-qwen3vl", messages=messages, **options)  # type: ignore[call-overload]


def test_models_and_health(server: str, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["tiny-qwen3vl"]
    status = health(server)
    assert status["status"] == "ok" and status["model"] == "tiny-qwen3vl"


def test_text_reply_has_usage(client: openai.OpenAI) -> None:
    reply = ask(client, "What does the speaker say?", max_tokens=6)
    choice = reply.choices[0]  # type: ignore[attr-defined]
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    usage = reply.usage  # type: ignore[attr-defined]
    assert usage.prompt_tokens > 5 and 1 <= usage.completion_tokens <= 6
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_image_tokens_follow_the_image_size(client: openai.OpenAI) -> None:
    def prompt_tokens(*sizes: tuple[int, int]) -> int:
        parts = [{"type": "image_url", "image_url": {"url": png_url(w, h)}} for w, h in sizes]
        reply = ask(client, [*parts, {"type": "text", "text": "what is it?"}], max_tokens=1)
        return int(reply.usage.prompt_tokens)  # type: ignore[attr-defined]

    bare = prompt_tokens()
    # 64x64 is 4 merged 32x32 patches, 128x64 is 8; each image adds its start/end markers.
    assert prompt_tokens((64, 64)) == bare + 4 + 2
    assert prompt_tokens((64, 64), (128, 64)) == bare + 4 + 8 + 4


def test_video_as_data_url_and_as_allowed_path(client: openai.OpenAI, media_root: Path) -> None:
    clip = media_root / "clip.mp4"
    by_data = ask(
        client, [{"type": "video_url", "video_url": {"url": data_url(clip, "video/mp4")}}]
    )
    by_path = ask(client, [{"type": "video_url", "video_url": {"url": f"file://{clip}"}}])
    relative = ask(client, [{"type": "video_url", "video_url": {"url": "clip.mp4"}}])
    text = ask(client, "x")
    for reply in (by_path, relative):
        assert reply.usage.prompt_tokens == by_data.usage.prompt_tokens  # type: ignore[attr-defined]
        assert reply.choices[0].message.content == by_data.choices[0].message.content  # type: ignore[attr-defined]
    # 3 s at 2 fps = 6 frames in 3 pairs, each 96x64 -> 6 merged patches, with its markers
    # and a "<t seconds>" stamp.
    assert by_data.usage.prompt_tokens > text.usage.prompt_tokens + 3 * 8  # type: ignore[attr-defined]


def test_streaming_matches_the_plain_reply(client: openai.OpenAI) -> None:
    plain = ask(client, "Is the red car parked?", max_tokens=12)
    chunks = list(
        ask(
            client,
            "Is the red car parked?",
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )  # type: ignore[call-overload]
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content  # type: ignore[attr-defined]
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == [plain.choices[0].finish_reason]  # type: ignore[attr-defined]
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage  # type: ignore[attr-defined]


def test_concurrent_requests_are_batched_and_unchanged(server: str, client: openai.OpenAI) -> None:
    questions = [f"question number {i} about the blue door" for i in range(12)]
    alone = [ask(client, q, max_tokens=10).choices[0].message.content for q in questions]  # type: ignore[attr-defined]

    def together_unchanged() -> bool:
        with cf.ThreadPoolExecutor(12) as pool:
            together = list(pool.map(lambda q: ask(client, q, max_tokens=10), questions))
        assert [r.choices[0].message.content for r in together] == alone  # type: ignore[attr-defined]
        return bool(health(server)["largest_batch"] > 1)  # type: ignore[operator]

    # Whether 12 requests sent at once meet in one batch depends on the machine's timing:
    # they are sent again (each time compared) until some did.
    assert wait_for(together_unchanged), "concurrent requests never shared a batch"


def image(url: str) -> dict[str, object]:
    return {"type": "image_url", "image_url": {"url": url}}


OVER_LIMITS = {
    "frames": ([image(png_url(64, 64))] * 9, {}, "--max-frames"),
    "pixels": ([image(png_url(600, 500))], {}, "--max-pixels"),
    "context": ("the red car " * 6000, {}, "--max-model-len"),
    "max-tokens": ("hello", {"max_tokens": 17000}, "--max-model-len"),
    "bad-video": (
        [{"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}],
        {},
        "not a readable video",
    ),
    "outside-root": ([image("file:///etc/passwd")], {}, "--media-root"),
    "url": ([image("http://127.0.0.1:9/x.png")], {}, "data: URL"),
    "bad-image": ([image("data:image/png;base64,AAAA")], {}, "not a readable image"),
    "audio": ([{"type": "input_audio", "input_audio": {}}], {}, "unsupported part type"),
    "placeholder": ("<|vision_start|><|image_pad|><|vision_end|>", {}, "placeholder tokens"),
    "temperature": ("hello", {"temperature": 5}, "temperature"),
}


@pytest.mark.parametrize(("content", "kwargs", "named"), OVER_LIMITS.values(), ids=OVER_LIMITS)
def test_requests_over_limits_get_400_naming_the_limit(
    client: openai.OpenAI, content: object, kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, content, **kwargs)
    assert named in caught.value.message
    assert "\n" not in caught.value.message
    assert ask(client, "still serving?").choices[0].message.content is not None  # type: ignore[attr-defined]


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="tiny-qwen3vl"):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )


def test_agent_client_reads_the_server(server: str) -> None:
    """Our own model client finds the model and gets a reply with usage."""
    from mcr_agent import AgentConfig
    from mcr_agent.model.client import OpenAIVideoLLM

    llm = OpenAIVideoLLM(AgentConfig(base_url=server, timeout=HANG_GUARD_S))
    assert llm.ping() == "tiny-qwen3vl"
    reply = llm.complete([{"role": "user", "content": "hello"}], max_tokens=4)
    assert reply.text and 1 <= reply.completion_tokens <= 4 and reply.prompt_tokens > 0


def test_remote_code_model_with_its_own_class(tiny_vlm: Path, tmp_path: Path) -> None:
    """InternVideo3 ships its model class as remote code; the server loads such a model (in
    this process: `mcr-agent serve` itself is the module's server)."""
    from mcr_agent.serve.app import create_app
    from mcr_agent.serve.inputs import Limits
    from mcr_agent.serve.loading import load_engine

    remote = copy_remote(tiny_vlm, tmp_path / "remote")
    engine = load_engine(str(remote), Limits(), device="cpu", name="internvideo-test")
    try:
        assert type(engine.model).__module__.startswith("transformers_modules.")
        with serve_app(create_app(engine)) as url:
            client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
            reply = client.chat.completions.create(
                model="internvideo-test",
                messages=[
                    {
                        "role": "user",
                        "content": [image(png_url(64, 64)), {"type": "text", "text": "hi"}],
                    }
                ],
                max_tokens=4,
            )
            assert reply.usage is not None and reply.usage.completion_tokens >= 1
    finally:
        engine.close()
        engine.join()


def test_ask_runs_the_agent_loop_on_the_served_model(
    server: str,
    speech_video: Path,
    cache_with_speech_memory: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`mcr-agent ask` end to end against `mcr-agent serve`: frames, tools and replies all go
    through the real server (the random model's answers are noise; the loop must still end
    with an answer that says where it came from, the server's token counts, and no error)."""
    import json

    from click.testing import CliRunner

    from mcr_agent.front.cli import main

    monkeypatch.setenv("MCR_CACHE_DIR", str(cache_with_speech_memory))
    monkeypatch.setenv("MCR_BASE_URL", server)
    # The random model never stops before max_tokens: one reasoning step keeps the calls few
    # (and MCR_TIMEOUT is the hang guard, set for every test, so a slow machine does not turn
    # into timeouts and retries).
    question = ["What does the speaker say is parked?", "--option", "A. a truck"]
    result = CliRunner().invoke(
        main,
        ["ask", str(speech_video), *question, "--option", "B. a car", "--json", "--max-steps", "1"],
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    # Noise may happen to state a letter (the model's answer) or not (a labelled guess: the
    # transcript's "red car" favours B).
    assert answer["status"] in ("answered", "fallback") and answer["choice"] in ("A", "B")
    assert answer["usage"]["model_calls"] >= 1 and answer["usage"]["prompt_tokens"] > 100
    assert answer["usage"]["frames_sent"] >= 1
    assert not any("refused" in step["summary"] for step in answer["steps"])


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcr_agent", "serve", *args],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_busy_port_fails_in_one_line_before_loading(tiny_vlm: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(str(tiny_vlm), "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "--port" in done.stderr


def test_missing_model_fails_in_one_line(tmp_path: Path) -> None:
    done = run_cli(
        str(tmp_path / "no-such-model"), "--port", str(free_port()), env={"HF_HUB_OFFLINE": "1"}
    )
    assert done.returncode == 1
    assert "is not a model folder" in done.stderr and "Traceback" not in done.stderr
    not_a_model = tmp_path / "clip.mp4"
    not_a_model.write_bytes(b"not a model")
    done = run_cli(str(not_a_model), "--port", str(free_port()))
    assert done.returncode == 1 and "is not a model folder" in done.stderr


def test_vllm_engine_runs_vllm_with_the_agent_flags(tmp_path: Path) -> None:
    record = tmp_path / "argv.txt"
    fake = tmp_path / "bin" / "vllm"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    done = run_cli(
        "Qwen/Qwen3-VL-8B-Instruct", "--engine", "vllm", "--port", "8123", "--max-frames", "32",
        "--dtype", "bf16", "--", "--gpu-memory-utilization", "0.85",
        env={"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    argv = record.read_text().splitlines()
    assert argv[:2] == ["serve", "Qwen/Qwen3-VL-8B-Instruct"]
    assert (
        "--enable-auto-tool-choice" in argv
        and argv[argv.index("--tool-call-parser") + 1] == "hermes"
    )
    assert argv[argv.index("--limit-mm-per-prompt") + 1] == '{"image": 32, "video": 1}'
    assert (
        argv[argv.index("--port") + 1] == "8123" and argv[argv.index("--dtype") + 1] == "bfloat16"
    )
    assert argv[-2:] == ["--gpu-memory-utilization", "0.85"]


def test_vllm_engine_without_vllm_says_how_to_get_it(tmp_path: Path) -> None:
    done = run_cli("m", "--engine", "vllm", env={"PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "pip install vllm" in done.stderr and done.stderr.strip().count("\n") == 0


def test_vision_tokens_get_their_3d_positions(tiny_vlm: Path, media_root: Path) -> None:
    """Qwen3-VL places image and video tokens in 3-D (M-RoPE); transformers does so only when
    told which tokens are vision tokens. The served reply equals that reference, and the
    reference differs from plain 1-D positions, so the check can fail."""
    import threading

    import torch

    from mcr_agent.serve.engine import Job, Sampling
    from mcr_agent.serve.inputs import Limits
    from mcr_agent.serve.loading import load_engine

    engine = load_engine(str(tiny_vlm), Limits(media_root=media_root), device="cpu")
    try:
        video = {"type": "video_url", "video_url": {"url": "clip.mp4"}}
        content = [image(png_url(96, 64)), video, {"type": "text", "text": "what changes?"}]
        prepared = engine.builder.build([{"role": "user", "content": content}])
        finished = threading.Event()
        job = Job(
            prepared,
            Sampling(max_tokens=12, temperature=0.0),
            lambda k, v: k != "token" and finished.set(),
        )
        engine.submit(job)
        assert finished.wait(HANG_GUARD_S)
        ids = torch.tensor([prepared.ids])
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        inputs |= (prepared.images or {}) | (prepared.videos or {})
        types = (ids == engine.builder.image_id).long() + 2 * (
            ids == engine.builder.video_id
        ).long()

        def reference(**extra: object) -> list[int]:
            with torch.inference_mode():
                out = engine.model.generate(**inputs, **extra, max_new_tokens=12, do_sample=False)
            return [t for t in out[0, ids.shape[1] :].tolist() if t not in engine.eos]

        assert [t for t in job.tokens if t not in engine.eos] == reference(mm_token_type_ids=types)
        assert reference(mm_token_type_ids=types) != reference()
    finally:
        engine.close()
        engine.join()


def test_seeded_sampling_repeats_under_concurrency(client: openai.OpenAI) -> None:
    def sample(_: int) -> str:
        reply = ask(client, "tell a story", max_tokens=16, temperature=1.0, seed=1234)
        return str(reply.choices[0].message.content)  # type: ignore[attr-defined]

    alone = sample(0)
    with cf.ThreadPoolExecutor(4) as pool:
        assert list(pool.map(sample, range(4))) == [alone] * 4


def test_ctrl_c_ends_requests_in_flight_with_503(tiny_vlm: Path) -> None:
    import io
    import threading

    started: list[subprocess.Popen[bytes]] = []
    output = io.BytesIO()
    with serve_process(tiny_vlm, "--max-batch", "2", started=started, output=output) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=HANG_GUARD_S)
        outcome: list[object] = []

        def long_request() -> None:
            try:
                outcome.append(ask(client, "x", max_tokens=20000))
            except openai.APIStatusError as exc:
                outcome.append(exc)

        worker = threading.Thread(target=long_request)
        worker.start()
        assert wait_for(lambda: health(url)["running"] != 0), "the request never ran"
        os.kill(started[0].pid, signal.SIGINT)
        worker.join(HANG_GUARD_S)
        # Still inside: leaving `serve_process` with the server alive would interrupt it again.
        assert started[0].wait(HANG_GUARD_S) == 0
    assert outcome and isinstance(outcome[0], openai.APIStatusError), outcome
    assert outcome[0].status_code == 503 and "shutting down" in outcome[0].message
    printed = output.getvalue().decode()
    assert printed.rstrip().endswith("stopped") and "Traceback" not in printed, printed
