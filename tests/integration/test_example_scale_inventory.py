"""The scaling-out example inventory, read by Ansible itself: each Docker host
gets LiteLLM backends on every Ollama host of the ollama_hosts group that has
the model (the ollama_host_backends filter), and its own domain."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import COLLECTIONS, REPO

INVENTORY = os.path.join(REPO, 'inventory', 'example-scale')


def host_value(host, name):
    # debug runs on the controller: nothing connects to the example's addresses.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR='1', ANSIBLE_LOAD_CALLBACK_PLUGINS='1',
               ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json')
    proc = subprocess.run(['ansible', '-i', INVENTORY, host, '-m', 'ansible.builtin.debug', '-a', 'var=%s' % name],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts'][host]
    return result[name]


def test_every_docker_host_balances_over_the_ollama_hosts_that_have_the_model():
    for host in ('docker-1', 'docker-2'):
        assert host_value(host, 'llm_gateway_litellm_models') == [
            {'name': 'llama3', 'backends': [
                {'model': 'llama3', 'api_base': 'http://192.0.2.21:11434'},
                {'model': 'llama3', 'api_base': 'http://192.0.2.22:11434', 'weight': 2}]},
            {'name': 'qwen2.5:7b', 'backends': [{'model': 'qwen2.5:7b', 'api_base': 'http://192.0.2.21:11434'}]},
        ]


def test_each_docker_host_has_its_own_domain_and_queue_mode():
    assert host_value('docker-1', 'llm_gateway_domain') == 'one.example.com'
    assert host_value('docker-2', 'llm_gateway_domain') == 'two.example.com'
    assert host_value('docker-2', 'llm_gateway_n8n_executions_mode') == 'queue'
