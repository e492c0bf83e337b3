"""The nginx role with Ollama in a container on the stack's network (llm_gateway_ollama_upstream naming it), on
this machine: the real nginx image the tests build (nginx 1.30, llm-gateway-test/nginx) in front of the Ollama
stand-in's image (llm-gateway-test/ollama-standin), both on a network of their own.

Such an upstream is resolved through Docker's DNS ("server ... resolve"), so the role's `nginx -t` in a container
without a network accepts it (a plain "server name:port" does not: "host not found in upstream"), and nginx follows
the Ollama container when it is recreated on another address, without a reload. Its internal route serves Ollama's
model management only with llm_gateway_nginx_internal_ollama_management. Everything is removed at the end. About a
minute.
"""

from __future__ import annotations

import json
import os
import secrets
import time

import pytest

from conftest import docker, play_role

NGINX_IMAGE = 'llm-gateway-test/nginx:latest'
STANDIN_IMAGE = 'llm-gateway-test/ollama-standin:latest'
PREFIX = 'lgt-ngo-%s' % secrets.token_hex(3)
OLLAMA = PREFIX + '-ollama'
NGINX = PREFIX + '-nginx'
# Outside Docker's default address pools, as in test_litellm_role.
OCTET = secrets.randbelow(256)
SUBNET, GATEWAY = '10.215.%d.0/24' % OCTET, '10.215.%d.1' % OCTET


def start_ollama(models, address=None):
    docker('run', '--detach', '--name', OLLAMA, '--network', PREFIX, *(['--ip', address] if address else []),
           STANDIN_IMAGE, '--host', '0.0.0.0', '--port', '11434', '--models', models, '--name', OLLAMA)
    return docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', OLLAMA).stdout.strip()


def through_nginx(path='/api/tags'):
    """Ask Ollama through nginx's internal route, from inside llama-nginx's stand-in (an address on the network)."""
    proc = docker('exec', NGINX, 'curl', '--silent', '--max-time', '5', '--write-out', '\n%{http_code}',
                  'http://%s%s' % (NGINX, path), check=False)
    body, dummy, status = proc.stdout.rpartition('\n')
    return status, body


@pytest.fixture(scope='module')
def deployment(tmp_path_factory):
    base = str(tmp_path_factory.mktemp('nginx-ollama'))
    root = os.path.join(base, 'stack')
    docker('network', 'create', '--subnet', SUBNET, '--gateway', GATEWAY, PREFIX)
    try:
        yield base, root
    finally:
        for name in (NGINX, OLLAMA):
            docker('rm', '--force', name, check=False)
        docker('network', 'rm', PREFIX, check=False)


def variables(root):
    return {
        'llm_gateway_root': root,
        'llm_gateway_domain': 'example.test',
        'llm_gateway_phase': 1,
        'llm_gateway_nginx_image': NGINX_IMAGE,
        'llm_gateway_nginx_container': NGINX,
        'llm_gateway_network_subnet': SUBNET,
        'llm_gateway_network_gateway': GATEWAY,
        'llm_gateway_ollama_upstream': OLLAMA + ':11434',
    }


def test_the_role_checks_and_installs_an_upstream_named_like_a_container(deployment):
    base, root = deployment
    stats, failed, dummy = play_role(base, 'nginx', variables(root))
    assert failed is None and stats['changed'] > 0, failed
    with open(os.path.join(root, 'nginx', 'conf.d', 'llm-gateway.conf')) as f:
        conf = f.read()
    upstream = conf[conf.index('upstream llm_gateway_ollama {'):]
    upstream = upstream[:upstream.index('}')]
    assert 'zone llm_gateway_ollama' in upstream and 'server %s:11434 resolve;' % OLLAMA in upstream
    assert 'keepalive 16;' in upstream
    # The default upstream, from /etc/hosts, stays a plain server (Docker's DNS does not answer for it).
    again = dict(variables(root), llm_gateway_ollama_upstream='host.docker.internal:11434')
    stats, failed, proc = play_role(base, 'nginx', again, check=True, diff=True)
    assert failed is None, failed
    assert stats['changed'] > 0 and 'server host.docker.internal:11434;' in proc.stdout  # in the diff


