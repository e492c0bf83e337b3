from __future__ import annotations

import json

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.modules import ollama_check

TAGS = {'models': [{'name': 'llama3:latest', 'size': 4, 'digest': 'sha256:1', 'modified_at': 't'}]}
TAGS_AFTER = {'models': TAGS['models'] + [{'name': 'phi3:latest', 'size': 2, 'digest': 'sha256:2', 'modified_at': 't'}]}
PULL = b'\n'.join(json.dumps(x).encode() for x in [
    {'status': 'pulling manifest'}, {'status': 'pulling 2', 'digest': 'sha256:2', 'total': 2, 'completed': 2},
    {'status': 'success'}]) + b'\n'
URL = 'http://127.0.0.1:11434'


def test_reachable_with_models(run_module, fetch_script):
    script = fetch_script([('GET', '/api/tags', 200, TAGS), ('GET', '/api/version', 200, {'version': '0.6.5'})])
    result, failed = run_module(ollama_check, {'url': URL + '/', 'models': ['llama3']})
    assert not failed and result['changed'] is False
    assert result['reachable'] is True and result['version'] == '0.6.5'
    assert result['missing'] == [] and result['models'][0]['name'] == 'llama3:latest'
    assert isinstance(result['latency_ms'], float)
    assert [c['url'] for c in script.calls] == [URL + '/api/tags', URL + '/api/version']


def test_missing_model_fails_and_lists_it(run_module, fetch_script):
    fetch_script([('GET', '/api/tags', 200, TAGS), ('GET', '/api/version', 200, {'version': '1'})])
    result, failed = run_module(ollama_check, {'url': URL, 'models': ['llama3', 'phi3']})
    assert failed and result['missing'] == ['phi3:latest']
    assert 'phi3:latest' in result['msg'] and 'pull_missing' in result['msg']


def test_missing_model_reported_only(run_module, fetch_script):
    fetch_script([('GET', '/api/tags', 200, TAGS), ('GET', '/api/version', 200, {'version': '1'})])
    result, failed = run_module(ollama_check, {'url': URL, 'models': ['phi3'], 'fail_on_missing': False})
    assert not failed and result['missing'] == ['phi3:latest'] and result['changed'] is False


def test_pull_missing(run_module, fetch_script):
    script = fetch_script([('GET', '/api/tags', 200, TAGS), ('GET', '/api/version', 200, {'version': '1'}),
                           ('POST', '/api/pull', 200, PULL), ('GET', '/api/tags', 200, TAGS_AFTER)])
    result, failed = run_module(ollama_check, {'url': URL, 'models': ['llama3', 'phi3'], 'pull_missing': True})
    assert not failed and result['changed'] is True and result['missing'] == []
    assert result['pulled'] == [{'name': 'phi3:latest', 'status': 'success', 'layers': 1, 'bytes': 2,
                                 'steps': ['pulling manifest', 'pulling 2', 'success']}]
    assert script.calls[2]['data'] == {'model': 'phi3:latest', 'stream': True}


def test_pull_missing_check_mode_only_reads(run_module, fetch_script):
    script = fetch_script([('GET', '/api/tags', 200, TAGS), ('GET', '/api/version', 200, {'version': '1'})])
    result, failed = run_module(ollama_check, {'url': URL, 'models': ['phi3'], 'pull_missing': True}, check=True)
    assert not failed and result['changed'] is True
    assert result['pulled'] == [{'name': 'phi3:latest', 'status': 'would pull'}]
    assert all(c['method'] == 'GET' for c in script.calls)


def test_pull_error_line_fails(run_module, fetch_script):
    bad = b'{"status":"pulling manifest"}\n{"error":"pull model manifest: file does not exist"}\n'
    fetch_script([('GET', '/api/tags', 200, TAGS), ('GET', '/api/version', 200, {'version': '1'}),
                  ('POST', '/api/pull', 200, bad)])
    result, failed = run_module(ollama_check, {'url': URL, 'models': ['nope'], 'pull_missing': True})
    assert failed and 'file does not exist' in result['msg'] and result['missing'] == ['nope:latest']


def test_403_names_host_check(run_module, fetch_script):
    fetch_script([('GET', '/api/tags', 403, b'')])
    result, failed = run_module(ollama_check, {'url': URL})
    assert failed and 'host check' in result['msg'] and result['reachable'] is False and result['status'] == 403


