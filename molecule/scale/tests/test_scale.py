"""Scaling out, verified with real requests: n8n in queue mode on the stack's
Postgres and Redis (2 workers, 1 webhook processor), 2 LiteLLM replicas.

The tests run in file order: phase 2 first, then the queue is put to the test,
the workers are scaled, and the last test rolls back to phase 1 in queue mode.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import (  # noqa: E402  pylint: disable=wrong-import-position
    COMPOSE, DOMAIN, NGINX, container, container_ip, n8n, node, run_playbook, secret, trigger_webhook, workflow,
)

PROJECT_NAME = 'llm-gateway-scale'
NGINX_C = 'llama-nginx-scale'
LITELLM = ['llama-litellm-scale', 'llama-litellm-scale-2']
REDIS = 'llama-redis-scale'
POSTGRES = 'llama-postgres-scale'
HOST = 'llm-gateway-scale'

# Bounded load from inside the main n8n container (node's fetch, as a workflow
# calls): CLIENTS callers for at most SECONDS and at most 5000 requests in all.
# Prints {"ok": n, "failed": {reason: n}}.
LOAD_JS = r"""
const [url, key, seconds, clients] = process.argv.slice(-4);
const end = Date.now() + Number(seconds) * 1000, limit = 5000;
const res = {ok: 0, failed: {}};
const body = JSON.stringify({model: 'llama3', max_tokens: 4, messages: [{role: 'user', content: 'load'}]});
const total = () => res.ok + Object.values(res.failed).reduce((a, b) => a + b, 0);
async function one() {
  while (Date.now() < end && total() < limit) {
    let why = null;
    try {
      const r = await fetch(url, {method: 'POST', body, signal: AbortSignal.timeout(30000),
                                  headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + key}});
      await r.text();
      if (r.status !== 200) why = 'HTTP ' + r.status;
    } catch (e) { why = (e.cause && e.cause.code) || e.name; }
    if (why === null) res.ok++; else res.failed[why] = (res.failed[why] || 0) + 1;
  }
}
Promise.all(Array.from({length: Number(clients)}, one)).then(() => console.log(JSON.stringify(res)));
"""


def service_containers(host, service, running_only=True):
    out = host.check_output("docker ps %s -q --filter label=com.docker.compose.project=%s "
                            "--filter label=com.docker.compose.service=%s"
                            % ('' if running_only else '-a', PROJECT_NAME, service))
    return out.split()


def main_n8n(host):
    return service_containers(host, 'n8n')[0]


def wait_for(what, predicate, seconds):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(1)


def executions(host):
    return n8n(host, '/api/v1/executions?limit=250')['data']


def worker_logs(host, name):
    return host.check_output('docker logs %s 2>&1' % name)


def assert_changed(rc, out, changed):
    assert rc == 0, out[-3000:]
    found = re.search(r'%s\s*:\s*ok=\d+\s+changed=(\d+)\s' % HOST, out)
    assert found, out[-2000:]
    assert (int(found.group(1)) > 0) == changed, 'changed=%s: %s' % (found.group(1), out[-2000:])


def test_every_service_runs_healthy(host):
    assert len(service_containers(host, 'n8n-worker')) == 2
    assert len(service_containers(host, 'n8n-webhook')) == 1
    for name in service_containers(host, 'n8n') + service_containers(host, 'n8n-worker') + \
            service_containers(host, 'n8n-webhook') + LITELLM + [REDIS, POSTGRES, NGINX_C]:
        assert container(host, name, '{{.State.Health.Status}}') == 'healthy', name
    env = json.loads(container(host, main_n8n(host), '{{json .Config.Env}}'))
    assert 'EXECUTIONS_MODE=queue' in env and 'DB_TYPE=postgresdb' in env
    # Every process that queues a webhook's execution (main, webhook processors) and the workers keep finished
    # jobs, so that a caller waiting for the last node always gets its answer (roles/stack/vars/main.yml).
    for name in service_containers(host, 'n8n') + service_containers(host, 'n8n-worker') + \
            service_containers(host, 'n8n-webhook'):
        env = json.loads(container(host, name, '{{json .Config.Env}}'))
        assert 'N8N_EXECUTIONS_QUEUE_KEEP_LAST_COMPLETED=1000' in env, name
        assert 'N8N_EXECUTIONS_QUEUE_KEEP_LAST_FAILED=1000' in env, name


def test_secrets_are_files_out_of_docker_inspect(host):
    values = [secret('postgres_password'), secret('redis_password'), secret('encryption_key'),
              secret('litellm_master_key')]
    names = (service_containers(host, 'n8n') + service_containers(host, 'n8n-worker')
             + service_containers(host, 'n8n-webhook') + [REDIS, POSTGRES] + LITELLM)
    for name in names:
        inspected = host.check_output('docker container inspect %s' % name)
        assert not [v for v in values if v in inspected], name
    for folder, owner in [('postgres-secrets', '999'), ('redis', '999'), ('n8n-secrets', '1000'),
                          ('litellm-secrets', '65532')]:
        path = '/srv/llm-gateway-scale/env/%s' % folder
        assert host.check_output("stat -c '%%u %%a' %s" % path) == owner + ' 500'
        for f in host.check_output('ls %s' % path).split():
            assert host.check_output("stat -c '%%u %%a' %s/%s" % (path, f)) == owner + ' 400'
    conf = host.check_output('cat /srv/llm-gateway-scale/env/redis/redis.conf')
    assert 'appendonly yes' in conf and 'requirepass ' in conf


def test_migrated_workflow_runs_on_both_workers_through_the_webhook_processor(host):
    wf = workflow(host, 'LLM webhook')
    assert node(wf, 'Ask Ollama')['parameters']['url'] == 'http://%s:4000/v1/chat/completions' % LITELLM[0]
    seen = {e['id'] for e in executions(host)}
    for i in range(8):
        assert trigger_webhook(host, 'llm-ask', {'prompt': 'scale %d' % i}) == {
            'answer': 'Stand-in answer to: scale %d' % i}
    new = [e for e in executions(host) if e['id'] not in seen]
    assert len(new) == 8 and {e['status'] for e in new} == {'success'}
    # Every worker started some of them; the webhook processor queued them.
    by_worker = {}
    for name in service_containers(host, 'n8n-worker'):
        by_worker[name] = {m for m in re.findall(r'Worker started execution (\d+)', worker_logs(host, name))
                           if m in {e['id'] for e in new}}
    assert all(by_worker.values()), by_worker
    assert set().union(*by_worker.values()) == {e['id'] for e in new}
    queued = re.findall(r'Enqueued execution (\d+)', worker_logs(host, service_containers(host, 'n8n-webhook')[0]))
    assert {e['id'] for e in new} <= set(queued)


def test_litellm_replicas_share_one_name_and_redis(host):
    addresses = sorted(container_ip(host, name) for name in LITELLM)
    # nginx finds both replicas under the one name.
    resolved = host.check_output("docker exec %s getent ahostsv4 %s | awk '{print $1}' | sort -u" % (NGINX_C, LITELLM[0]))
    assert resolved.split() == addresses
    # n8n's containers reach that name through nginx (their extra_hosts), which
    # sends a request a restarting replica refused or reset to the other one.
    resolved = host.check_output(
        "docker exec %s node -e \"require('dns').lookup('%s', (e, a) => console.log(a))\"" % (main_n8n(host), LITELLM[0]))
    assert resolved == container_ip(host, NGINX_C)
    config = host.check_output('cat /srv/llm-gateway-scale/litellm/config.yaml')
    assert 'redis_host: %s' % REDIS in config and 'redis_password: os.environ/REDIS_PASSWORD' in config
    # The router's state is in Redis: LiteLLM's keys are there.
    assert 'llama3' in redis_cli(host, '--scan')


def redis_cli(host, *args):
    """redis-cli in the Redis container, with the password of its live configuration (never on a command line)."""
    return host.check_output(
        "docker exec %s sh -c 'REDISCLI_AUTH=\"$(sed -n \"s/^requirepass //p\" /usr/local/etc/redis/redis.conf)\" "
        "redis-cli %s'" % (REDIS, ' '.join(args)))


def snapshot(host):
    """What a refused run must leave as it was: the stack's files, containers and volumes."""
    return (host.check_output('find /srv/llm-gateway-scale -path "*/.staging" -prune -o -type f -print0 | sort -z '
                              '| xargs -0 sha256sum'),
            host.check_output("docker ps -a --filter label=com.docker.compose.project=%s "
                              "--format '{{.Names}} {{.ID}} {{.State}}' | sort" % PROJECT_NAME),
            host.check_output("docker volume ls -q | grep scale | sort"))


