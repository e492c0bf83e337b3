# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""HTTP requests sent from a throwaway container on a Docker network.

A service is asked the way the stack's containers will reach it: from the same
Docker network, with the same extra host (``host.docker.internal:host-gateway``)
and the same Host header. ``curl`` in the container (the nginx image has it) makes
the request; everything it needs, secret headers included, reaches it on standard
input (``curl --config -``), never on a command line.

``ContainerCurl`` has ``fetch_url``'s signature and answers as it does, so
``_http.JsonHttpClient`` takes it as its ``send``. ``probe_network`` yields the
network to send from: the named one, or a temporary one with the stack's subnet
when the stack's network does not exist yet (removed afterwards).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._networks import (
    overlapping_networks, parse_network_lines,
)

TRAILER = '@@llm-gateway-curl@@'
# A second trailer line: where a 3xx points (curl follows no redirect unless told to, and is not told).
LOCATION_TRAILER = '@@llm-gateway-location@@'
PROBE_LABEL = 'local_ai.llm_gateway.probe'
# One network a line: its name, then its subnets.
NETWORK_FORMAT = '{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}'
# docker run's own exit codes (anything else is curl's).
DOCKER_FAILED = 125
COMMAND_NOT_RUNNABLE = (126, 127)


class ContainerError(Exception):
    """Docker could not run the probe (as opposed to an answer, or no answer, from the service)."""


def _quote(value):
    """A curl config file parameter: double-quoted, with curl's escapes."""
    text = to_text(value)
    for raw, escaped in (('\\', '\\\\'), ('"', '\\"'), ('\n', '\\n'), ('\r', '\\r'), ('\t', '\\t'), ('\v', '\\v')):
        text = text.replace(raw, escaped)
    return '"%s"' % text


def curl_config(method, url, headers=None, data=None, timeout=10, connect_timeout=5):
    """The curl config (read from standard input) for one request.

    The answer's status, connect time and content type follow the body on a trailer
    line, and the URL a 3xx points to (resolved by curl) on a second one; curl follows
    no redirect (no ``location`` option), so a 3xx comes back as the answer and the
    client decides. ``--verbose`` lets ``parse_curl`` tell refused from unreachable
    (curl's exit code says "could not connect" for both).
    """
    lines = [
        'silent', 'show-error', 'verbose',
        'noproxy = "*"',
        'request = %s' % _quote(method or 'GET'),
        'url = %s' % _quote(url),
        'max-time = %s' % float(timeout),
        'connect-timeout = %s' % float(min(connect_timeout, timeout)),
        'write-out = %s' % _quote('\n' + TRAILER + ' %{http_code} %{time_connect} %{content_type}'
                                  '\n' + LOCATION_TRAILER + ' %{redirect_url}'),
    ]
    for name, value in (headers or {}).items():
        lines.append('header = %s' % _quote('%s: %s' % (name, value)))
    if data is not None:
        # data-raw: a body starting with @ is not a file name.
        lines.append('data-raw = %s' % _quote(to_text(data)))
    return '\n'.join(lines) + '\n'


_CONNECT_FAILED = re.compile(r'^\* +connect to .* failed: (.+)$', re.MULTILINE)
_CURL_ERROR = re.compile(r'^curl: \((\d+)\) (.+)$', re.MULTILINE)


