# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""n8n public API client (``/api/v1``) on the shared JSON client, error messages, the
workflow backup files of n8n_workflow_urls and its record of the credentials it manages."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import re
import tempfile
from urllib.parse import quote, urlencode

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError, JsonHttpClient
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._time import epoch_seconds

API = '/api/v1'
PAGE_SIZE = 250          # the public API's maximum; 0 would list everything with a cursor that loops
MAX_PAGES = 100000       # 25 million workflows: a bound, never reached in practice
API_KEY_HEADER = 'X-N8N-API-KEY'
TMP_SUFFIX = '.tmp'           # temporary files of atomic_write
JOURNAL_NAME = 'journal.json'  # in a run's backup folder: what the run wrote (not a backup)
CREDENTIAL_RECORD = 'credentials.json'  # in backup_dir by default: the credentials n8n_workflow_urls manages

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


# ------------------------------------------------------------------------------------------
# Backups: BACKUP_DIR/<run stamp>/<workflow id>-<run stamp>.json, the workflow JSON as read right
# before it was written, each file written atomically (atomic_write).

def run_stamp(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y%m%dT%H%M%S.%fZ')


def make_run_folder(backup_dir, stamp):
    """Create (0700) and return a new folder for one run's backups."""
    backup_dir = os.path.abspath(os.path.expanduser(backup_dir))
    if not os.path.isdir(backup_dir):
        os.makedirs(backup_dir, 0o700)
    for attempt in range(100):
        name = stamp if attempt == 0 else '%s-%d' % (stamp, attempt)
        folder = os.path.join(backup_dir, name)
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)
        return folder
    raise OSError('cannot create a new backup folder under %s' % backup_dir)


def _safe_name(text):
    return re.sub(r'[^A-Za-z0-9_.-]', '_', str(text))[:100] or 'workflow'


def _fsync_folder(folder):
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _link_new(tmp, path):
    """Give ``tmp`` the name ``path`` unless that exists (FileExistsError). A hard link does it in one
    step; where the file system has none, a check and a rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(17, 'File exists', path)
        os.rename(tmp, path)
        return
    os.unlink(tmp)


def atomic_write(path, data, replace=True):
    """Write ``data`` (bytes) to ``path`` durably: a temporary file in the same folder (0600, named
    ``.<name>.<random>.tmp``), flushed and fsynced, then renamed over ``path`` (``replace``) or linked to
    it, failing with FileExistsError when ``path`` exists (``replace=False``, never overwriting). A
    crash leaves either the old file or the whole new one, at worst a ``*.tmp`` leftover."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix=TMP_SUFFIX, dir=folder)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def write_backup(folder, workflow, stamp):
    """Write one workflow's JSON (mode 0600, atomically, never overwriting); return the path."""
    path = os.path.join(folder, '%s-%s.json' % (_safe_name(workflow.get('id')), _safe_name(stamp)))
    data = json.dumps(workflow, indent=2, sort_keys=True, ensure_ascii=False).encode('utf-8')
    atomic_write(path, data, replace=False)
    return path


def _backup_files(path):
    """``(json files, leftovers)`` of a backup folder or file; raises ValueError when there is none."""
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        files = [os.path.join(path, n) for n in names if n.endswith('.json') and n != JOURNAL_NAME]
        leftovers = [os.path.join(path, n) for n in names if n.endswith(TMP_SUFFIX)]
        if not files:
            raise ValueError('the folder %s holds no *.json backup files (pass one run\'s folder, e.g. '
                             'the backup_folder a run returned)' % path)
        return files, leftovers
    if os.path.isfile(path):
        return [path], []
    raise ValueError('backup %s does not exist' % path)


def _load_backup(name):
    """The workflow in one backup file; raises ValueError naming the file and what is wrong."""
    try:
        with open(name, 'rb') as handle:
            workflow = json.loads(handle.read().decode('utf-8'))
    except (OSError, ValueError) as exc:
        raise ValueError('cannot read the backup %s: %s' % (name, exc))
    if (not isinstance(workflow, dict) or not workflow.get('id') or not isinstance(workflow.get('nodes'), list)
            or not isinstance(workflow.get('connections'), dict) or 'name' not in workflow):
        raise ValueError('%s is not an n8n workflow backup (id, name, nodes and connections needed)' % name)
    return workflow


def read_backups(path):
    """``([(file, workflow)], [warning])`` from one backup file or from the ``*.json`` files of a folder.

    In a folder, a leftover temporary file (``*.tmp``, from an interrupted write) or a file that is not
    a usable backup (a partial or damaged JSON file) is left out with a warning; the rest is restored.
    Raises ValueError with a clear message when nothing usable is left, for a single file that is not
    a backup, or for two backups of the same workflow.
    """
    path = os.path.abspath(os.path.expanduser(path))
    files, leftovers = _backup_files(path)
    warnings = ['%s is the leftover of an interrupted backup write; it was ignored (delete it)' % name
                for name in leftovers]
    found = []
    by_id = {}
    for name in files:
        try:
            workflow = _load_backup(name)
        except ValueError as exc:
            if len(files) == 1 and not os.path.isdir(path):
                raise
            warnings.append('%s; it was ignored, the other backups are restored (move it away, or fix it and '
                            'restore it alone)' % exc)
            continue
        if workflow['id'] in by_id:
            raise ValueError('%s and %s are backups of the same workflow %s; restore one of them'
                             % (by_id[workflow['id']], name, workflow['id']))
        by_id[workflow['id']] = name
        found.append((name, workflow))
    if not found:
        raise ValueError('the folder %s holds no usable backup (%s)' % (path, '; '.join(warnings)))
    return found, warnings


