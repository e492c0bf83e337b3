# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""litellm_key end to end against a local HTTP server: every failure comes out of main, the keys never."""

from __future__ import annotations

import json

from ansible_collections.local_ai.llm_gateway.plugins.modules import litellm_key

MASTER = 'sk-master-unit-test-0123456789abcdef'
KEY = 'sk-n8n-unit-test-' + '7f3a9c' * 6


def args(url, **extra):
    base = {'url': url, 'master_key': MASTER, 'key': KEY, 'models': ['llama3'], 'retries': 0, 'delay': 0}
    base.update(extra)
    return base


def test_bad_input_fails_before_any_call(run_module, local_server):
    server = local_server(lambda s, r: (500, {}, {}))
    result, failed = run_module(litellm_key, args('ftp://litellm'))
    assert failed and result['msg'].startswith('url must be an http:// or https:// URL')
    result, failed = run_module(litellm_key, args(server.url, rpm_limit=-1))
    assert failed and result['msg'] == 'rpm_limit must not be negative'
    result, failed = run_module(litellm_key, args(server.url, key='short'))
    assert failed and result['msg'].startswith('key is refused: ') and 'openssl rand' in result['msg']
    assert server.requests == []


def test_a_missing_key_is_created_then_nothing_changes(run_module, local_server):
    keys = {}

    def answer(server, request):
        if request['path'].startswith('/key/info'):
            return (200, {}, {'info': keys['made']}) if keys else (404, {}, {'detail': 'not found'})
        if request['path'] == '/key/generate':
            body = json.loads(request['body'])
            keys['made'] = dict((k, v) for k, v in body.items() if k != 'key')
            return 200, {}, {'key': body['key']}
        return 404, {}, {}
    server = local_server(answer)
    result, failed = run_module(litellm_key, args(server.url))
    assert not failed and result['changed'] and result['operation'] == 'created'
    result, failed = run_module(litellm_key, args(server.url))
    assert not failed and not result['changed'] and result['operation'] == 'none'
    assert KEY not in json.dumps(result) and MASTER not in json.dumps(result)


def test_a_refusal_names_the_cause_with_its_status(run_module, local_server):
    server = local_server(lambda s, r: (401, {}, {'error': {'message': 'Authentication Error'}}))
    result, failed = run_module(litellm_key, args(server.url))
    assert failed and result['status'] == 401 and MASTER not in json.dumps(result)
    result, failed = run_module(litellm_key, args('http://127.0.0.1:9'))
    assert failed and 'did not answer' in result['msg'] and 'docker ps' in result['msg']
