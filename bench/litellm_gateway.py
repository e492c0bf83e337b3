"""Phase 2 benchmark: the public route (nginx + LiteLLM) vs direct to the Ollama
stand-in, and the collection's tuned LiteLLM settings vs LiteLLM's defaults,
measured side by side in one run.

Everything runs on this machine, in containers this script starts on a Docker
network of its own (internal: nothing leaves the machine) and removes at the
end, whatever happens. Names start with llm-gateway-bench-<run id>; nothing of
a demo or Molecule stack (llama-*, published ports) is touched, and no port is
published: the load goes from this process to the containers' addresses.

  stand-in   llm-gateway-test/ollama-standin (its /_standin/config hook sets the
             per-token delay for the streamed phase)
  default    LiteLLM as it comes: 1 worker, default logging, a minimal config
             with the same model (offline switches only: no cost-map fetch,
             no telemetry)
  role       the collection's settings: config.yaml rendered from
             roles/litellm/templates/config.yaml.j2 and the command and
             environment of the litellm service rendered from
             roles/stack/templates/docker-compose.yml.j2 (phase 2), both
             with the roles' defaults
  <cand>     optional candidates (--candidates a,b+c): the role's settings
             with one change (or several joined by +), to find better role
             settings; see CANDIDATES below
Each LiteLLM sits behind its own nginx whose configuration is rendered from
roles/nginx/templates (phase 2, the public llm.<domain> server: an upstream
that keeps idle connections to LiteLLM), except that the per-client rate limit
is raised so the load is not answered 429.

Measured per path, side by side so that the noise of a shared machine hits all
paths alike (1 client: the paths take turns request by request; 16 clients:
rounds of a few seconds per path, order rotated), after a warm-up that reaches
every worker; every loop is bounded in count and time:
  - 1 client: p50/p99 latency of non-streamed chat completions
  - 16 clients: p50/p99 and requests per second
  - streamed, 1 and 16 clients: time to the first content token (the
    stand-in waits --token-delay-ms before each token)
  - CPU ms per request of each container (cgroup accounting) and the rest of
    the machine's load during each slice; from the CPU per request, an
    idle-machine estimate of each configuration's throughput, which the
    neighbours' load disturbs far less than the measured req/s
The load client is asyncio over raw keep-alive sockets; its ceiling is the
direct row (the stand-in is the cheapest server here).

Run with the test venv's Python (Ansible renders the roles' templates):
  bench/run.sh litellm [--candidates granian,workers3]
Prints a table and writes JSON (--out). The master key is random per run, kept
in a 0600 env file of the run's temporary folder and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import copy
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABEL = 'llm_gateway.bench'
DOMAIN = 'bench.test'
PUBLIC_HOST = 'llm.' + DOMAIN
MODEL = 'llama3'
PROMPT = 'one two three four five six seven eight'
CONTENT_RE = re.compile(rb'"content"\s*:\s*"[^"]')

# Candidates: the role's settings with one change each. env values of None
# remove the variable; args are appended to the command; config is merged
# into config.yaml (dicts recursively).
CANDIDATES = {
    'granian': {'about': 'Granian (Rust HTTP server) instead of uvicorn: --run_granian',
                'args': ['--run_granian']},
    'gthreads2': {'about': 'Granian runtime threads 2: --granian_threads 2', 'args': ['--granian_threads', '2']},
    'gunicorn': {'about': 'gunicorn managing the uvicorn workers: --run_gunicorn',
                 'args': ['--run_gunicorn']},
    'workers1': {'about': 'NUM_WORKERS=1 (the role otherwise)', 'env': {'NUM_WORKERS': '1'}},
    'workers3': {'about': 'NUM_WORKERS=3', 'env': {'NUM_WORKERS': '3'}},
    'nospend': {'about': 'general_settings disable_spend_logs, disable_error_logs',
                'config': {'general_settings': {'disable_spend_logs': True, 'disable_error_logs': True}}},
    'retries0': {'about': 'router_settings num_retries 0', 'config': {'router_settings': {'num_retries': 0}}},
    'loginfo': {'about': 'LITELLM_LOG=INFO (default-like logging, role otherwise)', 'env': {'LITELLM_LOG': 'INFO'}},
}


def candidate_spec(name):
    """A candidate, or several joined with '+' (args added, env/config merged)."""
    spec = {'about': [], 'args': [], 'env': {}, 'config': {}}
    for part in name.split('+'):
        one = CANDIDATES[part]
        spec['about'].append(one['about'])
        spec['args'] += one.get('args', [])
        spec['env'].update(one.get('env', {}))
        spec['config'] = deep_merge(spec['config'], one.get('config', {}))
    spec['about'] = '; '.join(spec['about'])
    return spec


def log(msg):
    print('[bench] %s' % msg, file=sys.stderr, flush=True)


def deep_merge(base, patch):
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ----------------------------------------------------------------------------
# Docker
# ----------------------------------------------------------------------------

def docker(*args, check=True, timeout=120):
    proc = subprocess.run(['docker', *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('docker %s failed: %s' % (' '.join(args[:2]), proc.stderr.strip()[-800:]))
    return proc.stdout.strip()


class Lab:
    """The run's network and containers; removed at exit, even on errors or signals."""

    def __init__(self, run_id):
        self.prefix = 'llm-gateway-bench-%s' % run_id
        self.network = self.prefix
        self.containers = []
        self.network_created = False
        self.tmp = tempfile.mkdtemp(prefix='llm-gateway-bench-')
        os.chmod(self.tmp, 0o755)  # the containers' users read the mounted configs
        atexit.register(self.cleanup)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        log('signal %d: cleaning up' % signum)
        self.cleanup()
        os._exit(128 + signum)

    def remove_stale(self):
        """Containers and networks of earlier runs of this script whose process is gone."""
        label = '{{ index .Labels "%s.pid" }}' % LABEL
        for name in docker('ps', '-a', '--filter', 'label=%s.pid' % LABEL, '--format', '{{.Names}}',
                           check=False).split():
            pid = docker('inspect', '-f', '{{ index .Config.Labels "%s.pid" }}' % LABEL, name, check=False)
            if name.startswith('llm-gateway-bench-') and pid.isdigit() and not os.path.exists('/proc/' + pid):
                log('removing container %s left by an earlier run' % name)
                docker('rm', '-f', name, check=False)
        for name in docker('network', 'ls', '--filter', 'label=%s.pid' % LABEL, '--format', '{{.Name}}',
                           check=False).split():
            pid = docker('network', 'inspect', '-f', label, name, check=False)
            if name.startswith('llm-gateway-bench-') and pid.isdigit() and not os.path.exists('/proc/' + pid):
                log('removing network %s left by an earlier run' % name)
                docker('network', 'rm', name, check=False)

    def create_network(self):
        docker('network', 'create', '--internal', '--label', '%s.pid=%d' % (LABEL, os.getpid()), self.network)
        self.network_created = True
        subnet = docker('network', 'inspect', '-f', '{{ range .IPAM.Config }}{{ .Subnet }} {{ .Gateway }}{{ end }}',
                        self.network).split()
        return subnet[0], (subnet[1] if len(subnet) > 1 else subnet[0].rsplit('.', 1)[0] + '.1')

    def run(self, name, image, args=(), env=None, env_file=None, mounts=()):
        cmd = ['run', '-d', '--name', name, '--network', self.network,
               '--label', '%s.pid=%d' % (LABEL, os.getpid()), '--log-opt', 'max-size=5m']
        for key, value in (env or {}).items():
            cmd += ['--env', '%s=%s' % (key, value)]
        if env_file:
            cmd += ['--env-file', env_file]
        for src, dst in mounts:
            cmd += ['--volume', '%s:%s:ro' % (src, dst)]
        self.containers.append(name)
        docker(*cmd, image, *args)
        return Container(name)

    def cleanup(self):
        names, self.containers = self.containers, []
        if names:
            docker('rm', '-f', *names, check=False, timeout=120)
        if self.network_created:
            self.network_created = False
            docker('network', 'rm', self.network, check=False)
        if self.tmp and os.path.isdir(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class Container:
    def __init__(self, name):
        self.name = name
        info = json.loads(docker('container', 'inspect', name))[0]
        self.id = info['Id']
        self.ip = next(iter(info['NetworkSettings']['Networks'].values()))['IPAddress']

    def cpu_ns(self):
        """CPU time used so far by the container (cgroup v1 or v2), or None."""
        for path in ('/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage' % self.id,
                     '/sys/fs/cgroup/cpu,cpuacct/docker/%s/cpuacct.usage' % self.id):
            try:
                with open(path) as f:
                    return int(f.read())
            except OSError:
                pass
        for path in ('/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat' % self.id,
                     '/sys/fs/cgroup/docker/%s/cpu.stat' % self.id):
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith('usage_usec'):
                            return int(line.split()[1]) * 1000
            except OSError:
                pass
        return None

    def rss_mb(self):
        """Resident memory (anonymous + RSS) of the container, MB, or None."""
        for path, keys in (('/sys/fs/cgroup/memory/docker/%s/memory.stat' % self.id, ('total_rss',)),
                           ('/sys/fs/cgroup/system.slice/docker-%s.scope/memory.stat' % self.id, ('anon',)),
                           ('/sys/fs/cgroup/docker/%s/memory.stat' % self.id, ('anon',))):
            try:
                with open(path) as f:
                    stats = dict(line.split() for line in f if line.strip())
                return round(sum(int(stats[k]) for k in keys) / 1048576, 1)
            except (OSError, KeyError, ValueError):
                pass
        return None

    def logs_tail(self, lines=30):
        proc = subprocess.run(['docker', 'logs', '--tail', str(lines), self.name], capture_output=True, text=True,
                              check=False)
        return (proc.stdout + proc.stderr)[-4000:]


def host_cpu():
    """(busy, total) jiffies of the whole machine."""
    with open('/proc/stat') as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


# ----------------------------------------------------------------------------
# Rendering the roles' templates (Ansible, so every filter and variable is real)
# ----------------------------------------------------------------------------

def render(lab, subnet, gateway, variants, standin):
    """Render nginx.conf, one llm-gateway.conf per LiteLLM variant, the role's
    config.yaml and the phase-2 compose file. Returns the output folder."""
    out = os.path.join(lab.tmp, 'rendered')
    os.makedirs(out)
    roles = os.path.join(REPO, 'roles')
    vars_files = ['%s/%s/%s/main.yml' % (roles, role, kind)
                  for role in ('stack', 'nginx', 'litellm') for kind in ('defaults', 'vars')]
    extra = {
        'ansible_python_interpreter': sys.executable,
        'llm_gateway_phase': 2,
        'llm_gateway_domain': DOMAIN,
        'llm_gateway_root': out,
        'llm_gateway_network_subnet': subnet,
        'llm_gateway_network_gateway': gateway,
        'llm_gateway_network_name': lab.network,
        'llm_gateway_ollama_upstream': '%s:11434' % standin,
        # Only the internal server's server_name (unused here); the real
        # container names are too long for nginx's server_names_hash.
        'llm_gateway_nginx_container': 'bench-nginx',
        'llm_gateway_litellm_models': [{'name': MODEL, 'backends': [
            {'model': MODEL, 'api_base': 'http://%s:11434' % standin}]}],
        # One client address sends all the load: the public rate limit (10r/s
        # by default) would answer 429. Still evaluated on every request.
        'llm_gateway_nginx_rate_limit': '100000r/s',
        'llm_gateway_nginx_rate_burst': 100000,
    }
    items = [{'name': v['name'], 'container': v['container']} for v in variants]
    play = [{
        'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        'vars_files': vars_files,
        'tasks': [
            {'ansible.builtin.template': {'src': roles + '/nginx/templates/nginx.conf.j2',
                                          'dest': out + '/nginx.conf', 'mode': '0644'}},
            {'ansible.builtin.file': {'path': out + '/{{ item.name }}/conf.d', 'state': 'directory', 'mode': '0755'},
             'loop': items},
            {'ansible.builtin.template': {'src': roles + '/nginx/templates/llm-gateway.conf.j2',
                                          'dest': out + '/{{ item.name }}/conf.d/llm-gateway.conf', 'mode': '0644'},
             'vars': {'llm_gateway_litellm_container': '{{ item.container }}'},
             'loop': items},
            {'ansible.builtin.template': {'src': roles + '/litellm/templates/config.yaml.j2',
                                          'dest': out + '/role-config.yaml', 'mode': '0644'}},
            {'ansible.builtin.template': {'src': roles + '/stack/templates/docker-compose.yml.j2',
                                          'dest': out + '/docker-compose.yml', 'mode': '0644'}},
        ],
    }]
    playbook = os.path.join(lab.tmp, 'render.yml')
    extra_file = os.path.join(lab.tmp, 'render-vars.json')
    with open(playbook, 'w') as f:
        yaml.safe_dump(play, f, sort_keys=False)
    with open(extra_file, 'w') as f:
        json.dump(extra, f)
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    if not os.path.exists(ansible):
        ansible = shutil.which('ansible-playbook') or 'ansible-playbook'
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_INVENTORY_UNPARSED_WARNING='False',
               ANSIBLE_RETRY_FILES_ENABLED='False', ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([ansible, '-i', 'localhost,', playbook, '-e', '@' + extra_file],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError('rendering the roles\' templates failed:\n%s' % (proc.stdout + proc.stderr)[-3000:])
    return out


# ----------------------------------------------------------------------------
# Load client: asyncio, raw HTTP/1.1 over keep-alive sockets
# ----------------------------------------------------------------------------

class Target:
    """One path under test: where to send, what, and how to check the answer."""

    def __init__(self, name, label, ip, port, kind, host_header, key=None, containers=()):
        self.name, self.label, self.ip, self.port, self.kind = name, label, ip, port, kind
        self.containers = list(containers)  # (role, Container) whose CPU is accounted to this path
        headers = ['Host: %s' % host_header, 'Content-Type: application/json', 'Accept: */*',
                   'User-Agent: llm-gateway-bench']
        if key:
            headers.append('Authorization: Bearer %s' % key)
        self._head = '\r\n'.join(headers)
        self.requests = {}
        for stream in (False, True):
            if kind == 'ollama':
                path = '/api/chat'
                body = {'model': MODEL, 'messages': [{'role': 'user', 'content': PROMPT}], 'stream': stream}
                if stream:
                    body['options'] = {'num_predict': 4}
            else:
                path = '/v1/chat/completions'
                body = {'model': MODEL, 'messages': [{'role': 'user', 'content': PROMPT}], 'stream': stream}
                if stream:
                    body['max_tokens'] = 4
            raw = json.dumps(body).encode()
            self.requests[stream] = ('POST %s HTTP/1.1\r\n%s\r\nContent-Length: %d\r\n\r\n' % (
                path, self._head, len(raw))).encode() + raw

    def ok(self, status, body, stream):
        if status != 200:
            return False
        if not stream:
            return b'Stand-in answer' in body
        flat = body.replace(b' ', b'')
        return (b'"done":true' in flat) if self.kind == 'ollama' else (b'[DONE]' in body)


class Conn:
    def __init__(self, target):
        self.target = target
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.target.ip, self.target.port), 10)
        self.writer.get_extra_info('socket').setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def exchange(self, stream):
        """One request; returns (status, body, seconds, seconds to first content or None)."""
        t0 = time.perf_counter()
        self.writer.write(self.target.requests[stream])
        head = await self.reader.readuntil(b'\r\n\r\n')
        status = int(head[9:12])
        lower = head.lower()
        first = None
        if b'transfer-encoding: chunked' in lower:
            body = bytearray()
            while True:
                line = await self.reader.readuntil(b'\r\n')
                size = int(line.split(b';', 1)[0], 16)
                if size == 0:
                    await self.reader.readuntil(b'\r\n')
                    break
                start = max(0, len(body) - 32)
                body += (await self.reader.readexactly(size + 2))[:-2]
                if first is None and CONTENT_RE.search(body, start):
                    first = time.perf_counter() - t0
        else:
            m = re.search(rb'\r\ncontent-length:\s*(\d+)', lower)
            if m:
                body = await self.reader.readexactly(int(m.group(1)))
            else:  # neither length nor chunks: the body ends with the connection
                body = await self.reader.read()
                lower += b'\r\nconnection: close'
            if CONTENT_RE.search(body):
                first = time.perf_counter() - t0
        elapsed = time.perf_counter() - t0
        if b'\r\nconnection: close' in lower:
            self.close()
        return status, bytes(body), elapsed, first


