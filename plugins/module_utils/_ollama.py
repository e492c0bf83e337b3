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


def explain(error, url):
    """A message that names the cause of a failed Ollama call and its fix."""
    kind = error.kind
    if kind == 'refused':
        return ('Cannot connect to Ollama at %s: connection refused. Is Ollama running, and does it listen '
                'on an address this host can reach? (OLLAMA_HOST=0.0.0.0:11434 makes it listen beyond '
                'loopback; containers reach the Docker host as host.docker.internal with '
                'extra_hosts: host-gateway.)' % url)
    if kind == 'timeout':
        return ('Ollama at %s did not answer in time (%s). The server may be stalled or overloaded, '
                'or a firewall drops the traffic; raise timeout/retries if it is still starting.'
                % (url, error.detail))
    if kind == 'dns':
        return ('Cannot resolve the host name in %s (%s). Check the URL; inside a container on Linux, '
                'host.docker.internal needs extra_hosts: ["host.docker.internal:host-gateway"].'
                % (url, error.detail))
    if kind == 'not_json' or kind == 'not_ollama':
        return ('%s answered, but not as Ollama does (%s). Is the URL pointing at Ollama (default port '
                '11434) and not at another service or a proxy error page?' % (url, error.detail))
    if error.status == 403:
        return ('Ollama at %s answered 403 Forbidden: that is Ollama\'s host check. An Ollama that listens '
                'on loopback only accepts a local Host header (localhost, *.local, *.internal, an IP). '
                'Send a local Host header (headers: {Host: "localhost:11434"}, or proxy_set_header Host '
                'localhost:11434 in nginx), or make Ollama listen beyond loopback with OLLAMA_HOST=0.0.0.0.'
                % url)
    if error.status > 0:
        return 'Ollama at %s: %s failed with HTTP %s: %s' % (url, error.call, error.status, error.detail)
    return 'Cannot reach Ollama at %s: %s' % (url, error.detail)


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
