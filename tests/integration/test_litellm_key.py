"""litellm_key against a mock of LiteLLM's key API (litellm_admin_mock: LiteLLM with a database cannot run
here, see that file), over real HTTP through Ansible. The module's answer to a LiteLLM without a database
is tested against the real proxy in test_litellm_role.py."""

from __future__ import annotations

import secrets

import pytest

from conftest import run_module
from litellm_admin_mock import LiteLLMAdminMock, hash_token

MASTER = 'sk-' + secrets.token_hex(32)


def new_key():
    return 'sk-' + secrets.token_hex(32)


@pytest.fixture
def litellm():
    mock = LiteLLMAdminMock(MASTER)
    yield mock
    mock.stop()
    # A key is named by its token (SHA-256) everywhere but in /key/generate: never in a URL or a body else.
    assert [call for call in mock.calls if call[1] != '/key/generate' and 'sk-' in str(call[2])] == []


def args(mock, key, **more):
    base = {'url': mock.url, 'master_key': MASTER, 'key': key, 'key_alias': 'n8n', 'models': ['llama3', 'qwen'],
            'rpm_limit': 60, 'max_budget': 5.0, 'budget_duration': '30d', 'retries': 1, 'delay': 0.1}
    base.update(more)
    return base


def test_created_once_then_unchanged(litellm):
    key = new_key()
    result, dummy = run_module('litellm_key', args(litellm, key))
    assert not result.get('failed'), result
    assert result['changed'] is True and result['operation'] == 'created' and result['status'] == 'missing'
    row = litellm.keys[hash_token(key)]
    assert row['key_alias'] == 'n8n' and row['models'] == ['llama3', 'qwen']
    assert row['rpm_limit'] == 60 and row['tpm_limit'] is None and row['max_budget'] == 5.0
    assert row['budget_duration'] == '30d' and row['metadata'] == {'managed_by': 'local_ai.llm_gateway'}
    assert result['token'] == hash_token(key)
    # Neither key is in what Ansible printed, nor in a URL (LiteLLM's access log): only /key/generate carries it.
    assert key not in result['_stdout'] and MASTER not in result['_stdout']
    assert [(path, key in str(body)) for method, path, body in litellm.calls] == [
        ('/key/info', False), ('/key/generate', True)]

    writes = len(litellm.writes())
    again, dummy = run_module('litellm_key', args(litellm, key, models=['qwen', 'llama3']))
    assert not again.get('failed'), again
    assert again['changed'] is False and again['operation'] == 'none' and again['status'] == 'active'
    assert len(litellm.writes()) == writes


def test_changed_limits_are_updated_and_other_metadata_kept(litellm):
    key = new_key()
    run_module('litellm_key', args(litellm, key))
    litellm.keys[hash_token(key)]['metadata']['owner'] = 'ops'
    result, dummy = run_module('litellm_key', args(litellm, key, rpm_limit=120, models=['llama3']), diff=True)
    assert not result.get('failed'), result
    assert result['operation'] == 'updated'
    assert result['changed_fields'] == {'rpm_limit': 120, 'models': ['llama3']}
    assert result['diff']['before']['rpm_limit'] == 60 and result['diff']['after']['rpm_limit'] == 120
    row = litellm.keys[hash_token(key)]
    assert row['rpm_limit'] == 120 and row['models'] == ['llama3']
    assert row['metadata'] == {'owner': 'ops', 'managed_by': 'local_ai.llm_gateway'}
    assert [path for method, path, body in litellm.writes()][-1] == '/key/update'


def test_check_mode_sends_only_the_look_up(litellm):
    key = new_key()
    result, dummy = run_module('litellm_key', args(litellm, key), check=True)
    assert result['changed'] is True and result['operation'] == 'created'
    assert litellm.keys == {} and litellm.writes() == []
    run_module('litellm_key', args(litellm, key))
    before = dict(litellm.keys[hash_token(key)])
    calls = len(litellm.calls)
    for more, action in (({'rpm_limit': 1}, 'updated'), ({'state': 'absent'}, 'deleted')):
        result, dummy = run_module('litellm_key', args(litellm, key, **more), check=True)
        assert result['changed'] is True and result['operation'] == action
    assert litellm.keys[hash_token(key)] == before
    assert [call[0] for call in litellm.calls[calls:]] == ['GET', 'GET']


def test_revoked_then_absent_is_unchanged_and_present_creates_it_again(litellm):
    key = new_key()
    run_module('litellm_key', args(litellm, key))
    result, dummy = run_module('litellm_key', args(litellm, key, state='absent'))
    assert not result.get('failed'), result
    assert result['changed'] is True and result['operation'] == 'deleted'
    assert hash_token(key) not in litellm.keys and hash_token(key) in litellm.deleted
    # LiteLLM still answers /key/info for it, from its archive, as deleted.
    again, dummy = run_module('litellm_key', args(litellm, key, state='absent'))
    assert again['changed'] is False and again['status'] == 'deleted'
    back, dummy = run_module('litellm_key', args(litellm, key))
    assert back['operation'] == 'created' and hash_token(key) in litellm.keys


def test_absent_when_never_created_is_unchanged(litellm):
    result, dummy = run_module('litellm_key', args(litellm, new_key(), state='absent'))
    assert not result.get('failed'), result
    assert result['changed'] is False and result['status'] == 'missing' and litellm.writes() == []


def test_a_lost_answer_to_generate_is_looked_up_not_sent_twice(litellm):
    key = new_key()
    litellm.lose_answer_to.add('/key/generate')
    result, dummy = run_module('litellm_key', args(litellm, key))
    assert not result.get('failed'), result
    assert result['operation'] == 'created' and hash_token(key) in litellm.keys
    paths = [path for method, path, body in litellm.calls]
    assert paths == ['/key/info', '/key/generate', '/key/info'], paths


def test_wrong_master_key_names_the_variable(litellm):
    result, dummy = run_module('litellm_key', args(litellm, new_key(), master_key='sk-' + secrets.token_hex(32)))
    assert result['failed'] and result['status'] == 401
    assert 'refused the master key' in result['msg'] and 'llm_gateway_litellm_master_key' in result['msg']
    assert litellm.keys == {}


def test_alias_taken_by_another_key_is_explained(litellm):
    run_module('litellm_key', args(litellm, new_key()))
    result, dummy = run_module('litellm_key', args(litellm, new_key()))
    assert result['failed'] and result['status'] == 400
    assert 'already has another key with this alias' in result['msg'] and 'key_alias' in result['msg']
    assert len(litellm.keys) == 1


@pytest.mark.parametrize('bad, problem', [
    ('n8n-' + 'a1b2c3d4' * 5, 'does not start with "sk-"'),
    ('sk-short1234', 'shorter than 16'),
    ('sk-' + 'a' * 40, 'fewer than 10 different'),
])
def test_bad_keys_are_refused_before_any_call(litellm, bad, problem):
    result, dummy = run_module('litellm_key', args(litellm, bad))
    assert result['failed'] and problem in result['msg'] and bad not in result['_stdout']
    assert litellm.calls == []


def test_the_master_key_is_refused_as_a_virtual_key(litellm):
    result, dummy = run_module('litellm_key', args(litellm, MASTER))
    assert result['failed'] and 'is the master key' in result['msg'] and litellm.calls == []