async def _one(conn, stream, out):
    """One request on a keep-alive connection, recorded in out."""
    if conn.writer is None:
        await conn.open()
    try:
        status, body, elapsed, first = await asyncio.wait_for(conn.exchange(stream), 60)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, ValueError) as exc:
        conn.close()
        out['errors'].append(type(exc).__name__)
        return
    if conn.target.ok(status, body, stream):
        out['lat'].append(elapsed * 1000.0)
        if first is not None:
            out['ttft'].append(first * 1000.0)
    else:
        out['errors'].append('HTTP %d' % status)
        if len(out['samples']) < 3:
            out['samples'].append(body[:300].decode('utf-8', 'replace'))


def run_sequential(targets, stream, count, glob_deadline):
    """One client per path, the paths taking turns request by request (order
    rotated each turn), so that drift on a shared machine hits them alike."""
    outs = {t.name: {'lat': [], 'ttft': [], 'errors': [], 'samples': [], 'cpu': {}} for t in targets}

    async def main():
        conns = [Conn(t) for t in targets]
        try:
            for i in range(count):
                if time.perf_counter() >= glob_deadline:
                    break
                k = i % len(conns)
                for conn in conns[k:] + conns[:k]:
                    await _one(conn, stream, outs[conn.target.name])
        finally:
            for conn in conns:
                conn.close()
    asyncio.run(main())
    for out in outs.values():
        out['wall'] = sum(out['lat']) / 1000.0
    return outs