def test_nginx_follows_a_recreated_ollama_container_without_a_reload(deployment):
    base, root = deployment
    stats, failed, dummy = play_role(base, 'nginx', variables(root))
    assert failed is None and stats['changed'] == 0, failed
    first = start_ollama('llama3:latest')
    docker('run', '--detach', '--name', NGINX, '--network', PREFIX,
           '--add-host', 'host.docker.internal:host-gateway',
           '--volume', '%s/nginx/nginx.conf:/etc/nginx/nginx.conf:ro' % root,
           '--volume', '%s/nginx/conf.d:/etc/nginx/conf.d:ro' % root, NGINX_IMAGE)
    started = docker('inspect', '-f', '{{.State.StartedAt}}', NGINX).stdout.strip()
    deadline = time.monotonic() + 20
    while through_nginx()[0] != '200' and time.monotonic() < deadline:
        time.sleep(0.5)
    status, body = through_nginx()
    assert status == '200' and [m['name'] for m in json.loads(body)['models']] == ['llama3:latest'], body

    # Recreated on another address, with another model so that the answer shows which one served it.
    docker('rm', '--force', OLLAMA)
    address = first.rsplit('.', 1)[0] + ('.77' if not first.endswith('.77') else '.78')
    second = start_ollama('mistral:latest', address=address)
    assert second == address != first
    deadline = time.monotonic() + 30  # nginx re-resolves every 10 s (resolver valid=10s)
    while time.monotonic() < deadline:
        status, body = through_nginx()
        if status == '200' and 'mistral:latest' in body:
            break
        time.sleep(0.5)
    assert status == '200' and [m['name'] for m in json.loads(body)['models']] == ['mistral:latest'], (status, body)
    assert docker('inspect', '-f', '{{.State.StartedAt}}', NGINX).stdout.strip() == started  # no restart
    logs = docker('logs', NGINX).stderr
    assert 'reconfiguring' not in logs and 'signal 1 (SIGHUP)' not in logs  # no reload either


def ask_through_nginx(method, path, payload=None):
    """A request from inside the nginx container to its internal route; (status, body)."""
    data = ['--data', json.dumps(payload)] if payload is not None else []
    how = ['--head'] if method == 'HEAD' else ['-X', method]
    proc = docker('exec', NGINX, 'curl', '--silent', '--max-time', '10', '--write-out', '\n%{http_code}',
                  *how, *data, 'http://%s%s' % (NGINX, path), check=False)
    body, dummy, status = proc.stdout.rpartition('\n')
    return status, body


def ollama_counts():
    """Requests the stand-in received, by path (its test hook, asked from the network)."""
    proc = docker('exec', NGINX, 'curl', '--silent', '--fail', '--max-time', '5',
                  'http://%s:11434/_standin/state' % OLLAMA)
    return json.loads(proc.stdout)['requests']


MANAGEMENT = [('POST', '/api/pull', {'model': 'phi3', 'stream': False}),
              ('POST', '/api/create', {'model': 'mine', 'from': 'mistral'}),
              ('POST', '/api/copy', {'source': 'mistral', 'destination': 'mine'}),
              ('POST', '/api/push', {'model': 'mistral'}),
              ('DELETE', '/api/delete', {'model': 'mistral'}),
              ('HEAD', '/api/blobs/sha256:' + '0' * 64, None)]


def test_model_management_only_with_the_setting(deployment):
    # Runs after the test above, against its nginx and Ollama containers.
    base, root = deployment
    before = ollama_counts()
    for method, path, payload in MANAGEMENT:
        status, body = ask_through_nginx(method, path, payload)
        assert status == '404', (path, status, body)
        if method != 'HEAD':
            assert 'llm_gateway_nginx_internal_ollama_management' in json.loads(body)['error'], body
    assert ask_through_nginx('GET', '/api/unknown')[0] == '404'
    status, body = ask_through_nginx('POST', '/api/generate', {'model': 'mistral', 'prompt': 'x', 'stream': False})
    assert status == '200' and json.loads(body)['done'] is True, body
    after = ollama_counts()
    assert [path for method, path, payload in MANAGEMENT if after.get(path, 0) != before.get(path, 0)] == []
    assert after.get('/api/generate', 0) == before.get('/api/generate', 0) + 1

    # With the setting, the role reloads nginx and every Ollama path is served.
    stats, failed, dummy = play_role(base, 'nginx', dict(variables(root),
                                                         llm_gateway_nginx_internal_ollama_management=True))
    assert failed is None and stats['changed'] > 0, failed
    status, body = ask_through_nginx('POST', '/api/pull', {'model': 'phi3', 'stream': False})
    assert status == '200' and json.loads(body) == {'status': 'success'}, body
    assert ollama_counts().get('/api/pull', 0) == before.get('/api/pull', 0) + 1
    tags = json.loads(ask_through_nginx('GET', '/api/tags')[1])
    assert 'phi3:latest' in [m['name'] for m in tags['models']]
