"""linux-configured: Ollama on the Docker host with OLLAMA_HOST=0.0.0.0:11436 (as the
README tells a Linux user), reached by the stack's containers through
host.docker.internal, with no Host check (it listens beyond loopback). The user's
n8n went from its old stack to phase 2 in one pass."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import (  # noqa: E402  pylint: disable=wrong-import-position
    COMPOSE, NGINX, post_from_n8n, prompt_of, secret, standin, standin_requests, trigger_webhook, workflow,
)


def test_ollama_is_the_linux_configured_kind(host):
    state = standin(host, 'GET', '/_standin/state')
    assert state['listen'] == '0.0.0.0:11436' and state['host_check']['active'] is False


def test_services_are_healthy(host):
    out = host.check_output('%s ps --format json' % COMPOSE)
    services = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {'n8n', 'nginx', 'litellm'} <= set(s['Service'] for s in services)
    assert all(s['Health'] == 'healthy' for s in services), services


def test_internal_route_from_inside_n8n(host):
    status, body = post_from_n8n(host, 'http://llama-nginx-linux/api/generate',
                                 {'model': 'llama3', 'prompt': 'linux internal', 'stream': False})
    assert status == 200 and body['response'] == 'Stand-in answer to: linux internal'


def test_chat_through_nginx_and_litellm(host):
    out = host.check_output(
        "curl -s -H 'Host: llm.example.test' -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
        "-d '%s' http://%s/v1/chat/completions"
        % (secret('litellm_master_key'), json.dumps({'model': 'llama3', 'messages': [
            {'role': 'user', 'content': 'linux gateway'}]}), NGINX))
    assert json.loads(out)['choices'][0]['message']['content'] == 'Stand-in answer to: linux gateway'


def test_migrated_workflow_answers_through_litellm(host):
    wf = workflow(host, 'LLM webhook')
    ask = [n for n in wf['nodes'] if n['name'] == 'Ask Ollama'][0]
    assert ask['parameters']['url'] == 'http://llama-litellm-linux:4000/v1/chat/completions'
    answer = trigger_webhook(host, 'llm-ask', {'prompt': 'hello from linux'})
    assert answer == {'answer': 'Stand-in answer to: hello from linux'}
    hits = [e for e in standin_requests(host, '/api/chat') if prompt_of(e) == 'hello from linux']
    assert hits, 'LiteLLM did not call Ollama on the host'
