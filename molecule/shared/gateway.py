"""What the scenarios' testinfra tests share: where the stack lives in the
Molecule scenarios that run it, and small helpers for real requests."""

from __future__ import annotations

import json
import os
import shlex
import subprocess

# The default and phase1 scenarios' values; another scenario sets its own in its
# verifier's environment.
ROOT = os.environ.get('LLM_GATEWAY_TEST_ROOT', '/srv/llm-gateway-molecule')
SECRETS = os.environ.get('LLM_GATEWAY_TEST_SECRETS', '/srv/llm-gateway-molecule-secrets')
DOMAIN = 'example.test'
NGINX = os.environ.get('LLM_GATEWAY_TEST_NGINX', '127.0.0.1:18080')
N8N_API = os.environ.get('LLM_GATEWAY_TEST_N8N_API', 'http://127.0.0.1:15678')
STANDIN = os.environ.get('LLM_GATEWAY_TEST_STANDIN',
                         'http://%s:11434' % os.environ.get('LLM_GATEWAY_STANDIN_ADDR', '172.17.0.1'))
COMPOSE = 'docker compose --project-directory %s' % ROOT
# The stack's Compose project (llm_gateway_compose_project in .config/molecule/config.yml).
PROJECT_NAME = os.environ.get('LLM_GATEWAY_TEST_PROJECT', 'llm-gateway-molecule')
PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def secret(name, key=None):
    """A value from the scenario's secrets folder (a whole file, or KEY= in an env file)."""
    text = open(os.path.join(SECRETS, name)).read()
    if key is None:
        return text.strip()
    for line in text.splitlines():
        if line.startswith(key + '='):
            return line.split('=', 1)[1].strip()
    raise AssertionError('no %s in %s' % (key, name))


def n8n(host, path):
    """GET n8n's public API from the Docker host."""
    out = host.check_output("curl -sf -H 'X-N8N-API-KEY: %s' '%s%s'" % (secret('n8n.env', 'N8N_API_KEY'), N8N_API, path))
    return json.loads(out)


def n8n_call(host, method, path, payload=None, base=N8N_API):
    """Call n8n's public API from the Docker host (BASE: another n8n, e.g. the user's own after a restore)."""
    cmd = "curl -sf -X %s -H 'X-N8N-API-KEY: %s' -H 'Content-Type: application/json' '%s%s'" % (
        method, secret('n8n.env', 'N8N_API_KEY'), base, path)
    if payload is not None:
        cmd += ' -d %s' % shlex.quote(json.dumps(payload))
    return json.loads(host.check_output(cmd) or '{}')


def decrypted_credential(exec_prefix, name):
    """The data of n8n's credential NAME, decrypted by n8n itself (EXEC_PREFIX, an argv, runs a command in n8n)."""
    out = subprocess.check_output(exec_prefix + ['sh', '-c', 'n8n export:credentials --all --decrypted '
                                                 '--output=/tmp/llm-gateway-creds.json >/dev/null 2>&1; '
                                                 'cat /tmp/llm-gateway-creds.json; rm -f /tmp/llm-gateway-creds.json'],
                                  text=True)
    return [c['data'] for c in json.loads(out) if c['name'] == name][0]


def workflow(host, name):
    workflows = n8n(host, '/api/v1/workflows?limit=250')['data']
    matches = [w for w in workflows if w['name'] == name]
    assert len(matches) == 1, [w['name'] for w in workflows]
    return matches[0]


def node(wf, name, published=False):
    nodes = wf['activeVersion']['nodes'] if published else wf['nodes']
    return [n for n in nodes if n['name'] == name][0]


def container(host, name, template):
    """A field of a container (docker container inspect -f TEMPLATE)."""
    return host.check_output("docker container inspect -f '%s' %s" % (template, name))


def container_ip(host, name):
    return container(host, name, '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')


def standin(host, method, path, payload=None, base=STANDIN):
    """Call the Ollama stand-in's API or test hooks (the host's one unless BASE says otherwise)."""
    cmd = "curl -sf -X %s '%s%s'" % (method, base, path)
    if payload is not None:
        cmd += " -H 'Content-Type: application/json' -d '%s'" % json.dumps(payload)
    return json.loads(host.check_output(cmd))


def standin_requests(host, path, base=STANDIN):
    return [e for e in standin(host, 'GET', '/_standin/requests?since=0', base=base)['requests']
            if e.get('path') == path]


def prompt_of(entry):
    """The last message's text of a chat request in a stand-in's log (None for other requests)."""
    return ((entry.get('body') or {}).get('messages') or [{}])[-1].get('content')


def node_in_n8n(host, script):
    """Run a node script inside the n8n container (node is in every n8n image; curl is not)."""
    return host.run('%s exec -T n8n node -e %s' % (COMPOSE, shlex.quote(script)))


def post_from_n8n(host, url, payload, headers=None):
    """POST JSON from inside the n8n container, as a workflow would; returns (status, JSON answer)."""
    script = """
      fetch(%s, {method: 'POST', headers: %s, body: %s})
        .then(async r => { console.log(JSON.stringify({status: r.status, body: await r.json()})); })
        .catch(e => { console.error(e); process.exit(1); });
    """ % (json.dumps(url), json.dumps(dict({'Content-Type': 'application/json'}, **(headers or {}))),
           json.dumps(json.dumps(payload)))
    res = node_in_n8n(host, script)
    assert res.rc == 0, res.stderr
    out = json.loads(res.stdout)
    return out['status'], out['body']


def trigger_webhook(host, path, payload):
    out = host.check_output(
        "curl -sf -m 120 -X POST -H 'Host: webhooks.%s' -H 'Content-Type: application/json' -d '%s' http://%s/webhook/%s"
        % (DOMAIN, json.dumps(payload), NGINX, path))
    return json.loads(out)


def http_status(host, url, *headers, method='GET', data=None):
    cmd = "curl -s --max-time 30 -o /dev/null -w '%%{http_code}' %s" % ('-I' if method == 'HEAD' else '-X ' + method)
    for h in headers:
        cmd += " -H '%s'" % h
    if data is not None:
        cmd += " -d '%s'" % data
    return host.check_output('%s %s' % (cmd, url))


def run_playbook(playbook, *extra, inventory=None):
    """Run one of the collection's playbooks against the scenario's inventory."""
    cmd = ['ansible-playbook', '-i', inventory or os.environ['MOLECULE_INVENTORY_FILE'],
           os.path.join(PROJECT, 'playbooks', playbook)] + list(extra)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, '.cache', 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    # White space folded: the callback may wrap long lines.
    return proc.returncode, ' '.join((proc.stdout + proc.stderr).split())
