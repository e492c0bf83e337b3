"""Phase 2 verified with real requests (LiteLLM built from the pinned PyPI release,
the Ollama stand-in behind it), then the rollback to phase 1.

The tests run in file order; the last ones roll back and re-run the phase 1 tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import (  # noqa: E402  pylint: disable=wrong-import-position
    COMPOSE, DOMAIN, N8N_API, NGINX, PROJECT, PROJECT_NAME, ROOT, container, container_ip, decrypted_credential, http_status, n8n,
    n8n_call, node, post_from_n8n, prompt_of, run_playbook, secret, standin, standin_requests, trigger_webhook, workflow,
)

LLM = 'http://%s/v1/chat/completions' % NGINX
STANDIN2 = 'llm-gateway-molecule-standin2'


def standin2_base(host):
    """The second Ollama backend (a stand-in container on the stack's network)."""
    return 'http://%s:11434' % container_ip(host, STANDIN2)


def both_backends(host, method, path, payload=None):
    """Call a test hook on both Ollama backends LiteLLM balances between."""
    return [standin(host, method, path, payload), standin(host, method, path, payload, base=standin2_base(host))]


def backend_requests(host, path):
    """Requests both backends received."""
    return standin_requests(host, path) + standin_requests(host, path, base=standin2_base(host))


def wait_for(what, predicate, seconds):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def master_key():
    return secret('litellm_master_key')


def chat(host, prompt, key=None, stream=False, extra=''):
    """POST /v1/chat/completions through nginx with the public Host; returns (status, body)."""
    body = json.dumps({'model': 'llama3', 'messages': [{'role': 'user', 'content': prompt}], 'stream': stream})
    auth = " -H 'Authorization: Bearer %s'" % key if key else ''
    out = host.run("curl -s -m 60 -w '\\n%%{http_code}' -H 'Host: llm.%s' -H 'Content-Type: application/json'%s%s "
                   "-d '%s' %s" % (DOMAIN, auth, extra, body, LLM))
    text, status = out.stdout.rsplit('\n', 1)
    return status, text


def every_secret():
    return {'the n8n encryption key': secret('encryption_key'), 'the LiteLLM key': master_key(),
            'the public Ollama key': secret('public_ollama_key'), 'the n8n API key': secret('n8n.env', 'N8N_API_KEY')}


def shown_secrets(out):
    return sorted(name for name, value in every_secret().items() if value in out)


# First of the tests, right after converge: the scenario's idempotence step. phase2.yml again, at -vvv,
# changes nothing and prints no secret.
def test_phase2_again_changes_nothing_and_shows_no_secret_at_vvv(host):  # pylint: disable=unused-argument
    rc, out = run_playbook('phase2.yml', '-vvv')
    assert rc == 0, out[-4000:]
    assert 'TASK [local_ai.llm_gateway.stack' in out
    recap = re.search(r'llm-gateway-default : ok=\d+ changed=(\d+) unreachable=0 failed=0', out)
    assert recap, out[-2000:]
    changed = [part[:120] for part in out.split('TASK [')[1:] if 'changed: [llm-gateway-default]' in part]
    assert recap.group(1) == '0', changed
    assert shown_secrets(out) == []


@pytest.fixture
def fresh_standin(host):
    both_backends(host, 'POST', '/_standin/reset', {})
    yield
    both_backends(host, 'POST', '/_standin/reset', {})


def test_litellm_is_healthy_and_has_no_curl(host):
    assert container(host, 'llama-litellm', '{{.State.Health.Status}}') == 'healthy'
    assert host.run('docker exec llama-litellm sh -c "command -v curl || command -v wget"').rc != 0


def test_config_and_secrets(host):
    config = host.file(ROOT + '/litellm/config.yaml')
    assert config.mode == 0o644 and 'os.environ/LITELLM_MASTER_KEY' in config.content_string
    assert master_key() not in config.content_string
    assert master_key() not in host.file(ROOT + '/docker-compose.yml').content_string
    env = host.file(ROOT + '/env/litellm-secrets/litellm.env')
    assert env.mode == 0o400 and env.uid == 65532 and master_key() in env.content_string
    assert not host.file(ROOT + '/env/litellm.env').exists
    # The key reaches LiteLLM through its entrypoint, not its configuration.
    assert master_key() not in host.check_output('docker container inspect llama-litellm')


def test_the_litellm_credential_goes_to_litellm_only(host):  # pylint: disable=unused-argument
    # As n8n itself reads it: its key, and n8n's Allowed HTTP Request Domains limited to LiteLLM's host.
    data = decrypted_credential(COMPOSE.split() + ['exec', '-T', 'n8n'], 'LiteLLM')
    assert data['value'] == 'Bearer ' + master_key()
    assert data['allowedHttpRequestDomains'] == 'domains' and data['allowedDomains'] == 'llama-litellm'


def test_chat_through_nginx_with_a_key(host, fresh_standin):
    status, text = chat(host, 'hello gateway', key=master_key())
    assert status == '200', text
    answer = json.loads(text)
    assert answer['choices'][0]['message']['content'] == 'Stand-in answer to: hello gateway'
    assert answer['object'] == 'chat.completion'


def test_no_key_is_refused_by_nginx(host, fresh_standin):
    status, text = chat(host, 'no key')
    assert status == '401'
    assert json.loads(text)['error']['message'].startswith('Authentication required')  # nginx's body, not LiteLLM's
    # LiteLLM's background health checks call the backends too; none may carry this prompt.
    assert [e for e in backend_requests(host, '/api/chat') if prompt_of(e) == 'no key'] == []


# Phase 2's public surface on llm.<domain>: (method, path, key) -> status; key None, 'wrong' or 'right'.
PUBLIC_PHASE2 = [
    ('GET', '/v1/models', None, '401'),
    ('GET', '/v1/models', 'wrong', '400'),  # LiteLLM's own answer to a key it does not know
    ('GET', '/v1/models', 'right', '200'),
    ('GET', '/models', 'right', '200'),
    ('GET', '/health', None, '200'),
    ('GET', '/health/readiness', 'right', '404'),
    ('GET', '/health/liveliness', 'right', '404'),
    ('POST', '/key/generate', 'right', '404'),
    ('GET', '/key/list', 'right', '404'),
    ('GET', '/ui', 'right', '404'),
    ('GET', '/routes', 'right', '404'),
    ('GET', '/model/info', 'right', '404'),
    ('GET', '/openapi.json', 'right', '404'),
    ('GET', '/api/tags', 'right', '404'),
    ('POST', '/api/pull', 'right', '404'),
]


@pytest.mark.parametrize('method,path,key,expected', PUBLIC_PHASE2)
def test_public_surface(host, method, path, key, expected):
    headers = ['Host: llm.%s' % DOMAIN]
    if key:
        headers.append('Authorization: Bearer %s' % (master_key() if key == 'right' else 'sk-' + 'x' * 40))
    assert http_status(host, 'http://%s%s' % (NGINX, path), *headers, method=method) == expected


def test_health_maps_to_liveliness(host):
    out = host.check_output("curl -sf -H 'Host: llm.%s' http://%s/health" % (DOMAIN, NGINX))
    assert 'alive' in out.lower()


def test_a_burst_over_the_limit_gets_429(host):
    # 40 requests at once against rate 20r/s + burst 10: some must be refused. A bogus key
    # passes nginx's bearer check; LiteLLM refuses it cheaply (no model call).
    script = r"""
import json, http.client, threading
codes = []
def one():
    conn = http.client.HTTPConnection('127.0.0.1', 18080, timeout=30)
    conn.request('GET', '/v1/models', headers={'Host': 'llm.%s', 'Authorization': 'Bearer sk-bogus'})
    resp = conn.getresponse(); resp.read(); codes.append(resp.status)
threads = [threading.Thread(target=one) for dummy in range(40)]
[t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps(codes))
""" % DOMAIN
    codes = json.loads(host.check_output('python3 -c %s' % shlex.quote(script)))
    assert len(codes) == 40
    assert codes.count(429) >= 5, codes
    assert set(codes) <= {429, 400, 401}, codes
    time.sleep(2)  # let the bucket refill for the next tests


def spoofing_burst(host, *docker_run):
    """40 requests at once, each claiming another client in CF-Connecting-IP; their statuses.

    Without ``docker_run`` they come from the Docker host (where the tunnel connects, so
    nginx believes the header); with it, from a container on the stack's network.
    """
    urls = []
    for n in range(40):
        urls += ['--next', '-so', '/dev/null', '-w', '%{http_code}\\n', '-H', 'Host: llm.%s' % DOMAIN,
                 '-H', 'Authorization: Bearer sk-bogus', '-H', 'CF-Connecting-IP: 198.51.100.%d' % (n + 1)]
        urls.append('http://%s/v1/models' % ('llama-nginx' if docker_run else NGINX))
    command = list(docker_run) + ['curl', '-Z', '--parallel-immediate', '--parallel-max', '40'] + urls[1:]
    codes = host.check_output(' '.join(shlex.quote(part) for part in command)).split()
    time.sleep(2)  # let the buckets refill for the next tests
    return [int(code) for code in codes]


def test_cf_connecting_ip_is_believed_only_from_where_the_tunnel_connects(host):
    # From the Docker host (the tunnel's side) each claimed client has a bucket of its own ...
    trusted = spoofing_burst(host)
    assert len(trusted) == 40 and 429 not in trusted, trusted
    # ... from any container on the network the header changes nothing: one bucket, the burst is cut.
    image = json.loads(host.check_output('docker container inspect llama-nginx'))[0]['Config']['Image']
    spoofed = spoofing_burst(host, 'docker', 'run', '--rm', '--network', 'llama-network', image)
    assert len(spoofed) == 40 and spoofed.count(429) >= 5, spoofed


def test_an_oversized_body_gets_413_before_it_is_read(host):
    # The declared length alone (over client_max_body_size, 64m) is refused; nothing is sent after the headers.
    script = r"""
import http.client
conn = http.client.HTTPConnection('127.0.0.1', %s, timeout=30)
conn.putrequest('POST', '/v1/chat/completions', skip_host=True)
for name, value in (('Host', 'llm.%s'), ('Authorization', 'Bearer sk-bogus'), ('Content-Type', 'application/json'),
                    ('Content-Length', str(65 * 1024 * 1024))):
    conn.putheader(name, value)
conn.endheaders()
print(conn.getresponse().status)
""" % (NGINX.split(':')[1], DOMAIN)
    assert host.check_output('python3 -c %s' % shlex.quote(script)).strip() == '413'


def test_sse_streams_chunk_by_chunk(host, fresh_standin):
    chat(host, 'warm up', key=master_key(), stream=True)  # first request per worker is slow
    chat(host, 'warm up', key=master_key(), stream=True)
    both_backends(host, 'POST', '/_standin/config', {'token_delay_ms': 100})
    script = r"""
import json, sys, time, http.client
conn = http.client.HTTPConnection('127.0.0.1', 18080, timeout=60)
body = json.dumps({'model': 'llama3', 'stream': True,
                   'messages': [{'role': 'user', 'content': 'one two three four five six seven eight'}]})
t0 = time.monotonic()
conn.request('POST', '/v1/chat/completions', body, {'Host': 'llm.%s', 'Content-Type': 'application/json',
                                                    'Authorization': 'Bearer %s'})
resp = conn.getresponse()
times, data = [], []
while True:
    line = resp.readline()
    if not line:
        break
    if line.startswith(b'data: '):
        times.append(time.monotonic() - t0)
        data.append(line[6:].strip().decode())
print(json.dumps({'status': resp.status, 'type': resp.getheader('content-type'), 'times': times, 'data': data}))
""" % (DOMAIN, master_key())
    out = json.loads(host.check_output('python3 -c %s' % shlex.quote(script)))
    assert out['status'] == 200 and out['type'].startswith('text/event-stream')
    assert out['data'][-1] == '[DONE]'
    chunks = [json.loads(d) for d in out['data'][:-1]]
    text = ''.join(c['choices'][0]['delta'].get('content') or '' for c in chunks if c.get('choices'))
    assert text == 'Stand-in answer to: one two three four five six seven eight'
    # The first chunk arrives long before the last: nginx does not buffer the stream.
    assert out['times'][-1] - out['times'][0] >= 0.5
    assert out['times'][0] < out['times'][-1] / 2


def test_migrated_workflow_runs_through_litellm_with_the_same_answer(host, fresh_standin):
    wf = workflow(host, 'LLM webhook')
    ask = node(wf, 'Ask Ollama')
    assert ask['parameters']['url'] == 'http://llama-litellm:4000/v1/chat/completions'
    assert node(wf, 'Ask Ollama', published=True)['parameters']['url'] == ask['parameters']['url']
    assert master_key() not in json.dumps(wf)  # the key lives in an n8n credential, not in the workflow
    assert 'httpHeaderAuth' in (ask.get('credentials') or {})
    answer = trigger_webhook(host, 'llm-ask', {'prompt': 'hello from molecule'})
    # The same answer as in phase 1 (test_phase1.py), now through LiteLLM's /api/chat call.
    assert answer == {'answer': 'Stand-in answer to: hello from molecule'}
    hits = [e for e in backend_requests(host, '/api/chat') if prompt_of(e) == 'hello from molecule']
    assert hits, 'LiteLLM did not call the stand-in'


def test_unmigrated_api_calls_still_work(host, fresh_standin):
    status, body = post_from_n8n(host, 'http://llama-nginx/api/generate',
                                 {'model': 'llama3', 'prompt': 'still phase 1', 'stream': False})
    assert status == 200 and body['response'] == 'Stand-in answer to: still phase 1'


def test_internal_route_refuses_model_management(host, fresh_standin):
    # As on llm.<domain>, only Ollama's inference and read paths (llm_gateway_nginx_internal_ollama_management
    # is false): nginx answers the rest, the stand-ins never see them.
    for path, payload in (('/api/pull', {'model': 'phi3', 'stream': False}),
                          ('/api/create', {'model': 'mine', 'from': 'llama3'}),
                          ('/api/copy', {'source': 'llama3', 'destination': 'mine'}),
                          ('/api/push', {'model': 'llama3'})):
        status, body = post_from_n8n(host, 'http://llama-nginx' + path, payload)
        assert status == 404 and 'llm_gateway_nginx_internal_ollama_management' in body['error'], (path, body)
        assert backend_requests(host, path) == [], path
    status, body = post_from_n8n(host, 'http://llama-nginx/api/generate',
                                 {'model': 'llama3', 'prompt': 'after the refusals', 'stream': False})
    assert status == 200 and body['response'] == 'Stand-in answer to: after the refusals'


def test_internal_v1_route_reaches_litellm(host, fresh_standin):
    status, body = post_from_n8n(host, 'http://llama-nginx/v1/chat/completions',
                                 {'model': 'llama3', 'messages': [{'role': 'user', 'content': 'via v1'}]},
                                 {'Authorization': 'Bearer %s' % master_key()})
    assert status == 200 and body['choices'][0]['message']['content'] == 'Stand-in answer to: via v1'


def standin2_answers(host):
    return host.run("curl -sf -m 2 '%s/_standin/state'" % standin2_base(host)).rc == 0


def test_one_of_two_backends_stopped(host, fresh_standin):
    # Ollama stops on the second backend's host (the container stays up: its name
    # resolves, its port refuses). From the next request on, every one succeeds:
    # the shared name falls back to each backend by a name of its own.
    host.check_output('docker exec %s pkill -f ollama_standin.py' % STANDIN2)
    try:
        wait_for('the second backend still answers', lambda: not standin2_answers(host), 10)
        statuses = [chat(host, 'backend %d' % i, key=master_key())[0] for i in range(20)]
        assert statuses == ['200'] * 20, statuses
        answered = set(prompt_of(e) for e in standin_requests(host, '/api/chat'))
        assert set('backend %d' % i for i in range(20)) <= answered
    finally:
        host.check_output('docker restart -t 1 %s' % STANDIN2)
        wait_for('the second backend did not come back', lambda: standin2_answers(host), 30)


def test_litellm_recreated_nginx_follows_without_restart(host):
    started = container(host, 'llama-nginx', '{{.State.StartedAt}}')
    old_ip = container_ip(host, 'llama-litellm')
    # Another container takes LiteLLM's address first, so the new LiteLLM gets a new one.
    host.check_output('%s stop litellm' % COMPOSE)
    host.check_output('%s rm -f litellm' % COMPOSE)
    host.check_output('docker run -d --rm --name llm-gateway-molecule-squatter --network llama-network '
                      '--ip %s llm-gateway-test/base:bookworm sleep 300' % old_ip)
    try:
        host.check_output('%s up -d --no-deps litellm' % COMPOSE)
        assert container_ip(host, 'llama-litellm') != old_ip
        wait_for('LiteLLM not healthy after 120 s',
                 lambda: container(host, 'llama-litellm', '{{.State.Health.Status}}') == 'healthy', 120)
        ready = time.monotonic()
        status = None
        while time.monotonic() - ready < 10:
            status, dummy = chat(host, 'after recreate', key=master_key())
            if status == '200':
                break
            time.sleep(0.5)
        assert status == '200'
        assert time.monotonic() - ready < 10
    finally:
        host.run('docker rm -f llm-gateway-molecule-squatter')
    assert container(host, 'llama-nginx', '{{.State.StartedAt}}') == started


def test_a_public_call_phase_2_cannot_convert_moves_to_the_internal_route_and_answers(host, fresh_standin):
    # prepare.yml made it after phase 1, on the public URL (which phase 2 puts behind LiteLLM's key), with a body
    # of JavaScript beyond a plain object literal: the OpenAI conversion refuses it, so it moved to llama-nginx.
    made = workflow(host, 'Made after phase 1')
    try:
        ask = node(made, 'Ask Ollama')
        assert ask['parameters']['url'] == 'http://llama-nginx/api/generate'
        assert 'Object.assign' in ask['parameters']['jsonBody'] and 'credentials' not in ask
        answer = trigger_webhook(host, 'llm-js-body', {'prompt': 'not converted'})
        assert answer['response'] == 'Stand-in answer to: not converted'
        hits = [e for e in standin_requests(host, '/api/generate') if (e.get('body') or {}).get('prompt') ==
                'not converted']
        assert len(hits) == 1 and hits[0]['host'] == 'localhost:11434'
    finally:
        # Deleted again: the rollback below must not be blocked by a workflow that has gone since its backup.
        n8n_call(host, 'POST', '/api/v1/workflows/%s/deactivate' % made['id'])
        wait_for('n8n did not delete the workflow', lambda: host.run(
            "curl -sf -o /dev/null -X DELETE -H 'X-N8N-API-KEY: %s' '%s/api/v1/workflows/%s'"
            % (secret('n8n.env', 'N8N_API_KEY'), N8N_API, made['id'])).rc == 0, 30)


def test_rollback_refuses_while_a_workflow_it_does_not_put_back_calls_litellm(host):
    # Made after phase 2, so no backup puts it back: removing LiteLLM would break it. Nothing changes.
    made = n8n_call(host, 'POST', '/api/v1/workflows', {
        'name': 'Made after phase 2', 'connections': {}, 'settings': {},
        'nodes': [{'name': 'Ask LiteLLM', 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2,
                   'position': [0, 0], 'parameters': {'method': 'POST', 'options': {},
                                                      'url': 'http://llama-litellm:4000/v1/chat/completions'}}]})
    try:
        before = sorted((w['id'], w['versionId']) for w in n8n(host, '/api/v1/workflows?limit=250')['data'])
        litellm = container(host, 'llama-litellm', '{{.Id}} {{.State.StartedAt}}')
        rc, out = run_playbook('rollback.yml')
        assert rc != 0 and 'would break when LiteLLM goes' in out, out[-3000:]
        assert 'Made after phase 2 (id %s)' % made['id'] in out and 'LLM webhook' not in out
        assert sorted((w['id'], w['versionId']) for w in n8n(host, '/api/v1/workflows?limit=250')['data']) == before
        assert container(host, 'llama-litellm', '{{.Id}} {{.State.StartedAt}}') == litellm
        assert host.file(ROOT + '/backups/n8n/phase2').is_directory  # not set aside
    finally:
        n8n_call(host, 'DELETE', '/api/v1/workflows/%s' % made['id'])


def test_rollback_brings_phase_1_back(host):
    # At -vvv, as phase2.yml above: no secret in anything Ansible prints.
    rc, out = run_playbook('rollback.yml', '-vvv')
    assert rc == 0, out[-4000:]
    assert shown_secrets(out) == []
    # the workflow phase 2 moved and that was deleted since is named, not a failure
    assert re.search(r'Made after phase 1: n8n has no workflow \w+ any more', out), out[-4000:]
    assert host.run('docker container inspect llama-litellm').rc != 0
    assert not host.file(ROOT + '/litellm').exists and not host.file(ROOT + '/env/litellm-secrets').exists
    conf = host.file(ROOT + '/nginx/conf.d/llm-gateway.conf').content_string
    assert 'location /v1/' not in conf and 'llama-litellm' not in conf
    ask = node(workflow(host, 'LLM webhook'), 'Ask Ollama')
    assert ask['parameters']['url'] == 'http://llama-nginx/api/generate'
    assert 'credentials' not in ask or 'httpHeaderAuth' not in ask['credentials']
    # the LiteLLM credential phase 2 created is deleted once no workflow uses it
    assert [c for c in n8n(host, '/api/v1/credentials?limit=250')['data'] if c['name'] == 'LiteLLM'] == []


# With the host fixture, so that it runs in file order (before the tests below, which change phase 1).
def test_phase_1_tests_pass_again_after_rollback(host):  # pylint: disable=unused-argument
    tests = os.path.join(PROJECT, 'molecule', 'phase1', 'tests', 'test_phase1.py')
    proc = subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q',
                           '--hosts=ansible://llm-gateway-default',
                           '--ansible-inventory=%s' % os.environ['MOLECULE_INVENTORY_FILE'], tests],
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


