"""n8n_workflow_urls's secrets lifecycle against the harness's real n8n (2.41.1), run through ansible like a task:
phase 2 creates the credential with key A, a new key B is stored with one PATCH and a second run makes no write,
the rollback puts the workflow back and state credential_absent deletes the credential. The workflow and the
credential carry a unique prefix and are deleted at the end whatever happened."""

from __future__ import annotations

import json
import os
import stat
import uuid

import pytest

from conftest import run_module
from n8n_corpus import chain, http, manual

# Phase 2's credential or credential moves: n8n 2.0 or later (conftest.needs_credential_listing).
pytestmark = pytest.mark.usefixtures('needs_credential_listing')

GEN = 'http://llama-nginx/api/generate'
GW = 'http://llama-litellm:4000/v1/chat/completions'
RULES = [{'from': GEN, 'to': GW, 'convert': 'openai_chat'}]
KEY_A = 'Bearer sk-it-rotate-a-%s' % uuid.uuid4().hex
KEY_B = 'Bearer sk-it-rotate-b-%s' % uuid.uuid4().hex
BODY = '={{ JSON.stringify({model: "llama3", prompt: $json.prompt, stream: false}) }}'


@pytest.fixture
def live(n8n):
    api = n8n.client()
    prefix = 'rot-%s' % uuid.uuid4().hex[:8]
    nodes, connections = chain(manual(), http('Ask Ollama', GEN, method='POST', sendBody=True, specifyBody='json',
                                              jsonBody=BODY, options={}))
    created = api.call('POST', '/workflows', {'name': prefix + ' wf', 'nodes': nodes, 'connections': connections,
                                              'settings': {'executionOrder': 'v1'}})
    state = {'api': api, 'prefix': prefix, 'credential': prefix + ' LiteLLM', 'wid': created['id']}
    try:
        yield state
    finally:
        api.request('DELETE', '/api/v1/workflows/%s' % created['id'])
        for cred in ours(api, state['credential']):
            api.request('DELETE', '/api/v1/credentials/%s' % cred['id'])


def ours(api, name):
    return [c for c in api.call('GET', '/credentials?limit=250')['data'] if c['name'] == name]


def assert_no_key(*things):
    for thing in things:
        text = thing if isinstance(thing, str) else json.dumps(thing)
        assert KEY_A not in text and KEY_B not in text and 'sk-it-rotate' not in text


def test_rotate_then_remove(n8n, live, tmp_path):
    api = live['api']
    base = {'url': n8n.url, 'api_key': n8n.api_key, 'rewrites': RULES, 'workflow_ids': [live['wid']],
            'backup_dir': str(tmp_path / 'backups')}

    def phase2(value, **kwargs):
        args = dict(base, auth={'credential_name': live['credential'], 'value': value})
        result, dummy = run_module('n8n_workflow_urls', args, **kwargs)
        assert not result.get('failed'), result
        assert_no_key(result['_stdout'])
        return result

    first = phase2(KEY_A)
    assert first['credential']['action'] == 'created'
    cred_id = first['credential']['id']
    stored = ours(api, live['credential'])
    assert [c['id'] for c in stored] == [cred_id]
    record_path = tmp_path / 'backups' / 'credentials.json'
    assert stat.S_IMODE(os.stat(str(record_path)).st_mode) == 0o600
    assert_no_key(record_path.read_text())
    assert json.loads(record_path.read_text())['credentials'][cred_id]['created'] is True

    checked = phase2(KEY_B, check=True, diff=True)
    assert checked['changed'] is True and checked['credential']['action'] == 'update'
    assert 'PATCH' not in checked['api_calls']
    assert ours(api, live['credential'])[0]['updatedAt'] == stored[0]['updatedAt']

    rotated = phase2(KEY_B)
    assert rotated['changed'] is True and rotated['credential'] == {
        'id': cred_id, 'name': live['credential'], 'type': 'httpHeaderAuth', 'action': 'updated'}
    assert rotated['api_calls'].get('PATCH') == 1 and 'POST' not in rotated['api_calls']
    after = ours(api, live['credential'])
    assert [c['id'] for c in after] == [cred_id] and after[0]['updatedAt'] != stored[0]['updatedAt']

    again = phase2(KEY_B)
    assert again['changed'] is False and set(again['api_calls']) == {'GET'}
    assert ours(api, live['credential'])[0]['updatedAt'] == after[0]['updatedAt']

    # the rollback: still used before the restore, deleted after it
    absent = dict(base, state='credential_absent', auth={'credential_name': live['credential']})
    absent.pop('rewrites')
    kept, dummy = run_module('n8n_workflow_urls', absent)
    assert not kept.get('failed') and kept['changed'] is False, kept
    assert kept['credential']['action'] == 'kept' and live['wid'] in kept['credential']['reason']
    restored, dummy = run_module('n8n_workflow_urls', dict(base, state='restored', backup=first['backup_folder'],
                                                           backup_dir=str(tmp_path / 'rollback')))
    assert not restored.get('failed'), restored
    removed, dummy = run_module('n8n_workflow_urls', absent)
    assert not removed.get('failed') and removed['changed'] is True, removed
    assert removed['credential']['action'] == 'deleted' and ours(api, live['credential']) == []
    assert json.loads(record_path.read_text())['credentials'] == {}
