"""n8n_workflow_urls with convert: openai_chat against the harness's real n8n, run through ansible like a task.

A corpus of phase-1 style workflows (Ollama's /api/generate and /api/chat behind http://llama-nginx, some still
at the public URL) is created for this module with a unique prefix, converted, checked node by node against the
exact JSON expected, run again, restored, and deleted at the end together with the credential the run created.

The last test proves what n8n itself sends after a conversion: webhook workflows call the Ollama stand-in,
first at /api/generate or /api/chat (its answer is "Stand-in answer to: <prompt>"), then, converted, at
/v1/chat/completions of the same stand-in. The stand-in answers that path with 404 (it is no LiteLLM; the
Molecule scenario runs the real one), but it records the request n8n sent: its JSON body, and whether an
Authorization header came with it.
"""

from __future__ import annotations

import copy
import json
import time
import uuid

import pytest

import n8n_corpus
from conftest import http_json, run_module
from n8n_corpus import Item, chain, differences, http, live_corpus, manual, node, normalize, published_nodes, webhook

# Phase 2's credential or credential moves: n8n 2.0 or later (conftest.needs_credential_listing).
pytestmark = pytest.mark.usefixtures('needs_credential_listing')

GEN = 'http://llama-nginx/api/generate'
CHAT = 'http://llama-nginx/api/chat'
PUBLIC = 'https://llm.example.com/api/generate'
GW = 'http://llama-litellm:4000/v1/chat/completions'
RULES = [{'from': GEN, 'to': GW, 'convert': 'openai_chat'}, {'from': CHAT, 'to': GW, 'convert': 'openai_chat'},
         {'from': PUBLIC, 'to': GW, 'convert': 'openai_chat'}]
MODEL_MAP = {'llama3': 'llama3-gw'}
SECRET = 'Bearer sk-it-litellm-%s' % uuid.uuid4().hex
CONTENT = '$json.choices[0].message.content'
STREAM_NOTE = ('stream was not set (Ollama then streams); the converted request sets stream: false, so n8n gets one '
               'JSON answer')


def set_node(name, value, field='answer'):
    return node(name, 'n8n-nodes-base.set', 3.4, {'assignments': {'assignments': [
        {'id': 'assign-' + name, 'name': field, 'value': value, 'type': 'string'}]}, 'options': {}})


def code(name, js):
    return node(name, 'n8n-nodes-base.code', 2, {'jsCode': js})


def if_node(name, left):
    return node(name, 'n8n-nodes-base.if', 2, {'conditions': {
        'options': {'caseSensitive': True, 'leftValue': '', 'typeValidation': 'strict'},
        'conditions': [{'id': str(uuid.uuid4()), 'leftValue': left, 'rightValue': '',
                        'operator': {'type': 'string', 'operation': 'notEmpty', 'singleValue': True}}],
        'combinator': 'and'}, 'options': {}})


def post(name, url, version=4.2, **params):
    if version >= 3:
        params = dict({'method': 'POST', 'sendBody': True}, **params)
    else:
        params = dict({'requestMethod': 'POST'}, **params)
    return http(name, url, version=version, **params)


def header_auth(version):
    if version < 2:
        return {'authentication': 'headerAuth'}
    return {'authentication': 'genericCredentialType', 'genericAuthType': 'httpHeaderAuth'}


