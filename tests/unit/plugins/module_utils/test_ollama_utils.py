from __future__ import annotations

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError, classify_connection_error
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._ollama import (
    explain, missing_models, normalize_model, parse_tags, summarize_pull,
)


@pytest.mark.parametrize('given,expected', [
    ('llama3', 'llama3:latest'),
    ('llama3:latest', 'llama3:latest'),
    ('llama3:8b', 'llama3:8b'),
    ('registry.local:5000/library/llama3', 'registry.local:5000/library/llama3:latest'),
    ('hf.co/org/model:Q4_K_M', 'hf.co/org/model:Q4_K_M'),
    (' llama3 ', 'llama3:latest'),
])
def test_normalize_model(given, expected):
    assert normalize_model(given) == expected


def test_parse_tags_maps_fields():
    payload = {'models': [{'name': 'llama3:latest', 'model': 'llama3:latest', 'size': 5, 'digest': 'sha256:ab',
                           'modified_at': '2026-01-01T00:00:00Z', 'details': {}},
                          {'model': 'phi3', 'size': 1}]}
    assert parse_tags(payload) == [
        {'name': 'llama3:latest', 'size': 5, 'digest': 'sha256:ab', 'modified': '2026-01-01T00:00:00Z'},
        {'name': 'phi3:latest', 'size': 1, 'digest': None, 'modified': None},
    ]


@pytest.mark.parametrize('payload', [[], {'data': []}, {'models': 'x'}, {'models': [{'size': 1}]}, {'models': [3]}])
def test_parse_tags_rejects_other_shapes(payload):
    with pytest.raises(ValueError):
        parse_tags(payload)


def test_missing_models_normalizes_and_dedups():
    models = [{'name': 'llama3:latest'}, {'name': 'phi3:mini'}]
    assert missing_models(['llama3', 'llama3:latest', 'phi3:mini', 'phi3', 'mxbai', 'mxbai:latest'], models) == [
        'phi3:latest', 'mxbai:latest']
    assert missing_models([], models) == []


@pytest.mark.parametrize('msg,kind', [
    ('Request failed: <urlopen error [Errno 111] Connection refused>', 'refused'),
    ('Connection failure: timed out', 'timeout'),
    ('Request failed: <urlopen error [Errno -2] Name or service not known>', 'dns'),
    ('Request failed: <urlopen error [Errno -3] Temporary failure in name resolution>', 'dns'),
    ('Connection failure: [Errno 104] Connection reset by peer', 'reset'),
    ('Connection failure: Remote end closed connection without response', 'reset'),
    ('something else', 'connection'),
])
def test_classify_connection_error(msg, kind):
    assert classify_connection_error(msg) == kind


@pytest.mark.parametrize('error,words', [
    (ApiError('GET /api/tags', -1, 'refused', kind='refused'), ['connection refused', 'OLLAMA_HOST', 'host-gateway']),
    (ApiError('GET /api/tags', -1, 'timed out', kind='timeout'), ['did not answer in time', 'timeout']),
    (ApiError('GET /api/tags', -1, 'Name or service not known', kind='dns'), ['resolve', 'host.docker.internal']),
    (ApiError('GET /api/tags', 403, 'HTTP 403'), ['403', 'host check', 'Host', 'OLLAMA_HOST']),
    (ApiError('GET /api/tags', 200, 'not JSON', kind='not_json'), ['not as Ollama does', '11434']),
    (ApiError('GET /api/tags', 502, 'HTTP 502 bad gateway'), ['HTTP 502', 'GET /api/tags']),
])
def test_explain_names_cause_and_fix(error, words):
    text = explain(error, 'http://h:11434')
    assert 'http://h:11434' in text
    for word in words:
        assert word in text


def test_summarize_pull():
    statuses = [{'status': 'pulling manifest'},
                {'status': 'pulling aaa', 'digest': 'sha256:a', 'total': 10, 'completed': 1},
                {'status': 'pulling aaa', 'digest': 'sha256:a', 'total': 10, 'completed': 10},
                {'status': 'pulling bbb', 'digest': 'sha256:b', 'total': 5, 'completed': 5},
                {'status': 'verifying sha256 digest'}, {'status': 'writing manifest'}, {'status': 'success'}]
    assert summarize_pull('m:latest', statuses) == {
        'name': 'm:latest', 'status': 'success', 'layers': 2, 'bytes': 15,
        'steps': ['pulling manifest', 'pulling aaa', 'pulling bbb', 'verifying sha256 digest',
                  'writing manifest', 'success']}
