# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""n8n public API client (``/api/v1``) on the shared JSON client, its error messages, and the count of the
executions it lists since a time."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError, JsonHttpClient
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._time import epoch_seconds

API = '/api/v1'
PAGE_SIZE = 250          # the public API's maximum; 0 would list everything with a cursor that loops
MAX_PAGES = 100000       # 25 million workflows: a bound, never reached in practice
API_KEY_HEADER = 'X-N8N-API-KEY'

# The scopes each call needs (n8n >= 2.x with enforced API key scopes).
SCOPES = {
    'list': 'workflow:list',
    'read': 'workflow:read',
    'update': 'workflow:update',
    'activate': 'workflow:activate',
    'deactivate': 'workflow:deactivate',
    'list_credentials': 'credential:list',
    'create_credential': 'credential:create',
    'update_credential': 'credential:update',
    'delete_credential': 'credential:delete',
}


def connection_argument_spec():
    """Options shared by the collection's n8n modules (doc fragment local_ai.llm_gateway.n8n)."""
    return dict(
        url=dict(type='str', required=True),
        api_key=dict(type='str', required=True, no_log=True),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='float', default=30),
        retries=dict(type='int', default=3),
        delay=dict(type='float', default=1),
    )


def validate_connection(params):
    """A message for unusable connection options, or None."""
    url = params['url'] or ''
    if not re.match(r'^https?://[^/?#\s]+', url):
        return 'url must be the http:// or https:// base URL of n8n, for example http://127.0.0.1:5678'
    if not (params['api_key'] or '').strip():
        return 'api_key must not be empty'
    for name in ('timeout', 'delay'):
        if params[name] < 0:
            return '%s must not be negative' % name
    if params['timeout'] == 0:
        return 'timeout must be greater than 0'
    if params['retries'] < 0:
        return 'retries must not be negative'
    return None


class N8nClient(object):
    """The few public-API calls n8n_workflow_urls makes. Raises ApiError."""

    def __init__(self, module, url, api_key, timeout=30, retries=3, delay=1.0):
        self.url = url.rstrip('/')
        self.http = JsonHttpClient(module, self.url, secret_headers={API_KEY_HEADER: api_key},
                                   timeout=timeout, retries=retries, delay=delay)

    @property
    def counts(self):
        return dict(self.http.counts)

    def _json(self, method, path, payload=None, idempotent=None):
        return self._object(method, path, self.http.json(method, path, payload=payload, idempotent=idempotent))

    @staticmethod
    def _object(method, path, data):
        if not isinstance(data, dict):
            raise ApiError('%s %s' % (method, path), 200, 'the answer is not a JSON object', kind='not_n8n')
        return data

    def _paginate(self, resource, filters, page_size, max_pages):
        """Every item of a listed resource, following ``nextCursor`` (``limit`` 1..250, never 0)."""
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValueError('page_size must be within 1..%d' % PAGE_SIZE)
        call = 'GET %s/%s' % (API, resource)
        cursor = None
        seen = set()
        for dummy in range(max_pages):
            query = [('limit', page_size)] + list(filters)
            if cursor:
                query.append(('cursor', cursor))
            page = self._json('GET', '%s/%s?%s' % (API, resource, urlencode(query)))
            items = page.get('data')
            if not isinstance(items, list):
                raise ApiError(call, 200, 'the answer has no "data" list', kind='not_n8n')
            for item in items:
                if isinstance(item, dict) and item.get('id'):
                    yield item
            cursor = page.get('nextCursor')
            if not cursor or not items:
                return
            if cursor in seen:
                raise ApiError(call, 200, 'the listing repeats a page (cursor seen before)', kind='not_n8n')
            seen.add(cursor)
        raise ApiError(call, 200, 'more than %d pages' % max_pages, kind='not_n8n')

    def list_workflows(self, active_only=False, page_size=PAGE_SIZE, max_pages=MAX_PAGES):
        """All workflows, page by page (cursor pagination, ``limit`` 1..250)."""
        filters = [('active', 'true')] if active_only else []
        return self._paginate('workflows', filters, page_size, max_pages)

    def list_credentials(self, page_size=PAGE_SIZE, max_pages=MAX_PAGES):
        """All credentials (id, name, type; the public API never returns their data)."""
        return self._paginate('credentials', [], page_size, max_pages)

    def list_executions(self, page_size=PAGE_SIZE, max_pages=MAX_PAGES):
        """Executions, newest first (id, workflowId, status, startedAt; never their data)."""
        return self._paginate('executions', [('includeData', 'false')], page_size, max_pages)

    def find_credentials(self, name, cred_type):
        """The credentials named ``name`` of type ``cred_type`` (id, name, type)."""
        return [c for c in self.list_credentials() if c.get('type') == cred_type and c.get('name') == name]

    def create_credential(self, name, cred_type, data):
        """Create a credential; the answer (id, name, type) carries no data.

        The caller has made sure that no credential of this name and type exists. A POST
        whose answer is lost (a timeout, a reset, a 5xx) may have created it, so before it
        is sent again the credentials are listed: the one of this name and type, when there
        is one now, is the answer, and none is created twice. Several of them raise ApiError.
        """
        path = '%s/credentials' % API

        def landed():
            found = self.find_credentials(name, cred_type)
            if len(found) > 1:
                raise ApiError('POST %s' % path, 200, 'after an answer was lost, n8n holds %d %s credentials named '
                               '%r (ids %s); delete all but one' % (len(found), cred_type, name,
                                                                    ', '.join(sorted(str(c['id']) for c in found))),
                               kind='duplicate')
            return found[0] if found else None
        created = self.http.json_checked('POST', path, {'name': name, 'type': cred_type, 'data': data}, landed)
        return self._object('POST', path, created)

    def _cred_path(self, credential_id):
        return '%s/credentials/%s' % (API, quote(str(credential_id), safe=''))

    def update_credential(self, credential_id, data):
        """Replace a credential's data (``PATCH``); the answer (id, name, type) carries no data.

        The body holds the whole data (``isPartialData`` false), so sent twice it leaves the
        credential as sent once: it is retried like a PUT.
        """
        return self._json('PATCH', self._cred_path(credential_id), payload={'data': data, 'isPartialData': False},
                          idempotent=True)

    def delete_credential(self, credential_id):
        return self._json('DELETE', self._cred_path(credential_id))

    def _wf_path(self, workflow_id, suffix=''):
        return '%s/workflows/%s%s' % (API, quote(str(workflow_id), safe=''), suffix)

    def get_workflow(self, workflow_id):
        return self._json('GET', self._wf_path(workflow_id))

    def put_workflow(self, workflow_id, body):
        return self._json('PUT', self._wf_path(workflow_id), payload=body)

    # activate and deactivate are POSTs that set a state: sent twice, they leave the workflow as sent once
    # (published in the same version, or unpublished), so they are retried like a PUT.
    def activate(self, workflow_id, version_id=None):
        payload = {'versionId': version_id} if version_id else {}
        return self._json('POST', self._wf_path(workflow_id, '/activate'), payload=payload, idempotent=True)

    def deactivate(self, workflow_id):
        return self._json('POST', self._wf_path(workflow_id, '/deactivate'), payload={}, idempotent=True)


