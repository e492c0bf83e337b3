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
import time
import uuid

import pytest

from n8n_client import N8nError

OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'
OLD_HOST = 'https://llm.example.com'

# Server-managed fields that a write changes by itself; everything else must stay as it was.
VOLATILE = ('updatedAt', 'versionId', 'activeVersionId', 'versionCounter', 'triggerCount', 'activeVersion')
VOLATILE_VERSION = ('versionId', 'createdAt', 'updatedAt', 'authors', 'name', 'description', 'autosaved',
                    'workflowPublishHistory')


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
    """One corpus workflow and what the module must do with it. URL moves: ``rewrites`` maps node name ->
    URL expected after the run, ``skips`` the skipped kinds expected. Conversions: ``convert`` maps node
    name -> the exact parameters expected after the run (the node also gets the credential); ``reads``
    maps node name -> the exact parameters of a node that reads the answer; ``refused`` lists
    (node name, reason) left alone, ``notes`` node name -> the notes expected."""

    def __init__(self, key, nodes_and_connections, rewrites=None, skips=(), convert=None, reads=None, refused=(),
                 notes=None, active=False, archived=False, draft=None, tags=False, settings=None, static_data=None,
                 pin_data=None, patch=None):
        self.key = key
        self.nodes, connections = nodes_and_connections
        self.connections = connections or {}
        self.rewrites = dict(rewrites or {})     # node name -> URL expected after the run
        self.skips = set(skips)                  # skipped kinds expected for this workflow
        self.convert = convert or {}
        self.reads = reads or {}
        self.refused = list(refused)
        self.notes = notes or {}
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
        return bool(self.rewrites or self.convert)


def corpus_items(prefix):
    """The corpus (38 workflows). ``prefix`` makes webhook paths unique too."""
    items = []

    def hook(key):
        return webhook('%s-%s' % (prefix, key))

    def add(key, nodes_and_connections, **kwargs):
        items.append(Item(key, nodes_and_connections, **kwargs))

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


def n8n_release(api):
    """(major, minor, patch) of the n8n behind ``api``, from its settings as the owner sees them."""
    text = api.rest('GET', '/settings')['data']['versionCli']
    return tuple(int(part) for part in text.split('.')[:3])


