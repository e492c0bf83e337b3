"""LiteLLM's models from a group of Ollama hosts."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.filter.ollama_host_backends import (
    FilterModule, ollama_host_backends,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._ollama_hosts import (
    OllamaHostsError, api_base, models_from_hosts,
)

HOSTVARS = {
    'gpu-1': {'ansible_host': '10.0.0.21'},
    'gpu-2': {'ansible_host': '10.0.0.22', 'llm_gateway_ollama_port': 11500, 'llm_gateway_ollama_weight': 2},
    'mac': {'llm_gateway_ollama_api_base': 'http://mac.lan:11434/', 'llm_gateway_ollama_models': ['qwen2.5:7b']},
}


def test_every_host_serves_every_model_unless_it_names_its_own():
    assert models_from_hosts(['gpu-1', 'gpu-2', 'mac'], HOSTVARS, ['llama3', 'qwen2.5:7b']) == [
        {'name': 'llama3', 'backends': [
            {'model': 'llama3', 'api_base': 'http://10.0.0.21:11434'},
            {'model': 'llama3', 'api_base': 'http://10.0.0.22:11500', 'weight': 2}]},
        {'name': 'qwen2.5:7b', 'backends': [
            {'model': 'qwen2.5:7b', 'api_base': 'http://10.0.0.21:11434'},
            {'model': 'qwen2.5:7b', 'api_base': 'http://10.0.0.22:11500', 'weight': 2},
            {'model': 'qwen2.5:7b', 'api_base': 'http://mac.lan:11434'}]},
    ]


def test_address_falls_back_to_the_inventory_name_and_brackets_ipv6():
    assert api_base('ollama.lan', {}) == 'http://ollama.lan:11434'
    assert api_base('x', {'ansible_host': 'fd00::5'}) == 'http://[fd00::5]:11434'


def test_a_model_no_host_serves_names_the_fix():
    with pytest.raises(OllamaHostsError, match='no Ollama host serves the model mistral: add it to'):
        models_from_hosts(['mac'], HOSTVARS, ['mistral'])
    with pytest.raises(OllamaHostsError, match='group of Ollama hosts is empty'):
        models_from_hosts([], HOSTVARS, ['llama3'])


def test_the_filter_is_registered_and_raises_the_named_fix():
    assert FilterModule().filters()['ollama_host_backends'] is ollama_host_backends
    with pytest.raises(ValueError, match='no Ollama host serves the model x'):
        ollama_host_backends(['mac'], HOSTVARS, ['x'])


@given(st.lists(st.from_regex(r'\A[a-z][a-z0-9-]{0,10}\Z'), min_size=1, max_size=6, unique=True),
       st.lists(st.from_regex(r'\A[a-z][a-z0-9.:]{0,10}\Z'), min_size=1, max_size=4, unique=True))
def test_without_model_lists_each_model_has_every_host_in_order(hosts, models):
    found = models_from_hosts(hosts, {}, models)
    assert [m['name'] for m in found] == models
    for entry in found:
        assert [b['api_base'] for b in entry['backends']] == ['http://%s:11434' % h for h in hosts]
        assert {b['model'] for b in entry['backends']} == {entry['name']}