def test_what_queue_mode_cannot_run_is_refused_before_any_change(host):
    host.check_output('docker volume create llm-gateway-scale-sqlite-n8n')
    try:
        before = snapshot(host)
        for extra, expected in [
                (['-e', 'llm_gateway_n8n_database=sqlite', '-e', 'llm_gateway_n8n_executions_mode=regular'],
                 'keeps its data in Postgres (the volume llm-gateway-scale-postgres exists)'),
                (['-e', 'llm_gateway_n8n_database=sqlite'],
                 'queue mode needs n8n\'s workers to share its database'),
                (['-e', 'llm_gateway_n8n_takeover=attach', '-e', 'llm_gateway_n8n_container=%s' % main_n8n(host)],
                 'an attached n8n is yours, not the stack\'s'),
                # An n8n whose data is in SQLite, in a project without the stack's Postgres yet.
                (['-e', 'llm_gateway_compose_project=llm-gateway-scale-sqlite', '-e',
                  'llm_gateway_n8n_data=llm-gateway-scale-sqlite-n8n'],
                 'would start n8n on an empty Postgres, leaving its workflows and credentials behind'),
                (['-e', 'llm_gateway_redis_password=short'], 'llm_gateway_redis_password cannot be used'),
                (['-e', 'llm_gateway_postgres_password=another-Postgres-passw0rd'],
                 'differs from the password the stack\'s Postgres was created with')]:
            rc, out = run_playbook('site.yml', *extra)
            assert rc != 0 and expected in out and 'Nothing was changed' in out, (extra, out[-2500:])
            assert snapshot(host) == before, extra
    finally:
        host.run('docker volume rm llm-gateway-scale-sqlite-n8n')


