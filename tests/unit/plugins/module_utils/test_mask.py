"""What reports show of values that may hold secrets: examples, then properties."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import (
    CHANGED, MASK, hide, is_secret_name, is_secret_place, mask_change, mask_known, mask_text, mask_value, words,
)

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SECRET_NAMES = ['Authorization', 'authorization', 'Proxy-Authorization', 'api_key', 'apiKey', 'APIKey', 'api-key',
                'apikey', 'X-API-Key', 'x-api-key', 'X-N8N-API-KEY', 'token', 'access_token', 'accessToken',
                'X-Auth-Token', 'PRIVATE-TOKEN', 'refresh_token', 'secret', 'client_secret', 'clientSecret',
                'password', 'newPassword', 'passwd', 'Cookie', 'Set-Cookie', 'bearer', 'key', 'subscription-key',
                'Ocp-Apim-Subscription-Key', 'x-goog-api-key', 'session_id', 'sessionId', 'jwt', 'auth', 'X-Auth']
PLAIN_NAMES = ['model', 'prompt', 'stream', 'Content-Type', 'Accept', 'max_tokens', 'maxTokens', 'num_predict',
               'temperature', 'authentication', 'genericAuthType', 'httpHeaderAuth', 'nodeCredentialType',
               'sendHeaders', 'headerParameters', 'queryParameters', 'keep_alive', 'keyword', 'tokenizer', 'url',
               'name', 'value', 'messages', 'X-Trace-Id', 'User-Agent', 'limit', 'author', 'monkeys']


@pytest.mark.parametrize('name', SECRET_NAMES)
def test_secret_names(name):
    assert is_secret_name(name), words(name)


@pytest.mark.parametrize('name', PLAIN_NAMES)
def test_plain_names(name):
    assert not is_secret_name(name), words(name)


def test_words():
    assert words('X-N8N-API-KEY') == 'x_n8_n_api_key'
    assert words('accessToken') == 'access_token' and words('APIKey') == 'api_key'


@pytest.mark.parametrize('text,shown', [
    ('https://api.example.com/v1?api_key=sk-1&model=llama3&token=t0k', 'https://api.example.com/v1?api_key=' + MASK
     + '&model=llama3&token=' + MASK),
    ('https://u:pw@llm.example.com/api', 'https://u:%s@llm.example.com/api' % MASK),
    ('Bearer sk-abc123', 'Bearer ' + MASK),
    ('send bearer eyJhbGciOi.x.y now', 'send bearer %s now' % MASK),
    ('={{ "Bearer " + $json.key }}', '={{ "Bearer " + $json.key }}'),
    ('Bearer {{ $env.LITELLM_KEY }}', 'Bearer ' + MASK),
    ('{"Authorization": "Basic dTpw", "X-API-Key": "k-1", "Content-Type": "application/json"}',
     '{"Authorization": "Basic %s", "X-API-Key": "%s", "Content-Type": "application/json"}' % (MASK, MASK)),
    ("{'apiKey': 'k', 'model': 'm'}", "{'apiKey': '%s', 'model': 'm'}" % MASK),
    ('"password": {{ $json.pw }}, "user": "u"', '"password": %s, "user": "u"' % MASK),
    ('Authorization: Token abc', 'Authorization: Token ' + MASK),
    ('max_tokens: 5', 'max_tokens: 5'),
    ('https://token:abc@host/p', 'https://token:%s@host/p' % MASK),
    ("={{ 'https://x/?key=' + $json.k }}", "={{ 'https://x/?key=' + $json.k }}"),
    ('session=abc; theme=dark', 'session=%s; theme=dark' % MASK),
    ('http://llama-nginx/api/generate', 'http://llama-nginx/api/generate'),
])
def test_mask_text(text, shown):
    assert mask_text(text) == shown


HEADERS = {'sendHeaders': True, 'headerParameters': {'parameters': [
    {'name': 'Authorization', 'value': 'Bearer sk-live-1'},
    {'name': 'X-Trace', 'value': 'trace-1'},
    {'name': 'x-api-key', 'value': {'nested': 'k-2'}},
]}, 'queryParameters': {'parameters': [{'name': 'token', 'value': 't-3'}, {'name': 'limit', 'value': '10'}]},
    'options': {'password': 'p-4', 'timeout': 10}, 'url': 'http://h/x?api_key=k-5&q=1'}


def test_mask_value_hides_pairs_and_secret_keys_and_keeps_the_shape():
    original = copy.deepcopy(HEADERS)
    shown = mask_value(HEADERS)
    assert HEADERS == original, 'the input is not changed'
    assert shown['headerParameters']['parameters'] == [
        {'name': 'Authorization', 'value': 'Bearer ' + MASK}, {'name': 'X-Trace', 'value': 'trace-1'},
        {'name': 'x-api-key', 'value': {'nested': MASK}}]
    assert shown['queryParameters']['parameters'] == [{'name': 'token', 'value': MASK},
                                                      {'name': 'limit', 'value': '10'}]
    assert shown['options'] == {'password': MASK, 'timeout': 10}
    assert shown['url'] == 'http://h/x?api_key=%s&q=1' % MASK
    for secret in ('sk-live-1', 'k-2', 't-3', 'p-4', 'k-5'):
        assert secret not in json.dumps(shown)


def test_secret_places():
    node = {'parameters': HEADERS}
    pairs = ('parameters', 'headerParameters', 'parameters')
    assert is_secret_place(node, pairs + (0, 'value'))
    assert is_secret_place(node, pairs + (2, 'value', 'nested'))
    assert not is_secret_place(node, pairs + (1, 'value'))
    assert not is_secret_place(node, pairs + (0, 'name'))
    assert is_secret_place(node, ('parameters', 'options', 'password'))
    assert not is_secret_place(node, ('parameters', 'options', 'timeout'))
    assert not is_secret_place(node, ('credentials', 'httpHeaderAuth', 'id'))
    assert not is_secret_place(None, ('parameters', 'url'))


def test_mask_change():
    node = {'parameters': HEADERS}
    path = ('parameters', 'headerParameters', 'parameters', 0, 'value')
    assert mask_change(node, node, path, 'Bearer a-1', 'Bearer b-2') == ('Bearer ' + MASK, 'Bearer ' + MASK + CHANGED)
    assert mask_change(node, node, path, None, 'Bearer b-2') == (None, 'Bearer ' + MASK)
    # a header renamed away from Authorization keeps its value hidden on both sides
    renamed = {'parameters': {'headerParameters': {'parameters': [{'name': 'X-Note', 'value': 'v'}]}}}
    assert mask_change(node, renamed, path, 'Bearer a-1', 'v') == ('Bearer ' + MASK, MASK)
    # elsewhere only what is secret inside the value is masked
    assert mask_change(node, node, ('parameters', 'url'), 'http://a/?token=1', 'http://b/?token=2') == (
        'http://a/?token=' + MASK, 'http://b/?token=' + MASK)
    assert mask_change(node, node, ('parameters', 'url'), 'http://a/?token=1', 'http://a/?token=2') == (
        'http://a/?token=' + MASK, 'http://a/?token=' + MASK + CHANGED)
    assert mask_change(node, node, ('parameters', 'x'), 1, 2) == (1, 2)


def test_hide():
    assert hide(None) is None and hide('') == '' and hide(True) is True
    assert hide(1234) == MASK and hide('Basic abc') == 'Basic ' + MASK
    assert hide(['a', {'b': 'c'}]) == [MASK, {'b': MASK}]


# ---------------------------------------------------------------------------------------------
# properties

def recase(draw, name):
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return ''.join(c.upper() if flip else c.lower() for c, flip in zip(name, flips))


@st.composite
def secret_names(draw):
    base = draw(st.sampled_from(['authorization', 'api-key', 'api_key', 'apikey', 'x-api-key', 'x-n8n-api-key',
                                 'token', 'access_token', 'x-auth-token', 'secret', 'client_secret', 'password',
                                 'cookie', 'bearer', 'subscription-key', 'session_id']))
    return recase(draw, base) if draw(st.booleans()) else base.upper()


secrets = st.from_regex(r'\A[A-Za-z0-9._~+/=-]{8,40}\Z', fullmatch=True).filter(
    lambda s: MASK not in s and s.lower() not in ('bearer', 'basic', 'digest', 'token'))
plain_names = st.sampled_from(PLAIN_NAMES)
plain_values = st.from_regex(r'\A[A-Za-z0-9 ._/-]{0,30}\Z', fullmatch=True)


@PROPS
@given(secret_names(), secrets, plain_names, plain_values)
def test_a_secret_next_to_a_secret_name_is_never_shown(name, secret, other, plain):
    assume(secret not in plain and secret not in other)
    shapes = [
        'https://api.example.com/v1/x?%s=%s&%s=1' % (name, secret, other),
        json.dumps({name: secret, other: plain}),
        json.dumps({other: plain, name: 'Bearer ' + secret}, indent=2),
        '%s: %s' % (name, secret),
        'Bearer ' + secret,
    ]
    for text in shapes:
        assert secret not in mask_text(text), text
    structures = [
        {'parameters': [{'name': other, 'value': plain}, {'name': name, 'value': secret}]},
        {name: secret, other: plain},
        {'options': {name: {'deep': [secret]}}},
    ]
    for value in structures:
        assert secret not in json.dumps(mask_value(value)), value


@PROPS
@given(plain_names, plain_values)
def test_values_of_plain_names_are_shown_as_they_are(name, value):
    assume('bearer' not in value.lower())
    for data in ({'parameters': [{'name': name, 'value': value}]}, {name: value}, [value]):
        assert mask_value(data) == data
    assert mask_text('https://h/x?%s=%s' % (name, value.replace(' ', ''))) == 'https://h/x?%s=%s' % (
        name, value.replace(' ', ''))


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(PLAIN_NAMES + SECRET_NAMES),
                                                                inner, max_size=4),
    max_leaves=20)


@PROPS
@given(json_data)
def test_masking_is_idempotent_and_keeps_the_input(value):
    before = copy.deepcopy(value)
    once = mask_value(value)
    assert value == before
    assert mask_value(once) == once


@PROPS
@given(st.text(max_size=80))
def test_text_masking_is_idempotent(text):
    once = mask_text(text)
    assert mask_text(once) == once


@PROPS
@given(st.text(alphabet=st.characters(blacklist_characters='=:@'), max_size=80))
def test_text_without_pairs_or_bearer_is_unchanged(text):
    assume('bearer' not in text.lower())
    assert mask_text(text) == text


def test_known_secrets_are_masked_wherever_they_stand_then_the_usual_rule():
    said = 'bad key sk-abc123 for postgresql://u:pw@db/x; redis said nopass'
    masked = mask_known(said, ['sk-abc123', '', None, 'postgresql://u:pw@db/x', 'nopass'])
    assert masked == 'bad key %s for %s; redis said %s' % (MASK, MASK, MASK)
    # Without the URL among the secrets, its password is still masked by the usual rule.
    assert mask_known('at postgresql://u:pw@db/x', []) == 'at postgresql://u:%s@db/x' % MASK
    # A longer secret that contains a shorter one is masked whole.
    assert mask_known('k=abcdef', ['abc', 'abcdef']) == 'k=' + MASK
    assert mask_known(None, ['x']) is None


@PROPS
@given(st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789-_', min_size=6, max_size=40), st.text(max_size=60))
def test_a_known_secret_never_survives(secret, around):
    assert secret not in mask_known(around + secret + around, [secret])
