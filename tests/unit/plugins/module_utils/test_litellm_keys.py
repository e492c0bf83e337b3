"""LiteLLM keys: the key rules, the names LiteLLM serves, and how a virtual key differs from the one wanted."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.filter.litellm_key_problems import FilterModule as KeyFilters
from ansible_collections.local_ai.llm_gateway.plugins.filter.litellm_served_names import FilterModule as NameFilters
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._litellm_keys import (
    MANAGED_BY, changes, current_fields, error_text, explain, is_live, key_problems, served_names, token,
    wanted_fields,
)

GOOD = 'sk-' + '0123456789abcdef' * 4


def test_a_random_key_has_no_problem():
    assert key_problems(GOOD) == []
    assert KeyFilters().filters()['litellm_key_problems'](GOOD, ['sk-1234']) == []


@pytest.mark.parametrize('key, problem', [
    ('', 'empty or not set'),
    (None, 'empty or not set'),
    ('SK-1234', 'publicly known default'),
    ('pk-' + GOOD[3:], 'does not start with "sk-"'),
    ('sk-0123456789abcdef', 'shorter than 32'),
    (GOOD + ' x', 'characters other than'),
    (GOOD + '"', 'characters other than'),
    ('sk-' + 'ab' * 20, 'fewer than 10 different'),
])
def test_each_problem_is_named(key, problem):
    problems = key_problems(key, weak=['sk-1234'])
    assert any(problem in p for p in problems), problems


@given(st.text(max_size=80))
def test_no_problem_quotes_the_key(key):
    key = 'sk-' + key
    for problem in key_problems(key, weak=['sk-1234']):
        assert len(key) < 6 or key not in problem


def test_the_master_key_is_no_virtual_key():
    assert 'it is the master key (a virtual key must be a key of its own)' in key_problems(GOOD, master=GOOD)
    assert key_problems(GOOD, master='sk-' + 'f' * 64) == [] and key_problems(GOOD, master=None) == []


def test_litellm_s_own_minimum_is_16():
    assert key_problems('sk-0123456789abc', min_length=16) == []
    assert 'it is shorter than 16 characters' in key_problems('sk-0123456789ab', min_length=16)


def test_served_names_are_the_public_names_then_the_backends_of_shared_ones():
    models = [{'name': 'llama3', 'backends': [{'model': 'a'}, {'model': 'b'}]},
              {'name': 'qwen', 'backends': [{'model': 'q'}]}]
    assert served_names(models, '@backend-') == ['llama3', 'qwen', 'llama3@backend-1', 'llama3@backend-2']
    assert NameFilters().filters()['litellm_served_names'](models, '@backend-') == served_names(models, '@backend-')


def test_token_is_litellm_s_hash_token():
    assert token(GOOD) == hashlib.sha256(GOOD.encode()).hexdigest()


def test_a_key_as_wanted_has_no_change():
    wanted = wanted_fields('n8n', ['qwen', 'llama3', 'qwen'], rpm_limit=60, max_budget=5, budget_duration='30d')
    assert wanted['models'] == ['llama3', 'qwen'] and wanted['max_budget'] == 5.0
    # As /key/info shows it: other order, LiteLLM's own metadata beside the collection's, JSON numbers.
    info = {'key_alias': 'n8n', 'models': ['qwen', 'llama3'], 'rpm_limit': 60, 'tpm_limit': None,
            'max_budget': 5, 'budget_duration': '30d', 'metadata': {'managed_by': MANAGED_BY, 'owner': 'ops'},
            'spend': 1.5, 'status': 'active'}
    assert changes(current_fields(info), wanted) == {}


def test_changes_name_only_the_fields_that_differ_and_keep_other_metadata():
    wanted = wanted_fields('n8n', ['llama3'], rpm_limit=120)
    info = {'key_alias': 'n8n', 'models': ['llama3', 'qwen'], 'rpm_limit': 60, 'metadata': {'owner': 'ops'}}
    assert changes(current_fields(info), wanted) == {'models': ['llama3'], 'rpm_limit': 120,
                                                     'metadata': {'owner': 'ops', 'managed_by': MANAGED_BY}}


def test_metadata_as_a_json_text_is_read():
    info = {'key_alias': 'n8n', 'models': [], 'metadata': json.dumps({'managed_by': MANAGED_BY})}
    assert current_fields(info)['metadata'] == {'managed_by': MANAGED_BY}
    assert changes(current_fields(info), wanted_fields('n8n', [])) == {}


@given(st.lists(st.sampled_from(['llama3', 'qwen', 'phi3', 'llama3@backend-1']), max_size=6),
       st.one_of(st.none(), st.integers(0, 10000)), st.one_of(st.none(), st.integers(0, 10 ** 7)),
       st.one_of(st.none(), st.floats(0, 1000, allow_nan=False)), st.sampled_from([None, '30d', '1h']))
def test_a_key_updated_with_its_changes_has_none_left(models, rpm, tpm, budget, duration):
    wanted = wanted_fields('n8n', models, rpm, tpm, budget, duration)
    info = {'key_alias': 'old', 'models': ['other'], 'rpm_limit': 1, 'metadata': {'x': 1}}
    info.update(changes(current_fields(info), wanted))
    assert changes(current_fields(info), wanted) == {}


def test_a_deleted_key_is_not_live():
    assert is_live({'status': 'active'}) and is_live({}) and not is_live({'status': 'deleted'})


def test_error_text_reads_litellm_s_error_shapes():
    assert error_text(b'{"error": {"message": "Key not found in database", "type": "not_found_error"}}') == \
        'Key not found in database'
    assert error_text('{"detail": "Not connected to DB!"}') == 'Not connected to DB!'
    assert error_text(b'not json') == 'not json'


@pytest.mark.parametrize('status, body, expected', [
    (500, {'error': {'message': "{'error': 'DB not connected. This endpoint needs a database'}"}},
     'runs without a database'),
    (500, {'error': {'message': 'Database not connected. Connect a database to your proxy'}},
     'llm_gateway_litellm_database_url'),
    (401, {'error': {'message': 'Authentication Error, Invalid proxy server token passed.'}},
     'refused the master key'),
    (400, {'error': {'message': "Key with alias 'n8n' already exists."}}, 'choose another key_alias'),
    (403, {'error': {'message': "{'error': 'Custom API key values are disabled by your administrator. Keys must be "
                                "auto-generated.'}"}}, 'disable_custom_api_keys'),
    (502, {'error': {'message': 'bad gateway'}}, 'answered POST /key/generate with HTTP 502: bad gateway'),
])
def test_explain_names_the_cause_and_the_fix(status, body, expected):
    assert expected in explain(status, json.dumps(body), 'http://llama-litellm:4000', 'POST /key/generate')
