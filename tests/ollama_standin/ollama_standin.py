"""Ollama HTTP API stand-in for the llm_gateway tests (stdlib only, Python >= 3.11).

It answers the parts of Ollama's API that LiteLLM's ``ollama_chat/`` provider, the
``ollama/`` provider and n8n's HTTP Request node use, closely enough that they cannot
tell it from a real Ollama:

  GET|HEAD /                 200 "Ollama is running"
  GET|HEAD /api/version      {"version": --version-string}
  GET|HEAD /api/tags         served models
  GET      /api/ps           served models (as if all were loaded)
  POST     /api/show         model details; unknown model -> 404 "model 'x' not found"
  POST     /api/generate     NDJSON stream (default) or one JSON object ("stream": false)
  POST     /api/chat         same, with the chat chunk shape
  POST     /api/pull         NDJSON progress then "success"; the model is then served
  anything else              404 "404 page not found" (text/plain, as gin answers)

The answer text is deterministic and depends only on the last user input, so that
/api/generate and /api/chat give the same text for the same input:

  input  = generate: the "prompt"; chat: content of the last message with role "user"
  text   = "Stand-in answer to: " + input          ("system" is ignored, only logged)
  chunks = the text cut after each run of whitespace into words ("\\S+\\s*");
           with more than --tokens words, consecutive words are joined into exactly
           --tokens chunks (as even as possible, earlier chunks one word longer);
           otherwise one chunk per word.  Chunks concatenate back to the exact text.
  a positive options.num_predict keeps only the first num_predict chunks and the
  final line then says done_reason "length" (else "stop").

Ollama's DNS-rebinding guard (allowedHostsMiddleware in server/routes.go) is ported:
with --host-check auto it is active only when bound to a loopback address, as in
Ollama; "on" forces it (simulating Docker Desktop forwarding host.docker.internal to
a loopback-bound Ollama while the stand-in listens on 0.0.0.0); "off" disables it.
A refused request gets 403 with an empty body.

Test hooks live under /_standin/ (exempt from the host check, from failure injection,
from the request log and from the request counts):

  POST /_standin/config    {"token_delay_ms": int, "fail_mode": null|"refuse"|"stall"|
                            "status", "fail_status": int, "fail_count": -1|N}
                           (partial updates; fail_count defaults to -1 = until reset)
  POST /_standin/reset     back to the command-line defaults (config, models, counters,
                           request ring; request indexes keep increasing)
  GET  /_standin/state     {"name", "version", "config", "models": [names],
                            "requests": {path: count}, "requests_total", "next_index",
                            "active_stalls", "listen", "host_check": {"mode", "active"}}
  GET  /_standin/requests?since=N[&wait=SECONDS]
                           logged requests with index >= N ("next" = index to ask for
                           next time); wait (<= 30 s) blocks until one is there

Failure injection applies to the next fail_count requests outside /_standin/, before
the host check: "refuse" reads the request and closes the connection without an
answer; "stall" reads the request and then never answers, until the client closes
the connection (bounded to 600 s); "status" answers fail_status with
{"error": "stand-in injected failure <status>"}.

Deliberate simplifications: no CORS headers; every allowed OPTIONS request gets 204;
a streamed pull of an --unpullable model answers HTTP 200 and ends with an error line
(Ollama has already sent its status line by then), "stream": false answers 500.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import re
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11434
STANDIN_PREFIX = "/_standin/"
RING_SIZE = 1000
STALL_LIMIT_S = 600.0
MAX_WAIT_S = 30.0
ANSWER_PREFIX = "Stand-in answer to: "
PULL_ERROR = "pull model manifest: file does not exist"

JSON_CT = "application/json; charset=utf-8"
NDJSON_CT = "application/x-ndjson"
TEXT_CT = "text/plain; charset=utf-8"

FAIL_MODES = (None, "refuse", "stall", "status")
MODEL_SIZE = 4_661_224_676
PARAMS_LAYER_SIZE = 110


# --------------------------------------------------------------------------- helpers

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


def go_json(obj: Any) -> bytes:
    """Serialise like Go's json.Marshal: compact, UTF-8, HTML characters escaped.

    The escaped characters can only occur inside JSON strings, so the substitution
    never touches the structure.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _GO_ESCAPE_RE.sub(lambda m: _GO_ESCAPES[m.group()], text).encode("utf-8", "replace")


