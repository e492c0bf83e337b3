"""ollama_check asked from a throwaway container on a Docker network, against the
stand-in serving as each kind of host serves Ollama:

* linux-default: Ollama as installed on Linux, OLLAMA_HOST unset, so it listens on
  127.0.0.1 only (here 127.0.0.1:<port>): the host reaches it, containers do not;
* linux-configured: OLLAMA_HOST=0.0.0.0:<port>: containers reach it, and Ollama
  checks no Host header (it listens beyond loopback);
* desktop: reachable from containers with Ollama's host check on (Docker Desktop
  forwards host.docker.internal to a loopback-bound Ollama);
* a firewall that drops or rejects the containers' traffic (iptables rules on this
  machine, for the test network's subnet and the stand-in's port only);
* an address that answers with a redirect to another address, which must never get
  the request's headers.

The container's network is created by the module for the check (the stack's network
does not exist yet on a fresh host) and must be gone afterwards.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from conftest import STANDIN, bridge_address, free_port, http_json, run_module

IMAGE = os.environ.get('LLM_GATEWAY_NGINX_IMAGE', 'llm-gateway-test/nginx:latest')
NETWORK = 'llm-gateway-itest-probe'
# Outside Docker's default address pools, so it never collides with a network Docker picks.
SUBNET_BYTE = random.randint(16, 250)
SUBNET = '10.216.%d.0/24' % SUBNET_BYTE
GATEWAY = '10.216.%d.1' % SUBNET_BYTE


@contextlib.contextmanager
def standin(*args, ollama_host=None):
    """A stand-in process; with OLLAMA_HOST it listens where Ollama would for that value."""
    env = dict(os.environ)
    env.pop('OLLAMA_HOST', None)
    if ollama_host is not None:
        env['OLLAMA_HOST'] = ollama_host
    proc = subprocess.Popen([sys.executable, STANDIN, '--name', 'network-itest'] + list(args), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield proc
    proc.terminate()
    proc.wait(timeout=10)


def wait_state(url):
    deadline = time.monotonic() + 15
    while True:
        try:
            return http_json('GET', url + '/_standin/state', timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def from_network(url, **extra):
    args = dict(url=url, models=['llama3'], timeout=5, retries=0,
                container=dict(image=IMAGE, network=NETWORK, subnet=SUBNET, gateway=GATEWAY, connect_timeout=2))
    args.update(extra)
    return run_module('ollama_check', args)[0]


def probe_networks():
    out = subprocess.check_output(['docker', 'network', 'ls', '--format', '{{.Name}}'], text=True)
    return [n for n in out.split() if n.startswith(NETWORK)]


@pytest.fixture(autouse=True)
def no_network_left_behind():
    assert probe_networks() == []
    yield
    assert probe_networks() == [], 'the check left its temporary network behind'


@contextlib.contextmanager
def iptables(*rule):
    """One INPUT rule for the test network's traffic to one port, removed afterwards."""
    subprocess.run(['iptables', '-I', 'INPUT'] + list(rule), check=True)
    try:
        yield
    finally:
        subprocess.run(['iptables', '-D', 'INPUT'] + list(rule), check=True)


def test_linux_default_host_reaches_it_containers_are_refused():
    port = free_port()
    with standin(ollama_host='127.0.0.1:%d' % port):
        state = wait_state('http://127.0.0.1:%d' % port)
        assert state['host_check']['active'] is True  # a loopback bind checks the Host header
        here, dummy = run_module('ollama_check', {'url': 'http://127.0.0.1:%d' % port, 'models': ['llama3']})
        assert not here.get('failed'), here
        result = from_network('http://host.docker.internal:%d' % port)
    assert result['failed'] and result['reachable'] is False
    assert result['checked_from'] == 'container on %s' % NETWORK
    assert 'connection refused' in result['msg'] and 'OLLAMA_HOST' in result['msg']
    assert '127.0.0.1 only' in result['msg'] and 'ollama_host' in result['msg']


def test_linux_configured_is_reached_and_checks_no_host_header():
    port = free_port()
    with standin(ollama_host='0.0.0.0:%d' % port):
        state = wait_state('http://127.0.0.1:%d' % port)
        assert state['host_check']['active'] is False
        result = from_network('http://host.docker.internal:%d' % port, host_header='llm.example.test')
    assert not result.get('failed'), result
    assert result['reachable'] is True and result['missing'] == []
    assert result['checked_from'] == 'container on %s' % NETWORK


def test_desktop_host_check_403_names_the_host_header_and_the_fix():
    port = free_port()
    with standin('--host', bridge_address(), '--port', str(port), '--host-check', 'on'):
        wait_state('http://%s:%d' % (bridge_address(), port))
        refused = from_network('http://host.docker.internal:%d' % port, host_header='llm.example.test')
        allowed = from_network('http://host.docker.internal:%d' % port, host_header='localhost:11434')
    assert refused['failed'] and refused['status'] == 403
    assert 'Host: llm.example.test' in refused['msg'] and 'Docker Desktop' in refused['msg']
    assert 'llm_gateway_ollama_host_header' in refused['msg']
    assert not allowed.get('failed'), allowed


