"""ollama_check against the Ollama stand-in over real HTTP."""

from __future__ import annotations

import json

from conftest import Standin, free_port, run_module


def test_reachable_with_models(fresh_standin):
    result, dummy = run_module('ollama_check', {'url': fresh_standin.url, 'models': ['llama3']})
    assert not result.get('failed'), result
    assert result['changed'] is False and result['reachable'] is True
    assert result['version'] and result['missing'] == []
    assert [m['name'] for m in result['models']] == ['llama3:latest']
    assert result['models'][0]['digest'].startswith('sha256:') and result['models'][0]['size'] > 0
    assert 0 < result['latency_ms'] < 1000


def test_missing_model_fails_and_names_it(fresh_standin):
    result, dummy = run_module('ollama_check', {'url': fresh_standin.url, 'models': ['llama3', 'phi3:mini']})
    assert result['failed'] and result['missing'] == ['phi3:mini']
    assert 'lacks the model(s) phi3:mini' in result['msg']


def test_host_check_403_is_explained(fresh_standin):
    result, dummy = run_module('ollama_check', {'url': fresh_standin.url, 'headers': {'Host': 'llama-nginx'}})
    assert result['failed'] and result['status'] == 403
    assert "Ollama's host check" in result['msg'] and 'OLLAMA_HOST' in result['msg']


def test_local_host_header_passes_the_host_check(fresh_standin):
    result, dummy = run_module('ollama_check', {'url': fresh_standin.url, 'headers': {'Host': 'localhost:11434'}})
    assert not result.get('failed'), result


def test_connection_refused_is_explained():
    port = free_port()  # nothing listens there
    result, dummy = run_module('ollama_check', {'url': 'http://127.0.0.1:%d' % port, 'retries': 1, 'delay': 0.2})
    assert result['failed'] and 'connection refused' in result['msg'] and result['reachable'] is False


def test_stalled_server_is_bounded_by_timeout(fresh_standin):
    fresh_standin.configure(fail_mode='stall', fail_count=-1)
    result, elapsed = run_module('ollama_check', {'url': fresh_standin.url, 'timeout': 1})
    assert result['failed'] and 'did not answer in time' in result['msg']
    assert elapsed < 15  # one 1 s timeout plus ansible's own start-up, far from the stall


def test_server_error_is_retried(fresh_standin):
    fresh_standin.configure(fail_mode='status', fail_status=500, fail_count=2)
    result, dummy = run_module('ollama_check', {'url': fresh_standin.url, 'retries': 2, 'delay': 0.1})
    assert not result.get('failed'), result
    assert fresh_standin.state()['requests']['/api/tags'] == 3


def test_server_error_without_retries_fails(fresh_standin):
    fresh_standin.configure(fail_mode='status', fail_status=500, fail_count=-1)
    result, dummy = run_module('ollama_check', {'url': fresh_standin.url})
    assert result['failed'] and 'HTTP 500' in result['msg']


def test_not_ollama(tmp_path):
    # A real HTTP server that is not Ollama: Python's own, serving a folder.
    import subprocess
    import sys
    import time
    (tmp_path / 'api').mkdir()
    (tmp_path / 'api' / 'tags').write_text('<html>not ollama</html>')
    port = free_port()
    proc = subprocess.Popen([sys.executable, '-m', 'http.server', '-b', '127.0.0.1', str(port)], cwd=str(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        result, dummy = run_module('ollama_check', {'url': 'http://127.0.0.1:%d' % port, 'retries': 3, 'delay': 0.3})
    finally:
        proc.terminate()
    assert result['failed'] and 'not as Ollama does' in result['msg']


def test_pull_missing_check_mode_then_real_then_idempotent(tmp_path):
    s = Standin(tmp_path, models='llama3:latest')
    try:
        args = {'url': s.url, 'models': ['llama3', 'phi3'], 'pull_missing': True}
        result, dummy = run_module('ollama_check', args, check=True)
        assert not result.get('failed') and result['changed'] is True
        assert result['pulled'] == [{'name': 'phi3:latest', 'status': 'would pull'}]
        assert s.models() == ['llama3:latest']  # check mode pulled nothing

        result, dummy = run_module('ollama_check', args)
        assert not result.get('failed') and result['changed'] is True and result['missing'] == []
        assert result['pulled'][0]['name'] == 'phi3:latest' and result['pulled'][0]['status'] == 'success'
        assert result['pulled'][0]['steps'][0] == 'pulling manifest'
        assert s.models() == ['llama3:latest', 'phi3:latest']

        result, dummy = run_module('ollama_check', args)
        assert not result.get('failed') and result['changed'] is False and result['pulled'] == []
    finally:
        s.stop()


def test_headers_never_reach_the_output(fresh_standin):
    secret = 'Bearer sk-integration-secret-123'
    result, dummy = run_module('ollama_check', {'url': fresh_standin.url, 'headers': {'Authorization': secret}})
    assert not result.get('failed'), result
    assert 'sk-integration-secret-123' not in result['_stdout']
    logged = [json.loads(line) for line in open(fresh_standin.log)]
    assert any(entry.get('path') == '/api/tags' for entry in logged)
    assert 'sk-integration-secret-123' not in open(fresh_standin.log).read()
