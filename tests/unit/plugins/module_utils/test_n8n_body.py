"""The body tree: each body shape n8n stores is read and written back exactly (through the conversion)."""

from __future__ import annotations

import json

import pytest


from test_n8n_openai_chat import (
    CHAT, CRED, GEN, GW, converted, ctx, node, refused, v1, v4,
)


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
# key-value pairs that cannot be written back

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
