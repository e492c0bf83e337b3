"""Phase 1 verified with real requests: n8n -> llama-nginx -> host.docker.internal -> Ollama (stand-in)."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

ROOT = '/srv/llm-gateway-molecule'
SECRETS = '/srv/llm-gateway-molecule-secrets'
NGINX = '127.0.0.1:18080'
N8N_API = 'http://127.0.0.1:15678'
STANDIN = 'http://%s:11434' % os.environ.get('LLM_GATEWAY_STANDIN_ADDR', '172.17.0.1')
COMPOSE = 'docker compose --project-directory %s' % ROOT
SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.dirname(os.path.dirname(SCENARIO))


def api_key():
    for line in open(os.path.join(SECRETS, 'n8n.env')):
        if line.startswith('N8N_API_KEY='):
            return line.split('=', 1)[1].strip()
    raise AssertionError('no N8N_API_KEY')


def n8n(host, path):
    out = host.check_output("curl -sf -H 'X-N8N-API-KEY: %s' '%s%s'" % (api_key(), N8N_API, path))
    return json.loads(out)


def standin(host, method, path, payload=None):
    cmd = "curl -sf -X %s '%s%s'" % (method, STANDIN, path)
    if payload is not None:
        cmd += " -H 'Content-Type: application/json' -d '%s'" % json.dumps(payload)
    return json.loads(host.check_output(cmd))


def node_in_n8n(host, script):
    """Run a node script inside the n8n container (node is in every n8n image; curl is not)."""
    return host.run("%s exec -T n8n node -e %s" % (COMPOSE, json.dumps(script)))


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
    key = open(os.path.join(SECRETS, 'encryption_key')).read().strip()
    assert key not in host.file(ROOT + '/docker-compose.yml').content_string
    assert key in host.file(ROOT + '/env/n8n.env').content_string


def test_compose_and_nginx_configs_are_valid(host):
    host.check_output('%s config --quiet' % COMPOSE)
    host.check_output('docker exec llama-nginx nginx -t -q')


def test_services_are_healthy(host):
    out = host.check_output('%s ps --format json' % COMPOSE)
    services = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert sorted(s['Service'] for s in services) == ['n8n', 'nginx']
    assert all(s['Health'] == 'healthy' for s in services), services


def test_internal_route_from_inside_n8n(host, fresh_standin):
    script = """
      fetch('http://llama-nginx/api/generate', {method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({model: 'llama3', prompt: 'ping from n8n', stream: false})})
        .then(async r => { console.log(JSON.stringify({status: r.status, body: await r.json()})); })
        .catch(e => { console.error(e); process.exit(1); });
    """
    res = node_in_n8n(host, script)
    assert res.rc == 0, res.stderr
    out = json.loads(res.stdout)
    assert out['status'] == 200
    assert out['body']['response'] == 'Stand-in answer to: ping from n8n'
    assert out['body']['done'] is True


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
    assert lines[-1]['done'] is True and all(not l['done'] for l in lines[:-1])
    assert len(lines) >= 5
    # Chunks arrive one by one as the tokens are produced, not in one buffered block.
    assert len(out['times']) >= len(lines) - 1
    assert out['times'][-1] - out['times'][0] >= 0.8 * 80 * (len(lines) - 2)


def test_host_header_rewrite_matters(host, fresh_standin):
    body = "-X POST -d '{\"model\":\"llama3\",\"prompt\":\"x\",\"stream\":false}'"
    passthrough = host.check_output(
        "docker exec llama-nginx curl -s -o /dev/null -w '%%{http_code}' -H 'Host: llama-nginx' %s "
        "http://host.docker.internal:11434/api/generate" % body)
    assert passthrough == '403'  # Ollama's host check refuses the Host that n8n sends
    rewritten = host.check_output(
        "docker exec llama-nginx curl -s -o /dev/null -w '%%{http_code}' -H 'Host: localhost:11434' %s "
        "http://host.docker.internal:11434/api/generate" % body)
    assert rewritten == '200'
    assert 'proxy_set_header Host localhost:11434;' in host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string


def test_workflow_rewritten_and_runs_through_internal_route(host, fresh_standin):
    workflows = n8n(host, '/api/v1/workflows?limit=250')['data']
    wf = [w for w in workflows if w['name'] == 'LLM webhook'][0]
    ask = [n for n in wf['nodes'] if n['name'] == 'Ask Ollama'][0]
    assert ask['parameters']['url'] == 'http://llama-nginx/api/generate'
    assert wf['active'] is True
    published = [n for n in wf['activeVersion']['nodes'] if n['name'] == 'Ask Ollama'][0]
    assert published['parameters']['url'] == 'http://llama-nginx/api/generate'

    seen = standin(host, 'GET', '/_standin/state')
    out = host.check_output(
        "curl -sf -X POST -H 'Host: webhooks.example.test' -H 'Content-Type: application/json' "
        "-d '{\"prompt\": \"hello from molecule\"}' http://%s/webhook/llm-ask" % NGINX)
    assert json.loads(out)['response'] == 'Stand-in answer to: hello from molecule'
    log = standin(host, 'GET', '/_standin/requests?since=0')
    entries = log['requests'] if isinstance(log, dict) else log
    hits = [e for e in entries if e.get('path') == '/api/generate'
            and (e.get('body') or {}).get('prompt') == 'hello from molecule']
    assert len(hits) == 1, entries
    assert hits[0]['host'] == 'localhost:11434'
    assert seen is not None


def test_n8n_data_survived_the_move(host):
    before = json.load(open(os.path.join(SECRETS, 'workflows-before.json')))
    after = {w['id']: w['name'] for w in n8n(host, '/api/v1/workflows?limit=250')['data']}
    assert before and after == before


def test_backups_of_changed_workflows(host):
    backups = host.check_output('find %s/backups/n8n -type f -name "*.json"' % ROOT).split()
    assert backups
    for path in backups:
        assert host.file(path).mode == 0o600


def test_internal_server_refuses_the_docker_host(host):
    status = host.check_output("curl -s -o /dev/null -w '%%{http_code}' -H 'Host: llama-nginx' "
                               "http://%s/api/tags" % NGINX)
    assert status == '403'


def test_unknown_host_gets_an_error(host):
    status = host.check_output("curl -s -o /dev/null -w '%%{http_code}' -H 'Host: nope.example.test' "
                               "http://%s/api/tags" % NGINX)
    assert status == '404'


def test_public_routes(host):
    tags = host.check_output("curl -sf -H 'Host: llm.example.test' http://%s/api/tags" % NGINX)
    assert 'llama3:latest' in tags
    ui = host.check_output("curl -s -o /dev/null -w '%%{http_code}' -H 'Host: n8n.example.test' http://%s/" % NGINX)
    assert ui == '200'


def test_a_config_that_fails_nginx_t_never_goes_live(host):
    live = host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string
    cmd = ['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'],
           os.path.join(PROJECT, 'playbooks', 'site.yml'), '--tags', 'nginx',
           '-e', 'llm_gateway_nginx_client_max_body_size=64q']
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, '.cache', 'collections'), ANSIBLE_NOCOLOR='1')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'Check the complete staged configuration with nginx -t' in out and '64q' in out, out[-3000:]
    assert host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string == live
    time.sleep(0.5)
    tags = host.check_output("curl -sf -H 'Host: llm.example.test' http://%s/api/tags" % NGINX)
    assert 'llama3:latest' in tags
