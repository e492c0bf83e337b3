"""linux-configured: Ollama on the Docker host with OLLAMA_HOST=0.0.0.0:11436 (as the
README tells a Linux user), reached by the stack's containers through
host.docker.internal, with no Host check (it listens beyond loopback). The user's
n8n went from its old stack to phase 1."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import (  # noqa: E402  pylint: disable=wrong-import-position
    COMPOSE, post_from_n8n, standin, standin_requests, trigger_webhook, workflow,
)


def test_ollama_is_the_linux_configured_kind(host):
    state = standin(host, 'GET', '/_standin/state')
    assert state['listen'] == '0.0.0.0:11436' and state['host_check']['active'] is False


def test_services_are_healthy(host):
    out = host.check_output('%s ps --format json' % COMPOSE)
    services = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {'n8n', 'nginx'} <= set(s['Service'] for s in services)
    assert all(s['Health'] == 'healthy' for s in services), services


def test_internal_route_from_inside_n8n(host):
    status, body = post_from_n8n(host, 'http://llama-nginx-linux/api/generate',
                                 {'model': 'llama3', 'prompt': 'linux internal', 'stream': False})
    assert status == 200 and body['response'] == 'Stand-in answer to: linux internal'


def test_a_foreign_host_header_reaches_ollama_without_its_check(host):
    """The Host rewrite is not what makes this kind work: Ollama listens beyond loopback and checks no Host."""
    out = host.check_output(
        "docker run --rm --network llm-gateway-linux-net --add-host host.docker.internal:host-gateway "
        "llm-gateway-test/base:bookworm curl -s --max-time 10 -w ' %{http_code}' -H 'Host: llm.example.test' "
        "http://host.docker.internal:11436/api/version")
    assert out.endswith(' 200') and json.loads(out[:-4])['version'], out


def test_migrated_workflow_answers_through_the_internal_route(host):
    wf = workflow(host, 'LLM webhook')
    ask = [n for n in wf['nodes'] if n['name'] == 'Ask Ollama'][0]
    assert ask['parameters']['url'] == 'http://llama-nginx-linux/api/generate'
    answer = trigger_webhook(host, 'llm-ask', {'prompt': 'hello from linux'})
    assert answer == {'answer': 'Stand-in answer to: hello from linux'}
    hits = [e for e in standin_requests(host, '/api/generate') if (e.get('body') or {}).get('prompt') == 'hello from linux']
    assert hits, 'nginx did not call Ollama on the host'
