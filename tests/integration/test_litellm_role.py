"""The litellm role on this machine, with a real LiteLLM (the local test image
llm-gateway-test/litellm, built by `bash tests/harness/images.sh build litellm`) in
front of the Ollama stand-in, which listens on the Docker bridge like an Ollama
installed on the Docker host.

The stack role's compose file is stood in for by a minimal one holding only the
litellm service, in the shape the stack role renders it. The tests run in file order
and share one stack directory, one stand-in and one compose project; everything is
removed at the end. About two minutes, most of it LiteLLM starting (twice) and
validating configurations.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import subprocess
import time

import pytest
import yaml

from conftest import (
    LITELLM_LIVELINESS, LITELLM_SERVICE, Standin, bridge_address, docker, free_port, litellm_entrypoint, play_role,
    require_images, run_module, wait_litellm_alive,
)

IMAGE = 'llm-gateway-test/litellm:latest'
NAME = 'lgt-litellm-%s' % secrets.token_hex(3)
TOKEN_DELAY_MS = 30
COMPOSE = """\
name: {name}
services:
""" + LITELLM_SERVICE.replace('{service}', 'litellm').replace('{container}', '{name}').replace('{network}', '{name}') + """\
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "python3", "-c", "{liveliness}"]
      interval: 10s
      timeout: 5s
      retries: 3
      start_period: 60s
networks:
  {name}:
    name: {name}
    ipam:
      config:
        - subnet: {subnet}
"""
# Outside Docker's default address pools (172.17-31.0.0/16, 192.168.0.0/16),
# which hand out whole /16s in turn: an address the daemon picked could overlap
# the fixed subnet of the stack that Molecule brings up beside these tests.
SUBNET = '10.213.%d.0/24' % secrets.randbelow(256)


N8N_KEY = 'sk-' + secrets.token_hex(32)
DATABASE_URL = 'postgresql://litellm:db-%s@llama-postgres:5432/litellm' % secrets.token_hex(12)


def virtual_keys(**overrides):
    """The variables of n8n's virtual key, with overrides."""
    values = {'llm_gateway_litellm_virtual_keys': True, 'llm_gateway_litellm_n8n_key': N8N_KEY,
              'llm_gateway_litellm_database_url': DATABASE_URL}
    values.update(overrides)
    return values


class Deployment:
    """One stack directory, a stand-in on the Docker bridge, and the role run against them."""

    def __init__(self, base):
        self.base = base
        self.root = os.path.join(base, 'stack')
        self.key = 'sk-' + secrets.token_hex(32)
        self.port = free_port()
        self.standin = Standin(base, host=bridge_address(),
                               extra=['--host-check', 'on', '--token-delay-ms', str(TOKEN_DELAY_MS), '--name', NAME])
        self.standin_port = self.standin.port

    def variables(self, **overrides):
        values = {
            'llm_gateway_root': self.root,
            'llm_gateway_phase': 2,
            'llm_gateway_litellm_image': IMAGE,
            'llm_gateway_litellm_container': NAME,
            'llm_gateway_litellm_master_key': self.key,
            'llm_gateway_litellm_models': [{'name': 'llama3', 'backends': [
                {'model': 'llama3', 'api_base': 'http://host.docker.internal:%d' % self.standin_port}]}],
            'llm_gateway_litellm_wait_timeout': 240,
        }
        values.update(overrides)
        return values

    def play(self, check=False, diff=False, **overrides):
        """Run the role; return (stats of localhost, message of the failed task or None)."""
        stats, failed, proc = play_role(self.base, 'litellm', self.variables(**overrides), check=check, diff=diff)
        for secret in (self.key, N8N_KEY, DATABASE_URL):
            assert secret not in proc.stdout and secret not in proc.stderr, 'a secret leaked into the output'
        return stats, failed

    def compose(self, *args):
        return docker('compose', '--project-directory', self.root, *args)

    def started_at(self):
        return docker('inspect', '-f', '{{.State.StartedAt}}', NAME).stdout.strip()

    def wait_alive(self, timeout=240):
        wait_litellm_alive(NAME, time.monotonic() + timeout)

    def chat(self, content, key=None, stream=False, model='llama3'):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=60)
        headers = {'Content-Type': 'application/json'}
        if key:
            headers['Authorization'] = 'Bearer ' + key
        body = {'model': model, 'stream': stream, 'messages': [{'role': 'user', 'content': content}]}
        conn.request('POST', '/v1/chat/completions', json.dumps(body), headers)
        return conn, conn.getresponse()

    def close(self):
        if os.path.exists(os.path.join(self.root, 'docker-compose.yml')):
            self.compose('down', '--volumes', '--remove-orphans', '--timeout', '5')
        docker('rm', '-f', NAME, check=False)
        docker('network', 'rm', NAME, check=False)
        self.standin.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope='module')