def go_time(ns: int | None = None) -> str:
    """UTC time as Go's RFC3339Nano: nanoseconds with trailing zeros trimmed, 'Z'."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def normalize_model(name: str) -> str:
    """Ollama's short model name: default registry/namespace dropped, ':latest' added."""
    name = name.strip()
    for prefix in ("registry.ollama.ai/library/", "library/"):
        if name.lower().startswith(prefix):
            name = name[len(prefix):]
            break
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def model_key(name: str) -> str:
    """Lookup key: Ollama matches model names case-insensitively."""
    return normalize_model(name).lower()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def answer_text(user_input: str) -> str:
    return ANSWER_PREFIX + user_input


def split_chunks(text: str, tokens: int) -> list[str]:
    """Cut text into at most `tokens` chunks of whole words (see the module doc)."""
    words = re.findall(r"\S+\s*", text)
    if len(words) <= tokens:
        return words
    per_chunk, extra = divmod(len(words), tokens)
    chunks, start = [], 0
    for i in range(tokens):
        end = start + per_chunk + (1 if i < extra else 0)
        chunks.append("".join(words[start:end]))
        start = end
    return chunks


def word_count(text: str) -> int:
    return len(text.split())


def fake_token_ids(pieces: list[str]) -> list[int]:
    """Deterministic stand-in for token ids (llama3 vocabulary size)."""
    return [zlib.crc32(p.encode()) % 128_256 for p in pieces]


# ------------------------------------------------------- Ollama's allowed-host check

