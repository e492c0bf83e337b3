"""Unit tests of the Ollama stand-in (tests/ollama_standin/ollama_standin.py).

Servers run in-process on 127.0.0.1, port 0 (one subprocess test covers the CLI,
the log file and SIGTERM). Only the standard library's HTTP clients are used.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "ollama_standin" / "ollama_standin.py"


def _load_standin():
    spec = importlib.util.spec_from_file_location("ollama_standin", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


standin = _load_standin()

TOKENS = 6
PROMPT = "why is the sky blue on a clear summer day"  # 10 words
EXPECTED = "Stand-in answer to: " + PROMPT             # 14 words -> 6 chunks
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
DURATIONS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")


class Running:
    """A stand-in served from a thread of this process."""

    def __init__(self, handler=None, **options):
        opts = standin.Options(port=0, **options)
        kwargs = {"handler": handler} if handler else {}
        self.server = standin.StandinServer(opts, **kwargs)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def state(self):
        return self.server.state

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def connect(self, timeout=5.0):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def open(self, method, path, body=None, headers=None, timeout=5.0, conn=None):
        """Send a request; returns (connection, response) with the body unread."""
        conn = conn or self.connect(timeout)
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        return conn, conn.getresponse()

    def call(self, method, path, body=None, headers=None, timeout=5.0):
        """Send a request; returns (status, headers, body bytes)."""
        conn, resp = self.open(method, path, body, headers, timeout)
        try:
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, dummy, raw = self.call(method, path, body, headers)
        return status, json.loads(raw)

    def stream(self, path, body, conn=None):
        """POST and read the NDJSON answer: (response, [(arrival, object), ...])."""
        conn, resp = self.open("POST", path, body, conn=conn)
        lines = []
        while line := resp.readline():
            lines.append((time.monotonic(), json.loads(line)))
        return resp, lines

    def configure(self, **config):
        status, answer = self.json("POST", "/_standin/config", config)
        assert status == 200, answer
        return answer


@pytest.fixture(scope="module")
def shared():
    running = Running(models=("llama3", "mistral:7b"), tokens=TOKENS, name="unit",
                      unpullable=("broken-model",))
    yield running
    running.stop()


@pytest.fixture
def srv(shared):
    shared.state.reset()
    return shared


def generate_body(prompt=PROMPT, **extra):
    return {"model": "llama3", "prompt": prompt, **extra}


def chat_body(content=PROMPT, **extra):
    messages = [{"role": "system", "content": "You are terse."},
                {"role": "user", "content": "an earlier question"},
                {"role": "assistant", "content": "an earlier answer"},
                {"role": "user", "content": content}]
    return {"model": "llama3", "messages": messages, **extra}


def assert_final_counters(final, chunks):
    assert final["done"] is True
    for key in DURATIONS:
        assert isinstance(final[key], int) and final[key] > 0, key
    assert final["total_duration"] >= final["load_duration"] + final["eval_duration"]
    assert final["eval_count"] == chunks
    assert isinstance(final["prompt_eval_count"], int) and final["prompt_eval_count"] > 0


# ------------------------------------------------------------------ pure functions

def test_split_chunks_joins_words_into_exactly_n_chunks():
    assert standin.split_chunks("a b c d e f g", 3) == ["a b c ", "d e ", "f g"]
    assert standin.split_chunks("one two", 5) == ["one ", "two"]
    text = "Stand-in answer to:  spaced\n\tout   words "
    for n in (1, 2, 3, 10):
        chunks = standin.split_chunks(text, n)
        assert "".join(chunks) == text
        assert len(chunks) == min(n, 6)


def test_go_time_is_rfc3339_nano_utc_with_trimmed_zeros():
    assert standin.go_time(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert standin.go_time(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert standin.go_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


def test_go_json_is_compact_and_escapes_html_like_go():
    assert standin.go_json({"a": "<b>&é"}) == '{"a":"\\u003cb\\u003e\\u0026é"}'.encode()


@pytest.mark.parametrize("hostport, expected", [
    ("localhost:11434", ("localhost", "11434")),
    ("[::1]:11434", ("::1", "11434")),
    ("host:", ("host", "")),
])
def test_split_host_port_like_go(hostport, expected):
    assert standin.go_split_host_port(hostport) == expected


@pytest.mark.parametrize("hostport", ["localhost", "::1", "[::1]", "[::1]x:1", "a]:1", ""])
def test_split_host_port_errors_like_go(hostport):
    with pytest.raises(ValueError):
        standin.go_split_host_port(hostport)


@pytest.mark.parametrize("host, allowed", [
    ("", True), ("localhost", True), ("LOCALHOST:11434", True), ("gateway-box", True),
    ("Gateway-Box:80", True), ("app.localhost", True), ("printer.local", True),
    ("host.docker.internal:11434", True), ("127.0.0.2", True), ("::1", True),
    ("[::1]:11434", True), ("::ffff:127.0.0.1", True), ("10.1.2.3", True),
    ("172.31.0.1:8080", True), ("192.168.1.1", True), ("[fd12::1]:80", True),
    ("0.0.0.0", True), ("203.0.113.7", True),  # 203.0.113.7: one of "our" IPs here
    ("llama-nginx", False), ("llm.example.com", False), ("localhost.example.com", False),
    ("8.8.8.8:11434", False), ("172.32.0.1", False), ("169.254.1.1", False),
    ("100.64.0.1", False), ("[::1]", False), ("fe80::1", False), ("010.1.2.3", False),
])
def test_allowed_host_header_matches_ollama(host, allowed):
    assert standin.allowed_host_header(host, "gateway-box",
                                       local_ips=lambda: {"203.0.113.7"}) is allowed


def test_host_check_mode_decision():
    assert standin.host_check_active("auto", "127.0.0.1") is True
    assert standin.host_check_active("auto", "::1") is True
    assert standin.host_check_active("auto", "0.0.0.0") is False
    assert standin.host_check_active("auto", "::") is False
    assert standin.host_check_active("on", "0.0.0.0") is True
    assert standin.host_check_active("off", "127.0.0.1") is False


# -------------------------------------------------------------- plain endpoints

def test_root_head_and_version(srv):
    status, headers, body = srv.call("GET", "/")
    assert (status, body) == (200, b"Ollama is running")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Server" not in headers
    status, headers, body = srv.call("HEAD", "/")
    assert (status, body, headers["Content-Length"]) == (200, b"", "17")
    assert srv.json("GET", "/api/version") == (200, {"version": "0.6.5"})
    status, headers, body = srv.call("GET", "/api/nothing")
    assert (status, body) == (404, b"404 page not found")
    assert srv.call("GET", "/api/generate")[0] == 404  # gin: no route for GET


def test_tags_and_ps_list_the_models(srv):
    status, tags = srv.json("GET", "/api/tags")
    assert status == 200
    names = [m["name"] for m in tags["models"]]
    assert names == ["llama3:latest", "mistral:7b"]
    for model in tags["models"]:
        assert model["model"] == model["name"]
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", model["digest"])
        assert CREATED_AT.match(model["modified_at"])
        assert isinstance(model["size"], int) and model["size"] > 0
        assert model["details"] == {"parent_model": "", "format": "gguf", "family": "llama",
                                    "families": ["llama"], "parameter_size": "8.0B",
                                    "quantization_level": "Q4_0"}
    assert tags["models"][0]["digest"] != tags["models"][1]["digest"]
    assert srv.json("GET", "/api/tags")[1]["models"][0]["digest"] == tags["models"][0]["digest"]
    status, ps = srv.json("GET", "/api/ps")
    assert status == 200 and [m["name"] for m in ps["models"]] == names


def test_show_known_model(srv):
    for body in ({"model": "llama3"}, {"name": "LLAMA3:latest"}):
        status, show = srv.json("POST", "/api/show", body)
        assert status == 200
        assert show["model_info"]["general.architecture"] == "llama"
        assert show["model_info"]["llama.context_length"] == 8192
        assert show["capabilities"] == ["completion"]
        assert show["details"]["family"] == "llama"
        assert "FROM" in show["modelfile"] and "<|eot_id|>" in show["template"]
        assert "stop" in show["parameters"] and CREATED_AT.match(show["modified_at"])


def test_show_unknown_model_and_missing_name(srv):
    assert srv.json("POST", "/api/show", {"model": "nope"}) == (
        404, {"error": "model 'nope' not found"})
    assert srv.json("POST", "/api/show", {}) == (400, {"error": "model is required"})


# ------------------------------------------------------------ generate and chat

def test_generate_stream(srv):
    conn = srv.connect()
    resp, lines = srv.stream("/api/generate", generate_body(), conn=conn)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/x-ndjson"
    assert resp.headers["Transfer-Encoding"] == "chunked"
    objs = [obj for dummy, obj in lines]
    assert len(objs) == TOKENS + 1
    for obj in objs[:-1]:
        assert set(obj) == {"model", "created_at", "response", "done"}
        assert obj["model"] == "llama3" and obj["done"] is False
        assert CREATED_AT.match(obj["created_at"])
    assert "".join(o["response"] for o in objs[:-1]) == EXPECTED
    final = objs[-1]
    assert final["response"] == "" and final["done_reason"] == "stop"
    assert final["context"] and all(isinstance(t, int) for t in final["context"])
    assert_final_counters(final, TOKENS)
    # the chunked answer ended cleanly: the kept-alive connection still works
    conn.request("GET", "/api/version")
    assert json.loads(conn.getresponse().read()) == {"version": "0.6.5"}
    conn.close()


def test_generate_non_stream(srv):
    status, headers, raw = srv.call("POST", "/api/generate", generate_body(stream=False))
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    answer = json.loads(raw)
    assert answer["response"] == EXPECTED and answer["done_reason"] == "stop"
    assert answer["model"] == "llama3" and isinstance(answer["context"], list)
    assert_final_counters(answer, TOKENS)


def test_chat_gives_the_same_text_as_generate(srv):
    dummy, gen_lines = srv.stream("/api/generate", generate_body())
    generated = "".join(o["response"] for dummy, o in gen_lines)
    resp, lines = srv.stream("/api/chat", chat_body())
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/x-ndjson"
    objs = [obj for dummy, obj in lines]
    assert len(objs) == TOKENS + 1
    for obj in objs[:-1]:
        assert set(obj) == {"model", "created_at", "message", "done"}
        assert obj["message"]["role"] == "assistant" and obj["done"] is False
    streamed = "".join(o["message"]["content"] for o in objs[:-1])
    final = objs[-1]
    assert final["message"] == {"role": "assistant", "content": ""}
    assert final["done_reason"] == "stop" and "context" not in final
    assert_final_counters(final, TOKENS)
    status, whole = srv.json("POST", "/api/chat", chat_body(stream=False))
    assert status == 200 and whole["message"]["role"] == "assistant"
    assert generated == streamed == whole["message"]["content"] == EXPECTED
    # a different last user message changes the answer; the system prompt does not
    status, other = srv.json("POST", "/api/chat", chat_body("other", stream=False))
    assert other["message"]["content"] == "Stand-in answer to: other"
    dummy, with_system = srv.json("POST", "/api/generate",
                                  generate_body(system="Be brief.", stream=False))
    assert with_system["response"] == EXPECTED


def test_short_answer_has_one_chunk_per_word(srv):
    dummy, lines = srv.stream("/api/generate", generate_body("hi"))
    assert [o["response"] for dummy, o in lines[:-1]] == ["Stand-in ", "answer ", "to: ", "hi"]
    assert lines[-1][1]["eval_count"] == 4


def test_num_predict_caps_the_answer(srv):
    dummy, lines = srv.stream("/api/generate", generate_body(options={"num_predict": 2}))
    assert len(lines) == 3
    final = lines[-1][1]
    assert final["done_reason"] == "length" and final["eval_count"] == 2
    first_two = "".join(o["response"] for dummy, o in lines[:-1])
    assert EXPECTED.startswith(first_two) and len(first_two) < len(EXPECTED)
    dummy, chat = srv.json("POST", "/api/chat", chat_body(stream=False, options={"num_predict": 2}))
    assert chat["message"]["content"] == first_two and chat["done_reason"] == "length"
    for unlimited in (-1, 0, 100):
        dummy, full = srv.json("POST", "/api/generate",
                               generate_body(stream=False, options={"num_predict": unlimited}))
        assert (full["response"], full["done_reason"]) == (EXPECTED, "stop"), unlimited


def test_unknown_model_and_bad_requests(srv):
    for path, body in (("/api/generate", generate_body()), ("/api/chat", chat_body())):
        status, headers, raw = srv.call("POST", path, {**body, "model": "ghost"})
        assert status == 404
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert json.loads(raw) == {"error": 'model "ghost" not found, try pulling it first'}
        missing = {k: v for k, v in body.items() if k != "model"}
        assert srv.json("POST", path, missing) == (400, {"error": "model is required"})
        status, answer = srv.json("POST", path, b'{"model": "llama3",')
        assert status == 400 and isinstance(answer["error"], str) and answer["error"]
        assert srv.json("POST", path, b"") == (400, {"error": "missing request body"})
    status, answer = srv.json("POST", "/api/generate", generate_body(stream="yes"))
    assert status == 400 and "GenerateRequest.stream" in answer["error"]
    assert srv.json("POST", "/api/chat", b"null") == (400, {"error": "model is required"})
    status, answer = srv.json("POST", "/api/chat", {"model": "llama3", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "x"}]}]})
    assert status == 400 and "ChatRequest.messages.content" in answer["error"]
    status, answer = srv.json("POST", "/api/chat", {"model": "llama3", "stream": False,
                                                    "messages": [None, {"role": "user",
                                                                        "content": "x"}]})
    assert (status, answer["message"]["content"]) == (200, "Stand-in answer to: x")


def test_empty_prompt_is_a_load_request(srv):
    status, headers, raw = srv.call("POST", "/api/generate", {"model": "llama3"})
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    answer = json.loads(raw)
    assert answer["done"] is True and answer["done_reason"] == "load"
    assert answer["response"] == "" and answer["model"] == "llama3"
    dummy, chat = srv.json("POST", "/api/chat", {"model": "llama3", "messages": []})
    assert chat["done_reason"] == "load" and chat["message"]["content"] == ""


# --------------------------------------------------------------------------- pull

def test_pull_stream_adds_the_model(srv):
    assert srv.json("POST", "/api/show", {"model": "qwen2"})[0] == 404
    resp, lines = srv.stream("/api/pull", {"model": "qwen2"})
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/x-ndjson"
    statuses = [o["status"] for dummy, o in lines]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    progress = [o for dummy, o in lines if o["status"].startswith("pulling ") and "digest" in o]
    assert progress
    for obj in progress:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", obj["digest"])
        assert obj["status"] == "pulling " + obj["digest"][7:19]
        assert obj.get("completed", 0) <= obj["total"]
    assert any(o.get("completed") == o["total"] for o in progress)
    names = [m["name"] for m in srv.json("GET", "/api/tags")[1]["models"]]
    assert names == ["llama3:latest", "mistral:7b", "qwen2:latest"]
    dummy, answer = srv.json("POST", "/api/generate",
                             {"model": "qwen2:latest", "prompt": "x", "stream": False})
    assert answer["response"] == "Stand-in answer to: x"


def test_pull_non_stream_and_unpullable(srv):
    assert srv.json("POST", "/api/pull", {"name": "phi3:mini", "stream": False}) == (
        200, {"status": "success"})
    assert srv.state.find_model("phi3:mini") is not None
    assert srv.json("POST", "/api/pull", {"model": "broken-model", "stream": False}) == (
        500, {"error": "pull model manifest: file does not exist"})
    dummy, lines = srv.stream("/api/pull", {"model": "broken-model"})
    assert [o for dummy, o in lines] == [{"status": "pulling manifest"},
                                         {"error": "pull model manifest: file does not exist"}]
    assert srv.state.find_model("broken-model") is None


# --------------------------------------------------------------------- host check

@pytest.mark.parametrize("host, expected", [
    ("llama-nginx", 403), ("localhost:11434", 200), ("host.docker.internal:11434", 200),
    ("10.1.2.3", 200), ("llm.example.com", 403), ("[::1]:11434", 200),
])
def test_host_check_auto_on_loopback(srv, host, expected):
    status, headers, body = srv.call("GET", "/api/tags", headers={"Host": host})
    assert status == expected
    if expected == 403:
        assert body == b"" and headers["Content-Length"] == "0"
        assert "Content-Type" not in headers
    else:
        assert json.loads(body)["models"]


def test_host_check_details(srv):
    assert srv.json("GET", "/_standin/state")[1]["host_check"] == {"mode": "auto",
                                                                   "active": True}
    status, dummy, body = srv.call("GET", "/_standin/state", headers={"Host": "llama-nginx"})
    assert status == 200 and json.loads(body)["name"] == "unit"  # hooks are exempt
    assert srv.call("OPTIONS", "/api/chat", headers={"Host": "localhost"})[:1] == (204,)
    assert srv.call("OPTIONS", "/api/chat", headers={"Host": "evil.example"})[0] == 403
    status, dummy, dummy = srv.call("POST", "/api/generate", generate_body(stream=False),
                                    headers={"Host": "llama-nginx:11434"})
    assert status == 403


def test_host_check_off_allows_everything():
    running = Running(host_check="off")
    try:
        for host in ("llama-nginx", "llm.example.com", "localhost:11434", "10.1.2.3"):
            assert running.call("GET", "/api/tags", headers={"Host": host})[0] == 200, host
        assert running.json("GET", "/_standin/state")[1]["host_check"]["active"] is False
    finally:
        running.stop()


# -------------------------------------------------------------- failure injection

def test_injected_status_once_then_ok(srv):
    assert srv.configure(fail_mode="status", fail_status=500, fail_count=1)["config"] == {
        "token_delay_ms": 0, "fail_mode": "status", "fail_status": 500, "fail_count": 1}
    assert srv.json("GET", "/_standin/state")[0] == 200  # hooks consume no failure
    status, headers, raw = srv.call("GET", "/api/tags")
    assert status == 500 and json.loads(raw) == {"error": "stand-in injected failure 500"}
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert srv.call("GET", "/api/tags")[0] == 200
    assert srv.json("GET", "/_standin/state")[1]["requests"] == {"/api/tags": 2}


def test_injected_failures_last_until_reset(srv):
    srv.configure(fail_mode="status", fail_status=503)
    assert [srv.call("GET", "/")[0] for dummy in range(3)] == [503, 503, 503]
    assert srv.json("POST", "/_standin/reset")[0] == 200
    assert srv.call("GET", "/")[0] == 200
    status, answer = srv.json("POST", "/_standin/config", {"fail_mode": "explode"})
    assert status == 400 and "fail_mode" in answer["error"]


def test_injected_refuse_closes_the_connection(srv):
    srv.configure(fail_mode="refuse", fail_count=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        srv.call("POST", "/api/chat", chat_body(stream=False))
    assert srv.call("POST", "/api/chat", chat_body(stream=False))[0] == 200
    logged = srv.json("GET", "/_standin/requests?since=0")[1]["requests"]
    assert [(e["injected"], e["status"]) for e in logged] == [("refuse", None), (None, 200)]


def test_injected_stall_until_the_client_gives_up(srv):
    srv.configure(fail_mode="stall", fail_count=1)
    since = srv.json("GET", "/_standin/state")[1]["next_index"]
    outcome = []

    def stalled_client():
        started = time.monotonic()
        try:
            srv.call("POST", "/api/generate", generate_body(), timeout=1.0)
            outcome.append("answered")
        except TimeoutError:
            outcome.append(time.monotonic() - started)

    client = threading.Thread(target=stalled_client)
    client.start()
    # the stalled request is visible while it stalls
    dummy, page = srv.json("GET", f"/_standin/requests?since={since}&wait=0.8")
    assert [(e["path"], e["injected"], e["status"]) for e in page["requests"]] == [
        ("/api/generate", "stall", None)]
    assert not outcome and srv.state.snapshot()["active_stalls"] == 1
    client.join(5)
    assert len(outcome) == 1 and outcome[0] != "answered" and 0.9 <= outcome[0] < 3.0
    deadline = time.monotonic() + 3.0  # the client closed: the stall must end
    while srv.state.snapshot()["active_stalls"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.state.snapshot()["active_stalls"] == 0
    assert srv.call("GET", "/api/tags", timeout=2.0)[0] == 200


# ------------------------------------------------------------- timing and sockets

def test_token_delay_spaces_streamed_chunks(srv):
    delay_ms = 60
    srv.configure(token_delay_ms=delay_ms)
    dummy, lines = srv.stream("/api/chat", chat_body())
    chunk_times = [t for t, obj in lines if not obj["done"]]
    assert len(chunk_times) == TOKENS
    assert chunk_times[-1] - chunk_times[0] >= (TOKENS - 1) * delay_ms / 1000 * 0.8
    started = time.monotonic()
    status, dummy, dummy = srv.call("POST", "/api/generate", generate_body(stream=False))
    assert status == 200
    assert time.monotonic() - started >= TOKENS * delay_ms / 1000 * 0.8


def test_accepted_sockets_have_tcp_nodelay():
    seen = []

    class Probe(standin.OllamaHandler):
        def setup(self):
            super().setup()
            seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    running = Running(handler=Probe)
    try:
        assert running.call("GET", "/")[0] == 200
    finally:
        running.stop()
    assert len(seen) == 1 and seen[0] != 0


# ----------------------------------------------------------------- request log

def test_requests_endpoint_records_api_requests(srv):
    since = srv.json("GET", "/_standin/state")[1]["next_index"]
    status, dummy, dummy = srv.call(
        "POST", "/api/generate", generate_body(system="Be brief.", stream=False),
        headers={"Authorization": "Bearer sk-secret-123", "User-Agent": "unit-test/1"})
    assert status == 200
    status, page = srv.json("GET", f"/_standin/requests?since={since}")
    assert status == 200 and page["next"] == since + 1
    [entry] = page["requests"]
    assert entry["index"] == since and entry["name"] == "unit"
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/api/generate", 200)
    assert entry["authorization"] == "yes" and entry["user_agent"] == "unit-test/1"
    assert entry["host"] == f"127.0.0.1:{srv.port}"
    assert entry["content_type"] == "application/json"
    assert entry["body"]["system"] == "Be brief." and entry["body"]["prompt"] == PROMPT
    assert entry["client"].startswith("127.0.0.1:") and CREATED_AT.match(entry["ts"])
    assert "sk-secret-123" not in json.dumps(page)
    state = srv.json("GET", "/_standin/state")[1]
    assert (state["requests"], state["requests_total"]) == ({"/api/generate": 1}, 1)
    # wait= blocks until a request arrives
    timer = threading.Timer(0.2, srv.call, args=("GET", "/api/ps"))
    timer.start()
    started = time.monotonic()
    dummy, page = srv.json("GET", f"/_standin/requests?since={since + 1}&wait=5")
    timer.join()
    assert 0.1 <= time.monotonic() - started < 3.0
    assert [e["path"] for e in page["requests"]] == ["/api/ps"]
    assert srv.json("GET", f"/_standin/requests?since={since + 2}")[1]["requests"] == []


def test_a_request_is_logged_before_its_answer_completes(srv, monkeypatch):
    # A client that asks right after its answer must find its request logged. Slow
    # logging down: were it done after answering, every check below would fail.
    record = srv.state.record

    def slow_record(entry):
        time.sleep(0.05)
        record(entry)

    monkeypatch.setattr(srv.state, "record", slow_record)
    srv.configure(fail_mode="status", fail_count=1)
    requests = [("GET", "/api/tags", None, 500), ("GET", "/api/version", None, 200),
                ("POST", "/api/generate", generate_body(stream=False), 200),
                ("POST", "/api/chat", chat_body(), 200),
                ("POST", "/api/pull", {"model": "phi3"}, 200),
                ("POST", "/api/pull", {"model": "broken-model"}, 200),
                ("POST", "/api/show", {"model": "ghost"}, 404),
                ("GET", "/api/tags", None, 403)]
    for n, (method, path, body, status) in enumerate(requests, start=1):
        headers = {"Host": "llama-nginx"} if status == 403 else None
        got, dummy, raw = srv.call(method, path, body, headers)
        assert got == status and (raw or status == 403)
        assert srv.json("GET", "/_standin/state")[1]["requests_total"] == n, path
    # a streaming client may act as soon as it has the done line
    conn, resp = srv.open("POST", "/api/generate", generate_body())
    while not json.loads(resp.readline())["done"]:
        pass
    assert srv.json("GET", "/_standin/state")[1]["requests_total"] == len(requests) + 1
    resp.read()
    conn.close()


# --------------------------------------------------------------- the real CLI

def test_cli_log_file_and_sigterm(tmp_path):
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--port", "0", "--models", "a,b:7b", "--tokens", "3",
         "--version-string", "9.9.9", "--name", "cli", "--log", str(log),
         "--host-check", "off"],
        stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        match = re.fullmatch(r"ollama-standin listening on 127\.0\.0\.1:(\d+)\n", line)
        assert match, line
        port = int(match.group(1))

        def call(method, path, body=None, headers=None):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(method, path, body=body and json.dumps(body),
                         headers=headers or {})
            resp = conn.getresponse()
            try:
                return resp.status, json.loads(resp.read())
            finally:
                conn.close()

        assert call("GET", "/api/version") == (200, {"version": "9.9.9"})
        assert [m["name"] for m in call("GET", "/api/tags")[1]["models"]] == ["a:latest", "b:7b"]
        status, answer = call("POST", "/api/generate",
                              {"model": "a", "prompt": "one two three", "stream": False},
                              {"Authorization": "Bearer top-secret", "Host": "evil.example"})
        assert status == 200 and answer["eval_count"] == 3
        assert answer["response"] == "Stand-in answer to: one two three"
        assert call("GET", "/_standin/state")[1]["name"] == "cli"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    text = log.read_text()
    assert "top-secret" not in text
    entries = [json.loads(row) for row in text.splitlines()]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/api/version", 200), ("GET", "/api/tags", 200), ("POST", "/api/generate", 200)]
    assert [e["authorization"] for e in entries] == ["no", "no", "yes"]
    assert all(e["name"] == "cli" for e in entries)
    assert entries[2]["host"] == "evil.example" and entries[2]["body"]["prompt"] == "one two three"


@pytest.mark.parametrize('value,expected', [
    (None, ('127.0.0.1', 11434)),            # Ollama's default: loopback only
    ('', ('127.0.0.1', 11434)),
    ('0.0.0.0', ('0.0.0.0', 11434)),
    ('0.0.0.0:11435', ('0.0.0.0', 11435)),
    (':11434', ('0.0.0.0', 11434)),           # empty host: every address
    ('http://10.0.0.2', ('10.0.0.2', 80)),
    ('https://ollama.lan:8443', ('ollama.lan', 8443)),
    ('[::1]:9', ('::1', 9)),
    ('127.0.0.1:99999', ('127.0.0.1', 11434)),
])
def test_ollama_host_env_is_read_as_ollama_reads_it(value, expected):
    assert standin.ollama_host_env(value) == expected


def test_ollama_host_decides_the_bind_and_so_the_host_check(monkeypatch):
    monkeypatch.setenv('OLLAMA_HOST', '0.0.0.0:0')
    opts = standin.parse_args([])
    assert (opts.host, opts.host_check) == ('0.0.0.0', 'auto')
    assert standin.host_check_active(opts.host_check, opts.host) is False
    monkeypatch.delenv('OLLAMA_HOST')
    opts = standin.parse_args([])
    assert opts.host == '127.0.0.1' and standin.host_check_active(opts.host_check, opts.host) is True
