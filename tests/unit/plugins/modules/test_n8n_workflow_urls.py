"""n8n_workflow_urls against an in-memory n8n that answers like n8n 2.41's public API."""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import stat
import threading
import uuid
from urllib.parse import parse_qs, urlsplit, unquote

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_restore import content_fingerprint
from ansible_collections.local_ai.llm_gateway.plugins.modules import n8n_workflow_urls

KEY = 'n8n_api_unit-test-secret-7f3a9c'
URL = 'http://127.0.0.1:5678'
OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'
RULE = [{'from': OLD, 'to': NEW}]

PUT_KEYS = {'name', 'nodes', 'connections', 'settings', 'staticData', 'pinData', 'description', 'nodeGroups',
            'parentFolderId'}
NODE_KEYS = {'id', 'name', 'webhookId', 'disabled', 'notesInFlow', 'notes', 'type', 'typeVersion', 'executeOnce',
             'alwaysOutputData', 'retryOnFail', 'maxTries', 'waitBetweenTries', 'continueOnFail', 'onError',
             'position', 'parameters', 'credentials', 'customTelemetryTags'}
SETTINGS_KEYS = {'saveExecutionProgress', 'saveManualExecutions', 'saveDataErrorExecution', 'saveDataSuccessExecution',
                 'executionTimeout', 'errorWorkflow', 'timezone', 'executionOrder', 'callerPolicy', 'callerIds',
                 'timeSavedPerExecution', 'availableInMCP', 'binaryMode', 'timeSavedMode', 'redactionPolicy'}


class Resp(object):
    def __init__(self, body):
        self._buf = io.BytesIO(body)

    def read(self, *args):
        return self._buf.read(*args)


class FakeN8n(object):
    """Enough of n8n's /api/v1 for the module: list (offset cursor), GET, PUT, activate, deactivate."""

    def __init__(self, workflows=(), key=KEY):
        self.key = key
        self.store = {}
        self.versions = {}
        self.calls = []
        self.lock = threading.Lock()
        self.hooks = {}        # (method, workflow id or 'list') -> callable(fake, wid, body) -> None or (status, body)
        for wf in workflows:
            self.add(wf)

    # -- building ------------------------------------------------------------------------------
    def add(self, wf):
        wf = copy.deepcopy(wf)
        wf.setdefault('versionId', str(uuid.uuid4()))
        wf.setdefault('connections', {})
        wf.setdefault('settings', {'executionOrder': 'v1'})
        for key, value in (('isArchived', False), ('staticData', None), ('pinData', None), ('meta', None),
                           ('tags', []), ('shared', []), ('description', None), ('triggerCount', 0),
                           ('createdAt', '2026-11-27T00:00:00.000Z'), ('updatedAt', '2026-11-27T00:00:00.000Z')):
            wf.setdefault(key, value)
        self.versions[wf['versionId']] = (copy.deepcopy(wf['nodes']), copy.deepcopy(wf['connections']))
        active = wf.pop('active', False)
        wf.setdefault('activeVersionId', wf['versionId'] if active else None)
        if wf['activeVersionId'] and wf['activeVersionId'] not in self.versions:
            published = wf.pop('published_nodes')
            self.versions[wf['activeVersionId']] = (published, copy.deepcopy(wf['connections']))
        wf.pop('published_nodes', None)
        self.store[wf['id']] = wf
        return wf

    def view(self, wid, listing=False):
        wf = copy.deepcopy(self.store[wid])
        wf['active'] = bool(wf['activeVersionId'])
        if wf['activeVersionId']:
            nodes, connections = self.versions[wf['activeVersionId']]
            wf['activeVersion'] = {'versionId': wf['activeVersionId'], 'workflowId': wid,
                                   'nodes': copy.deepcopy(nodes), 'connections': copy.deepcopy(connections)}
        else:
            wf['activeVersion'] = None
        if listing:
            wf.pop('description', None)
        else:
            wf['versionCounter'] = 1
        return wf

    # -- fetch_url -------------------------------------------------------------------------------
    def __call__(self, module, url, data=None, headers=None, method=None, timeout=None, **kwargs):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        body = json.loads(data) if data else None
        path = parts.path
        with self.lock:
            self.calls.append({'method': method, 'path': path, 'query': query, 'body': body,
                               'headers': dict(headers or {})})
        assert parts.netloc == '127.0.0.1:5678', url
        if (headers or {}).get('X-N8N-API-KEY') != self.key:
            return self.answer(url, 401, {'message': 'Unauthorized'})
        segments = [unquote(s) for s in path.split('/')[3:]]   # after /api/v1
        wid = segments[1] if len(segments) > 1 else 'list'
        hook = self.hooks.get((method, wid))
        if hook is not None:
            with self.lock:
                outcome = hook(self, wid, body)
            if outcome is not None:
                return self.answer(url, *outcome)
        with self.lock:
            status, payload = self.route(method, segments, query, body)
        return self.answer(url, status, payload)

    def answer(self, url, status, payload):
        if status == -1:
            return None, {'status': -1, 'msg': payload, 'url': url}
        raw = json.dumps(payload).encode()
        info = {'status': status, 'url': url, 'msg': 'OK', 'content-type': 'application/json; charset=utf-8'}
        if status >= 400:
            info['body'] = raw
            return None, info
        return Resp(raw), info

    def route(self, method, segments, query, body):
        if segments == ['workflows'] and method == 'GET':
            return self.list(query)
        wid = segments[1]
        if wid not in self.store:
            return 404, {'message': 'Not Found'}
        if len(segments) == 2 and method == 'GET':
            return 200, self.view(wid)
        if len(segments) == 2 and method == 'PUT':
            return self.put(wid, body)
        if segments[2:] == ['activate'] and method == 'POST':
            return self.activate(wid, (body or {}).get('versionId'))
        if segments[2:] == ['deactivate'] and method == 'POST':
            self.store[wid]['activeVersionId'] = None
            return 200, self.view(wid)
        return 404, {'message': 'not found'}

    def list(self, query):
        limit = int(query.get('limit', ['100'])[0])
        assert 1 <= limit <= 250, 'limit %s' % limit
        offset = 0
        if 'cursor' in query:
            cursor = json.loads(base64.b64decode(query['cursor'][0]))
            offset, limit = cursor['offset'], cursor['limit']
        ids = sorted(self.store)
        if query.get('active') == ['true']:
            ids = [i for i in ids if self.store[i]['activeVersionId']]
        chunk = ids[offset:offset + limit]
        nxt = None
        if offset + limit < len(ids):
            nxt = base64.b64encode(json.dumps({'limit': limit, 'offset': offset + limit}).encode()).decode()
        return 200, {'data': [self.view(i, listing=True) for i in chunk], 'nextCursor': nxt}

    def put(self, wid, body):
        extra = set(body) - PUT_KEYS
        if extra:
            return 400, {'message': 'request/body must NOT have additional properties'}
        for key in ('name', 'nodes', 'connections', 'settings'):
            if key not in body:
                return 400, {'message': "request/body must have required property '%s'" % key}
        if set(body['settings']) - SETTINGS_KEYS:
            return 400, {'message': 'request/body/settings must NOT have additional properties'}
        for index, node in enumerate(body['nodes']):
            if set(node) - NODE_KEYS:
                return 400, {'message': 'request/body/nodes/%d Unrecognized key(s) in object' % index}
        wf = self.store[wid]
        if wf['isArchived']:
            return 400, {'message': 'Cannot update an archived workflow.'}
        if json.dumps([wf['nodes'], wf['connections']], sort_keys=True) != \
                json.dumps([body['nodes'], body['connections']], sort_keys=True):
            wf['versionId'] = str(uuid.uuid4())
            self.versions[wf['versionId']] = (copy.deepcopy(body['nodes']), copy.deepcopy(body['connections']))
        wf.update(name=body['name'], nodes=body['nodes'], connections=body['connections'],
                  updatedAt='2026-11-27T01:00:00.000Z')
        wf['settings'].update(body['settings'])
        if 'staticData' in body:
            wf['staticData'] = body['staticData']
        if wf['activeVersionId']:
            wf['activeVersionId'] = wf['versionId']
        return 200, self.view(wid)

    def activate(self, wid, version_id=None):
        wf = self.store[wid]
        if wf['isArchived']:
            return 400, {'message': 'Cannot activate an archived workflow.'}
        wf['activeVersionId'] = version_id or wf['versionId']
        return 200, self.view(wid)

    # -- helpers for assertions ------------------------------------------------------------------
    def methods(self):
        return [c['method'] for c in self.calls]

    def writes(self):
        return [c for c in self.calls if c['method'] != 'GET']