def corpus_items(prefix):
    items = []

    def add(*args, **kwargs):
        items.append(Item(*args, **kwargs))

    seed_body = '={{ JSON.stringify({model: "llama3", prompt: $json.body.prompt, stream: false}) }}'
    hook = webhook('%s-seed' % prefix)
    hook['parameters'].update(responseMode='lastNode', options={})
    add('seed', chain(hook, post('Ask Ollama', GEN, specifyBody='json', jsonBody=seed_body, options={})),
        convert={'Ask Ollama': dict(
            post('Ask Ollama', GW, specifyBody='json', options={},
                 jsonBody='={{ JSON.stringify({model: "llama3-gw", messages: [{role: "user", content: '
                          '$json.body.prompt}], stream: false}) }}')['parameters'], **header_auth(4.2))},
        active=True, notes={'Ask Ollama': [
            "the webhook 'Hook' answers with the last node's output; when that is this node, the caller now gets "
            "an OpenAI chat completion: the text is at choices[0].message.content"]})
    add('v1-json-string', chain(manual(), post('LLM', GEN, version=1, jsonParameters=True, options={},
                                               bodyParametersJson='{"model": "llama3", "prompt": "hi", '
                                                                  '"stream": false}'),
                                set_node('Answer', '={{ $json.response }}')),
        convert={'LLM': dict(post('LLM', GW, version=1, jsonParameters=True, options={}, bodyParametersJson=(
            '{"model": "llama3-gw", "messages": [{"role": "user", "content": "hi"}], "stream": false}'))['parameters'],
            **header_auth(1))},
        reads={'Answer': set_node('Answer', '={{ %s }}' % CONTENT)['parameters']})
    add('v2-object', chain(manual(), post('LLM', GEN, version=2, jsonParameters=True, bodyParametersJson={
        'model': 'llama3:latest', 'system': 'Answer briefly.', 'prompt': '={{ $json.question }}',
        'options': {'temperature': 0.1, 'num_ctx': 4096}}),
        code('Pick', 'return [{json: {answer: $input.first().json.response}}];')),
        convert={'LLM': dict(post('LLM', GW, version=2, jsonParameters=True, bodyParametersJson={
            'model': 'llama3-gw', 'messages': [{'role': 'system', 'content': 'Answer briefly.'},
                                               {'role': 'user', 'content': '={{ $json.question }}'}],
            'temperature': 0.1, 'stream': False})['parameters'], **header_auth(2))},
        reads={'Pick': {'jsCode': 'return [{json: {answer: $input.first().json.choices[0].message.content}}];'}},
        notes={'LLM': ['dropped options.num_ctx: a server-side setting of Ollama with no OpenAI counterpart (set it '
                       'in the LiteLLM model config if it matters)',
                       'stream was not set (Ollama then streams); the converted request sets stream: false, so n8n '
                       'gets one JSON answer']})
    add('v3-template', chain(manual(), post('LLM', GEN, version=3, specifyBody='json', jsonBody=(
        '={\n  "model": "llama3",\n  "system": "You write in {{ $json.lang }}.",\n  "prompt": "{{ $json.text }}",\n'
        '  "options": {"num_predict": 64},\n  "stream": false\n}')), if_node('Got it?', '={{ $json.response }}')),
        convert={'LLM': dict(post('LLM', GW, version=3, specifyBody='json', jsonBody=(
            '={\n  "model": "llama3-gw",\n  "messages": [\n    {\n      "role": "system",\n'
            '      "content": "You write in {{ $json.lang }}."\n    },\n    {\n      "role": "user",\n'
            '      "content": "{{ $json.text }}"\n    }\n  ],\n  "max_tokens": 64,\n  "stream": false\n}'))[
            'parameters'], **header_auth(3))},
        reads={'Got it?': 'leftValue'})
    add('v4.1-keypair', chain(manual(), post('LLM', PUBLIC, version=4.1, specifyBody='keypair', bodyParameters={
        'parameters': [{'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': '={{ $json.q }}'}]}),
        set_node('Answer', '={{ $json["response"] }}')),
        convert={'LLM': dict(post('LLM', GW, version=4.1, specifyBody='keypair', bodyParameters={'parameters': [
            {'name': 'model', 'value': 'llama3-gw'},
            {'name': 'messages', 'value': '={{ [{"role": "user", "content": ($json.q)}] }}'},
            {'name': 'stream', 'value': '={{ false }}'}]})['parameters'], **header_auth(4.1))},
        reads={'Answer': set_node('Answer', '={{ %s }}' % CONTENT)['parameters']}, notes={'LLM': [STREAM_NOTE]})
    add('v1-keypair', chain(manual(), post('LLM', GEN, version=1, bodyParametersUi={'parameter': [
        {'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': 'Say hi'}]})),
        convert={'LLM': dict(post('LLM', GW, version=1, bodyParametersUi={'parameter': [
            {'name': 'model', 'value': 'llama3-gw'},
            {'name': 'messages', 'value': '={{ [{"role": "user", "content": "Say hi"}] }}'},
            {'name': 'stream', 'value': '={{ false }}'}]})['parameters'], **header_auth(1))},
        notes={'LLM': [STREAM_NOTE]})
    chat_body = ('{"model": "llama3", "messages": [{"role": "system", "content": "Be terse."}, '
                 '{"role": "user", "content": "Hello", "images": []}], "stream": false}')
    add('chat', chain(manual(), post('Chat', CHAT, specifyBody='json', jsonBody=chat_body),
                      set_node('Answer', '={{ $json.message.content }}')),
        convert={'Chat': dict(post('Chat', GW, specifyBody='json', jsonBody=(
            '{"model": "llama3-gw", "messages": [{"role": "system", "content": "Be terse."}, '
            '{"role": "user", "content": "Hello"}], "stream": false}'))['parameters'], **header_auth(4.2))},
        reads={'Answer': set_node('Answer', '={{ %s }}' % CONTENT)['parameters']})
    add('chat-images', chain(manual(), post('Look', CHAT, specifyBody='json', jsonBody=(
        '{"model": "llava", "messages": [{"role": "user", "content": "What is this?", "images": ["aGVsbG8="]}], '
        '"stream": false}')), set_node('Answer', '={{ $json.message.content }}')),
        refused=[('Look', 'images cannot be converted')])
    ask = post('Ask Ollama', GEN, specifyBody='json', jsonBody='{"model": "llama3", "prompt": "x", "stream": false}')
    add('by-name', chain(manual(), ask, node('Wait a bit', 'n8n-nodes-base.noOp', 1, {}),
                         code('Use', "const a = $('Ask Ollama').item.json.response;\nreturn [{json: {a}}];"),
                         set_node('Use too', '={{ $node["Ask Ollama"].json["response"] }}')),
        convert={'Ask Ollama': dict(post('Ask Ollama', GW, specifyBody='json', jsonBody=(
            '{"model": "llama3-gw", "messages": [{"role": "user", "content": "x"}], "stream": false}'))['parameters'],
            **header_auth(4.2))},
        reads={'Use': {'jsCode': "const a = $('Ask Ollama').item.json.choices[0].message.content;\n"
                                 "return [{json: {a}}];"},
               'Use too': set_node('Use too', '={{ $node["Ask Ollama"].json.choices[0].message.content }}')[
                   'parameters']})
    add('dynamic-body', chain(manual(), post('LLM', GEN, specifyBody='json',
                                             jsonBody='={{ JSON.stringify($json.request) }}')),
        refused=[('LLM', 'dynamic body')])
    add('raw-body', chain(manual(), post('LLM', GEN, contentType='raw', rawContentType='application/json',
                                         body='{"model": "llama3", "prompt": "x"}')),
        refused=[('LLM', 'a raw body')])
    add('form-body', chain(manual(), post('LLM', GEN, contentType='form-urlencoded', specifyBody='keypair',
                                          bodyParameters={'parameters': [{'name': 'model', 'value': 'llama3'}]})),
        refused=[('LLM', 'a form-urlencoded body')])
    add('template-key', chain(manual(), post('LLM', GEN, specifyBody='json', jsonBody=(
        '{"model": "llama3", "prompt": "x", "template": "{{ .Prompt }}"}'))), refused=[('LLM', 'the body has template')])
    add('reads-done', chain(manual(), post('LLM', GEN, specifyBody='json', jsonBody='{"model": "llama3", "prompt": "x"}'),
                            set_node('Done?', '={{ $json.done }}')),
        refused=[('LLM', 'reads done, which the OpenAI answer does not have')])
    add('model-not-mapped', chain(manual(), post('LLM', GEN, specifyBody='json',
                                                 jsonBody='{"model": "mistral", "prompt": "x"}')),
        refused=[('LLM', "the model 'mistral' is not in model_map")])
    add('untouched', chain(manual(), post('Other', 'http://api.other.example/v1/x', specifyBody='json',
                                          jsonBody='{"a": 1}')))
    mixed_hook = webhook('%s-mixed' % prefix)
    nodes, connections = chain(mixed_hook, post('Ask', GEN, specifyBody='json',
                                                jsonBody='{"model": "llama3", "prompt": "x", "stream": false}'))
    nodes.append(post('Look', GEN, specifyBody='json', jsonBody='{"model": "llava", "prompt": "x", "images": ["aA=="]}'))
    add('mixed-active', (nodes, connections), active=True,
        convert={'Ask': dict(post('Ask', GW, specifyBody='json', jsonBody=(
            '{"model": "llama3-gw", "messages": [{"role": "user", "content": "x"}], "stream": false}'))['parameters'],
            **header_auth(4.2))},
        refused=[('Look', 'images cannot be converted')])
    old_auth = post('LLM', GEN, specifyBody='json', jsonBody='{"model": "llama3", "prompt": "x", "stream": false}',
                    authentication='genericCredentialType', genericAuthType='httpHeaderAuth')
    old_auth['credentials'] = {'httpHeaderAuth': '__OLD_CREDENTIAL__'}
    add('replaces-auth', chain(manual(), old_auth),
        convert={'LLM': dict(post('LLM', GW, specifyBody='json', jsonBody=(
            '{"model": "llama3-gw", "messages": [{"role": "user", "content": "x"}], "stream": false}'))['parameters'],
            **header_auth(4.2))},
        notes={'LLM': ["its authentication (genericCredentialType/httpHeaderAuth, credential '%s old token') was "
                       "replaced by the credential '%s LiteLLM'" % (prefix, prefix)]})
    return items