def go_split_host_port(hostport: str) -> tuple[str, str]:
    """Port of Go's net.SplitHostPort; raises ValueError where Go returns an error."""
    i = hostport.rfind(":")
    if i < 0:
        raise ValueError("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        if end + 1 == len(hostport):
            raise ValueError("missing port in address")
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise ValueError("too many colons in address")
            raise ValueError("missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise ValueError("too many colons in address")
    if "[" in hostport[j:]:
        raise ValueError("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise ValueError("unexpected ']' in address")
    return host, hostport[i + 1:]


_GO_PRIVATE_NETS = [ipaddress.ip_network(n) for n in
                    ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]


def _unmap(ip: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """Go's netip unmaps IPv4-mapped IPv6 addresses for IsLoopback/IsPrivate."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_loopback(ip) -> bool:
    return _unmap(ip).is_loopback


def is_go_private(ip) -> bool:
    """Go's Addr.IsPrivate (RFC 1918 and RFC 4193 only, unlike Python's is_private)."""
    ip = _unmap(ip)
    return any(ip.version == net.version and ip in net for net in _GO_PRIVATE_NETS)


def is_unspecified(ip) -> bool:
    return ip == ipaddress.IPv4Address("0.0.0.0") or ip == ipaddress.IPv6Address("::")


def local_addresses() -> set[str]:
    """This machine's interface addresses (Ollama's isLocalIP), read from /proc."""
    addresses: set[str] = set()
    try:
        with open("/proc/net/fib_trie", encoding="ascii") as fib:
            last = None
            for line in fib:
                if "|--" in line:
                    last = line.split("|--", 1)[1].strip()
                elif "/32 host LOCAL" in line and last:
                    addresses.add(last)
    except OSError:
        pass
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as inet6:
            for line in inet6:
                addresses.add(str(ipaddress.IPv6Address(int(line.split()[0], 16))))
    except (OSError, ValueError, IndexError):
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            addresses.add(info[4][0])
    except OSError:
        pass
    return addresses


def allowed_host_header(host_header: str, hostname: str,
                        local_ips: Callable[[], set[str]] = local_addresses) -> bool:
    """Ollama's allowedHostsMiddleware decision for one Host header (check active)."""
    try:
        host, dummy = go_split_host_port(host_header)
    except ValueError:
        host = host_header
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and (is_loopback(ip) or is_go_private(ip) or is_unspecified(ip)
                           or str(ip) in local_ips()):
        return True
    host = host.lower()
    if host in ("", "localhost") or host == hostname.lower():
        return True
    return host.endswith((".localhost", ".local", ".internal"))


def host_check_active(mode: str, bound_address: str) -> bool:
    if mode == "on":
        return True
    if mode == "off":
        return False
    try:
        return is_loopback(ipaddress.ip_address(bound_address.split("%", 1)[0]))
    except ValueError:
        return False


# ------------------------------------------------------------- request validation

class BadRequest(Exception):
    """An error Ollama answers with 400 {"error": message}."""


_JSON_KINDS = ((bool, "bool"), (str, "string"), (int, "number"), (float, "number"),
               (list, "array"), (dict, "object"), (type(None), "null"))


def json_kind(value: Any) -> str:
    return next(kind for typ, kind in _JSON_KINDS if isinstance(value, typ))


# field -> (accepted Python types, Go type named in the error message)
_STR = ((str,), "string")
_BOOL = ((bool,), "bool")
_OPTIONS = ((dict,), "map[string]interface {}")
GENERATE_FIELDS = {"model": _STR, "prompt": _STR, "suffix": _STR, "system": _STR,
                   "template": _STR, "stream": _BOOL, "raw": _BOOL, "options": _OPTIONS,
                   "images": ((list,), "[]api.ImageData")}
CHAT_FIELDS = {"model": _STR, "messages": ((list,), "[]api.Message"), "stream": _BOOL,
               "options": _OPTIONS, "tools": ((list,), "api.Tools")}
MESSAGE_FIELDS = {"role": _STR, "content": _STR}
SHOW_FIELDS = {"model": _STR, "name": _STR, "system": _STR, "template": _STR,
               "verbose": _BOOL, "options": _OPTIONS}
PULL_FIELDS = {"model": _STR, "name": _STR, "insecure": _BOOL, "stream": _BOOL}


def _check_fields(obj: dict, fields: dict, where: str) -> None:
    for name, (types, go_type) in fields.items():
        value = obj.get(name)
        if value is not None and not isinstance(value, types):
            raise BadRequest(f"json: cannot unmarshal {json_kind(value)} into Go struct "
                             f"field {where}.{name} of type {go_type}")


def parse_api_request(raw: bytes, struct: str, fields: dict) -> dict:
    """Decode a request body the way gin's ShouldBindJSON does (errors -> BadRequest)."""
    if not raw.strip():
        raise BadRequest("missing request body")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("invalid character in request body: not UTF-8") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc.rstrip()):
            raise BadRequest("unexpected EOF") from None
        raise BadRequest(f"invalid character {exc.doc[exc.pos]!r} at offset {exc.pos}: "
                         f"{exc.msg}") from None
    if obj is None:  # Go decodes null into the zero value
        obj = {}
    if not isinstance(obj, dict):
        raise BadRequest(f"json: cannot unmarshal {json_kind(obj)} into Go value of type "
                         f"api.{struct}")
    _check_fields(obj, fields, struct)
    if obj.get("messages"):
        obj["messages"] = [m if m is not None else {} for m in obj["messages"]]
        for message in obj["messages"]:
            if not isinstance(message, dict):
                raise BadRequest(f"json: cannot unmarshal {json_kind(message)} into Go "
                                 f"struct field {struct}.messages of type api.Message")
            _check_fields(message, MESSAGE_FIELDS, f"{struct}.messages")
    return obj


def num_predict(options: dict | None) -> int | None:
    """options.num_predict when it limits the answer (Ollama: only values > 0 do)."""
    value = (options or {}).get("num_predict")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


def is_unload(keep_alive: Any) -> bool:
    return keep_alive in (0, 0.0, "0", "0s", "0m")


# -------------------------------------------------------------------------- state

@dataclass(frozen=True)
class Options:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    models: tuple[str, ...] = ("llama3:latest",)
    tokens: int = 12
    token_delay_ms: int = 0
    log: str | None = None
    host_check: str = "auto"
    version_string: str = "0.6.5"
    name: str = "ollama-standin"
    unpullable: tuple[str, ...] = ()


@dataclass
class Model:
    name: str
    modified_at: str = field(default_factory=go_time)

    @property
    def digest(self) -> str:
        return sha256_hex(self.name.lower())

    def details(self) -> dict:
        return {"parent_model": "", "format": "gguf", "family": "llama",
                "families": ["llama"], "parameter_size": "8.0B",
                "quantization_level": "Q4_0"}

    def listing(self) -> dict:
        return {"name": self.name, "model": self.name, "modified_at": self.modified_at,
                "size": MODEL_SIZE, "digest": "sha256:" + self.digest,
                "details": self.details()}

    def layers(self) -> list[tuple[str, int]]:
        """(digest, size) of the blobs a pull downloads: weights, then params."""
        return [(self.digest, MODEL_SIZE - PARAMS_LAYER_SIZE),
                (sha256_hex("params:" + self.name.lower()), PARAMS_LAYER_SIZE)]


LLAMA3_TEMPLATE = (
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}"
    "<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{{ .Response }}<|eot_id|>")
LLAMA3_PARAMETERS = ('num_keep                       24\n'
                     'stop                           "<|start_header_id|>"\n'
                     'stop                           "<|end_header_id|>"\n'
                     'stop                           "<|eot_id|>"')
