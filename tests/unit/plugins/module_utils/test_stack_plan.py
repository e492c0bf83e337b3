# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.filter.stack_plan import stack_plan
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._stack_plan import (
    created_first, n8n_api_candidates, n8n_data_containers, named_containers, unseen_images)


def test_taken_over_names_the_listed_containers_with_state_and_project():
    containers = [
        {'Names': ['/n8n'], 'State': 'running', 'Labels': {'com.docker.compose.project': 'old'}},
        {'Names': ['/llama-nginx'], 'State': 'exited', 'Labels': None},
        {'Names': ['/other'], 'State': 'running', 'Labels': {}},
    ]
    assert named_containers(containers, ['n8n', 'llama-nginx', 'absent']) == [
        {'name': 'n8n', 'running': True, 'project': 'old'},
        {'name': 'llama-nginx', 'running': False, 'project': ''}]
    assert named_containers(None, ['n8n']) == []


@pytest.mark.parametrize('images, references, unseen', [
    ([{'RepoTags': ['nginx:1.30.0']}], ['nginx:1.30.0', 'docker.io/library/nginx:1.30.0'], []),
    ([{'RepoTags': ['redis:latest']}], ['redis', 'docker.io/redis'], []),
    ([{'RepoTags': None, 'RepoDigests': ['n8nio/n8n@sha256:' + 'a' * 64]}], ['n8nio/n8n@sha256:' + 'a' * 64], []),
    ([{'RepoTags': ['ghcr.io/x/y:1']}], ['ghcr.io/x/y:2', 'ghcr.io/x/y:2', 'localhost:5000/z'],
     ['ghcr.io/x/y:2', 'localhost:5000/z']),
    ([], ['postgres:16'], ['postgres:16']),
])
def test_unseen_images_are_those_no_tag_or_digest_names(images, references, unseen):
    assert unseen_images(images, references) == unseen


def test_created_first_leaves_out_a_replaced_name_and_a_profile():
    services = {'nginx': {'container_name': 'llama-nginx'}, 'n8n': {'container_name': 'n8n'},
                'litellm-standby': {'profiles': ['standby']}, 'redis': {}}
    assert created_first(services, ['n8n']) == ['nginx', 'redis']


def test_n8n_data_containers_run_and_mount_n8ns_data():
    def result(name, exists=True, running=True, mount='/home/node/.n8n'):
        return {'item': name, 'exists': exists,
                'container': {'State': {'Running': running}, 'Mounts': [{'Destination': mount}]} if exists else None}
    results = [result('a'), result('b', running=False), result('c', exists=False), result('d', mount='/data')]
    assert n8n_data_containers(results) == ['a']


def test_the_filter_dispatches_and_refuses_an_unknown_reading():
    assert stack_plan({'x': {}}, 'created_first') == ['x']
    assert stack_plan([], 'unseen_images', references=['a:1']) == ['a:1']
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError):
        stack_plan([], 'nope')


def test_n8n_api_candidates_are_the_published_port_then_each_network_address():
    containers = [
        {'Names': ['/old-n8n'], 'State': 'running',
         'Ports': [{'PrivatePort': 5678, 'PublicPort': 15699, 'IP': '0.0.0.0', 'Type': 'tcp'},
                   {'PrivatePort': 5678, 'PublicPort': 15699, 'IP': '::', 'Type': 'tcp'},
                   {'PrivatePort': 5679, 'PublicPort': 15700, 'IP': '0.0.0.0', 'Type': 'tcp'}],
         'NetworkSettings': {'Networks': {'old': {'IPAddress': '172.30.0.2'}, 'bridge': {'IPAddress': ''}}}},
        {'Names': ['/stopped-n8n'], 'State': 'exited', 'Ports': [],
         'NetworkSettings': {'Networks': {'old': {'IPAddress': '172.30.0.3'}}}},
        {'Names': ['/other'], 'State': 'running', 'Ports': [],
         'NetworkSettings': {'Networks': {'old': {'IPAddress': '172.30.0.4'}}}},
        {'Names': ['/unpublished'], 'State': 'running', 'Ports': [{'PrivatePort': 5678, 'Type': 'tcp'}],
         'NetworkSettings': {'Networks': {'b': {'IPAddress': '172.31.0.5'}, 'a': {'IPAddress': '172.32.0.5'}}}},
    ]
    assert n8n_api_candidates(containers, ['old-n8n', 'stopped-n8n', 'unpublished']) == [
        {'name': 'old-n8n', 'url': 'http://127.0.0.1:15699'},
        {'name': 'old-n8n', 'url': 'http://172.30.0.2:5678'},
        {'name': 'unpublished', 'url': 'http://172.32.0.5:5678'},
        {'name': 'unpublished', 'url': 'http://172.31.0.5:5678'}]
    assert n8n_api_candidates(None, ['old-n8n']) == []
