# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Ollama API client and the pure helpers behind ollama_check."""

from __future__ import annotations

import json

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError, JsonHttpClient


def normalize_model(name):
    """``llama3`` and ``llama3:latest`` name the same model."""
    name = (name or '').strip()
    if not name:
        return name
    last = name.rsplit('/', 1)[-1]
    return name if ':' in last else name + ':latest'


def parse_tags(payload):
    """Turn a ``GET /api/tags`` answer into the module's ``models`` list.

    Raises ValueError when the payload is not Ollama's shape.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get('models'), list):
        raise ValueError('no "models" list in the answer')
    models = []
    for item in payload['models']:
        if not isinstance(item, dict) or not (item.get('name') or item.get('model')):
            raise ValueError('a model entry has no name')
        models.append({
            'name': normalize_model(item.get('name') or item.get('model')),
            'size': item.get('size'),
            'digest': item.get('digest'),
            'modified': item.get('modified_at'),
        })
    return models


def missing_models(wanted, models):
    """The wanted names (normalized, in order, once each) that ``models`` lacks."""
    have = set(m['name'] for m in models)
    missing = []
    for name in wanted:
        norm = normalize_model(name)
        if norm not in have and norm not in missing:
            missing.append(norm)
    return missing


def explain(error, url, network=None, headers=None):
    """A message that names the cause of a failed Ollama call and its fix.

    ``network`` is the Docker network the call came from (a throwaway container on
    it), or None when it came from where the task runs; ``headers`` are the request's
    non-secret headers (the Host header a proxy will send).
    """
    if error.kind == 'redirect':
        where = ' from a container on the Docker network %s' % network if network else ''
        return 'Ollama at %s, asked %s%s: %s' % (url, error.call, where, error.detail)
    if network:
        return _explain_from_container(error, url, network, (headers or {}).get('Host'))
    kind = error.kind
    if kind == 'refused':
        return ('Cannot connect to Ollama at %s: connection refused. Is Ollama running, and does it listen '
                'on an address this host can reach? (OLLAMA_HOST=0.0.0.0:11434 makes it listen beyond '
                'loopback; containers reach the Docker host as host.docker.internal with '
                'extra_hosts: host-gateway.)' % url)
    if kind in ('timeout', 'connect_timeout'):
        return ('Ollama at %s did not answer in time (%s). The server may be stalled or overloaded, '
                'or a firewall drops the traffic; raise timeout/retries if it is still starting.'
                % (url, error.detail))
    if kind == 'dns':
        return ('Cannot resolve the host name in %s (%s). Check the URL; inside a container on Linux, '
                'host.docker.internal needs extra_hosts: ["host.docker.internal:host-gateway"].'
                % (url, error.detail))
    if kind == 'not_json' or kind == 'not_ollama':
        return _not_ollama(error, url)
    if error.status == 403:
        return ('Ollama at %s answered 403 Forbidden: that is Ollama\'s host check. An Ollama that listens '
                'on loopback only accepts a local Host header (localhost, *.local, *.internal, an IP). '
                'Send a local Host header (headers: {Host: "localhost:11434"}, or proxy_set_header Host '
                'localhost:11434 in nginx), or make Ollama listen beyond loopback with OLLAMA_HOST=0.0.0.0.'
                % url)
    if error.status > 0:
        return 'Ollama at %s: %s failed with HTTP %s: %s' % (url, error.call, error.status, error.detail)
    return 'Cannot reach Ollama at %s: %s' % (url, error.detail)


def _not_ollama(error, url):
    return ('%s answered, but not as Ollama does (%s). Is the URL pointing at Ollama (default port '
            '11434) and not at another service or a proxy error page?' % (url, error.detail))


# What to do on a Linux Docker host whose Ollama containers cannot reach.
_LINUX_FIX = (
    'Fix on a Linux host with Ollama under systemd: make it listen on all interfaces (sudo systemctl edit ollama, '
    'add [Service] Environment="OLLAMA_HOST=0.0.0.0:11434", then sudo systemctl restart ollama) and let the '
    'stack\'s subnet through the firewall to port 11434 (ufw allow from <llm_gateway_network_subnet> to any port '
    '11434 proto tcp) - or set llm_gateway_ollama_host_manage: true and the local_ai.llm_gateway.ollama_host role '
    'does both. If Ollama runs in a container, attach it to the stack\'s network and point the URL at its name.')


def _explain_from_container(error, url, network, host_header):
    where = 'from a container on the Docker network %s' % network
    kind = error.kind
    if kind == 'refused':
        return ('Ollama is not reachable at %s %s: connection refused. On a Linux Docker host this is Ollama '
                'listening on 127.0.0.1 only, its default when OLLAMA_HOST is unset: containers reach the host '
                'at the bridge gateway (host.docker.internal = host-gateway), where nothing listens, so nginx '
                'and LiteLLM would fail although the host itself reaches Ollama. %s' % (url, where, _LINUX_FIX))
    if kind == 'connect_timeout':
        return ('Connections to %s %s time out before anything accepts them (%s): a firewall on the Docker host '
                'drops them (ufw and firewalld drop by default), or nothing routes there. Let the stack\'s subnet '
                'reach port 11434 (ufw allow from <llm_gateway_network_subnet> to any port 11434 proto tcp), or set '
                'llm_gateway_ollama_host_manage: true.' % (url, where, error.detail))
    if kind == 'unreachable':
        return ('%s cannot be reached %s (%s): a firewall on the Docker host rejects the traffic, or no route '
                'leads there. Let the stack\'s subnet reach port 11434 in the firewall, or set '
                'llm_gateway_ollama_host_manage: true.' % (url, where, error.detail))
    if kind == 'timeout':
        return ('Ollama at %s accepted a connection %s but did not answer in time (%s): it is stalled or '
                'overloaded. Raise llm_gateway_ollama_timeout if it is still starting.' % (url, where, error.detail))
    if kind == 'dns':
        return ('The host name in %s does not resolve %s (%s). host.docker.internal comes from '
                'extra_hosts: host-gateway (Docker 20.10 and later); a container name resolves only once that '
                'container is attached to %s.' % (url, where, error.detail, network))
    if kind == 'not_json' or kind == 'not_ollama':
        return _not_ollama(error, url)
    if error.status == 403:
        return ('Ollama at %s answered 403 %s with Host: %s. That is Ollama\'s host check, active because '
                'Ollama listens on loopback - as on Docker Desktop, which forwards host.docker.internal to '
                'Ollama\'s loopback listener. nginx must send a Host that Ollama accepts '
                '(llm_gateway_ollama_host_header: localhost:11434); a LiteLLM backend\'s api_base must use a '
                'host name Ollama accepts (host.docker.internal, *.local, *.internal or an IP); or make Ollama '
                'listen beyond loopback (OLLAMA_HOST=0.0.0.0:11434).'
                % (url, where, host_header or urlparse_host(url)))
    if error.status > 0:
        return 'Ollama at %s, asked %s: %s failed with HTTP %s: %s' % (url, where, error.call, error.status,
                                                                       error.detail)
    return 'Cannot reach Ollama at %s %s: %s' % (url, where, error.detail)


def urlparse_host(url):
    """The host[:port] part of a URL (the Host header a client sends by default)."""
    rest = url.split('://', 1)[-1]
    return rest.split('/', 1)[0]


class OllamaClient(JsonHttpClient):
    """The calls ollama_check makes."""

    def version(self):
        answer = self.json('GET', '/api/version')
        if not isinstance(answer, dict) or 'version' not in answer:
            raise ApiError('GET /api/version', 200, 'no "version" in the answer', kind='not_ollama')
        return answer['version']

    def tags(self):
        response = self.request('GET', '/api/tags')
        try:
            return parse_tags(response.json()), response.elapsed
        except ValueError as exc:
            raise ApiError('GET /api/tags', response.status, str(exc), kind='not_ollama')

    def pull(self, name, timeout):
        """Pull one model through the streamed ``/api/pull``; return its status lines."""
        statuses = []
        for raw in self.stream_lines('POST', '/api/pull', {'model': name, 'stream': True}, timeout=timeout):
            try:
                line = json.loads(to_text(raw))
            except ValueError:
                raise ApiError('POST /api/pull', 200, 'a line of the stream is not JSON', kind='not_ollama')
            if 'error' in line:
                raise ApiError('POST /api/pull', 200, 'pulling %s: %s' % (name, line['error']), kind='pull')
            statuses.append(line)
        if not statuses or statuses[-1].get('status') != 'success':
            raise ApiError('POST /api/pull', 200, 'pulling %s ended without "success"' % name, kind='pull')
        return statuses


def summarize_pull(name, statuses):
    """Condense a pull's status lines into what the result reports."""
    total = 0
    layers = {}
    for line in statuses:
        if line.get('digest') and line.get('total'):
            layers[line['digest']] = line['total']
    total = sum(layers.values())
    seen = []
    for line in statuses:
        status = line.get('status')
        if status and (not seen or seen[-1] != status):
            seen.append(status)
    return {'name': name, 'status': statuses[-1].get('status'), 'layers': len(layers),
            'bytes': total, 'steps': seen}
