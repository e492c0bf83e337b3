"""The starter-kit host's state, read from the Docker host (stdlib only): used by
prepare.yml (`python3 starter.py record`) and by test_starter.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import decrypted_credential  # noqa: E402  pylint: disable=wrong-import-position

API = 'http://127.0.0.1:15899'
SECRETS = '/srv/llm-gateway-starter-secrets'
N8N = 'starter-n8n'
RECORD = os.path.join(SECRETS, 'original.json')
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def api_key():
    for line in open(os.path.join(SECRETS, 'n8n.env')):
        if line.startswith('N8N_API_KEY='):
            return line.split('=', 1)[1].strip()
    raise AssertionError('no API key')


def api(path):
    req = urllib.request.Request(API + path, headers={'X-N8N-API-KEY': api_key()})
    with OPENER.open(req, timeout=20) as resp:
        return json.loads(resp.read())


def docker(*args):
    return subprocess.check_output(('docker',) + args, text=True).strip()


def wait_for_api(seconds=180):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return api('/api/v1/workflows?limit=1')
        except (OSError, ValueError):  # not up yet, or "n8n is starting up. Please wait" (not JSON)
            assert time.monotonic() < deadline, 'n8n did not answer at %s' % API
            time.sleep(1)


def state():
    """What the user must find again: workflows (nodes included), credentials, executions."""
    wait_for_api()
    workflows = {w['id']: {'name': w['name'], 'nodes': w['nodes']} for w in api('/api/v1/workflows?limit=250')['data']}
    credentials = sorted(c['name'] for c in api('/api/v1/credentials?limit=250')['data'])
    executions = [e['id'] for e in api('/api/v1/executions?limit=250')['data']]
    return {'workflows': workflows, 'credentials': credentials, 'executions': executions}


def container(name=N8N):
    info = json.loads(docker('container', 'inspect', name))[0]
    return {'id': info['Id'], 'running': info['State']['Running'], 'started': info['State']['StartedAt'],
            'networks': sorted(info['NetworkSettings']['Networks'])}


def decrypted_secret(exec_prefix):
    """The value of the "Starter secret" credential, decrypted by n8n itself (EXEC_PREFIX runs a command in n8n)."""
    return decrypted_credential(exec_prefix, 'Starter secret')['value']


def record():
    original = {'state': state(), 'container': container()}
    with open(RECORD, 'w') as f:
        json.dump(original, f)
    os.chmod(RECORD, 0o600)


def recorded():
    with open(RECORD) as f:
        return json.load(f)


if __name__ == '__main__' and sys.argv[1:] == ['record']:
    record()