LLAMA3_MODEL_INFO = {
    "general.architecture": "llama", "general.file_type": 2,
    "general.parameter_count": 8_030_261_248, "general.quantization_version": 2,
    "llama.attention.head_count": 32, "llama.attention.head_count_kv": 8,
    "llama.attention.layer_norm_rms_epsilon": 1e-05, "llama.block_count": 32,
    "llama.context_length": 8192, "llama.embedding_length": 4096,
    "llama.feed_forward_length": 14336, "llama.rope.dimension_count": 128,
    "llama.rope.freq_base": 500000, "llama.vocab_size": 128256,
    "tokenizer.ggml.bos_token_id": 128000, "tokenizer.ggml.eos_token_id": 128009,
    "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe",
}


def show_response(model: Model) -> dict:
    modelfile = (f'# Modelfile generated by "ollama show"\n'
                 f'# To build a new Modelfile based on this, replace FROM with:\n'
                 f'# FROM {model.name}\n\n'
                 f'FROM /root/.ollama/models/blobs/sha256-{model.digest}\n'
                 f'TEMPLATE """{LLAMA3_TEMPLATE}"""\n'
                 + "".join(f"PARAMETER {line.split(None, 1)[0]} {line.split(None, 1)[1]}\n"
                           for line in LLAMA3_PARAMETERS.splitlines()))
    return {"modelfile": modelfile, "parameters": LLAMA3_PARAMETERS,
            "template": LLAMA3_TEMPLATE, "details": model.details(),
            "model_info": dict(LLAMA3_MODEL_INFO), "capabilities": ["completion"],
            "modified_at": model.modified_at}


@dataclass
class Config:
    """What /_standin/config can change at run time."""
    token_delay_ms: int = 0
    fail_mode: str | None = None
    fail_status: int = 500
    fail_count: int = -1  # remaining injected failures; -1 = until reset

    def as_dict(self) -> dict:
        return {"token_delay_ms": self.token_delay_ms, "fail_mode": self.fail_mode,
                "fail_status": self.fail_status, "fail_count": self.fail_count}


def _int_setting(updates: dict, name: str, low: int, high: int) -> int | None:
    if name not in updates:
        return None
    value = updates[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]")
    return value


class StandinState:
    """Everything mutable, shared by the request threads (guarded by one lock)."""

    def __init__(self, opts: Options):
        self.opts = opts
        self.lock = threading.Lock()
        self.request_logged = threading.Condition(self.lock)
        self.shutdown = threading.Event()
        self.next_index = 0
        self.active_stalls = 0
        self._unpullable = {model_key(n) for n in opts.unpullable}
        self._log_file = open(opts.log, "a", encoding="utf-8") if opts.log else None
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.config = Config(token_delay_ms=self.opts.token_delay_ms)
            self.models = {model_key(n): Model(normalize_model(n)) for n in self.opts.models}
            self.counts: Counter[str] = Counter()
            self.ring: deque[dict] = deque(maxlen=RING_SIZE)

    def close(self) -> None:
        if self._log_file:
            self._log_file.close()

    # config ---------------------------------------------------------------
    def update_config(self, updates: Any) -> dict:
        if not isinstance(updates, dict):
            raise ValueError("config must be a JSON object")
        unknown = set(updates) - set(Config().as_dict())
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        if "fail_mode" in updates and updates["fail_mode"] not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of {list(FAIL_MODES)}")
        delay = _int_setting(updates, "token_delay_ms", 0, 600_000)
        status = _int_setting(updates, "fail_status", 100, 599)
        count = _int_setting(updates, "fail_count", -1, 1_000_000)
        with self.lock:
            cfg = self.config
            if delay is not None:
                cfg.token_delay_ms = delay
            if status is not None:
                cfg.fail_status = status
            if "fail_mode" in updates:
                cfg.fail_mode = updates["fail_mode"]
                cfg.fail_count = -1
            if count is not None:
                cfg.fail_count = count
            return cfg.as_dict()

    def token_delay(self) -> float:
        with self.lock:
            return self.config.token_delay_ms / 1000.0

    def take_failure(self) -> tuple[str, int] | None:
        """The failure to inject into this request, if any (consumes one)."""
        with self.lock:
            cfg = self.config
            if cfg.fail_mode is None or cfg.fail_count == 0:
                return None
            if cfg.fail_count > 0:
                cfg.fail_count -= 1
            return cfg.fail_mode, cfg.fail_status

    def stalling(self, delta: int) -> None:
        with self.lock:
            self.active_stalls += delta

    # models ---------------------------------------------------------------
    def find_model(self, name: str) -> Model | None:
        with self.lock:
            return self.models.get(model_key(name))

    def add_model(self, name: str) -> None:
        with self.lock:
            self.models[model_key(name)] = Model(normalize_model(name))

    def list_models(self) -> list[Model]:
        with self.lock:
            return list(self.models.values())

    def pullable(self, name: str) -> bool:
        return model_key(name) not in self._unpullable

    # request log ----------------------------------------------------------
    def record(self, entry: dict) -> None:
        with self.lock:
            entry["index"] = self.next_index
            self.next_index += 1
            self.ring.append(entry)
            self.counts[entry["path"]] += 1
            if self._log_file:
                self._log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._log_file.flush()
            self.request_logged.notify_all()

    def requests_since(self, since: int, wait: float) -> dict:
        with self.lock:
            if wait > 0:
                self.request_logged.wait_for(lambda: self.next_index > since, timeout=wait)
            return {"requests": [e for e in self.ring if e["index"] >= since],
                    "next": self.next_index}

    def snapshot(self) -> dict:
        with self.lock:
            return {"name": self.opts.name, "version": self.opts.version_string,
                    "config": self.config.as_dict(),
                    "models": [m.name for m in self.models.values()],
                    "requests": dict(self.counts),  # path -> count
                    "requests_total": sum(self.counts.values()),
                    "next_index": self.next_index, "active_stalls": self.active_stalls}


