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
import time

import pytest
import yaml

from conftest import (
    LITELLM_SERVICE, Standin, bridge_address, docker, free_port, litellm_entrypoint, play_role, require_images,
    wait_litellm_alive,
)

NAME = 'lgt-replicas-%s' % secrets.token_hex(3)
LITELLM_IMAGE = 'llm-gateway-test/litellm:latest'
REDIS_IMAGE = 'llm-gateway-test/redis:latest'
RPM = 3
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
        self.standin = Standin(base, host=bridge_address(), extra=['--host-check', 'on', '--name', NAME])
        self.standin_port = self.standin.port

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
        services = ''.join(LITELLM_SERVICE.format(service=service, image=LITELLM_IMAGE, container=container, port=port,
                                                  entrypoint=litellm_entrypoint(), network=NAME)
                           + '    depends_on: [redis]\n'
                           for service, container, port in (('litellm', NAME, self.ports[0]),
                                                            ('litellm-2', NAME + '-2', self.ports[1])))
        with open(os.path.join(self.root, 'docker-compose.yml'), 'w') as f:
            f.write(COMPOSE.format(network=NAME, services=services, redis_image=REDIS_IMAGE, redis=NAME + '-redis',
                                   password=self.password))
        docker('compose', '--project-directory', self.root, 'up', '--detach')
        deadline = time.monotonic() + 240
        for container in (NAME, NAME + '-2'):
            wait_litellm_alive(container, deadline)

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
        self.standin.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope='module')
def replicas(tmp_path_factory):
    require_images(LITELLM_IMAGE, REDIS_IMAGE)
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