def http(url, name='Call LLM', version=4.2, node_type='n8n-nodes-base.httpRequest', **params):
    parameters = dict(params)
    parameters['url'] = url
    return {'id': 'n-' + name, 'name': name, 'type': node_type, 'typeVersion': version, 'position': [0, 0],
            'parameters': parameters}


TRIGGER = {'id': 'n-hook', 'name': 'Hook', 'type': 'n8n-nodes-base.webhook', 'typeVersion': 2, 'position': [0, 0],
           'parameters': {'path': 'x'}, 'webhookId': 'w'}


def wf(wid, *nodes, **extra):
    base = {'id': wid, 'name': 'WF %s' % wid, 'nodes': [TRIGGER] + list(nodes)}
    base.update(extra)
    return base


@pytest.fixture
def n8n(install_fetch_url):
    return lambda *workflows, key=KEY: install_fetch_url(FakeN8n(workflows, key=key))


@pytest.fixture
def args(tmp_path):
    def make(**extra):
        base = {'url': URL, 'api_key': KEY, 'rewrites': RULE, 'backup_dir': str(tmp_path / 'backups'), 'delay': 0}
        base.update(extra)
        return base
    return make


def urls(fake, wid):
    return [n['parameters'].get('url') for n in fake.store[wid]['nodes'] if 'url' in n.get('parameters', {})]


def assert_no_secret(result):
    assert KEY not in json.dumps(result)


# ---------------------------------------------------------------------------------------------

def test_rewrites_only_what_matches_and_puts_only_changed_workflows(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD, version=1, requestMethod='POST'), http(OLD + '?x=1', name='Tool', version=4.2,
                                                                        node_type='n8n-nodes-base.httpRequestTool')),
               wf('b', http('http://other.example/api', name='Other')),
               wf('c', http("={{ '%s' }}" % OLD, version=3)))
    before_b = copy.deepcopy(fake.store['b'])
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    assert result['changed'] is True
    assert urls(fake, 'a') == [NEW, NEW + '?x=1'] and urls(fake, 'c') == ["={{ '%s' }}" % NEW]
    assert fake.store['b'] == before_b
    changed = sorted((w['id'], w['nodes']) for w in result['changed_workflows'])
    assert changed == [('a', ['Call LLM', 'Tool']), ('c', ['Call LLM'])]
    puts = [c for c in fake.calls if c['method'] == 'PUT']
    assert sorted(c['path'] for c in puts) == ['/api/v1/workflows/a', '/api/v1/workflows/c']
    for call in puts:
        assert sorted(call['body']) == ['connections', 'name', 'nodes', 'settings'] and call['body']['settings'] == {}
    assert result['api_calls'] == {'GET': 3, 'PUT': 2}, 'the listing, and one GET right before each PUT'
    assert result['workflows_in_scope'] == 3 and result['skipped_items'] == []
    assert_no_secret(result)