# ---------------------------------------------------------------- reply shapes

@dataclass(frozen=True)
class ReplyShape:
    """How an endpoint wraps a piece of answer text in its response objects."""
    wrap: Callable[[str], dict]
    with_context: bool


GENERATE_SHAPE = ReplyShape(wrap=lambda text: {"response": text}, with_context=True)
CHAT_SHAPE = ReplyShape(wrap=lambda text: {"message": {"role": "assistant", "content": text}},
                        with_context=False)


@dataclass
class Completion:
    """One generate/chat request, resolved to what will be answered."""
    shape: ReplyShape
    model: str            # the name as the client sent it (Ollama echoes it)
    user_input: str       # the text the answer is built from
    prompt_text: str      # all input text, for the prompt token count
    chunks: list[str]
    done_reason: str


class NDJSONStream:
    """A 200 application/x-ndjson response, one flushed JSON line per send()."""

    def __init__(self, handler: "OllamaHandler"):
        self.handler = handler
        self.chunked = handler.request_version != "HTTP/1.0"
        handler.send_response(200)
        handler.send_header("Content-Type", NDJSON_CT)
        if self.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.close_connection = True
        handler.end_headers()
        handler.status = 200

    def send(self, obj: dict) -> None:
        line = go_json(obj) + b"\n"
        data = b"%x\r\n%s\r\n" % (len(line), line) if self.chunked else line
        self.handler.wfile.write(data)
        self.handler.wfile.flush()

    def finish(self, obj: dict) -> None:
        """Send the last line and end the response (the request is logged first)."""
        self.handler.commit_log()
        self.send(obj)
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
            self.handler.wfile.flush()


# --------------------------------------------------------------------- handler