class Corpus(n8n_corpus.Corpus):
    """The conversion corpus; the credential ``<prefix> LiteLLM`` that the module creates is deleted too."""

    make_items = staticmethod(corpus_items)
    credential_specs = {'__OLD_CREDENTIAL__': ('old token', 'httpHeaderAuth',
                                               {'name': 'Authorization', 'value': 'Bearer old'})}
    credential_suffix = 'LiteLLM'


@pytest.fixture(scope='module')
def corpus(n8n):
    with live_corpus(Corpus, n8n.client(), 'oa') as built:
        yield built


@pytest.fixture(scope='module')
def backup_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp('oa-backups'))


def module_args(n8n, corpus, backup_root, **extra):
    args = {'url': n8n.url, 'api_key': n8n.api_key, 'rewrites': RULES, 'model_map': MODEL_MAP,
            'auth': {'credential_name': corpus.credential_name, 'value': SECRET},
            'workflow_ids': corpus.ids, 'backup_dir': backup_root}
    args.update(extra)
    return args


def expected_after(item, before, credential):
    """``before`` with exactly the expected conversions and reads."""
    out = normalize(before)
    for entry in out['nodes']:
        name = entry['name']
        if name in item.convert:
            entry['parameters'] = copy.deepcopy(item.convert[name])
            creds = dict(entry.get('credentials') or {})
            creds['httpHeaderAuth'] = {'id': credential['id'], 'name': credential['name']}
            entry['credentials'] = creds
        elif name in item.reads:
            if item.reads[name] == 'leftValue':
                entry['parameters']['conditions']['conditions'][0]['leftValue'] = '={{ %s }}' % CONTENT
            else:
                entry['parameters'] = copy.deepcopy(item.reads[name])
    return out