def test_each_backup_is_the_copy_read_right_before_its_put(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    seen = {}

    def check_backup_exists(fake_, wid, body):
        root = tmp_path / 'backups'
        folder = root / os.listdir(str(root))[0]
        seen[wid] = sorted(n for n in os.listdir(str(folder)) if n.startswith(wid + '-'))
    fake.hooks[('PUT', 'a')] = check_backup_exists
    fake.hooks[('PUT', 'b')] = check_backup_exists
    read = {w: fake.view(w) for w in 'ab'}
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert not failed, result
    folder = result['backup_folder']
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert all(len(names) == 1 for names in seen.values()) and sorted(seen) == ['a', 'b'], \
        'each backup exists before its PUT'
    assert len(result['backups']) == 2
    for path in result['backups']:
        assert os.path.dirname(path) == folder and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            saved = json.load(handle)
        assert saved == read[saved['id']], 'the backup is the workflow exactly as read before the PUT'
        assert os.path.basename(path) == '%s-%s.json' % (saved['id'], os.path.basename(folder))
    assert not [n for n in os.listdir(folder) if n.endswith('.tmp')]


def edit_once(change):
    """A GET hook: the first read of a workflow by id (the one right before its PUT) sees an edit made
    in the editor meanwhile - ``change(stored workflow)`` and a new versionId and updatedAt."""
    done = []

    def hook(fake_, wid, body):
        if not done:
            done.append(wid)
            stored = fake_.store[wid]
            change(stored)
            stored['versionId'] = str(uuid.uuid4())
            stored['updatedAt'] = '2026-11-27T00:30:00.000Z'
            fake_.versions[stored['versionId']] = (copy.deepcopy(stored['nodes']), copy.deepcopy(stored['connections']))
            if stored['activeVersionId']:
                stored['activeVersionId'] = stored['versionId']
        return None
    return hook


def test_a_workflow_edited_after_the_listing_is_planned_again_and_the_edit_kept(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    listed = fake.store['a']['versionId']
    fake.hooks[('GET', 'a')] = edit_once(lambda stored: stored['nodes'].append(http(OLD + '?new', name='Added')))
    result, failed = run_module(n8n_workflow_urls, args(parallel=1), diff=True)
    assert not failed, result
    assert urls(fake, 'a') == [NEW, NEW + '?new'] and urls(fake, 'b') == [NEW]
    assert [n['name'] for n in fake.store['a']['nodes']] == ['Hook', 'Call LLM', 'Added'], 'the edit is kept'
    entry = result['changed_since_read'][0]
    assert len(result['changed_since_read']) == 1
    assert entry['id'] == 'a' and entry['outcome'] == 'replanned' and entry['version_listed'] == listed
    assert entry['version_read'] not in (None, listed) and entry['updated_read'] == '2026-11-27T00:30:00.000Z'
    changed = dict((w['id'], w['nodes']) for w in result['changed_workflows'])
    assert changed == {'a': ['Call LLM', 'Added'], 'b': ['Call LLM']}
    diff_a = [d for d in result['diff'] if d['before_header'] == 'n8n workflow WF a (a)'][0]
    assert diff_a['after'] == {'Call LLM': {'parameters.url': NEW}, 'Added': {'parameters.url': NEW + '?new'}}
    backup_a = [p for p in result['backups'] if os.path.basename(p).startswith('a-')][0]
    with open(backup_a) as handle:
        assert [n['name'] for n in json.load(handle)['nodes']] == ['Hook', 'Call LLM', 'Added'], \
            'the backup holds the fresh copy the PUT replaced'
    assert result['api_calls'] == {'GET': 3, 'PUT': 2}


def test_a_workflow_that_must_now_be_left_alone_is_not_written_and_reported(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD), active=True), wf('b', http(OLD)), wf('c', http(OLD)))

    def unpublished_edit(stored):            # someone edits the draft of an active workflow without publishing
        stored['nodes'][1]['parameters']['url'] = OLD + '?draft'
    fake.hooks[('GET', 'a')] = edit_once(unpublished_edit)
    hook_a = fake.hooks[('GET', 'a')]

    def keep_published(fake_, wid, body):
        published = fake_.store[wid]['activeVersionId']
        hook_a(fake_, wid, body)
        fake_.store[wid]['activeVersionId'] = published
    fake.hooks[('GET', 'a')] = keep_published
    fake.hooks[('GET', 'c')] = edit_once(lambda stored: stored['nodes'][1]['parameters'].update(url=NEW))
    before_a = copy.deepcopy(fake.store['a'])
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert not failed, result
    assert fake.store['a']['nodes'] == before_a['nodes'][:1] + [dict(before_a['nodes'][1], parameters=dict(
        before_a['nodes'][1]['parameters'], url=OLD + '?draft'))], 'the edit is not overwritten'
    assert [w['id'] for w in result['changed_workflows']] == ['b']
    outcome = dict((e['id'], (e['outcome'], e['reason'])) for e in result['changed_since_read'])
    assert outcome['a'][0] == 'skipped' and 'unpublished edits' in outcome['a'][1]
    assert outcome['c'][0] == 'skipped' and 'no longer needs a rewrite' in outcome['c'][1]
    assert [s['kind'] for s in result['skipped_items'] if s['id'] == 'a'] == ['unpublished_draft']
    assert [os.path.basename(p)[0] for p in result['backups']] == ['b'], 'nothing written, nothing backed up'
    assert [c['path'] for c in fake.calls if c['method'] == 'PUT'] == ['/api/v1/workflows/b']


