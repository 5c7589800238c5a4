"""Several model servers behind one client: spread, failover, re-admission."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mcr_agent import AgentConfig, ModelServerError
from mcr_agent.model.client import OpenAIVideoLLM
from tests.fake_openai import HANG_GUARD_S, FakeOpenAIServer, Request, dead_url, wait_for


def client(*urls: str, concurrency: int = 8) -> OpenAIVideoLLM:
    config = AgentConfig(base_url=", ".join(urls), model="fake-vlm", max_retries=1,
                         timeout=HANG_GUARD_S, max_concurrency=concurrency)  # fmt: skip
    return OpenAIVideoLLM(config)


def ask(llm: OpenAIVideoLLM, i: int) -> str:
    return llm.complete([{"role": "user", "content": f"question {i}"}]).text


def echo(request: Request) -> str:
    return "answer to " + request.texts


def test_requests_spread_over_replicas() -> None:
    # Each wave of 8 requests is answered only once all 8 are in flight, so each replica is
    # chosen while the others' requests are outstanding, however fast the machine runs them.
    wave = threading.Barrier(8, timeout=HANG_GUARD_S)

    def in_waves(request: Request) -> str:
        wave.wait()
        return echo(request)

    with FakeOpenAIServer(in_waves) as a, FakeOpenAIServer(in_waves) as b:
        llm = client(a.base_url, b.base_url)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: ask(llm, i), range(16)))
        assert answers == [f"answer to question {i}" for i in range(16)]
        assert len(a.requests) + len(b.requests) == 16
        assert min(len(a.requests), len(b.requests)) >= 6  # least outstanding, not round robin
        assert a.max_concurrency <= 5 and b.max_concurrency <= 5


def test_a_replica_that_dies_mid_run_loses_no_request() -> None:
    with FakeOpenAIServer(echo) as a, FakeOpenAIServer(echo) as b:
        llm = client(a.base_url, b.base_url)
        with ThreadPoolExecutor(4) as pool:
            first = list(pool.map(lambda i: ask(llm, i), range(8)))
            a.stop()  # the first GPU box goes away
            rest = list(pool.map(lambda i: ask(llm, i), range(8, 24)))
        assert first + rest == [f"answer to question {i}" for i in range(24)]
        assert len(b.requests) >= 16


def test_a_replica_is_back_once_its_health_check_passes() -> None:
    with FakeOpenAIServer(echo) as b:
        a = FakeOpenAIServer(echo).start()
        port = a.port
        llm = client(a.base_url, b.base_url)
        a.stop()
        for i in range(4):
            assert ask(llm, i) == f"answer to question {i}"  # all on b meanwhile
        a = FakeOpenAIServer(echo, port=port).start()

        def back() -> bool:
            assert ask(llm, 5) == "answer to question 5"
            return bool(a.requests)

        try:
            # Asked until `a` answers: its cool-down (1 s, doubled per failed health check)
            # ends whatever the machine's speed, and then its health check passes.
            assert wait_for(back), "the replica never came back into the rotation"
        finally:
            a.stop()


def test_no_replica_answers_is_one_line() -> None:
    llm = client(dead_url(), dead_url())
    with pytest.raises(ModelServerError, match="no model server answers") as err:
        ask(llm, 0)
    assert "\n" not in str(err.value)


def test_several_urls_are_validated() -> None:
    from mcr_agent import ConfigError

    assert AgentConfig(base_url="http://a:1/v1, http://b:2/v1").base_urls == [
        "http://a:1/v1",
        "http://b:2/v1",
    ]
    with pytest.raises(ConfigError, match="ftp://b"):
        AgentConfig.from_env({"MCR_BASE_URL": "http://a:1/v1,ftp://b/v1"})