# A LiteLLM that never becomes healthy: the test image, whose configuration check (--validate_config) is LiteLLM's
# own, but whose service waits forever (as a LiteLLM that cannot reach what it needs at start does), so Docker's
# health check never passes.
NEVER_HEALTHY = 'llm-gateway-molecule/litellm-never-healthy'
NEVER_HEALTHY_DOCKERFILE = '''FROM llm-gateway-test/litellm:latest
USER root
RUN mv /app/docker-entrypoint.sh /app/litellm-entrypoint.sh \\
 && printf '%s\\n' '#!/bin/sh' \\
      'case " $* " in *" --validate_config "*) exec /app/litellm-entrypoint.sh "$@";; esac' \\
      'echo "LiteLLM test image: waiting for a database that never answers"' 'exec sleep 3600' \\
      > /app/docker-entrypoint.sh \\
 && chmod 0755 /app/docker-entrypoint.sh
USER 65532:65532
'''


def stack_files(host):
    """Every path of the stack's files with its type, mode, owner and content's checksum (what a failed run must
    leave as it found)."""
    return host.check_output(
        "cd %s && find docker-compose.yml nginx env litellm -printf '%%p %%y %%m %%U:%%G\\n' 2>/dev/null | sort; "
        "find docker-compose.yml nginx env litellm -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum" % ROOT)