def test_a_workflow_deleted_after_the_listing_is_reported_not_failed(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    fake.hooks[('GET', 'a')] = lambda fake_, wid, body: (404, {'message': 'Not Found'})
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    assert [w['id'] for w in result['changed_workflows']] == ['b']
    assert result['changed_since_read'][0]['id'] == 'a' and 'deleted' in result['changed_since_read'][0]['reason']


def test_a_failed_read_before_the_put_writes_nothing(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)))
    fake.hooks[('GET', 'a')] = lambda fake_, wid, body: (500, {'message': 'boom'})
    result, failed = run_module(n8n_workflow_urls, args(retries=0))
    assert failed and result['changed'] is False and fake.writes() == [] and result['backups'] == []
    assert result['failed_workflows'][0]['saved'] is False
    assert 'reading it again right before the write' in result['failed_workflows'][0]['error']


def test_pagination_uses_limit_250_and_follows_cursors(run_module, n8n, args):
    fake = n8n(*[wf('w%04d' % i, http(OLD if i % 10 == 0 else 'http://other/%d' % i)) for i in range(620)])
    result, failed = run_module(n8n_workflow_urls, args(parallel=8))
    assert not failed, result
    lists = [c for c in fake.calls if c['method'] == 'GET' and c['path'] == '/api/v1/workflows']
    assert len(lists) == 3
    assert all(c['query']['limit'] == ['250'] for c in lists)
    assert 'cursor' not in lists[0]['query'] and all('cursor' in c['query'] for c in lists[1:])
    assert result['api_calls'] == {'GET': 3 + 62, 'PUT': 62} and len(result['changed_workflows']) == 62
    assert result['workflows_in_scope'] == 620


def test_check_mode_only_reads(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD), active=True))
    before = copy.deepcopy(fake.store)
    result, failed = run_module(n8n_workflow_urls, args(), check=True)
    assert not failed and result['changed'] is True
    assert set(fake.methods()) == {'GET'} and result['api_calls'] == {'GET': 1}, 'no read per workflow'
    assert fake.store == before and result['changed_since_read'] == []
    assert not (tmp_path / 'backups').exists() and result['backups'] == []
    assert sorted(w['id'] for w in result['changed_workflows']) == ['a', 'b']


def test_diff_mode_per_node_before_after(run_module, n8n, args):
    n8n(wf('a', http(OLD), http(OLD + '/x', name='Second'), http('http://keep/', name='Keep')))
    result, failed = run_module(n8n_workflow_urls, args(), check=True, diff=True)
    assert not failed
    assert result['diff'] == [{
        'before_header': 'n8n workflow WF a (a)', 'after_header': 'n8n workflow WF a (a)',
        'before': {'Call LLM': {'parameters.url': OLD}, 'Second': {'parameters.url': OLD + '/x'}},
        'after': {'Call LLM': {'parameters.url': NEW}, 'Second': {'parameters.url': NEW + '/x'}}}]
    assert_no_secret(result)


def test_no_diff_key_without_diff_mode(run_module, n8n, args):
    n8n(wf('a', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args(), check=True)
    assert 'diff' not in result


def test_second_run_changes_nothing(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD), active=True))
    first, dummy = run_module(n8n_workflow_urls, args())
    assert first['changed'] is True
    fake.calls = []
    second, failed = run_module(n8n_workflow_urls, args())
    assert not failed and second['changed'] is False and second['changed_workflows'] == []
    assert fake.methods() == ['GET'] and second['backups'] == [] and 'backup_folder' not in second


def test_active_workflow_is_republished_and_confirmed(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD), active=True))
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    assert fake.methods() == ['GET', 'GET', 'PUT', 'GET']
    assert fake.store['a']['activeVersionId'] == fake.store['a']['versionId']
    assert fake.view('a')['activeVersion']['nodes'][1]['parameters']['url'] == NEW
    assert result['changed_workflows'][0]['active'] is True


def test_republish_failure_fails_the_task_clearly(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD), active=True), wf('b', http(OLD)))

    def activation_fails(fake_, wid, body):
        status, dummy = fake_.put(wid, body)          # n8n saves the draft ...
        fake_.store[wid]['activeVersionId'] = None     # ... and leaves it deactivated
        return 400, {'message': 'There was a problem activating the workflow: "Invalid cron expression"'}
    fake.hooks[('PUT', 'a')] = activation_fails
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert failed and result['changed'] is True
    assert [w['id'] for w in result['changed_workflows']] == ['b']
    failure = result['failed_workflows'][0]
    assert failure['id'] == 'a' and failure['saved'] is True
    assert failure['active_before'] is True and failure['active_after'] is False
    assert 'did not republish' in failure['error'] and 'Invalid cron expression' in failure['error']
    assert failure['backup'] in result['backups']
    assert 'could not be written' in result['msg'] and result['backup_folder'] in result['msg']
    assert fake.methods() == ['GET', 'GET', 'PUT', 'GET', 'GET', 'PUT']


def test_saved_but_silently_inactive_is_caught(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD), active=True))

    def silently_deactivates(fake_, wid, body):
        status, dummy = fake_.put(wid, body)
        fake_.store[wid]['activeVersionId'] = None
        return 200, fake_.view(wid)
    fake.hooks[('PUT', 'a')] = silently_deactivates
    result, failed = run_module(n8n_workflow_urls, args())
    assert failed and result['failed_workflows'][0]['active_after'] is False
    assert 'no longer active' in result['failed_workflows'][0]['error']


