"""n8n_workflow_urls with convert: openai_chat, against the in-memory n8n (plus its credentials API)."""

from __future__ import annotations

import base64
import copy
import json
import os

import pytest

from ansible.module_utils.common import warnings as ansible_warnings
from ansible_collections.local_ai.llm_gateway.plugins.modules import n8n_workflow_urls

from test_n8n_workflow_urls import KEY, TRIGGER, URL, FakeN8n

SECRET = 'Bearer sk-unit-litellm-secret-93c1'
GEN = 'http://llama-nginx/api/generate'
PUBLIC = 'https://llm.example.com/api/generate'
GW = 'http://llama-litellm:4000/v1/chat/completions'
RULES = [{'from': GEN, 'to': GW, 'convert': 'openai_chat'}, {'from': PUBLIC, 'to': GW, 'convert': 'openai_chat'}]
AUTH = {'credential_name': 'LiteLLM', 'value': SECRET}
CONTENT = '$json.choices[0].message.content'
CREDENTIAL_KEYS = {'name', 'type', 'data'}
HEADER_AUTH_DATA = {'name', 'value', 'useCustomAuth', 'allowedHttpRequestDomains', 'allowedDomains'}


class FakeN8nWithCredentials(FakeN8n):
    """FakeN8n plus GET/POST /api/v1/credentials as n8n 2.41 answers them (never any data)."""

    def __init__(self, workflows=(), key=KEY, credentials=()):
        super().__init__(workflows, key=key)
        self.credentials = [dict(c) for c in credentials]
        self.serial = 0

    def route(self, method, segments, query, body):
        if segments[:1] != ['credentials']:
            return super().route(method, segments, query, body)
        if len(segments) == 1 and method == 'GET':
            limit = int(query.get('limit', ['100'])[0])
            assert 1 <= limit <= 250
            offset = 0
            if 'cursor' in query:
                cursor = json.loads(base64.b64decode(query['cursor'][0]))
                offset, limit = cursor['offset'], cursor['limit']
            chunk = self.credentials[offset:offset + limit]
            nxt = None
            if offset + limit < len(self.credentials):
                nxt = base64.b64encode(json.dumps({'limit': limit, 'offset': offset + limit}).encode()).decode()
            return 200, {'data': [dict((k, v) for k, v in c.items() if k != 'data') for c in chunk],
                         'nextCursor': nxt}
        if len(segments) == 1 and method == 'POST':
            if set(body) != CREDENTIAL_KEYS:
                return 400, {'message': 'request/body must have name, type, data'}
            if body['type'] == 'httpHeaderAuth' and set(body['data']) - HEADER_AUTH_DATA:
                return 400, {'message': 'request.body.data is not allowed to have additional properties'}
            self.serial += 1
            created = {'id': 'cred%04d' % self.serial, 'name': body['name'], 'type': body['type'],
                       'createdAt': 't', 'updatedAt': 't', 'data': body['data']}
            self.credentials.append(created)
            return 200, dict((k, v) for k, v in created.items() if k != 'data')
        found = [c for c in self.credentials if c['id'] == segments[1]] if len(segments) == 2 else []
        if not found:
            return 404, {'message': 'Credential not found'}
        if method == 'PATCH':
            if set(body) - {'name', 'type', 'data', 'isGlobal', 'isResolvable', 'isPartialData'}:
                return 400, {'message': 'request/body must NOT have additional properties'}
            if 'data' in body and set(body['data']) - HEADER_AUTH_DATA:
                return 400, {'message': 'request.body.data is not allowed to have additional properties'}
            found[0].update(dict((k, v) for k, v in body.items() if k in ('name', 'data')), updatedAt='t2')
            return 200, dict((k, v) for k, v in found[0].items() if k != 'data')
        if method == 'DELETE':
            self.credentials.remove(found[0])
            return 200, dict((k, v) for k, v in found[0].items() if k != 'data')
        return 404, {'message': 'not found'}


def http(name, url, body, version=4.2, **params):
    parameters = {'method': 'POST', 'url': url, 'sendBody': True, 'specifyBody': 'json', 'jsonBody': body,
                  'options': {}}
    parameters.update(params)
    return {'id': 'n-' + name, 'name': name, 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': version,
            'position': [200, 0], 'parameters': parameters}


