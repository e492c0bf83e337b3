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
    COMPOSE, NGINX, ROOT, SECRETS, post_from_n8n, prompt_of, run_playbook, secret, standin, standin_requests,
    trigger_webhook, workflow,
)

OLD_N8N = 'llm-gateway-linux-old-n8n'


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


def test_a_snapshot_was_taken_before_the_first_change(host):
    snapshots = sorted(host.file(ROOT + '/backups/original').listdir())
    assert snapshots
    latest = ROOT + '/backups/original/' + snapshots[-1]
    assert host.file(latest).mode == 0o700
    assert host.file(latest + '/n8n-data.tar.gz').mode == 0o600
    exported = host.file(latest + '/n8n-export-' + OLD_N8N + '/workflows').listdir()
    before = json.load(open(os.path.join(SECRETS, 'workflows-before.json')))
    assert len(exported) == len(before) > 0


def test_restore_brings_the_original_n8n_back(host):
    """Last: playbooks/restore.yml from phase 2 back to the user's own n8n container and data."""
    rc, out = run_playbook('restore.yml')
    assert rc == 0, out[-3000:]
    assert host.check_output("docker container inspect -f '{{.State.Running}}' %s" % OLD_N8N) == 'true'
    assert host.run('docker container inspect %s-pre-llm-gateway' % OLD_N8N).rc != 0
    assert host.check_output("docker ps -a -q --filter label=com.docker.compose.project=llm-gateway-linux") == ''
    assert not host.file(ROOT + '/docker-compose.yml').exists and not host.file(ROOT + '/env').exists
    before = json.load(open(os.path.join(SECRETS, 'workflows-before.json')))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'refusal'))
    from test_switch_over import wait_for, workflows  # pylint: disable=import-outside-toplevel
    wait_for('the original n8n to answer', lambda: bool(workflows()), 180)
    now = workflows()
    assert {k: list(v) for k, v in now.items()} == before
    # A second restore changes nothing.
    rc, out = run_playbook('restore.yml')
    assert rc == 0 and 'changed=0' in out, out[-2000:]