def deployment(tmp_path_factory):
    require_images(IMAGE)
    d = Deployment(str(tmp_path_factory.mktemp('litellm-role')))
    yield d
    d.close()


def test_preflight_refuses_bad_input_before_any_change(deployment):
    cases = [
        ({'llm_gateway_litellm_master_key': 'sk-1234'}, 'publicly known default'),
        ({'llm_gateway_litellm_master_key': ''}, 'empty or not set'),
        ({'llm_gateway_litellm_master_key': 'sk-' + 'ab' * 20}, 'fewer than 10 different characters'),
        ({'llm_gateway_litellm_models': [{'name': 'llama3', 'backends': [
            {'model': 'llama3', 'api_base': 'http://host.docker.internal:11434/v1'}]}]}, 'drop the /v1'),
        ({'llm_gateway_litellm_router_settings': {'routing_strategy': 'round-robin'}}, 'routing_strategy one of'),
        ({'llm_gateway_litellm_router_settings': {'fallbacks': [{'llama3': ['gpt-4o']}]}}, 'Bad fallback'),
        ({'llm_gateway_litellm_models': [{'name': 'llama3@backend-2', 'backends': [
            {'model': 'llama3', 'api_base': 'http://host.docker.internal:11434'}]}]}, 'not ending in @backend-<n>'),
        # n8n's virtual key: a key of its own, a database, models LiteLLM serves, known limits.
        (virtual_keys(llm_gateway_litellm_n8n_key=''), 'llm_gateway_litellm_n8n_key is refused: it is empty'),
        (virtual_keys(llm_gateway_litellm_n8n_key=deployment.key), 'it is the master key'),
        (virtual_keys(llm_gateway_litellm_general_settings={'disable_custom_api_keys': True}), 'disable_custom_api_keys'),
        (virtual_keys(llm_gateway_litellm_database_url=''), 'needs LiteLLM\'s PostgreSQL database'),
        (virtual_keys(llm_gateway_litellm_database_url='mysql://u:secret-pw@db/litellm'), 'it is not shown'),
        (virtual_keys(llm_gateway_litellm_n8n_key_models=['gpt-4o']), 'a list of names LiteLLM serves (llama3;'),
        (virtual_keys(llm_gateway_litellm_n8n_key_limits={'rpm': 60}), 'Bad n8n key settings'),
        (virtual_keys(llm_gateway_litellm_n8n_key_limits={'budget_duration': 'monthly'}), 'Bad n8n key settings'),
    ]
    for overrides, expected in cases:
        stats, failed = deployment.play(**overrides)
        assert stats['failures'] == 1 and failed and expected in failed, (overrides, failed)
        assert stats['changed'] == 0
        assert 'secret-pw' not in failed
    assert not os.path.exists(deployment.root)


def test_check_mode_on_a_fresh_host_writes_nothing(deployment):
    stats, failed = deployment.play(check=True, diff=True)
    assert failed is None and stats['changed'] > 0
    assert not os.path.exists(deployment.root)


