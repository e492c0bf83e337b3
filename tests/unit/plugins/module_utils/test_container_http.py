"""The pure parts of _container_http: curl's config, reading curl's outcome, overlaps."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._container_http import (
    TRAILER, ContainerCurl, ContainerError, curl_config, parse_curl, probe_network,
)


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
