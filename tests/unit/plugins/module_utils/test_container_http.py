"""The pure parts of _container_http: curl's config, reading curl's outcome, overlaps."""

from __future__ import annotations

import contextlib
import shutil
import subprocess

import pytest
from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._container_http import (
    LOCATION_TRAILER, REUSE_FORMAT, TRAILER, ContainerCurl, ContainerError, curl_config, parse_curl, probe_network,
    reusable, running_stand_in,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError, JsonHttpClient


def unquote(value):
    """curl's reading of a double-quoted config parameter."""
    assert value[0] == '"' and value[-1] == '"'
    out, i, body = [], 0, value[1:-1]
    escapes = {'\\': '\\', '"': '"', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}
    while i < len(body):
        if body[i] == '\\':
            out.append(escapes[body[i + 1]])
            i += 2
        else:
            assert body[i] != '"', 'an unescaped quote ends the parameter early'
            out.append(body[i])
            i += 1
    return ''.join(out)


def params(config):
    found = {}
    for line in config.split('\n'):
        if ' = ' in line:
            name, value = line.split(' = ', 1)
            found.setdefault(name, []).append(unquote(value) if value.startswith('"') else value)
    return found


@given(st.text(), st.text(min_size=1, alphabet=st.characters(blacklist_categories=('Cs',))))
def test_header_and_body_values_survive_curl_quoting(secret, body):
    config = curl_config('POST', 'http://x:1/api', headers={'Authorization': secret}, data=body)
    assert params(config)['header'] == ['Authorization: %s' % secret]
    assert params(config)['data-raw'] == [body]
    # One parameter per line: nothing in a value starts a line of its own.
    assert all(line for line in config.split('\n')[:-1]) and config.endswith('\n')


def test_config_asks_for_the_trailer_and_bounds_the_time():
    p = params(curl_config('GET', 'http://h:11434/api/tags', timeout=7, connect_timeout=2))
    assert p['url'] == ['http://h:11434/api/tags'] and p['request'] == ['GET']
    assert p['max-time'] == ['7.0'] and p['connect-timeout'] == ['2.0']
    assert TRAILER in p['write-out'][0]


def ok(status, body=b'{}', ctype='application/json', connect='0.000412'):
    return body + ('\n%s %s %s %s' % (TRAILER, status, connect, ctype)).encode()


def test_an_answer_is_read_as_fetch_url_reads_it():
    resp, info = parse_curl(0, ok(200, b'{"models": []}', 'application/json; charset=utf-8'), '', 'u')
    assert info['status'] == 200 and info['content-type'] == 'application/json; charset=utf-8'
    assert resp.read() == b'{"models": []}'


def test_an_error_status_carries_its_body():
    resp, info = parse_curl(0, ok(403, b''), '', 'u')
    assert resp is None and info['status'] == 403 and info['body'] == b''


def answered(status, location='', body=b'', ctype='text/html'):
    """curl's output with both trailer lines, as the config asks for them."""
    return body + ('\n%s %s 0.000412 %s\n%s %s' % (TRAILER, status, ctype, LOCATION_TRAILER, location)).encode()


def test_curl_is_not_told_to_follow_redirects_and_reports_where_one_points():
    config = curl_config('GET', 'http://h:11434/api/tags')
    assert not any(line.split(' ')[0] in ('location', 'location-trusted', 'L') for line in config.split('\n'))
    assert '%{redirect_url}' in params(config)['write-out'][0]


@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_a_redirect_is_an_answer_with_its_status_and_location(status):
    resp, info = parse_curl(0, answered(status, 'http://elsewhere:8080/api/tags', b'<a>moved</a>'), '', 'u')
    assert resp is None and info['status'] == status
    assert info['location'] == 'http://elsewhere:8080/api/tags' and info['body'] == b'<a>moved</a>'


def test_a_redirect_without_location_has_none():
    resp, info = parse_curl(0, answered(302), '', 'u')
    assert info['status'] == 302 and 'location' not in info


def test_both_trailer_lines_leave_the_body_and_content_type_alone():
    resp, info = parse_curl(0, answered(200, body=b'{"a": 1}', ctype='application/json; charset=utf-8'), '', 'u')
    assert resp.read() == b'{"a": 1}' and info['content-type'] == 'application/json; charset=utf-8'
    assert 'location' not in info


class Curl:
    """A scripted docker run/exec: each exec answers with the next of ``answers`` and keeps its config."""

    def __init__(self, answers):
        self.answers, self.configs = list(answers), []

    def __call__(self, argv, data=None, binary_data=False):
        if argv[1] != 'exec':
            return 0, b'c0ffee\n', ''
        self.configs.append(params(data))
        return 0, self.answers.pop(0), ''


def test_a_redirect_to_another_origin_is_not_followed_from_the_container():
    curl = Curl([answered(302, 'http://172.17.0.1:9999/api/tags')])
    client = JsonHttpClient(None, 'http://host.docker.internal:11434', secret_headers={'Authorization': 'Bearer s3cret'},
                            retries=2, delay=0, send=ContainerCurl(curl, 'img', 'net'))
    with pytest.raises(ApiError) as caught:
        client.json('GET', '/api/tags')
    assert caught.value.kind == 'redirect' and caught.value.status == 302
    assert 'http://172.17.0.1:9999/api/tags' in str(caught.value) and 's3cret' not in str(caught.value)
    assert [c['url'][0] for c in curl.configs] == ['http://host.docker.internal:11434/api/tags']


def test_a_same_origin_redirect_is_followed_from_the_container():
    curl = Curl([answered(307, 'http://host.docker.internal:11434/ollama/api/tags'),
                 answered(200, body=b'{"models": []}', ctype='application/json')])
    client = JsonHttpClient(None, 'http://host.docker.internal:11434', secret_headers={'Authorization': 'Bearer s3cret'},
                            send=ContainerCurl(curl, 'img', 'net'))
    assert client.json('GET', '/api/tags') == {'models': []}
    assert [c['url'][0] for c in curl.configs] == ['http://host.docker.internal:11434/api/tags',
                                                   'http://host.docker.internal:11434/ollama/api/tags']
    assert curl.configs[1]['header'] == ['Accept: application/json', 'Authorization: Bearer s3cret']


def host_curl(argv, data=None, binary_data=False):
    """``docker run`` and ``docker exec`` as ContainerCurl sends them, the exec'd curl run here instead."""
    if argv[1] != 'exec':
        return 0, b'c0ffee\n', ''
    done = subprocess.run(argv[4:], input=data.encode(), capture_output=True, timeout=30, check=False)
    return done.returncode, done.stdout, done.stderr.decode()


@pytest.mark.skipif(not shutil.which('curl'), reason='needs curl')
def test_real_curl_reports_a_redirect_and_does_not_follow_it(local_server):
    other = local_server(lambda server, request: (200, {}, {'models': []}))
    first = local_server(lambda server, request: (
        (302, {'Location': '/moved'}, b'') if request['path'] == '/api/tags'
        else (302, {'Location': other.url + '/api/tags'}, b'')))
    client = JsonHttpClient(None, first.url, secret_headers={'Authorization': 'Bearer s3cret'},
                            send=ContainerCurl(host_curl, 'img', 'net'))
    with pytest.raises(ApiError) as caught:
        client.json('GET', '/api/tags')
    assert caught.value.kind == 'redirect' and other.url + '/api/tags' in str(caught.value)
    assert [r['path'] for r in first.requests] == ['/api/tags', '/moved']   # the same-origin hop, by the client
    assert all(r['headers']['authorization'] == 'Bearer s3cret' for r in first.requests)
    assert other.requests == []


@pytest.mark.parametrize('rc,stderr,connect,kind', [
    (6, 'curl: (6) Could not resolve host: nope\n', '0', 'dns'),
    (7, '* connect to 172.17.0.1 port 1 failed: Connection refused\n'
        'curl: (7) Failed to connect to 172.17.0.1 port 1 after 0 ms: Couldn\'t connect to server\n', '0', 'refused'),
    (7, '* connect to 172.17.0.1 port 1 failed: No route to host\n'
        'curl: (7) Failed to connect to 172.17.0.1 port 1 after 3 ms: Couldn\'t connect to server\n', '0', 'unreachable'),
    (28, 'curl: (28) Connection timed out after 2001 milliseconds\n', '0.000000', 'connect_timeout'),
    (28, 'curl: (28) Operation timed out after 5000 milliseconds with 0 bytes received\n', '0.000301', 'timeout'),
    (52, 'curl: (52) Empty reply from server\n', '0.0003', 'reset'),
    (56, 'curl: (56) Recv failure: Connection reset by peer\n', '0.0003', 'reset'),
])
def test_no_answer_is_classified(rc, stderr, connect, kind):
    out = ('\n%s 000 %s ' % (TRAILER, connect)).encode()
    resp, info = parse_curl(rc, out, stderr, 'u')
    assert resp is None and info['status'] == -1 and info['kind'] == kind


def test_verbose_request_lines_never_reach_the_message():
    stderr = ('> GET /api/tags HTTP/1.1\n> Authorization: Bearer s3cret\n'
              '* connect to 1.2.3.4 port 1 failed: Connection refused\ncurl: (7) Failed to connect\n')
    dummy, info = parse_curl(7, b'', stderr, 'u')
    assert 's3cret' not in info['msg'] and 'Connection refused' in info['msg']


def test_one_container_serves_the_requests_and_secrets_go_to_stdin():
    calls = []

    def run(argv, data=None, binary_data=False):
        calls.append((argv, data))
        return 0, (b'c0ffee\n' if argv[1] == 'run' else ok(200)), ''
    send = ContainerCurl(run, 'nginx:1.30.0', 'llama-network', add_hosts={'host.docker.internal': 'host-gateway'})
    for dummy in range(2):
        send(None, 'http://host.docker.internal:11434/api/tags', headers={'Authorization': 'Bearer s3cret'},
             method='GET', timeout=3)
    send.close()
    assert [argv[1] for argv, dummy in calls] == ['run', 'exec', 'exec', 'rm']
    start = calls[0][0]
    assert '--add-host=host.docker.internal:host-gateway' in start
    assert start[start.index('--network') + 1] == 'llama-network'
    assert calls[1][0][:4] == ['docker', 'exec', '--interactive', 'c0ffee'] and calls[3][0][-1] == 'c0ffee'
    assert not any('s3cret' in a for argv, dummy in calls for a in argv)
    assert 'Bearer s3cret' in calls[1][1]


@pytest.mark.parametrize('step,rc,stderr,words', [
    ('run', 125, 'docker: Error response from daemon: network x not found.', 'could not start a container'),
    ('exec', 127, 'exec: "curl": executable file not found in $PATH', 'has no curl'),
])
def test_docker_failures_are_not_taken_for_ollama_answers(step, rc, stderr, words):
    def run(argv, data=None, binary_data=False):
        return (rc, '', stderr) if argv[1] == step else (0, 'c0ffee', '')
    send = ContainerCurl(run, 'img', 'net')
    with pytest.raises(ContainerError) as caught:
        send(None, 'http://h/api/tags', method='GET')
    assert words in str(caught.value)


class Docker:
    """A scripted `docker` for probe_network."""

    def __init__(self, exists, create_rc=0):
        self.exists, self.create_rc, self.calls = exists, create_rc, []

    def __call__(self, argv, data=None, binary_data=False):
        self.calls.append(argv[1:3])
        if argv[1:3] == ['network', 'inspect'] and argv[-1] != 'ids':
            return (0, argv[-1], '') if self.exists and '--format' in argv and len(argv) == 6 else (1, '', 'no such')
        if argv[1:3] == ['network', 'create']:
            return self.create_rc, '', 'Pool overlaps with other one on this address space'
        if argv[1:3] == ['network', 'ls']:
            return 0, 'id1\n', ''
        return 0, '', ''


def test_an_existing_network_is_used_and_left_alone():
    docker = Docker(exists=True)
    with probe_network(docker, 'llama-network', '172.29.77.0/24') as net:
        assert net == 'llama-network'
    assert ['network', 'create'] not in docker.calls and ['network', 'rm'] not in docker.calls


def test_a_missing_network_gets_a_temporary_one_removed_even_on_failure():
    docker = Docker(exists=False)
    with contextlib.suppress(RuntimeError):
        with probe_network(docker, 'llama-network', '172.29.77.0/24', '172.29.77.1') as net:
            assert net.startswith('llama-network-probe-')
            raise RuntimeError('the check failed')
    assert docker.calls[-1] == ['network', 'rm']


def test_no_subnet_no_network():
    with pytest.raises(ContainerError):
        with probe_network(Docker(exists=False), 'llama-network'):
            pass


def test_a_running_container_serves_the_requests_and_stays():
    calls = []

    def run(argv, data=None, binary_data=False):
        calls.append(argv)
        return 0, ok(200), ''
    send = ContainerCurl(run, None, 'llama-network', running='llama-nginx')
    send(None, 'http://llama-nginx/api/tags', method='GET', timeout=3)
    send.close()
    assert calls == [['docker', 'exec', '--interactive', 'llama-nginx', 'curl', '--config', '-']]


def test_a_container_that_does_not_run_is_named_not_taken_for_an_answer():
    def run(argv, data=None, binary_data=False):
        return 1, '', 'Error response from daemon: container 3f2a is not running'
    send = ContainerCurl(run, None, 'llama-network', running='llama-nginx')
    with pytest.raises(ContainerError, match='could not run curl in the container llama-nginx: .*is not running'):
        send(None, 'http://llama-nginx/api/tags', method='GET')


@pytest.mark.parametrize('inspected, expected', [
    ('true\n{"llama-network": {}}\n["host.docker.internal:host-gateway"]', True),
    ('true\n{"llama-network": {}, "bridge": {}}\n["host.docker.internal=host-gateway", "x:1.2.3.4"]', True),
    ('false\n{"llama-network": {}}\n["host.docker.internal:host-gateway"]', False),
    ('true\n{"bridge": {}}\n["host.docker.internal:host-gateway"]', False),
    ('true\n{"llama-network": {}}\nnull', False),
    ('true\n{"llama-network": {}}\n["host.docker.internal:172.17.0.1"]', False),
    ('', False),
    ('true\nnot json\n[]', False),
])
def test_a_running_container_stands_in_only_when_it_asks_as_a_throwaway_one_would(inspected, expected):
    assert reusable(inspected, 'llama-network', {'host.docker.internal': 'host-gateway'}) is expected


def test_the_stand_in_is_inspected_with_the_format_reusable_reads():
    calls = []

    def run(argv, data=None, binary_data=False):
        calls.append(argv)
        return (0, 'true\n{"llama-network": {}}\n["host.docker.internal:host-gateway"]\n', '') if argv[-1] == 'llama-nginx' \
            else (1, '', 'Error: No such container: gone')
    add = {'host.docker.internal': 'host-gateway'}
    assert running_stand_in(run, 'llama-nginx', 'llama-network', add) == 'llama-nginx'
    assert running_stand_in(run, 'gone', 'llama-network', add) is None
    assert calls[0] == ['docker', 'container', 'inspect', '--format', REUSE_FORMAT, 'llama-nginx']
