"""The litellm role's n8n_key tasks (n8n's virtual key, llm_gateway_litellm_virtual_keys) as the playbooks run
them: asked from a container with curl on a Docker network (the real nginx image the tests build, as
llama-nginx), to a LiteLLM on that network. That LiteLLM is the mock of its key API (litellm_admin_mock.py,
run in the LiteLLM test image): a LiteLLM with a database cannot run here. About 40 seconds.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import REPO, docker, free_port, play_role, require_images

PREFIX = 'lgt-vk-%s' % secrets.token_hex(3)
NETWORK = PREFIX
LITELLM = PREFIX + '-litellm'
NGINX = PREFIX + '-nginx'
MASTER = 'sk-' + secrets.token_hex(32)
N8N_KEY = 'sk-' + secrets.token_hex(32)
LITELLM_IMAGE = 'llm-gateway-test/litellm:latest'
NGINX_IMAGE = 'llm-gateway-test/nginx:latest'


class Setup:
    def __init__(self, base):
        self.base = base
        self.port = free_port()
        docker('network', 'create', NETWORK)
        docker('run', '--detach', '--name', LITELLM, '--network', NETWORK, '--env', 'LITELLM_MASTER_KEY=' + MASTER,
               '--publish', '127.0.0.1:%d:4000' % self.port,
               '--volume', '%s/tests/integration/litellm_admin_mock.py:/mock.py:ro' % REPO,
               '--entrypoint', 'python3', LITELLM_IMAGE, '/mock.py', '--port', '4000')
        docker('run', '--detach', '--name', NGINX, '--network', NETWORK, NGINX_IMAGE)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.state()
                break
            except OSError:
                assert time.monotonic() < deadline, docker('logs', LITELLM, check=False).stderr
                time.sleep(0.2)

    def state(self):
        with urllib.request.urlopen('http://127.0.0.1:%d/_mock/state' % self.port, timeout=5) as answer:
            return json.loads(answer.read())

    def play(self, check=False, diff=False, **overrides):
        variables = {
            'llm_gateway_litellm_container': LITELLM,
            'llm_gateway_nginx_container': NGINX,
            'llm_gateway_litellm_master_key': MASTER,
            'llm_gateway_litellm_virtual_keys': True,
            'llm_gateway_litellm_n8n_key': N8N_KEY,
            'llm_gateway_litellm_models': [
                {'name': 'llama3', 'backends': [{'model': 'llama3', 'api_base': 'http://a:11434'},
                                                {'model': 'llama3', 'api_base': 'http://b:11434'}]},
                {'name': 'qwen', 'backends': [{'model': 'qwen2.5', 'api_base': 'http://a:11434'}]}],
        }
        variables.update(overrides)
        stats, failed, proc = play_role(self.base, 'litellm', variables, check=check, diff=diff, tasks_from='n8n_key')
        for secret in (MASTER, N8N_KEY):
            assert secret not in proc.stdout and secret not in proc.stderr, 'a key leaked into the output'
        return stats, failed, proc

    def close(self):
        docker('rm', '--force', LITELLM, NGINX, check=False)
        docker('network', 'rm', NETWORK, check=False)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    require_images(LITELLM_IMAGE, NGINX_IMAGE)
    s = Setup(str(tmp_path_factory.mktemp('litellm-n8n-key')))
    yield s
    s.close()


def the_key(state):
    rows = list(state['keys'].values())
    assert len(rows) == 1, rows
    return rows[0]


def test_check_mode_only_looks(setup):
    stats, failed, dummy = setup.play(check=True)
    assert failed is None and stats['changed'] == 1
    state = setup.state()
    assert state['keys'] == {} and [call[0] for call in state['calls']] == ['GET']


def test_the_key_is_made_with_every_served_name_then_left_alone(setup):
    stats, failed, dummy = setup.play()
    assert failed is None and stats['changed'] == 1
    row = the_key(setup.state())
    # Every name LiteLLM serves: the public names and the shared name's backends.
    assert sorted(row['models']) == ['llama3', 'llama3@backend-1', 'llama3@backend-2', 'qwen']
    assert row['key_alias'] == 'n8n' and row['rpm_limit'] is None and row['max_budget'] is None
    assert row['metadata'] == {'managed_by': 'local_ai.llm_gateway'}
    calls = len(setup.state()['calls'])
    stats, failed, dummy = setup.play()
    assert failed is None and stats['changed'] == 0
    assert [call[0] for call in setup.state()['calls'][calls:]] == ['GET']


def test_models_and_limits_from_the_variables(setup):
    limits = {'rpm_limit': 30, 'tpm_limit': 20000, 'max_budget': 2.5, 'budget_duration': '30d'}
    stats, failed, proc = setup.play(diff=True, llm_gateway_litellm_n8n_key_models=['qwen'],
                                     llm_gateway_litellm_n8n_key_limits=limits)
    assert failed is None and stats['changed'] == 1
    row = the_key(setup.state())
    assert row['models'] == ['qwen'] and {k: row[k] for k in limits} == limits
    assert setup.play(llm_gateway_litellm_n8n_key_models=['qwen'],
                      llm_gateway_litellm_n8n_key_limits=limits)[0]['changed'] == 0


def test_the_rollback_revokes_it_once(setup):
    stats, failed, dummy = setup.play(llm_gateway_litellm_n8n_key_state='absent')
    assert failed is None and stats['changed'] == 1
    state = setup.state()
    assert state['keys'] == {} and len(state['deleted']) == 1
    stats, failed, dummy = setup.play(llm_gateway_litellm_n8n_key_state='absent')
    assert failed is None and stats['changed'] == 0


def test_without_a_running_litellm_the_rollback_says_the_key_stays(setup):
    setup.play()
    docker('stop', '--time', '2', LITELLM)
    stats, failed, proc = setup.play(llm_gateway_litellm_n8n_key_state='absent')
    assert failed is None and stats['changed'] == 0
    assert 'was not revoked' in proc.stdout and 'key_aliases' in proc.stdout
    docker('start', LITELLM)


def test_the_n8n_credential_holds_the_virtual_key_only_when_asked():
    """n8n_routing's credential value, as its vars render it, with and without virtual keys."""
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    shown = {}
    for on in (True, False):
        extra = json.dumps({'llm_gateway_litellm_virtual_keys': on, 'llm_gateway_litellm_master_key': 'master',
                            'llm_gateway_litellm_n8n_key': 'virtual', 'llm_gateway_n8n_litellm_credential': 'LiteLLM'})
        cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-c', 'local', '-m',
               'ansible.builtin.debug', '-a', 'msg={{ _n8n_routing_auth.value }}',
               '-e', '@' + os.path.join(REPO, 'roles', 'n8n_routing', 'vars', 'main.yml'), '-e', extra]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        shown[on] = out
    assert '"msg": "Bearer virtual"' in shown[True] and '"msg": "Bearer master"' in shown[False]