def test_firewall_drop_is_told_from_refused():
    port = free_port()
    with standin(ollama_host='0.0.0.0:%d' % port):
        wait_state('http://127.0.0.1:%d' % port)
        with iptables('-p', 'tcp', '-s', SUBNET, '--dport', str(port), '-j', 'DROP'):
            started = time.monotonic()
            result = from_network('http://host.docker.internal:%d' % port)
            elapsed = time.monotonic() - started
    assert result['failed'] and 'a firewall on the Docker host drops them' in result['msg'], result['msg']
    assert 'connection refused' not in result['msg']
    assert elapsed < 60  # bounded by the 2 s connect timeout (plus Ansible and Docker start-up)


def test_firewall_reject_is_told_from_refused():
    port = free_port()
    with standin(ollama_host='0.0.0.0:%d' % port):
        wait_state('http://127.0.0.1:%d' % port)
        with iptables('-p', 'tcp', '-s', SUBNET, '--dport', str(port), '-j', 'REJECT',
                      '--reject-with', 'icmp-host-prohibited'):
            result = from_network('http://host.docker.internal:%d' % port)
    assert result['failed'] and 'a firewall on the Docker host rejects' in result['msg'], result['msg']


def test_stalled_ollama_is_told_from_a_drop():
    port = free_port()
    with standin(ollama_host='0.0.0.0:%d' % port):
        url = 'http://127.0.0.1:%d' % port
        wait_state(url)
        http_json('POST', url + '/_standin/config', {'fail_mode': 'stall', 'fail_count': -1})
        result = from_network('http://host.docker.internal:%d' % port, timeout=2)
    assert result['failed'] and 'accepted a connection' in result['msg'] and 'did not answer in time' in result['msg']


def test_unknown_name_is_a_dns_failure():
    result = from_network('http://no-such-ollama.invalid:11434')
    assert result['failed'] and 'does not resolve' in result['msg']


def test_subnet_taken_by_another_network_is_named():
    name = 'llm-gateway-itest-overlap'
    subprocess.run(['docker', 'network', 'create', '--subnet', '10.216.%d.0/25' % SUBNET_BYTE, name],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        result = from_network('http://host.docker.internal:11434')
    finally:
        subprocess.run(['docker', 'network', 'rm', name], check=True, stdout=subprocess.DEVNULL)
    assert result['failed'] and name in result['msg'] and 'llm_gateway_network_subnet' in result['msg']


def test_an_existing_network_is_used_as_it_is():
    port = free_port()
    subprocess.run(['docker', 'network', 'create', '--subnet', SUBNET, NETWORK], check=True, stdout=subprocess.DEVNULL)
    try:
        with standin(ollama_host='0.0.0.0:%d' % port):
            wait_state('http://127.0.0.1:%d' % port)
            result = from_network('http://host.docker.internal:%d' % port)
        assert not result.get('failed'), result
        # Still there: the check removes only what it created.
        assert probe_networks() == [NETWORK]
    finally:
        subprocess.run(['docker', 'network', 'rm', NETWORK], check=True, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def recording_server(address, answer):
    """An HTTP server on ADDRESS (an ephemeral port) that records every request's headers
    (lower-case names) in ``.requests`` and answers ``answer(path) -> (status, headers, body)``."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(dict((k.lower(), v) for k, v in self.headers.items()))
            status, headers, body = answer(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    server.requests = requests
    server.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_to_another_address_is_not_followed_and_never_gets_the_headers():
    secret = 'Bearer itest-redirect-secret-6c0d'
    tags = json.dumps({'models': [{'name': 'llama3:latest', 'size': 1, 'digest': 'd', 'modified_at': 't'}]}).encode()
    bridge = bridge_address()
    with recording_server(bridge, lambda path: (200, {'Content-Type': 'application/json'}, tags)) as other:
        elsewhere = 'http://host.docker.internal:%d' % other.port
        with recording_server(bridge, lambda path: (302, {'Location': elsewhere + path}, b'')) as first:
            result = from_network('http://host.docker.internal:%d' % first.port, retries=2, delay=0,
                                  headers={'Authorization': secret})
    assert result['failed'] and result['reachable'] is False and result['status'] == 302
    assert elsewhere + '/api/tags' in result['msg'] and 'another origin' in result['msg'], result['msg']
    assert 'itest-redirect-secret' not in json.dumps(result)
    # The address named in url got the header once (a redirect is not retried); the other one got nothing.
    assert [r.get('authorization') for r in first.requests] == [secret]
    assert other.requests == []
