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

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_text

LOG_LINES = 20


class RollError(Exception):
    """An expected failure: the message says what did not get where, and why when known."""


def started_at(text):
    """Seconds since the epoch of Docker's ``State.StartedAt`` (RFC 3339, nanoseconds, UTC)."""
    found = re.match(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$', text or '')
    if not found:
        raise RollError('Docker reported a start time that cannot be read: %r' % text)
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    fraction = float('0.' + found.group(7)) if found.group(7) else 0.0
    zone = found.group(8)
    offset = 0 if zone == 'Z' else (1 if zone[0] == '+' else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    days = _days_from_civil(year, month, day)
    return days * 86400 + hour * 3600 + minute * 60 + second + fraction - offset


def _days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (no time zone database needed)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


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
    """(status, last health output) of one ``docker inspect`` object; status ``running`` without a health check."""
    state = inspected.get('State') or {}
    health = state.get('Health')
    if not state.get('Running'):
        return state.get('Status') or 'stopped', ''
    if not health:
        return 'running', ''
    log = health.get('Log') or []
    return health.get('Status') or 'starting', ((log[-1].get('Output') or '') if log else '').strip()


class Docker(object):
    """The docker CLI, through ``run(argv) -> (rc, stdout, stderr)`` (AnsibleModule.run_command)."""

    def __init__(self, run, project, project_src):
        self._run = run
        self.project = project
        self.project_src = project_src

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

    def inspect(self, names):
        return json.loads(self._call(['docker', 'container', 'inspect'] + list(names), 'inspecting %s' % ', '.join(names)))

    def restart(self, name, stop_timeout):
        self._call(['docker', 'restart', '-t', str(stop_timeout), name], 'restarting %s' % name)

    def compose(self, *args):
        self._call(['docker', 'compose', '--project-directory', self.project_src] + list(args),
                   'docker compose %s' % ' '.join(args[:2]))

    def logs(self, name):
        rc, out, err = self._run(['docker', 'logs', '--tail', str(LOG_LINES), name])
        return mask_text((out or '') + (err or '')).strip() if rc == 0 else ''


class Roller(object):
    """Restarts what is stale, one container at a time; every wait bounded by ``timeout`` seconds."""

    def __init__(self, docker, timeout, settle=0, stop_timeout=30, check_mode=False, sleep=time.sleep,
                 clock=time.monotonic):
        self.docker = docker
        self.timeout = timeout
        self.settle = settle
        self.stop_timeout = stop_timeout
        self.check_mode = check_mode
        self._sleep = sleep
        self._clock = clock
        self.restarted = []
        self.helpers = []

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
        raise RollError('%s is %s %s after its restart%s%s' % (
            name, status, 'still' if status in ('starting', 'unhealthy') else 'and not running',
            '; its health check last said: %s' % mask_text(output)[-500:] if output else '',
            '; its last log lines:\n%s' % logs if logs else ''))

    def _settled(self):
        if self.settle:
            self._sleep(self.settle)

    def _helper_up(self, spec):
        """A second container serving while the only one restarts; its name (None when none is set)."""
        if spec.get('standby'):
            self.docker.compose('--profile', spec['standby'], 'up', '-d', '--no-deps', '--pull', 'never',
                                spec['standby'])
            names = [c['name'] for c in self.docker.running(spec['standby'])]
        elif spec.get('scale'):
            before = set(c['name'] for c in self.docker.running(spec['service']))
            self.docker.compose('up', '-d', '--no-deps', '--no-recreate', '--pull', 'never',
                                '--scale', '%s=%d' % (spec['service'], len(before) + 1), spec['service'])
            names = [c['name'] for c in self.docker.running(spec['service']) if c['name'] not in before]
        else:
            return None
        if not names:
            raise RollError('the container that was to serve while %s restarts did not start' % spec['service'])
        self.helpers.append(names[0])
        self.wait_healthy(names[0])
        self._settled()
        return names[0]

    def _helper_down(self, spec, count):
        if spec.get('standby'):
            self.docker.compose('--profile', spec['standby'], 'rm', '--stop', '--force', spec['standby'])
        elif spec.get('scale'):
            self.docker.compose('up', '-d', '--no-deps', '--no-recreate', '--pull', 'never',
                                '--scale', '%s=%d' % (spec['service'], count), spec['service'])

    def roll(self, spec):
        """Restart the containers of ``spec['service']`` that started before its ``files``; their names."""
        containers = self.docker.running(spec['service'])
        names = stale(containers, newest_mtime(spec.get('files') or []))
        if spec.get('standby') and self.docker.running(spec['standby']) and not names and not self.check_mode:
            # Left serving by a run that failed half way: its service is healthy again.
            for container in containers:
                self.wait_healthy(container['name'])
            self._helper_down(spec, len(containers))
            self.restarted.append(spec['standby'] + ' (removed)')
        if not names or self.check_mode:
            self.restarted.extend(names)
            return names
        helper = self._helper_up(spec) if len(containers) == 1 else None
        try:
            for name in names:
                self.docker.restart(name, self.stop_timeout)
                self.restarted.append(name)
                self.wait_healthy(name)
                self._settled()
        except RollError as exc:
            if helper:
                raise RollError('%s. %s keeps serving with the new configuration meanwhile; the next run removes it '
                                'once %s is healthy again' % (exc, helper, spec['service']))
            raise
        if helper:
            self._helper_down(spec, len(containers))
        return names