def set_node(name, value):
    return {'id': 'n-' + name, 'name': name, 'type': 'n8n-nodes-base.set', 'typeVersion': 3.4, 'position': [400, 0],
            'parameters': {'assignments': {'assignments': [{'id': 'a1', 'name': 'answer', 'value': value,
                                                            'type': 'string'}]}, 'options': {}}}


def chain(*names):
    return dict((left, {'main': [[{'node': right, 'type': 'main', 'index': 0}]]})
                for left, right in zip(names, names[1:]))


SEED_BODY = '={{ JSON.stringify({model: "llama3", prompt: $json.body.prompt, stream: false}) }}'
SEED_CONVERTED = ('={{ JSON.stringify({model: "llama3", messages: [{role: "user", content: $json.body.prompt}], '
                  'stream: false}) }}')


def seed(wid, url=GEN, **extra):
    base = {'id': wid, 'name': 'WF %s' % wid,
            'nodes': [TRIGGER, http('Ask Ollama', url, SEED_BODY), set_node('Format', '={{ $json.response }}')],
            'connections': chain('Hook', 'Ask Ollama', 'Format')}
    base.update(extra)
    return base


def with_images(wid):
    return {'id': wid, 'name': 'WF %s' % wid,
            'nodes': [TRIGGER, http('Look', GEN, '{"model": "llava", "prompt": "what is it?", "images": ["aGk="]}')],
            'connections': chain('Hook', 'Look')}


@pytest.fixture
def n8n(install_fetch_url):
    def install(*workflows, credentials=()):
        return install_fetch_url(FakeN8nWithCredentials(workflows, credentials=credentials))
    return install


@pytest.fixture
def args(tmp_path):
    def make(**extra):
        base = {'url': URL, 'api_key': KEY, 'rewrites': RULES, 'auth': AUTH, 'backup_dir': str(tmp_path / 'b'),
                'delay': 0}
        base.update(extra)
        return base
    return make


def calls(fake):
    return [(c['method'], c['path']) for c in fake.calls]


def assert_no_secret(fake, result):
    assert SECRET not in json.dumps(result) and 'sk-unit' not in json.dumps(result)
    assert SECRET not in json.dumps(fake.store)


def converted_nodes(cred_id):
    ask = http('Ask Ollama', GW, SEED_CONVERTED)
    ask['parameters'].update(authentication='genericCredentialType', genericAuthType='httpHeaderAuth')
    ask['credentials'] = {'httpHeaderAuth': {'id': cred_id, 'name': 'LiteLLM'}}
    return [TRIGGER, ask, set_node('Format', '={{ %s }}' % CONTENT)]


# ---------------------------------------------------------------------------------------------

