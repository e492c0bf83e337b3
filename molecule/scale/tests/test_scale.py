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
import sys
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
    resolved = host.check_output(
        "docker exec %s node -e \"require('dns').lookup('%s', {all: true}, (e, a) => "
        "console.log(a.map(x => x.address).sort().join(' ')))\"" % (main_n8n(host), LITELLM[0]))
    assert resolved.split() == addresses
    config = host.check_output('cat /srv/llm-gateway-scale/litellm/config.yaml')
    assert 'redis_host: %s' % REDIS in config and 'redis_password: os.environ/REDIS_PASSWORD' in config
    # The router's state is in Redis: LiteLLM's keys are there.
    keys = host.check_output(
        "docker exec %s sh -c 'redis-cli --no-auth-warning -a \"$(sed -n \"s/^requirepass //p\" "
        "/usr/local/etc/redis/redis.conf)\" --scan'" % REDIS)
    assert 'llama3' in keys, keys


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
                (['-e', 'llm_gateway_n8n_database=sqlite', '-e', 'llm_gateway_n8n_mode=regular'],
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


def test_a_new_redis_password_restarts_redis_and_its_clients(host):
    new = 'R' + secrets.token_hex(16)
    rc, out = run_playbook('site.yml', '-e', 'llm_gateway_redis_password=%s' % new)
    assert rc == 0 and new not in out, out[-3000:]
    assert 'requirepass %s' % new in host.check_output('cat /srv/llm-gateway-scale/env/redis/redis.conf')
    for name in service_containers(host, 'n8n') + service_containers(host, 'n8n-worker') + LITELLM + [REDIS]:
        assert container(host, name, '{{.State.Health.Status}}') == 'healthy', name
    # n8n's main, webhook processor and workers use the new password: the queue works.
    assert trigger_webhook(host, 'llm-ask', {'prompt': 'new password'}) == {
        'answer': 'Stand-in answer to: new password'}
    # (The next test's first run puts the inventory's password back.)


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