async def client_loop(target, stream, count, deadline, out):
    conn = Conn(target)
    try:
        for dummy in range(count):
            if time.perf_counter() >= deadline:
                break
            await _one(conn, stream, out)
    finally:
        conn.close()


def run_slice(target, clients, stream, count, seconds, glob_deadline):
    """Run `clients` concurrent keep-alive clients, each up to `count` requests,
    for at most `seconds`. Returns latencies, errors, wall time and CPU use."""
    out = {'lat': [], 'ttft': [], 'errors': [], 'samples': []}
    deadline = min(time.perf_counter() + seconds, glob_deadline)
    cpu0 = {role: c.cpu_ns() for role, c in target.containers}
    host0 = host_cpu()
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()

    async def main():
        await asyncio.gather(*(client_loop(target, stream, count, deadline, out) for dummy in range(clients)))
    asyncio.run(main())
    wall = time.perf_counter() - t0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    host1 = host_cpu()
    cpu = {}
    for role, c in target.containers:
        after = c.cpu_ns()
        cpu[role] = None if after is None or cpu0[role] is None else (after - cpu0[role]) / 1e9
    cpu['client'] = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    ncpu = os.cpu_count() or 1
    busy, total = host1[0] - host0[0], host1[1] - host0[1]
    cpu['machine'] = busy / total * ncpu * wall if total else None  # CPU-seconds used on the whole machine
    out.update(wall=wall, cpu=cpu)
    return out