def assert_no_secret(result):
    assert SECRET not in result['_stdout'] and SECRET.split()[1] not in result['_stdout']


def expected_changed(corpus):
    return sorted(item.id for item in corpus.items if item.changes)


# ---------------------------------------------------------------------------------------------

def test_corpus_covers_the_shapes(corpus):
    versions = set((n['type'], n['typeVersion']) for item in corpus.items for n in item.nodes)
    assert {('n8n-nodes-base.httpRequest', v) for v in (1, 2, 3, 4.1, 4.2)} <= versions
    kinds = set(n['type'] for item in corpus.items for n in item.nodes)
    assert {'n8n-nodes-base.set', 'n8n-nodes-base.code', 'n8n-nodes-base.if'} <= kinds


def test_check_mode_writes_nothing_not_even_the_credential(n8n, corpus, backup_root):
    result, dummy = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root), check=True, diff=True)
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert sorted(w['id'] for w in result['changed_workflows']) == expected_changed(corpus)
    assert set(result['api_calls']) == {'GET'}
    assert result['credential'] == {'id': None, 'name': corpus.credential_name, 'type': 'httpHeaderAuth',
                                    'action': 'create'}
    assert corpus.our_credentials() == []
    after = corpus.api.snapshot(corpus.ids)
    for item in corpus.items:
        assert after[item.id] == corpus.before[item.id], item.key
    assert_no_secret(result)


