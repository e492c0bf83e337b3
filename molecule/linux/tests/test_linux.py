"""linux-configured: Ollama on the Docker host with OLLAMA_HOST=0.0.0.0:11436 (as the
README tells a Linux user), reached by the stack's containers through
host.docker.internal, with no Host check (it listens beyond loopback). The user's
n8n went from its old stack to phase 1."""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import (  # noqa: E402  pylint: disable=wrong-import-position
    COMPOSE, ROOT, n8n, n8n_call, post_from_n8n, run_playbook, secret, standin, standin_requests, trigger_webhook,
    workflow,
)

OLD_N8N = 'llm-gateway-linux-old-n8n'
OLD_N8N_API = 'http://127.0.0.1:15799'  # prepare.yml's port of the user's own n8n
MADE = 'Made after the migration'


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


def what_runs_and_is_on_disk(host):
    """This scenario's containers (id, start, state; other scenarios run beside it), the stack's files (not its
    backups) and n8n's workflows."""
    return {
        'containers': host.check_output(
            "docker ps -aq --filter name=linux | xargs docker container inspect"
            " -f '{{.Name}} {{.Id}} {{.State.StartedAt}} {{.State.Status}}' | sort"),
        'files': host.check_output(
            "cd %s && find . -path ./backups -prune -o -type f -print0 | sort -z | xargs -0 sha256sum" % ROOT),
        'workflows': sorted((w['id'], w['versionId']) for w in n8n(host, '/api/v1/workflows?limit=250')['data']),
    }


def shown_secrets(out):
    every = {'the n8n encryption key': secret('encryption_key'), 'the n8n API key': secret('n8n.env', 'N8N_API_KEY'),
             'the LiteLLM master key': secret('litellm_master_key')}
    return sorted(name for name, value in every.items() if value in out)


def latest_pre_restore(host):
    return host.check_output('ls -d %s/backups/pre-restore/*/ | sort | tail -n 1' % ROOT).rstrip('/')


def container_running(host, name):
    return host.check_output("docker container inspect -f '{{.State.Running}}' %s" % name) == 'true'


def wait_for_workflows(host, base, seconds=120):
    """The original n8n's workflows, once its API answers (it starts again after the restore)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return n8n_call(host, 'GET', '/api/v1/workflows?limit=250', base=base)['data']
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_restore_refuses_to_drop_a_workflow_made_since_and_changes_nothing(host):
    """n8n runs on SQLite in its data volume, which the restore puts back: a workflow made since would be lost, and
    refuse (not the default, carry) stops before any change."""
    made = n8n_call(host, 'POST', '/api/v1/workflows', {
        'name': MADE, 'connections': {}, 'settings': {},
        'nodes': [{'name': 'Start', 'type': 'n8n-nodes-base.manualTrigger', 'typeVersion': 1, 'position': [0, 0],
                   'parameters': {}}]})
    before = what_runs_and_is_on_disk(host)
    rc, out = run_playbook('restore.yml', '-e', 'llm_gateway_restore_changes=refuse', '-vvv')
    assert shown_secrets(out) == []
    assert rc != 0 and 'workflow created: %s (%s)' % (MADE, made['id']) in out, out[-3000:]
    assert 'would be lost' in out and 'llm_gateway_restore_changes=discard' in out, out[-3000:]
    assert what_runs_and_is_on_disk(host) == before
    # n8n as it is was exported first (the folder the message names), the new workflow with it.
    kept = latest_pre_restore(host)
    assert kept in out
    assert host.file('%s/n8n-export-llm-gateway-linux-n8n-1/workflows/%s.json' % (kept, made['id'])).exists


def test_restore_with_discard_gives_the_original_back_and_names_what_it_drops(host):
    rc, out = run_playbook('restore.yml', '-e', 'llm_gateway_restore_changes=discard', '-vvv')
    assert rc == 0, out[-4000:]
    assert shown_secrets(out) == []
    assert 'Dropped (llm_gateway_restore_changes discard' in out and 'workflow created: %s' % MADE in out, out[-3000:]
    assert host.check_output('docker ps -aq --filter label=com.docker.compose.project=llm-gateway-linux') == ''
    assert container_running(host, OLD_N8N)
    # The data the restore replaced is archived in the pre-restore snapshot, beside n8n's export of it.
    kept = latest_pre_restore(host)
    assert host.file(kept + '/n8n-data.tar.gz').size > 0
    assert host.file(kept + '/n8n-data.tar.gz').mode == 0o600
    # The original n8n, on the snapshot's data: the workflows it had, calling the public URL again.
    workflows = wait_for_workflows(host, OLD_N8N_API)
    assert MADE not in [w['name'] for w in workflows]
    ask = [n for n in [w for w in workflows if w['name'] == 'LLM webhook'][0]['nodes'] if n['name'] == 'Ask Ollama'][0]
    assert ask['parameters']['url'] == 'https://llm.example.test/api/generate'