class Series:
    """Accumulates slices of one (path, phase)."""

    def __init__(self):
        self.lat, self.ttft, self.errors, self.samples = [], [], [], []
        self.wall = 0.0
        self.cpu = {}

    def add(self, s):
        self.lat += s['lat']
        self.ttft += s['ttft']
        self.errors += s['errors']
        self.samples += s['samples'][:3 - len(self.samples)]
        self.wall += s['wall']
        for key, value in s['cpu'].items():
            if value is None or self.cpu.get(key, 0) is None:
                self.cpu[key] = None
            else:
                self.cpu[key] = self.cpu.get(key, 0) + value

    def summary(self, ttft):
        def pct(values, p):
            values = sorted(values)
            if not values:
                return None
            k = (len(values) - 1) * p / 100.0
            lo, hi = int(k), min(int(k) + 1, len(values) - 1)
            return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 3)
        n = len(self.lat)
        row = {'n': n, 'errors': len(self.errors), 'seconds': round(self.wall, 2),
               'p50_ms': pct(self.lat, 50), 'p99_ms': pct(self.lat, 99),
               'mean_ms': round(statistics.mean(self.lat), 3) if n else None,
               'rps': round(n / self.wall, 1) if self.wall else None}
        if ttft:
            row.update(ttft_p50_ms=pct(self.ttft, 50), ttft_p99_ms=pct(self.ttft, 99), ttft_n=len(self.ttft))
        if self.errors:
            row['error_kinds'] = sorted(set(self.errors))
            row['error_samples'] = self.samples
        total = len(self.lat) + len(self.errors)
        if total:
            cpu_ms = {}
            busy_bench = 0.0
            for key, value in self.cpu.items():
                if key == 'machine' or value is None:
                    continue
                cpu_ms[key] = round(value * 1000.0 / total, 3)
                busy_bench += value
            row['cpu_ms_per_request'] = cpu_ms
            if self.cpu.get('machine') is not None and self.wall:
                row['machine_cpus_busy'] = round(self.cpu['machine'] / self.wall, 2)
                row['other_load_cpus'] = round(max(0.0, self.cpu['machine'] - busy_bench) / self.wall, 2)
        return row


