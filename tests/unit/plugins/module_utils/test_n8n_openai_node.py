"""One node converted: its request checked, its credential attached, or refused."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_rewrite as rw
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_chat import Context
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import apply_credential, build_rules, plan_nodes

from test_n8n_openai_chat import (
    CONVERTERS, CRED, GEN, GW, converted, ctx, plan, refused, v1, v4,
)


# ---------------------------------------------------------------------------------------------
# the credential

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
    apply_credential(result.new_nodes, result.changes, {'id': 'new-id', 'name': 'LiteLLM'}, 'httpHeaderAuth')
    assert result.new_nodes[0]['credentials'] == {'httpHeaderAuth': {'id': 'new-id', 'name': 'LiteLLM'}}
    assert [c.after for c in result.changes if c.path == ('credentials', 'httpHeaderAuth')] == [
        {'id': 'new-id', 'name': 'LiteLLM'}]


# ---------------------------------------------------------------------------------------------
# refusals of the node itself

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