def test_first_run_writes_the_files_then_nothing_changes(deployment):
    stats, failed = deployment.play()
    assert failed is None and stats['changed'] > 0
    config = os.path.join(deployment.root, 'litellm', 'config.yaml')
    env = os.path.join(deployment.root, 'env', 'litellm-secrets', 'litellm.env')
    assert oct(os.stat(config).st_mode & 0o777) == '0o644'
    assert oct(os.stat(env).st_mode & 0o777) == '0o400' and os.stat(env).st_uid == 65532
    assert oct(os.stat(os.path.dirname(env)).st_mode & 0o777) == '0o500'
    with open(env) as f:
        assert f.read() == 'LITELLM_MASTER_KEY=%s\n' % deployment.key
    with open(config) as f:
        text = f.read()
    assert deployment.key not in text
    data = yaml.safe_load(text)
    assert data['general_settings'] == {'master_key': 'os.environ/LITELLM_MASTER_KEY'}
    assert data['model_list'] == [{'model_name': 'llama3', 'litellm_params': {
        'model': 'ollama_chat/llama3', 'api_base': 'http://host.docker.internal:%d' % deployment.standin_port}}]
    assert data['litellm_settings']['drop_params'] is True
    assert data['litellm_settings']['disable_hf_tokenizer_download'] is True
    assert data['router_settings']['routing_strategy'] == 'simple-shuffle'
    assert deployment.play()[0]['changed'] == 0
    assert deployment.play(check=True, diff=True)[0]['changed'] == 0


def test_litellm_serves_the_rendered_configuration(deployment):
    with open(os.path.join(deployment.root, 'docker-compose.yml'), 'w') as f:
        f.write(COMPOSE.format(name=NAME, image=IMAGE, port=deployment.port, liveliness=LITELLM_LIVELINESS,
                               subnet=SUBNET, entrypoint=litellm_entrypoint()))
    deployment.compose('up', '--detach')
    deployment.wait_alive()
    assert deployment.key not in docker('container', 'inspect', NAME).stdout
    conn, resp = deployment.chat('what does the gateway say?', key=deployment.key)
    body = json.loads(resp.read())
    assert resp.status == 200, body
    assert body['choices'][0]['message']['content'] == 'Stand-in answer to: what does the gateway say?'
    conn, resp = deployment.chat('hi')
    body = json.loads(resp.read())
    assert resp.status == 401 and body['error']['type'] == 'auth_error', body


def test_streaming_arrives_chunk_by_chunk(deployment):
    deployment.chat('warm up', key=deployment.key)[1].read()  # the first request after a start is slow
    conn, resp = deployment.chat('one two three four five six seven eight nine', key=deployment.key, stream=True)
    assert resp.status == 200 and resp.getheader('content-type').startswith('text/event-stream')
    started, times, text = time.monotonic(), [], ''
    for raw in resp:
        line = raw.strip()
        if not line.startswith(b'data:') or line == b'data: [DONE]':
            continue
        delta = json.loads(line[5:])['choices'][0]['delta'].get('content') or ''
        if delta:
            times.append(time.monotonic() - started)
            text += delta
    assert text == 'Stand-in answer to: one two three four five six seven eight nine'
    assert len(times) >= 10
    # 12 tokens 30 ms apart upstream: the first chunk is out long before the last.
    assert times[-1] - times[0] >= 0.6 * (len(times) - 1) * TOKEN_DELAY_MS / 1000, times


def test_a_configuration_litellm_rejects_never_goes_live(deployment):
    config = os.path.join(deployment.root, 'litellm', 'config.yaml')
    with open(config) as f:
        before = f.read()
    started = deployment.started_at()
    # The role's preflight cannot know every callback name; LiteLLM's validation does.
    stats, failed = deployment.play(llm_gateway_litellm_settings={'callbacks': ['nonexistent_module.handler']})
    assert failed and 'LiteLLM rejects the new configuration' in failed and 'nonexistent_module' in failed
    with open(config) as f:
        assert f.read() == before
    assert deployment.started_at() == started


