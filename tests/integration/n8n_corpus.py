"""A corpus of varied n8n workflows for the n8n_workflow_urls integration tests.

Everything is created through the public API of a real n8n (the harness's), except what only
the editor can make: an unpublished draft of an active workflow, settings the public API does not
take (binaryMode, timeSavedMode), and nodes with keys the public API rejects. Those go through
the internal REST API with one owner login per test session (n8n allows 5 logins a minute).

Each test run's workflows carry a unique name prefix and tag, so runs never collide, and
everything created is deleted at the end.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import time
import urllib.error
import urllib.request
import uuid

OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'
OLD_HOST = 'https://llm.example.com'

# Server-managed fields that a write changes by itself; everything else must stay as it was.
VOLATILE = ('updatedAt', 'versionId', 'activeVersionId', 'versionCounter', 'triggerCount', 'activeVersion')
VOLATILE_VERSION = ('versionId', 'createdAt', 'updatedAt', 'authors', 'name', 'description', 'autosaved',
                    'workflowPublishHistory')

# 127.0.0.1 only: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ApiFailure(AssertionError):
    pass


class N8nApi(object):
    """A tiny client for the public API (key) and the internal REST API (owner cookie)."""

    def __init__(self, url, api_key, email=None, password=None):
        self.url = url.rstrip('/')
        self.api_key = api_key
        self.email = email
        self.password = password
        self._cookie = None

    def raw(self, method, path, body=None, key=True, cookie=None, timeout=60):
        headers = {'Accept': 'application/json'}
        if key:
            headers['X-N8N-API-KEY'] = self.api_key
        if cookie:
            headers['Cookie'] = cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            resp = _OPENER.open(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            resp = exc
        with resp:
            raw = resp.read()
            status, resp_headers = resp.status, resp.headers
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return status, parsed, resp_headers

    def call(self, method, path, body=None, ok=(200, 201), retries_on_409=5):
        for attempt in range(retries_on_409 + 1):
            status, parsed, dummy = self.raw(method, '/api/v1' + path, body)
            if status == 409 and attempt < retries_on_409:
                time.sleep(0.5)
                continue
            if status not in ok:
                raise ApiFailure('%s /api/v1%s -> HTTP %s %r' % (method, path, status, parsed))
            return parsed
        raise ApiFailure('unreachable')

    # internal REST (editor) calls ---------------------------------------------------------------
    def cookie(self):
        if self._cookie:
            return self._cookie
        deadline = time.monotonic() + 90
        while True:
            status, parsed, headers = self.raw('POST', '/rest/login', {'emailOrLdapLoginId': self.email,
                                                                       'password': self.password}, key=False)
            if status == 200:
                for value in headers.get_all('Set-Cookie') or []:
                    found = re.match(r'\s*(n8n-auth=[^;]*)', value)
                    if found:
                        self._cookie = found.group(1)
                        return self._cookie
                raise ApiFailure('login answered 200 without the n8n-auth cookie')
            if status == 429 and time.monotonic() < deadline:
                time.sleep(min(max(int(headers.get('Retry-After') or 10), 1), 30))
                continue
            raise ApiFailure('POST /rest/login -> HTTP %s %r' % (status, parsed))

    def rest_patch(self, workflow_id, changes):
        """An editor-style save (PATCH /rest/workflows/{id} with the current versionId): no publishing."""
        status, parsed, dummy = self.raw('GET', '/rest/workflows/%s' % workflow_id, key=False, cookie=self.cookie())
        if status != 200:
            raise ApiFailure('GET /rest/workflows/%s -> HTTP %s %r' % (workflow_id, status, parsed))
        current = parsed['data']
        body = dict(changes, versionId=current['versionId'])
        status, parsed, dummy = self.raw('PATCH', '/rest/workflows/%s' % workflow_id, body, key=False,
                                         cookie=self.cookie())
        if status != 200:
            raise ApiFailure('PATCH /rest/workflows/%s -> HTTP %s %r' % (workflow_id, status, parsed))
        return parsed['data']

    # public API helpers -------------------------------------------------------------------------
    def get(self, workflow_id):
        return self.call('GET', '/workflows/%s' % workflow_id)

    def snapshot(self, ids):
        return dict((wid, self.get(wid)) for wid in ids)


# ---------------------------------------------------------------------------------------------
# node builders

def node(name, node_type, version, parameters, **extra):
    out = {'id': str(uuid.uuid4()), 'name': name, 'type': node_type, 'typeVersion': version,
           'position': [0, 0], 'parameters': parameters}
    out.update(extra)
    return out


def manual():
    return node('Start', 'n8n-nodes-base.manualTrigger', 1, {})


def webhook(path):
    return node('Hook', 'n8n-nodes-base.webhook', 2, {'path': path, 'httpMethod': 'POST'}, webhookId=str(uuid.uuid4()))


def schedule():
    return node('Every day', 'n8n-nodes-base.scheduleTrigger', 1.2,
                {'rule': {'interval': [{'field': 'hours', 'hoursInterval': 24}]}})


def http(name, url, version=4.2, **parameters):
    parameters = dict(parameters)
    parameters['url'] = url
    return node(name, 'n8n-nodes-base.httpRequest', version, parameters)


def chain(*nodes):
    connections = {}
    for left, right in zip(nodes, nodes[1:]):
        connections[left['name']] = {'main': [[{'node': right['name'], 'type': 'main', 'index': 0}]]}
    return list(nodes), connections


class Item(object):
    """One corpus workflow and what the module must do with it."""

    def __init__(self, key, nodes, connections=None, rewrites=None, skips=(), active=False, archived=False,
                 draft=None, tags=False, settings=None, static_data=None, pin_data=None, patch=None):
        self.key = key
        self.nodes = nodes
        self.connections = connections or {}
        self.rewrites = dict(rewrites or {})     # node name -> URL expected after the run
        self.skips = set(skips)                  # skipped kinds expected for this workflow
        self.active = active
        self.archived = archived
        self.draft = draft                       # callable(nodes) -> draft nodes (saved, not published)
        self.tags = tags
        self.settings = settings or {'executionOrder': 'v1'}
        self.static_data = static_data
        self.pin_data = pin_data
        self.patch = patch                       # internal-REST changes after creation
        self.id = None
        self.name = None

    @property
    def changes(self):
        return bool(self.rewrites)


def corpus_items(prefix):
    """The corpus (38 workflows). ``prefix`` makes webhook paths unique too."""
    items = []

    def hook(key):
        return webhook('%s-%s' % (prefix, key))

    def add(key, nodes_and_connections, **kwargs):
        nodes, connections = nodes_and_connections
        items.append(Item(key, nodes, connections, **kwargs))

    # HTTP Request node versions and body shapes
    add('v1-json-body', chain(manual(), http('LLM v1', OLD, version=1, requestMethod='POST', jsonParameters=True,
                                             bodyParametersJson='{"model": "llama3", "prompt": "hi", "stream": false}',
                                             options={})), rewrites={'LLM v1': NEW})
    add('v1-query-ui', chain(manual(), http('LLM v1 query', OLD + '?keep_alive=5m', version=1,
                                            queryParametersUi={'parameter': [{'name': 'model', 'value': 'llama3'}]})),
        rewrites={'LLM v1 query': NEW + '?keep_alive=5m'})
    add('v2', chain(manual(), http('LLM v2', OLD, version=2, requestMethod='POST', jsonParameters=True,
                                   bodyParametersJson={'model': 'llama3', 'prompt': 'x'})), rewrites={'LLM v2': NEW})
    add('v3-json', chain(manual(), http('LLM v3', OLD, version=3, method='POST', sendBody=True, specifyBody='json',
                                        jsonBody='{"model": "llama3", "prompt": "{{ $json.q }}"}')),
        rewrites={'LLM v3': NEW})
    add('v4.1-keypair', chain(manual(), http('LLM v4.1', OLD, version=4.1, method='POST', sendBody=True,
                                             specifyBody='keypair',
                                             bodyParameters={'parameters': [{'name': 'model', 'value': 'llama3'}]})),
        rewrites={'LLM v4.1': NEW})
    add('v4.2-headers-query', chain(manual(), http(
        'LLM v4.2', OLD, version=4.2, method='POST', sendHeaders=True,
        headerParameters={'parameters': [{'name': 'X-Trace', 'value': 'abc'}]}, sendQuery=True,
        queryParameters={'parameters': [{'name': 'q', 'value': '1'}]}, sendBody=True, specifyBody='json',
        jsonBody='={{ JSON.stringify({model: "llama3", prompt: $json.text}) }}', options={'timeout': 120000})),
        rewrites={'LLM v4.2': NEW})
    add('v4.4-default', chain(manual(), http('LLM v4.4', OLD + '/', version=4.4)), rewrites={'LLM v4.4': NEW + '/'})
    add('upper-case-host', chain(manual(), http('Upper', 'HTTPS://LLM.EXAMPLE.COM/api/generate?x=1', version=4.2)),
        rewrites={'Upper': NEW + '?x=1'})
    add('disabled-node', chain(manual(), dict(http('Off', OLD), disabled=True, notes='kept as is')),
        rewrites={'Off': NEW})
    add('two-of-three', chain(manual(), http('A', OLD), http('B', 'https://api.other.example/v1'),
                              http('C', OLD + '#frag', version=3)), rewrites={'A': NEW, 'C': NEW + '#frag'})
    # tool variants
    add('http-tool', chain(manual(), node('LLM tool', 'n8n-nodes-base.httpRequestTool', 4.2,
                                          {'url': OLD, 'method': 'POST', 'toolDescription': 'Ask the LLM'})),
        rewrites={'LLM tool': NEW})
    add('langchain-tool', chain(manual(), node('LC tool', '@n8n/n8n-nodes-langchain.toolHttpRequest', 1.1,
                                               {'url': OLD, 'method': 'POST', 'sendBody': True,
                                                'toolDescription': 'LLM'})),
        rewrites={'LC tool': NEW})
    # expressions
    add('expr-literal', chain(manual(), http('Expr', "={{ '%s' }}" % OLD)), rewrites={'Expr': "={{ '%s' }}" % NEW})
    add('expr-template', chain(manual(), http('Tmpl', '=%s?model={{ $json.model }}' % OLD)),
        rewrites={'Tmpl': '=%s?model={{ $json.model }}' % NEW})
    add('expr-ternary', chain(manual(), http('Ternary', "={{ $json.big ? '%s' : 'http://small.local/x' }}" % OLD)),
        rewrites={'Ternary': "={{ $json.big ? '%s' : 'http://small.local/x' }}" % NEW})
    add('expr-dynamic', chain(manual(), http('Dynamic', '={{ $json.endpoint }}')), skips={'dynamic_url'})
    add('expr-parts', chain(manual(), http('Parts', "={{ '%s' + '/api/generate' }}" % OLD_HOST)), skips={'expression'})
    add('expr-runs-on', chain(manual(), http('Runs on', '=%s{{ $json.suffix }}' % OLD)), skips={'expression'})
    # near misses that must stay
    add('near-misses', chain(manual(), http('Evil', 'https://llm.example.com.evil/api/generate'),
                             http('Longer', OLD + 'x'), http('Other path', OLD_HOST + '/api/tags'),
                             http('Inside', 'http://proxy.local/?u=' + OLD)), skips={'not_rewritable'})
    # other places that mention the old URL: reported, not rewritten
    add('code-only', chain(manual(), node('Code', 'n8n-nodes-base.code', 2,
                                          {'jsCode': "const r = await fetch('%s');\nreturn [];" % OLD})),
        skips={'mention'})
    add('sticky-only', ([manual(), node('Note', 'n8n-nodes-base.stickyNote', 1,
                                        {'content': 'LLM runs at %s.' % OLD, 'height': 200, 'width': 300})], {}),
        skips={'mention'})
    add('body-and-url', chain(manual(), http('Echo', OLD, method='POST', sendBody=True, specifyBody='json',
                                             jsonBody='{"callback": "%s"}' % OLD)),
        rewrites={'Echo': NEW}, skips={'mention'})
    add('pagination-next', chain(manual(), http('Paged', 'https://api.other.example/items', options={
        'pagination': {'pagination': {'nextURL': OLD + '?page={{ $response.body.next }}'}}})), skips={'mention'})
    add('node-notes', chain(manual(), dict(http('Noted', 'https://api.other.example/'), notes='old: ' + OLD)),
        skips={'mention'})
    # credentials on nodes
    authed = http('Authed', OLD, authentication='genericCredentialType', genericAuthType='httpHeaderAuth')
    authed['credentials'] = {'httpHeaderAuth': '__HEADER_CREDENTIAL__'}
    add('header-credential', chain(manual(), authed), rewrites={'Authed': NEW})
    add('ollama-credential', ([manual(), node('Ollama model', '@n8n/n8n-nodes-langchain.lmChatOllama', 1,
                                              {'model': 'llama3:latest', 'options': {}},
                                              credentials={'ollamaApi': '__OLLAMA_CREDENTIAL__'})], {}),
        skips={'credential'})
    # active, inactive, archived, drafts
    add('active-webhook', chain(hook('a1'), http('LLM', OLD, method='POST')), rewrites={'LLM': NEW}, active=True)
    add('active-schedule', chain(schedule(), http('LLM', OLD)), rewrites={'LLM': NEW}, active=True)
    add('active-untouched', chain(hook('a3'), http('Other', 'https://api.other.example/')), active=True)
    add('active-tool-and-expr', chain(hook('a4'), http('Expr', '=%s?m={{ $json.m }}' % OLD),
                                      node('Tool', 'n8n-nodes-base.httpRequestTool', 4.2, {'url': OLD})),
        rewrites={'Expr': '=%s?m={{ $json.m }}' % NEW, 'Tool': NEW}, active=True)
    add('active-draft', chain(hook('a5'), http('LLM', OLD)), active=True, skips={'unpublished_draft'},
        draft=lambda nodes: [dict(n, parameters=dict(n['parameters'], url=OLD + '?draft=1'))
                             if n['name'] == 'LLM' else n for n in nodes])
    add('archived', chain(manual(), http('LLM', OLD)), archived=True, skips={'archived'})
    add('inactive-untouched', chain(manual(), http('Other', 'https://api.other.example/v2')))
    # data the PUT must keep
    add('tagged', chain(manual(), http('LLM', OLD)), rewrites={'LLM': NEW}, tags=True)
    add('pin-data', chain(manual(), http('LLM', OLD)), rewrites={'LLM': NEW},
        pin_data={'LLM': [{'json': {'response': 'pinned'}}]})
    add('static-data', chain(manual(), http('LLM', OLD)), rewrites={'LLM': NEW}, static_data={'lastId': 42})
    add('odd-settings', chain(manual(), http('LLM', OLD)), rewrites={'LLM': NEW},
        settings={'executionOrder': 'v1', 'timezone': 'Europe/Berlin', 'saveManualExecutions': False},
        patch={'settings': {'executionOrder': 'v1', 'timezone': 'Europe/Berlin', 'saveManualExecutions': False,
                            'binaryMode': 'separate', 'timeSavedMode': 'fixed', 'timeSavedPerExecution': 3}})
    add('unsupported-keys', chain(manual(), http('LLM', OLD)), skips={'unsupported_node_keys'},
        patch={'node_extra': {'LLM': {'extendsCredential': 'openAiApi', 'rewireOutputLogTo': 'ai_tool'}}})
    return items


class Corpus(object):
    """Creates the corpus in n8n, and removes everything it created."""

    def __init__(self, api, prefix):
        self.api = api
        self.prefix = prefix
        self.tag = prefix + '-llm'
        self.items = corpus_items(prefix)
        self.created = []
        self.credentials = []
        self.tag_ids = []

    @property
    def ids(self):
        return [item.id for item in self.items]

    def by_key(self, key):
        return [item for item in self.items if item.key == key][0]

    def build(self):
        api = self.api
        header = api.call('POST', '/credentials', {'name': self.prefix + ' header', 'type': 'httpHeaderAuth',
                                                   'data': {'name': 'Authorization', 'value': 'Bearer not-a-secret'}})
        ollama = api.call('POST', '/credentials', {'name': self.prefix + ' ollama', 'type': 'ollamaApi',
                                                   'data': {'baseUrl': OLD_HOST}})
        self.credentials = [header['id'], ollama['id']]
        refs = {'__HEADER_CREDENTIAL__': {'id': header['id'], 'name': header['name']},
                '__OLLAMA_CREDENTIAL__': {'id': ollama['id'], 'name': ollama['name']}}
        tag = api.call('POST', '/tags', {'name': self.tag})
        self.tag_ids.append(tag['id'])
        for item in self.items:
            nodes = copy.deepcopy(item.nodes)
            for entry in nodes:
                for cred_type, ref in list((entry.get('credentials') or {}).items()):
                    entry['credentials'][cred_type] = refs.get(ref, ref)
            item.nodes = nodes
            item.name = '%s %s' % (self.prefix, item.key)
            body = {'name': item.name, 'nodes': nodes, 'connections': item.connections, 'settings': item.settings}
            if item.static_data is not None:
                body['staticData'] = item.static_data
            if item.pin_data is not None:
                body['pinData'] = item.pin_data
            created = api.call('POST', '/workflows', body)
            item.id = created['id']
            self.created.append(item.id)
            if item.tags:
                api.call('PUT', '/workflows/%s/tags' % item.id, [{'id': tag['id']}])
            if item.patch and 'settings' in item.patch:
                api.rest_patch(item.id, {'settings': item.patch['settings']})
            if item.patch and 'node_extra' in item.patch:
                current = api.get(item.id)
                for entry in current['nodes']:
                    entry.update(item.patch['node_extra'].get(entry['name'], {}))
                api.rest_patch(item.id, {'nodes': current['nodes'], 'connections': current['connections']})
            if item.active:
                api.call('POST', '/workflows/%s/activate' % item.id)
            if item.draft:
                current = api.get(item.id)
                api.rest_patch(item.id, {'nodes': item.draft(current['nodes']), 'connections': current['connections']})
            if item.archived:
                api.call('POST', '/workflows/%s/archive' % item.id)
        self.check_built()
        return self

    def check_built(self):
        """The corpus is what the tests assume (drafts, archived, active, odd keys, settings)."""
        snap = self.api.snapshot(self.ids)
        for item in self.items:
            wf = snap[item.id]
            assert bool(wf['isArchived']) == item.archived, item.key
            assert bool(wf['activeVersionId']) == (item.active and not item.archived), item.key
            if item.draft:
                assert wf['versionId'] != wf['activeVersionId'], item.key
            if item.patch and 'settings' in item.patch:
                assert wf['settings'].get('binaryMode') == 'separate', wf['settings']
            if item.patch and 'node_extra' in item.patch:
                assert any('extendsCredential' in n for n in wf['nodes']), item.key

    def cleanup(self):
        errors = []
        for wid in self.created:
            try:
                self._remove(wid)
            except (ApiFailure, OSError) as exc:
                time.sleep(2)       # n8n restarting? one more try
                try:
                    self._remove(wid)
                except (ApiFailure, OSError) as exc2:
                    errors.append('%s / %s' % (exc, exc2))
        for cid in self.credentials:
            try:
                self.api.call('DELETE', '/credentials/%s' % cid)
            except (ApiFailure, OSError) as exc:
                errors.append(str(exc))
        for tid in self.tag_ids:
            try:
                self.api.call('DELETE', '/tags/%s' % tid)
            except (ApiFailure, OSError) as exc:
                errors.append(str(exc))
        return errors

    def _remove(self, wid):
        status, dummy, dummy2 = self.api.raw('GET', '/api/v1/workflows/%s' % wid)
        if status == 404:
            return
        self.api.call('POST', '/workflows/%s/deactivate' % wid)
        self.api.call('DELETE', '/workflows/%s' % wid)


# ---------------------------------------------------------------------------------------------
# comparisons

@contextlib.contextmanager
def live_corpus(corpus_class, api, prefix):
    """Create a corpus in the live n8n under a unique name prefix, record its before-state,
    and remove it afterwards (whatever the tests did)."""
    built = corpus_class(api, '%s-%s' % (prefix, uuid.uuid4().hex[:8]))
    try:
        built.build()
        built.before = api.snapshot(built.ids)
        built.state = {}
        yield built
    finally:
        errors = built.cleanup()
        assert not errors, errors


def normalize(workflow):
    """A workflow without the fields n8n changes by itself on a write (versions, timestamps)."""
    out = copy.deepcopy(workflow)
    for key in VOLATILE:
        out.pop(key, None)
    # The sharing (owner project) is not written by the module; n8n's GET includes the project
    # object only sometimes, so only who shares it in which role is compared.
    out['shared'] = sorted((entry.get('projectId'), entry.get('role')) for entry in out.get('shared') or [])
    return out


def published_nodes(workflow):
    version = workflow.get('activeVersion')
    return version.get('nodes') if isinstance(version, dict) else None


def expected_after(item, before):
    """``before`` with exactly the targeted URLs rewritten."""
    out = normalize(before)
    for entry in out['nodes']:
        if entry['name'] in item.rewrites:
            entry['parameters']['url'] = item.rewrites[entry['name']]
    return out


def differences(left, right, path=''):
    """Readable paths where two JSON values differ (for assertion messages)."""
    found = []
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            found.extend(differences(left.get(key, '<missing>'), right.get(key, '<missing>'), '%s.%s' % (path, key)))
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right)):
            found.extend(differences(a, b, '%s[%d]' % (path, index)))
    elif left != right:
        found.append('%s: %r != %r' % (path or '.', left, right))
    return found