def set_token_delay(standin, ms):
    import http.client
    conn = http.client.HTTPConnection(standin.ip, 11434, timeout=10)
    conn.request('POST', '/_standin/config', json.dumps({'token_delay_ms': ms}), {'Content-Type': 'application/json'})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError('stand-in config answered %s' % resp.status)


def wait_ready(host, port, path, seconds, container=None, host_header=None):
    import http.client
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=3)
            conn.request('GET', path, headers={'Host': host_header} if host_header else {})
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                return True
        except OSError:
            pass
        if container is not None:
            state = docker('inspect', '-f', '{{.State.Status}}', container.name, check=False)
            if state not in ('running', 'created'):
                raise RuntimeError('%s exited (%s):\n%s' % (container.name, state, container.logs_tail()))
        time.sleep(0.5)
    raise RuntimeError('%s:%s%s not ready after %ss%s' % (
        host, port, path, seconds, ('\n' + container.logs_tail()) if container else ''))


# ----------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------

def build_variants(lab, rendered, candidates):
    """default, role and the chosen candidates: command args, env and config."""
    with open(os.path.join(rendered, 'docker-compose.yml')) as f:
        service = yaml.safe_load(f)['services']['litellm']
    with open(os.path.join(rendered, 'role-config.yaml')) as f:
        role_config = yaml.safe_load(f)
    role_env = {k: str(v) for k, v in (service.get('environment') or {}).items()}
    role_args = [str(a) for a in service['command']]
    offline = {'LITELLM_LOCAL_MODEL_COST_MAP': 'True', 'LITELLM_TELEMETRY_DISABLED': 'true'}
    default_config = {
        'model_list': [{'model_name': MODEL, 'litellm_params': {
            'model': 'ollama_chat/' + MODEL, 'api_base': role_config['model_list'][0]['litellm_params']['api_base']}}],
        'general_settings': {'master_key': 'os.environ/LITELLM_MASTER_KEY'},
    }
    variants = [
        {'name': 'default', 'about': "LiteLLM's defaults: 1 worker, default logging, minimal config",
         'args': ['--config', '/app/config.yaml', '--port', '4000'], 'env': offline, 'config': default_config},
        {'name': 'role', 'about': "the collection's settings (roles/litellm, stack compose service)",
         'args': role_args, 'env': role_env, 'config': role_config},
    ]
    for name in candidates:
        spec = candidate_spec(name)
        base = variants[1]
        env = dict(base['env'])
        for key, value in spec['env'].items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        variants.append({'name': name, 'about': '%s + %s' % (base['name'], spec['about']),
                         'args': base['args'] + spec['args'], 'env': env,
                         'config': deep_merge(base['config'], spec['config'])})
    for v in variants:
        v['container'] = '%s-litellm-%s' % (lab.prefix, safe(v['name']))
        v['nginx_container'] = '%s-nginx-%s' % (lab.prefix, safe(v['name']))
    return variants