# The journal of a run: BACKUP_DIR/<run stamp>/journal.json, what the run wrote - per workflow id the
# outcome of its write, its versionId before and after it and a fingerprint of what it left - so that a
# restore can tell whether someone edited the workflow since. Replaced atomically right before each
# write (the entry says outcome unknown) and again once the write's outcome is known, so that a run
# stopped or timing out half way leaves a journal too (see _n8n_restore for the entries). Version 1
# journals written before outcomes were recorded have entries without ``outcome``; they are read as
# written.

JOURNAL_VERSION = 1


def write_journal(folder, entries):
    """Write the journal ``{id: {id, name, outcome, version_before, version_after, content_after, backup}}``
    atomically; return its path. ``content_after`` is the fingerprint of what the run left (see
    _n8n_restore.content_fingerprint); an entry whose outcome is unknown has no ``version_after`` and no
    ``content_after``. Raises OSError."""
    path = os.path.join(folder, JOURNAL_NAME)
    data = json.dumps({'version': JOURNAL_VERSION, 'workflows': entries}, indent=2, sort_keys=True,
                      ensure_ascii=False).encode('utf-8')
    atomic_write(path, data)
    return path


def read_journal(backup):
    """The journal entries of the run whose backup (file or folder) is given, ``{}`` when it has none.

    Raises ValueError when a journal is there but cannot be used.
    """
    backup = os.path.abspath(os.path.expanduser(backup))
    folder = backup if os.path.isdir(backup) else os.path.dirname(backup)
    path = os.path.join(folder, JOURNAL_NAME)
    try:
        with open(path, 'rb') as handle:
            data = json.loads(handle.read().decode('utf-8'))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError('cannot read the journal %s: %s' % (path, exc))
    if not isinstance(data, dict) or data.get('version') != JOURNAL_VERSION or \
            not isinstance(data.get('workflows'), dict):
        raise ValueError('%s is not a journal of n8n_workflow_urls (version %d)' % (path, JOURNAL_VERSION))
    return dict((k, v) for k, v in data['workflows'].items() if isinstance(v, dict))


# ------------------------------------------------------------------------------------------
# The credentials n8n_workflow_urls manages: a JSON file (mode 0600, replaced atomically) with,
# per credential id, its name and type, whether the module created it, and an HMAC-SHA256 of the
# header and value it last stored, keyed with a random salt kept in the same file. The value
# itself is never written; the public API never returns it, so this is all there is to compare.

STATE_VERSION = 1


class CredentialState(object):
    """The record file. ``load`` raises ValueError for a file that is not one."""

    def __init__(self, path):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.salt = None
        self.records = {}

    def load(self):
        try:
            with open(self.path, 'rb') as handle:
                data = json.loads(handle.read().decode('utf-8'))
        except FileNotFoundError:
            return self
        except (OSError, ValueError) as exc:
            raise ValueError('cannot read the credential record %s: %s' % (self.path, exc))
        if (not isinstance(data, dict) or data.get('version') != STATE_VERSION
                or not isinstance(data.get('salt'), str) or not isinstance(data.get('credentials'), dict)):
            raise ValueError('%s is not a credential record of n8n_workflow_urls (version %d); move it away'
                             % (self.path, STATE_VERSION))
        self.salt = data['salt']
        self.records = dict((k, v) for k, v in data['credentials'].items() if isinstance(v, dict))
        return self

    def fingerprint(self, header, value):
        if self.salt is None:
            self.salt = os.urandom(32).hex()
        message = json.dumps([header, value]).encode('utf-8')
        return hmac.new(bytes.fromhex(self.salt), message, hashlib.sha256).hexdigest()

    def get(self, credential_id):
        return self.records.get(str(credential_id))

    def find(self, name, cred_type):
        return [r for r in self.records.values() if r.get('name') == name and r.get('type') == cred_type]

    def matches(self, record, header, value):
        return bool(record) and hmac.compare_digest(str(record.get('fingerprint') or ''),
                                                    self.fingerprint(header, value))

    def remember(self, credential_id, name, cred_type, created, header, value):
        self.records[str(credential_id)] = {'id': str(credential_id), 'name': name, 'type': cred_type,
                                            'created': bool(created),
                                            'fingerprint': self.fingerprint(header, value)}

    def forget(self, credential_id):
        return self.records.pop(str(credential_id), None) is not None

    def save(self):
        """Write the file: a temporary file in the same folder (0600), fsync, rename over the old one."""
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o700)
        data = json.dumps({'version': STATE_VERSION, 'salt': self.salt or os.urandom(32).hex(),
                           'credentials': self.records}, indent=2, sort_keys=True).encode('utf-8')
        atomic_write(self.path, data)


def short_fingerprint(fingerprint):
    """The start of a fingerprint, for messages and diffs."""
    return (fingerprint or '')[:12]


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
