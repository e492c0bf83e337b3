"""Queue-mode benchmark: n8n executions per second with 1 worker vs 2 workers, side by side in one run.

Deploys a stack of its own on this machine with playbooks/site.yml (phase 1, n8n in queue mode on the stack's
Postgres and Redis; names, ports and subnet of its own), makes n8n's owner and API key, and one workflow:
Webhook (POST /webhook/bench, answers with the last node) -> HTTP Request to http://llama-nginx-bench/api/generate
(the Ollama stand-in on the Docker host). For each worker count in turn (1, 2, then 1 again, scaled by the play
itself), --requests webhook calls are made by --clients callers through nginx's webhooks.<domain>; executions per
second = calls answered / wall time. The stack is removed at the end.
Bounded: --requests calls (at most 2000) per measurement, each with a 60 s timeout, at most 600 s per measurement.

  bench/run.sh queue
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from lab import Container

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(REPO, 'tests', 'harness')
ROOT = '/srv/llm-gateway-bench'
SECRETS = '/srv/llm-gateway-bench-secrets'
PROJECT = 'llm-gateway-bench'
NGINX = '127.0.0.1:18480'
N8N = 'http://127.0.0.1:16080'
DOMAIN = 'bench.test'

HOSTS = """\
all:
  children:
    llm_gateway:
      hosts:
        localhost:
          ansible_connection: local
          ansible_become: false
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""


def group_vars(node_dir, app_dir, standin):
    return {
        'llm_gateway_phase': 1,
        'llm_gateway_domain': DOMAIN,
        'llm_gateway_root': ROOT,
        'llm_gateway_compose_project': PROJECT,
        'llm_gateway_network_name': 'llm-gateway-bench-net',
        'llm_gateway_network_subnet': '10.224.77.0/24',
        'llm_gateway_network_gateway': '10.224.77.1',
        'llm_gateway_nginx_container': 'llama-nginx-bench',
        'llm_gateway_litellm_container': 'llama-litellm-bench',
        'llm_gateway_postgres_container': 'llama-postgres-bench',
        'llm_gateway_redis_container': 'llama-redis-bench',
        'llm_gateway_nginx_publish': NGINX,
        'llm_gateway_n8n_publish': N8N.replace('http://', ''),
        'llm_gateway_n8n_api_url': N8N,
        'llm_gateway_n8n_data': 'llm-gateway-bench-n8n',
        'llm_gateway_ollama_url': standin,
        'llm_gateway_models': ['llama3'],
        'llm_gateway_nginx_image': 'llm-gateway-test/nginx:latest',
        'llm_gateway_n8n_image': 'llm-gateway-test/n8n:latest',
        'llm_gateway_postgres_image': 'llm-gateway-test/postgres:latest',
        'llm_gateway_redis_image': 'llm-gateway-test/redis:latest',
        'llm_gateway_n8n_executions_mode': 'queue',
        'llm_gateway_n8n_database': 'postgres',
        'llm_gateway_n8n_env': {'N8N_DISABLED_MODULES': 'mcp-registry', 'N8N_SECURE_COOKIE': 'false'},
        'llm_gateway_n8n_extra_volumes': ['%s:/opt/node:ro' % node_dir, '%s:/opt/n8n:ro' % app_dir],
        'llm_gateway_n8n_encryption_key': "{{ lookup('ansible.builtin.file', '%s/encryption_key') }}" % SECRETS,
        'llm_gateway_postgres_password': "{{ lookup('ansible.builtin.file', '%s/postgres_password') }}" % SECRETS,
        'llm_gateway_redis_password': "{{ lookup('ansible.builtin.file', '%s/redis_password') }}" % SECRETS,
        'llm_gateway_n8n_api_key': 'none-before-n8n-exists',
    }


WORKFLOW = {
    'name': 'Bench',
    'settings': {'executionOrder': 'v1'},
    'nodes': [
        {'name': 'Webhook', 'type': 'n8n-nodes-base.webhook', 'typeVersion': 2, 'position': [0, 0],
         'webhookId': 'b3c0c0de-0000-4000-8000-0000000000be',
         'parameters': {'httpMethod': 'POST', 'path': 'bench', 'responseMode': 'lastNode', 'options': {}}},
        {'name': 'Ask Ollama', 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2, 'position': [220, 0],
         'parameters': {'method': 'POST', 'url': 'http://llama-nginx-bench/api/generate', 'sendBody': True,
                        'specifyBody': 'json', 'options': {},
                        'jsonBody': '={{ JSON.stringify({model: "llama3", stream: false, prompt: $json.body.prompt}) }}'}},
    ],
    'connections': {'Webhook': {'main': [[{'node': 'Ask Ollama', 'type': 'main', 'index': 0}]]}},
}


