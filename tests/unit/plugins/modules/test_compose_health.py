# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose_health: what it lists, and when fail_unless_ready fails (Compose 2.40's --wait returns 0 on its timeout)."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic

from ansible_collections.local_ai.llm_gateway.plugins.modules import compose_health


def container(name, service, running=True, health=None, check=True, status='running'):
    state = {'Running': running, 'Status': status}
    if health:
        state['Health'] = {'Status': health, 'Log': [{'Output': 'said %s' % health}]}
    return {'Name': '/' + name, 'State': state,
            'Config': {'Labels': {'com.docker.compose.service': service},
                       'Healthcheck': {'Test': ['CMD', 'true'] if check else ['NONE']}}}


@pytest.fixture
def docker(monkeypatch):
    """Docker's answers: a list of inspect objects; the commands run are recorded."""
    seen = {'inspected': [], 'argv': []}

    def run_command(self, argv, **kwargs):
        seen['argv'].append(argv)
        if argv[:2] == ['docker', 'ps']:
            return 0, '\n'.join(c['Name'].lstrip('/') for c in seen['inspected']), ''
        if argv[:3] == ['docker', 'container', 'inspect']:
            return 0, json.dumps([c for c in seen['inspected'] if c['Name'].lstrip('/') in argv[3:]]), ''
        if argv[:2] == ['docker', 'logs']:
            return 0, 'a log line of %s' % argv[-1], ''
        raise AssertionError(argv)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
    return seen


ARGS = {'project': 'llm-gateway', 'project_src': '/opt/llm-gateway'}


def test_all_healthy_lists_nothing_and_never_fails(run_module, docker):
    docker['inspected'] = [container('llama-nginx', 'nginx', health='healthy'),
                           container('llama-redis', 'redis', check=False)]
    for ready in (False, True):
        result, failed = run_module(compose_health, dict(ARGS, fail_unless_ready=ready))
        assert not failed and result['containers'] == [] and result['summary'] == ''


def test_a_starting_container_after_the_wait_fails_only_when_asked_and_names_it(run_module, docker):
    docker['inspected'] = [container('llama-nginx', 'nginx', health='healthy'),
                           container('llama-litellm', 'litellm', health='starting')]
    result, failed = run_module(compose_health, ARGS)
    assert not failed and [c['name'] for c in result['containers']] == ['llama-litellm']
    result, failed = run_module(compose_health, dict(ARGS, fail_unless_ready=True))
    assert failed
    assert result['msg'] == 'Not healthy after the wait: llama-litellm (service litellm, starting).'
    assert result['summary'].startswith('llama-litellm (service litellm) is starting; its health check last said: '
                                        'said starting; its last log lines:\na log line of llama-litellm')
    assert [c['status'] for c in result['containers']] == ['starting']


def test_unhealthy_and_restarting_fail_it_an_exited_one_is_listed_but_does_not(run_module, docker):
    docker['inspected'] = [container('llama-old', 'old', running=False, status='exited')]
    result, failed = run_module(compose_health, dict(ARGS, fail_unless_ready=True))
    assert not failed and [c['status'] for c in result['containers']] == ['exited']
    docker['inspected'] = [container('llama-litellm', 'litellm', health='unhealthy'),
                           container('llama-old', 'old', running=False, status='exited')]
    result, failed = run_module(compose_health, dict(ARGS, fail_unless_ready=True))
    assert failed and 'llama-litellm (service litellm, unhealthy)' in result['msg']
    assert 'llama-old' not in result['msg'] and 'llama-old' in result['summary']
    docker['inspected'] = [container('llama-n8n', 'n8n', running=False, status='restarting')]
    result, failed = run_module(compose_health, dict(ARGS, fail_unless_ready=True))
    assert failed and result['msg'] == 'Not healthy after the wait: llama-n8n (service n8n, restarting).'


def test_a_docker_that_does_not_answer_fails_with_its_words(run_module, monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, argv, **kw: (1, '', 'Cannot connect'))
    result, failed = run_module(compose_health, ARGS)
    assert failed and 'Cannot connect' in result['msg']