def stack_containers(host):
    """Name, id and state of each container of the stack (the same id: not recreated)."""
    return sorted(host.check_output(
        "docker ps -a --filter label=com.docker.compose.project=%s --format '{{.Names}} {{.ID}} {{.State}}'"
        % PROJECT_NAME).splitlines())


class PhaseOneLoad(object):
    """Bounded load on phase 1's routes from the test runner (nginx publishes on the host's loopback): the public
    llm.<domain>/api/generate with the key, and the migrated webhook workflow, whose n8n calls
    http://llama-nginx/api/generate. At most REQUESTS per route, and never past SECONDS."""

    REQUESTS, SECONDS = 2000, 600

    def __init__(self):
        import threading
        self.stop = threading.Event()
        self.results = {'public': [], 'webhook': []}
        self.threads = [threading.Thread(target=self.run, args=(route,)) for route in self.results]
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()

    def request(self, route, n):
        import urllib.error
        import urllib.request
        if route == 'public':
            req = urllib.request.Request(
                'http://%s/api/generate' % NGINX, method='POST',
                data=json.dumps({'model': 'llama3', 'prompt': 'load %d' % n, 'stream': False}).encode(),
                headers={'Host': 'llm.%s' % DOMAIN, 'Content-Type': 'application/json',
                         'Authorization': 'Bearer %s' % secret('public_ollama_key')})
        else:
            req = urllib.request.Request(
                'http://%s/webhook/llm-ask' % NGINX, method='POST', data=json.dumps({'prompt': 'load %d' % n}).encode(),
                headers={'Host': 'webhooks.%s' % DOMAIN, 'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                body = json.loads(res.read())
                answer = body.get('response' if route == 'public' else 'answer')
                return res.status if answer == 'Stand-in answer to: load %d' % n else 'wrong answer'
        except urllib.error.HTTPError as exc:
            return exc.code
        except Exception as exc:  # pylint: disable=broad-except
            return type(exc).__name__

    def run(self, route):
        for n in range(self.REQUESTS):
            if self.stop.is_set() or time.monotonic() - self.started > self.SECONDS:
                return
            self.results[route].append(self.request(route, n))
            time.sleep(0.05)

    def end(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(90)
        return dict((route, {'sent': len(codes), 'failed': [c for c in codes if c != 200]})
                    for route, codes in self.results.items())


def test_a_switch_whose_litellm_never_gets_healthy_leaves_phase_1_serving_and_on_disk(host):
    # Phase 1 runs (the rollback above). A switch to phase 2 whose LiteLLM never becomes healthy, under load on
    # phase 1's routes: no failed request, LiteLLM's container gone, the files as phase 1 left them.
    subprocess.run(['docker', 'build', '-q', '-t', NEVER_HEALTHY, '-'], input=NEVER_HEALTHY_DOCKERFILE, text=True,
                   capture_output=True, check=True, timeout=300)
    files, containers = stack_files(host), stack_containers(host)
    assert 'litellm' not in files and not [c for c in containers if c.split()[0] == 'llama-litellm'], containers
    assert [c for c in containers if c.split()[0] == 'llama-nginx' and c.endswith(' running')], containers
    load = PhaseOneLoad()
    try:
        # At -vvv: a run that writes every phase 2 file (LiteLLM's key among them), then puts them back, shows no
        # secret either.
        rc, out = run_playbook('site.yml', '-vvv', '-e', 'llm_gateway_litellm_image=%s' % NEVER_HEALTHY,
                               '-e', 'llm_gateway_compose_wait_timeout=30')
    finally:
        result = load.end()
    print('load:', json.dumps(result))
    # The whole output, for a failure's post-mortem (the assertions show its end only).
    with open('/tmp/llm-gateway-molecule-failed-switch.log', 'w') as handle:
        handle.write(out)
    tasks = re.findall(r'TASK \[([^\]]+)\]', out)
    assert rc != 0, out[-3000:]
    # The message names the service, its health check's last output and its last log lines.
    assert 'The stack did not come up' in out, (tasks[-25:], out[-1500:])
    assert 'llama-litellm (service litellm) is starting; its health check last said:' in out, out[-3000:]
    assert 'waiting for a database that never answers' in out, out[-3000:]
    assert 'The stack runs again as before this play, and its files are as they were (' in out, out[-3000:]
    assert shown_secrets(out) == []
    assert stack_containers(host) == containers
    assert stack_files(host) == files
    assert all(r['sent'] > 20 and r['failed'] == [] for r in result.values()), result
    # Nothing is left to do for phase 1: disk and containers are what it converged to.
    rc, out = run_playbook('site.yml', '-e', 'llm_gateway_phase=1')
    assert rc == 0 and re.search(r'llm-gateway-default\s*:\s*ok=\d+\s+changed=0\s', out), out[-3000:]


OLD_N8N = 'llm-gateway-molecule-old-n8n'
OLD_N8N_API = 'http://127.0.0.1:15699'  # the phase1 scenario's prepare.yml: the user's own n8n before the migration
CARRIED = 'Made after the migration, carried back'
CARRIED_CREDENTIAL = 'Made after the migration'
CARRIED_VALUE = 'carried-header-value-7f3a'
EDITED = 'Keep me, edited after the migration'


def test_restore_carries_a_workflow_and_a_credential_made_since_into_the_original_n8n(host):
    # Work a user did on the stack's n8n (SQLite in its data volume, which the restore replaces): a credential and a
    # workflow that uses it and calls the internal route. The restore's default (carry) imports both into the
    # original n8n, the call put back to the public route the original setup had.
    cred = n8n_call(host, 'POST', '/api/v1/credentials', {
        'name': CARRIED_CREDENTIAL, 'type': 'httpHeaderAuth', 'data': {'name': 'X-Carried', 'value': CARRIED_VALUE}})
    made = n8n_call(host, 'POST', '/api/v1/workflows', {
        'name': CARRIED, 'connections': {}, 'settings': {},
        'nodes': [{'name': 'Ask Ollama', 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2, 'position': [0, 0],
                   'credentials': {'httpHeaderAuth': {'id': cred['id'], 'name': CARRIED_CREDENTIAL}},
                   'parameters': {'method': 'POST', 'url': 'http://llama-nginx/api/generate', 'options': {},
                                  'authentication': 'genericCredentialType', 'genericAuthType': 'httpHeaderAuth'}}]})
    # And a workflow no phase moved, edited since: the edit is carried too.
    keep = workflow(host, 'Keep me')
    n8n_call(host, 'PUT', '/api/v1/workflows/%s' % keep['id'], {
        'name': EDITED, 'nodes': keep['nodes'], 'connections': keep['connections'], 'settings': {}})
    stack = "docker ps --filter label=com.docker.compose.project=%s --format '{{.Names}} {{.State}}' | sort" % (
        PROJECT_NAME)
    running = host.check_output(stack)
    assert 'llama-nginx running' in running, running
    kept = "docker ps -a --filter name=^%s-pre-llm-gateway$ --format '{{.State}}'" % OLD_N8N
    assert host.check_output(kept) == 'exited'

    # A restore whose own step fails puts back what ran: the latest snapshot (a later copy of the real one) has a
    # broken data archive, so unpacking it fails after n8n's data was emptied. The stack runs again on n8n's data
    # as it was, work done since included, and the original n8n is kept again, stopped.
    snapshots = ROOT + '/backups/original'
    latest = host.check_output('ls -1 %s | sort | tail -n 1' % snapshots)
    broken = snapshots + '/29991231T000000Z'
    host.run_expect([0], 'cp -a %s/%s %s && head -c 200 %s/%s/n8n-data.tar.gz > %s/n8n-data.tar.gz' % (
        snapshots, latest, broken, snapshots, latest, broken))
    try:
        rc, out = run_playbook('restore.yml', '-vvv')
    finally:
        host.run_expect([0], 'rm -rf %s' % broken)
    with open('/tmp/llm-gateway-molecule-failed-restore.log', 'w') as handle:
        handle.write(out)
    assert rc != 0, out[-3000:]
    assert shown_secrets(out) == [] and CARRIED_VALUE not in out
    assert 'The restore stopped at Unpack n8n' in out, out[-3000:]
    assert ("What ran before it runs again: the stack, on n8n's data as it was before the restore (the pre-restore "
            "snapshot %s/backups/pre-restore/" % ROOT) in out, out[-3000:]
    # (It fails before the original n8n is brought back: that stays kept, stopped.)
    assert host.check_output(stack) == running
    assert host.check_output(kept) == 'exited'
    assert host.check_output("docker ps -a -q --filter name=^%s$" % OLD_N8N) == ''
    wait_for('the stack\'s n8n does not answer', lambda: http_status(host, N8N_API + '/healthz/readiness') == '200',
             120)
    assert n8n_call(host, 'GET', '/api/v1/workflows/%s' % made['id'])['name'] == CARRIED
    assert n8n_call(host, 'GET', '/api/v1/workflows/%s' % keep['id'])['name'] == EDITED

    # Check mode names what a real run would carry, and changes nothing: the stack runs, no snapshot folder is
    # added, the temporary export is gone, n8n keeps both.
    pre_restore = ROOT + '/backups/pre-restore'
    stack_n8n = host.check_output('docker ps -q --filter label=com.docker.compose.project=%s '
                                  '--filter label=com.docker.compose.service=n8n' % PROJECT_NAME)
    assert stack_n8n
    folders = host.check_output('ls -A %s 2>/dev/null || true' % pre_restore)
    rc, out = run_playbook('restore.yml', '--check', '-vvv')
    assert rc == 0, out[-4000:]
    assert shown_secrets(out) == [] and CARRIED_VALUE not in out
    assert ('A real run: To be carried into the original n8n once it runs again (llm_gateway_restore_changes carry)'
            in out), out[-4000:]
    assert ('A real run would carry into %s: ' % OLD_N8N) in out, out[-4000:]
    assert 'workflow created: %s (%s)' % (CARRIED, made['id']) in out, out[-4000:]
    assert 'credential created: %s (%s)' % (CARRIED_CREDENTIAL, cred['id']) in out, out[-4000:]
    # The webhook workflow ran since the takeover (the tests above): those executions are counted, and on SQLite go.
    since = re.search(r"A real run: (\d+) executions since the snapshot \S+: dropped with n8n's data \(SQLite\)", out)
    assert since and int(since.group(1)) > 0, re.findall(r'.{0,120}executions since.{0,240}', out) or out[-4000:]
    assert host.check_output(stack) == running
    assert host.check_output('ls -A %s 2>/dev/null || true' % pre_restore) == folders
    assert host.check_output('ls -d /tmp/llm-gateway-check-* 2>/dev/null || true') == ''
    assert host.run('docker exec %s ls /tmp/llm-gateway-export' % stack_n8n).rc != 0
    assert n8n_call(host, 'GET', '/api/v1/workflows/%s' % made['id'])['name'] == CARRIED
    # The credential phase 1 created for the internal Ollama route is the play's own: never listed nor carried.
    assert 'Ollama (llama-nginx)' in [c['name'] for c in n8n_call(host, 'GET', '/api/v1/credentials')['data']]
    assert 'Ollama (llama-nginx)' not in out

    rc, out = run_playbook('restore.yml', '-vvv')
    assert rc == 0, out[-4000:]
    assert shown_secrets(out) == [] and CARRIED_VALUE not in out
    assert 'workflow carried (edited since the snapshot): %s (%s)' % (EDITED, keep['id']) in out, out[-4000:]
    assert ('workflow carried: %s (%s); http://llama-nginx/api/generate put back to https://llm.%s/api/generate'
            % (CARRIED, made['id'], DOMAIN)) in out, out[-4000:]
    assert 'credential carried: %s (%s)' % (CARRIED_CREDENTIAL, cred['id']) in out, out[-4000:]
    assert 'Ollama (llama-nginx)' not in out
    assert 'Carried into %s' % OLD_N8N in out
    assert re.search(r"\d+ executions since the snapshot \S+: dropped with n8n's data \(SQLite\), which the restore "
                     r"replaces; the pre-restore snapshot \S+ keeps them", out), (
        re.findall(r'.{0,120}executions since.{0,240}', out) or out[-4000:])
    assert host.check_output('docker ps -aq --filter label=com.docker.compose.project=%s' % PROJECT_NAME) == ''
    # The original n8n, on the snapshot's data plus what was carried, by the same ids.
    probe = "curl -sf -o /dev/null -H 'X-N8N-API-KEY: %s' %s/api/v1/workflows" % (
        secret('n8n.env', 'N8N_API_KEY'), OLD_N8N_API)
    wait_for('the original n8n does not answer', lambda: host.run(probe).rc == 0, 120)
    carried = n8n_call(host, 'GET', '/api/v1/workflows/%s' % made['id'], base=OLD_N8N_API)
    assert carried['name'] == CARRIED and carried['active'] is False
    assert n8n_call(host, 'GET', '/api/v1/workflows/%s' % keep['id'], base=OLD_N8N_API)['name'] == EDITED
    ask = node(carried, 'Ask Ollama')
    assert ask['parameters']['url'] == 'https://llm.%s/api/generate' % DOMAIN
    assert ask['credentials']['httpHeaderAuth']['id'] == cred['id']
    # The credential came in encrypted with the same key: the original n8n decrypts it.
    assert decrypted_credential(['docker', 'exec', OLD_N8N], CARRIED_CREDENTIAL) == {
        'name': 'X-Carried', 'value': CARRIED_VALUE}
    # The workflows the migration changed are the snapshot's again.
    original = [w for w in n8n_call(host, 'GET', '/api/v1/workflows?limit=250', base=OLD_N8N_API)['data']
                if w['name'] == 'LLM webhook'][0]
    assert node(original, 'Ask Ollama')['parameters']['url'] == 'https://llm.%s/api/generate' % DOMAIN


def test_a_takeover_that_would_overwrite_a_kept_container_is_refused_before_any_change(host):
    # After the restore the original n8n runs under its own name, and site.yml would take it over again, keeping it
    # as <name>-pre-llm-gateway. A container of that name left from an earlier run would be overwritten: the play
    # refuses before any change, naming both and the way out.
    kept = OLD_N8N + '-pre-llm-gateway'
    everything = "docker ps -a --format '{{.Names}} {{.ID}} {{.State}}' | sort"
    files = "find %s -printf '%%p %%y %%m %%s\\n' | sort" % ROOT
    host.run_expect([0], 'docker create --name %s llm-gateway-test/nginx:latest' % kept)
    try:
        containers, on_disk = host.check_output(everything), host.check_output(files)
        rc, out = run_playbook('site.yml')
        assert rc != 0
        assert ('%s would be replaced, but a container kept from an earlier run already has the name %s. Run '
                'playbooks/restore.yml to go back to it first, or remove the one you no longer need (docker rm). '
                'Nothing was changed.' % (OLD_N8N, kept)) in out, out[-3000:]
        assert host.check_output(everything) == containers
        assert host.check_output(files) == on_disk
    finally:
        host.run('docker rm -f %s' % kept)


def test_an_n8n_release_the_collection_does_not_support_is_refused_before_any_change(host):
    # The stack's n8n would run llm_gateway_n8n_image, whose tag names n8n 1.100.0 (neither 1.123.x nor 2.0 to 2.41.x).
    everything = "docker ps -a --format '{{.Names}} {{.ID}} {{.State}}' | sort"
    files = "find %s -printf '%%p %%y %%m %%s\\n' | sort" % ROOT
    containers, on_disk = host.check_output(everything), host.check_output(files)
    rc, out = run_playbook('site.yml', '-e', 'llm_gateway_n8n_image=docker.n8n.io/n8nio/n8n:1.100.0')
    assert rc != 0
    assert ('llm_gateway_n8n_image is n8n 1.100.0, which the collection does not support (it supports 1.123.x and '
            '2.0.0 to 2.41.x): move n8n to a release in that range first (the stack pins 2.41.1). Nothing was '
            'changed.') in out, out[-3000:]
    assert host.check_output(everything) == containers
    assert host.check_output(files) == on_disk