def test_a_replica_recreated_under_load_fails_no_request_through_nginx(host):
    before = container(host, LITELLM[1], '{{.Id}}')
    script = ('docker exec %s node -e %s http://%s/v1/chat/completions %s 25 4 >/tmp/scale-load.json 2>&1 & pid=$!; '
              'sleep 5; %s up -d --force-recreate --no-deps litellm-2 >/dev/null 2>&1; wait $pid; cat /tmp/scale-load.json'
              % (main_n8n(host), shlex.quote(LOAD_JS), NGINX_C, secret('litellm_master_key'), COMPOSE))
    result = json.loads(host.check_output(script).splitlines()[-1])
    assert container(host, LITELLM[1], '{{.Id}}') != before
    assert result['failed'] == {} and result['ok'] > 100, result
    wait_for('the recreated replica is healthy',
             lambda: container(host, LITELLM[1], '{{.State.Health.Status}}') == 'healthy', 120)


def test_executions_queued_while_no_worker_runs_survive_a_redis_restart(host):
    workers = service_containers(host, 'n8n-worker')
    host.check_output('docker kill %s' % ' '.join(workers))
    seen = {e['id'] for e in executions(host)}
    # The webhook processor queues each execution, then waits for its answer: the
    # callers give up after 4 s, the executions stay queued.
    host.run("for i in 1 2 3 4 5; do curl -s -m 4 -o /dev/null -X POST -H 'Host: webhooks.%s' "
             "-H 'Content-Type: application/json' -d '{\"prompt\": \"queued\"}' http://%s/webhook/llm-ask & done; wait"
             % (DOMAIN, NGINX))
    queued = [e for e in executions(host) if e['id'] not in seen]
    assert len(queued) == 5 and {e['status'] for e in queued} == {'new'}, queued
    time.sleep(2)  # appendfsync everysec
    host.check_output('docker restart %s' % REDIS)
    wait_for('Redis is healthy', lambda: container(host, REDIS, '{{.State.Health.Status}}') == 'healthy', 60)
    host.check_output('docker start %s' % ' '.join(workers))

    def done():
        now = {e['id']: e['status'] for e in executions(host) if e['id'] not in seen}
        return len(now) == 5 and set(now.values()) == {'success'}
    wait_for('the 5 queued executions ran after the restart', done, 180)
    wait_for('the workers are healthy again',
             lambda: all(container(host, w, '{{.State.Health.Status}}') == 'healthy' for w in workers), 180)


