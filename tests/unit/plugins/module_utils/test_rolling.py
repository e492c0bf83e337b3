"""_rolling: which containers restart, in which order, and what a failure says (a fake docker CLI)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._rolling import (
    Docker, RollError, Roller, health_of, newest_mtime, not_healthy_text, stale, started_at,
)

PROJECT = 'llm-gateway'


def iso(seconds):
    import datetime
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f') + '123Z'


class FakeDocker(object):
    """Containers by name: service, started, health sequence; records every call."""

    def __init__(self, containers, unhealthy=(), now=1000.0, outdated=(), defined=('litellm-standby',)):
        self.outdated = set(outdated)
        self.defined = set(defined)
        self.containers = dict((c['name'], dict(c)) for c in containers)
        self.calls = []
        self.unhealthy = set(unhealthy)
        self.now = now
        self.polls = {}

    def run(self, argv):
        self.calls.append(argv)
        if argv[:2] == ['docker', 'ps']:
            labels = dict(a.split('=', 1)[1].rsplit('=', 1) for a in argv if a.startswith('label='))
            service = labels['com.docker.compose.service']
            return 0, '\n'.join(n for n, c in self.containers.items()
                                if c['service'] == service and c.get('running', True)), ''
        if argv[:3] == ['docker', 'container', 'inspect']:
            out = []
            for name in argv[3:]:
                c = self.containers[name]
                self.polls[name] = self.polls.get(name, 0) + 1
                status = 'starting' if self.polls[name] < 2 else ('unhealthy' if name in self.unhealthy else 'healthy')
                out.append({'Name': '/' + name, 'State': {'Running': True, 'Status': 'running', 'StartedAt': iso(c['started']),
                                                          'Health': {'Status': status, 'Log': [{'Output': 'probe says %s' % status}]}}})
            return 0, json.dumps(out), ''
        if argv[:2] == ['docker', 'restart']:
            self.now += 1
            self.containers[argv[-1]]['started'] = self.now
            self.polls[argv[-1]] = 0
            return 0, argv[-1], ''
        if argv[:2] == ['docker', 'stop']:
            self.containers[argv[-1]]['running'] = False
            return 0, '', ''
        if argv[:2] == ['docker', 'rm']:
            self.containers.pop(argv[-1])
            return 0, '', ''
        if argv[:2] == ['docker', 'compose']:
            args = argv[4:]
            if 'config' in args:
                if '--services' in args:
                    return 0, '\n'.join(sorted(set(c['service'] for c in self.containers.values()) | self.defined)), ''
                return 0, json.dumps({'name': PROJECT}), ''
            if '--dry-run' in args:
                return 0, '', ''.join(' DRY-RUN MODE -  Container %s  %s\n' % (n, 'Recreate' if n in self.outdated else 'Running')
                                      for n in sorted(self.containers))
            if 'rm' in args:
                self.containers.pop(args[-1] + '-c', None)
            elif '--scale' in args:
                service, count = args[args.index('--scale') + 1].split('=')
                mine = sorted((c['started'], n) for n, c in self.containers.items() if c['service'] == service)
                for _extra in range(len(mine), int(count)):
                    self.now += 1
                    self.containers['%s-%d' % (service, self.now)] = {'service': service, 'started': self.now}
                for started_name in mine[int(count):]:  # Compose removes the newest
                    self.containers.pop(started_name[1])
            elif '--profile' in args:
                self.now += 1
                self.containers[args[-1] + '-c'] = {'service': args[-1], 'started': self.now}
            else:  # recreate a service's container in place
                for name, c in self.containers.items():
                    if c['service'] == args[-1] and name in self.outdated:
                        self.now += 1
                        c['started'] = self.now
                        self.polls[name] = 0
                        self.outdated.discard(name)
            return 0, '', ''
        if argv[:2] == ['docker', 'logs']:
            return 0, 'started\nAuthorization: Bearer sk-secret-value\n', ''
        raise AssertionError(argv)

    def restarts(self):
        return [c[-1] for c in self.calls if c[:2] == ['docker', 'restart']]


def roller(fake, **kwargs):
    return Roller(Docker(fake.run, PROJECT, '/srv/stack'), kwargs.pop('timeout', 5), sleep=lambda s: None, **kwargs)


@pytest.fixture
def files(tmp_path):
    config = tmp_path / 'config.yaml'
    config.write_text('x')
    secrets = tmp_path / 'secrets'
    secrets.mkdir()
    (secrets / 'key').write_text('k')
    os.utime(str(config), (500, 500))
    os.utime(str(secrets / 'key'), (600, 600))
    return [str(config), str(secrets)]


def test_docker_times_are_read_to_the_fraction():
    assert started_at('1970-01-01T00:00:01.5Z') == 1.5
    assert started_at('2026-12-07T03:45:12.123456789Z') == pytest.approx(1796615112.123456789)
    assert started_at('2026-12-07T04:45:12+01:00') == started_at('2026-12-07T03:45:12Z')
    with pytest.raises(RollError):
        started_at('yesterday')


def test_newest_file_counts_the_files_of_a_folder(files, tmp_path):
    assert newest_mtime(files) == 600
    assert newest_mtime([str(tmp_path / 'missing')]) is None
    assert stale([{'name': 'a', 'started': 599}, {'name': 'b', 'started': 601}], 600) == ['a']
    assert stale([{'name': 'a', 'started': 1}], None) == []


def test_health_without_a_check_is_running_and_a_stopped_one_says_so():
    assert health_of({'State': {'Running': True}}) == ('running', '')
    assert health_of({'State': {'Running': True}, 'Config': {'Healthcheck': {'Test': ['NONE']}}}) == ('running', '')


def test_a_check_docker_has_not_run_yet_is_starting_not_running():
    assert health_of({'State': {'Running': True}, 'Config': {'Healthcheck': {'Test': ['CMD', 'true']}}}) == (
        'starting', '')
    assert health_of({'State': {'Running': False, 'Status': 'exited'}}) == ('exited', '')
    assert health_of({'State': {'Running': True, 'Health': {'Status': 'healthy', 'Log': [{'Output': ' ok\n'}]}}}) == (
        'healthy', 'ok')


def test_replicas_restart_one_after_the_other_each_healthy_first(files):
    fake = FakeDocker([{'name': 'llama-litellm', 'service': 'litellm', 'started': 100},
                       {'name': 'llama-litellm-2', 'service': 'litellm-2', 'started': 700}])
    r = roller(fake)
    for name in ('litellm', 'litellm-2'):
        r.roll({'service': name, 'files': files})
    # Only the one older than its files; it was healthy (inspected until so) before the call ended.
    assert fake.restarts() == ['llama-litellm'] and r.restarted == ['llama-litellm']
    after = fake.calls[fake.calls.index(['docker', 'restart', '-t', '30', 'llama-litellm']) + 1:]
    until_next = after[:[c[-1] for c in after].index('label=com.docker.compose.service=litellm-2')]
    assert [c[-1] for c in until_next] == ['llama-litellm', 'llama-litellm']  # starting, then healthy
    # A second run changes nothing.
    r2 = roller(fake)
    r2.roll({'service': 'litellm', 'files': files})
    assert r2.restarted == []


def test_two_stale_containers_never_restart_together(files):
    fake = FakeDocker([{'name': 'w1', 'service': 'n8n-worker', 'started': 100},
                       {'name': 'w2', 'service': 'n8n-worker', 'started': 200}])
    roller(fake).roll({'service': 'n8n-worker', 'files': files, 'scale': True})
    order = [(c[1], c[-1]) for c in fake.calls if c[:2] == ['docker', 'restart'] or c[:3] == ['docker', 'container', 'inspect']]
    first_restart = order.index(('restart', 'w1'))
    second_restart = order.index(('restart', 'w2'))
    assert ('container', 'w1') in order[first_restart:second_restart]
    # Two containers: no extra replica.
    assert not [c for c in fake.calls if '--scale' in c]


def test_a_lone_container_gets_a_standby_that_goes_once_it_is_healthy(files):
    fake = FakeDocker([{'name': 'llama-litellm', 'service': 'litellm', 'started': 100}])
    r = roller(fake, settle=3)
    r.roll({'service': 'litellm', 'files': files, 'standby': 'litellm-standby'})
    compose = [c[4:] for c in fake.calls if c[:2] == ['docker', 'compose'] and '--dry-run' not in c and 'config' not in c]
    assert compose[0] == ['--profile', 'litellm-standby', 'up', '-d', '--no-deps', '--pull', 'never', 'litellm-standby']
    assert compose[-1] == ['--profile', 'litellm-standby', 'rm', '--stop', '--force', 'litellm-standby']
    up = fake.calls.index(['docker', 'compose', '--project-directory', '/srv/stack'] + compose[0])
    restart = fake.calls.index(['docker', 'restart', '-t', '30', 'llama-litellm'])
    assert any(c[:3] == ['docker', 'container', 'inspect'] and c[-1] == 'litellm-standby-c' for c in fake.calls[up:restart])
    assert r.helpers == ['litellm-standby-c'] and 'litellm-standby-c' not in fake.containers


def test_a_lone_scaled_container_gets_one_more_replica_then_the_count_comes_back(files):
    fake = FakeDocker([{'name': 'n8n-webhook-1', 'service': 'n8n-webhook', 'started': 100}])
    roller(fake).roll({'service': 'n8n-webhook', 'files': files, 'scale': True})
    scales = [c[c.index('--scale') + 1] for c in fake.calls if '--scale' in c]
    assert scales == ['n8n-webhook=2', 'n8n-webhook=1']
    assert fake.restarts() == ['n8n-webhook-1']
    assert len([c for c in fake.containers.values() if c['service'] == 'n8n-webhook']) == 1


def test_check_mode_says_what_would_restart_and_restarts_nothing(files):
    fake = FakeDocker([{'name': 'llama-litellm', 'service': 'litellm', 'started': 100}])
    r = roller(fake, check_mode=True)
    assert r.roll({'service': 'litellm', 'files': files, 'standby': 'litellm-standby'}) == ['llama-litellm']
    assert not [c for c in fake.calls if c[1] == 'restart' or (c[1] == 'compose' and '--dry-run' not in c)]


def test_a_container_that_stays_unhealthy_is_named_with_its_probe_and_logs_masked(files):
    fake = FakeDocker([{'name': 'llama-litellm', 'service': 'litellm', 'started': 100}], unhealthy=['llama-litellm'])
    clock = iter(range(0, 1000, 2))
    r = Roller(Docker(fake.run, PROJECT, '/srv/stack'), 10, sleep=lambda s: None, clock=lambda: next(clock))
    with pytest.raises(RollError) as exc:
        r.roll({'service': 'litellm', 'files': files, 'standby': 'litellm-standby'})
    text = str(exc.value)
    assert text.startswith('llama-litellm is unhealthy still; its health check last said: probe says unhealthy')
    assert 'probe says unhealthy' in text and 'Bearer ********' in text and 'sk-secret-value' not in text
    # The standby keeps serving, and says so; the next run removes it once llama-litellm is healthy.
    assert 'litellm-standby-c keeps serving' in text and 'litellm-standby-c' in fake.containers
    fake.unhealthy.clear()
    r2 = roller(fake)
    assert r2.roll({'service': 'litellm', 'files': files, 'standby': 'litellm-standby'}) == []
    assert 'litellm-standby-c' not in fake.containers and r2.helpers == ['litellm-standby (removed)']


def test_a_failing_docker_call_is_a_roll_error_without_secrets():
    def run(argv):
        return 1, '', 'Error: password=hunter2hunter2 refused'
    with pytest.raises(RollError) as exc:
        Docker(run, PROJECT, '/srv').restart('x', 30)
    assert 'hunter2' not in str(exc.value) and 'restarting x failed' in str(exc.value)


def test_an_outdated_replica_is_recreated_alone_and_a_lone_one_with_its_standby(files):
    fake = FakeDocker([{'name': 'llama-litellm', 'service': 'litellm', 'started': 700},
                       {'name': 'llama-litellm-2', 'service': 'litellm-2', 'started': 700}], outdated=['llama-litellm'])
    r = roller(fake)
    for name in ('litellm', 'litellm-2'):
        r.roll({'service': name, 'files': files})
    ups = [c[4:] for c in fake.calls if c[:2] == ['docker', 'compose'] and '--dry-run' not in c]
    assert ups == [['up', '-d', '--no-deps', '--pull', 'never', 'litellm']]
    assert r.recreated == ['llama-litellm'] and r.restarted == [] and fake.restarts() == []
    # Compose was asked once what it would recreate.
    assert len([c for c in fake.calls if '--dry-run' in c]) == 1

    fake = FakeDocker([{'name': 'llama-litellm', 'service': 'litellm', 'started': 700}], outdated=['llama-litellm'])
    roller(fake).roll({'service': 'litellm', 'files': files, 'standby': 'litellm-standby'})
    ups = [c[4:] for c in fake.calls if c[:2] == ['docker', 'compose'] and '--dry-run' not in c and 'config' not in c]
    assert [u[-1] for u in ups] == ['litellm-standby', 'litellm', 'litellm-standby']
    assert 'rm' in ups[-1]


def test_outdated_workers_are_replaced_one_at_a_time_and_their_count_stays(files):
    fake = FakeDocker([{'name': 'w1', 'service': 'n8n-worker', 'started': 700},
                       {'name': 'w2', 'service': 'n8n-worker', 'started': 700}], outdated=['w1', 'w2'])
    r = roller(fake)
    assert r.roll({'service': 'n8n-worker', 'files': files, 'scale': True}) == ['w1', 'w2']
    steps = [(c[1], c[-1] if c[1] != 'compose' else c[c.index('--scale') + 1])
             for c in fake.calls if c[1] in ('stop', 'rm') or '--scale' in c]
    assert steps == [('compose', 'n8n-worker=3'), ('stop', 'w1'), ('rm', 'w1'),
                     ('compose', 'n8n-worker=3'), ('stop', 'w2'), ('rm', 'w2')]
    assert sorted(fake.containers) == ['n8n-worker-1001', 'n8n-worker-1002']
    assert r.recreated == ['w1', 'w2'] and len(r.helpers) == 2


def test_a_compose_file_without_the_standby_restarts_the_lone_container_alone(files):
    fake = FakeDocker([{'name': 'lgt-litellm', 'service': 'litellm', 'started': 100}], defined=())
    docker = Docker(fake.run, None, '/srv/stack')
    r = Roller(docker, 5, sleep=lambda s: None)
    assert r.roll({'service': 'litellm', 'files': files, 'standby': 'litellm-standby'}) == ['lgt-litellm']
    assert r.helpers == [] and fake.restarts() == ['lgt-litellm']
    # The project's name comes from the compose file when none is given.
    assert docker.project == PROJECT


def test_not_healthy_names_each_container_with_its_health_and_masked_logs():
    inspected = [
        {'Name': '/llama-nginx', 'Config': {'Labels': {'com.docker.compose.service': 'nginx'}},
         'State': {'Running': True, 'Status': 'running', 'Health': {'Status': 'healthy', 'Log': []}}},
        {'Name': '/llama-litellm', 'Config': {'Labels': {'com.docker.compose.service': 'litellm'}},
         'State': {'Running': True, 'Status': 'running',
                   'Health': {'Status': 'starting', 'Log': [{'Output': 'old'}, {'Output': 'Connection refused\n'}]}}},
        {'Name': '/llama-redis', 'Config': {'Labels': {'com.docker.compose.service': 'redis'}},
         'State': {'Running': False, 'Status': 'exited'}},
    ]
    calls = []

    def run(argv):
        calls.append(argv)
        if argv[:2] == ['docker', 'ps']:
            assert '-a' in argv and 'label=com.docker.compose.project=%s' % PROJECT in argv
            return 0, 'a\nb\nc\n', ''
        if argv[:3] == ['docker', 'container', 'inspect']:
            return 0, json.dumps(inspected), ''
        if argv[:2] == ['docker', 'logs']:
            return 0, 'waiting for the database\napi_key: sk-secret\n', ''
        raise AssertionError(argv)

    found = Docker(run, PROJECT, '/opt/llm-gateway').not_healthy()
    assert [(c['name'], c['service'], c['status'], c['health']) for c in found] == [
        ('llama-litellm', 'litellm', 'starting', 'Connection refused'), ('llama-redis', 'redis', 'exited', '')]
    assert 'sk-secret' not in found[0]['logs'] and 'waiting for the database' in found[0]['logs']
    text = not_healthy_text(found)
    assert text.startswith('llama-litellm (service litellm) is starting; its health check last said: Connection '
                           'refused; its last log lines:\nwaiting for the database')
    assert 'llama-redis (service redis) is exited; its last log lines' in text and 'llama-nginx' not in text
    assert not_healthy_text([]) == ''


def test_not_healthy_of_a_project_without_containers_is_empty():
    assert Docker(lambda argv: (0, '', ''), PROJECT, '/opt/llm-gateway').not_healthy() == []