def test_converts_creates_the_credential_once_and_attaches_it(run_module, n8n, args, tmp_path):
    fake = n8n(seed('a'), seed('b', url='http://other.example/api'), with_images('c'))
    before_b, before_c = copy.deepcopy(fake.store['b']), copy.deepcopy(fake.store['c'])
    seen = {}

    def backups_first(fake_, wid, body):
        seen['backups'] = os.listdir(str(tmp_path / 'b'))
    fake.hooks[('POST', 'list')] = backups_first
    result, failed = run_module(n8n_workflow_urls, args(), diff=True)
    assert not failed, result
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials'),
                           ('POST', '/api/v1/credentials'), ('GET', '/api/v1/workflows/a'),
                           ('PUT', '/api/v1/workflows/a')]
    assert seen['backups'], 'the backups are written before the credential is created'
    post = [c for c in fake.calls if c['method'] == 'POST'][0]
    assert post['body'] == {'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                            'data': {'name': 'Authorization', 'value': SECRET}}
    put = [c for c in fake.calls if c['method'] == 'PUT'][0]
    assert put['body'] == {'name': 'WF a', 'nodes': converted_nodes('cred0001'),
                           'connections': chain('Hook', 'Ask Ollama', 'Format'), 'settings': {}}
    assert fake.store['b'] == before_b and fake.store['c'] == before_c
    assert result['changed'] is True and result['api_calls'] == {'GET': 3, 'POST': 1, 'PUT': 1}
    assert result['credential'] == {'id': 'cred0001', 'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                                    'action': 'created'}
    assert result['conversions'] == [{
        'id': 'a', 'name': 'WF a', 'node': 'Ask Ollama', 'endpoint': 'generate',
        'model': {'before': 'llama3', 'after': 'llama3'}, 'notes': [],
        'downstream': [{'node': 'Format', 'parameter': 'parameters.assignments.assignments[0].value',
                        'before': '$json.response', 'after': CONTENT}]}]
    assert result['changed_workflows'] == [{'id': 'a', 'name': 'WF a', 'nodes': ['Ask Ollama', 'Format'],
                                            'active': False, 'action': 'put'}]
    assert result['skipped_items'] == [{
        'id': 'c', 'name': 'WF c', 'node': 'Look', 'parameter': 'parameters.jsonBody', 'kind': 'not_converted',
        'reason': 'images cannot be converted (the body carries images); the node is left as it is (URL '
                  'included), and so are the nodes that read its answer'}]
    diff = result['diff'][0]
    assert diff['after']['Ask Ollama']['credentials.httpHeaderAuth'] == {'id': 'cred0001', 'name': 'LiteLLM'}
    assert diff['before']['Ask Ollama']['parameters.jsonBody'] == SEED_BODY
    assert diff['after']['Ask Ollama']['parameters.jsonBody'] == SEED_CONVERTED
    assert diff['after']['Format'] == {'parameters.assignments.assignments[0].value': '={{ %s }}' % CONTENT}
    assert_no_secret(fake, result)

    # second run: nothing to do, no credential call at all
    fake.calls = []
    again, failed = run_module(n8n_workflow_urls, args())
    assert not failed and again['changed'] is False and calls(fake) == [('GET', '/api/v1/workflows')]
    assert again['credential'] is None and again['conversions'] == []
    assert [s['id'] for s in again['skipped_items']] == ['c']

    # a new workflow later: the credential is reused, no POST
    fake.add(seed('d', url=PUBLIC))
    fake.calls = []
    third, failed = run_module(n8n_workflow_urls, args())
    assert not failed, third
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials'),
                           ('GET', '/api/v1/workflows/d'), ('PUT', '/api/v1/workflows/d')]
    assert third['credential'] == {'id': 'cred0001', 'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                                   'action': 'reused'}
    assert fake.store['d']['nodes'] == converted_nodes('cred0001')
    assert len(fake.credentials) == 1


def test_conversions_of_a_failed_write_are_not_reported(run_module, n8n, args):
    fake = n8n(seed('a'), seed('b'))
    fake.hooks[('PUT', 'a')] = lambda fake_, wid, body: (400, {'message': 'request/body/nodes/1 must be object'})
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert failed and [w['id'] for w in result['failed_workflows']] == ['a']
    assert [c['id'] for c in result['conversions']] == ['b']
    assert result['changed'] is True and result['credential']['action'] == 'created'


def test_existing_credential_is_reused_by_name_and_type(run_module, n8n, args):
    fake = n8n(seed('a'), credentials=[
        {'id': 'other-type', 'name': 'LiteLLM', 'type': 'openAiApi'},
        {'id': 'other-name', 'name': 'LiteLLM 2', 'type': 'httpHeaderAuth'},
        {'id': 'the-one', 'name': 'LiteLLM', 'type': 'httpHeaderAuth'}])
    result, failed = run_module(n8n_workflow_urls, args(auth={'credential_name': 'LiteLLM'}))
    assert not failed, result
    assert 'POST' not in result['api_calls'] and result['credential']['action'] == 'reused'
    assert fake.store['a']['nodes'] == converted_nodes('the-one')


def test_credential_listing_pages(run_module, n8n, args):
    creds = [{'id': 'c%03d' % i, 'name': 'Other %d' % i, 'type': 'httpHeaderAuth'} for i in range(300)]
    creds.append({'id': 'last', 'name': 'LiteLLM', 'type': 'httpHeaderAuth'})
    fake = n8n(seed('a'), credentials=creds)
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    gets = [c['path'] for c in fake.calls if c['method'] == 'GET']
    assert gets == ['/api/v1/workflows', '/api/v1/credentials', '/api/v1/credentials', '/api/v1/workflows/a']
    assert fake.store['a']['nodes'] == converted_nodes('last')
    # found by name, with no record of its value: the value is stored (PATCH), nothing is created
    assert result['credential']['action'] == 'updated' and 'POST' not in result['api_calls']


def test_check_mode_reads_only_and_reports_the_credential_to_create(run_module, n8n, args, tmp_path):
    fake = n8n(seed('a'))
    before = copy.deepcopy(fake.store)
    result, failed = run_module(n8n_workflow_urls, args(), check=True, diff=True)
    assert not failed and result['changed'] is True
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials')]
    assert fake.store == before and fake.credentials == [] and not (tmp_path / 'b').exists()
    assert result['credential'] == {'id': None, 'name': 'LiteLLM', 'type': 'httpHeaderAuth', 'action': 'create'}
    assert result['diff'][0]['after']['Ask Ollama']['credentials.httpHeaderAuth'] == {'id': None, 'name': 'LiteLLM'}
    assert [c['node'] for c in result['conversions']] == ['Ask Ollama']
    assert_no_secret(fake, result)


def test_missing_value_fails_before_any_write(run_module, n8n, args):
    fake = n8n(seed('a'))
    result, failed = run_module(n8n_workflow_urls, args(auth={'credential_name': 'LiteLLM'}))
    assert failed and "no httpHeaderAuth credential named 'LiteLLM'" in result['msg']
    assert 'auth.value' in result['msg'] and 'Nothing was written' in result['msg']
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials')]


def test_several_credentials_with_the_name_fail(run_module, n8n, args):
    fake = n8n(seed('a'), credentials=[{'id': 'x1', 'name': 'LiteLLM', 'type': 'httpHeaderAuth'},
                                       {'id': 'x2', 'name': 'LiteLLM', 'type': 'httpHeaderAuth'}])
    result, failed = run_module(n8n_workflow_urls, args())
    assert failed and 'n8n has 2 httpHeaderAuth credentials' in result['msg'] and 'x1, x2' in result['msg']
    assert [c['method'] for c in fake.calls] == ['GET', 'GET']


def test_credential_creation_refused_writes_no_workflow(run_module, n8n, args):
    fake = n8n(seed('a'))
    before = copy.deepcopy(fake.store)
    fake.hooks[('POST', 'list')] = lambda fake_, wid, body: (403, {'message': 'Forbidden'})
    result, failed = run_module(n8n_workflow_urls, args(retries=0))
    assert failed and "Cannot create the n8n credential 'LiteLLM'" in result['msg']
    assert 'credential:create' in result['msg'] and 'No workflow was written' in result['msg']
    assert fake.store == before and 'PUT' not in result['api_calls']
    assert result['changed'] is False
    assert_no_secret(fake, result)


def test_a_credential_created_but_its_answer_lost_is_found_not_created_twice(run_module, n8n, args):
    fake = n8n(seed('a'))
    state = {'posts': 0}

    def created_then_reset(fake_, wid, body):
        if fake_.calls[-1]['path'].endswith('/credentials'):
            state['posts'] += 1
            if state['posts'] == 1:
                fake_.route('POST', ['credentials'], {}, body)     # n8n creates it ...
                return -1, 'Connection failure: [Errno 104] Connection reset by peer'   # ... the answer is lost
        return None
    fake.hooks[('POST', 'list')] = created_then_reset
    result, failed = run_module(n8n_workflow_urls, args(retries=2))
    assert not failed, result
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials'),
                           ('POST', '/api/v1/credentials'), ('GET', '/api/v1/credentials'),
                           ('GET', '/api/v1/workflows/a'), ('PUT', '/api/v1/workflows/a')]
    assert len(fake.credentials) == 1
    assert result['credential'] == {'id': 'cred0001', 'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                                    'action': 'created'}
    assert fake.store['a']['nodes'] == converted_nodes('cred0001')
    assert_no_secret(fake, result)


def test_credential_listing_refused_is_explained(run_module, n8n, args):
    fake = n8n(seed('a'))
    fake.hooks[('GET', 'list')] = lambda fake_, wid, body: (
        (403, {'message': 'Forbidden'}) if fake_.calls[-1]['path'].endswith('/credentials') else None)
    result, failed = run_module(n8n_workflow_urls, args(retries=0))
    assert failed and 'credential:list' in result['msg'] and 'Nothing was written' in result['msg']


def test_without_auth_the_authentication_is_left_alone(run_module, n8n, args):
    fake = n8n(seed('a'))
    result, failed = run_module(n8n_workflow_urls, args(auth=None))
    assert not failed, result
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/workflows/a'), ('PUT', '/api/v1/workflows/a')]
    ask = fake.store['a']['nodes'][1]
    assert 'credentials' not in ask and 'authentication' not in ask['parameters']
    assert ask['parameters']['jsonBody'] == SEED_CONVERTED and result['credential'] is None


def test_model_map_is_applied_and_unknown_models_are_left_alone(run_module, n8n, args):
    other = seed('b')
    other['nodes'][1]['parameters']['jsonBody'] = SEED_BODY.replace('llama3', 'mistral')
    fake = n8n(seed('a'), other)
    before_b = copy.deepcopy(fake.store['b'])
    result, failed = run_module(n8n_workflow_urls, args(model_map={'llama3:latest': 'gw-llama3'}))
    assert not failed, result
    assert fake.store['a']['nodes'][1]['parameters']['jsonBody'] == SEED_CONVERTED.replace('"llama3"', '"gw-llama3"')
    assert fake.store['b'] == before_b
    assert [(s['id'], s['kind']) for s in result['skipped_items']] == [('b', 'not_converted')]
    assert "the model 'mistral' is not in model_map" in result['skipped_items'][0]['reason']


def test_active_workflow_with_a_refused_node_is_confirmed_not_failed(run_module, n8n, args):
    wf = seed('a', active=True)
    wf['nodes'].append(http('Look', GEN, '{"model": "llava", "prompt": "x", "images": ["aGk="]}'))
    fake = n8n(wf)
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    assert [m for m, p in calls(fake)] == ['GET', 'GET', 'POST', 'GET', 'PUT', 'GET']
    assert fake.store['a']['activeVersionId'] == fake.store['a']['versionId']
    assert fake.store['a']['nodes'][3] == wf['nodes'][3]
    assert [s['node'] for s in result['skipped_items']] == ['Look']


def test_restore_brings_converted_workflows_back_and_keeps_the_credential(run_module, n8n, args):
    fake = n8n(seed('a', active=True), seed('b'))
    before = copy.deepcopy(fake.store)
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed and len(result['changed_workflows']) == 2
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'],
                                                          rewrites=None, auth=None))
    assert not failed, restored
    for wid in 'ab':
        assert fake.store[wid]['nodes'] == before[wid]['nodes']
        assert fake.store[wid]['connections'] == before[wid]['connections']
    assert bool(fake.store['a']['activeVersionId']) and not fake.store['b']['activeVersionId']
    assert [c['name'] for c in fake.credentials] == ['LiteLLM']
    assert 'DELETE' not in restored['api_calls']