def test_read_back_failure_after_a_good_put_says_it_was_saved(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD), active=True))
    gets = []

    def read_back_fails(fake_, wid, body):
        gets.append(wid)
        return (500, {'message': 'boom'}) if len(gets) > 1 else None    # the read before the PUT works
    fake.hooks[('GET', 'a')] = read_back_fails
    result, failed = run_module(n8n_workflow_urls, args(retries=0))
    assert failed and result['changed'] is True
    failure = result['failed_workflows'][0]
    assert failure['saved'] is True and failure['active_after'] is None
    assert 'reading it back' in failure['error'] and 'HTTP 500 boom' in failure['error']


def test_global_failure_midway_leaves_the_rest_pending(run_module, n8n, args):
    fake = n8n(*[wf('w%d' % i, http(OLD)) for i in range(5)])
    fake.hooks[('PUT', 'w1')] = lambda fake_, wid, body: (401, {'message': 'Unauthorized'})
    result, failed = run_module(n8n_workflow_urls, args(parallel=1, retries=0))
    assert failed
    assert [w['id'] for w in result['changed_workflows']] == ['w0']
    assert [w['id'] for w in result['failed_workflows']] == ['w1']
    assert [w['id'] for w in result['pending_workflows']] == ['w2', 'w3', 'w4']
    assert len(result['backups']) == 2 and 'not attempted: 3' in result['msg'], 'only what was read is backed up'
    assert_no_secret(result)


def test_workflow_specific_error_does_not_stop_the_others(run_module, n8n, args):
    fake = n8n(*[wf('w%d' % i, http(OLD)) for i in range(3)])
    fake.hooks[('PUT', 'w0')] = lambda fake_, wid, body: (400, {'message': 'request/body/nodes/1 must be object'})
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert failed and [w['id'] for w in result['changed_workflows']] == ['w1', 'w2']
    assert result['failed_workflows'][0]['saved'] is False and result['pending_workflows'] == []


def test_retries_connection_reset_and_5xx(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)))
    state = {'list': 0, 'put': 0}

    def flaky_list(fake_, wid, body):
        state['list'] += 1
        return (503, {'message': 'starting'}) if state['list'] == 1 else None

    def reset_put(fake_, wid, body):
        state['put'] += 1
        return (-1, 'Connection failure: [Errno 104] Connection reset by peer') if state['put'] == 1 else None
    fake.hooks[('GET', 'list')] = flaky_list
    fake.hooks[('PUT', 'a')] = reset_put
    result, failed = run_module(n8n_workflow_urls, args(retries=2))
    assert not failed, result
    assert result['api_calls'] == {'GET': 3, 'PUT': 2} and urls(fake, 'a') == [NEW]


def test_unpublished_draft_is_skipped_unless_publish_drafts(run_module, n8n, args):
    draft = wf('a', http(OLD + '?edited'), activeVersionId='pub1', published_nodes=[TRIGGER, http(OLD)])
    fake = n8n(draft)
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed and result['changed'] is False and fake.methods() == ['GET']
    assert result['skipped_items'][-1]['kind'] == 'unpublished_draft' and result['skipped_items'][-1]['id'] == 'a'
    result, failed = run_module(n8n_workflow_urls, args(publish_drafts=True))
    assert not failed and result['changed'] is True
    assert fake.store['a']['activeVersionId'] == fake.store['a']['versionId']
    assert fake.view('a')['activeVersion']['nodes'][1]['parameters']['url'] == NEW + '?edited'


def test_draft_already_new_only_published_old_is_published(run_module, n8n, args):
    fake = n8n(wf('a', http(NEW), activeVersionId='pub1', published_nodes=[TRIGGER, http(OLD)]))
    result, failed = run_module(n8n_workflow_urls, args(publish_drafts=True))
    assert not failed, result
    assert fake.methods() == ['GET', 'GET', 'POST', 'GET'] and result['changed_workflows'][0]['action'] == 'publish'
    assert fake.view('a')['activeVersion']['nodes'][1]['parameters']['url'] == NEW


def test_archived_and_unsupported_node_keys_are_skipped(run_module, n8n, args):
    odd = http(OLD)
    odd['extendsCredential'] = 'openAiApi'
    fake = n8n(wf('a', http(OLD), isArchived=True), wf('b', odd), wf('c', http(OLD)))
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed
    kinds = dict((s['id'], s['kind']) for s in result['skipped_items'])
    assert kinds == {'a': 'archived', 'b': 'unsupported_node_keys'}
    assert [c['path'] for c in fake.writes()] == ['/api/v1/workflows/c']


def test_mentions_are_reported_with_workflow_and_node(run_module, n8n, args):
    code = {'id': 'n-code', 'name': 'Code', 'type': 'n8n-nodes-base.code', 'typeVersion': 2, 'position': [0, 0],
            'parameters': {'jsCode': "return fetch('%s')" % OLD}}
    n8n(wf('a', code), wf('b', http('={{ $json.target }}')))
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed and result['changed'] is False
    assert [(s['id'], s['name'], s['node'], s['kind']) for s in result['skipped_items']] == [
        ('a', 'WF a', 'Code', 'mention'), ('b', 'WF b', 'Call LLM', 'dynamic_url')]


@pytest.mark.parametrize('scope,expected', [
    ({'workflow_ids': ['b']}, ['b']),
    ({'names': ['WF c']}, ['c']),
    ({'tags': ['llm']}, ['a']),
    ({'tags': ['other', 'LLM']}, ['c']),
    ({'tags': ['llm', 'other']}, []),
    ({'active_only': True}, ['b']),
    ({'tags': ['llm'], 'names': ['WF a']}, ['a']),
])
def test_scope(run_module, n8n, args, scope, expected):
    fake = n8n(wf('a', http(OLD), tags=[{'id': 't1', 'name': 'llm'}]), wf('b', http(OLD), active=True),
               wf('c', http(OLD), tags=[{'id': 't2', 'name': 'other'}, {'id': 't3', 'name': 'LLM'}]))
    result, failed = run_module(n8n_workflow_urls, args(**scope))
    assert not failed, result
    assert sorted(w['id'] for w in result['changed_workflows']) == expected
    assert result['workflows_in_scope'] == len(expected)
    if scope.get('active_only'):
        assert fake.calls[0]['query']['active'] == ['true']


