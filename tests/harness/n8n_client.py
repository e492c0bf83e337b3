"""The one small n8n HTTP client of the harness, the integration tests and the benchmarks (stdlib only).

* the public API (/api/...) with the X-N8N-API-KEY header;
* the internal REST API (/rest/...) with the owner's session cookie (n8n-auth), kept by hand: a
  cookie jar drops it over http when it is "Secure". POST /rest/login is limited to 5 per minute
  per email: a 429 is waited out (Retry-After, 1 to 30 s) within a bounded budget;
* every answer with its raw status, headers and body, and the body parsed as JSON when it is JSON;
* 127.0.0.1 only, and never through an http(s)_proxy from the environment.

Runs with the system python3 (harness scripts) and with the test venv's (pytest, benchmarks):
harness scripts import it from their own folder, pytest through pytest.ini's pythonpath, the
benchmarks by adding tests/harness to sys.path.
"""

import collections
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

# 127.0.0.1 only: never through an http(s)_proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Response = collections.namedtuple('Response', 'status headers data raw')


class N8nError(Exception):
    """An answer with a status the caller did not expect."""

    def __init__(self, method, path, response):
        Exception.__init__(self, '%s %s -> HTTP %s %r' % (method, path, response.status,
                                                          response.raw[:300] if response.data is None
                                                          else response.data))
        self.status = response.status
        self.response = response


class N8nClient(object):
    """``url`` is n8n's base URL (http://127.0.0.1:PORT); ``api_key`` is sent to /api/ paths, the
    session cookie (after :meth:`login`) to /rest/ paths, neither anywhere else (webhooks)."""

    def __init__(self, url, api_key=None, email=None, password=None, timeout=60, retries_on_409=0):
        host = urllib.parse.urlsplit(url).hostname
        if host != '127.0.0.1':
            raise ValueError('refusing to contact %s: only 127.0.0.1 is contacted' % host)
        self.url = url.rstrip('/')
        self.api_key = api_key
        self.email = email
        self.password = password
        self.timeout = timeout
        self.retries_on_409 = retries_on_409
        self.cookie = None
        self.calls = {}     # method -> number of requests sent

    def request(self, method, path, body=None, headers=None, timeout=None):
        """One request -> Response(status, headers, data, raw); data is the parsed JSON or None.
        Any HTTP status is an answer; connection errors raise OSError."""
        self.calls[method] = self.calls.get(method, 0) + 1
        hdrs = {'Accept': 'application/json'}
        if self.api_key and path.startswith('/api/'):
            hdrs['X-N8N-API-KEY'] = self.api_key
        if self.cookie and path.startswith('/rest/'):
            hdrs['Cookie'] = self.cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs['Content-Type'] = 'application/json'
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            resp = OPENER.open(req, timeout=self.timeout if timeout is None else timeout)
        except urllib.error.HTTPError as exc:
            resp = exc
        with resp:
            raw = resp.read()
            status, resp_headers = resp.status, resp.headers
        for value in resp_headers.get_all('Set-Cookie') or []:
            found = re.match(r'\s*(n8n-auth=[^;]*)', value)
            if found:
                self.cookie = found.group(1)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Response(status, resp_headers, parsed, raw)

    def checked(self, method, path, body=None, ok=(200, 201), retries_on_409=None):
        """request(), retried on 409 (n8n busy with the same workflow) up to ``retries_on_409`` times
        0.5 s apart; a status not in ``ok`` raises N8nError. Returns the parsed JSON."""
        retries = self.retries_on_409 if retries_on_409 is None else retries_on_409
        for attempt in range(retries + 1):
            resp = self.request(method, path, body)
            if resp.status == 409 and attempt < retries:
                time.sleep(0.5)
                continue
            if resp.status not in ok:
                raise N8nError(method, path, resp)
            return resp.data
        raise AssertionError('unreachable')

    def call(self, method, path, body=None, ok=(200, 201), retries_on_409=None):
        """A public API call: ``path`` is relative to /api/v1."""
        return self.checked(method, '/api/v1' + path, body, ok, retries_on_409)

    def rest(self, method, path, body=None, ok=(200,)):
        """An internal REST call as the owner (``path`` relative to /rest); logs in once if needed."""
        if not self.cookie:
            self.login()
        return self.checked(method, '/rest' + path, body, ok)

    def login(self, email=None, password=None, budget=90, on_wait=None):
        """POST /rest/login; waits out 429s within ``budget`` seconds (``on_wait(seconds)`` is told
        before each wait). Any other failure, or a 200 without the cookie, raises N8nError."""
        email = email or self.email
        password = password or self.password
        deadline = time.monotonic() + budget
        while True:
            resp = self.request('POST', '/rest/login', {'emailOrLdapLoginId': email, 'password': password})
            if resp.status == 200 and self.cookie:
                return self.cookie
            if resp.status == 429 and time.monotonic() < deadline:
                wait = min(max(int(resp.headers.get('Retry-After') or 10), 1), 30)
                if on_wait:
                    on_wait(wait)
                time.sleep(wait)
                continue
            raise N8nError('POST', '/rest/login', resp)

    def key_works(self):
        """The API key is accepted by GET /api/v1/workflows?limit=1 (False when n8n does not answer)."""
        try:
            return self.request('GET', '/api/v1/workflows?limit=1').status == 200
        except OSError:
            return False

    # workflows -----------------------------------------------------------------------------------
    def get(self, workflow_id):
        return self.call('GET', '/workflows/%s' % workflow_id)

    def snapshot(self, ids):
        return dict((wid, self.get(wid)) for wid in ids)

    def rest_patch(self, workflow_id, changes):
        """An editor-style save (PATCH /rest/workflows/{id} with the current versionId): no publishing."""
        current = self.rest('GET', '/workflows/%s' % workflow_id)['data']
        body = dict(changes, versionId=current['versionId'])
        return self.rest('PATCH', '/workflows/%s' % workflow_id, body)['data']
