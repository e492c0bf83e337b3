"""Property-based tests of the openai_chat conversion: values and expressions are kept verbatim, the user
message is exactly the old prompt, and a node that is not converted stays byte-identical (with its readers)."""

from __future__ import annotations

import copy
import json
import re

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_body import parse_object_expression
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_chat import Context, OpenAIChatConverter
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import build_rules, plan_nodes

GEN = 'http://llama-nginx/api/generate'
GW = 'http://llama-litellm:4000/v1/chat/completions'
RULES = build_rules([{'from': GEN, 'to': GW, 'convert': 'openai_chat'}], {'openai_chat': OpenAIChatConverter()})
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ctx(model_map=None):
    context = Context(model_map or {}, 'LiteLLM')
    context.credential['id'] = 'c1'
    return context


def http(body, **params):
    base = {'method': 'POST', 'url': GEN, 'sendBody': True, 'specifyBody': 'json', 'jsonBody': body}
    base.update(params)
    return {'id': 'n1', 'name': 'Ask', 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2,
            'position': [0, 0], 'parameters': base}


def reader(value, name='Reader'):
    return {'id': 'n-' + name, 'name': name, 'type': 'n8n-nodes-base.set', 'typeVersion': 3.4, 'position': [0, 0],
            'parameters': {'assignments': {'assignments': [{'id': 'a', 'name': 'x', 'value': value,
                                                            'type': 'string'}]}}}


CONNECTIONS = {'Ask': {'main': [[{'node': 'Reader', 'type': 'main', 'index': 0}]]}}


def run(nodes, connections=None, context=None):
    return plan_nodes(nodes, RULES, connections or {}, context or ctx())


# ---------------------------------------------------------------------------------------------
# strategies

identifiers = st.from_regex(r'\A[a-z][a-zA-Z0-9_]{0,8}\Z', fullmatch=True)
texts = st.text(max_size=40)
# Text that stands inside an n8n template as JSON string content (escaped). Braces next to an expression
# ("{{{ x }}") are ambiguous and refused (tested elsewhere), so the text holds none.
json_string_content = texts.map(lambda t: json.dumps(t)[1:-1]).filter(lambda t: '{' not in t and '}' not in t)


@st.composite
def js_expressions(draw, depth=0):
    """JavaScript expressions of the kinds n8n users write (no "/", balanced, no "}}")."""
    choice = draw(st.integers(0, 6 if depth < 2 else 3))
    if choice == 0:
        return '$json.' + '.'.join(draw(st.lists(identifiers, min_size=1, max_size=3)))
    if choice == 1:
        key = draw(st.text(alphabet='abc xyz-_"\'', max_size=8))
        return '$json[%s]' % json.dumps(key)
    if choice == 2:
        return "$('%s').item.json.%s" % (draw(st.sampled_from(['Webhook', 'Get data', 'Node 2'])), draw(identifiers))
    if choice == 3:
        content = draw(st.text(alphabet=st.characters(blacklist_characters='\\`$', blacklist_categories=['Cs']),
                               max_size=10))
        return '`%s ${%s}`' % (content, draw(js_expressions(depth=depth + 1)))
    if choice == 4:
        return '%s + %s' % (draw(js_expressions(depth=depth + 1)), json.dumps(draw(texts)))
    if choice == 5:
        return '(%s || %s).trim()' % (draw(js_expressions(depth=depth + 1)), json.dumps(draw(texts)))
    return '%s ? %s : %s' % (draw(js_expressions(depth=depth + 1)), json.dumps(draw(texts)),
                             draw(js_expressions(depth=depth + 1)))


def no_double_braces(text):
    return '}}' not in text and '{{' not in text


@st.composite
def template_strings(draw):
    """The content of a JSON string inside an n8n template: text mixed with {{ expressions }}."""
    pieces = draw(st.lists(st.one_of(json_string_content,
                                     js_expressions().filter(no_double_braces).map(lambda e: '{{ %s }}' % e)),
                           min_size=1, max_size=4))
    text = ''.join(pieces)
    assume(text)       # an empty prompt only loads the model: refused, tested elsewhere
    return text


options = st.fixed_dictionaries({}, optional={
    'temperature': st.floats(0, 2, allow_nan=False).map(lambda f: round(f, 3)),
    'num_predict': st.integers(1, 4096), 'top_p': st.floats(0, 1).map(lambda f: round(f, 3)),
    'seed': st.integers(0, 2 ** 31), 'stop': st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3),
    'num_ctx': st.integers(512, 32768)})


