"""The openai_chat converter over whole workflows: rules, model_map, what is converted together, stability."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_openai_chat as oa
from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_rewrite as rw
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_chat import Context, OpenAIChatConverter
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


# A generate call whose answer the tests read.
ASK = v4('={{ JSON.stringify({model: "llama3", prompt: $json.q, stream: false}) }}')


# ---------------------------------------------------------------------------------------------
# rules, model_map and names

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
# whole workflows

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
