"""Verify the preflight role from inside the instance, and prove it refuses bad input."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.dirname(os.path.dirname(SCENARIO))


def test_docker_engine_answers_from_the_instance(host):
    out = host.check_output("docker version --format '{{json .Server.Version}}'")
    assert json.loads(out)


def test_compose_is_v2(host):
    assert host.check_output('docker compose version --short').lstrip('v').startswith('2.')


def test_standin_answers_through_host_docker_internal(host):
    port = os.environ.get('LLM_GATEWAY_STANDIN_PORT', '11434')
    out = host.check_output('curl -sf http://host.docker.internal:%s/api/tags' % port)
    assert 'llama3:latest' in [m['name'] for m in json.loads(out)['models']]


def run_converge(*extra_vars):
    cmd = ['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'],
           os.path.join(SCENARIO, 'converge.yml')]
    for var in extra_vars:
        cmd += ['-e', var]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, '.cache', 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize('bad,expected', [
    ('llm_gateway_ollama_url=localhost:11434', 'llm_gateway_ollama_url must be an http(s) URL'),
    ('llm_gateway_ollama_url=http://host.docker.internal:11434/api', 'llm_gateway_ollama_url must be an http(s) URL'),
    ('{"llm_gateway_models": ["llama3", "bad name!"]}', 'these are not model names: [\\"bad name!\\"]'),
    ('llm_gateway_phase=3', 'llm_gateway_phase'),
])
def test_bad_input_fails_in_preflight_before_any_check(bad, expected):
    rc, out = run_converge(bad)
    assert rc != 0
    assert expected in out, out[-3000:]
    # Refused before the Docker or Ollama checks ran.
    assert 'Ask the Docker engine' not in out and 'ollama_check' not in out.split('PLAY RECAP')[0].split('FAILED')[0]


def test_missing_model_is_named():
    rc, out = run_converge('{"llm_gateway_models": ["llama3", "no-such-model:7b"]}')
    assert rc != 0
    assert 'lacks the model(s) no-such-model:7b' in out, out[-3000:]


def test_non_local_host_header_names_ollamas_host_check():
    """The check from the Docker host runs on its own when the one from the network is off (otherwise only
    when that one fails)."""
    rc, out = run_converge('{"llm_gateway_ollama_headers": {"Host": "llama-nginx"}, "llm_gateway_ollama_retries": 0, '
                           '"llm_gateway_preflight_ollama_network": false}')
    assert rc != 0
    assert 'Check that Ollama answers and has the models (from the Docker host)' in out
    assert "403 Forbidden: that is Ollama's host check" in out, out[-3000:]


def test_nginx_host_header_is_checked_from_the_docker_network():
    """The host-side check passes; asked from the stack's network with the Host header nginx would send,
    Ollama's host check (the Docker Desktop kind) refuses, and the play says which header to change."""
    rc, out = run_converge('{"llm_gateway_ollama_host_header": "llm.example.test", "llm_gateway_ollama_retries": 0}')
    assert rc != 0
    assert 'Check that Ollama answers and has the models (from the Docker host)' in out
    assert 'Host: llm.example.test' in out and 'llm_gateway_ollama_host_header' in out, out[-3000:]
    networks = subprocess.check_output(['docker', 'network', 'ls', '--format', '{{.Name}}'], text=True).split()
    assert not [n for n in networks if n.startswith('llm-gateway-preflight-net')], 'temporary network left behind'


def test_every_litellm_backend_is_checked_in_phase_2():
    rc, out = run_converge('{"llm_gateway_phase": 2, "llm_gateway_ollama_retries": 0, "llm_gateway_litellm_models": '
                           '[{"name": "llama3", "backends": [{"model": "llama3", "api_base": '
                           '"http://host.docker.internal:11434"}, {"model": "llama3", "api_base": '
                           '"http://no-such-backend.invalid:11434"}]}]}')
    assert rc != 0
    assert 'Check every LiteLLM backend from the Docker network' in out
    assert 'no-such-backend.invalid' in out and 'does not resolve' in out, out[-3000:]


@pytest.fixture
def network():
    """Create a Docker network for one test (removed afterwards)."""
    made = []

    def create(name, *args):
        subprocess.run(['docker', 'network', 'create'] + list(args) + [name], check=True, stdout=subprocess.DEVNULL)
        made.append(name)
    yield create
    for name in made:
        subprocess.run(['docker', 'network', 'rm', name], check=False, stdout=subprocess.DEVNULL)


def test_a_subnet_another_network_has_is_refused_naming_it(network):
    network('llm-gateway-preflight-other', '--subnet', '10.218.0.0/16')
    rc, out = run_converge()
    assert rc != 0
    assert 'overlaps the Docker network(s) llm-gateway-preflight-other' in out, out[-3000:]
    assert 'llm_gateway_network_subnet' in out
    assert 'Check that Ollama answers' not in out  # refused before the Ollama checks


def test_a_network_of_the_stacks_name_from_elsewhere_is_refused(network):
    network('llm-gateway-preflight-net', '--subnet', '10.218.77.0/24')
    rc, out = run_converge()
    assert rc != 0
    assert 'A Docker network named llm-gateway-preflight-net already exists, created outside Compose' in out, out[-3000:]
    assert 'llm_gateway_network_name' in out


def test_an_old_compose_is_refused_with_the_floor_named():
    rc, out = run_converge('_preflight_compose_minimum=99.0.0')
    assert rc != 0
    assert "must be Compose 99.0.0 or later" in out and "docker_compose_v2 needs it" in out, out[-3000:]


def test_an_nginx_older_than_1_27_3_is_refused_for_phase_2():
    # Debian bookworm's nginx (1.22), a real older nginx: "server ... resolve" in an upstream is unknown to it.
    image = 'llm-gateway-test/nginx-old:bookworm'
    subprocess.run(['docker', 'build', '-q', '-t', image, '-'], check=True, stdout=subprocess.DEVNULL,
                   input=b'FROM llm-gateway-test/base:bookworm\nRUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive '
                         b'apt-get install -y -qq --no-install-recommends nginx >/dev/null && rm -rf /var/lib/apt/lists/*\n')
    rc, out = run_converge('{"llm_gateway_phase": 2, "llm_gateway_nginx_image": "%s"}' % image)
    assert rc != 0
    assert 'The nginx image %s (llm_gateway_nginx_image) is nginx 1.22' % image in out, out[-3000:]
    assert 'needs nginx 1.27.3 or later' in out
    assert 'Check that Ollama answers' not in out  # refused before the Ollama checks