def explain(error, url):
    """A message for a failed call that names the call, the status and the fix, never the key."""
    call = error.call
    if error.kind == 'redirect':
        return 'n8n at %s, asked %s: %s' % (url, call, error.detail)
    if error.kind == 'refused':
        return ('Cannot connect to n8n at %s (%s): connection refused. Is n8n running, and is url its base '
                'URL as seen from this host?' % (url, call))
    if error.kind == 'timeout':
        return 'n8n at %s did not answer %s in time (%s); raise timeout if it is busy.' % (url, call, error.detail)
    if error.kind == 'dns':
        return 'Cannot resolve the host name of %s (%s): %s' % (url, call, error.detail)
    if error.kind in ('reset', 'connection'):
        return 'The connection to n8n at %s failed during %s: %s' % (url, call, error.detail)
    if error.kind in ('not_json', 'not_n8n'):
        return ('%s answered %s, but not as n8n\'s public API does (%s). Is url the base URL of n8n (not of '
                'a proxy error page), has n8n finished starting, and is the public API enabled '
                '(N8N_PUBLIC_API_DISABLED unset)?' % (url, call, error.detail))
    if error.status == 401:
        return ('n8n at %s refused the API key: %s answered HTTP 401. Check api_key (create one in n8n under '
                'Settings > n8n API).' % (url, call))
    if error.status == 403 and '/credentials' in call:
        return ('n8n at %s answered HTTP 403 to %s: the API key lacks a scope this call needs (%s). Converting '
                'to the OpenAI format with auth needs credential:list, credential:create when the credential '
                'does not exist yet, credential:update when its value changes; state credential_absent needs '
                'credential:list, workflow:list and credential:delete.' % (url, call, _short_detail(error)))
    if error.status == 405 and call.startswith('GET %s/credentials' % API):
        return ('n8n at %s answered HTTP 405 to %s: its public API cannot list credentials, as n8n before 2.0 '
                'cannot (%s). Finding or making the credential that auth (phase 2) and credential_moves use needs '
                'that listing: move n8n to 2.0 or later first (on n8n 1.123.x the collection supports phase 1 '
                'without credential_moves).' % (url, call, _short_detail(error)))
    if error.status == 403:
        return ('n8n at %s answered HTTP 403 to %s: the API key lacks a scope this call needs (%s). Give the key '
                'the scopes workflow:list, workflow:read, workflow:update, workflow:activate and '
                'workflow:deactivate.' % (url, call, _short_detail(error)))
    if error.status == 404 and call.startswith('GET %s/workflows?' % API):
        return ('%s answered HTTP 404 to %s: no public API there. Is url the base URL of n8n, and is the public '
                'API enabled?' % (url, call))
    return 'n8n at %s: %s failed: %s' % (url, call, _short_detail(error))


def _short_detail(error):
    body = error.body
    if isinstance(body, bytes):
        try:
            message = json.loads(body.decode('utf-8', 'replace')).get('message')
            if message:
                return 'HTTP %s %s' % (error.status, message)
        except (ValueError, AttributeError):
            pass
    return error.detail


def is_global_failure(error):
    """Failures that will hit every further call as well (stop starting new writes)."""
    return error.status in (401, 403) or error.kind in ('refused', 'dns', 'timeout', 'redirect')


def executions_since(executions, since):
    """How many of ``executions`` (newest first, as n8n lists them) started at ``since`` or later; the listing is
    read only as far as the first older one. ValueError when ``since`` is not a time."""
    start = epoch_seconds(since)
    if start is None:
        raise ValueError('%r is not a time (such as 20261207T200819Z)' % since)
    count = 0
    for execution in executions:
        started = epoch_seconds(execution.get('startedAt') or execution.get('createdAt'))
        if started is not None and started < start:
            break
        count += 1
    return count