def safe(name):
    return re.sub(r'[^a-z0-9-]', '-', name.lower())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(REPO, 'bench', 'results', 'litellm_gateway.json'))
    ap.add_argument('--litellm-image', default='llm-gateway-test/litellm:latest')
    ap.add_argument('--nginx-image', default='llm-gateway-test/nginx:latest')
    ap.add_argument('--standin-image', default='llm-gateway-test/ollama-standin:latest')
    ap.add_argument('--candidates', default='', help='comma-separated, or "all": %s' % ', '.join(CANDIDATES))
    ap.add_argument('--rounds', type=int, default=4, help='interleaved rounds per phase')
    ap.add_argument('--c1-requests', type=int, default=300, help='requests per path, 1 client')
    ap.add_argument('--c16-seconds', type=float, default=4.0, help='seconds per path and round, 16 clients')
    ap.add_argument('--stream-requests', type=int, default=60, help='streams per path, 1 client')
    ap.add_argument('--stream-c16-seconds', type=float, default=3.0, help='seconds per path and round, 16 streams')
    ap.add_argument('--token-delay-ms', type=int, default=20)
    ap.add_argument('--concurrency', type=int, default=16)
    ap.add_argument('--start-timeout', type=float, default=240, help='seconds for LiteLLM to become live')
    ap.add_argument('--max-seconds', type=float, default=1200, help='cap on the measuring phases')
    ap.add_argument('--goal-ratio', type=float, default=3.0)
    ap.add_argument('--p50-tolerance', type=float, default=0.05,
                    help='relative noise margin for "p50 no worse" (default 5%%)')
    args = ap.parse_args()
    candidates = list(CANDIDATES) if args.candidates == 'all' else [c for c in args.candidates.split(',') if c]
    unknown = [p for c in candidates for p in c.split('+') if p not in CANDIDATES]
    if unknown:
        ap.error('unknown candidates: %s (known: %s)' % (', '.join(unknown), ', '.join(CANDIDATES)))
    for image in (args.litellm_image, args.nginx_image, args.standin_image):
        if not docker('image', 'ls', '-q', image):
            raise SystemExit('image %s is missing: run tests/harness/run.sh images (make test builds it)' % image)

    started = time.monotonic()
    lab = Lab(secrets.token_hex(4))
    lab.remove_stale()
    subnet, gateway = lab.create_network()
    standin_name = lab.prefix + '-standin'
    standin = lab.run(standin_name, args.standin_image,
                      args=['--host', '0.0.0.0', '--port', '11434', '--models', MODEL + ':latest',
                            '--token-delay-ms', '0', '--name', 'bench'])
    wait_ready(standin.ip, 11434, '/_standin/state', 30, standin)

    log('rendering the roles\' templates')
    names = ['default', 'role'] + candidates
    stub = [{'name': n, 'container': '%s-litellm-%s' % (lab.prefix, safe(n)),
             'nginx_container': '%s-nginx-%s' % (lab.prefix, safe(n))} for n in names]
    rendered = render(lab, subnet, gateway, stub, standin_name)
    variants = build_variants(lab, rendered, candidates)

    key = 'sk-' + secrets.token_hex(32)
    key_file = os.path.join(lab.tmp, 'litellm.env')
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write('LITELLM_MASTER_KEY=%s\n' % key)

    log('starting %d LiteLLM containers and their nginx' % len(variants))
    t_start = time.monotonic()
    for v in variants:
        cfg = os.path.join(lab.tmp, 'config-%s.yaml' % v['name'])
        with open(cfg, 'w') as f:
            yaml.safe_dump(v['config'], f, sort_keys=False)
        os.chmod(cfg, 0o644)
        v['litellm'] = lab.run(v['container'], args.litellm_image, args=v['args'], env=v['env'], env_file=key_file,
                               mounts=[(cfg, '/app/config.yaml')])
    for v in variants:
        v['nginx'] = lab.run(v['nginx_container'], args.nginx_image,
                             mounts=[(os.path.join(rendered, 'nginx.conf'), '/etc/nginx/nginx.conf'),
                                     (os.path.join(rendered, v['name'], 'conf.d'), '/etc/nginx/conf.d')])
    for v in variants:
        wait_ready(v['litellm'].ip, 4000, '/health/liveliness', args.start_timeout, v['litellm'])
        v['ready_s'] = round(time.monotonic() - t_start, 1)
        log('%s live after %.1f s (all started together)' % (v['container'], v['ready_s']))

    targets = [Target('direct', 'direct to the stand-in (Ollama /api/chat)', standin.ip, 11434, 'ollama',
                      'localhost:11434', containers=[('standin', standin)])]
    for v in variants:
        targets.append(Target(v['name'], 'nginx + LiteLLM %s' % v['name'], v['nginx'].ip, 80, 'openai', PUBLIC_HOST,
                              key=key, containers=[('litellm', v['litellm']), ('nginx', v['nginx']),
                                                   ('standin', standin)]))
    for v in variants:  # nginx's /health -> LiteLLM's liveliness
        wait_ready(v['nginx'].ip, 80, '/health', 30, v['nginx'], PUBLIC_HOST)

    deadline = time.perf_counter() + args.max_seconds
    conc = args.concurrency
    set_token_delay(standin, 0)
    # Warm-up: every worker's first requests are slow (lazy init), streams too.
    log('warming up (every worker, streamed and not)')
    for t in targets:
        for stream in (False, True):
            s = run_slice(t, conc, stream, 10 ** 6, 4.0 if not stream else 2.0, deadline)
            if len(s['lat']) == 0:
                raise RuntimeError('%s answers nothing during warm-up: %s %s' % (t.name, s['errors'][:3], s['samples']))

    phases = [
        ('c1', 1, False, args.c1_requests, False),
        ('c%d' % conc, conc, False, args.c16_seconds, False),
        ('stream_c1', 1, True, args.stream_requests, True),
        ('stream_c%d' % conc, conc, True, args.stream_c16_seconds, True),
    ]
    results = {}
    for phase, clients, stream, amount, ttft in phases:
        set_token_delay(standin, args.token_delay_ms if stream else 0)
        series = {t.name: Series() for t in targets}
        if clients == 1:
            log('phase %s: 1 client per path, %s, %d requests per path, paths taking turns' % (
                phase, 'streamed' if stream else 'not streamed', amount))
            for name, out in run_sequential(targets, stream, int(amount), deadline).items():
                series[name].add(out)
        else:
            log('phase %s: %d clients, %s, %d rounds of %.0f s per path' % (
                phase, clients, 'streamed' if stream else 'not streamed', args.rounds, amount))
            for r in range(args.rounds):
                order = targets[r % len(targets):] + targets[:r % len(targets)]
                for t in order:
                    series[t.name].add(run_slice(t, clients, stream, 10 ** 6, amount, deadline))
        results[phase] = {name: s.summary(ttft) for name, s in series.items()}
        set_token_delay(standin, 0)

    rss = {v['name']: v['litellm'].rss_mb() for v in variants}
    versions = {'images': {'litellm': args.litellm_image, 'nginx': args.nginx_image, 'standin': args.standin_image}}
    versions.update(json.loads(docker('exec', variants[0]['litellm'].name, 'python3', '-c', (
        'import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in '
        '("litellm", "uvicorn", "granian", "uvloop")}))'), check=False) or '{}'))
    versions['nginx'] = docker('exec', variants[0]['nginx'].name, 'sh', '-c', 'nginx -v 2>&1', check=False) or None
    elapsed = round(time.monotonic() - started, 1)
    report = make_report(args, variants, targets, results, rss, elapsed, conc)
    report['versions'] = versions
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    print_table(report, conc)
    log('results in %s; %.0f s in all (containers removed next)' % (args.out, elapsed))
    return 0


