"""roles/litellm/files/backends_probe.py, run as verify.yml runs it (python3 -c SCRIPT ...), against a fake LiteLLM
on 127.0.0.1: every served name but the shared ones is asked once, with the key from the secret file, fallbacks
off; a failing backend is named with LiteLLM's answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', 'roles', 'litellm', 'files', 'backends_probe.py')
KEY = 'sk-unit-test-master-key-7f3a9c'


class FakeLiteLLM(BaseHTTPRequestHandler):
    asked = []

    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def do_GET(self):  # noqa: N802
        assert self.headers['Authorization'] == 'Bearer ' + KEY
        self._answer(200, {'data': [{'id': n} for n in ('llama3', 'shared', 'shared@backend-1', 'broken')]})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        assert self.headers['Authorization'] == 'Bearer ' + KEY
        FakeLiteLLM.asked.append(body)
        if body['model'] == 'broken':
            return self._answer(500, {'error': 'backend refused'})
        return self._answer(200, {'choices': [{'message': {'content': 'p'}}]})


def test_every_backend_is_asked_once_and_a_failure_is_named(tmp_path):
    env = tmp_path / 'litellm.env'
    env.write_text('LITELLM_MASTER_KEY=%s\nOTHER=x\n' % KEY)
    server = HTTPServer(('127.0.0.1', 0), FakeLiteLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with open(SCRIPT) as handle:
            script = handle.read()
        out = subprocess.run([sys.executable, '-c', script, json.dumps(['shared']), '5',
                              'http://127.0.0.1:%d' % server.server_port, str(env)],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    finally:
        server.shutdown()
    answer = json.loads(out)
    assert answer['asked'] == ['broken', 'llama3', 'shared@backend-1']
    assert list(answer['failed']) == ['broken'] and 'HTTP 500' in answer['failed']['broken']
    assert 'backend refused' in answer['failed']['broken']
    assert sorted(b['model'] for b in FakeLiteLLM.asked) == ['broken', 'llama3', 'shared@backend-1']
    assert all(b['disable_fallbacks'] is True and b['max_tokens'] == 1 for b in FakeLiteLLM.asked)
    assert KEY not in out