def test_unknown_workflow_id_fails_before_writing(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)))
    result, failed = run_module(n8n_workflow_urls, args(workflow_ids=['a', 'nope']))
    assert failed and 'nope' in result['msg'] and fake.methods() == ['GET']


@pytest.mark.parametrize('extra,words', [
    ({'rewrites': []}, 'at least one'),
    ({'rewrites': [{'from': OLD, 'to': 'llama-nginx/api'}]}, 'to must be an http:// or https:// URL'),
    ({'rewrites': [{'from': OLD, 'to': 'file:///etc/passwd'}]}, 'to must be an http:// or https:// URL'),
    ({'url': 'n8n.local'}, 'base URL of n8n'),
    ({'parallel': 0}, 'parallel'),
])
def test_bad_input_fails_before_any_call(run_module, n8n, args, extra, words):
    fake = n8n(wf('a', http(OLD)))
    result, failed = run_module(n8n_workflow_urls, args(**extra))
    assert failed and words in result['msg'] and fake.calls == []


def test_wrong_key_fails_clearly_and_writes_nothing(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), key='the-right-key')
    before = copy.deepcopy(fake.store)
    result, failed = run_module(n8n_workflow_urls, args())
    assert failed and 'refused the API key' in result['msg'] and 'HTTP 401' in result['msg']
    assert fake.methods() == ['GET'] and fake.store == before and result['status'] == 401
    assert_no_secret(result)


def test_unreachable_fails_clearly(run_module, n8n, args):
    fake = n8n()
    fake.hooks[('GET', 'list')] = lambda *a: (-1, 'Request failed: <urlopen error [Errno 111] Connection refused>')
    result, failed = run_module(n8n_workflow_urls, args(retries=2))
    assert failed and 'connection refused' in result['msg'] and URL in result['msg']
    assert result['api_calls'] == {'GET': 3} and result['changed'] is False
    assert_no_secret(result)


def test_unwritable_backup_dir_fails_before_any_put(run_module, n8n, args, tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    fake = n8n(wf('a', http(OLD)))
    result, failed = run_module(n8n_workflow_urls, args(backup_dir=str(blocker / 'sub')))
    assert failed and 'Cannot write the backups' in result['msg'] and fake.methods() == ['GET']


def test_write_backups_false(run_module, n8n, args, tmp_path):
    n8n(wf('a', http(OLD)))
    result, failed = run_module(n8n_workflow_urls, args(write_backups=False))
    assert not failed and result['backups'] == [] and not (tmp_path / 'backups').exists()


# ---------------------------------------------------------------------------------------------
# state: restored

def test_restore_puts_everything_back(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD), active=True), wf('c', http('http://keep/')),
               wf('d', http(OLD + '?d'), activeVersionId='pub-d', published_nodes=[TRIGGER, http(OLD)]))
    before = copy.deepcopy(fake.store)
    result, failed = run_module(n8n_workflow_urls, args(publish_drafts=True))
    assert not failed and len(result['changed_workflows']) == 3
    fake.calls = []
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'],
                                                          rewrites=None), diff=True)
    assert not failed, restored
    assert sorted(w['id'] for w in restored['changed_workflows']) == ['a', 'b', 'd']
    for wid in 'abcd':
        now = fake.store[wid]
        assert now['nodes'] == before[wid]['nodes'] and now['name'] == before[wid]['name']
        assert bool(now['activeVersionId']) == bool(before[wid]['activeVersionId'])
    # the draft and the published version of d are both back
    assert fake.store['d']['activeVersionId'] == 'pub-d'
    assert fake.view('d')['activeVersion']['nodes'][1]['parameters']['url'] == OLD
    assert dict((w['id'], w['action']) for w in restored['changed_workflows'])['d'] == 'deactivate,put,activate_version'
    assert len(restored['backups']) == 3, 'the state before the restore is saved too'
    assert {d['before_header'] for d in restored['diff']} == {'n8n workflow WF a (a)', 'n8n workflow WF b (b)',
                                                              'n8n workflow WF d (d)'}
    # and a second restore has nothing left to do
    again, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and again['changed'] is False


def test_restore_active_state(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD), active=True))
    folder = tmp_path / 'manual'
    folder.mkdir()
    for wid in 'ab':
        (folder / ('%s.json' % wid)).write_text(json.dumps(fake.view(wid, listing=True)))
    fake.store['a']['activeVersionId'] = fake.store['a']['versionId']   # someone published a
    fake.store['b']['activeVersionId'] = None                          # and unpublished b
    # hand-made backups have no journal: whether a workflow was edited since cannot be told without force
    result, failed = run_module(n8n_workflow_urls, args(state='restored', backup=str(folder)))
    assert not failed and result['changed'] is False and result['changed_workflows'] == [], result
    skipped = [(s['id'], s['kind']) for s in result['skipped_items']]
    assert skipped == [('a', 'no_journal_entry'), ('b', 'no_journal_entry')]
    assert all('force: true' in s['reason'] and s['backup'] in s['reason'] for s in result['skipped_items'])
    assert fake.writes() == []
    result, failed = run_module(n8n_workflow_urls, args(state='restored', backup=str(folder), force=True))
    assert not failed, result
    assert dict((w['id'], w['action']) for w in result['changed_workflows']) == {'a': 'deactivate', 'b': 'activate'}
    assert fake.store['a']['activeVersionId'] is None and fake.store['b']['activeVersionId']


