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