HANGS = 'lgt-litellm-hangs:latest'


def test_a_check_that_never_ends_is_stopped_and_its_container_removed(deployment):
    # An image whose litellm --validate_config never ends: the play stops after _litellm_validate_timeout seconds,
    # saying so, its container is removed and the live configuration stays.
    subprocess.run(['docker', 'build', '-q', '-t', HANGS, '-'], capture_output=True, text=True, check=True, timeout=300,
                   input='FROM %s\nUSER root\n'
                         "RUN printf '%%s\\n' '#!/bin/sh' 'exec sleep 3600' > /app/docker-entrypoint.sh\n"
                         'USER 65532:65532\n' % IMAGE)
    config = os.path.join(deployment.root, 'litellm', 'config.yaml')
    with open(config) as f:
        before = f.read()
    started = deployment.started_at()
    try:
        stats, failed = deployment.play(llm_gateway_litellm_image=HANGS, _litellm_validate_timeout=5,
                                        llm_gateway_litellm_settings={'drop_params': True})
    finally:
        left = docker('ps', '-aq', '--filter', 'name=llm-gateway-litellm-check-').stdout.split()
        for container in left:
            docker('rm', '-f', container, check=False)
        docker('rmi', HANGS, check=False)
    assert failed and 'did not end within 5 s (its container was removed)' in failed, failed
    assert left == []
    with open(config) as f:
        assert f.read() == before
    assert deployment.started_at() == started


def test_a_shared_name_fails_over_to_its_live_backend(deployment):
    # Two backends for llama3, the first one down (nothing listens on port 9 of the
    # Docker host): LiteLLM may retry on the backend that just failed, so the shared
    # name falls back to each backend by a name of its own; every request succeeds.
    live = 'http://host.docker.internal:%d' % deployment.standin_port
    dead = 'http://host.docker.internal:9'
    models = [{'name': 'llama3', 'backends': [{'model': 'llama3', 'api_base': dead},
                                              {'model': 'llama3', 'api_base': live}]},
              {'name': 'small', 'backends': [{'model': 'llama3', 'api_base': live}]}]
    router = {'num_retries': 1, 'fallbacks': [{'small': ['llama3']}, {'llama3': ['small']}]}
    stats, failed = deployment.play(llm_gateway_litellm_models=models, llm_gateway_litellm_router_settings=router,
                                    llm_gateway_litellm_health_check_interval=0)
    assert failed is None, failed
    with open(os.path.join(deployment.root, 'litellm', 'config.yaml')) as f:
        data = yaml.safe_load(f)
    assert [(m['model_name'], m['litellm_params']['api_base']) for m in data['model_list']] == [
        ('llama3', dead), ('llama3', live), ('small', live), ('llama3@backend-1', dead), ('llama3@backend-2', live)]
    # The user's fallbacks come after the shared name's own backends.
    assert data['router_settings']['fallbacks'] == [
        {'small': ['llama3']}, {'llama3': ['llama3@backend-1', 'llama3@backend-2', 'small']}]
    statuses = []
    for i in range(12):
        conn, resp = deployment.chat('failover %d' % i, key=deployment.key)
        body = json.loads(resp.read())
        statuses.append(resp.status)
        assert resp.status != 200 or body['choices'][0]['message']['content'] == 'Stand-in answer to: failover %d' % i
    assert statuses == [200] * 12, statuses
    assert deployment.play(llm_gateway_litellm_models=models, llm_gateway_litellm_router_settings=router,
                           llm_gateway_litellm_health_check_interval=0)[0]['changed'] == 0