@pytest.mark.parametrize('extra,words', [
    ({'model_map': {'llama3': 'a', 'llama3:latest': 'b'}}, 'the same Ollama model'),
    ({'auth': {'credential_name': ' ', 'value': SECRET}}, 'auth.credential_name must not be empty'),
    ({'auth': {'credential_name': 'LiteLLM', 'value': ''}}, 'auth.value must not be empty'),
    ({'auth': {'credential_name': 'LiteLLM', 'header': '', 'value': SECRET}}, 'auth.header must not be empty'),
    ({'rewrites': [{'from': GEN, 'to': 'http://gw/v1/completions', 'convert': 'openai_chat'}]},
     'to must be an OpenAI chat completions URL'),
])
def test_bad_conversion_options_fail_before_any_call(run_module, n8n, args, extra, words):
    fake = n8n(seed('a'))
    result, failed = run_module(n8n_workflow_urls, args(**extra))
    assert failed and words in result['msg'] and fake.calls == []
    assert SECRET not in json.dumps(result)


def test_auth_without_a_converting_rule_warns_and_is_unused(run_module, n8n, args):
    fake = n8n(seed('a'))
    result, failed = run_module(n8n_workflow_urls, args(rewrites=[{'from': GEN, 'to': 'http://llama-nginx-2/api/generate'}]))
    assert not failed
    assert any('only used by rules with convert: openai_chat' in w for w in ansible_warnings.get_warning_messages())
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/workflows/a'), ('PUT', '/api/v1/workflows/a')]
    assert fake.store['a']['nodes'][1]['parameters']['jsonBody'] == SEED_BODY


