# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Small JSON-over-HTTP core shared by the collection's service clients.

Built on Ansible's ``fetch_url`` so that ``validate_certs``, proxies and the
controller-less target need no extra Python library. Secrets passed in
``secret_headers`` are sent but never appear in an error message.
"""

from __future__ import annotations

import json
import socket
from http.client import HTTPException
import threading
import time

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import fetch_url

RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
# Longest wait a server's Retry-After header may impose between two attempts.
MAX_RETRY_AFTER = 30.0


class ApiError(Exception):
    """An HTTP call failed.

    ``status`` is the HTTP status, or ``-1`` when no HTTP answer arrived; then
    ``kind`` says why: ``refused``, ``timeout``, ``dns``, ``reset`` or ``connection``.
    """

    def __init__(self, call, status, message, body=None, kind=None):
        self.call = call
        self.status = status
        self.body = body
        self.kind = kind or ('http' if status > 0 else 'connection')
        self.detail = message
        super(ApiError, self).__init__('%s failed: %s' % (call, message))


def classify_connection_error(msg):
    """Map fetch_url's ``info['msg']`` for a failed connection to a kind."""
    text = (msg or '').lower()
    if 'refused' in text:
        return 'refused'
    if 'timed out' in text or 'timeout' in text:
        return 'timeout'
    if ('name or service not known' in text or 'nodename nor servname' in text
            or 'name resolution' in text or 'getaddrinfo' in text or 'no address associated' in text):
        return 'dns'
    if 'reset by peer' in text or 'remote end closed' in text or 'broken pipe' in text:
        return 'reset'
    return 'connection'


def _short(body, limit=300):
    text = to_text(body or b'', errors='surrogate_or_replace').strip()
    return text if len(text) <= limit else text[:limit] + '...'


class Response(object):
    """What a successful call returned."""

    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    @property
    def content_type(self):
        return (self.headers.get('content-type') or '').split(';')[0].strip().lower()

    def json(self):
        return json.loads(to_text(self.body, errors='surrogate_or_strict'))


def send_with_fetch_url(module, url, **kwargs):
    """The default way a client sends a request: Ansible's ``fetch_url``."""
    return fetch_url(module, url, **kwargs)


class JsonHttpClient(object):
    """One service's HTTP client: base URL, headers, timeout, bounded retries.

    ``retries`` extra attempts are made, ``delay`` seconds apart, after a
    connection failure or a status in ``RETRY_STATUSES`` (a 429's ``Retry-After``,
    capped at ``MAX_RETRY_AFTER``, lengthens the wait); ``request`` and ``json`` also
    retry when the connection is reset while the answer is read. Nothing else is retried.
    ``counts`` tallies the calls made, by method. One client may be shared by threads.

    ``send`` sends one request; it has ``fetch_url``'s signature and answers as it does
    (``(response, info)``; ``info['kind']``, when present, says why no answer came).
    The default is ``fetch_url`` itself; ``_container_http.ContainerCurl`` sends from
    a container on a Docker network instead.
    """

    def __init__(self, module, base_url, headers=None, secret_headers=None,
                 timeout=10, retries=0, delay=1.0, send=None):
        self.module = module
        self.send = send or send_with_fetch_url
        self.base_url = base_url.rstrip('/')
        self.headers = dict(headers or {})
        self.secret_headers = dict(secret_headers or {})
        self.timeout = timeout
        self.retries = retries
        self.delay = delay
        self.counts = {}
        self._lock = threading.Lock()

    def _count(self, method):
        with self._lock:
            self.counts[method] = self.counts.get(method, 0) + 1

    def _wait(self, info=None):
        wait = self.delay
        retry_after = (info or {}).get('retry-after')
        if retry_after is not None:
            try:
                wait = max(wait, min(float(retry_after), MAX_RETRY_AFTER))
            except (TypeError, ValueError):
                pass
        time.sleep(wait)

    def _url(self, path):
        return path if path.startswith(('http://', 'https://')) else self.base_url + path

    def open(self, method, path, payload=None, timeout=None, retry=True):
        """Send one request; return ``(response_object, info, elapsed)`` on a 2xx.

        The response object is left unread so that callers can stream it.
        Raises ApiError otherwise.
        """
        call = '%s %s' % (method, path)
        headers = {'Accept': 'application/json'}
        headers.update(self.headers)
        headers.update(self.secret_headers)
        data = None
        if payload is not None:
            data = json.dumps(payload)
            headers['Content-Type'] = 'application/json'
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            self._count(method)
            started = time.monotonic()
            resp, info = self.send(self.module, self._url(path), data=data, headers=headers,
                                   method=method, timeout=timeout or self.timeout)
            elapsed = time.monotonic() - started
            status = info.get('status', -1)
            if 200 <= status < 300 and resp is not None:
                return resp, info, elapsed
            if status == -1:
                kind = info.get('kind') or classify_connection_error(info.get('msg'))
                error = ApiError(call, -1, to_native(info.get('msg', 'no answer')), kind=kind)
            else:
                body = info.get('body')
                if body is None and resp is not None:
                    body = self._read(resp, call)
                error = ApiError(call, status, 'HTTP %s %s' % (status, _short(body)), body=body)
            if attempt + 1 < attempts and (status == -1 or status in RETRY_STATUSES):
                self._wait(info)
                continue
            raise error
        raise AssertionError('unreachable')  # pragma: no cover

    def _read(self, resp, call):
        try:
            return resp.read()
        except (socket.timeout, OSError) as exc:
            kind = 'timeout' if isinstance(exc, socket.timeout) else classify_connection_error(str(exc))
            raise ApiError(call, -1, 'reading the answer: %s' % to_native(exc), kind=kind)
        except HTTPException as exc:  # IncompleteRead: the server closed the connection mid-answer
            raise ApiError(call, -1, 'reading the answer: %s' % to_native(repr(exc)), kind='reset')

    def request(self, method, path, payload=None, timeout=None, retry=True):
        """Send one request and read the whole answer into a Response.

        A connection reset while the answer is read is retried like a failed connection.
        """
        attempts = 1 + (self.retries if retry else 0)
        body = info = elapsed = None
        for attempt in range(attempts):
            resp, info, elapsed = self.open(method, path, payload=payload, timeout=timeout, retry=retry)
            try:
                body = self._read(resp, '%s %s' % (method, path))
                break
            except ApiError as exc:
                if exc.kind != 'reset' or attempt + 1 >= attempts:
                    raise
                self._wait()
        headers = dict((k.lower(), v) for k, v in info.items() if isinstance(k, str))
        return Response(info['status'], headers, body, elapsed)

    def json(self, method, path, payload=None, timeout=None, retry=True):
        """Send one request and decode its JSON answer."""
        response = self.request(method, path, payload=payload, timeout=timeout, retry=retry)
        try:
            return response.json()
        except ValueError:
            raise ApiError('%s %s' % (method, path), response.status,
                           'the answer is not JSON: %s' % _short(response.body), body=response.body,
                           kind='not_json')

    def stream_lines(self, method, path, payload=None, timeout=None):
        """Send one request and yield its answer's non-empty lines (NDJSON)."""
        resp, dummy, dummy = self.open(method, path, payload=payload, timeout=timeout, retry=False)
        call = '%s %s' % (method, path)
        while True:
            try:
                line = resp.readline()
            except (socket.timeout, OSError) as exc:
                raise ApiError(call, -1, 'reading the stream: %s' % to_native(exc), kind='timeout')
            if not line:
                return
            line = line.strip()
            if line:
                yield line