def test_a_new_configuration_restarts_only_litellm_and_waits_for_it(deployment):
    started = deployment.started_at()
    stats, failed = deployment.play(llm_gateway_litellm_router_settings={'num_retries': 0})
    assert failed is None and stats['changed'] >= 2  # the staged file, the live one (and the handler)
    assert deployment.started_at() != started
    assert docker('exec', NAME, 'python3', '-c', LITELLM_LIVELINESS, check=False).returncode == 0
    assert 'num_retries: 0' in docker('exec', NAME, 'cat', '/app/config.yaml').stdout
    conn, resp = deployment.chat('after the restart', key=deployment.key)
    assert resp.status == 200 and 'after the restart' in resp.read().decode()
    assert deployment.play(llm_gateway_litellm_router_settings={'num_retries': 0})[0]['changed'] == 0


def test_a_new_key_restarts_litellm_which_then_takes_only_it(deployment):
    started, old = deployment.started_at(), deployment.key
    deployment.key = 'sk-' + secrets.token_hex(32)
    stats, failed = deployment.play()
    assert failed is None and stats['changed'] > 0
    assert deployment.started_at() != started
    assert deployment.key not in docker('container', 'inspect', NAME).stdout
    assert deployment.chat('new key', key=deployment.key)[1].status == 200
    conn, resp = deployment.chat('old key', key=old)
    body = json.loads(resp.read())
    # Not the master key: LiteLLM looks it up as a virtual key, and without a
    # database refuses it (400 no_db_connection).
    assert resp.status in (400, 401) and 'choices' not in body, (resp.status, body)
    assert deployment.play()[0]['changed'] == 0


def test_litellm_key_names_the_database_a_real_proxy_lacks(deployment):
    # This LiteLLM has no database (it cannot have one here: see litellm_admin_mock.py), as a proxy set up
    # without llm_gateway_litellm_virtual_keys: the module says so, and how to give it one.
    result, dummy = run_module('litellm_key', {'url': 'http://127.0.0.1:%d' % deployment.port,
                                               'master_key': deployment.key, 'key': N8N_KEY, 'models': ['llama3']})
    assert result['failed'] and result['status'] == 500, result
    assert 'runs without a database' in result['msg'] and 'llm_gateway_litellm_database_url' in result['msg']
    assert 'Database not connected' in result['msg']
    assert N8N_KEY not in result['_stdout'] and deployment.key not in result['_stdout']


def test_rollback_removes_the_container_then_its_files(deployment):
    assert docker('container', 'inspect', NAME, check=False).returncode == 0
    stats, failed = deployment.play(llm_gateway_phase=1)
    assert failed is None and stats['changed'] == 2  # the container (stop, rm), then the files
    assert docker('container', 'inspect', NAME, check=False).returncode != 0
    assert not os.path.exists(os.path.join(deployment.root, 'litellm'))
    assert not os.path.exists(os.path.join(deployment.root, 'env', 'litellm-secrets'))
    assert deployment.play(llm_gateway_phase=1)[0]['changed'] == 0


def test_virtual_keys_give_litellm_its_database_url_and_a_configuration_it_accepts(deployment):
    # After the rollback: no LiteLLM runs, so the role writes and validates (litellm --validate_config in a
    # throwaway container of the real image, through the secret file's entrypoint) without starting one.
    stats, failed = deployment.play(**virtual_keys())
    assert failed is None and stats['changed'] > 0
    env = os.path.join(deployment.root, 'env', 'litellm-secrets', 'litellm.env')
    with open(env) as f:
        assert f.read() == 'LITELLM_MASTER_KEY=%s\nDATABASE_URL=%s\n' % (deployment.key, DATABASE_URL)
    assert oct(os.stat(env).st_mode & 0o777) == '0o400'
    with open(os.path.join(deployment.root, 'litellm', 'config.yaml')) as f:
        text = f.read()
    assert DATABASE_URL not in text and N8N_KEY not in text
    assert yaml.safe_load(text)['general_settings']['database_url'] == 'os.environ/DATABASE_URL'
    assert deployment.play(**virtual_keys())[0]['changed'] == 0
    stats, failed = deployment.play(llm_gateway_phase=1)
    assert failed is None and not os.path.exists(env)