def headers(*pairs):
    return {'sendHeaders': True, 'headerParameters': {'parameters': [{'name': n, 'value': v} for n, v in pairs]}}


def test_restore_diff_masks_secret_parameters(run_module, n8n, args, tmp_path):
    secret_headers = headers(('Authorization', 'Bearer sk-old-1'), ('X-Team', 'blue'))
    fake = n8n(wf('a', http(OLD + '?api_key=sk-query-0&model=llama3', **secret_headers)))
    folder = tmp_path / 'manual'
    folder.mkdir()
    (folder / 'a.json').write_text(json.dumps(fake.view('a', listing=True)))
    node = fake.store['a']['nodes'][1]['parameters']
    node['url'] = NEW + '?api_key=sk-query-9&model=llama3'
    node['headerParameters']['parameters'][0]['value'] = 'Bearer sk-new-2'
    node['headerParameters']['parameters'][1]['value'] = 'red'
    node['headerParameters']['parameters'].append({'name': 'X-N8N-API-KEY', 'value': 'n8n-added-3'})
    result, failed = run_module(n8n_workflow_urls, args(state='restored', backup=str(folder), force=True), check=True,
                                diff=True)
    assert not failed, result
    pairs = 'parameters.headerParameters.parameters'
    assert result['diff'] == [{
        'before_header': 'n8n workflow WF a (a)', 'after_header': 'n8n workflow WF a (a)',
        'before': {'Call LLM': {
            pairs + '[0].value': 'Bearer ********',
            pairs + '[1].value': 'red',
            pairs + '[2].name': 'X-N8N-API-KEY', pairs + '[2].value': '********',
            'parameters.url': NEW + '?api_key=********&model=llama3'}, 'active': False},
        'after': {'Call LLM': {
            pairs + '[0].value': 'Bearer ******** (secret changed)',
            pairs + '[1].value': 'blue',
            pairs + '[2].name': None, pairs + '[2].value': None,
            'parameters.url': OLD + '?api_key=********&model=llama3'}, 'active': False}}]
    shown = json.dumps(result)
    for secret in ('sk-query-0', 'sk-query-9', 'sk-old-1', 'sk-new-2', 'n8n-added-3'):
        assert secret not in shown


def test_present_diff_and_reasons_mask_secrets(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD + '?token=sk-query-1', **headers(('Authorization', 'Bearer sk-head-2'))),
                  http("={{ $json.base }}/api/generate?api_key=sk-dyn-3&host=llm.example.com", name='Dynamic')))
    result, failed = run_module(n8n_workflow_urls, args(), check=True, diff=True)
    assert not failed, result
    assert result['diff'][0]['before'] == {'Call LLM': {'parameters.url': OLD + '?token=********'}}
    assert result['diff'][0]['after'] == {'Call LLM': {'parameters.url': NEW + '?token=********'}}
    assert [s['kind'] for s in result['skipped_items']] == ['dynamic_url']
    assert 'api_key=********' in result['skipped_items'][0]['reason']
    shown = json.dumps(result)
    for secret in ('sk-query-1', 'sk-head-2', 'sk-dyn-3'):
        assert secret not in shown
    assert fake.writes() == []


def test_restore_check_mode_only_reads(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    fake.calls = []
    before = copy.deepcopy(fake.store)
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backups'][0]), check=True)
    assert not failed and restored['changed'] is True and set(fake.methods()) == {'GET'}
    assert fake.store == before and restored['backups'] == []


def test_restore_static_data_only_when_asked(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD), staticData={'lastId': 1}))
    result, dummy = run_module(n8n_workflow_urls, args())
    fake.store['a']['staticData'] = {'lastId': 7}
    fake.calls = []
    run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    put = [c for c in fake.calls if c['method'] == 'PUT'][0]
    assert 'staticData' not in put['body'] and fake.store['a']['staticData'] == {'lastId': 7}
    fake.store['a']['nodes'][1]['parameters']['url'] = NEW
    # the workflow no longer holds what the run left (the first restore put the old URL back): force it
    run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'], restore_static_data=True,
                                       force=True))
    assert fake.store['a']['staticData'] == {'lastId': 1}


def test_restore_missing_workflow_and_bad_backup(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    del fake.store['a']
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and restored['failed_workflows'] == [] and restored['changed'] is False
    skip = restored['skipped_items'][0]
    assert skip['kind'] == 'deleted' and 'no workflow a any more' in skip['reason']
    assert skip['backup'] == result['backups'][0] and result['backups'][0] in skip['reason']
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=str(tmp_path / 'nope')))
    assert failed and 'does not exist' in restored['msg']
    restored, failed = run_module(n8n_workflow_urls, args(state='restored'))
    assert failed and 'backup' in restored['msg']


def test_restore_skips_a_damaged_backup_file_with_a_warning(run_module, n8n, args):
    from ansible.module_utils.common import warnings as ansible_warnings
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    folder = result['backup_folder']
    damaged = [p for p in result['backups'] if os.path.basename(p).startswith('b-')][0]
    with open(damaged, 'w') as handle:
        handle.write('{"id": "b", "nodes": [')
    with open(os.path.join(folder, '.a-x.json.abc.tmp'), 'w') as handle:
        handle.write('{')
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=folder))
    assert not failed, restored
    assert [w['id'] for w in restored['changed_workflows']] == ['a']
    assert urls(fake, 'a') == [OLD] and urls(fake, 'b') == [NEW]
    shown = ansible_warnings.get_warning_messages()
    assert any(damaged in w and 'ignored' in w for w in shown)
    assert any('.a-x.json.abc.tmp' in w and 'interrupted' in w for w in shown)


# ---------------------------------------------------------------------------------------------
# the run's journal

