"""Phase 1 verified with real requests: n8n -> llama-nginx -> host.docker.internal -> Ollama (stand-in)."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import (  # noqa: E402  pylint: disable=wrong-import-position
    COMPOSE, NGINX, ROOT, http_status, n8n, node, node_in_n8n, post_from_n8n, prompt_of, run_playbook, secret,
    standin, standin_requests, trigger_webhook, workflow,
)


@pytest.fixture
def fresh_standin(host):
    standin(host, 'POST', '/_standin/reset', {})
    yield
    standin(host, 'POST', '/_standin/reset', {})


@pytest.mark.parametrize('path,mode', [
    (ROOT + '/docker-compose.yml', 0o644),
    (ROOT + '/env', 0o700),
    (ROOT + '/env/n8n.env', 0o600),
    (ROOT + '/nginx/nginx.conf', 0o644),
    (ROOT + '/nginx/conf.d/llm-gateway.conf', 0o644),
])
def test_files_owners_modes(host, path, mode):
    f = host.file(path)
    assert f.exists and f.user == 'root' and f.group == 'root'
    assert f.mode == mode


def test_no_secret_in_the_compose_file(host):
    key = secret('encryption_key')
    assert key not in host.file(ROOT + '/docker-compose.yml').content_string
    key_file = host.file(ROOT + '/env/n8n-secrets/N8N_ENCRYPTION_KEY')
    assert key_file.content_string == key
    # n8n's node user (1000) reads it; nobody else on the host does.
    assert (key_file.uid, key_file.mode) == (1000, 0o400)
    assert (host.file(ROOT + '/env/n8n-secrets').uid, host.file(ROOT + '/env/n8n-secrets').mode) == (1000, 0o500)
    assert key not in host.file(ROOT + '/env/n8n.env').content_string


def test_no_secret_in_docker_inspect(host):
    # n8n reads its key from N8N_ENCRYPTION_KEY_FILE: docker inspect shows a path, never the key.
    key = secret('encryption_key')
    containers = host.check_output('%s ps --quiet' % COMPOSE).split()
    assert len(containers) >= 2
    for container in containers:
        assert key not in host.check_output('docker container inspect ' + container)
    n8n = json.loads(host.check_output('docker container inspect $(%s ps --quiet n8n)' % COMPOSE))[0]
    names = [pair.split('=', 1)[0] for pair in n8n['Config']['Env']]
    assert 'N8N_ENCRYPTION_KEY_FILE=/run/secrets/llm-gateway/N8N_ENCRYPTION_KEY' in n8n['Config']['Env']
    assert 'N8N_ENCRYPTION_KEY' not in names


def test_services_run_hardened(host):
    for container in host.check_output('%s ps --quiet' % COMPOSE).split():
        config = json.loads(host.check_output('docker container inspect ' + container))[0]['HostConfig']
        assert config['LogConfig'] == {'Type': 'json-file', 'Config': {'max-size': '10m', 'max-file': '3'}}
        assert config['SecurityOpt'] == ['no-new-privileges:true']
        assert config['PidsLimit'] == 1024


def test_compose_and_nginx_configs_are_valid(host):
    host.check_output('%s config --quiet' % COMPOSE)
    host.check_output('docker exec llama-nginx nginx -t -q')


def test_services_are_healthy(host):
    out = host.check_output('%s ps --format json' % COMPOSE)
    services = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {'n8n', 'nginx'} <= set(s['Service'] for s in services)
    assert all(s['Health'] == 'healthy' for s in services), services


def test_internal_route_from_inside_n8n(host, fresh_standin):
    status, body = post_from_n8n(host, 'http://llama-nginx/api/generate',
                                 {'model': 'llama3', 'prompt': 'ping from n8n', 'stream': False})
    assert status == 200
    assert body['response'] == 'Stand-in answer to: ping from n8n'
    assert body['done'] is True


def test_internal_route_streams(host, fresh_standin):
    standin(host, 'POST', '/_standin/config', {'token_delay_ms': 80})
    script = """
      const t0 = Date.now(); const times = [];
      fetch('http://llama-nginx/api/generate', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({model: 'llama3', prompt: 'one two three four five six seven eight'})})
        .then(async r => {
          const reader = r.body.getReader(); let text = '';
          for (;;) { const {done, value} = await reader.read(); if (done) break;
                     times.push(Date.now() - t0); text += Buffer.from(value).toString(); }
          console.log(JSON.stringify({status: r.status, type: r.headers.get('content-type'), times,
                                      lines: text.trim().split('\\n').map(l => JSON.parse(l))}));
        }).catch(e => { console.error(e); process.exit(1); });
    """
    res = node_in_n8n(host, script)
    assert res.rc == 0, res.stderr
    out = json.loads(res.stdout)
    assert out['status'] == 200 and out['type'].startswith('application/x-ndjson')
    lines = out['lines']
    assert lines[-1]['done'] is True and all(not line['done'] for line in lines[:-1])
    assert len(lines) >= 5
    # Chunks arrive one by one as the tokens are produced, not in one buffered block.
    assert len(out['times']) >= len(lines) - 1
    assert out['times'][-1] - out['times'][0] >= 0.8 * 80 * (len(lines) - 2)


def test_host_header_rewrite_matters(host, fresh_standin):
    body = '{"model":"llama3","prompt":"x","stream":false}'
    for host_header, expected in (('llama-nginx', '403'), ('localhost:11434', '200')):
        status = host.check_output(
            "docker exec llama-nginx curl -s -o /dev/null -w '%%{http_code}' -X POST -H 'Host: %s' -d '%s' "
            "http://host.docker.internal:11434/api/generate" % (host_header, body))
        # Ollama's host check refuses the Host that n8n sends; the one nginx sets passes.
        assert status == expected, host_header
    assert 'proxy_set_header Host localhost:11434;' in host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string


def test_workflow_rewritten_and_runs_through_internal_route(host, fresh_standin):
    wf = workflow(host, 'LLM webhook')
    assert wf['active'] is True
    for published in (False, True):
        assert node(wf, 'Ask Ollama', published)['parameters']['url'] == 'http://llama-nginx/api/generate'
    answer = trigger_webhook(host, 'llm-ask', {'prompt': 'hello from molecule'})
    assert answer == {'answer': 'Stand-in answer to: hello from molecule'}
    hits = [e for e in standin_requests(host, '/api/generate')
            if (e.get('body') or {}).get('prompt') == 'hello from molecule']
    assert len(hits) == 1
    assert hits[0]['host'] == 'localhost:11434'


def test_langchain_ollama_nodes_moved_to_the_internal_route_answer_through_it(host, fresh_standin):
    wf = workflow(host, 'LLM chain')
    assert wf['active'] is True
    for published in (False, True):
        assert node(wf, 'Ollama Chat Model', published)['credentials']['ollamaApi']['name'] == 'Ollama (llama-nginx)'
    answer = trigger_webhook(host, 'llm-chain', {'prompt': 'hello from langchain'})
    assert answer == {'text': 'Stand-in answer to: hello from langchain'}
    hits = [e for e in standin_requests(host, '/api/chat') if prompt_of(e) == 'hello from langchain']
    assert len(hits) == 1
    assert hits[0]['host'] == 'localhost:11434', 'through llama-nginx, which sets the Host Ollama accepts'
    # the old credential is kept
    names = [c['name'] for c in n8n(host, '/api/v1/credentials?limit=250')['data'] if c['type'] == 'ollamaApi']
    assert sorted(names) == ['Ollama (llama-nginx)', 'Ollama public']


def test_n8n_data_survived_the_move(host):
    before = json.loads(secret('workflows-before.json'))
    after = {w['id']: w['name'] for w in n8n(host, '/api/v1/workflows?limit=250')['data']}
    assert before and after == before


def test_backups_of_changed_workflows(host):
    backups = host.check_output('find %s/backups/n8n -type f -name "*.json"' % ROOT).split()
    assert backups
    for path in backups:
        assert host.file(path).mode == 0o600


def test_internal_server_refuses_the_docker_host(host):
    assert http_status(host, 'http://%s/api/tags' % NGINX, 'Host: llama-nginx') == '403'


def test_unknown_host_gets_an_error(host):
    assert http_status(host, 'http://%s/api/tags' % NGINX, 'Host: nope.example.test') == '404'


def test_public_routes(host):
    assert http_status(host, 'http://%s/' % NGINX, 'Host: n8n.example.test') == '200'
    tags = json.loads(host.check_output("curl -sf -H 'Host: llm.example.test' -H 'Authorization: Bearer %s' "
                                        "http://%s/api/tags" % (secret('public_ollama_key'), NGINX)))
    assert 'llama3:latest' in [m['name'] for m in tags['models']]  # phase 1: llm.<domain> is Ollama, with a key


# Phase 1's public surface, as a hostile client sees it: (hostname, method, path, key) -> status.
# Key: None (no Authorization), 'wrong' (Bearer of another key) or 'right'.
PUBLIC_PHASE1 = [
    ('llm', 'GET', '/api/tags', None, '401'),
    ('llm', 'GET', '/api/tags', 'wrong', '401'),
    ('llm', 'GET', '/api/tags', 'right', '200'),
    ('llm', 'GET', '/api/version', 'right', '200'),
    ('llm', 'POST', '/api/generate', None, '401'),
    ('llm', 'POST', '/api/pull', 'right', '404'),
    ('llm', 'POST', '/api/push', 'right', '404'),
    ('llm', 'POST', '/api/create', 'right', '404'),
    ('llm', 'POST', '/api/copy', 'right', '404'),
    ('llm', 'DELETE', '/api/delete', 'right', '404'),
    ('llm', 'HEAD', '/api/blobs/sha256:0000', 'right', '404'),
    ('llm', 'GET', '/', 'right', '404'),
    ('llm', 'GET', '/v1/models', 'right', '404'),
    ('webhooks', 'GET', '/', None, '404'),
    ('webhooks', 'GET', '/rest/settings', None, '404'),
    ('webhooks', 'GET', '/api/v1/workflows', None, '404'),
    ('webhooks', 'GET', '/home/workflows', None, '404'),
    ('webhooks', 'GET', '/healthz', None, '404'),
]


@pytest.mark.parametrize('name,method,path,key,expected', PUBLIC_PHASE1)
def test_public_surface(host, name, method, path, key, expected):
    headers = ['Host: %s.example.test' % name]
    if key:
        headers.append('Authorization: Bearer %s' % (secret('public_ollama_key') if key == 'right' else 'x' * 32))
    assert http_status(host, 'http://%s%s' % (NGINX, path), *headers, method=method) == expected


def test_the_keys_file_is_not_world_readable(host):
    f = host.file(ROOT + '/nginx/conf.d/llm-gateway-keys.conf')
    assert f.mode == 0o600 and secret('public_ollama_key') in f.content_string
    assert secret('public_ollama_key') not in host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string


def test_a_config_that_fails_nginx_t_never_goes_live(host):
    live = host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string
    rc, out = run_playbook('phase1.yml', '--tags', 'nginx', '-e', 'llm_gateway_nginx_client_max_body_size=64q')
    assert rc != 0
    assert 'nginx rejects the new configuration, so it was not installed' in out, out[-3000:]
    assert 'client_max_body_size' in out and 'directive invalid value' in out
    assert host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string == live
    time.sleep(0.5)
    assert http_status(host, 'http://%s/' % NGINX, 'Host: n8n.example.test') == '200'
    # The next normal run finds the live files as they should be and leaves them alone.
    rc, out = run_playbook('phase1.yml', '--tags', 'nginx')
    assert rc == 0, out[-3000:]
