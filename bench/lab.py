"""The benchmark's lab: a Docker network of its own (internal: nothing leaves the machine) and the
containers on it (the Ollama stand-in, one LiteLLM and one nginx per variant), removed at exit,
even on errors or signals; the roles' templates rendered by Ansible; the LiteLLM variants.

Names start with llm-gateway-bench-<run id>; nothing of a demo or Molecule stack (llama-*,
published ports) is touched, and no port is published. Containers and networks of earlier runs
whose process is gone are removed (they carry the label llm_gateway.bench.pid).
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import http.client
import json
import os
import re
import shutil
import signal
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


def safe(name):
    return re.sub(r'[^a-z0-9-]', '-', name.lower())


# ----------------------------------------------------------------------------
# Variants: LiteLLM's defaults, the role's settings, and candidates
# ----------------------------------------------------------------------------

@dataclasses.dataclass
class Candidate:
    """The role's settings with one change: env values of None remove the
    variable; args are appended to the command; config is merged into
    config.yaml (dicts recursively)."""

    about: str
    args: list = dataclasses.field(default_factory=list)
    env: dict = dataclasses.field(default_factory=dict)
    config: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def named(cls, name):
        """A candidate, or several joined with '+' (args added, env/config merged)."""
        parts = [CANDIDATES[part] for part in name.split('+')]
        out = cls('; '.join(one.about for one in parts))
        for one in parts:
            out.args += one.args
            out.env.update(one.env)
            out.config = deep_merge(out.config, one.config)
        return out


CANDIDATES = {
    'granian': Candidate('Granian (Rust HTTP server) instead of uvicorn: --run_granian', args=['--run_granian']),
    'gthreads2': Candidate('Granian runtime threads 2: --granian_threads 2', args=['--granian_threads', '2']),
    'gunicorn': Candidate('gunicorn managing the uvicorn workers: --run_gunicorn', args=['--run_gunicorn']),
    'workers1': Candidate('NUM_WORKERS=1 (the role otherwise)', env={'NUM_WORKERS': '1'}),
    'workers3': Candidate('NUM_WORKERS=3', env={'NUM_WORKERS': '3'}),
    'nospend': Candidate('general_settings disable_spend_logs, disable_error_logs',
                         config={'general_settings': {'disable_spend_logs': True, 'disable_error_logs': True}}),
    'retries0': Candidate('router_settings num_retries 0', config={'router_settings': {'num_retries': 0}}),
    'loginfo': Candidate('LITELLM_LOG=INFO (default-like logging, role otherwise)', env={'LITELLM_LOG': 'INFO'}),
}


@dataclasses.dataclass
class Variant:
    """One LiteLLM configuration: its command args, environment and config.yaml; once started, its
    containers (LiteLLM and the nginx in front) and how long LiteLLM took to become live."""

    name: str
    about: str
    args: list
    env: dict
    config: dict
    litellm: object = None
    nginx: object = None
    ready_s: float = None

    def with_candidate(self, name):
        """This variant with the candidate ``name`` (one, or several joined with '+') applied."""
        spec = Candidate.named(name)
        env = dict(self.env)
        for key, value in spec.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return Variant(name, '%s + %s' % (self.name, spec.about), self.args + spec.args, env,
                       deep_merge(self.config, spec.config))


def build_variants(rendered, candidates):
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
    default = Variant('default', "LiteLLM's defaults: 1 worker, default logging, minimal config",
                      ['--config', '/app/config.yaml', '--port', '4000'], offline, default_config)
    role = Variant('role', "the collection's settings (roles/litellm, stack compose service)",
                   role_args, role_env, role_config)
    return [default, role] + [role.with_candidate(name) for name in candidates]


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

    def litellm_name(self, variant):
        return '%s-litellm-%s' % (self.prefix, safe(variant))

    def nginx_name(self, variant):
        return '%s-nginx-%s' % (self.prefix, safe(variant))

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


# ----------------------------------------------------------------------------
# Rendering the roles' templates (Ansible, so every filter and variable is real)
# ----------------------------------------------------------------------------

def render(lab, subnet, gateway, names, standin):
    """Render nginx.conf, one llm-gateway.conf per LiteLLM variant (by name),
    the role's config.yaml and the phase-2 compose file. Returns the output folder."""
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
    items = [{'name': name, 'container': lab.litellm_name(name)} for name in names]
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
# The stand-in's config hook, and waiting for a container's HTTP server
# ----------------------------------------------------------------------------

def set_token_delay(standin, ms):
    conn = http.client.HTTPConnection(standin.ip, 11434, timeout=10)
    conn.request('POST', '/_standin/config', json.dumps({'token_delay_ms': ms}), {'Content-Type': 'application/json'})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError('stand-in config answered %s' % resp.status)


def wait_ready(host, port, path, seconds, container=None, host_header=None):
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
