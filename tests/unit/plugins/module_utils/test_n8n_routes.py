# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_routes import routes

LITELLM = 'http://llama-litellm:4000/v1/chat/completions'


def test_phase_one_moves_the_public_ollama_paths_to_the_internal_route():
    assert routes(1, 'example.com', 'llama-nginx') == [
        {'from': 'https://llm.example.com/api/generate', 'to': 'http://llama-nginx/api/generate'},
        {'from': 'https://llm.example.com/api/chat', 'to': 'http://llama-nginx/api/chat'}]


def test_the_way_back_is_phase_one_the_other_way_round():
    assert routes('back', 'example.com', 'llama-nginx') == [
        {'from': r['to'], 'to': r['from']} for r in routes('1', 'example.com', 'llama-nginx')]


def test_phase_two_converts_public_and_internal_calls_and_falls_back_to_the_internal_route():
    rules = routes(2, 'example.com', 'llama-nginx', LITELLM)
    assert [r['from'] for r in rules] == [
        'https://llm.example.com/api/generate', 'https://llm.example.com/api/chat',
        'http://llama-nginx/api/generate', 'http://llama-nginx/api/chat']
    assert all(r['to'] == LITELLM and r['convert'] == 'openai_chat' for r in rules)
    assert [r.get('fallback') for r in rules] == [
        'http://llama-nginx/api/generate', 'http://llama-nginx/api/chat', None, None]


@pytest.mark.parametrize('phase, url', [(3, LITELLM), ('2', None), ('', None)])
def test_an_unknown_phase_or_phase_two_without_litellm_is_an_error(phase, url):
    with pytest.raises(ValueError):
        routes(phase, 'example.com', 'llama-nginx', url)