def make_report(args, variants, targets, results, rss, elapsed, conc):
    cN = 'c%d' % conc
    base, role = results[cN]['default'], results[cN]['role']
    report = {
        'benchmark': 'public route (nginx + LiteLLM) vs direct to the Ollama stand-in; '
                     "the collection's LiteLLM settings vs LiteLLM's defaults",
        'machine': {'cpus': os.cpu_count(), 'load_client': 'asyncio, raw HTTP/1.1 keep-alive sockets, same machine'},
        'settings': {'rounds': args.rounds, 'c1_requests_per_path': args.c1_requests,
                     'c%d_seconds_per_round' % conc: args.c16_seconds,
                     'stream_c1_requests_per_path': args.stream_requests,
                     'stream_c%d_seconds_per_round' % conc: args.stream_c16_seconds,
                     'token_delay_ms': args.token_delay_ms, 'stream_tokens': 4,
                     'nginx_rate_limit': 'raised to 100000r/s (one client address sends all the load)'},
        'paths': {t.name: t.label for t in targets},
        'variants': {v['name']: {'about': v['about'], 'command': v['args'],
                                 'environment': dict(v['env']),
                                 'config': v['config'], 'live_after_s': v['ready_s'],
                                 'rss_mb_after': rss.get(v['name'])} for v in variants},
        'results': results,
        'run_seconds': elapsed,
    }

    ncpu = os.cpu_count() or 1

    def workers(v):
        value = v['env'].get('NUM_WORKERS', '1')
        if '--num_workers' in v['args']:
            value = v['args'][v['args'].index('--num_workers') + 1]
        return int(value)

    def estimate(v):
        """Requests per second this machine could serve with nothing else on it:
        LiteLLM's workers each use at most one CPU, and LiteLLM and nginx share
        all CPUs (the stand-in and the load client are left out: elsewhere in
        real use). From the measured CPU ms per request at 16 clients, which
        depend far less on the neighbours' load than throughput does."""
        cpu = results[cN][v['name']].get('cpu_ms_per_request', {})
        ll, ng = cpu.get('litellm'), cpu.get('nginx')
        if not ll or ng is None:
            return None
        return round(min(min(workers(v), ncpu) * 1000.0 / ll, ncpu * 1000.0 / (ll + ng)), 1)
    estimates = {v['name']: estimate(v) for v in variants}
    report['idle_machine_estimate_rps'] = estimates
    report['idle_machine_estimate_note'] = (
        'min(workers, CPUs) / LiteLLM CPU per request, capped by CPUs / (LiteLLM + nginx CPU per request); '
        'CPU per request measured at %d clients; an upper bound, not a measurement' % conc)

    def compare(name):
        row, c1 = results[cN][name], results['c1']
        ratio = round(row['rps'] / base['rps'], 2) if base['rps'] and row['rps'] else None
        est = (round(estimates[name] / estimates['default'], 2)
               if estimates.get(name) and estimates.get('default') else None)
        tol = 1 + args.p50_tolerance
        p50_c1_ok = c1[name]['p50_ms'] is not None and c1[name]['p50_ms'] <= c1['default']['p50_ms'] * tol
        p50_cN_ok = row['p50_ms'] is not None and row['p50_ms'] <= base['p50_ms'] * tol
        return {'throughput_ratio_vs_default': ratio, 'idle_machine_estimate_ratio': est,
                'litellm_cpu_ms_per_request': row.get('cpu_ms_per_request', {}).get('litellm'),
                'litellm_cpu_ms_per_request_default': base.get('cpu_ms_per_request', {}).get('litellm'),
                'p50_c1_ms': c1[name]['p50_ms'], 'p50_c1_default_ms': c1['default']['p50_ms'],
                'p50_%s_ms' % cN: row['p50_ms'], 'p50_%s_default_ms' % cN: base['p50_ms'],
                'p50_no_worse': bool(p50_c1_ok and p50_cN_ok),
                'goal_met': bool(ratio is not None and ratio >= args.goal_ratio and p50_c1_ok and p50_cN_ok)}

    report['goal'] = {'throughput_ratio': args.goal_ratio, 'at_clients': conc,
                      'p50_no_worse': 'at 1 and %d clients, within %d%% noise margin' % (
                          conc, round(args.p50_tolerance * 100))}
    report['role_vs_default'] = compare('role')
    report['candidates_vs_default'] = {v['name']: compare(v['name']) for v in variants
                                       if v['name'] not in ('default', 'role')}
    report['goal_met'] = report['role_vs_default']['goal_met']
    other = [row.get('other_load_cpus') for phase in results.values() for row in phase.values()
             if row.get('other_load_cpus') is not None]
    report['other_load_cpus_max'] = max(other) if other else None
    report['machine_was_busy'] = bool(other and max(other) > 0.3)
    direct, c1 = results['c1']['direct'], results['c1']
    report['added_by_gateway_c1_p50_ms'] = {
        name: round(c1[name]['p50_ms'] - direct['p50_ms'], 3) for name in c1 if name != 'direct'}
    st = results['stream_c1']
    report['ttft_added_c1_p50_ms'] = {
        name: round(st[name]['ttft_p50_ms'] - st['direct']['ttft_p50_ms'], 3)
        for name in st if name != 'direct' and st[name].get('ttft_p50_ms') is not None
        and st['direct'].get('ttft_p50_ms') is not None}
    return report


