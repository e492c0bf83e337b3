"""Limits that hold across LiteLLM replicas: the litellm role's configuration for two replicas sharing the
stack's Redis, run by two real LiteLLM containers (llm-gateway-test/litellm) and the Redis test image
(llm-gateway-test/redis, Debian's redis-server), in front of the Ollama stand-in on the Docker bridge.

A backend's rpm is counted once a calendar minute for every replica together: after rpm requests through
one replica, the other, which has served none, refuses the next. The compose file stands in for the stack
role's, in its shape (the secret file's entrypoint, one network). About 90 seconds.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from conftest import STANDIN, docker, free_port, play_role

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                'plugins', 'filter'))
from secret_env_entrypoint import secret_env_entrypoint  # noqa: E402  pylint: disable=wrong-import-position

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness')
NAME = 'lgt-replicas-%s' % secrets.token_hex(3)
LITELLM_IMAGE = 'llm-gateway-test/litellm:latest'
REDIS_IMAGE = 'llm-gateway-test/redis:latest'
RPM = 3
LIVELINESS = ("import urllib.request; "
              "urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness', timeout=3)")
SERVICE = """\
  {service}:
    image: {image}
    container_name: {container}
    entrypoint: {entrypoint}
    command: ["--config", "/app/config.yaml", "--port", "4000"]
    environment:
      LITELLM_LOCAL_MODEL_COST_MAP: "True"
      LITELLM_TELEMETRY_DISABLED: "true"
      NUM_WORKERS: "1"
    volumes:
      - ./litellm/config.yaml:/app/config.yaml:ro
      - ./env/litellm-secrets:/run/secrets/llm-gateway:ro
    ports:
      - "127.0.0.1:{port}:4000"
    extra_hosts:
      - host.docker.internal:host-gateway
    networks: [{network}]
    depends_on: [redis]
"""
COMPOSE = """\
name: {network}
services:
{services}
  redis:
    image: {redis_image}
    container_name: {redis}
    command: ["redis-server", "--requirepass", "{password}"]
    networks: [{network}]
networks:
  {network}:
    name: {network}
"""


class Replicas:
    def __init__(self, base):
        self.base = base
        self.root = os.path.join(base, 'stack')
        self.key = 'sk-' + secrets.token_hex(32)
        self.password = secrets.token_hex(16)
        self.ports = [free_port(), free_port()]
        addr = subprocess.run(['bash', os.path.join(HARNESS, 'standin.sh'), 'addr'],
                              capture_output=True, text=True, check=True).stdout.strip()
        self.standin_port = free_port()
        self.standin = subprocess.Popen(
            [sys.executable, STANDIN, '--host', addr, '--port', str(self.standin_port), '--host-check', 'on',
             '--name', NAME], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen('http://%s:%d/_standin/state' % (addr, self.standin_port), timeout=2).read()
                break
            except OSError:
                if self.standin.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('stand-in did not start: %s' % self.standin.stderr.read())
                time.sleep(0.1)

    def play(self):
        variables = {
            'llm_gateway_root': self.root,
            'llm_gateway_phase': 2,
            'llm_gateway_litellm_image': LITELLM_IMAGE,
            'llm_gateway_litellm_container': NAME,
            'llm_gateway_litellm_master_key': self.key,
            'llm_gateway_litellm_replicas': 2,
            'llm_gateway_redis_container': NAME + '-redis',
            'llm_gateway_redis_password': self.password,
            'llm_gateway_litellm_models': [{'name': 'llama3', 'backends': [
                {'model': 'llama3', 'api_base': 'http://host.docker.internal:%d' % self.standin_port, 'rpm': RPM}]}],
            'llm_gateway_litellm_wait_timeout': 240,
        }
        stats, failed, proc = play_role(self.base, 'litellm', variables)
        for secret in (self.key, self.password):
            assert secret not in proc.stdout and secret not in proc.stderr, 'a secret leaked into the output'
        return stats, failed

    def up(self):
        entrypoint = json.dumps(secret_env_entrypoint('/run/secrets/llm-gateway/litellm.env',
                                                      '/app/docker-entrypoint.sh')).replace('$', '$$')
        services = ''.join(SERVICE.format(service=service, image=LITELLM_IMAGE, container=container, port=port,
                                          entrypoint=entrypoint, network=NAME)
                           for service, container, port in (('litellm', NAME, self.ports[0]),
                                                            ('litellm-2', NAME + '-2', self.ports[1])))
        with open(os.path.join(self.root, 'docker-compose.yml'), 'w') as f:
            f.write(COMPOSE.format(network=NAME, services=services, redis_image=REDIS_IMAGE, redis=NAME + '-redis',
                                   password=self.password))
        docker('compose', '--project-directory', self.root, 'up', '--detach')
        deadline = time.monotonic() + 240
        for container in (NAME, NAME + '-2'):
            while docker('exec', container, 'python3', '-c', LIVELINESS, check=False).returncode != 0:
                assert time.monotonic() < deadline, docker('logs', '--tail', '40', container, check=False).stdout
                time.sleep(0.5)

    def chat(self, replica):
        conn = http.client.HTTPConnection('127.0.0.1', self.ports[replica], timeout=60)
        body = {'model': 'llama3', 'max_tokens': 1, 'messages': [{'role': 'user', 'content': 'count me'}]}
        conn.request('POST', '/v1/chat/completions', json.dumps(body),
                     {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + self.key})
        resp = conn.getresponse()
        return resp.status, resp.read().decode('utf-8', 'replace')

    def close(self):
        if os.path.exists(os.path.join(self.root, 'docker-compose.yml')):
            docker('compose', '--project-directory', self.root, 'down', '--volumes', '--timeout', '5', check=False)
        self.standin.terminate()
        self.standin.wait(timeout=10)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope='module')
def replicas(tmp_path_factory):
    for image in (LITELLM_IMAGE, REDIS_IMAGE):
        if docker('image', 'inspect', image, check=False).returncode != 0:
            pytest.fail('%s is missing; build it with: bash tests/harness/images.sh build' % image)
    r = Replicas(str(tmp_path_factory.mktemp('litellm-replicas')))
    yield r
    r.close()


def test_a_backend_limit_makes_litellm_check_it_in_the_shared_redis(replicas):
    stats, failed = replicas.play()
    assert failed is None, failed
    with open(os.path.join(replicas.root, 'litellm', 'config.yaml')) as f:
        config = yaml.safe_load(f)
    assert config['model_list'][0]['litellm_params']['rpm'] == RPM
    router = config['router_settings']
    assert router['optional_pre_call_checks'] == ['enforce_model_rate_limits']
    assert router['redis_host'] == NAME + '-redis' and router['redis_password'] == 'os.environ/REDIS_PASSWORD'


def test_the_limit_holds_for_both_replicas_together(replicas):
    replicas.up()
    # The count is per calendar minute: start early in one, so that the requests below share it.
    deadline = time.monotonic() + 70
    while time.gmtime().tm_sec > 40:
        assert time.monotonic() < deadline
        time.sleep(1)
    first = [replicas.chat(0) for dummy in range(RPM)]
    assert [status for status, body in first] == [200] * RPM, first
    # The second replica has served nothing itself; the count it reads in Redis is the first one's.
    status, body = replicas.chat(1)
    assert status == 429, (status, body)
    assert 'Model rate limit exceeded' in body and 'RPM limit=%d' % RPM in body, body