# fallback: where a node goes when its conversion is refused --------------------------------

FALLBACK_RULES = [{'from': GEN, 'to': GW, 'convert': 'openai_chat'},
                  {'from': PUBLIC, 'to': GW, 'convert': 'openai_chat', 'fallback': GEN}]


def test_fallback_moves_a_refused_node_to_the_internal_route(run_module, n8n, args):
    wf = seed('a', url=PUBLIC)
    look = http('Look', PUBLIC + '?x=1', '{"model": "llava", "prompt": "x", "images": ["aGk="]}')
    wf['nodes'].append(look)
    only = with_images('c')
    only['nodes'][1]['parameters']['url'] = PUBLIC
    fake = n8n(wf, only)
    before = copy.deepcopy(fake.store)
    result, failed = run_module(n8n_workflow_urls, args(rewrites=FALLBACK_RULES), diff=True)
    assert not failed, result
    nodes = fake.store['a']['nodes']
    assert nodes[:3] == converted_nodes('cred0001')
    moved = copy.deepcopy(look)
    moved['parameters']['url'] = GEN + '?x=1'
    assert nodes[3] == moved
    assert fake.store['c']['nodes'][1]['parameters'] == dict(only['nodes'][1]['parameters'], url=GEN)
    assert [(w['id'], w['nodes']) for w in result['changed_workflows']] == [('a', ['Ask Ollama', 'Format', 'Look']),
                                                                            ('c', ['Look'])]
    assert [c['node'] for c in result['conversions']] == ['Ask Ollama']
    assert [(s['id'], s['node'], s['kind'], s.get('moved_to')) for s in result['skipped_items']] == [
        ('a', 'Look', 'not_converted', GEN + '?x=1'), ('c', 'Look', 'not_converted', GEN)]
    assert 'only its URL is moved, to the fallback of rewrites[1]' in result['skipped_items'][0]['reason']
    assert result['diff'][1]['before'] == {'Look': {'parameters.url': PUBLIC}}
    assert result['diff'][1]['after'] == {'Look': {'parameters.url': GEN}}
    assert_no_secret(fake, result)

    # second run: the internal route's rule tries again, is refused again, leaves them
    fake.calls = []
    again, failed = run_module(n8n_workflow_urls, args(rewrites=FALLBACK_RULES))
    assert not failed and again['changed'] is False and calls(fake) == [('GET', '/api/v1/workflows')]
    assert [(s['id'], s['kind'], 'moved_to' in s) for s in again['skipped_items']] == [
        ('a', 'not_converted', False), ('c', 'not_converted', False)]

    # the moves are backed up and restored like any change
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'],
                                                          rewrites=None, auth=None))
    assert not failed, restored
    for wid in 'ac':
        assert fake.store[wid]['nodes'] == before[wid]['nodes']