# ---------------------------------------------------------------------------------------------

@PROPS
@given(prompt=st.text(min_size=1), system=st.one_of(st.none(), st.text()), opts=options,
       model=st.sampled_from(['llama3', 'llama3:latest', 'qwen2.5:7b']), indent=st.sampled_from([None, 2, 4]),
       stream=st.sampled_from([None, False]))
def test_property_plain_json_keeps_the_prompt_exactly(prompt, system, opts, model, indent, stream):
    body = {'model': model, 'prompt': prompt}
    if system is not None:
        body['system'] = system
    if opts:
        body['options'] = opts
    if stream is not None:
        body['stream'] = stream
    text = json.dumps(body, indent=indent, ensure_ascii=False)
    result = run([http(text)], context=ctx({'llama3': 'gw-llama', 'qwen2.5:7b': 'gw-qwen'}))
    out = json.loads(result.new_nodes[0]['parameters']['jsonBody'])
    expected_messages = ([{'role': 'system', 'content': system}] if system else []) + \
        [{'role': 'user', 'content': prompt}]
    assert out['messages'] == expected_messages
    assert out['model'] == ('gw-qwen' if model.startswith('qwen') else 'gw-llama')
    mapped = {'temperature': 'temperature', 'num_predict': 'max_tokens', 'top_p': 'top_p', 'seed': 'seed',
              'stop': 'stop'}
    assert dict((k, v) for k, v in out.items() if k in mapped.values()) == \
        dict((mapped[k], v) for k, v in opts.items() if k in mapped)
    assert out['stream'] is False
    assert set(out) <= {'model', 'messages', 'stream'} | set(mapped.values())


@PROPS
@given(prompt=template_strings(), system=st.one_of(st.none(), template_strings()), temp=js_expressions())
def test_property_template_json_keeps_expressions_verbatim(prompt, system, temp):
    assume(no_double_braces(temp))
    body = '={"model": "llama3", %s"prompt": "%s", "options": {"temperature": {{ %s }}}, "stream": false}' % (
        '"system": "%s", ' % system if system is not None else '', prompt, temp)
    result = run([http(body)])
    out = result.new_nodes[0]['parameters']['jsonBody']
    system_message = '{"role": "system", "content": "%s"}, ' % system if system else ''
    assert out == ('={"model": "llama3", "messages": [%s{"role": "user", "content": "%s"}], '
                   '"temperature": {{ %s }}, "stream": false}' % (system_message, prompt, temp))


@PROPS
@given(prompt=js_expressions(), system=st.one_of(st.none(), texts), quote=st.sampled_from(['"', "'"]),
       keys=st.sampled_from(['ident', '"', "'"]), stringify=st.booleans())
def test_property_object_literal_keeps_expressions_verbatim(prompt, system, quote, keys, stringify):
    assume(no_double_braces(prompt) and (system is None or no_double_braces(system)))

    def key(name):
        return name if keys == 'ident' else keys + name + keys

    def lit(text):
        if quote == '"':
            return json.dumps(text)
        return "'" + json.dumps(text)[1:-1].replace('\\"', '"').replace("'", "\\'") + "'"
    members = ['%s: %s' % (key('model'), lit('llama3'))]
    if system is not None:
        members.append('%s: %s' % (key('system'), lit(system)))
    members.append('%s: %s' % (key('prompt'), prompt))
    members.append('%s: false' % key('stream'))
    obj = '{%s}' % ', '.join(members)
    body = '={{ JSON.stringify(%s) }}' % obj if stringify else '={{ %s }}' % obj
    result = run([http(body)])
    out = result.new_nodes[0]['parameters']['jsonBody']
    prefix, tree, suffix, dummy, dummy2 = parse_object_expression(out[1:])
    messages = tree.get('messages').items
    assert messages[-1].get('content').src == prompt
    if system:
        assert messages[0].get('content').src == lit(system)
    assert ('%s: %s' % (key('content'), prompt)) in out
    assert out.startswith('={{ JSON.stringify({' if stringify else '={{ {')


@PROPS
@given(prompt=st.text(min_size=1).filter(lambda t: no_double_braces(t) and not t.startswith('=')))
def test_property_keypair_static_prompt_survives(prompt):
    node = http(None, specifyBody='keypair', bodyParameters={'parameters': [
        {'name': 'model', 'value': 'llama3'}, {'name': 'prompt', 'value': prompt}]})
    del node['parameters']['jsonBody']
    result = run([node])
    messages = result.new_nodes[0]['parameters']['bodyParameters']['parameters'][1]['value']
    found = re.match(r'^=\{\{ \[\{"role": "user", "content": (.*)\}\] \}\}$', messages, re.S)
    assert found and json.loads(found.group(1)) == prompt


