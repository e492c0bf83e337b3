"""The openai_chat conversion of n8n_workflow_urls: body shapes, mapping, refusals, reads of the answer."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_openai_chat as oa
from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_rewrite as rw
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_chat import Context, OpenAIChatConverter
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_node import apply_credential
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import (
    RuleError, build_rules, plan_nodes, plan_workflow,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import canonical

GEN = 'http://llama-nginx/api/generate'
CHAT = 'http://llama-nginx/api/chat'
PUBLIC = 'https://llm.example.com/api/generate'
GW = 'http://llama-litellm:4000/v1/chat/completions'
CONVERTERS = {'openai_chat': OpenAIChatConverter()}
RULES = build_rules([{'from': GEN, 'to': GW, 'convert': 'openai_chat'},
                     {'from': CHAT, 'to': GW, 'convert': 'openai_chat'},
                     {'from': PUBLIC, 'to': GW, 'convert': 'openai_chat'}], CONVERTERS)
CRED = {'id': 'cred1', 'name': 'LiteLLM'}


def ctx(model_map=None, auth=True):
    context = Context(model_map or {}, 'LiteLLM' if auth else None)
    if auth:
        context.credential['id'] = 'cred1'
    return context


def node(name, node_type, version, params, **extra):
    out = {'id': 'id-' + name, 'name': name, 'type': node_type, 'typeVersion': version, 'position': [0, 0],
           'parameters': params}
    out.update(extra)
    return out


def v4(body=None, url=GEN, name='Ask', version=4.2, **params):
    base = {'method': 'POST', 'url': url, 'sendBody': True, 'specifyBody': 'json', 'options': {}}
    if body is not None:
        base['jsonBody'] = body
    base.update(params)
    return node(name, 'n8n-nodes-base.httpRequest', version, base)


def v1(body, url=GEN, name='Ask', version=1, **params):
    base = {'requestMethod': 'POST', 'url': url, 'jsonParameters': True, 'bodyParametersJson': body, 'options': {}}
    base.update(params)
    return node(name, 'n8n-nodes-base.httpRequest', version, base)


def set_node(name, value, field='answer'):
    return node(name, 'n8n-nodes-base.set', 3.4, {'assignments': {'assignments': [
        {'id': 'a-' + name, 'name': field, 'value': value, 'type': 'string'}]}, 'options': {}})


def code_node(name, code, **params):
    params = dict(params, jsCode=code)
    return node(name, 'n8n-nodes-base.code', 2, params)


def links(*pairs):
    out = {}
    for left, right in pairs:
        out.setdefault(left, {'main': [[]]})['main'][0].append({'node': right, 'type': 'main', 'index': 0})
    return out


def plan(nodes, connections=None, context=None):
    return plan_nodes(copy.deepcopy(nodes), RULES, connections or {}, context if context is not None else ctx())


def converted(body_node, context=None):
    """The converted node (asserts it was converted)."""
    result = plan([body_node], context=context)
    assert result.new_nodes is not None, result.skipped
    assert [s for s in result.skipped if s['kind'] == 'not_converted'] == []
    return result.new_nodes[0], result


def refused(nodes, connections=None, context=None):
    """The skipped entries of a plan that must change nothing at all."""
    before = copy.deepcopy(nodes)
    result = plan(nodes, connections, context)
    assert result.new_nodes is None and result.changes == [], [rw.path_text(c.path) for c in result.changes]
    assert nodes == before
    return [s for s in result.skipped if s['kind'] == 'not_converted']


# ---------------------------------------------------------------------------------------------
# body shapes, exactly

def test_json_stringify_expression_the_seed_workflow():
    new, result = converted(v4('={{ JSON.stringify({model: "llama3", prompt: $json.body.prompt, stream: false}) }}'))
    assert new['parameters'] == {
        'method': 'POST', 'url': GW, 'sendBody': True, 'specifyBody': 'json', 'options': {},
        'jsonBody': '={{ JSON.stringify({model: "llama3", messages: [{role: "user", content: $json.body.prompt}], '
                    'stream: false}) }}',
        'authentication': 'genericCredentialType', 'genericAuthType': 'httpHeaderAuth'}
    assert new['credentials'] == {'httpHeaderAuth': CRED}
    assert result.conversions == [{'node': 'Ask', 'endpoint': 'generate',
                                   'model': {'before': 'llama3', 'after': 'llama3'},
                                   'notes': [], 'downstream': []}]


def test_json_stringify_keeps_quote_style_extra_args_and_template_literals():
    body = ("={{ JSON.stringify({'model': 'llama3', 'system': 'Be brief', "
            "'prompt': `Summarize: ${$json.text}`, 'options': {'temperature': $json.t, 'num_predict': 64}}, null, 2) }}")
    new, result = converted(v4(body))
    assert new['parameters']['jsonBody'] == (
        "={{ JSON.stringify({'model': 'llama3', 'messages': [{'role': 'system', 'content': 'Be brief'}, "
        "{'role': 'user', 'content': `Summarize: ${$json.text}`}], 'temperature': $json.t, 'max_tokens': 64, "
        "'stream': false}, null, 2) }}")
    assert result.conversions[0]['notes'] == [
        'stream was not set (Ollama then streams); the converted request sets stream: false, so n8n gets one '
        'JSON answer']


def test_object_literal_without_stringify_and_expression_values():
    body = '={{ {model: "llama3", prompt: "Q: " + $json.q.trim() + "?", stream: $json.stream} }}'
    new, dummy = converted(v4(body))
    assert new['parameters']['jsonBody'] == (
        '={{ {model: "llama3", messages: [{role: "user", content: "Q: " + $json.q.trim() + "?"}], '
        'stream: $json.stream} }}')


def test_multiline_object_literal():
    body = '={{ JSON.stringify({\n  model: "llama3",\n  prompt: $json.q,\n  stream: false\n}) }}'
    new, dummy = converted(v4(body))
    assert new['parameters']['jsonBody'] == (
        '={{ JSON.stringify({\n  model: "llama3",\n  messages: [\n    {\n      role: "user",\n      '
        'content: $json.q\n    }\n  ],\n  stream: false\n}) }}')


def test_plain_json_text():
    new, result = converted(v4('{"model": "llama3", "prompt": "Why is the sky blue?", "stream": false}'))
    assert new['parameters']['jsonBody'] == (
        '{"model": "llama3", "messages": [{"role": "user", "content": "Why is the sky blue?"}], "stream": false}')


def test_json_text_with_expressions_inside_strings_and_as_values():
    body = ('={"model": "llama3", "system": "You answer in {{ $json.lang }}.", '
            '"prompt": "{{ $json["text"] }}", "options": {"temperature": {{ $json.t }}, "seed": 42}}')
    new, dummy = converted(v4(body))
    assert new['parameters']['jsonBody'] == (
        '={"model": "llama3", "messages": [{"role": "system", "content": "You answer in {{ $json.lang }}."}, '
        '{"role": "user", "content": "{{ $json["text"] }}"}], "temperature": {{ $json.t }}, "seed": 42, '
        '"stream": false}')


def test_json_text_keeps_escapes_numbers_and_layout():
    body = ('{\n    "model":"llama3",\n    "prompt":"line\\nnext \\"quoted\\" \\u00e9",\n'
            '    "options":{"temperature":0.70,"top_p":1e0,"stop":["\\n\\n","END"]},\n    "stream":false\n}')
    new, dummy = converted(v4(body))
    assert new['parameters']['jsonBody'] == (
        '{\n    "model":"llama3",\n    "messages":[\n        {\n            "role":"user",\n'
        '            "content":"line\\nnext \\"quoted\\" \\u00e9"\n        }\n    ],\n    "temperature":0.70,\n'
        '    "top_p":1e0,\n    "stop":["\\n\\n","END"],\n    "stream":false\n}'.replace(
            '"stop":["\\n\\n","END"]', '"stop":[\n        "\\n\\n",\n        "END"\n    ]'))
    assert json.loads(new['parameters']['jsonBody'])['messages'][0]['content'] == 'line\nnext "quoted" \u00e9'


def test_keypair_body_v4():
    body = node('Ask', 'n8n-nodes-base.httpRequest', 4.1, {
        'method': 'POST', 'url': GEN, 'sendBody': True, 'specifyBody': 'keypair', 'bodyParameters': {'parameters': [
            {'name': 'model', 'value': 'llama3'}, {'name': 'system', 'value': 'Say "hi" first'},
            {'name': 'prompt', 'value': '={{ $json.question }}'}]}})
    new, result = converted(body, context=ctx({'llama3:latest': 'llama3-chat'}))
    assert new['parameters']['bodyParameters'] == {'parameters': [
        {'name': 'model', 'value': 'llama3-chat'},
        {'name': 'messages',
         'value': '={{ [{"role": "system", "content": "Say \\"hi\\" first"}, {"role": "user", "content": '
                  '($json.question)}] }}'},
        {'name': 'stream', 'value': '={{ false }}'}]}
    assert result.conversions[0]['model'] == {'before': 'llama3', 'after': 'llama3-chat'}


def test_keypair_default_specify_body_v3():
    body = node('Ask', 'n8n-nodes-base.httpRequest', 3, {
        'method': 'POST', 'url': GEN, 'sendBody': True, 'bodyParameters': {'parameters': [
            {'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': 'Hello'},
            {'name': 'stream', 'value': '={{ false }}'}, {'name': 'format', 'value': 'json'}]}})
    new, dummy = converted(body)
    assert new['parameters']['bodyParameters']['parameters'] == [
        {'name': 'model', 'value': 'llama3'},
        {'name': 'messages', 'value': '={{ [{"role": "user", "content": "Hello"}] }}'},
        {'name': 'response_format', 'value': '={{ {"type": "json_object"} }}'},
        {'name': 'stream', 'value': '={{ false }}'}]


def test_v1_keypair_body_and_header_auth():
    body = node('Ask', 'n8n-nodes-base.httpRequest', 1, {
        'requestMethod': 'POST', 'url': GEN, 'bodyParametersUi': {'parameter': [
            {'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': '={{ $json.q }}'}]}})
    new, dummy = converted(body)
    assert new['parameters'] == {
        'requestMethod': 'POST', 'url': GW, 'authentication': 'headerAuth', 'bodyParametersUi': {'parameter': [
            {'name': 'model', 'value': 'llama3'},
            {'name': 'messages', 'value': '={{ [{"role": "user", "content": ($json.q)}] }}'},
            {'name': 'stream', 'value': '={{ false }}'}]}}
    assert new['credentials'] == {'httpHeaderAuth': CRED}


def test_v1_json_string_and_v2_object():
    new, dummy = converted(v1('{"model": "llama3", "prompt": "hi", "stream": false}'))
    assert new['parameters']['bodyParametersJson'] == (
        '{"model": "llama3", "messages": [{"role": "user", "content": "hi"}], "stream": false}')
    assert new['parameters']['authentication'] == 'headerAuth' and 'genericAuthType' not in new['parameters']
    new, dummy = converted(v1({'model': 'llama3', 'prompt': '=Hi {{ $json.name }}', 'system': 'brief',
                               'options': {'temperature': 0.2}}, version=2))
    assert new['parameters']['bodyParametersJson'] == {
        'model': 'llama3', 'messages': [{'role': 'system', 'content': 'brief'},
                                        {'role': 'user', 'content': '=Hi {{ $json.name }}'}],
        'temperature': 0.2, 'stream': False}
    assert new['parameters']['authentication'] == 'genericCredentialType'
    assert new['parameters']['genericAuthType'] == 'httpHeaderAuth'


def test_jsonbody_stored_as_object():
    new, dummy = converted(v4({'model': 'llama3', 'prompt': '={{ $json.q }}', 'stream': False}))
    assert new['parameters']['jsonBody'] == {'model': 'llama3', 'messages': [{'role': 'user',
                                                                              'content': '={{ $json.q }}'}],
                                             'stream': False}


def test_chat_body_kept_without_empty_images():
    body = ('{"model": "llama3", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": '
            '"{{ nope }}", "images": []}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}],'
            ' "stream": false}')
    new, result = converted(v4(body, url=CHAT))
    assert new['parameters']['jsonBody'] == (
        '{"model": "llama3", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": '
        '"{{ nope }}"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}], "stream": false}')
    assert result.conversions[0]['endpoint'] == 'chat'


def test_expression_url_and_query_are_kept():
    new, dummy = converted(v4('{"model": "llama3", "prompt": "x"}', url='=%s?trace={{ $json.id }}' % GEN))
    assert new['parameters']['url'] == '=%s?trace={{ $json.id }}' % GW


# ---------------------------------------------------------------------------------------------
# the mapping

def test_options_mapping_and_notes():
    body = ('{"model": "llama3", "prompt": "x", "keep_alive": "5m", "format": "json", "options": '
            '{"num_ctx": 8192, "temperature": 0, "num_predict": -1, "top_p": 0.9, "stop": "###", "seed": 7, '
            '"num_gpu": 1}, "stream": false}')
    new, result = converted(v4(body))
    assert json.loads(new['parameters']['jsonBody']) == {
        'model': 'llama3', 'messages': [{'role': 'user', 'content': 'x'}], 'temperature': 0, 'top_p': 0.9,
        'stop': '###', 'seed': 7, 'response_format': {'type': 'json_object'}, 'stream': False}
    notes = result.conversions[0]['notes']
    assert [n.split(':')[0] for n in notes] == ['dropped options.num_ctx', 'dropped options.num_predict = -1 (no limit)',
                                                'dropped options.num_gpu', 'dropped keep_alive']


def test_num_predict_becomes_max_tokens():
    new, dummy = converted(v4('{"model": "llama3", "prompt": "x", "options": {"num_predict": 32}}'))
    assert json.loads(new['parameters']['jsonBody'])['max_tokens'] == 32


def test_empty_system_sends_no_system_message():
    new, dummy = converted(v4('{"model": "llama3", "prompt": "x", "system": ""}'))
    assert json.loads(new['parameters']['jsonBody'])['messages'] == [{'role': 'user', 'content': 'x'}]


@pytest.mark.parametrize('model,mapped', [('llama3', 'gw-llama'), ('llama3:latest', 'gw-llama'),
                                          ('qwen2.5:7b', 'qwen')])
def test_model_map_treats_latest_as_the_same_model(model, mapped):
    context = ctx({'llama3': 'gw-llama', 'qwen2.5:7b': 'qwen'})
    new, result = converted(v4('{"model": "%s", "prompt": "x"}' % model), context=context)
    assert json.loads(new['parameters']['jsonBody'])['model'] == mapped
    assert result.conversions[0]['model'] == {'before': model, 'after': mapped}


def test_model_kept_when_the_map_is_empty_even_from_an_expression():
    new, result = converted(v4('={"model": "{{ $json.model }}", "prompt": "x"}'))
    assert new['parameters']['jsonBody'].startswith('={"model": "{{ $json.model }}", "messages"')
    assert result.conversions[0]['model'] == {'before': '"{{ $json.model }}"', 'after': '"{{ $json.model }}"'}


def test_no_auth_leaves_authentication_alone():
    body = v4('{"model": "llama3", "prompt": "x"}', authentication='genericCredentialType',
              genericAuthType='httpHeaderAuth')
    body['credentials'] = {'httpHeaderAuth': {'id': 'old', 'name': 'Ollama token'}}
    new, result = converted(body, context=ctx(auth=False))
    assert new['credentials'] == body['credentials'] and new['parameters']['authentication'] == 'genericCredentialType'
    assert [rw.path_text(c.path) for c in result.changes] == ['parameters.url', 'parameters.jsonBody']


def test_previous_authentication_is_replaced_and_noted_ssl_kept():
    body = v4('{"model": "llama3", "prompt": "x", "stream": false}', authentication='predefinedCredentialType',
              nodeCredentialType='openAiApi', provideSslCertificates=True)
    body['credentials'] = {'openAiApi': {'id': 'o1', 'name': 'OpenAI'}, 'httpSslAuth': {'id': 's1', 'name': 'CA'}}
    new, result = converted(body)
    assert new['credentials'] == {'httpSslAuth': {'id': 's1', 'name': 'CA'}, 'httpHeaderAuth': CRED}
    assert 'nodeCredentialType' not in new['parameters']
    assert new['parameters']['authentication'] == 'genericCredentialType'
    assert result.conversions[0]['notes'] == [
        "its authentication (predefinedCredentialType/openAiApi, credential 'OpenAI') was replaced by the "
        "credential 'LiteLLM'"]
    changed = dict((rw.path_text(c.path), (c.before, c.after)) for c in result.changes)
    assert changed['credentials.openAiApi'] == ({'id': 'o1', 'name': 'OpenAI'}, None)
    assert changed['parameters.nodeCredentialType'] == ('openAiApi', None)


def test_same_credential_already_attached_is_no_note():
    body = v4('{"model": "llama3", "prompt": "x", "stream": false}', authentication='genericCredentialType',
              genericAuthType='httpHeaderAuth')
    body['credentials'] = {'httpHeaderAuth': dict(CRED)}
    new, result = converted(body)
    assert result.conversions[0]['notes'] == []
    assert [rw.path_text(c.path) for c in result.changes] == ['parameters.url', 'parameters.jsonBody',
                                                              'credentials.httpHeaderAuth']


def test_apply_credential_fills_in_the_id():
    context = Context({}, 'LiteLLM')
    result = plan([v4('{"model": "llama3", "prompt": "x"}')], context=context)
    assert result.new_nodes[0]['credentials'] == {'httpHeaderAuth': {'id': None, 'name': 'LiteLLM'}}
    apply_credential(result.new_nodes, result.changes, {'id': 'new-id', 'name': 'LiteLLM'})
    assert result.new_nodes[0]['credentials'] == {'httpHeaderAuth': {'id': 'new-id', 'name': 'LiteLLM'}}
    assert [c.after for c in result.changes if c.path == ('credentials', 'httpHeaderAuth')] == [
        {'id': 'new-id', 'name': 'LiteLLM'}]


# ---------------------------------------------------------------------------------------------
# refusals: the node (and everything else) stays byte-identical, with the reason

BODY_REFUSALS = [
    ('{"model": "llama3", "prompt": "x", "images": ["iVBOR..."]}', 'images cannot be converted'),
    ('={"model": "llama3", {{ $json.extra }} }', 'dynamic body'),
    ('={{ JSON.stringify($json.body) }}', 'dynamic body'),
    ('={{ JSON.stringify({...$json.body, model: "llama3"}) }}', 'dynamic body'),
    ('={{ JSON.stringify({model: "llama3", prompt}) }}', 'dynamic body'),
    ('={{ JSON.stringify({model: "llama3", [key]: 1, prompt: $json.p}) }}', 'dynamic body'),
    ('={{ JSON.stringify({model: "llama3", prompt: $json.p.replace(/a/g, "b")}) }}', 'dynamic body'),
    ('={{ JSON.stringify({model: "llama3", prompt: $json.p}, (k, v) => v) }}', 'dynamic body'),
    ('={{ const b = {model: "llama3", prompt: $json.p}; JSON.stringify(b) }}', 'dynamic body'),
    ('["llama3", "x"]', 'the body is not a JSON object'),
    ('{"model": "llama3", "prompt": "x",}', 'the body is not valid JSON'),
    ('{"model": "llama3", "model": "x", "prompt": "x"}', 'appears twice'),
    ('{"model": "llama3", "prompt": "x", "template": "{{ .Prompt }}"}', 'the body has template'),
    ('{"model": "llama3", "prompt": "x", "raw": true}', 'the body has raw'),
    ('{"model": "llama3", "prompt": "x", "context": [1, 2]}', 'the body has context'),
    ('{"model": "llama3", "prompt": "x", "suffix": "}"}', 'the body has suffix'),
    ('{"model": "llama3", "prompt": "x", "think": true}', 'the body has think'),
    ('{"model": "llama3", "prompt": "x", "whatever": 1}', 'an unknown field'),
    ('{"model": "llama3", "prompt": "x", "options": {"top_k": 20}}', 'options.top_k has no OpenAI counterpart'),
    ('{"model": "llama3", "prompt": "x", "options": {"repeat_penalty": 1.1}}', 'options.repeat_penalty'),
    ('{"model": "llama3", "prompt": "x", "options": {"num_predict": 0}}', 'options.num_predict is 0'),
    ('{"model": "llama3", "prompt": "x", "options": {"temperature": "0.2"}}', 'options.temperature is not a number'),
    ('={"model": "llama3", "prompt": "x", "options": {{ $json.opts }}}', 'options is computed at run time'),
    ('{"model": "llama3", "prompt": "x", "format": {"type": "object"}}', 'format'),
    ('{"model": "llama3", "prompt": "x", "stream": true}', 'stream is true'),
    ('{"model": "llama3", "prompt": "x", "stream": "false"}', 'stream is not a boolean'),
    ('{"model": "llama3"}', 'no prompt'),
    ('{"model": "llama3", "prompt": ""}', 'the prompt is empty'),
    ('{"model": "llama3", "prompt": 42}', 'prompt is not a string'),
    ('{"prompt": "x"}', 'no model'),
    ('={"model": "llama3", "prompt": "x", "system": {{ $json.sys }}}', 'system is not always a string'),
    ('={{ JSON.stringify({model: "llama3", prompt: $json.p, system: $json.sys}) }}', 'system is not always'),
    ('', 'the body is empty'),
    ('=', 'the body is empty'),
]


@pytest.mark.parametrize('body,reason', BODY_REFUSALS)
def test_body_refusals(body, reason):
    skips = refused([v4(body)])
    assert len(skips) == 1 and reason in skips[0]['reason'], skips
    assert skips[0]['node'] == 'Ask' and skips[0]['parameter'] == 'parameters.jsonBody'
    assert skips[0]['reason'].endswith('the node is left as it is (URL included), and so are the nodes that read '
                                       'its answer')


CHAT_REFUSALS = [
    ('{"model": "llama3", "messages": [{"role": "user", "content": "x", "images": ["iVBOR"]}]}',
     'images cannot be converted'),
    ('={"model": "llama3", "messages": {{ JSON.stringify($json.history) }}}', 'messages is computed at run time'),
    ('{"model": "llama3", "messages": []}', 'messages is empty'),
    ('{"model": "llama3", "messages": [{"role": "tool", "content": "x"}]}', 'the role "tool"'),
    ('={"model": "llama3", "messages": [{"role": "{{ $json.role }}", "content": "x"}]}', 'only the literal roles'),
    ('{"model": "llama3", "messages": [{"role": "user", "content": "x", "tool_calls": []}]}', 'tool_calls'),
    ('{"model": "llama3", "messages": [{"role": "user"}]}', 'has no content'),
    ('{"model": "llama3", "messages": [{"role": "user", "content": "x"}], "tools": []}', 'the body has tools'),
    ('{"model": "llama3", "messages": [{"role": "user", "content": "x"}], "system": "s"}', 'the body has system'),
    ('{"model": "llama3", "prompt": "x"}', 'the body has prompt'),
]


@pytest.mark.parametrize('body,reason', CHAT_REFUSALS)
def test_chat_refusals(body, reason):
    skips = refused([v4(body, url=CHAT)])
    assert len(skips) == 1 and reason in skips[0]['reason'], skips


def test_generate_with_messages_is_refused():
    skips = refused([v4('{"model": "llama3", "messages": [{"role": "user", "content": "x"}]}')])
    assert 'the body has messages' in skips[0]['reason']


@pytest.mark.parametrize('params,reason', [
    ({'method': 'GET'}, 'the request method is GET'),
    ({'method': '={{ "POST" }}'}, 'the request method is'),
    ({'sendBody': False}, 'sends no body'),
    ({'contentType': 'raw', 'rawContentType': 'application/json', 'body': '{"model":"llama3"}'}, 'a raw body'),
    ({'contentType': 'form-urlencoded'}, 'a form-urlencoded body'),
    ({'contentType': 'multipart-form-data'}, 'a multipart-form-data body'),
    ({'specifyBody': 'string'}, 'a body given as string'),
    ({'options': {'response': {'response': {'fullResponse': True}}}}, 'full response'),
    ({'options': {'response': {'response': {'responseFormat': 'text'}}}}, 'reads the answer as text'),
    ({'options': {'pagination': {'pagination': {'paginationMode': 'updateAParameterInEachRequest'}}}}, 'paginates'),
    ({'sendHeaders': True, 'headerParameters': {'parameters': [{'name': 'authorization', 'value': 'Bearer x'}]}},
     'sets the Authorization header itself'),
    ({'sendHeaders': True, 'specifyHeaders': 'json', 'jsonHeaders': '{"Authorization": "Bearer x"}'},
     'sets the Authorization header itself'),
])
def test_request_refusals_v4(params, reason):
    body = v4('{"model": "llama3", "prompt": "x"}')
    body['parameters'].update(params)
    skips = refused([body])
    assert len(skips) == 1 and reason in skips[0]['reason'], skips


@pytest.mark.parametrize('params,reason', [
    ({'requestMethod': 'GET'}, 'the request method is GET'),
    ({'options': {'bodyContentType': 'form-urlencoded'}}, 'a form-urlencoded body'),
    ({'options': {'fullResponse': True}}, 'full response'),
    ({'responseFormat': 'string'}, 'reads the answer as string'),
    ({'headerParametersJson': '{"Authorization": "Bearer x"}'}, 'sets the Authorization header itself'),
    ({'jsonParameters': False}, 'sends no body'),
])
def test_request_refusals_v1(params, reason):
    body = v1('{"model": "llama3", "prompt": "x"}')
    body['parameters'].update(params)
    skips = refused([body])
    assert len(skips) == 1 and reason in skips[0]['reason'], skips


def test_header_conflict_only_matters_with_auth():
    body = v4('{"model": "llama3", "prompt": "x"}', sendHeaders=True,
              headerParameters={'parameters': [{'name': 'Authorization', 'value': 'Bearer x'}]})
    converted(body, context=ctx(auth=False))


@pytest.mark.parametrize('entries,reason', [
    ([{'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': '=Summarize: {{ $json.text }}'}],
     'mixes text and expressions'),
    ([{'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': 'x'}, {'name': 'stream', 'value': 'false'}],
     'stream is not a boolean'),
    ([{'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': 'x'},
      {'name': 'options', 'value': '={{ {temperature: 1} }}'}],
     'options is computed at run time'),
    ([{'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': 'a {{ b'}], 'cannot go into an n8n expression'),
    ([{'name': 'model', 'value': 'llama3'}, {'name': 'options.temperature', 'value': '1'},
      {'name': 'prompt', 'value': 'x'}],
     'an unknown field'),
    ([{'name': '={{ $json.k }}', 'value': 'x'}], 'computed at run time'),
    ([{'name': 'model', 'value': 'a'}, {'name': 'model', 'value': 'b'}], 'appears twice'),
    ([{'name': 'model', 'value': 'llama3', 'parameterType': 'formData'}], 'not a plain name and value'),
    ([], 'no body parameters'),
])
def test_keypair_refusals(entries, reason):
    params = {'method': 'POST', 'url': GEN, 'sendBody': True, 'bodyParameters': {'parameters': entries}}
    body = node('Ask', 'n8n-nodes-base.httpRequest', 4.2, params)
    skips = refused([body])
    assert len(skips) == 1 and reason in skips[0]['reason'], skips


def test_model_map_refusals():
    context = ctx({'mistral': 'mistral'})
    skips = refused([v4('{"model": "llama3", "prompt": "x"}')], context=context)
    assert "the model 'llama3' is not in model_map" in skips[0]['reason']
    skips = refused([v4('={"model": "{{ $json.m }}", "prompt": "x"}')], context=context)
    assert 'model is computed at run time' in skips[0]['reason']


@pytest.mark.parametrize('node_type', ['n8n-nodes-base.httpRequestTool', '@n8n/n8n-nodes-langchain.toolHttpRequest'])
def test_tool_nodes_are_refused(node_type):
    body = v4('{"model": "llama3", "prompt": "x"}')
    body['type'] = node_type
    skips = refused([body])
    assert 'read by an AI agent' in skips[0]['reason']


def test_url_expression_that_can_point_elsewhere_is_refused():
    url = "={{ $json.big ? '%s' : 'http://small.local/x' }}" % GEN
    skips = refused([v4('{"model": "llama3", "prompt": "x"}', url=url)])
    assert 'does not call exactly one Ollama endpoint' in skips[0]['reason']
    assert skips[0]['parameter'] == 'parameters.url'


def test_regex_rule_to_a_non_ollama_path_is_refused():
    rules = build_rules([{'from': r'http://llama-nginx/api/(\w+)', 'to': GW, 'regex': True, 'convert': 'openai_chat'}],
                        CONVERTERS)
    nodes = [v4('{"model": "llama3", "prompt": "x"}', url='http://llama-nginx/api/embed')]
    result = plan_nodes(copy.deepcopy(nodes), rules, {}, ctx())
    assert result.new_nodes is None
    assert "does not call Ollama's /api/generate or /api/chat" in result.skipped[0]['reason']


def test_duplicate_node_names_are_refused():
    skips = refused([v4('{"model": "llama3", "prompt": "x"}'), set_node('Ask', 'x')])
    assert 'has 2 nodes named' in skips[0]['reason']


def test_rule_validation():
    with pytest.raises(RuleError, match='to must be an OpenAI chat completions URL'):
        build_rules([{'from': GEN, 'to': 'http://gw/v1/completions', 'convert': 'openai_chat'}], CONVERTERS)
    with pytest.raises(RuleError, match='from must be an Ollama'):
        build_rules([{'from': 'http://llama-nginx/api/embed', 'to': GW, 'convert': 'openai_chat'}], CONVERTERS)
    build_rules([{'from': r'http://llama-nginx/api/(generate|chat)', 'to': GW, 'regex': True,
                  'convert': 'openai_chat'}], CONVERTERS)


@pytest.mark.parametrize('model_map,words', [
    ({'llama3': 'a', 'llama3:latest': 'b'}, 'the same Ollama model'),
    ({'llama3': ''}, 'non-empty strings'),
    ({'=x': 'a'}, 'must not start with "="'),
    ('llama3', 'must be a dict'),
])
def test_model_map_validation(model_map, words):
    assert words in oa.validate_model_map(model_map)
    assert oa.validate_model_map({'llama3': 'a', 'llama3:latest': 'a'}) is None


# ---------------------------------------------------------------------------------------------
# reads of the answer

ASK = v4('={{ JSON.stringify({model: "llama3", prompt: $json.q, stream: false}) }}')
CHAT_ASK = v4('{"model": "llama3", "messages": [{"role": "user", "content": "x"}], "stream": false}', url=CHAT)
CONTENT = '$json.choices[0].message.content'


def reader_result(reader, ask=None, extra=(), connections=None):
    nodes = [copy.deepcopy(ask or ASK), reader] + list(extra)
    return plan(nodes, connections if connections is not None else links(('Ask', reader['name'])))


@pytest.mark.parametrize('before,after', [
    ('={{ $json.response }}', '={{ %s }}' % CONTENT),
    ('={{ $json["response"] }}', '={{ %s }}' % CONTENT),
    ("={{ $json['response'].trim() }}", '={{ %s.trim() }}' % CONTENT),
    ('={{ $json?.response ?? "" }}', '={{ $json?.choices?.[0]?.message?.content ?? "" }}'),
    ('=Answer: {{ $json.response }} ({{ $json.eval_count }} tokens, {{ $json.done_reason }})',
     '=Answer: {{ %s }} ({{ $json.usage.completion_tokens }} tokens, {{ $json.choices[0].finish_reason }})'
     % CONTENT),
    ('={{ $input.item.json.response }}', '={{ $input.item.json.choices[0].message.content }}'),
    ('={{ $input.first().json.response }}', '={{ $input.first().json.choices[0].message.content }}'),
    ('={{ $json.response.length > 10 }}', '={{ %s.length > 10 }}' % CONTENT),
    ('$json.response (not an expression, left alone)', '$json.response (not an expression, left alone)'),
    ('={{ $json.responseTime }}', '={{ $json.responseTime }}'),
    ('={{ $json.body.response }}', '={{ $json.body.response }}'),
])
def test_direct_reader_in_a_set_node(before, after):
    result = reader_result(set_node('Format', before))
    assert [s for s in result.skipped if s['kind'] == 'not_converted'] == []
    value = result.new_nodes[1]['parameters']['assignments']['assignments'][0]['value']
    assert value == after
    reads = result.conversions[0]['downstream']
    assert (reads == []) == (before == after)


def test_direct_reader_report_and_change():
    result = reader_result(set_node('Format', '={{ $json["response"] }}'))
    assert result.conversions[0]['downstream'] == [{
        'node': 'Format', 'parameter': 'parameters.assignments.assignments[0].value',
        'before': '$json["response"]', 'after': CONTENT}]
    change = [c for c in result.changes if c.node == 'Format'][0]
    assert (change.before, change.after) == ('={{ $json["response"] }}', '={{ %s }}' % CONTENT)


def test_if_node_and_code_node_readers():
    if_node = node('Check', 'n8n-nodes-base.if', 2, {'conditions': {'conditions': [
        {'id': 'c1', 'leftValue': '={{ $json.response }}', 'rightValue': 'yes',
         'operator': {'type': 'string', 'operation': 'contains'}}], 'combinator': 'and'}})
    code = code_node('Code', 'const out = [];\nfor (const item of $input.all()) {\n'
                     '  out.push({json: {t: items[0].json.response}});\n}\nreturn out;')
    nodes = [copy.deepcopy(ASK), if_node, code]
    result = plan(nodes, links(('Ask', 'Check'), ('Ask', 'Code')))
    assert result.new_nodes[1]['parameters']['conditions']['conditions'][0]['leftValue'] == '={{ %s }}' % CONTENT
    assert 'items[0].json.choices[0].message.content' in result.new_nodes[2]['parameters']['jsCode']
    assert [r['node'] for r in result.conversions[0]['downstream']] == ['Check', 'Code']


def test_chat_reader():
    result = reader_result(set_node('Format', '={{ $json.message.content }} by {{ $json["message"]["role"] }}'),
                           ask=CHAT_ASK)
    value = result.new_nodes[1]['parameters']['assignments']['assignments'][0]['value']
    assert value == '={{ %s }} by {{ $json.choices[0].message.role }}' % CONTENT
    # $json.response after a chat node was undefined before and stays so
    result = reader_result(set_node('Format', '={{ $json.response }}'), ask=CHAT_ASK)
    assert result.new_nodes[1]['parameters']['assignments']['assignments'][0]['value'] == '={{ $json.response }}'


@pytest.mark.parametrize('reference', [
    "$('Ask').item.json.response",
    '$("Ask").first().json.response',
    "$('Ask').last().json['response']",
    "$('Ask').all()[0].json.response",
    "$('Ask').itemMatching($itemIndex).json.response",
    '$node["Ask"].json.response',
    "$node['Ask'].json[\"response\"]",
    '$node.Ask.json.response',
    '$items("Ask")[0].json.response',
])
def test_reads_by_name_anywhere(reference):
    far = set_node('Far away', '={{ %s }}' % reference)
    code = code_node('Code', 'return [{json: {a: %s}}];' % reference)
    nodes = [copy.deepcopy(ASK), set_node('Next', 'x'), far, code]
    result = plan(nodes, links(('Ask', 'Next'), ('Next', 'Far away'), ('Far away', 'Code')))
    assert [s for s in result.skipped if s['kind'] == 'not_converted'] == []
    head = reference.split('.json')[0] + '.json'
    assert result.new_nodes[2]['parameters']['assignments']['assignments'][0]['value'] == \
        '={{ %s.choices[0].message.content }}' % head
    assert result.new_nodes[3]['parameters']['jsCode'] == \
        'return [{json: {a: %s.choices[0].message.content}}];' % head
    assert result.new_nodes[1] == nodes[1]


def test_reads_by_name_of_another_node_are_left_alone():
    other = v4('{"model": "x"}', url='http://elsewhere/api', name='Other')
    reader = set_node('Far', "={{ $('Other').item.json.response }} {{ $('Ask').isExecuted }}")
    result = plan([copy.deepcopy(ASK), other, reader], {})
    assert result.new_nodes[2] == reader
    assert [c.node for c in result.changes] == ['Ask'] * 5


@pytest.mark.parametrize('reader,reason', [
    (set_node('R', '={{ $json.done }}'), 'reads done, which the OpenAI answer does not have'),
    (set_node('R', '={{ $json.context }}'), 'reads context'),
    (set_node('R', '={{ $json.total_duration / 1e9 }}'), 'reads total_duration'),
    (set_node('R', '={{ JSON.stringify($json) }}'), 'reads the whole answer'),
    (set_node('R', '={{ $json }}'), 'reads the whole answer'),
    (set_node('R', '={{ Object.values($json).join() }}'), 'reads the whole answer'),
    (code_node('R', 'const j = $input.item.json; return [{json: {t: j.response}}];'), 'reads the whole answer'),
    (code_node('R', 'return items.map(i => ({json: {t: i.json.response}}));'), 'reads response in a way'),
    (node('R', 'n8n-nodes-base.functionItem', 1, {'functionCode': 'item.answer = item.response; return item;'}),
     'reads response in a way'),
    (code_node('R', 'return [{json: {t: _input.item.json["response"]}}]', language='python',
               pythonCode='return [{"json": {"t": _input.item.json["response"]}}]'), 'Python code reads response'),
    (set_node('R', '={{ $json.response + "{{" '), 'cannot be parsed'),
])
def test_direct_reads_that_cannot_be_rewritten(reader, reason):
    nodes = [copy.deepcopy(ASK), reader]
    skips = refused(nodes, links(('Ask', 'R')))
    assert len(skips) == 1 and skips[0]['node'] == 'Ask' and reason in skips[0]['reason'], skips


@pytest.mark.parametrize('text,reason', [
    ("={{ $('Ask').params.jsonBody }}", 'refers to it in a way that cannot be rewritten'),
    ("={{ $('Ask').item.json }}", 'reads the whole answer'),
    ("={{ $node['Ask'].json.created_at }}", 'reads created_at'),
    ("={{ $('Ask').all().map(i => i.json.response) }}", 'refers to it in a way'),
])
def test_reads_by_name_that_cannot_be_rewritten(text, reason):
    skips = refused([copy.deepcopy(ASK), set_node('Far', text)], {})
    assert len(skips) == 1 and reason in skips[0]['reason'], skips


def test_python_code_naming_the_node_is_refused():
    py = code_node('Py', '', language='python', pythonCode='x = _("Ask").first().json["response"]')
    skips = refused([copy.deepcopy(ASK), py], {})
    assert 'Python code refers to it by name' in skips[0]['reason']


def test_reader_with_another_source_refuses_both_the_reader_rewrite_and_the_conversion():
    other = set_node('Other', 'x')
    reader = set_node('R', '={{ $json.response }}')
    skips = refused([copy.deepcopy(ASK), other, reader], links(('Ask', 'R'), ('Other', 'R')))
    assert "also receives items from 'Other'" in skips[0]['reason']


def test_reader_with_another_source_that_does_not_read_the_answer_is_fine():
    result = plan([copy.deepcopy(ASK), set_node('Other', 'x'), set_node('R', '={{ $json.name }}')],
                  links(('Ask', 'R'), ('Other', 'R')))
    assert result.new_nodes is not None and result.conversions[0]['downstream'] == []


def test_two_converted_nodes_feeding_one_reader_convert_together():
    second = copy.deepcopy(ASK)
    second.update(name='Ask 2', id='id-Ask 2')
    nodes = [copy.deepcopy(ASK), second, set_node('R', '={{ $json.response }}')]
    result = plan(nodes, links(('Ask', 'R'), ('Ask 2', 'R')))
    assert [c['node'] for c in result.conversions] == ['Ask', 'Ask 2']
    assert result.new_nodes[2]['parameters']['assignments']['assignments'][0]['value'] == '={{ %s }}' % CONTENT
    assert result.conversions[0]['downstream'] == result.conversions[1]['downstream']


def test_one_refused_source_refuses_its_partner():
    second = v4('{"model": "llama3", "prompt": "x", "images": ["a"]}', name='Ask 2')
    nodes = [copy.deepcopy(ASK), second, set_node('R', '={{ $json.response }}')]
    skips = refused(nodes, links(('Ask', 'R'), ('Ask 2', 'R')))
    assert sorted(s['node'] for s in skips) == ['Ask', 'Ask 2']
    assert "also receives items from 'Ask 2'" in [s for s in skips if s['node'] == 'Ask'][0]['reason']


def test_generate_and_chat_into_one_reader_are_refused():
    chat = copy.deepcopy(CHAT_ASK)
    chat.update(name='Chat', id='id-Chat')
    skips = refused([copy.deepcopy(ASK), chat, set_node('R', '={{ $json.response }}')],
                    links(('Ask', 'R'), ('Chat', 'R')))
    assert sorted(s['node'] for s in skips) == ['Ask', 'Chat']
    assert all('both a generate and a chat node' in s['reason'] for s in skips)


def test_chain_of_two_converted_nodes():
    second = v4('={"model": "llama3", "prompt": "Shorten: {{ $json.response }}", "stream": false}', name='Ask 2')
    result = plan([copy.deepcopy(ASK), second], links(('Ask', 'Ask 2')))
    assert result.new_nodes[1]['parameters']['jsonBody'] == (
        '={"model": "llama3", "messages": [{"role": "user", "content": "Shorten: {{ %s }}"}], "stream": false}'
        % CONTENT)
    assert result.conversions[0]['downstream'] == [{'node': 'Ask 2', 'parameter': 'parameters.jsonBody',
                                                    'before': '$json.response', 'after': CONTENT}]


def test_reader_that_is_refused_itself_refuses_the_source():
    second = v4('={"model": "llama3", "prompt": "Shorten: {{ $json.response }}", "images": ["x"]}', name='Ask 2')
    skips = refused([copy.deepcopy(ASK), second], links(('Ask', 'Ask 2')))
    reasons = dict((s['node'], s['reason']) for s in skips)
    assert 'images cannot be converted' in reasons['Ask 2']
    assert 'is left as it is (its own conversion was refused)' in reasons['Ask']


def test_model_read_is_noted_when_the_map_renames():
    nodes = [copy.deepcopy(ASK), set_node('R', '={{ $json.model }}')]
    result = plan(nodes, links(('Ask', 'R')), ctx({'llama3': 'gw'}))
    assert result.conversions[0]['notes'] == ["node 'R' reads model, which now holds the LiteLLM name 'gw' "
                                              "(was 'llama3')"]
    assert result.new_nodes[1] == nodes[1]


def test_whole_answer_leaving_the_workflow_is_noted():
    hook = node('Webhook', 'n8n-nodes-base.webhook', 2, {'path': 'x', 'responseMode': 'lastNode'})
    result = plan([hook, copy.deepcopy(ASK)], links(('Webhook', 'Ask')))
    assert result.conversions[0]['notes'] == [
        "the webhook 'Webhook' answers with the last node's output; when that is this node, the caller now gets an "
        "OpenAI chat completion: the text is at choices[0].message.content"]
    respond = node('Respond', 'n8n-nodes-base.respondToWebhook', 1.1, {})
    result = plan([copy.deepcopy(ASK), respond], links(('Ask', 'Respond')))
    assert result.conversions[0]['notes'] == [
        "node 'Respond' answers the webhook with this node's whole output, which is now an OpenAI chat completion: "
        "the text is at choices[0].message.content"]
    params = {'respondWith': 'json', 'responseBody': '={{ $json.response }}'}
    respond = node('Respond', 'n8n-nodes-base.respondToWebhook', 1.1, params)
    result = plan([copy.deepcopy(ASK), respond], links(('Ask', 'Respond')))
    assert result.conversions[0]['notes'] == []
    assert result.new_nodes[1]['parameters']['responseBody'] == '={{ %s }}' % CONTENT


def test_converted_workflow_is_stable():
    nodes = [copy.deepcopy(ASK), set_node('R', '={{ $json.response }}'),
             code_node('C', "return [{json: {a: $('Ask').item.json.response}}]")]
    connections = links(('Ask', 'R'), ('R', 'C'))
    first = plan(nodes, connections)
    second = plan(first.new_nodes, connections)
    assert second.new_nodes is None and second.changes == [] and second.skipped == []


def test_plan_workflow_reports_conversions_with_the_workflow():
    workflow = {'id': 'w1', 'name': 'WF', 'nodes': [copy.deepcopy(ASK), set_node('R', '={{ $json.response }}')],
                'connections': links(('Ask', 'R')), 'active': False, 'activeVersionId': None, 'isArchived': False}
    result = plan_workflow(workflow, RULES, context=ctx())
    assert result.action == 'put' and result.changed_nodes == ['Ask', 'R']
    assert result.conversions[0]['id'] == 'w1' and result.conversions[0]['name'] == 'WF'
    archived = dict(workflow, isArchived=True)
    assert plan_workflow(archived, RULES, context=ctx()).conversions == []
    pinned = dict(workflow, pinData={'Ask': [{'json': {'response': 'pinned'}}]})
    assert plan_workflow(pinned, RULES, context=ctx()).conversions[0]['notes'] == [
        'the workflow pins data of this node in the old shape; runs from the editor use it (production runs do '
        'not), so unpin it or run the node again']


def test_phase_one_rules_without_convert_are_unchanged():
    rules = build_rules([{'from': PUBLIC, 'to': GEN}])
    nodes = [v4('{"model": "llama3", "prompt": "x"}', url=PUBLIC), set_node('R', '={{ $json.response }}')]
    result = plan_nodes(copy.deepcopy(nodes), rules, links(('Ask', 'R')), None)
    assert [rw.path_text(c.path) for c in result.changes] == ['parameters.url'] and result.conversions == []


def test_canonical_untouched_nodes_in_a_mixed_workflow():
    bad = v4('{"model": "llama3", "prompt": "x", "images": ["a"]}', name='Bad')
    nodes = [copy.deepcopy(ASK), bad]
    result = plan(nodes, {})
    assert canonical(result.new_nodes[1]) == canonical(bad)
    assert result.new_nodes[0]['parameters']['url'] == GW