def parse_curl(rc, stdout, stderr, url):
    """Turn curl's exit code and output into fetch_url's ``(response, info)``.

    A 3xx is an answer, as from ``fetch_url`` told to follow no redirect: its status,
    and ``info['location']``, the URL it points to, when it names one.

    ``info['kind']`` says why no answer came: ``dns``, ``refused``, ``unreachable``
    (no route, a firewall's reject), ``connect_timeout`` (nothing answered the
    connection: a firewall's drop), ``timeout`` (connected, no answer in time),
    ``reset`` or ``connection``. Only curl's own lines are quoted (never the verbose
    request lines, which hold the headers).
    """
    out = to_bytes(stdout)
    marker = to_bytes('\n' + TRAILER + ' ')
    at = out.rfind(marker)
    body, status, connected, content_type, location = out, 0, 0.0, '', ''
    if at >= 0:
        body = out[:at]
        first, dummy, rest = to_text(out[at + len(marker):]).partition('\n')
        fields = first.strip().split(' ', 2)
        try:
            status = int(fields[0])
            connected = float(fields[1]) if len(fields) > 1 else 0.0
        except ValueError:
            status = 0
        content_type = fields[2] if len(fields) > 2 else ''
        if rest.startswith(LOCATION_TRAILER):
            location = rest[len(LOCATION_TRAILER):].strip()
    err = to_text(stderr)
    if rc == 0 and status > 0:
        info = {'status': status, 'url': url, 'msg': 'OK (%s)' % status, 'content-type': content_type}
        if 300 <= status < 400 and location:
            info['location'] = location
        if status >= 300:
            info['body'] = body
            return None, info
        return io.BytesIO(body), info
    match = _CURL_ERROR.search(err)
    message = match.group(2).strip() if match else 'curl exited with %s' % rc
    reason = _CONNECT_FAILED.findall(err)
    reason = reason[-1].strip() if reason else ''
    if rc == 6:
        kind = 'dns'
    elif rc == 7:
        lowered = reason.lower()
        kind = ('refused' if 'refused' in lowered
                else 'unreachable' if ('no route' in lowered or 'unreachable' in lowered or 'prohibited' in lowered)
                else 'connection')
        message = '%s (%s)' % (message, reason) if reason else message
    elif rc == 28:
        kind = 'timeout' if connected > 0 else 'connect_timeout'
    elif rc in (52, 56):
        kind = 'reset'
    else:
        kind = 'connection'
    return None, {'status': -1, 'url': url, 'msg': message, 'kind': kind}


class ContainerCurl(object):
    """Send a request with curl from a throwaway container (fetch_url's signature).

    ``run`` runs a command: ``run(argv, data=TEXT) -> (rc, stdout, stderr)``, as
    ``AnsibleModule.run_command`` does. The container starts with the first request
    and serves the next ones (``docker exec``); ``close`` removes it (it also removes
    itself after ``lifetime`` seconds). Raises ContainerError when Docker cannot run it.

    With ``running``, the name of a running container (one of the stack's, such as
    llama-nginx), the requests are sent from that one instead: nothing is started or
    removed.
    """

    def __init__(self, run, image, network, add_hosts=None, connect_timeout=5, lifetime=600, running=None):
        self.run = run
        self.image = image
        self.network = network
        self.add_hosts = dict(add_hosts or {})
        self.connect_timeout = connect_timeout
        self.lifetime = lifetime
        self.running = running
        self.container = running

    def start_argv(self):
        argv = ['docker', 'run', '--detach', '--rm', '--network', self.network]
        for name, address in sorted(self.add_hosts.items()):
            argv.append('--add-host=%s:%s' % (name, address))
        return argv + ['--entrypoint', 'sleep', self.image, str(int(self.lifetime))]

    def _start(self):
        rc, out, err = self.run(self.start_argv())
        if rc != 0:
            raise ContainerError(docker_problem(rc, err, self.image, self.network))
        self.container = to_text(out).strip()

    def close(self):
        if self.container and not self.running:
            self.run(['docker', 'rm', '--force', self.container])
            self.container = None

    def __call__(self, module, url, data=None, headers=None, method=None, timeout=10, **kwargs):
        if self.container is None:
            self._start()
        config = curl_config(method, url, headers=headers, data=data, timeout=timeout,
                             connect_timeout=self.connect_timeout)
        rc, out, err = self.run(['docker', 'exec', '--interactive', self.container, 'curl', '--config', '-'],
                                data=config, binary_data=True)
        if self.running and rc != 0 and TRAILER not in to_text(out) and (
                rc in COMMAND_NOT_RUNNABLE or 'Error response from daemon' in to_text(err)):
            raise ContainerError('Docker could not run curl in the container %s: %s'
                                 % (self.running, ' '.join(to_text(err).split()) or 'exit %s' % rc))
        if rc == DOCKER_FAILED or (rc in COMMAND_NOT_RUNNABLE and TRAILER not in to_text(out)):
            raise ContainerError(docker_problem(rc, err, self.image, self.network))
        return parse_curl(rc, out, err, url)