def test_the_journal_holds_the_versions_before_and_after_each_write(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), wf('b', http('http://keep/')))
    before = fake.store['a']['versionId']
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    assert result['journal'] == os.path.join(result['backup_folder'], 'journal.json')
    assert stat.S_IMODE(os.stat(result['journal']).st_mode) == 0o600
    with open(result['journal']) as handle:
        journal = json.load(handle)
    assert journal == {'version': 1, 'workflows': {'a': {
        'id': 'a', 'name': 'WF a', 'outcome': 'written', 'version_before': before, 'version_after': fake.store['a']['versionId'],
        'content_after': content_fingerprint(fake.store['a']), 'backup': result['backups'][0]}}}
    assert before != fake.store['a']['versionId']


def test_restore_leaves_a_workflow_edited_since_the_run_unless_forced(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    edited = copy.deepcopy(fake.store['a']['nodes'])
    edited[1]['parameters']['url'] = NEW + '?edited'
    fake.put('a', {'name': 'WF a', 'nodes': edited, 'connections': {}, 'settings': {}})   # someone edits a in n8n
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed, restored
    assert [w['id'] for w in restored['changed_workflows']] == ['b'] and urls(fake, 'b') == [OLD]
    assert urls(fake, 'a') == [NEW + '?edited'], 'the later edit is not overwritten'
    skip = [s for s in restored['skipped_items'] if s['id'] == 'a'][0]
    assert skip['kind'] == 'changed_since_run' and 'force: true' in skip['reason']
    assert skip['backup'] in result['backups'] and skip['backup'] in skip['reason']
    forced, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'], force=True))
    assert not failed and [w['id'] for w in forced['changed_workflows']] == ['a'] and urls(fake, 'a') == [OLD]


def test_restore_refuses_a_damaged_journal_unless_forced(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    with open(result['journal'], 'w') as handle:
        handle.write('{"version": 1, "workf')
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert failed and 'cannot read the journal' in restored['msg'] and 'force: true' in restored['msg']
    assert fake.writes()[-1]['method'] == 'PUT' and len(fake.writes()) == 1
    forced, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'], force=True))
    assert not failed and urls(fake, 'a') == [OLD]


def test_runs_undone_newest_first_see_through_the_versions_their_restores_wrote(run_module, n8n, args, tmp_path):
    # phase 1 moves OLD to NEW, phase 2 moves NEW on; the rollback restores phase 2's run, then phase 1's,
    # with one backup_dir for the restores (as the n8n_routing role does)
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    later = 'http://llama-litellm:4000/v1/chat/completions'
    first, dummy = run_module(n8n_workflow_urls, args(backup_dir=str(tmp_path / 'phase1')))
    second, dummy = run_module(n8n_workflow_urls, args(backup_dir=str(tmp_path / 'phase2'),
                                                       rewrites=[{'from': NEW, 'to': later}]))
    assert urls(fake, 'a') == urls(fake, 'b') == [later]
    rollback = dict(backup_dir=str(tmp_path / 'rollback'), state='restored')
    undone, failed = run_module(n8n_workflow_urls, args(backup=second['backup_folder'], **rollback))
    assert not failed and sorted(w['id'] for w in undone['changed_workflows']) == ['a', 'b']
    with open(undone['journal']) as handle:
        entry = json.load(handle)['workflows']['a']
    assert entry['version_after'] != first_journal(first, 'a')['version_after'], 'a restore gets a new versionId'
    assert entry['content_after'] == first_journal(first, 'a')['content_after'], '... for what phase 1 left'
    undone, failed = run_module(n8n_workflow_urls, args(backup=first['backup_folder'], **rollback))
    assert not failed and sorted(w['id'] for w in undone['changed_workflows']) == ['a', 'b'], undone['skipped_items']
    assert urls(fake, 'a') == urls(fake, 'b') == [OLD]


def test_an_edit_between_two_runs_is_kept_when_both_are_undone(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)))
    later = 'http://llama-litellm:4000/v1/chat/completions'
    first, dummy = run_module(n8n_workflow_urls, args(backup_dir=str(tmp_path / 'phase1')))
    edited = copy.deepcopy(fake.store['a']['nodes'])
    edited[1]['parameters']['url'] = NEW + '?edited'
    fake.put('a', {'name': 'WF a', 'nodes': edited, 'connections': {}, 'settings': {}})   # edited after phase 1
    second, dummy = run_module(n8n_workflow_urls, args(backup_dir=str(tmp_path / 'phase2'),
                                                       rewrites=[{'from': NEW, 'to': later}]))
    rollback = dict(backup_dir=str(tmp_path / 'rollback'), state='restored')
    run_module(n8n_workflow_urls, args(backup=second['backup_folder'], **rollback))
    assert urls(fake, 'a') == [NEW + '?edited']
    undone, failed = run_module(n8n_workflow_urls, args(backup=first['backup_folder'], **rollback))
    assert not failed and undone['changed_workflows'] == []
    assert [s['kind'] for s in undone['skipped_items']] == ['changed_since_run']
    assert urls(fake, 'a') == [NEW + '?edited'], 'the edit made between the runs is kept'


def first_journal(result, wid):
    with open(result['journal']) as handle:
        return json.load(handle)['workflows'][wid]


def test_a_rename_after_the_run_counts_as_an_edit_though_n8n_keeps_the_versionid(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    version = fake.store['a']['versionId']
    fake.put('a', {'name': 'WF a, renamed', 'nodes': fake.store['a']['nodes'], 'connections': {}, 'settings': {}})
    assert fake.store['a']['versionId'] == version
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and restored['changed_workflows'] == [] and fake.store['a']['name'] == 'WF a, renamed'
    assert [s['kind'] for s in restored['skipped_items']] == ['changed_since_run']
