"""The nodes that read a converted node's answer: rewritten exactly, or the conversion is refused."""

from __future__ import annotations

import copy

import pytest


from test_n8n_openai_chat import (
    ASK, CHAT, code_node, ctx, links, node, plan, refused, set_node, v4,
)


# ---------------------------------------------------------------------------------------------
# reads of the answer

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
