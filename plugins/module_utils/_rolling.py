# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Rolling restarts of a Compose project's services, one container at a time.

A container reads its configuration and secret files (bind mounts) when it starts: one that
started before the newest of its service's files was written runs an old configuration and must
restart. That rule is read from the host each time (the containers' ``State.StartedAt``, the
files' modification times), so a run that stopped half way is finished by the next one.

Each stale container restarts alone; the next goes only once Docker reports the first
``healthy`` (its own health check) and, with ``settle``, a few seconds more, for callers that
re-resolve names on a period (nginx's ``resolver ... valid=``) to find it again. A service that
runs a single container first gets a second one that serves meanwhile: a ``standby`` service of
the compose file (a profile of its own, the same configuration, found by nginx as a backup
server), or, for a service Compose scales (``deploy.replicas``), one more replica. It goes once
the restarted container is healthy.

Every failure is a ``RollError`` whose text names the container, its health check's last output
and its last log lines (secrets masked); the module turns it into ``fail_json``.
"""

from __future__ import annotations

import json
import os
import re
import time

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._time import epoch_seconds

LOG_LINES = 20


class RollError(Failure):
    """The collection's expected failure (``Failure``), raised by rolling: the message says what did not get where,
    and why when known."""


def started_at(text):
    """Seconds since the epoch of Docker's ``State.StartedAt`` (RFC 3339, nanoseconds, UTC)."""
    seconds = epoch_seconds(text)
    if seconds is None:
        raise RollError('Docker reported a start time that cannot be read: %r' % text)
    return seconds


def stale(containers, newest):
    """The names of ``containers`` ({name, started}) that started before ``newest`` (None: no file), in order."""
    if newest is None:
        return []
    return [c['name'] for c in containers if c['started'] < newest]


def newest_mtime(paths):
    """The latest modification time among ``paths`` and, for a folder, the files in it; None when none exists."""
    times = []
    for path in paths:
        if os.path.isdir(path):
            times.extend(os.path.getmtime(os.path.join(path, name)) for name in os.listdir(path)
                         if os.path.isfile(os.path.join(path, name)))
        elif os.path.exists(path):
            times.append(os.path.getmtime(path))
    return max(times) if times else None


def health_of(inspected):
    """(status, last health output) of one ``docker inspect`` object; status ``running`` without a health check.

    A container whose configuration has a health check that Docker has not run yet (no ``State.Health`` right after
    it started) is ``starting``, never ``running``: only a container without a check is healthy by running.
    """
    state = inspected.get('State') or {}
    health = state.get('Health')
    if not state.get('Running'):
        return state.get('Status') or 'stopped', ''
    if not health:
        check = ((inspected.get('Config') or {}).get('Healthcheck') or {}).get('Test') or ['NONE']
        return ('running' if check[0] == 'NONE' else 'starting'), ''
    log = health.get('Log') or []
    return health.get('Status') or 'starting', ((log[-1].get('Output') or '') if log else '').strip()


NOT_READY = ('starting', 'unhealthy', 'restarting')


def not_ready(containers):
    """Those of ``Docker.not_healthy`` that run but are not healthy (yet or any more), or keep restarting."""
    return [c for c in containers if c['status'] in NOT_READY]


def not_ready_text(containers):
    """A message naming the containers of ``not_ready`` (their health and logs are in ``not_healthy_text``)."""
    return 'Not healthy after the wait: %s.' % ', '.join(
        '%s (service %s, %s)' % (c['name'], c['service'] or '?', c['status']) for c in not_ready(containers))


def not_healthy_text(containers):
    """A message naming each container of ``Docker.not_healthy``, its health check's and its logs' last words."""
    return ' '.join('%s (service %s) is %s%s%s.' % (
        c['name'], c['service'] or '?', c['status'],
        '; its health check last said: %s' % c['health'] if c['health'] else '',
        '; its last log lines:\n%s\n' % c['logs'] if c['logs'] else '') for c in containers)


class Docker(object):
    """The docker CLI, through ``run(argv) -> (rc, stdout, stderr)`` (AnsibleModule.run_command)."""

    def __init__(self, run, project, project_src):
        self._run = run
        self._project = project
        self.project_src = project_src

    @property
    def project(self):
        """The project's name: as given, else the compose file's (``docker compose config``)."""
        if not self._project:
            out = self._call(['docker', 'compose', '--project-directory', self.project_src, 'config', '--format',
                              'json'], 'reading the compose file')
            self._project = json.loads(out)['name']
        return self._project

    def defines(self, service, profile):
        """Whether the compose file has ``service`` (under ``profile``)."""
        out = self._call(['docker', 'compose', '--project-directory', self.project_src, '--profile', profile, 'config',
                          '--services'], 'reading the compose file')
        return service in out.split()

    def _call(self, argv, what):
        rc, out, err = self._run(argv)
        if rc != 0:
            raise RollError('%s failed (%s): %s' % (what, ' '.join(argv[:3]), mask_text((err or out).strip())[-800:]))
        return out

    def running(self, service):
        """The running containers of a service, oldest first: [{name, started}]."""
        out = self._call(['docker', 'ps', '-q', '--filter', 'label=com.docker.compose.project=%s' % self.project,
                          '--filter', 'label=com.docker.compose.service=%s' % service], 'listing %s' % service)
        ids = out.split()
        if not ids:
            return []
        found = [{'name': c['Name'].lstrip('/'), 'started': started_at(c['State']['StartedAt'])}
                 for c in self.inspect(ids)]
        return sorted(found, key=lambda c: c['started'])

    def not_healthy(self):
        """The project's containers (running or not) that are not healthy: [{name, service, status, health, logs}].

        ``health`` is the health check's last output and ``logs`` the last LOG_LINES lines, secrets masked; a
        container without a health check counts as healthy while it runs.
        """
        ids = self._call(['docker', 'ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=%s' % self.project],
                         'listing the containers of %s' % self.project).split()
        found = []
        for inspected in (self.inspect(ids) if ids else []):
            status, output = health_of(inspected)
            if status in ('healthy', 'running'):
                continue
            name = inspected['Name'].lstrip('/')
            found.append({'name': name, 'status': status, 'health': mask_text(output)[-500:], 'logs': self.logs(name),
                          'service': ((inspected.get('Config') or {}).get('Labels') or {}).get(
                              'com.docker.compose.service', '')})
        return sorted(found, key=lambda c: c['name'])

    def inspect(self, names):
        return json.loads(self._call(['docker', 'container', 'inspect'] + list(names), 'inspecting %s' % ', '.join(names)))

    def restart(self, name, stop_timeout):
        self._call(['docker', 'restart', '-t', str(stop_timeout), name], 'restarting %s' % name)

    def compose(self, *args):
        self._call(['docker', 'compose', '--project-directory', self.project_src] + list(args),
                   'docker compose %s' % ' '.join(args[:2]))

    def would_recreate(self):
        """The containers ``docker compose up`` would recreate (a changed service definition or image).

        Read from Compose's own dry run, which names each container it would ``Recreate`` (on standard error).
        """
        argv = ['docker', 'compose', '--project-directory', self.project_src, 'up', '--dry-run', '-d', '--pull', 'never',
                '--no-deps']
        rc, out, err = self._run(argv)
        if rc != 0:
            raise RollError('docker compose up --dry-run failed: %s' % mask_text((err or out).strip())[-800:])
        return set(re.findall(r'Container (\S+)\s+Recreate\s*$', (out or '') + '\n' + (err or ''), re.M))

    def remove(self, name, stop_timeout):
        self._call(['docker', 'stop', '-t', str(stop_timeout), name], 'stopping %s' % name)
        self._call(['docker', 'rm', name], 'removing %s' % name)

    def logs(self, name):
        rc, out, err = self._run(['docker', 'logs', '--tail', str(LOG_LINES), name])
        return mask_text((out or '') + (err or '')).strip() if rc == 0 else ''


class Roller(object):
    """Recreates and restarts, one container at a time; every wait bounded by ``timeout`` seconds."""

    def __init__(self, docker, timeout, settle=0, stop_timeout=30, check_mode=False, sleep=time.sleep,
                 clock=time.monotonic):
        self.docker = docker
        self.timeout = timeout
        self.settle = settle
        self.stop_timeout = stop_timeout
        self.check_mode = check_mode
        self._sleep = sleep
        self._clock = clock
        self._outdated = None
        self.recreated = []
        self.restarted = []
        self.helpers = []

    @property
    def outdated(self):
        """What Compose would recreate, asked once."""
        if self._outdated is None:
            self._outdated = self.docker.would_recreate()
        return self._outdated

    def wait_healthy(self, name):
        """Wait until Docker reports ``name`` healthy (running, without a health check); RollError otherwise."""
        deadline = self._clock() + self.timeout
        while True:
            status, output = health_of(self.docker.inspect([name])[0])
            if status in ('healthy', 'running'):
                return
            if status not in ('starting', 'unhealthy') or self._clock() >= deadline:
                break
            self._sleep(1)
        logs = self.docker.logs(name)
        raise RollError('%s is %s %s%s%s' % (
            name, status, 'still' if status in ('starting', 'unhealthy') else 'and not running',
            '; its health check last said: %s' % mask_text(output)[-500:] if output else '',
            '; its last log lines:\n%s' % logs if logs else ''))

    def _ready(self, name):
        self.wait_healthy(name)
        if self.settle:
            self._sleep(self.settle)

    def _joined(self, names, what):
        """The first of ``names`` (a container that just started to serve meanwhile), once it is ready."""
        if not names:
            raise RollError('%s did not start' % what)
        self.helpers.append(names[0])
        self._ready(names[0])
        return names[0]

    def _added_replica(self, service, count):
        """Scale ``service`` to ``count`` (Compose creates the new one with the file's definition); its name."""
        before = set(c['name'] for c in self.docker.running(service))
        self.docker.compose('up', '-d', '--no-deps', '--no-recreate', '--pull', 'never', '--scale',
                            '%s=%d' % (service, count), service)
        return self._joined([c['name'] for c in self.docker.running(service) if c['name'] not in before],
                            'the new container of %s' % service)

    def _standby_up(self, standby):
        self.docker.compose('--profile', standby, 'up', '-d', '--no-deps', '--pull', 'never', standby)
        return self._joined([c['name'] for c in self.docker.running(standby)], 'the standby %s' % standby)

    def _standby_down(self, standby):
        self.docker.compose('--profile', standby, 'rm', '--stop', '--force', standby)

    def roll(self, spec):
        """Bring ``spec['service']``'s containers to the file's definition and their files' content, one at a time.

        Returns the names of the containers recreated or restarted (in check mode: that would be).
        """
        service, standby, scaled = spec['service'], spec.get('standby'), spec.get('scale')
        containers = self.docker.running(service)
        outdated = [c['name'] for c in containers if c['name'] in self.outdated]
        old = stale([c for c in containers if c['name'] not in outdated], newest_mtime(spec.get('files') or []))
        if standby and not (outdated or old) and not self.check_mode and self.docker.running(standby):
            # Left serving by a run that failed half way: the service is healthy again.
            for container in containers:
                self.wait_healthy(container['name'])
            self._standby_down(standby)
            self.helpers.append(standby + ' (removed)')
        if self.check_mode or not (outdated or old):
            self.recreated.extend(outdated)
            self.restarted.extend(old)
            return outdated + old
        helper = None
        try:
            if scaled:
                # A new container with the new definition joins, then an old one goes; the count stays.
                for name in outdated:
                    self._added_replica(service, len(containers) + 1)
                    self.docker.remove(name, self.stop_timeout)
                    self.recreated.append(name)
                if len(containers) == 1 and old:
                    helper = self._added_replica(service, 2)
            elif standby and len(containers) == 1 and self.docker.defines(standby, standby):
                helper = self._standby_up(standby)
            if outdated and not scaled:
                self.docker.compose('up', '-d', '--no-deps', '--pull', 'never', service)
                self.recreated.extend(outdated)
                for name in outdated:
                    self._ready(name)
            for name in old:
                self.docker.restart(name, self.stop_timeout)
                self.restarted.append(name)
                self._ready(name)
        except RollError as exc:
            if helper:
                raise RollError('%s. %s keeps serving meanwhile; the next run removes it once %s is healthy again'
                                % (exc, helper, service))
            raise
        if helper and scaled:
            self.docker.compose('up', '-d', '--no-deps', '--no-recreate', '--pull', 'never', '--scale',
                                '%s=%d' % (service, len(containers)), service)
        elif helper:
            self._standby_down(standby)
        return outdated + old