def test_apply_converts_exactly(n8n, corpus, backup_root):
    result, dummy = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root), diff=True)
    assert not result.get('failed'), result
    corpus.state['apply'] = result
    mine = corpus.our_credentials()
    assert len(mine) == 1, mine
    credential = mine[0]
    assert result['credential'] == {'id': credential['id'], 'name': corpus.credential_name,
                                    'type': 'httpHeaderAuth', 'action': 'created'}
    assert sorted(w['id'] for w in result['changed_workflows']) == expected_changed(corpus)
    changed_active = [i for i in corpus.items if i.changes and i.active]
    assert result['api_calls']['POST'] == 1
    assert result['api_calls']['PUT'] == len(expected_changed(corpus))
    # workflow pages (the harness's n8n may hold other workflows), one credentials page, one GET right before
    # each write, one GET per active one
    pages = result['api_calls']['GET'] - 1 - len(expected_changed(corpus)) - len(changed_active)
    assert 1 <= pages <= 10 and set(result['api_calls']) == {'GET', 'POST', 'PUT'}

    after = corpus.api.snapshot(corpus.ids)
    for item in corpus.items:
        before, now = corpus.before[item.id], after[item.id]
        if not item.changes:
            assert now == before, (item.key, differences(before, now))
            continue
        expected = expected_after(item, before, credential)
        assert normalize(now) == expected, (item.key, differences(expected, normalize(now)))
        if item.active:
            assert now['active'] is True and now['activeVersionId'] == now['versionId'], item.key
            assert published_nodes(now) == now['nodes'], item.key
    assert_no_secret(result)
    assert SECRET not in json.dumps(after)


def test_apply_reports_conversions_reads_and_refusals(corpus):
    result = corpus.state['apply']
    by_node = dict(((c['id'], c['node']), c) for c in result['conversions'])
    assert len(by_node) == sum(len(item.convert) for item in corpus.items)
    for item in corpus.items:
        for name in item.convert:
            conversion = by_node[(item.id, name)]
            assert conversion['name'] == item.name
            assert conversion['notes'] == item.notes.get(name, []), (item.key, conversion['notes'])
            assert sorted(r['node'] for r in conversion['downstream']) == sorted(
                n for n in item.reads), item.key
    reads = dict((r['node'], (r['before'], r['after'])) for r in by_node[
        (corpus.by_key('by-name').id, 'Ask Ollama')]['downstream'])
    assert reads == {'Use': ("$('Ask Ollama').item.json.response", "$('Ask Ollama').item.json.choices[0].message.content"),
                     'Use too': ('$node["Ask Ollama"].json["response"]',
                                 '$node["Ask Ollama"].json.choices[0].message.content')}
    refusals = [s for s in result['skipped_items'] if s['kind'] == 'not_converted']
    expected = sorted((item.id, name) for item in corpus.items for name, dummy in item.refused)
    assert sorted((s['id'], s['node']) for s in refusals) == expected
    for item in corpus.items:
        for name, words in item.refused:
            entry = [s for s in refusals if s['id'] == item.id and s['node'] == name][0]
            assert words in entry['reason'], (item.key, entry['reason'])