READS = ['{{ $json.response }}', '{{ $json["response"].trim() }}', '{{ $json.name }}',
         "{{ $('Ask').item.json.response }}"]


@PROPS
@given(before=st.lists(st.one_of(texts.filter(lambda t: '{' not in t and '}' not in t), st.sampled_from(READS)),
                       max_size=5))
def test_property_reads_are_the_only_change_downstream(before):
    value = '=' + ''.join(before)
    nodes = [http('{"model": "llama3", "prompt": "x", "stream": false}'), reader(value)]
    result = run(copy.deepcopy(nodes), CONNECTIONS)
    after = result.new_nodes[1]['parameters']['assignments']['assignments'][0]['value']
    expected = ''.join(piece.replace('.response', '.choices[0].message.content').replace(
        '["response"]', '.choices[0].message.content') if piece in READS else piece for piece in before)
    assert after == '=' + expected
    assert len(result.conversions[0]['downstream']) == len([p for p in before if p in READS and 'response' in p])


POISONS = [
    ('images', lambda b: dict(b, images=['aGk='])),
    ('template', lambda b: dict(b, template='{{ .Prompt }}')),
    ('raw', lambda b: dict(b, raw=True)),
    ('stream', lambda b: dict(b, stream=True)),
    ('top_k', lambda b: dict(b, options={'top_k': 3})),
    ('context', lambda b: dict(b, context=[1, 2, 3])),
]
NODE_POISONS = [
    ('method', lambda n: n['parameters'].update(method='GET')),
    ('raw body', lambda n: n['parameters'].update(contentType='raw', body='x')),
    ('dynamic', lambda n: n['parameters'].update(jsonBody='={{ JSON.stringify($json.request) }}')),
    ('full response', lambda n: n['parameters'].update(options={'response': {'response': {'fullResponse': True}}})),
    ('tool', lambda n: n.update(type='n8n-nodes-base.httpRequestTool')),
]
READER_POISONS = ['={{ $json.done }}', '={{ JSON.stringify($json) }}', '={{ $json.total_duration }}',
                  "={{ $('Ask').item.json.context }}"]


@PROPS
@given(prompt=texts.filter(bool), reads=st.sampled_from(['={{ $json.response }}', '={{ $json.name }}', 'text']),
       body_poison=st.one_of(st.none(), st.sampled_from(POISONS)),
       node_poison=st.one_of(st.none(), st.sampled_from(NODE_POISONS)),
       reader_poison=st.one_of(st.none(), st.sampled_from(READER_POISONS)))
def test_property_refused_nodes_and_their_readers_are_byte_identical(prompt, reads, body_poison, node_poison,
                                                                     reader_poison):
    assume(body_poison or node_poison or reader_poison)
    body = {'model': 'llama3', 'prompt': prompt, 'stream': False}
    if body_poison:
        body = body_poison[1](body)
    ask = http(json.dumps(body))
    if node_poison:
        node_poison[1](ask)
    nodes = [ask, reader(reads), reader(reader_poison or '={{ $json.response }}', name='Far')]
    connections = dict(CONNECTIONS, Reader={'main': [[{'node': 'Far', 'type': 'main', 'index': 0}]]})
    if reader_poison:
        connections = {'Ask': {'main': [[{'node': 'Far', 'type': 'main', 'index': 0}]]}}
    snapshot = json.dumps(nodes, sort_keys=True)
    result = run(nodes, connections)
    assert json.dumps(nodes, sort_keys=True) == snapshot
    assert result.new_nodes is None and result.changes == [] and result.conversions == []
    assert [s['kind'] for s in result.skipped] == ['not_converted']


@PROPS
@given(prompt=template_strings(), reads=st.sampled_from(['={{ $json.response }}', "={{ $('Ask').first().json.response }}"]))
def test_property_conversion_is_idempotent(prompt, reads):
    nodes = [http('={"model": "llama3", "prompt": "%s", "stream": false}' % prompt), reader(reads)]
    first = run(copy.deepcopy(nodes), CONNECTIONS)
    assert first.new_nodes is not None
    second = run(copy.deepcopy(first.new_nodes), CONNECTIONS)
    assert second.new_nodes is None and second.changes == [] and second.skipped == []