def test_without_fallback_a_refused_public_node_keeps_its_url(run_module, n8n, args):
    only = with_images('c')
    only['nodes'][1]['parameters']['url'] = PUBLIC
    fake = n8n(only)
    before = copy.deepcopy(fake.store['c'])
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed and result['changed'] is False and fake.store['c'] == before
    assert 'moved_to' not in result['skipped_items'][0]


@pytest.mark.parametrize('rules,words', [
    ([{'from': PUBLIC, 'to': 'http://llama-nginx-2/api/generate', 'fallback': GEN}],
     'rewrites[0]: fallback is only used with convert'),
    ([{'from': PUBLIC, 'to': GW, 'convert': 'openai_chat', 'fallback': 'llama-nginx/api/generate'}],
     'rewrites[0]: fallback must be an http:// or https:// URL with a host'),
    ([{'from': PUBLIC, 'to': GW, 'convert': 'openai_chat', 'fallback': GEN},
      {'from': GEN, 'to': 'http://llama-nginx-2/api/generate'}],
     'rewrites[0]: fallback (%s) would be matched by rewrites[1]' % GEN),
    ([{'from': PUBLIC, 'to': GW, 'convert': 'openai_chat', 'fallback': GEN},
      {'from': GEN, 'to': GW, 'convert': 'openai_chat', 'fallback': 'http://other/api/generate'}],
     'which has a fallback itself'),
])
def test_bad_fallbacks_fail_before_any_call(run_module, n8n, args, rules, words):
    fake = n8n(seed('a'))
    result, failed = run_module(n8n_workflow_urls, args(rewrites=rules))
    assert failed and words in result['msg'] and fake.calls == [], result