def test_second_run_changes_nothing_and_makes_no_post(n8n, corpus, backup_root):
    before = corpus.api.snapshot(corpus.ids)
    result, dummy = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root))
    assert not result.get('failed'), result
    assert result['changed'] is False and result['changed_workflows'] == [] and result['backups'] == []
    assert set(result['api_calls']) == {'GET'} and result['credential'] is None
    assert corpus.api.snapshot(corpus.ids) == before
    assert len(corpus.our_credentials()) == 1


def test_a_new_workflow_reuses_the_credential(n8n, corpus, backup_root):
    nodes, connections = chain(manual(), post('Late', GEN, specifyBody='json',
                                              jsonBody='{"model": "llama3", "prompt": "late", "stream": false}'))
    wid = corpus.create(corpus.prefix + ' late', nodes, connections)
    result, dummy = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root, workflow_ids=[wid]))
    assert not result.get('failed'), result
    assert 'POST' not in result['api_calls'] and result['credential']['action'] == 'reused'
    credential = corpus.our_credentials()
    assert len(credential) == 1
    late = [n for n in corpus.api.get(wid)['nodes'] if n['name'] == 'Late'][0]
    assert late['credentials'] == {'httpHeaderAuth': {'id': credential[0]['id'], 'name': corpus.credential_name}}


def test_restore_brings_everything_back_exactly(n8n, corpus, backup_root):
    folder = corpus.state['apply']['backup_folder']
    result, dummy = run_module('n8n_workflow_urls', {'url': n8n.url, 'api_key': n8n.api_key, 'state': 'restored',
                                                     'backup': folder, 'backup_dir': backup_root})
    assert not result.get('failed'), result
    assert sorted(w['id'] for w in result['changed_workflows']) == expected_changed(corpus)
    after = corpus.api.snapshot(corpus.ids)
    for item in corpus.items:
        before, now = corpus.before[item.id], after[item.id]
        assert normalize(now) == normalize(before), (item.key, differences(normalize(before), normalize(now)))
        if item.active:
            assert now['activeVersionId'] == now['versionId'] and published_nodes(now) == before['nodes']
    assert len(corpus.our_credentials()) == 1, 'the credential stays (documented)'


# ---------------------------------------------------------------------------------------------
# What n8n sends after the conversion, recorded by the Ollama stand-in

def trigger(n8n, path, payload, deadline=30):
    """POST to a production webhook, waiting for n8n to register it after the activation."""
    client = n8n.client()
    stop = time.monotonic() + deadline
    while True:
        resp = client.request('POST', '/webhook/%s' % path, payload, timeout=30)
        if resp.status < 400:
            return resp.status, resp.data
        if resp.status == 404 and b'not registered' in resp.raw and time.monotonic() < stop:
            time.sleep(0.25)
            continue
        return resp.status, resp.raw


def recorded(standin, since):
    return list(http_json('GET', standin.url + '/_standin/requests?since=%d' % since)['requests'])


E2E_SHAPES = [
    ('stringify', 'generate', 4.2, {'specifyBody': 'json', 'jsonBody':
                                    '={{ JSON.stringify({model: "llama3", prompt: $json.body.prompt, stream: false}) }}'}),
    ('template', 'generate', 4.2, {'specifyBody': 'json', 'jsonBody':
                                   '={"model": "llama3:latest", "system": "Be brief.", "prompt": "{{ $json.body.prompt }}",'
                                   ' "options": {"temperature": 0.2}, "stream": false}'}),
    ('keypair', 'generate', 4.1, {'specifyBody': 'keypair', 'bodyParameters': {'parameters': [
        {'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': '={{ $json.body.prompt }}'},
        {'name': 'stream', 'value': '={{ false }}'}]}}),
    ('v1', 'generate', 1, {'jsonParameters': True, 'bodyParametersJson':
                           '={"model": "llama3", "prompt": {{ JSON.stringify($json.body.prompt) }}, "stream": false}'}),
    ('chat', 'chat', 4.2, {'specifyBody': 'json', 'jsonBody':
                           '={{ JSON.stringify({model: "llama3", messages: [{role: "system", content: "Be brief."}, '
                           '{role: "user", content: $json.body.prompt}], stream: false}) }}'}),
]