def json_or_text(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class OllamaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY: no 40 ms Nagle/delayed-ACK stalls
    server: "StandinServer"

    API_ROUTES = {
        ("GET", "/"): "api_root", ("HEAD", "/"): "api_root",
        ("GET", "/api/version"): "api_version", ("HEAD", "/api/version"): "api_version",
        ("GET", "/api/tags"): "api_tags", ("HEAD", "/api/tags"): "api_tags",
        ("GET", "/api/ps"): "api_ps",
        ("POST", "/api/show"): "api_show",
        ("POST", "/api/generate"): "api_generate",
        ("POST", "/api/chat"): "api_chat",
        ("POST", "/api/pull"): "api_pull",
    }

    @property
    def state(self) -> StandinState:
        return self.server.state

    # plumbing -------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the JSON request log replaces the access log

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        sys.stderr.write(f"ollama-standin: {format % args}\n")

    def send_response(self, code: int, message: str | None = None) -> None:
        # Like Go's net/http: a Date header but no Server header.
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def send_body(self, status: int, content_type: str | None, body: bytes) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.status = status
        self.commit_log()  # before anything is sent: a client never outruns the log
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any) -> None:
        self.send_body(status, JSON_CT, go_json(obj))

    def send_error_json(self, status: int, message: str) -> None:
        self.send_json(status, {"error": message})

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.state.shutdown.wait(seconds)

    def do_GET(self) -> None:
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def dispatch(self) -> None:
        self.started_ns = time.monotonic_ns()
        self.status: int | None = None
        self.pending_entry: dict | None = None
        url = urlsplit(self.path)
        try:
            raw = self.read_body()
        except ValueError:
            self.close_connection = True
            self.send_body(400, TEXT_CT, b"400 Bad Request: malformed body framing")
            return
        try:
            if url.path.startswith(STANDIN_PREFIX):
                self.serve_standin(url.path[len(STANDIN_PREFIX):], url.query, raw)
            else:
                self.serve_api(url.path, url.query, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a stand-in bug: answer like gin's recovery, keep going
            self.log_error("internal error on %s %s: %r", self.command, self.path, exc)
            self.close_connection = True
            if self.status is None:
                self.send_error_json(500, f"stand-in internal error: {exc!r}")

    # the Ollama API ---------------------------------------------------------
    def serve_api(self, path: str, query: str, raw: bytes) -> None:
        entry = {
            "ts": go_time(), "name": self.state.opts.name,
            "client": f"{self.client_address[0]}:{self.client_address[1]}",
            "method": self.command, "path": path, "query": query,
            "host": self.headers.get("Host"),
            "user_agent": self.headers.get("User-Agent"),
            "content_type": self.headers.get("Content-Type"),
            "authorization": "yes" if self.headers.get("Authorization") else "no",
            "body": json_or_text(raw), "status": None, "injected": None,
        }
        self.pending_entry = entry
        try:
            failure = self.state.take_failure()
            if failure:
                self.inject_failure(*failure)
            else:
                self.route(path, raw)
        finally:
            self.commit_log()

    def commit_log(self) -> None:
        """Record the pending request (once), just before its answer completes."""
        entry, self.pending_entry = self.pending_entry, None
        if entry is not None:
            entry["status"] = self.status
            entry["duration_ms"] = round((time.monotonic_ns() - self.started_ns) / 1e6, 3)
            self.state.record(entry)

    def route(self, path: str, raw: bytes) -> None:
        if self.server.host_check and not allowed_host_header(
                self.headers.get("Host", ""), self.server.hostname):
            self.send_body(403, None, b"")  # gin's AbortWithStatus: empty body
            return
        if self.command == "OPTIONS":
            self.send_body(204, None, b"")
            return
        handler = self.API_ROUTES.get((self.command, path))
        if handler is None:
            self.send_body(404, TEXT_CT, b"404 page not found")
            return
        try:
            getattr(self, handler)(raw)
        except BadRequest as exc:
            self.send_error_json(400, str(exc))

    def inject_failure(self, mode: str, status: int) -> None:
        self.pending_entry["injected"] = mode
        if mode == "status":
            self.send_error_json(status, f"stand-in injected failure {status}")
            return
        self.commit_log()  # before stalling, so tests can see the request
        self.close_connection = True
        if mode == "stall":
            self.stall()

    def stall(self) -> None:
        """Never answer: wait until the client closes (or 600 s, or shutdown)."""
        self.state.stalling(+1)
        deadline = time.monotonic() + STALL_LIMIT_S
        try:
            while not self.state.shutdown.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                readable, dummy, dummy = select.select([self.connection], [], [], min(0.1, remaining))
                if readable and not self.connection.recv(65536):
                    break  # the client gave up
        except OSError:
            pass
        finally:
            self.state.stalling(-1)

    def api_root(self, raw: bytes) -> None:
        self.send_body(200, TEXT_CT, b"Ollama is running")

    def api_version(self, raw: bytes) -> None:
        self.send_json(200, {"version": self.state.opts.version_string})

    def api_tags(self, raw: bytes) -> None:
        self.send_json(200, {"models": [m.listing() for m in self.state.list_models()]})

    def api_ps(self, raw: bytes) -> None:
        expires = go_time(time.time_ns() + 300 * 1_000_000_000)
        self.send_json(200, {"models": [{**m.listing(), "expires_at": expires,
                                         "size_vram": MODEL_SIZE}
                                        for m in self.state.list_models()]})

    def api_show(self, raw: bytes) -> None:
        req = parse_api_request(raw, "ShowRequest", SHOW_FIELDS)
        name = req.get("model") or req.get("name")
        if not name:
            raise BadRequest("model is required")
        model = self.state.find_model(name)
        if model is None:
            self.send_error_json(404, f"model '{name}' not found")
            return
        self.send_json(200, show_response(model))

    def api_generate(self, raw: bytes) -> None:
        req = parse_api_request(raw, "GenerateRequest", GENERATE_FIELDS)
        if self.known_model(req):
            prompt = req.get("prompt") or ""
            self.complete(req, GENERATE_SHAPE, prompt,
                          prompt_text=f"{req.get('system') or ''} {prompt}",
                          loading=not prompt)

    def api_chat(self, raw: bytes) -> None:
        req = parse_api_request(raw, "ChatRequest", CHAT_FIELDS)
        if self.known_model(req):
            messages = req.get("messages") or []
            user_input = next((m.get("content") or "" for m in reversed(messages)
                               if m.get("role") == "user"), "")
            self.complete(req, CHAT_SHAPE, user_input,
                          prompt_text=" ".join(m.get("content") or "" for m in messages),
                          loading=not messages)

    def known_model(self, req: dict) -> bool:
        """Check the model field; answers 400/404 itself when it is not usable."""
        name = req.get("model")
        if not name:
            raise BadRequest("model is required")
        if self.state.find_model(name) is None:
            self.send_error_json(404, f'model "{name}" not found, try pulling it first')
            return False
        return True

    def complete(self, req: dict, shape: ReplyShape, user_input: str, prompt_text: str,
                 loading: bool) -> None:
        """Answer generate/chat: load/unload, stream of chunks or one object."""
        model = req["model"]
        if loading:  # Ollama answers a bare load (or unload) request at once
            reason = "unload" if is_unload(req.get("keep_alive")) else "load"
            self.send_json(200, {"model": model, "created_at": go_time(), **shape.wrap(""),
                                 "done": True, "done_reason": reason})
            return
        chunks = split_chunks(answer_text(user_input), self.state.opts.tokens)
        done_reason = "stop"
        cap = num_predict(req.get("options"))
        if cap is not None and cap < len(chunks):
            chunks, done_reason = chunks[:cap], "length"
        job = Completion(shape, model, user_input, prompt_text, chunks, done_reason)
        delay = self.state.token_delay()
        gen_start = time.monotonic_ns()
        if req.get("stream", True) is False:
            self.sleep(delay * len(chunks))
            self.send_json(200, self.final_object(job, "".join(chunks), gen_start))
            return
        stream = NDJSONStream(self)
        for chunk in chunks:
            self.sleep(delay)
            stream.send({"model": model, "created_at": go_time(), **shape.wrap(chunk),
                         "done": False})
        stream.finish(self.final_object(job, "", gen_start))

    def final_object(self, job: Completion, text: str, gen_start: int) -> dict:
        """The done:true object, with Ollama's counters (durations in ns)."""
        now = time.monotonic_ns()
        prompt_tokens = word_count(job.prompt_text) + 1
        load = max(1, gen_start - self.started_ns)
        prompt_eval = prompt_tokens * 50_000
        eval_ = max(1, now - gen_start)
        final = {"model": job.model, "created_at": go_time(), **job.shape.wrap(text),
                 "done": True, "done_reason": job.done_reason}
        if job.shape.with_context:
            final["context"] = fake_token_ids(job.user_input.split() + job.chunks)
        final.update(total_duration=load + prompt_eval + eval_, load_duration=load,
                     prompt_eval_count=prompt_tokens, prompt_eval_duration=prompt_eval,
                     eval_count=len(job.chunks), eval_duration=eval_)
        return final

    def api_pull(self, raw: bytes) -> None:
        req = parse_api_request(raw, "PullRequest", PULL_FIELDS)
        name = req.get("model") or req.get("name")
        if not name:
            raise BadRequest("model is required")
        model = Model(normalize_model(name))
        pullable = self.state.pullable(name)
        if req.get("stream", True) is False:
            if not pullable:
                self.send_error_json(500, PULL_ERROR)
                return
            self.state.add_model(model.name)
            self.send_json(200, {"status": "success"})
            return
        stream = NDJSONStream(self)
        stream.send({"status": "pulling manifest"})
        if not pullable:
            stream.finish({"error": PULL_ERROR})
            return
        for digest, total in model.layers():
            status = {"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest}",
                      "total": total}
            stream.send(status)  # Ollama omits "completed" while it is 0
            for completed in (total // 2, total):
                stream.send({**status, "completed": completed})
        stream.send({"status": "verifying sha256 digest"})
        stream.send({"status": "writing manifest"})
        self.state.add_model(model.name)
        stream.finish({"status": "success"})

    # test hooks -----------------------------------------------------------
    def serve_standin(self, route: str, query: str, raw: bytes) -> None:
        endpoint = (self.command, route)
        if endpoint == ("GET", "state"):
            self.send_json(200, {**self.state.snapshot(), "listen": self.server.listen,
                                 "host_check": {"mode": self.state.opts.host_check,
                                                "active": self.server.host_check}})
        elif endpoint == ("GET", "requests"):
            params = parse_qs(query)
            try:
                since = int(params.get("since", ["0"])[0])
                wait = min(float(params.get("wait", ["0"])[0]), MAX_WAIT_S)
            except ValueError:
                self.send_error_json(400, "since must be an integer, wait a number")
                return
            self.send_json(200, self.state.requests_since(since, wait))
        elif endpoint == ("POST", "config"):
            try:
                self.send_json(200, {"config": self.state.update_config(json_or_text(raw))})
            except ValueError as exc:
                self.send_error_json(400, str(exc))
        elif endpoint == ("POST", "reset"):
            self.state.reset()
            self.send_json(200, {"status": "reset", "config": self.state.snapshot()["config"]})
        else:
            self.send_error_json(404, f"no stand-in endpoint {self.command} /_standin/{route}")


# ---------------------------------------------------------------------- server

class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, opts: Options, handler: type[OllamaHandler] = OllamaHandler):
        info = socket.getaddrinfo(opts.host, opts.port, type=socket.SOCK_STREAM,
                                  flags=socket.AI_PASSIVE)[0]
        self.address_family = info[0]
        super().__init__(info[4], handler)
        self.state = StandinState(opts)
        self.hostname = socket.gethostname()
        self.host_check = host_check_active(opts.host_check, self.server_address[0])

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call socket.getfqdn (a DNS lookup): skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def listen(self) -> str:
        host, port = self.server_address[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def server_close(self) -> None:
        self.state.shutdown.set()
        super().server_close()
        self.state.close()


def comma_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return number


def non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def ollama_host_env(value: str | None) -> tuple[str, int]:
    """Where Ollama listens for an OLLAMA_HOST value (envconfig.Host in Ollama's source).

    Unset or empty: 127.0.0.1:11434. "host", "host:port", "[v6]:port", with an
    optional http:// (default port 80) or https:// (443) scheme; an unusable port
    falls back to the default one.
    """
    text = (value or "").strip()
    default_port = "11434"
    scheme, sep, hostport = text.partition("://")
    if not sep:
        hostport = text
    elif scheme == "http":
        default_port = "80"
    elif scheme == "https":
        default_port = "443"
    hostport = hostport.split("/", 1)[0]
    try:
        host, port = go_split_host_port(hostport)
    except ValueError:
        host, port = DEFAULT_HOST, default_port
        stripped = hostport.strip("[]")
        try:
            host = str(ipaddress.ip_address(stripped))
        except ValueError:
            if hostport:
                host = hostport
    if not port.isdigit() or int(port) > 65535:
        port = default_port
    return host or "0.0.0.0", int(port)


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="ollama_standin.py",
                                description="Stand-in for the Ollama HTTP API (tests only).")
    p.add_argument("--host", default=None,
                   help="bind address (default: from OLLAMA_HOST as Ollama reads it, else 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="port, 0 = any free port (default: from OLLAMA_HOST, else 11434)")
    p.add_argument("--models", type=comma_list, default=("llama3:latest",),
                   help="served models, comma list; no tag means :latest")
    p.add_argument("--tokens", type=positive_int, default=12,
                   help="answer chunks per reply (default %(default)s)")
    p.add_argument("--token-delay-ms", type=non_negative_int, default=0,
                   help="delay before each streamed chunk; total before a non-streamed reply")
    p.add_argument("--log", metavar="FILE", help="append one JSON line per API request")
    p.add_argument("--host-check", choices=("auto", "on", "off"), default="auto",
                   help="Ollama's Host header check; auto = only when bound to loopback")
    p.add_argument("--version-string", default="0.6.5", help="answer of /api/version")
    p.add_argument("--name", default="ollama-standin", help="instance name (log, state)")
    p.add_argument("--unpullable", type=comma_list, default=(),
                   help="models whose pull fails, comma list")
    a = p.parse_args(argv)
    env_host, env_port = ollama_host_env(os.environ.get("OLLAMA_HOST"))
    return Options(host=env_host if a.host is None else a.host,
                   port=env_port if a.port is None else a.port, models=a.models, tokens=a.tokens,
                   token_delay_ms=a.token_delay_ms, log=a.log, host_check=a.host_check,
                   version_string=a.version_string, name=a.name, unpullable=a.unpullable)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    try:
        server = StandinServer(opts)
    except OSError as exc:
        print(f"ollama-standin: cannot start on {opts.host}:{opts.port}: {exc}",
              file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *dummy: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                               name="serve", daemon=True)
    serving.start()
    print(f"ollama-standin listening on {server.listen}", file=sys.stderr, flush=True)
    while not stop.wait(0.5):
        pass
    server.state.shutdown.set()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
