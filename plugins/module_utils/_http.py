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

The transport never follows a redirect; the client does, within one origin only
(see ``JsonHttpClient``), so that no header, the secret ones included, ever
reaches an address the caller did not name.
"""

from __future__ import annotations

import json
import os
import socket
from http.client import HTTPException
import threading
import time
from urllib.parse import urljoin, urlsplit, urlunsplit

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import fetch_url

RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
# Longest wait a server's Retry-After header may impose between two attempts.
MAX_RETRY_AFTER = 30.0
# Methods whose repetition does no more than the first request did.
IDEMPOTENT_METHODS = frozenset(('GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'))
# Failures that prove the server never saw the request: no connection was made.
NOT_SENT_KINDS = frozenset(('refused', 'dns', 'unreachable', 'connect_timeout'))
# Redirects the client follows within one origin; 307 and 308 keep the method and the body.
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
MAX_REDIRECTS = 5
DEFAULT_PORTS = {'http': 80, 'https': 443}


class ApiError(Exception):
    """An HTTP call failed.

    ``status`` is the HTTP status, or ``-1`` when no HTTP answer arrived; then
    ``kind`` says why: ``refused``, ``timeout``, ``dns``, ``reset`` or ``connection``.
    ``kind`` is ``redirect`` for a 3xx the client does not follow (``status`` is the 3xx).
    """

    def __init__(self, call, status, message, body=None, kind=None, retry_after=None):
        self.call = call
        self.status = status
        self.body = body
        self.kind = kind or ('http' if status > 0 else 'connection')
        self.detail = message
        self.retry_after = retry_after
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


def origin(url):
    """``(scheme, host, port)`` of a URL, the default port filled in; None when the URL has no usable port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    return scheme, (parts.hostname or '').lower(), port


def origin_text(url):
    parts = urlsplit(url)
    return '%s://%s' % (parts.scheme, parts.netloc.rpartition('@')[2])


def shown_url(url):
    """A URL fit for a message: a user name and password in it are masked."""
    parts = urlsplit(url)
    if '@' not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc='****@' + parts.netloc.rpartition('@')[2]))


class _NoRedirects(object):
    """The module as ``fetch_url`` sees it, with ``follow_redirects: none``: a 3xx comes back as an answer."""

    def __init__(self, module):
        self._module = module
        self.params = dict(module.params, follow_redirects='none')

    def __getattr__(self, name):
        return getattr(self._module, name)


# fetch_url builds a new TLS context for every request and loads the system's CA certificates
# into it (about 20 ms of CPU per request on a small host, most of a module's time against a
# local n8n), also for a plain http:// URL, where no TLS is ever spoken. For such a URL the
# context gets this one certificate instead (made for this purpose, its key thrown away); it is
# never used, since a plain-HTTP request has no TLS and the client follows no redirect to
# another origin. https:// URLs keep fetch_url's CA handling unchanged.
PLAIN_HTTP_CA = """-----BEGIN CERTIFICATE-----
MIIBqzCCAVGgAwIBAgIUZpuR5vKEt4CbRAyxcGotQ9SbgTowCgYIKoZIzj0EAwIw
KjEoMCYGA1UEAwwfbGxtLWdhdGV3YXkgdW51c2VkIChwbGFpbiBIVFRQKTAgFw0y
NjEyMDQyMjU2MjlaGA8yMTI2MTExMDIyNTYyOVowKjEoMCYGA1UEAwwfbGxtLWdh
dGV3YXkgdW51c2VkIChwbGFpbiBIVFRQKTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABPgeHvi3CozPYZHItgYcOJAn2CuHjke+W6V2Ar9mvhxNCcf61Dx++iWAPem2
xPTjoiRi5FNVH1flznPnzUokcLejUzBRMB0GA1UdDgQWBBTB0hpi+LEuogbWZCZ1
I97j8kSiZTAfBgNVHSMEGDAWgBTB0hpi+LEuogbWZCZ1I97j8kSiZTAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIHJZAlX9U8NZXjirggUONkhqClKx
I2gnCApl9RfzyqM4AiEAvAUnhPQIdBUQIZzRBffZJqRJtY6peFlwKJZNfyUpoxM=
-----END CERTIFICATE-----
"""
_PLAIN_HTTP_CA_LOCK = threading.Lock()


def plain_http_ca_file(module):
    """The file of PLAIN_HTTP_CA in the module's temporary folder (written once)."""
    path = os.path.join(module.tmpdir, 'llm-gateway-plain-http-ca.pem')
    with _PLAIN_HTTP_CA_LOCK:       # the client's threads: one writes it, none reads it half written
        if not os.path.exists(path):
            with open(path, 'w') as handle:
                handle.write(PLAIN_HTTP_CA)
    return path