def test_n8n_sends_the_converted_request_with_the_credential(n8n, fresh_standin, backup_root):
    api = n8n.client()
    prefix = 'oa-e2e-%s' % uuid.uuid4().hex[:8]
    corpus = Corpus(api, prefix)
    corpus.items = []
    flows = []
    try:
        for key, endpoint, version, body in E2E_SHAPES:
            hook = webhook('%s-%s' % (prefix, key))
            hook['parameters'].update(responseMode='lastNode', options={})
            ask = post('Ask', '%s/api/%s' % (fresh_standin.url, endpoint), version=version, **body)
            answer = set_node('Answer', '={{ $json.response }}' if endpoint == 'generate'
                              else '={{ $json.message.content }}')
            nodes, connections = chain(hook, ask, answer)
            flows.append((key, endpoint, hook['parameters']['path'], corpus.create('%s %s' % (prefix, key), nodes,
                                                                                   connections, active=True)))
        prompts = {}
        for key, endpoint, path, wid in flows:
            # the template shape puts the prompt into a JSON string unescaped (as n8n does): no quotes there
            quote = "'" if key == 'template' else '"'
            prompts[key] = 'Tell me about %s%s%s \u00e9t\u00e9 {{ not an expression }}' % (quote, key, quote)
            status, answer = trigger(n8n, path, {'prompt': prompts[key]})
            assert status == 200 and answer == {'answer': 'Stand-in answer to: ' + prompts[key]}, (key, status, answer)
        before = dict((r['path'], r) for r in recorded(fresh_standin, 0))
        assert set(before) == {'/api/generate', '/api/chat'}
        since = http_json('GET', fresh_standin.url + '/_standin/state')['next_index']

        rules = [{'from': fresh_standin.url + '/api/generate', 'to': fresh_standin.url + '/v1/chat/completions',
                  'convert': 'openai_chat'},
                 {'from': fresh_standin.url + '/api/chat', 'to': fresh_standin.url + '/v1/chat/completions',
                  'convert': 'openai_chat'}]
        args = {'url': n8n.url, 'api_key': n8n.api_key, 'rewrites': rules, 'model_map': {'llama3': 'llama3-gw'},
                'auth': {'credential_name': corpus.credential_name, 'value': SECRET},
                'workflow_ids': [wid for dummy, dummy2, dummy3, wid in flows], 'backup_dir': backup_root}
        result, dummy = run_module('n8n_workflow_urls', args)
        assert not result.get('failed'), result
        assert len(result['changed_workflows']) == len(flows) and result['skipped_items'] == []
        assert_no_secret(result)

        for key, endpoint, path, wid in flows:
            status, dummy = trigger(n8n, path, {'prompt': prompts[key]})
            assert status == 500, (key, status)      # the stand-in is no LiteLLM: 404 there, an error in n8n
        sent = recorded(fresh_standin, since)
        assert [r['path'] for r in sent] == ['/v1/chat/completions'] * len(flows)
        for (key, endpoint, path, wid), request in zip(flows, sent):
            assert request['authorization'] == 'yes', key
            body = request['body']
            system = [{'role': 'system', 'content': 'Be brief.'}] if key in ('template', 'chat') else []
            expected = {'model': 'llama3-gw', 'messages': system + [{'role': 'user', 'content': prompts[key]}],
                        'stream': False}
            if key == 'template':
                expected['temperature'] = 0.2
            assert body == expected, (key, body)
    finally:
        errors = corpus.cleanup()
        assert not errors, errors