# What tells whether a running container can stand in for a throwaway one.
REUSE_FORMAT = '{{json .State.Running}}\n{{json .NetworkSettings.Networks}}\n{{json .HostConfig.ExtraHosts}}'


def reusable(inspected, network, add_hosts):
    """Whether a container, as ``docker container inspect --format REUSE_FORMAT`` shows it, sends requests as a
    throwaway one would: it runs, is attached to ``network`` and has every extra host of ``add_hosts``."""
    lines = to_text(inspected).strip().split('\n')
    if len(lines) != 3:
        return False
    try:
        running, networks, extra_hosts = [json.loads(line) for line in lines]
    except ValueError:
        return False
    have = set()
    for entry in extra_hosts or ():
        name, sep, address = to_text(entry).replace('=', ':', 1).partition(':')
        have.add((name, address))
    return (running is True and network in (networks or {})
            and all((name, address) in have for name, address in (add_hosts or {}).items()))


def running_stand_in(run, name, network, add_hosts):
    """``name`` when that container can send the requests (see ``reusable``), else None."""
    rc, out, err = run(['docker', 'container', 'inspect', '--format', REUSE_FORMAT, name])
    return name if rc == 0 and reusable(out, network, add_hosts) else None


def docker_problem(rc, stderr, image, network):
    """What went wrong when Docker could not run the probe container."""
    text = ' '.join(to_text(stderr).split())
    if rc in COMMAND_NOT_RUNNABLE:
        return ('The image %s has no curl, which the check runs inside it (the official nginx images have it; '
                'the -alpine-slim ones do not): %s' % (image, text))
    return 'Docker could not start a container of %s on the network %s: %s' % (image, network, text or 'exit %s' % rc)


def docker_networks(run):
    """Every Docker network with its subnets: ``[(name, [subnet, ...])]``."""
    rc, out, err = run(['docker', 'network', 'ls', '--quiet'])
    ids = out.split()
    if rc != 0 or not ids:
        return []
    rc, out, err = run(['docker', 'network', 'inspect', '--format', NETWORK_FORMAT] + ids)
    return parse_network_lines(out)


@contextlib.contextmanager
def probe_network(run, network, subnet=None, gateway=None):
    """Yield the network to send from.

    ``network`` when it exists. Otherwise, when ``subnet`` is given, a temporary
    bridge network with that subnet (and gateway) is created, so that the probe comes
    from the addresses the stack's containers will have (a firewall that admits the
    stack's subnet admits it too); it is removed afterwards. Raises ContainerError
    naming the networks in the way when the subnet overlaps one.
    """
    rc, out, err = run(['docker', 'network', 'inspect', '--format', '{{.Name}}', network])
    if rc == 0:
        yield network
        return
    if not subnet:
        raise ContainerError('The Docker network %s does not exist.' % network)
    temporary = '%s-probe-%d' % (network, os.getpid())
    argv = ['docker', 'network', 'create', '--driver', 'bridge', '--label', '%s=true' % PROBE_LABEL,
            '--subnet', subnet]
    if gateway:
        argv += ['--gateway', gateway]
    rc, out, err = run(argv + [temporary])
    if rc != 0:
        in_the_way = overlapping_networks(subnet, docker_networks(run))
        if in_the_way:
            raise ContainerError(
                'The stack\'s subnet %s overlaps the Docker network(s) %s, so its network %s cannot be created. '
                'Set llm_gateway_network_subnet and llm_gateway_network_gateway to a free range (docker network '
                'inspect %s shows what is taken).' % (subnet, ', '.join(in_the_way), network, ' '.join(in_the_way)))
        raise ContainerError('Docker could not create a temporary network with the subnet %s: %s'
                             % (subnet, ' '.join(to_text(err).split())))
    try:
        yield temporary
    finally:
        run(['docker', 'network', 'rm', temporary])