def print_table(report, conc):
    res = report['results']
    cN, sN = 'c%d' % conc, 'stream_c%d' % conc
    width = max(10, max(len(n) for n in res['c1']))
    head = ('%-*s %7s %7s %8s | %7s %8s %8s %7s | %8s %8s | %8s %8s | %6s %6s %5s' % (
        width, 'path', 'c1 n', 'c1 p50', 'c1 p99', '%s n' % cN, '%s p50' % cN, '%s p99' % cN, 'req/s',
        'TTFT c1', 'p99', 'TTFT c%d' % conc, 'p99', 'LL ms', 'ng ms', 'other'))
    print()
    print('latencies in ms; TTFT = first streamed token (stand-in: %d ms per token); '
          'LL/ng ms = LiteLLM/nginx CPU ms per request at %d clients; other = CPUs busy outside the bench\'s '
          'containers and client (other users, dockerd, kernel)' % (
              report['settings']['token_delay_ms'], conc))
    print(head)
    print('-' * len(head))
    for name in res['c1']:
        a, b, s1, sN_ = res['c1'][name], res[cN][name], res['stream_c1'][name], res[sN][name]
        cpu = b.get('cpu_ms_per_request', {})

        def f(x, fmt='%8.1f'):
            return fmt % x if x is not None else ' ' * (len(fmt % 0))
        print('%-*s %7d %7.2f %8.2f | %7d %8.1f %8.1f %7.1f | %s %s | %s %s | %s %s %5s' % (
            width, name, a['n'], a['p50_ms'] or 0, a['p99_ms'] or 0, b['n'], b['p50_ms'] or 0, b['p99_ms'] or 0,
            b['rps'] or 0, f(s1.get('ttft_p50_ms')), f(s1.get('ttft_p99_ms')), f(sN_.get('ttft_p50_ms')),
            f(sN_.get('ttft_p99_ms')), f(cpu.get('litellm'), '%6.2f'), f(cpu.get('nginx'), '%6.2f'),
            '%.2f' % b['other_load_cpus'] if b.get('other_load_cpus') is not None else ''))
        errs = sum(res[p][name]['errors'] for p in res)
        if errs:
            kinds = sorted({k for p in res for k in res[p][name].get('error_kinds', [])})
            print('  ^ %d failed requests: %s' % (errs, kinds))
    rv = report['role_vs_default']
    est = report['idle_machine_estimate_rps']
    print()
    print('idle-machine estimate (req/s from CPU per request, an upper bound): %s' % ', '.join(
        '%s %s' % (k, v) for k, v in est.items()))
    if report['machine_was_busy']:
        print('NOTE: other work on this machine used up to %.2f CPUs during the run: throughput figures are '
              'depressed and noisy; compare the CPU per request and the estimate' % report['other_load_cpus_max'])
    print('role vs default at %d clients: %.2fx the throughput (goal %.1fx; idle-machine estimate %sx); '
          'p50 c1 %.2f vs %.2f ms, c%d %.1f vs %.1f ms -> goal met: %s' % (
              conc, rv['throughput_ratio_vs_default'] or 0, report['goal']['throughput_ratio'],
              rv['idle_machine_estimate_ratio'], rv['p50_c1_ms'], rv['p50_c1_default_ms'], conc,
              rv['p50_%s_ms' % cN], rv['p50_%s_default_ms' % cN], report['goal_met']))
    for name, c in report['candidates_vs_default'].items():
        print('candidate %s: %.2fx the default throughput (estimate %sx), p50 c1 %.2f ms, c%d %.1f ms '
              '(goal met: %s)' % (name, c['throughput_ratio_vs_default'] or 0, c['idle_machine_estimate_ratio'],
                                  c['p50_c1_ms'], conc, c['p50_%s_ms' % cN], c['goal_met']))


if __name__ == '__main__':
    sys.exit(main())
