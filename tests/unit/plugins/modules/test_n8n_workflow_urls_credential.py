"""n8n_workflow_urls: a changed key reaches the n8n credential (PATCH), and state credential_absent
deletes the credential the module created once no workflow uses it."""

from __future__ import annotations

import json
import os
import stat

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_backups, _n8n_credential_record
from ansible_collections.local_ai.llm_gateway.plugins.modules import n8n_workflow_urls

# args and n8n are fixtures
from test_n8n_workflow_urls_convert import (  # noqa: F401 pylint: disable=unused-import
    SECRET, args, calls, converted_nodes, n8n, seed,
)

ROTATED = 'Bearer sk-unit-litellm-rotated-5e21'
SECRETS = (SECRET, ROTATED, 'sk-unit')


def state_path(tmp_path):
    return tmp_path / 'b' / 'credentials.json'


def assert_no_secret(*things):
    for thing in things:
        text = thing if isinstance(thing, str) else json.dumps(thing)
        for secret in SECRETS:
            assert secret not in text


def auth(value):
    return {'credential_name': 'LiteLLM', 'value': value}


def created(run_module, n8n, args):
    """A first run: the workflow converted, the credential created with SECRET."""
    fake = n8n(seed('a'))
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed and result['credential']['action'] == 'created', result
    fake.calls = []
    return fake


# ---------------------------------------------------------------------------------------------

def test_record_holds_a_fingerprint_never_the_key_and_is_0600(run_module, n8n, args, tmp_path):
    created(run_module, n8n, args)
    path = state_path(tmp_path)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    text = path.read_text()
    assert_no_secret(text)
    data = json.loads(text)
    assert data['version'] == 1 and len(data['salt']) == 64
    assert data['credentials'] == {'cred0001': {
        'id': 'cred0001', 'name': 'LiteLLM', 'type': 'httpHeaderAuth', 'created': True,
        'fingerprint': data['credentials']['cred0001']['fingerprint']}}
    assert len(data['credentials']['cred0001']['fingerprint']) == 64
    assert sorted(os.listdir(str(path.parent)))[-1] == 'credentials.json'
    assert not [n for n in os.listdir(str(path.parent)) if n.endswith('.tmp')]


