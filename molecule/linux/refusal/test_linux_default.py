"""linux-default: Ollama listens on 127.0.0.1 only (OLLAMA_HOST unset). The host
reaches it, containers cannot, so the rollout must stop in preflight, with a
message that names OLLAMA_HOST, before anything changes. Run by prepare.yml
(before converge), not by the verifier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

ROOT = '/srv/llm-gateway-linux'
SECRETS = '/srv/llm-gateway-linux-secrets'
OLD_N8N = 'llm-gateway-linux-old-n8n'
NAMES = ('llm-gateway-linux', 'llama-nginx-linux', 'llama-litellm-linux')
SUBNET = '10.217.77.0/24'


def docker(*args):
    return subprocess.check_output(('docker',) + args, text=True)


def api_key():
    for line in open(os.path.join(SECRETS, 'n8n.env')):
        if line.startswith('N8N_API_KEY='):
            return line.split('=', 1)[1].strip()
    raise AssertionError('no API key')


def workflows():
    req = urllib.request.Request('http://127.0.0.1:15799/api/v1/workflows?limit=250',
                                 headers={'X-N8N-API-KEY': api_key()})
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = json.loads(resp.read())['data']
    return {w['id']: (w['versionId'], w['updatedAt'], w['active'], json.dumps(w['nodes'], sort_keys=True))
            for w in data}


def state():
    """Everything the rollout could have touched on this host."""
    containers = [line for line in docker('ps', '-a', '--format', '{{.ID}} {{.Names}} {{.State}}').splitlines()
                  if any(n in line for n in NAMES)]
    networks = []
    for net in docker('network', 'ls', '--format', '{{.Name}}').split():
        # A network can go between the listing and its inspection: another scenario's (make test-takeover
        # runs this one beside molecule-starter, whose preflight makes and removes a temporary network).
        inspected = subprocess.run(['docker', 'network', 'inspect', '--format',
                                    '{{range .IPAM.Config}}{{.Subnet}} {{end}}', net],
                                   capture_output=True, text=True, check=False)
        if inspected.returncode != 0:
            continue
        subnets = inspected.stdout.split()
        if any(n in net for n in NAMES) or SUBNET in subnets:
            networks.append((net, subnets))
    volumes = [v for v in docker('volume', 'ls', '--format', '{{.Name}}').split() if any(n in v for n in NAMES)]
    old = docker('container', 'inspect', '--format', '{{.Id}} {{.State.Status}} {{.State.StartedAt}}', OLD_N8N)
    files = sorted(os.path.join(d, f) for d, dummy, fs in os.walk(ROOT) for f in fs)
    return {'containers': containers, 'networks': networks, 'volumes': volumes, 'old_n8n': old.strip(),
            'files': files, 'workflows': workflows()}


@pytest.mark.parametrize('key,problem', [
    ('CHANGE-ME-to-your-n8n-encryption-key', 'a placeholder'),
    ('a-long-enough-key-with-$dollar', 'which an env file would alter'),
    ('a-well-formed-key-but-not-this-data-s', 'Mismatching encryption keys'),
])
def test_an_unusable_encryption_key_is_refused_before_any_change(key, problem):
    before = state()
    rc, out = run_playbook('site.yml', '-e', json.dumps({'llm_gateway_n8n_encryption_key': key}))
    assert rc != 0 and problem in out and 'Nothing was changed' in out, out[-3000:]
    assert key not in out  # the key itself is never printed
    assert state() == before


@pytest.mark.parametrize('publish', ['0.0.0.0:18180', '18180'])
def test_publishing_beyond_loopback_is_refused_before_any_change(publish):
    before = state()
    rc, out = run_playbook('site.yml', '-e', 'llm_gateway_nginx_publish=%s' % publish)
    assert rc != 0 and 'beyond the Docker host' in out and 'llm_gateway_publish_beyond_loopback' in out, out[-3000:]
    assert state() == before


def test_linux_default_is_refused_before_any_change():
    standin = json.loads(urllib.request.urlopen('http://127.0.0.1:11436/_standin/state', timeout=5).read())
    assert standin['listen'].startswith('127.0.0.1:') and standin['host_check']['active'] is True
    before = state()
    assert before['files'] == [] and before['workflows'], before
    rc, out = run_playbook('site.yml')
    assert rc != 0, out[-2000:]
    # It stopped at the check from the Docker network, after the host-side check passed.
    assert 'Check that Ollama answers and has the models (from the Docker host)' in out
    assert 'Check Ollama from the Docker network, as nginx will reach it' in out
    assert 'connection refused' in out and 'OLLAMA_HOST' in out and '127.0.0.1 only' in out, out[-3000:]
    assert 'Write the compose file' not in out and 'Rewrite the LLM URLs' not in out
    after = state()
    assert after == before
