"""n8n_workflow_urls credential_moves: LangChain Ollama nodes move from the named ollamaApi credentials to one
whose base URL is the internal route (created once by name), and a restore puts the old references back."""

from __future__ import annotations

import json

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import RuleError, build_moves
from ansible_collections.local_ai.llm_gateway.plugins.modules import n8n_workflow_urls

# args and n8n are fixtures
from test_n8n_workflow_urls import OLD, NEW, TRIGGER  # noqa: F401
from test_n8n_workflow_urls_convert import (  # noqa: F401 pylint: disable=unused-import
    calls, n8n,
)

import pytest

OLD_CRED = {'id': 'old1', 'name': 'Ollama account', 'type': 'ollamaApi', 'createdAt': 't', 'updatedAt': 't',
            'data': {'baseUrl': 'https://llm.example.com'}}
OTHER_CRED = {'id': 'gpu2', 'name': 'GPU box', 'type': 'ollamaApi', 'createdAt': 't', 'updatedAt': 't',
              'data': {'baseUrl': 'http://10.0.0.9:11434'}}
INTERNAL = 'Ollama (llama-nginx)'
MOVES = [{'type': 'ollamaApi', 'from': ['Ollama account'], 'to': INTERNAL, 'data': {'baseUrl': 'http://llama-nginx'}}]


def langchain(wid, cred):
    model = {'id': 'n-model', 'name': 'Ollama Chat Model', 'type': '@n8n/n8n-nodes-langchain.lmChatOllama',
             'typeVersion': 1, 'position': [0, 0], 'parameters': {'model': 'llama3:latest', 'options': {}},
             'credentials': {'ollamaApi': {'id': cred['id'], 'name': cred['name']}}}
    chain = {'id': 'n-chain', 'name': 'Basic LLM Chain', 'type': '@n8n/n8n-nodes-langchain.chainLlm',
             'typeVersion': 1.7, 'position': [200, 0], 'parameters': {'prompt': 'hi'}}
    return {'id': wid, 'name': 'WF %s' % wid, 'nodes': [TRIGGER, chain, model],
            'connections': {'Hook': {'main': [[{'node': 'Basic LLM Chain', 'type': 'main', 'index': 0}]]},
                            'Ollama Chat Model': {'ai_languageModel': [[{'node': 'Basic LLM Chain',
                                                                         'type': 'ai_languageModel', 'index': 0}]]}}}


@pytest.fixture
def args(tmp_path):
    def make(**extra):
        base = {'url': 'http://127.0.0.1:5678', 'api_key': 'n8n_api_unit-test-secret-7f3a9c',
                'rewrites': [{'from': OLD, 'to': NEW}], 'credential_moves': MOVES,
                'backup_dir': str(tmp_path / 'b'), 'delay': 0}
        base.update(extra)
        return base
    return make


def model_credential(fake, wid):
    return [n for n in fake.store[wid]['nodes'] if n['name'] == 'Ollama Chat Model'][0]['credentials']['ollamaApi']


def test_nodes_move_to_a_credential_created_once_then_nothing(run_module, n8n, args, tmp_path):
    fake = n8n(langchain('a', OLD_CRED), langchain('b', OTHER_CRED), credentials=[OLD_CRED, OTHER_CRED])
    checked, failed = run_module(n8n_workflow_urls, args(), check=True, diff=True)
    assert not failed and checked['changed'] is True
    assert checked['credential_moves'] == [{'type': 'ollamaApi', 'name': INTERNAL, 'id': None, 'action': 'create'}]
    assert len(fake.credentials) == 2 and fake.writes() == []
    assert checked['diff'][0]['after'] == {'Ollama Chat Model': {'credentials.ollamaApi': {'id': None,
                                                                                           'name': INTERNAL}}}
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    created = [c for c in fake.credentials if c['name'] == INTERNAL]
    assert len(created) == 1 and created[0]['type'] == 'ollamaApi'
    assert created[0]['data'] == {'baseUrl': 'http://llama-nginx'}
    assert result['credential_moves'] == [{'type': 'ollamaApi', 'name': INTERNAL, 'id': created[0]['id'],
                                           'action': 'created'}]
    assert model_credential(fake, 'a') == {'id': created[0]['id'], 'name': INTERNAL}
    assert model_credential(fake, 'b') == {'id': 'gpu2', 'name': 'GPU box'}, 'a credential not named stays'
    assert [s['kind'] for s in result['skipped_items'] if s['id'] == 'b'] == ['credential']
    assert [w['id'] for w in result['changed_workflows']] == ['a']
    assert 'http://llama-nginx' not in json.dumps(result), 'the credential data is not returned'
    # recorded as the module's own (restore.yml's n8n_export_changes never carries it)
    record = json.load(open(str(tmp_path / 'b' / 'credentials.json')))['credentials']
    assert record[created[0]['id']]['created'] is True and record[created[0]['id']]['name'] == INTERNAL
    # a second run: nothing to move, nothing created, nothing written
    fake.calls = []
    again, failed = run_module(n8n_workflow_urls, args())
    assert not failed and again['changed'] is False and fake.writes() == []
    assert again['credential_moves'][0]['action'] == 'unused'
    assert not [s for s in again['skipped_items'] if s['id'] == 'a']
    # the restore puts the old reference back; the old credential was never touched
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and model_credential(fake, 'a') == {'id': 'old1', 'name': 'Ollama account'}
    assert [c for c in fake.credentials if c['id'] == 'old1'][0]['data'] == OLD_CRED['data']


def test_an_existing_target_is_reused_and_missing_data_fails_before_any_write(run_module, n8n, args):
    target = {'id': 'int9', 'name': INTERNAL, 'type': 'ollamaApi', 'createdAt': 't', 'updatedAt': 't',
              'data': {'baseUrl': 'http://llama-nginx'}}
    fake = n8n(langchain('a', OLD_CRED), credentials=[OLD_CRED, target])
    result, failed = run_module(n8n_workflow_urls, args(credential_moves=[dict(MOVES[0], data=None)]))
    assert not failed and result['credential_moves'][0] == {'type': 'ollamaApi', 'name': INTERNAL, 'id': 'int9',
                                                            'action': 'reused'}
    assert model_credential(fake, 'a') == {'id': 'int9', 'name': INTERNAL}
    assert [c['method'] for c in fake.writes()] == ['PUT']
    fake = n8n(langchain('a', OLD_CRED), credentials=[OLD_CRED])
    result, failed = run_module(n8n_workflow_urls, args(credential_moves=[dict(MOVES[0], data=None)]))
    assert failed and 'credential_moves[].data is not set' in result['msg'] and fake.writes() == []


def test_bad_moves_are_refused():
    for specs, message in (([{'type': 'httpHeaderAuth', 'from': ['x'], 'to': 'y'}], 'not an LLM credential'),
                           ([{'type': 'ollamaApi', 'from': [], 'to': 'y'}], 'needs from'),
                           ([{'type': 'ollamaApi', 'from': ['y'], 'to': 'y'}], 'both in from and to'),
                           ([{'type': 'ollamaApi', 'from': ['x'], 'to': 'y'}] * 2, 'a second move')):
        with pytest.raises(RuleError, match=message):
            build_moves(specs)