# Bounded load from a throwaway container on the stack's network: CLIENTS
# callers for each URL, each at most 5 requests a second, until SIGTERM or at
# most 400 s and 20,000 requests in all. The n8n route uses the address n8n's
# own containers have for LiteLLM (their extra_hosts). Prints, per URL,
# {"ok": n, "failed": {reason: n}}.
LOAD_PY = r"""
import json, os, signal, sys, threading, time, urllib.error, urllib.request
clients, urls = int(sys.argv[1]), sys.argv[2:]
stop, lock, limit, end = threading.Event(), threading.Lock(), 20000, time.monotonic() + 400
signal.signal(signal.SIGTERM, lambda *a: stop.set())
res = {u: {'ok': 0, 'failed': {}} for u in urls}
body = json.dumps({'model': 'llama3', 'max_tokens': 4, 'messages': [{'role': 'user', 'content': 'load'}]}).encode()
headers = {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + os.environ['KEY']}
def total():
    return sum(r['ok'] + sum(r['failed'].values()) for r in res.values())
def one(url):
    while not stop.is_set() and time.monotonic() < end and total() < limit:
        why = None
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30) as r:
                r.read()
        except urllib.error.HTTPError as e:
            why = 'HTTP %d' % e.code
        except Exception as e:
            why = '%s %s' % (type(e).__name__, str(getattr(e, 'reason', e))[:60])
        with lock:
            if why is None:
                res[url]['ok'] += 1
            else:
                res[url]['failed'][why] = res[url]['failed'].get(why, 0) + 1
        stop.wait(0.2)
threads = [threading.Thread(target=one, args=(u,)) for u in urls for _ in range(clients)]
for t in threads:
    t.start()
print('started', flush=True)
for t in threads:
    t.join()
print(json.dumps(res), flush=True)
"""
NGINX_ROUTE = 'http://%s/v1/chat/completions' % NGINX_C
N8N_ROUTE = 'http://%s:4000/v1/chat/completions' % LITELLM[0]


