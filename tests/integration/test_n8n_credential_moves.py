"""n8n_workflow_urls credential_moves against the harness's real n8n (2.41.1), run through ansible like a task: a
LangChain Ollama Chat Model on an ollamaApi credential with the public base URL moves to a credential created once
with the internal route, a second run writes nothing, and the restore gives back exactly the workflow it was. The
workflow and the credentials carry a unique prefix and are deleted at the end."""

from __future__ import annotations

import uuid

import pytest

from conftest import run_module
from n8n_corpus import manual, node

# Phase 2's credential or credential moves: n8n 2.0 or later (conftest.needs_credential_listing).
pytestmark = pytest.mark.usefixtures('needs_credential_listing')

OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'


@pytest.fixture
def live(n8n):
    api = n8n.client()
    prefix = 'mv-%s' % uuid.uuid4().hex[:8]
    old = api.call('POST', '/credentials', {'name': prefix + ' Ollama public', 'type': 'ollamaApi',
                                            'data': {'baseUrl': 'https://llm.example.com'}})
    trigger = manual()
    chain = node('Basic LLM Chain', '@n8n/n8n-nodes-langchain.chainLlm', 1.7,
                 {'promptType': 'define', 'text': 'hello'})
    model = node('Ollama Chat Model', '@n8n/n8n-nodes-langchain.lmChatOllama', 1,
                 {'model': 'llama3:latest', 'options': {}},
                 credentials={'ollamaApi': {'id': old['id'], 'name': old['name']}})
    connections = {trigger['name']: {'main': [[{'node': 'Basic LLM Chain', 'type': 'main', 'index': 0}]]},
                   'Ollama Chat Model': {'ai_languageModel': [[{'node': 'Basic LLM Chain',
                                                                'type': 'ai_languageModel', 'index': 0}]]}}
    created = api.call('POST', '/workflows', {'name': prefix + ' chain', 'nodes': [trigger, chain, model],
                                              'connections': connections, 'settings': {'executionOrder': 'v1'}})
    state = {'api': api, 'prefix': prefix, 'wid': created['id'], 'old': old}
    try:
        yield state
    finally:
        api.request('DELETE', '/api/v1/workflows/%s' % created['id'])
        for cred in api.call('GET', '/credentials?limit=250')['data']:
            if cred['name'].startswith(prefix):
                api.request('DELETE', '/api/v1/credentials/%s' % cred['id'])


def model_credential(workflow):
    return [n for n in workflow['nodes'] if n['name'] == 'Ollama Chat Model'][0]['credentials']['ollamaApi']


def test_langchain_nodes_move_to_the_internal_credential_and_back(n8n, live, tmp_path):
    api = live['api']
    internal = live['prefix'] + ' Ollama (llama-nginx)'
    args = {'url': n8n.url, 'api_key': n8n.api_key, 'rewrites': [{'from': OLD, 'to': NEW}],
            'workflow_ids': [live['wid']], 'backup_dir': str(tmp_path / 'run'), 'delay': 0,
            'credential_moves': [{'type': 'ollamaApi', 'from': [live['old']['name']], 'to': internal,
                                  'data': {'baseUrl': 'http://llama-nginx'}}]}
    before = api.get(live['wid'])
    checked, dummy = run_module('n8n_workflow_urls', args, check=True)
    assert not checked.get('failed') and checked['changed'] is True, checked
    assert checked['credential_moves'][0]['action'] == 'create'
    assert not [c for c in api.call('GET', '/credentials?limit=250')['data'] if c['name'] == internal]
    assert api.get(live['wid'])['versionId'] == before['versionId']

    result, dummy = run_module('n8n_workflow_urls', args)
    assert not result.get('failed'), result
    made = [c for c in api.call('GET', '/credentials?limit=250')['data'] if c['name'] == internal]
    assert len(made) == 1 and made[0]['type'] == 'ollamaApi'
    assert result['credential_moves'] == [{'type': 'ollamaApi', 'name': internal, 'id': made[0]['id'],
                                           'action': 'created'}]
    assert model_credential(api.get(live['wid'])) == {'id': made[0]['id'], 'name': internal}
    assert not [s for s in result['skipped_items'] if s['kind'] == 'credential']

    again, dummy = run_module('n8n_workflow_urls', args)
    assert not again.get('failed') and again['changed'] is False, again
    assert len([c for c in api.call('GET', '/credentials?limit=250')['data'] if c['name'] == internal]) == 1

    restored, dummy = run_module('n8n_workflow_urls', {
        'url': n8n.url, 'api_key': n8n.api_key, 'state': 'restored', 'backup': result['backup_folder'],
        'backup_dir': str(tmp_path / 'rollback'), 'delay': 0})
    assert not restored.get('failed') and [w['id'] for w in restored['changed_workflows']] == [live['wid']]
    after = api.get(live['wid'])
    assert model_credential(after) == {'id': live['old']['id'], 'name': live['old']['name']}
    assert after['nodes'] == before['nodes'] and after['connections'] == before['connections']
