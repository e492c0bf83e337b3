"""n8n_executions: the executions since a time, counted from n8n's listing (newest first), read only as far as the
first older one; a bound says when it stopped early; a refused listing names the cause."""

from __future__ import annotations

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_client import executions_since
from ansible_collections.local_ai.llm_gateway.plugins.modules import n8n_executions
from conftest import FetchUrlScript

ARGS = {'url': 'http://127.0.0.1:5678', 'api_key': 'n8n_api_unit-test-secret-7f3a9c', 'since': '20261207T200819Z',
        'delay': 0}


def execution(n, started):
    return {'id': str(n), 'workflowId': 'w', 'status': 'success', 'startedAt': started}


def test_the_count_stops_at_the_first_older_execution():
    listed = iter([execution(5, '2026-12-07T20:30:00.000Z'), execution(4, None),
                   execution(3, '2026-12-07T20:08:19.000Z'), execution(2, '2026-12-07T20:08:18.999Z'),
                   execution(1, '2026-12-01T00:00:00.000Z')])
    assert executions_since(listed, '20261207T200819Z') == 3
    assert next(listed)['id'] == '1'  # what comes after the first older one is not read
    with pytest.raises(ValueError):
        executions_since([], 'yesterday')


def test_the_module_reads_pages_until_an_older_one(run_module, install_fetch_url):
    fake = install_fetch_url(FetchUrlScript([
        ('GET', '/api/v1/executions?limit=250&includeData=false', 200,
         {'data': [execution(9, '2026-12-07T21:00:00.000Z')], 'nextCursor': 'c1'}),
        ('GET', '/api/v1/executions?limit=250&includeData=false&cursor=c1', 200,
         {'data': [execution(8, '2026-12-07T20:10:00.000Z'), execution(7, '2026-12-06T10:00:00.000Z')],
          'nextCursor': 'c2'}),
    ]))
    result, failed = run_module(n8n_executions, ARGS, check=True)
    assert not failed and result == dict(result, changed=False, count=2, complete=True)
    assert fake.steps == [] and all(c['headers'].get('X-N8N-API-KEY') for c in fake.calls)
    assert ARGS['api_key'] not in str(result)


def test_a_bound_says_the_count_is_a_least(run_module, install_fetch_url):
    page = {'data': [execution(n, '2026-12-07T21:00:00.000Z') for n in range(250)], 'nextCursor': 'next'}
    install_fetch_url(FetchUrlScript([
        ('GET', '/api/v1/executions?limit=250&includeData=false', 200, page),
        ('GET', '/api/v1/executions?limit=250&includeData=false&cursor=next', 200, dict(page, nextCursor='more')),
    ]))
    result, failed = run_module(n8n_executions, dict(ARGS, max_pages=1))
    assert not failed and result['count'] == 250 and result['complete'] is False


def test_a_refused_listing_names_the_cause(run_module, install_fetch_url):
    install_fetch_url(FetchUrlScript([
        ('GET', '/api/v1/executions?limit=250&includeData=false', 403, {'message': 'Forbidden'})]))
    result, failed = run_module(n8n_executions, ARGS)
    assert failed and "Cannot list n8n's executions" in result['msg'] and '403' in result['msg']