def run(*argv, **kw):
    return subprocess.run(list(argv), check=True, text=True, capture_output=True, **kw)


class Stack:
    def __init__(self, tmp):
        self.tmp = tmp
        paths = dict(line.split('=', 1) for line in run('bash', os.path.join(HARNESS, 'n8n.sh'), 'paths').stdout.split())
        standin = 'http://%s:11434' % run('bash', os.path.join(HARNESS, 'standin.sh'), 'addr').stdout.strip()
        os.makedirs(os.path.join(tmp, 'inventory', 'group_vars', 'llm_gateway'))
        with open(os.path.join(tmp, 'inventory', 'hosts.yml'), 'w') as f:
            f.write(HOSTS)
        with open(os.path.join(tmp, 'inventory', 'group_vars', 'llm_gateway', 'vars.yml'), 'w') as f:
            json.dump(group_vars(paths['NODE_DIR'], paths['N8N_APP_DIR'], standin), f)
        os.makedirs(SECRETS, mode=0o700, exist_ok=True)
        for name in ('encryption_key', 'postgres_password', 'redis_password'):
            with open(os.path.join(SECRETS, name), 'w') as f:
                f.write(secrets.token_hex(20))
        self.key = None
        self.standin = standin

    def play(self, workers, concurrency=10):
        """site.yml with this many workers (n8n_routing left out: no workflow moves here); returns its seconds."""
        start = time.monotonic()
        ansible = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.cache', 'collections'), ANSIBLE_NOCOLOR='1')
        proc = subprocess.run([ansible, '-i', os.path.join(self.tmp, 'inventory'), '--skip-tags=n8n_routing',
                               '-e', 'llm_gateway_n8n_workers=%d' % workers,
                               '-e', 'llm_gateway_n8n_worker_concurrency=%d' % concurrency,
                               os.path.join(REPO, 'playbooks', 'site.yml')],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=900, check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-2000:])
        return time.monotonic() - start

    def api(self, method, path, body=None):
        req = urllib.request.Request(N8N + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={'X-N8N-API-KEY': self.key, 'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b'{}')

    def prepare_n8n(self):
        env_file = os.path.join(SECRETS, 'n8n.env')
        run(sys.executable, os.path.join(HARNESS, 'n8n_bootstrap.py'), '--url', N8N, '--env-file', env_file,
            '--timeout', '180')
        with open(env_file) as f:
            self.key = dict(line.split('=', 1) for line in f.read().split())['N8N_API_KEY']
        made = self.api('POST', '/api/v1/workflows', WORKFLOW)
        self.api('POST', '/api/v1/workflows/%s/activate' % made['id'])

    def token_delay(self, ms):
        """The Ollama stand-in's delay per streamed chunk (its answer here has 5); 0 puts its defaults back."""
        path, body = ('/_standin/config', {'token_delay_ms': ms}) if ms else ('/_standin/reset', {})
        urllib.request.urlopen(urllib.request.Request(self.standin + path, data=json.dumps(body).encode(),
                                                      headers={'Content-Type': 'application/json'}), timeout=10).read()

    @staticmethod
    def workers():
        return run('docker', 'ps', '-q', '--filter', 'label=com.docker.compose.project=' + PROJECT,
                   '--filter', 'label=com.docker.compose.service=n8n-worker').stdout.split()


def down():
    """Remove the benchmark's stack, its volumes, folder and secrets (also what an interrupted run left)."""
    if os.path.exists(os.path.join(ROOT, 'docker-compose.yml')):
        subprocess.run(['docker', 'compose', '--project-directory', ROOT, 'down', '--volumes', '--remove-orphans',
                        '--timeout', '10'], capture_output=True, check=False)
    shutil.rmtree(ROOT, ignore_errors=True)
    shutil.rmtree(SECRETS, ignore_errors=True)


def project_containers():
    """The benchmark stack's running containers, each with its Compose service."""
    found = []
    for line in run('docker', 'ps', '--filter', 'label=com.docker.compose.project=' + PROJECT,
                    '--format', '{{.Names}} {{.Label "com.docker.compose.service"}}').stdout.splitlines():
        name, service = line.split()
        container = Container(name)
        container.service = service
        found.append(container)
    return found


def logs(container):
    proc = run('docker', 'logs', container)
    return proc.stdout + proc.stderr


def call(prompt):
    req = urllib.request.Request('http://%s/webhook/bench' % NGINX, data=json.dumps({'prompt': prompt}).encode(),
                                 headers={'Host': 'webhooks.' + DOMAIN, 'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read()).get('response') == 'Stand-in answer to: ' + prompt


def measure(requests, clients, deadline_s=600):
    """requests webhook calls by clients callers; returns counts and executions per second."""
    lock, todo, res = threading.Lock(), list(range(requests)), {'ok': 0, 'failed': 0, 'why': {}}
    end = time.monotonic() + deadline_s

    def one():
        while time.monotonic() < end:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            t0 = time.monotonic()
            try:
                why = None if call('bench %d' % i) else 'another answer'
            except Exception as exc:  # pylint: disable=broad-except
                why = '%s after %.0f s' % (type(exc).__name__, time.monotonic() - t0)
            with lock:
                res['ok' if why is None else 'failed'] += 1
                if why:
                    res['why'][why] = res['why'].get(why, 0) + 1
    start = time.monotonic()
    threads = [threading.Thread(target=one, name="caller-%d" % n) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    return dict(res, seconds=round(wall, 2), executions_per_second=round(res['ok'] / wall, 2))


def measure_with(stack, workers, concurrency, requests, clients):
    """Scale the workers with the play, warm up, then measure; with CPU time per execution by service."""
    scale_seconds = stack.play(workers, concurrency)
    assert len(stack.workers()) == workers
    measure(8, 4)  # warm-up
    logs_before = {w: len(logs(w)) for w in stack.workers()}
    containers = project_containers()
    cpu_before = {c.name: c.cpu_ns() for c in containers}
    got = measure(requests, clients)
    cpu = {}
    for c in containers:
        cpu[c.service] = cpu.get(c.service, 0) + (c.cpu_ns() or 0) - (cpu_before[c.name] or 0)
    got['cpu_ms_per_execution'] = {k: round(v / 1e6 / max(got['ok'], 1), 2) for k, v in sorted(cpu.items())}
    got['cpu_ms_per_execution']['all'] = round(sum(cpu.values()) / 1e6 / max(got['ok'], 1), 2)
    got['executions_per_worker'] = {w: len(re.findall(r'Worker finished execution', logs(w)[logs_before[w]:]))
                                    for w in stack.workers()}
    got.update(workers=workers, concurrency=concurrency, play_seconds=round(scale_seconds, 1))
    print(json.dumps(got), flush=True)
    return got


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--requests', type=int, default=300)
    parser.add_argument('--clients', type=int, default=16)
    parser.add_argument('--waiting-requests', type=int, default=60)
    parser.add_argument('--workers', default='1,2,1', help='the worker counts measured in turn')
    parser.add_argument('--keep', action='store_true', help='leave the stack up at the end (for a look at it)')
    parser.add_argument('--out', default=os.path.join(REPO, 'bench', 'results', 'queue_workers.json'))
    args = parser.parse_args()
    args.requests = min(args.requests, 2000)
    args.waiting_requests = min(args.waiting_requests, 2000)
    tmp = tempfile.mkdtemp(prefix='llm-gateway-bench-')
    results = {'requests': args.requests, 'clients': args.clients, 'runs': [], 'waiting': []}
    down()
    try:
        stack = Stack(tmp)
        results['deploy_seconds'] = round(stack.play(1), 1)
        stack.prepare_n8n()
        for workers in [int(w) for w in args.workers.split(',')]:
            results['runs'].append(measure_with(stack, workers, 10, args.requests, args.clients))
        # Executions that wait on Ollama (a slow model: the stand-in takes about 0.5 s per answer), each worker
        # running two at once: what a second worker adds when CPU is not the limit.
        stack.token_delay(100)
        try:
            for workers in (1, 2):
                results['waiting'].append(measure_with(stack, workers, 2, args.waiting_requests, args.clients))
        finally:
            stack.token_delay(0)
        slow = {r['workers']: r['executions_per_second'] for r in results['waiting']}
        results['waiting_ratio_2_to_1'] = round(slow[2] / slow[1], 2)
        one = [r['executions_per_second'] for r in results['runs'] if r['workers'] == 1]
        two = [r['executions_per_second'] for r in results['runs'] if r['workers'] == 2]
        if one and two:
            results['ratio_2_to_1'] = round((sum(two) / len(two)) / (sum(one) / len(one)), 2)
        results['cpus'] = os.cpu_count()
    finally:
        if not args.keep:
            down()
        shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(results, f, indent=2)
    print(json.dumps({k: v for k, v in results.items() if k != 'runs'}))


if __name__ == '__main__':
    main()