class Corpus(object):
    """Creates a corpus in n8n, and removes everything it created.

    The items come from ``make_items(prefix)``; a node's credential given as one of the placeholders of
    ``credential_specs`` (placeholder -> (name after the prefix, type, data)) is created first and referred
    to instead. With ``credential_suffix``, the credential ``<prefix> <suffix>`` (made by the module under
    test) is deleted at the end too. A tag ``<prefix>-llm`` is created when an item wants it.
    """

    make_items = staticmethod(corpus_items)
    credential_specs = {
        '__HEADER_CREDENTIAL__': ('header', 'httpHeaderAuth', {'name': 'Authorization', 'value': 'Bearer not-a-secret'}),
        '__OLLAMA_CREDENTIAL__': ('ollama', 'ollamaApi', {'baseUrl': OLD_HOST}),
    }
    credential_suffix = None

    def __init__(self, api, prefix):
        self.api = api
        self.prefix = prefix
        self.tag = prefix + '-llm'
        self.credential_name = '%s %s' % (prefix, self.credential_suffix) if self.credential_suffix else None
        self.items = self.make_items(prefix)
        self.created = []
        self.credentials = []
        self.tag_ids = []
        self.left_out = {}
        self.kinds_left_out = set()
        self.release = None

    @property
    def ids(self):
        return [item.id for item in self.items]

    def by_key(self, key):
        if key in self.left_out:
            pytest.skip(self.left_out[key])
        return [item for item in self.items if item.key == key][0]

    def leave_out_what_this_release_cannot_hold(self):
        """n8n 1.x has no archive call and no draft apart from the published version: its corpus leaves those
        items out, and a test that needs one of them is skipped, saying why."""
        self.release = n8n_release(self.api)
        if self.release[0] >= 2:
            return
        for item in list(self.items):
            if item.draft or item.archived:
                self.items.remove(item)
                self.kinds_left_out.update(item.skips)
                missing = 'draft apart from the published version' if item.draft else 'archive call'
                self.left_out[item.key] = 'n8n %s has no %s' % ('.'.join(map(str, self.release)), missing)

    def create(self, name, nodes, connections, active=False, settings=None, **extra):
        """POST one workflow (``extra``: more body keys), activated when ``active``; returns its id."""
        body = dict(extra, name=name, nodes=nodes, connections=connections,
                    settings=settings or {'executionOrder': 'v1'})
        # n8n 1.x's public API takes no pinData: the editor's save sets it there.
        pin_data = body.pop('pinData', None) if self.release and self.release < (2, 0) else None
        created = self.api.call('POST', '/workflows', body)
        self.created.append(created['id'])
        if pin_data is not None:
            self.api.rest_patch(created['id'], {'pinData': pin_data})
        if active:
            self.api.call('POST', '/workflows/%s/activate' % created['id'])
        return created['id']

    def build(self):
        api = self.api
        self.leave_out_what_this_release_cannot_hold()
        refs = {}
        for placeholder, (name, cred_type, data) in self.credential_specs.items():
            made = api.call('POST', '/credentials', {'name': '%s %s' % (self.prefix, name), 'type': cred_type,
                                                     'data': data})
            self.credentials.append(made['id'])
            refs[placeholder] = {'id': made['id'], 'name': made['name']}
        tag = None
        if any(item.tags for item in self.items):
            tag = api.call('POST', '/tags', {'name': self.tag})
            self.tag_ids.append(tag['id'])
        for item in self.items:
            nodes = copy.deepcopy(item.nodes)
            for entry in nodes:
                for cred_type, ref in list((entry.get('credentials') or {}).items()):
                    if isinstance(ref, str):
                        entry['credentials'][cred_type] = refs.get(ref, ref)
            item.nodes = nodes
            item.name = '%s %s' % (self.prefix, item.key)
            extra = {}
            if item.static_data is not None:
                extra['staticData'] = item.static_data
            if item.pin_data is not None:
                extra['pinData'] = item.pin_data
            item.id = self.create(item.name, nodes, item.connections, settings=item.settings, **extra)
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

    def our_credentials(self):
        """The credentials named ``credential_name`` (made by the module under test)."""
        if not self.credential_name:
            return []
        return [c for c in self.api.call('GET', '/credentials?limit=250')['data'] if c['name'] == self.credential_name]

    def cleanup(self):
        """Delete every workflow, credential and tag created; returns the errors. A workflow is tried up to
        10 times, 0.5 s apart (n8n restarting?); one already gone counts as deleted."""
        errors = []
        for wid in self.created:
            last = None
            for dummy in range(10):
                try:
                    if self.api.request('GET', '/api/v1/workflows/%s' % wid).status == 404:
                        break
                    self.api.request('POST', '/api/v1/workflows/%s/deactivate' % wid)
                    resp = self.api.request('DELETE', '/api/v1/workflows/%s' % wid)
                    if resp.status == 200:
                        break
                    last = 'HTTP %s %r' % (resp.status, resp.data if resp.data is not None else resp.raw[:300])
                except OSError as exc:
                    last = str(exc)
                time.sleep(0.5)
            else:
                errors.append('workflow %s: %s' % (wid, last))
        try:
            self.credentials += [c['id'] for c in self.our_credentials()]
        except (N8nError, OSError) as exc:
            errors.append('listing the credentials: %s' % exc)
        for kind, ids in (('credentials', self.credentials), ('tags', self.tag_ids)):
            for oid in sorted(set(ids), key=ids.index):
                try:
                    resp = self.api.request('DELETE', '/api/v1/%s/%s' % (kind, oid))
                except OSError as exc:
                    errors.append('%s %s: %s' % (kind, oid, exc))
                    continue
                if resp.status not in (200, 404):
                    errors.append('%s %s: HTTP %s %r' % (kind, oid, resp.status, resp.data))
        return errors


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
