"""What Ollama's request fields become in an OpenAI chat completions request, and what is refused."""

from __future__ import annotations

import json

import pytest


from test_n8n_openai_chat import (
    CHAT, converted, ctx, refused, v4,
)


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


def test_model_map_refusals():
    context = ctx({'mistral': 'mistral'})
    skips = refused([v4('{"model": "llama3", "prompt": "x"}')], context=context)
    assert "the model 'llama3' is not in model_map" in skips[0]['reason']
    skips = refused([v4('={"model": "{{ $json.m }}", "prompt": "x"}')], context=context)
    assert 'model is computed at run time' in skips[0]['reason']
