"""Shared fixtures for unit tests: run a module's main() with patched fetch_url."""

from __future__ import annotations

import io
import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get('msg'))
        self.result = result
        self.failed = failed


def _exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    raise ModuleExit(kwargs, failed=False)


def _fail_json(self, msg, **kwargs):
    kwargs['msg'] = msg
    raise ModuleExit(kwargs, failed=True)


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args, check=False) -> (result, failed)."""
    # A module runs on the target: its warnings go into its result. (Importing a controller module, such as
    # ansible.errors in a filter test, marks the process as the controller, which sends them to the display.)
    from ansible.module_utils import _internal
    monkeypatch.setattr(_internal, 'is_controller', False)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)

    def run(module, args, check=False, diff=False):
        args = dict(args)
        args['_ansible_check_mode'] = check
        args['_ansible_diff'] = diff
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as caught:
                module.main()
        return caught.value.result, caught.value.failed
    return run


class FakeResponse:
    def __init__(self, body):
        self._buf = io.BytesIO(body)

    def read(self, *a):
        return self._buf.read(*a)

    def readline(self):
        return self._buf.readline()


class FetchUrlScript:
    """A scripted fetch_url: a list of (method, path, status, body) expectations, in order.

    ``status == -1`` answers like fetch_url does when no HTTP answer came (``body`` is then the msg).
    """

    def __init__(self, steps):
        self.steps = list(steps)
        self.calls = []

    def __call__(self, module, url, data=None, headers=None, method=None, timeout=None, **kwargs):
        assert self.steps, 'unexpected call %s %s' % (method, url)
        exp_method, exp_path, status, body = self.steps.pop(0)
        self.calls.append({'method': method, 'url': url, 'data': json.loads(data) if data else None,
                           'headers': headers or {}, 'timeout': timeout})
        assert method == exp_method and url.endswith(exp_path), (method, url, exp_method, exp_path)
        if status == -1:
            return None, {'status': -1, 'msg': body, 'url': url}
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        info = {'status': status, 'url': url, 'msg': 'OK', 'content-type': 'application/json'}
        if status >= 400:
            info['body'] = raw
            return None, info
        return FakeResponse(raw), info


@pytest.fixture
def install_fetch_url(monkeypatch):
    """install_fetch_url(fake) puts FAKE in place of fetch_url in the shared HTTP core
    (and makes retries wait no time); returns FAKE."""
    from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _http

    def install(fake):
        monkeypatch.setattr(_http, 'fetch_url', fake)
        monkeypatch.setattr(_http.time, 'sleep', lambda s: None)
        return fake
    return install


@pytest.fixture
def fetch_script(install_fetch_url):
    """fetch_script(steps) installs a scripted fetch_url in the shared HTTP core."""
    return lambda steps: install_fetch_url(FetchUrlScript(steps))


# ---------------------------------------------------------------------------------------------
# Real HTTP servers on 127.0.0.1, for what only a real fetch_url shows (redirects, lost answers).

class LocalServer:
    """An HTTP server on 127.0.0.1 (an ephemeral port: its own origin) in a thread.

    Every request is recorded in ``requests`` (method, path, headers with lower-case
    names, body) before ``answer(server, request)`` decides what to do with it: it
    returns ``(status, headers, body)``, or ``'reset'`` to close the connection without
    an answer, or ``('stall', seconds, status, headers, body)`` to answer late.
    """

    def __init__(self, answer):
        import http.server
        import threading

        self.answer = answer
        self.requests = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _serve(self):
                import time

                length = int(self.headers.get('Content-Length') or 0)
                request = {'method': self.command, 'path': self.path,
                           'headers': dict((k.lower(), v) for k, v in self.headers.items()),
                           'body': self.rfile.read(length) if length else b''}
                with server.lock:
                    server.requests.append(request)
                    outcome = server.answer(server, request)
                if outcome == 'reset':
                    self.close_connection = True
                    return
                if outcome[0] == 'stall':
                    time.sleep(outcome[1])
                    outcome = outcome[2:]
                status, headers, body = outcome
                body = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True    # the client gave up waiting

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True)
        self.thread.start()

    def of(self, method):
        return [r for r in self.requests if r['method'] == method]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def local_server():
    """local_server(answer) -> a LocalServer, shut down after the test."""
    servers = []

    def start(answer):
        servers.append(LocalServer(answer))
        return servers[-1]
    yield start
    for server in servers:
        server.close()


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def ansible_module():
    """ansible_module(argument_spec, args) -> a real AnsibleModule, for a client that uses the real fetch_url."""
    def make(argument_spec, args):
        with patch_module_args(dict(args)):
            return basic.AnsibleModule(argument_spec=argument_spec)
    return make