def send_with_fetch_url(module, url, **kwargs):
    """The default way a client sends a request: Ansible's ``fetch_url``, following no redirect.

    ``fetch_url`` would otherwise follow one (its default, ``urllib2``) and send every
    header, the secret ones included, to whatever address the ``Location`` names. A 3xx
    answers with ``info['status']`` and ``info['location']`` (as the server sent it).
    """
    if urlsplit(url).scheme == 'http' and kwargs.get('ca_path') is None:
        kwargs['ca_path'] = plain_http_ca_file(module)
    return fetch_url(_NoRedirects(module), url, **kwargs)


class JsonHttpClient(object):
    """One service's HTTP client: base URL, headers, timeout, bounded retries.

    Retries: ``retries`` extra attempts are made, ``delay`` seconds apart (a 429's
    ``Retry-After``, capped at ``MAX_RETRY_AFTER``, lengthens the wait). An idempotent
    request (GET, HEAD, PUT, DELETE, OPTIONS, or one the caller declares ``idempotent``)
    is retried after a connection failure or a status in ``RETRY_STATUSES``, and when the
    connection is reset while the answer is read. Any other request (POST, PATCH) is
    retried only when it cannot have been processed: the connection was refused, the name
    did not resolve, nothing accepted the connection, or the server answered 429. After a
    timeout, a reset or a 5xx it may have landed, so it is not sent again blindly;
    ``json_checked`` retries such a request after looking up whether it landed. Nothing
    else is retried. ``counts`` tallies the calls made, by method. One client may be
    shared by threads.

    Redirects: the transport never follows one. A 301, 302, 303, 307 or 308 whose
    ``Location`` (resolved against the request's URL) has the request's origin (scheme,
    host, port) is followed by the client, with the same headers, at most
    ``MAX_REDIRECTS`` times in a row: 307 and 308 repeat the method and the body; 301,
    302 and 303 are followed by GET and HEAD only (a write is not turned into a GET). Any
    other 3xx - to another origin, without ``Location``, a write through 301/302/303, one
    redirect too many - raises ApiError with kind ``redirect``, naming the status and the
    location (never a header), so that no header reaches an address the caller did not name.

    ``send`` sends one request; it has ``fetch_url``'s signature and answers as it does
    (``(response, info)``; ``info['kind']``, when present, says why no answer came;
    ``info['location']`` is a 3xx's ``Location``). The default is ``fetch_url`` told to
    follow no redirect; ``_container_http.ContainerCurl`` sends from a container on a
    Docker network instead.
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

    def _wait(self, retry_after=None):
        wait = self.delay
        if retry_after is not None:
            try:
                wait = max(wait, min(float(retry_after), MAX_RETRY_AFTER))
            except (TypeError, ValueError):
                pass
        time.sleep(wait)

    def _url(self, path):
        return path if path.startswith(('http://', 'https://')) else self.base_url + path

    @staticmethod
    def is_idempotent(method, idempotent=None):
        return (method or 'GET').upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent

    @staticmethod
    def retryable(error, idempotent):
        """Whether a failed request may be sent again (see the class's docstring)."""
        if error.kind == 'redirect':
            return False
        if idempotent:
            return error.status == -1 or error.status in RETRY_STATUSES
        return error.kind in NOT_SENT_KINDS or error.status == 429

    def open(self, method, path, payload=None, timeout=None, retry=True, idempotent=None):
        """Send one request; return ``(response_object, info, elapsed)`` on a 2xx.

        The response object is left unread so that callers can stream it.
        Raises ApiError otherwise. ``idempotent`` overrides what the method says
        (a POST that sets a state may be declared idempotent).
        """
        call = '%s %s' % (method, path)
        headers = {'Accept': 'application/json'}
        headers.update(self.headers)
        headers.update(self.secret_headers)
        data = None
        if payload is not None:
            data = json.dumps(payload)
            headers['Content-Type'] = 'application/json'
        idempotent = self.is_idempotent(method, idempotent)
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            started = time.monotonic()
            resp, info = self._exchange(call, method, self._url(path), data, headers, timeout or self.timeout)
            elapsed = time.monotonic() - started
            status = info.get('status', -1)
            if 200 <= status < 300 and resp is not None:
                return resp, info, elapsed
            error = self._error(call, resp, info)
            if attempt + 1 < attempts and self.retryable(error, idempotent):
                self._wait(error.retry_after)
                continue
            raise error
        raise AssertionError('unreachable')  # pragma: no cover

    def _error(self, call, resp, info):
        status = info.get('status', -1)
        if status == -1:
            kind = info.get('kind') or classify_connection_error(info.get('msg'))
            return ApiError(call, -1, to_native(info.get('msg', 'no answer')), kind=kind)
        body = info.get('body')
        if body is None and resp is not None:
            body = self._read(resp, call)
        return ApiError(call, status, 'HTTP %s %s' % (status, _short(body)), body=body,
                        retry_after=info.get('retry-after'))

    def _exchange(self, call, method, url, data, headers, timeout):
        """Send a request and follow its same-origin redirects; return the last ``(response, info)``.

        Raises ApiError (kind ``redirect``) for a redirect that is not followed.
        """
        for dummy in range(MAX_REDIRECTS + 1):
            self._count(method)
            resp, info = self.send(self.module, url, data=data, headers=headers, method=method, timeout=timeout)
            status = info.get('status', -1)
            if not 300 <= status < 400:
                return resp, info
            url = self._redirect_target(call, method, url, status, info.get('location'))
        raise ApiError(call, status, 'HTTP %s redirect to %s: more than %d redirects in a row, not followed further. '
                       'Point the URL at the address that answers directly.'
                       % (status, shown_url(url), MAX_REDIRECTS), kind='redirect')

    def _redirect_target(self, call, method, url, status, location):
        """The URL a 3xx sends the request to, when the client follows it; raises ApiError otherwise."""
        fix = 'Point the URL at the address that answers directly.'
        if not location:
            raise ApiError(call, status, 'HTTP %s redirect without a Location: nothing to follow. %s'
                           % (status, fix), kind='redirect')
        target = urljoin(url, to_text(location).strip())
        shown = shown_url(target)
        if origin(target) is None or origin(target) != origin(url):
            raise ApiError(call, status, 'HTTP %s redirect to %s, another origin than %s: not followed (the '
                           'request\'s headers, the secret ones included, are not sent to another address). %s'
                           % (status, shown, origin_text(url), fix), kind='redirect')
        if status not in REDIRECT_STATUSES:
            raise ApiError(call, status, 'HTTP %s (a redirect to %s) is not followed. %s' % (status, shown, fix),
                           kind='redirect')
        if status not in (307, 308) and method.upper() not in ('GET', 'HEAD'):
            raise ApiError(call, status, 'HTTP %s redirect of a %s to %s: not followed (301, 302 and 303 would turn '
                           'it into a GET without its body). %s' % (status, method, shown, fix), kind='redirect')
        return target

    def _read(self, resp, call):
        try:
            return resp.read()
        except (socket.timeout, OSError) as exc:
            kind = 'timeout' if isinstance(exc, socket.timeout) else classify_connection_error(str(exc))
            raise ApiError(call, -1, 'reading the answer: %s' % to_native(exc), kind=kind)
        except HTTPException as exc:  # IncompleteRead: the server closed the connection mid-answer
            raise ApiError(call, -1, 'reading the answer: %s' % to_native(repr(exc)), kind='reset')

    def request(self, method, path, payload=None, timeout=None, retry=True, idempotent=None):
        """Send one request and read the whole answer into a Response.

        A connection reset while the answer of an idempotent request is read is retried
        like a failed connection (the answer of any other request is lost: it landed).
        """
        idempotent = self.is_idempotent(method, idempotent)
        attempts = 1 + (self.retries if retry and idempotent else 0)
        body = info = elapsed = None
        for attempt in range(attempts):
            resp, info, elapsed = self.open(method, path, payload=payload, timeout=timeout, retry=retry,
                                            idempotent=idempotent)
            try:
                body = self._read(resp, '%s %s' % (method, path))
                break
            except ApiError as exc:
                if exc.kind != 'reset' or attempt + 1 >= attempts:
                    raise
                self._wait()
        headers = dict((k.lower(), v) for k, v in info.items() if isinstance(k, str))
        return Response(info['status'], headers, body, elapsed)

    def json(self, method, path, payload=None, timeout=None, retry=True, idempotent=None):
        """Send one request and decode its JSON answer."""
        response = self.request(method, path, payload=payload, timeout=timeout, retry=retry, idempotent=idempotent)
        try:
            return response.json()
        except ValueError:
            raise ApiError('%s %s' % (method, path), response.status,
                           'the answer is not JSON: %s' % _short(response.body), body=response.body,
                           kind='not_json')

    def json_checked(self, method, path, payload, landed, timeout=None):
        """Send a request that is not idempotent (a create) and decode its JSON answer, retried with care.

        ``landed()`` looks up what the request would have created and returns it, or None.
        A failure after which the server may have processed the request (a timeout, a
        reset, a 5xx) is followed by ``landed()``: what it finds is the answer, and only when
        it finds nothing is the request sent again. A failure that proves nothing was
        processed (refused, no DNS name, 429) is retried directly; any other raises. At most
        ``retries`` extra attempts; the last failure raises without a look-up. An ApiError
        of the look-up itself is raised as it is.
        """
        attempts = 1 + self.retries
        for attempt in range(attempts):
            try:
                return self.json(method, path, payload=payload, timeout=timeout, retry=False, idempotent=False)
            except ApiError as exc:
                if attempt + 1 >= attempts or not self.retryable(exc, idempotent=True):
                    raise
                self._wait(exc.retry_after)
                if self.retryable(exc, idempotent=False):
                    continue
                found = landed()
                if found is not None:
                    return found
        raise AssertionError('unreachable')  # pragma: no cover

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
