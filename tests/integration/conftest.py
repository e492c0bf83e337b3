"""Fixtures for module tests over real HTTP: the Ollama stand-in, a live n8n, and
a way to run the collection's modules exactly as Ansible does (ad-hoc, JSON callback)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from n8n_client import N8nClient
from n8n_corpus import n8n_release

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDIN = os.path.join(REPO, 'tests', 'ollama_standin', 'ollama_standin.py')
COLLECTIONS = os.path.join(REPO, '.cache', 'collections')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def docker(*args, check=True, timeout=300):
    """The docker CLI, its output captured as text."""
    return subprocess.run(['docker', *args], capture_output=True, text=True, check=check, timeout=timeout)


def play_role(base, role, variables, check=False, diff=False, tasks_from=None):
    """Run one of the collection's roles on this machine as ansible-playbook does, with ``variables`` as extra
    vars (a file in ``base``); return (stats of localhost, message of the failed task or None, the process).
    With ``tasks_from``, only that task file of the role runs (include_role, as the playbooks do)."""
    play = os.path.join(base, 'play-%s.yml' % role)
    with open(play, 'w') as f:
        if tasks_from:
            f.write('- name: The %s role, %s\n  hosts: localhost\n  gather_facts: false\n  tasks:\n'
                    '    - name: Include it\n      ansible.builtin.include_role:\n'
                    '        name: local_ai.llm_gateway.%s\n        tasks_from: %s\n' % (role, tasks_from, role, tasks_from))
        else:
            f.write('- name: The %s role\n  hosts: localhost\n  gather_facts: false\n  roles:\n'
                    '    - role: local_ai.llm_gateway.%s\n' % (role, role))
    path = os.path.join(base, 'vars-%s.json' % role)
    with open(path, 'w') as f:
        json.dump(variables, f)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    cmd = ['ansible-playbook', '-i', 'localhost,', '-c', 'local', play, '-e', '@' + path]
    cmd += ['--check'] if check else []
    cmd += ['--diff'] if diff else []
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('no JSON from ansible-playbook (rc=%s):\n%s\n%s'
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    failed = None
    for each in out['plays']:
        for task in each['tasks']:
            result = task['hosts'].get('localhost', {})
            if result.get('failed') and not result.get('ignore_errors'):
                items = [r.get('msg', '') for r in result.get('results', []) if r.get('failed')]
                failed = ' | '.join(items) or result.get('msg') or json.dumps(result)[:2000]
    return out['stats']['localhost'], failed, proc


def http_json(method, url, payload=None, headers=None, timeout=10):
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header('Content-Type', 'application/json')
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def require_images(*images):
    """Fail (not skip) a test whose local test images are missing, naming the command that builds them."""
    missing = [image for image in images if docker('image', 'inspect', image, check=False).returncode != 0]
    if missing:
        pytest.fail('%s missing; build with: bash tests/harness/images.sh build' % ', '.join(missing))


def bridge_address():
    """The address on the Docker bridge where the harness's stand-ins listen, as an Ollama installed on the Docker
    host does for the stack's containers (they reach it as host.docker.internal)."""
    return subprocess.run(['bash', os.path.join(REPO, 'tests', 'harness', 'standin.sh'), 'addr'],
                          capture_output=True, text=True, check=True).stdout.strip()