class Load(object):
    """The load above, plus workflow executions (the migrated webhook workflow calls LiteLLM) from the host."""

    def __init__(self, host, workflows=2):
        self.host = host
        extra = json.loads(container(host, main_n8n(host), '{{json .HostConfig.ExtraHosts}}'))
        base = os.environ.get('LLM_GATEWAY_BASE_IMAGE', 'llm-gateway-test/base:bookworm')
        argv = ['docker', 'run', '--rm', '--name', 'llm-gateway-scale-load', '--network', 'llm-gateway-scale-net',
                '-e', 'KEY=%s' % secret('litellm_master_key')]
        for entry in extra:
            argv += ['--add-host', entry]
        self.proc = subprocess.Popen(argv + [base, 'python3', '-c', LOAD_PY, '4', NGINX_ROUTE, N8N_ROUTE],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout.readline().strip() == 'started'
        self.stop = threading.Event()
        self.workflows = {'ok': 0, 'failed': []}
        self.threads = [threading.Thread(target=self._workflow, args=(i,)) for i in range(workflows)]
        for thread in self.threads:
            thread.start()

    def _workflow(self, caller):
        count = 0
        while not self.stop.is_set() and count < 500:
            count += 1
            prompt = 'rolling %d-%d' % (caller, count)
            res = subprocess.run(
                ['curl', '-s', '-m', '120', '-w', '\\n%{http_code}', '-X', 'POST', '-H', 'Host: webhooks.%s' % DOMAIN,
                 '-H', 'Content-Type: application/json', '-d', json.dumps({'prompt': prompt}),
                 'http://%s/webhook/llm-ask' % NGINX], capture_output=True, text=True, check=False)
            if res.stdout.endswith('\n200') and json.loads(res.stdout.rsplit('\n', 1)[0]) == {
                    'answer': 'Stand-in answer to: %s' % prompt}:
                self.workflows['ok'] += 1
            else:
                self.workflows['failed'].append((time.strftime('%H:%M:%S'), res.returncode, res.stdout[-120:]))
            self.stop.wait(0.5)

    def end(self):
        """Stop every caller; the results by route."""
        self.stop.set()
        subprocess.run(['docker', 'kill', '-s', 'TERM', 'llm-gateway-scale-load'], capture_output=True, check=False)
        out = self.proc.communicate(timeout=120)[0]
        for thread in self.threads:
            thread.join(timeout=180)
        result = json.loads(out.strip().splitlines()[-1])
        result['workflows'] = self.workflows
        return result


def assert_nothing_failed(result, n8n_restarts=False):
    """No chat completion failed through nginx or n8n's route, and no workflow's call to LiteLLM failed.

    With N8N_RESTARTS (n8n's webhook processors and workers restart too), a webhook call that
    n8n itself did not answer (a restarting processor refused or reset it, or answered before it
    had mounted its webhook routes: Express' "Cannot POST"; an execution a stopping worker or
    processor left: "There was a problem executing the workflow") is only printed: that is n8n's
    queue, not LiteLLM. A workflow that ran and failed ("Error in workflow": its call to LiteLLM
    failed) always fails the test.
    """
    print('load:', json.dumps(result))
    routes = dict((url, r) for url, r in result.items() if url != 'workflows')
    # At most one in a thousand: once in a while nginx sends a request to the
    # address of a LiteLLM replica that has just gone (its DNS cache keeps it up
    # to 2 s); it tries the next. A lone LiteLLM's standby is nginx's backup
    # server under its own name, so it never takes the gone one's alias (seen
    # with a shared alias: 4 of 1,204 failed; as a backup: 0 of 3,219). The same
    # load with the replicas restarted back to back fails many (below).
    assert not [r for r in routes.values() if sum(r['failed'].values()) > r['ok'] // 1000], result
    assert routes[NGINX_ROUTE]['ok'] > 40 and routes[N8N_ROUTE]['ok'] > 40, result
    failed = result['workflows']['failed']
    assert n8n_restarts or len(failed) <= result['workflows']['ok'] // 1000, result
    assert not [f for f in failed if 'Error in workflow' in f[2]], result
    assert result['workflows']['ok'] > 4, result


def litellm_started(host):
    return {name: container(host, name, '{{.State.StartedAt}}') for name in LITELLM}


def another_litellm_setting(host):
    """-e for a LiteLLM setting other than the one in the live configuration (its request_timeout, less 7 s)."""
    live = re.search(r'request_timeout: (\d+)', host.check_output('cat /srv/llm-gateway-scale/litellm/config.yaml'))
    return '{"llm_gateway_litellm_settings": {"request_timeout": %d}}' % (int(live.group(1)) - 7)


def test_a_new_litellm_configuration_rolls_the_replicas_under_load_failing_no_request(host):
    before = litellm_started(host)
    setting = another_litellm_setting(host)
    load = Load(host)
    try:
        rc, out = run_playbook('site.yml', '-e', setting)
    finally:
        result = load.end()
    assert rc == 0, out[-3000:]
    assert another_litellm_setting(host) != setting
    after = litellm_started(host)
    assert all(after[name] != before[name] for name in LITELLM), (before, after)
    # The play ended once each was healthy again (Docker's own health check).
    for name in LITELLM:
        assert container(host, name, '{{.State.Health.Status}}') == 'healthy', name
    assert_nothing_failed(result)


def test_the_same_load_sees_replicas_restarted_back_to_back(host):
    """The load above can fail: restarted together (not waiting for health), the replicas fail requests."""
    load = Load(host, workflows=0)
    try:
        time.sleep(3)
        host.check_output('docker restart -t 30 %s' % ' '.join(LITELLM))
        wait_for('both replicas are healthy again', lambda: all(
            container(host, name, '{{.State.Health.Status}}') == 'healthy' for name in LITELLM), 180)
    finally:
        result = load.end()
    print('load:', json.dumps(result))
    assert all(sum(result[url]['failed'].values()) > result[url]['ok'] // 1000 for url in (NGINX_ROUTE, N8N_ROUTE)), result


def test_a_new_redis_password_rolls_its_clients_under_load_failing_no_request(host):
    new = 'R' + secrets.token_hex(16)
    before = container(host, REDIS, '{{.State.StartedAt}}')
    load = Load(host)
    try:
        rc, out = run_playbook('site.yml', '-e', 'llm_gateway_redis_password=%s' % new)
    finally:
        result = load.end()
    assert rc == 0 and new not in out, out[-3000:]
    assert 'requirepass %s' % new in host.check_output('cat /srv/llm-gateway-scale/env/redis/redis.conf')
    # Redis took the new password without a restart, and only it now.
    assert container(host, REDIS, '{{.State.StartedAt}}') == before
    assert len(re.findall(r'^[0-9a-f]{64}$', redis_cli(host, 'ACL', 'GETUSER', 'default'), re.M)) == 1
    for name in service_containers(host, 'n8n') + service_containers(host, 'n8n-worker') + \
            service_containers(host, 'n8n-webhook') + LITELLM + [REDIS]:
        assert container(host, name, '{{.State.Health.Status}}') == 'healthy', name
    assert len(service_containers(host, 'n8n-webhook', running_only=False)) == 1
    assert_nothing_failed(result, n8n_restarts=True)
    assert new not in host.check_output('docker container inspect %s' % REDIS)
    # n8n's main, webhook processor and workers use the new password: the queue works.
    assert trigger_webhook(host, 'llm-ask', {'prompt': 'new password'}) == {
        'answer': 'Stand-in answer to: new password'}
    # (The next test's first run puts the inventory's password back.)


def test_one_litellm_restarts_with_a_standby_under_load_failing_no_request(host):
    rc, out = run_playbook('site.yml', '-e', 'llm_gateway_litellm_replicas=1')
    assert rc == 0, out[-3000:]
    assert host.run('docker container inspect %s' % LITELLM[1]).rc != 0
    before = container(host, LITELLM[0], '{{.State.StartedAt}}')
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.update(subprocess.run(['docker', 'ps', '--format', '{{.Names}} {{.Status}}'], capture_output=True,
                                       text=True, check=False).stdout.splitlines())
            done.wait(0.5)
    watcher = threading.Thread(target=watch)
    watcher.start()
    load = Load(host)
    try:
        rc, out = run_playbook('site.yml', '-e', 'llm_gateway_litellm_replicas=1', '-e', another_litellm_setting(host))
    finally:
        result = load.end()
        done.set()
        watcher.join()
    assert rc == 0, out[-3000:]
    assert container(host, LITELLM[0], '{{.State.StartedAt}}') != before
    assert container(host, LITELLM[0], '{{.State.Health.Status}}') == 'healthy'
    # The standby ran, healthy, meanwhile (nginx's backup server), and is gone.
    assert 'llama-litellm-scale-standby Up' in ' '.join(seen) and '(healthy)' in ' '.join(
        line for line in seen if line.startswith('llama-litellm-scale-standby ')), seen
    assert host.run('docker container inspect llama-litellm-scale-standby').rc != 0
    assert_nothing_failed(result)
    rc, out = run_playbook('site.yml')
    assert rc == 0, out[-3000:]
    for name in LITELLM:
        assert container(host, name, '{{.State.Health.Status}}') == 'healthy', name


def test_scaling_the_workers_is_idempotent(host):
    for count in (3, 1):
        for changed in (True, False):
            rc, out = run_playbook('site.yml', '-e', 'llm_gateway_n8n_workers=%d' % count)
            assert_changed(rc, out, changed)
            assert len(service_containers(host, 'n8n-worker')) == count
            assert len(service_containers(host, 'n8n-worker', running_only=False)) == count
    assert trigger_webhook(host, 'llm-ask', {'prompt': 'one worker'}) == {'answer': 'Stand-in answer to: one worker'}


def test_rollback_in_queue_mode(host):
    rc, out = run_playbook('rollback.yml')
    assert rc == 0, out[-3000:]
    assert not [c for c in LITELLM if host.run('docker container inspect %s' % c).rc == 0]
    assert container(host, REDIS, '{{.State.Health.Status}}') == 'healthy'
    workers = service_containers(host, 'n8n-worker')
    assert len(workers) == 2
    wf = workflow(host, 'LLM webhook')
    assert node(wf, 'Ask Ollama')['parameters']['url'] == 'http://%s/api/generate' % NGINX_C
    since = host.check_output('date -u +%Y-%m-%dT%H:%M:%S')
    for i in range(8):
        assert trigger_webhook(host, 'llm-ask', {'prompt': 'phase 1 %d' % i}) == {
            'answer': 'Stand-in answer to: phase 1 %d' % i}
    # nginx's internal route saw the calls come from both workers' addresses
    # (its access log is flushed every second).
    expected = {container_ip(host, w) for w in workers}

    def callers():
        log = host.check_output('docker logs --since %s %s 2>&1' % (since, NGINX_C))
        return {line.split()[0] for line in log.splitlines() if 'POST /api/generate' in line}
    wait_for('calls from both workers in the access log: %s' % expected, lambda: callers() == expected, 10)