def test_retries_then_succeeds(run_module, fetch_script):
    script = fetch_script([('GET', '/api/tags', -1, 'Request failed: <urlopen error [Errno 111] Connection refused>'),
                           ('GET', '/api/tags', 503, b'starting'),
                           ('GET', '/api/tags', 200, TAGS), ('GET', '/api/version', 200, {'version': '1'})])
    result, failed = run_module(ollama_check, {'url': URL, 'retries': 2, 'delay': 0})
    assert not failed and len(script.calls) == 4


def test_refused_after_retries(run_module, fetch_script):
    script = fetch_script([('GET', '/api/tags', -1, 'Request failed: <urlopen error [Errno 111] Connection refused>')] * 2)
    result, failed = run_module(ollama_check, {'url': URL, 'retries': 1, 'delay': 0})
    assert failed and 'connection refused' in result['msg'] and len(script.calls) == 2


def test_404_is_not_retried(run_module, fetch_script):
    script = fetch_script([('GET', '/api/tags', 404, b'404 page not found')])
    result, failed = run_module(ollama_check, {'url': URL, 'retries': 3})
    assert failed and 'HTTP 404' in result['msg'] and len(script.calls) == 1


def test_not_ollama(run_module, fetch_script):
    fetch_script([('GET', '/api/tags', 200, b'<html>n8n</html>')])
    result, failed = run_module(ollama_check, {'url': URL})
    assert failed and 'not as Ollama does' in result['msg']


def test_json_but_not_ollama(run_module, fetch_script):
    fetch_script([('GET', '/api/tags', 200, {'data': []})])
    result, failed = run_module(ollama_check, {'url': URL})
    assert failed and 'not as Ollama does' in result['msg']


def test_headers_are_sent_and_never_echoed(run_module, fetch_script):
    script = fetch_script([('GET', '/api/tags', 403, b'')])
    result, failed = run_module(ollama_check, {'url': URL, 'headers': {'Authorization': 'Bearer s3cr3t-token'}})
    assert script.calls[0]['headers']['Authorization'] == 'Bearer s3cr3t-token'
    assert 's3cr3t-token' not in json.dumps(result)


def test_bad_url_fails_before_any_call(run_module, fetch_script):
    script = fetch_script([])
    for url in ('localhost:11434', 'ftp://x', 'http://'):
        result, failed = run_module(ollama_check, {'url': url})
        assert failed and 'url must be' in result['msg']
    assert script.calls == []


# ---------------------------------------------------------------------------------------------
# Over the real fetch_url, against local servers.

AUTH = 'Bearer ollama-redirect-secret-2b7c'


def ollama(server, request):
    """Enough of Ollama for the check, answering only a request that carries the Authorization header."""
    if request['headers'].get('authorization') != AUTH:
        return 401, {}, {'error': 'unauthorized'}
    path = request['path'].rsplit('/api/', 1)[-1]
    return 200, {'Content-Type': 'application/json'}, TAGS if path == 'tags' else {'version': '0.6.5'}


@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_a_redirect_to_another_address_fails_and_never_gets_the_headers(run_module, local_server, status):
    other = local_server(ollama)
    first = local_server(lambda server, request: (status, {'Location': other.url + request['path']}, b''))
    result, failed = run_module(ollama_check, {'url': first.url, 'models': ['llama3'], 'retries': 2, 'delay': 0,
                                               'headers': {'Authorization': AUTH}})
    assert failed and result['reachable'] is False and result['status'] == status
    assert other.requests == []
    assert len(first.requests) == 1 and first.requests[0]['headers']['authorization'] == AUTH
    assert other.url + '/api/tags' in result['msg'] and 'another origin' in result['msg']
    assert 'answers directly' in result['msg']
    assert 'ollama-redirect-secret' not in json.dumps(result)


def test_a_redirect_within_the_address_is_followed_with_the_headers(run_module, local_server):
    def behind_a_prefix(server, request):
        if not request['path'].startswith('/ollama/'):
            return 308, {'Location': '/ollama' + request['path']}, b''
        return ollama(server, request)
    server = local_server(behind_a_prefix)
    result, failed = run_module(ollama_check, {'url': server.url, 'models': ['llama3'],
                                               'headers': {'Authorization': AUTH}})
    assert not failed, result
    assert result['reachable'] is True and result['version'] == '0.6.5'
    assert [r['path'] for r in server.requests] == ['/api/tags', '/ollama/api/tags', '/api/version',
                                                    '/ollama/api/version']