class Standin:
    """One stand-in process, on 127.0.0.1 (Ollama's host check therefore on) unless ``host`` says otherwise."""

    def __init__(self, tmp, models='llama3:latest', extra=(), host='127.0.0.1'):
        self.port = free_port()
        self.url = 'http://%s:%d' % (host, self.port)
        self.log = os.path.join(str(tmp), 'standin-%d.jsonl' % self.port)
        self.proc = subprocess.Popen(
            [sys.executable, STANDIN, '--host', host, '--port', str(self.port), '--models', models,
             '--log', self.log] + list(extra),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.state()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('stand-in did not start: %s' % self.proc.stderr.read())
                time.sleep(0.1)

    def state(self):
        return http_json('GET', self.url + '/_standin/state', timeout=2)

    def configure(self, **config):
        http_json('POST', self.url + '/_standin/config', config)

    def reset(self):
        http_json('POST', self.url + '/_standin/reset', {})

    def models(self):
        return sorted(m['name'] for m in http_json('GET', self.url + '/api/tags')['models'])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


# A LiteLLM container as the stack role's compose file has it: the official image's entrypoint behind the one that
# exports the secret file (secret_env_entrypoint), the role's config.yaml and secrets folder, the Docker host as
# host.docker.internal. Fields: service, image, container, port (on 127.0.0.1), network, entrypoint (JSON).
LITELLM_SERVICE = """\
  {service}:
    image: {image}
    container_name: {container}
    entrypoint: {entrypoint}
    command: ["--config", "/app/config.yaml", "--port", "4000"]
    environment:
      LITELLM_LOCAL_MODEL_COST_MAP: "True"
      LITELLM_TELEMETRY_DISABLED: "true"
      NUM_WORKERS: "1"
      LITELLM_LOG: "ERROR"
    volumes:
      - ./litellm/config.yaml:/app/config.yaml:ro
      - ./env/litellm-secrets:/run/secrets/llm-gateway:ro
    ports:
      - "127.0.0.1:{port}:4000"
    extra_hosts:
      - host.docker.internal:host-gateway
    networks: [{network}]
"""
LITELLM_LIVELINESS = ("import urllib.request; "
                      "urllib.request.urlopen('http://127.0.0.1:4000/health/liveliness', timeout=3)")


def litellm_entrypoint():
    """The LiteLLM service's entrypoint, as JSON with Compose's $ escaped."""
    sys.path.insert(0, os.path.join(REPO, 'plugins', 'filter'))
    from secret_env_entrypoint import secret_env_entrypoint  # pylint: disable=import-outside-toplevel
    return json.dumps(secret_env_entrypoint('/run/secrets/llm-gateway/litellm.env',
                                            '/app/docker-entrypoint.sh')).replace('$', '$$')


def wait_litellm_alive(container, deadline):
    """Wait until LiteLLM in ``container`` answers its liveliness probe, at the latest until ``deadline``."""
    while docker('exec', container, 'python3', '-c', LITELLM_LIVELINESS, check=False).returncode != 0:
        assert time.monotonic() < deadline, docker('logs', '--tail', '40', container, check=False).stdout
        time.sleep(0.5)


@pytest.fixture(scope='session')
def standin(tmp_path_factory):
    s = Standin(tmp_path_factory.mktemp('standin'))
    yield s
    s.stop()


@pytest.fixture
def fresh_standin(standin):
    standin.reset()
    yield standin
    standin.reset()


def run_module(name, args, check=False, diff=False, timeout=300):
    """Run local_ai.llm_gateway.NAME on localhost like a playbook task; return (result, seconds)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    # The ansible of the interpreter running the tests (venv/bin/python -m pytest works without the venv on PATH).
    beside = os.path.join(os.path.dirname(sys.executable), 'ansible')
    ansible = beside if os.access(beside, os.X_OK) else 'ansible'
    cmd = [ansible, 'localhost', '-c', 'local', '-m', 'local_ai.llm_gateway.' + name, '-a', json.dumps(args)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.monotonic() - started
    try:
        out = json.loads(proc.stdout)
        result = out['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        raise AssertionError('no JSON result from ansible (rc=%s):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    result['_stdout'] = proc.stdout
    return result, elapsed


# ---------------------------------------------------------------------------------------------
# A live n8n: the harness's instance (bash tests/harness/n8n.sh up), found through its env file.

# The port the harness started n8n on (run.sh: LLM_GATEWAY_N8N_PORT, default 5678).
N8N_PORT = int(os.environ.get('LLM_GATEWAY_N8N_PORT') or 5678)


class N8nInstance:
    """The harness's n8n: base URL, API key, owner credentials (for the internal REST API)."""

    def __init__(self, env_file, values):
        self.env_file = env_file
        self.url = values['N8N_URL'].rstrip('/')
        self.api_key = values['N8N_API_KEY']
        self.owner_email = values.get('N8N_OWNER_EMAIL')
        self.owner_password = values.get('N8N_OWNER_PASSWORD')

    def client(self):
        """A client of its own (its own owner session, logged in on the first internal REST call);
        public API calls answered 409 are retried 5 times."""
        return N8nClient(self.url, self.api_key, self.owner_email, self.owner_password, retries_on_409=5)


def n8n_env_file(port=N8N_PORT):
    run = os.environ.get('LLM_GATEWAY_RUN') or '/var/tmp/llm_gateway_test/run'
    return os.path.join(run, 'n8n-%d' % port, 'env')


@pytest.fixture(scope='session')
def n8n():
    """The running n8n. Fails (never skips) when it is not up: the tests need it."""
    path = n8n_env_file()
    hint = 'start it with: bash tests/harness/n8n.sh up %d' % N8N_PORT
    if not os.path.isfile(path):
        pytest.fail('n8n is not up: %s does not exist; %s' % (path, hint))
    values = {}
    with open(path) as handle:
        for line in handle:
            key, sep, value = line.strip().partition('=')
            if sep and not key.startswith('#'):
                values[key] = value
    missing = [k for k in ('N8N_URL', 'N8N_API_KEY') if not values.get(k)]
    if missing:
        pytest.fail('n8n env file %s lacks %s; %s' % (path, ', '.join(missing), hint))
    instance = N8nInstance(path, values)
    try:
        resp = instance.client().request('GET', '/api/v1/workflows?limit=1', timeout=10)
        why = None if resp.status == 200 and resp.data is not None else 'HTTP %s %r' % (resp.status, resp.raw[:200])
    except OSError as exc:
        why = exc
    if why:
        pytest.fail('n8n at %s does not answer its public API (%s); %s' % (instance.url, why, hint))
    instance.release = n8n_release(instance.client())
    return instance


@pytest.fixture(scope='session')
def needs_credential_listing(n8n):
    """Phase 2's credential and credential moves find their credential through the public API's listing, which
    n8n has from 2.0 on; before, the module refuses them (test_n8n_workflow_urls.py tests that refusal). Session
    scope: it is decided before a module's corpus is built."""
    if n8n.release < (2, 0):
        pytest.skip('n8n %s: its public API cannot list credentials, which this needs (the collection supports '
                    'phase 1 without credential moves there)' % '.'.join(map(str, n8n.release)))