def test_changed_key_patches_once_then_nothing(run_module, n8n, args, tmp_path):
    fake = created(run_module, n8n, args)
    result, failed = run_module(n8n_workflow_urls, args(auth=auth(ROTATED)), diff=True)
    assert not failed, result
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials'),
                           ('PATCH', '/api/v1/credentials/cred0001')]
    patch = fake.calls[-1]
    assert patch['body'] == {'data': {'name': 'Authorization', 'value': ROTATED}, 'isPartialData': False}
    assert fake.credentials[0]['data'] == {'name': 'Authorization', 'value': ROTATED}
    assert result['changed'] is True and result['changed_workflows'] == []
    assert result['credential'] == {'id': 'cred0001', 'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                                    'action': 'updated'}
    diff = result['diff'][-1]
    assert diff['before_header'] == 'n8n credential LiteLLM (cred0001)'
    assert diff['before']['value'].startswith('fingerprint ') and diff['after']['value'].startswith('fingerprint ')
    assert diff['before'] != diff['after']
    assert_no_secret(result, state_path(tmp_path).read_text())
    # the record now holds the new fingerprint and still says the module created the credential
    record = json.loads(state_path(tmp_path).read_text())['credentials']['cred0001']
    assert record['created'] is True and record['fingerprint'].startswith(diff['after']['value'].split()[1])

    # the same key again: not a single credential call, nothing changed
    fake.calls = []
    again, failed = run_module(n8n_workflow_urls, args(auth=auth(ROTATED)))
    assert not failed and again['changed'] is False and calls(fake) == [('GET', '/api/v1/workflows')]
    # and back to the first key: one PATCH again
    fake.calls = []
    back, failed = run_module(n8n_workflow_urls, args())
    assert not failed and back['credential']['action'] == 'updated'
    assert [m for m, p in calls(fake)].count('PATCH') == 1


def test_check_mode_reports_update_without_writing(run_module, n8n, args, tmp_path):
    fake = created(run_module, n8n, args)
    before = state_path(tmp_path).read_bytes()
    result, failed = run_module(n8n_workflow_urls, args(auth=auth(ROTATED)), check=True, diff=True)
    assert not failed, result
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials')]
    assert result['changed'] is True
    assert result['credential'] == {'id': 'cred0001', 'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                                    'action': 'update'}
    assert result['diff'][-1]['after']['value'].startswith('fingerprint ')
    assert fake.credentials[0]['data']['value'] == SECRET
    assert state_path(tmp_path).read_bytes() == before
    assert_no_secret(result)


def test_existing_credential_without_record_gets_the_value_once(run_module, n8n, args, tmp_path):
    fake = n8n(seed('a'), credentials=[{'id': 'byhand', 'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                                        'data': {'name': 'Authorization', 'value': 'old'}}])
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed, result
    assert calls(fake) == [('GET', '/api/v1/workflows'), ('GET', '/api/v1/credentials'),
                           ('PATCH', '/api/v1/credentials/byhand'), ('GET', '/api/v1/workflows/a'),
                           ('PUT', '/api/v1/workflows/a')]
    assert result['credential']['action'] == 'updated' and fake.store['a']['nodes'] == converted_nodes('byhand')
    record = json.loads(state_path(tmp_path).read_text())['credentials']['byhand']
    assert record['created'] is False
    fake.calls = []
    again, failed = run_module(n8n_workflow_urls, args())
    assert not failed and again['changed'] is False and calls(fake) == [('GET', '/api/v1/workflows')]


def test_patch_is_retried_after_a_5xx(run_module, n8n, args):
    fake = created(run_module, n8n, args)
    answers = [(503, {'message': 'busy'})]
    fake.hooks[('PATCH', 'cred0001')] = lambda fake_, wid, body: answers.pop() if answers else None
    result, failed = run_module(n8n_workflow_urls, args(auth=auth(ROTATED)))
    assert not failed, result
    assert result['api_calls']['PATCH'] == 2 and result['credential']['action'] == 'updated'


def test_refused_patch_fails_and_keeps_the_record(run_module, n8n, args, tmp_path):
    fake = created(run_module, n8n, args)
    before = state_path(tmp_path).read_bytes()
    fake.hooks[('PATCH', 'cred0001')] = lambda fake_, wid, body: (403, {'message': 'Forbidden'})
    result, failed = run_module(n8n_workflow_urls, args(auth=auth(ROTATED)))
    assert failed and 'Cannot update the n8n credential' in result['msg'] and 'credential:update' in result['msg']
    assert result['changed'] is False and state_path(tmp_path).read_bytes() == before
    assert_no_secret(result)


def test_record_is_replaced_atomically(run_module, n8n, args, tmp_path, monkeypatch):
    created(run_module, n8n, args)
    path = state_path(tmp_path)
    before = path.read_bytes()

    def broken(src, dst):
        raise OSError('disk full')
    monkeypatch.setattr(_n8n_backups.os, 'replace', broken)
    state = _n8n_credential_record.CredentialState(str(path)).load()
    state.remember('x', 'X', 'httpHeaderAuth', True, 'Authorization', ROTATED)
    try:
        state.save()
    except OSError:
        pass
    else:
        raise AssertionError('save should have failed')
    assert path.read_bytes() == before
    assert os.listdir(str(path.parent)).count('credentials.json') == 1
    assert not [n for n in os.listdir(str(path.parent)) if n.endswith('.tmp')]


def test_unreadable_record_fails_before_any_write(run_module, n8n, args, tmp_path):
    fake = n8n(seed('a'))
    state_path(tmp_path).parent.mkdir()
    state_path(tmp_path).write_text('{"not": "a record"}')
    result, failed = run_module(n8n_workflow_urls, args())
    assert failed and 'is not a credential record' in result['msg']
    assert [m for m, p in calls(fake) if m != 'GET'] == []


def test_credential_state_option_moves_the_record(run_module, n8n, args, tmp_path):
    n8n(seed('a'))
    elsewhere = tmp_path / 'state' / 'creds.json'
    result, failed = run_module(n8n_workflow_urls, args(credential_state=str(elsewhere)))
    assert not failed, result
    assert 'cred0001' in json.loads(elsewhere.read_text())['credentials']
    assert not state_path(tmp_path).exists()


# ---------------------------------------------------------------------------------------------
# state: credential_absent

def absent_args(args, **extra):
    base = args(state='credential_absent', auth={'credential_name': 'LiteLLM'})
    base.pop('rewrites')
    base.update(extra)
    return base


def unconvert(fake, wid='a'):
    """What a rollback does: the workflow no longer uses the credential."""
    for node in fake.store[wid]['nodes']:
        node.pop('credentials', None)


def test_absent_keeps_a_credential_still_in_use(run_module, n8n, args):
    fake = created(run_module, n8n, args)
    result, failed = run_module(n8n_workflow_urls, absent_args(args))
    assert not failed and result['changed'] is False, result
    assert result['credential']['action'] == 'kept'
    assert 'still use it' in result['credential']['reason'] and 'WF a (a): Ask Ollama' in result['credential']['reason']
    assert 'DELETE' not in result['api_calls'] and len(fake.credentials) == 1


def test_absent_deletes_the_created_unused_credential(run_module, n8n, args, tmp_path):
    fake = created(run_module, n8n, args)
    unconvert(fake)
    checked, failed = run_module(n8n_workflow_urls, absent_args(args), check=True, diff=True)
    assert not failed and checked['changed'] is True and checked['credential']['action'] == 'delete'
    assert 'DELETE' not in checked['api_calls'] and len(fake.credentials) == 1
    assert checked['diff'][0]['after'] == {'state': 'absent'}
    fake.calls = []
    result, failed = run_module(n8n_workflow_urls, absent_args(args))
    assert not failed and result['changed'] is True, result
    assert calls(fake) == [('GET', '/api/v1/credentials'), ('GET', '/api/v1/workflows'),
                           ('DELETE', '/api/v1/credentials/cred0001')]
    assert result['credential'] == {'id': 'cred0001', 'name': 'LiteLLM', 'type': 'httpHeaderAuth',
                                    'action': 'deleted'}
    assert fake.credentials == []
    assert json.loads(state_path(tmp_path).read_text())['credentials'] == {}
    again, failed = run_module(n8n_workflow_urls, absent_args(args))
    assert not failed and again['changed'] is False and again['credential']['action'] == 'absent'
    # phase 2 again: created anew
    fake.add(seed('b'))
    third, failed = run_module(n8n_workflow_urls, args())
    assert not failed and third['credential']['action'] == 'created'


def test_absent_keeps_a_credential_it_did_not_create(run_module, n8n, args):
    fake = n8n(seed('a'), credentials=[{'id': 'byhand', 'name': 'LiteLLM', 'type': 'httpHeaderAuth'}])
    result, failed = run_module(n8n_workflow_urls, args())
    assert not failed and result['credential']['action'] == 'updated'
    unconvert(fake)
    result, failed = run_module(n8n_workflow_urls, absent_args(args))
    assert not failed and result['changed'] is False
    assert result['credential']['action'] == 'kept' and 'did not create it' in result['credential']['reason']
    assert [c['id'] for c in fake.credentials] == ['byhand']


def test_absent_sees_the_published_version_too(run_module, n8n, args):
    fake = created(run_module, n8n, args)
    published = [dict(n) for n in fake.store['a']['nodes']]
    fake.store['a']['activeVersionId'] = 'pub'
    fake.versions['pub'] = (published, fake.store['a']['connections'])
    unconvert(fake)
    result, failed = run_module(n8n_workflow_urls, absent_args(args))
    assert not failed and result['credential']['action'] == 'kept', result
    assert len(fake.credentials) == 1


def test_absent_needs_auth(run_module, n8n, args):
    fake = n8n(seed('a'))
    base = absent_args(args)
    base.pop('auth')
    result, failed = run_module(n8n_workflow_urls, base)
    assert failed and 'auth' in result['msg'] and fake.calls == []


def test_allowed_domains_limit_the_credential_and_a_new_list_patches_it_once(run_module, n8n, args, tmp_path):
    fake = created(run_module, n8n, args)
    # The first run with a list: the existing credential (made without one) gets it with one PATCH.
    limited = dict(auth(SECRET), allowed_domains=['llama-litellm'])
    result, failed = run_module(n8n_workflow_urls, args(auth=limited))
    assert not failed and result['credential']['action'] == 'updated', result
    assert fake.credentials[0]['data'] == {'name': 'Authorization', 'value': SECRET,
                                           'allowedHttpRequestDomains': 'domains', 'allowedDomains': 'llama-litellm'}
    assert_no_secret(result, state_path(tmp_path).read_text())
    # The same list again: no credential call.
    fake.calls = []
    again, failed = run_module(n8n_workflow_urls, args(auth=limited))
    assert not failed and again['changed'] is False and calls(fake) == [('GET', '/api/v1/workflows')]
    # Another list: one PATCH with it.
    fake.calls = []
    wider = dict(auth(SECRET), allowed_domains=['llama-litellm', '*.example.test'])
    other, failed = run_module(n8n_workflow_urls, args(auth=wider))
    assert not failed and [m for m, p in calls(fake)].count('PATCH') == 1, other
    assert fake.credentials[0]['data']['allowedDomains'] == 'llama-litellm,*.example.test'


def test_a_credential_created_with_allowed_domains_carries_them(run_module, n8n, args):
    fake = n8n(seed('a'))
    result, failed = run_module(n8n_workflow_urls, args(auth=dict(auth(SECRET), allowed_domains=['llama-litellm'])))
    assert not failed and result['credential']['action'] == 'created', result
    assert fake.credentials[0]['data']['allowedHttpRequestDomains'] == 'domains'
    assert fake.credentials[0]['data']['allowedDomains'] == 'llama-litellm'
