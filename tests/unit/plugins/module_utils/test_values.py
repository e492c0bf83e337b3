"""The anchored patterns of the values the roles write into configuration files: examples, then properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._values import (
    KINDS, SECRET_FORMS, STRUCTURED, check_value, defect, kinds, matches, problems, secret_problems,
)

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD = {
    'domain': ['example.com', 'demo.test', 'a-b.c.example.org'],
    'ipv4': ['172.29.77.1', '10.0.0.255'],
    'cidr': ['172.29.77.0/24', '10.219.77.0/25', '0.0.0.0/0'],
    'host_port': ['host.docker.internal:11434', 'ollama:11434', '10.0.0.5:65535'],
    'host_header': ['localhost:11434', 'llm.example.test', '[::1]:11434', '127.0.0.1'],
    'listen': ['0.0.0.0:11434', '172.29.77.1:11434', '[::]:11434'],
    'publish': ['127.0.0.1:8080', '0.0.0.0:18180', '18180', 8080],
    'nginx_size': ['64m', '1g', '512k', '0', '100M'],
    'nginx_rate': ['10r/s', '600r/m'],
    'count': [0, 20, '10'],
    'docker_size': ['10m', '512M', 1024, '2g'],
    'seconds': [600, '10', 1],
    'http_status': [404, 444, '404'],
    'phase': [1, 2, '2'],
    'container_name': ['llama-nginx', 'n8n', 'llama_litellm.1', 'starter-n8n'],
    'network_name': ['llama-network', 'llm-gateway-linux-net'],
    'volume_or_path': ['n8n_data', 'llm-gateway-demo-old-n8n', '/srv/n8n', '/srv/n8n/'],
    'compose_project': ['llm-gateway', 'llm_gateway2'],
    'image': ['nginx:1.30.0', 'docker.n8n.io/n8nio/n8n:2.41.1', 'ghcr.io/berriai/litellm:v1.108.7',
              'llm-gateway-test/nginx:latest', 'localhost:5000/a/b', 'nginx@sha256:' + 'a' * 64,
              'registry.example.com:5000/team/app:1.0-rc.1'],
    'path': ['/opt/llm-gateway', '/opt/llm-gateway/backups/original', '/srv/x_y.z/', '/a'],
    'volume': ['/srv/files:/files:ro', 'my-volume:/data', './local:/x', '~/y:/y:rw,z'],
    'env_name': ['N8N_HOST', '_X', 'a1'],
    'timezone': ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5'],
    'unit': ['ollama.service', 'ollama@gpu0.service'],
    'url': ['http://host.docker.internal:11434', 'https://ollama.example.com/', 'http://[::1]:11434/v1'],
    'base_url': ['http://host.docker.internal:11434', 'https://ollama.example.com/', 'http://[::1]:11434'],
    'loopback_publish': ['127.0.0.1:8080', '127.1.2.3:65535'],
    'model_name': ['llama3', 'qwen2.5:7b', 'team/llama3@fast'],
    'ollama_model': ['llama3', 'llama3:8b', 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M'],
    'bearer_key': ['a' * 24, 'sk-' + 'A1b2' * 10, 'abc.def_ghi~jkl+mno/pqr=stu-vwx'],
    'key_alias': ['n8n', 'n8n-prod.1', 'team:n8n@host'],
    'budget_duration': ['30s', '10m', '1h', '1d', '1mo'],
}
BAD = {
    'domain': ['', 'Example.com', 'example', 'example.com.', '-a.com', 'example.com\n'],
    'ipv4': ['256.1.1.1', '1.2.3', '1.2.3.4\n'],
    'cidr': ['10.0.0.0/33', '10.0.0.0', '10.0.0.0/24\n'],
    'host_port': ['host', 'host:0', 'host:65536', 'host:11434;'],
    'publish': ['', '127.0.0.1:', '1.2.3.4:99999', '[::1]:80', '127.0.0.1:8080\n'],
    'nginx_size': ['64q', '64 m', '64m;', '-1', '64mb'],
    'nginx_rate': ['10r/h', '0r/s', '10', '10r/s burst=5'],
    'count': [-1, '1.5', True, '', 1.5],
    'docker_size': ['0', '10 m', '10mb', '-1', '10m;'],
    'seconds': [0, '0', '10s', None],
    'container_name': ['', '-x', 'a b', 'a/b', 'x\n'],
    'image': ['', 'Nginx:1', 'nginx:1 ; rm', 'nginx:', 'a//b'],
    'path': ['', 'relative', '/a b', '/a:b', '/a;b', '/a\n', '/'],
    'volume': ['/a', 'a:b', '/a:/b:r o', 'v:/d\n  privileged: true'],
    'timezone': ['', 'Europe/ Berlin', 'UTC;'],
    'url': ['host:1', 'ftp://h', 'http://h/a b', 'http://h/"x'],
    'base_url': ['http://h/v1', 'http://h:99999', 'ftp://h', 'http://h/\n'],
    'loopback_publish': ['0.0.0.0:8080', '8080', '127.0.0.1', '127.0.0.256:80', '127.0.0.1:0'],
    'bearer_key': ['short', 'a' * 201, 'a' * 23 + ' '],
    'key_alias': ['', '-n8n', 'a' * 65, 'n8n key'],
    'budget_duration': ['0d', '1w', '1', 'd', '1d\n'],
}


@pytest.mark.parametrize('kind,value', [(k, v) for k, values in GOOD.items() for v in values])
def test_good_values(kind, value):
    assert matches(kind, value)
    assert problems([{'name': 'v', 'kind': kind, 'value': value}]) == []


@pytest.mark.parametrize('kind,value', [(k, v) for k, values in BAD.items() for v in values])
def test_bad_values(kind, value):
    assert not matches(kind, value)
    found = problems([{'name': 'llm_gateway_x', 'kind': kind, 'value': value}])
    assert len(found) == 1 and found[0].startswith('llm_gateway_x ') and KINDS[kind][1] in found[0]


def test_every_kind_has_examples():
    assert set(GOOD) | {'env_name'} >= set(KINDS)
    assert kinds() == sorted(list(KINDS) + list(STRUCTURED))


def test_messages_name_the_variable_the_problem_and_the_form():
    found = problems([
        {'name': 'llm_gateway_nginx_client_max_body_size', 'kind': 'nginx_size', 'value': '64m;'},
        {'name': 'llm_gateway_domain', 'kind': 'domain', 'value': 'example.com\n'},
        {'name': 'llm_gateway_nginx_rate_limit', 'kind': 'nginx_rate', 'value': '10r/h'},
        {'name': 'llm_gateway_n8n_image', 'kind': 'image', 'value': ['x']},
    ])
    assert found == [
        'llm_gateway_nginx_client_max_body_size holds ";" (got "64m;"), expected an nginx size: digits with an '
        'optional k, m or g, such as 64m',
        'llm_gateway_domain holds a line break (got "example.com\\n"), expected a DNS domain in lower case, such as '
        'example.com',
        'llm_gateway_nginx_rate_limit has the wrong form (got "10r/h"), expected an nginx rate: requests per second '
        'or per minute, such as 10r/s',
        'llm_gateway_n8n_image is a list, not a text (got ["x"]), expected ' + KINDS['image'][1],
    ]
    # tasks join problems with "; ": only a quoted value may hold one
    assert not any(';' in form for dummy, form in KINDS.values()) and not any(';' in f for f in STRUCTURED.values())


def test_secrets_are_never_shown():
    key = 'k' * 20 + ' ;{}'
    found = problems([{'name': 'llm_gateway_nginx_public_ollama_keys', 'kind': 'bearer_key', 'each': True,
                       'value': ['g' * 30, key]},
                      {'name': 'llm_gateway_other', 'kind': 'path', 'secret': True, 'value': '/a b/' + key}])
    assert len(found) == 2 and key not in ' '.join(found)
    assert found[0].startswith('llm_gateway_nginx_public_ollama_keys[1] holds white space (the value is secret')


def test_lists_optional_values_and_unset():
    assert problems([{'name': 'p', 'kind': 'cidr', 'each': True, 'value': ['10.0.0.0/8', 'x', '1.2.3.4/40']}]) == [
        'p[1] has the wrong form (got "x"), expected ' + KINDS['cidr'][1],
        'p[2] has the wrong form (got "1.2.3.4/40"), expected ' + KINDS['cidr'][1]]
    assert problems([{'name': 'p', 'kind': 'cidr', 'each': True, 'value': '10.0.0.0/8'}])[0].startswith(
        'p is not a list')
    assert problems([{'name': 'p', 'kind': 'publish', 'optional': True, 'value': ''}]) == []
    checks = [{'name': 'a', 'kind': 'count'}, {'name': 'b', 'kind': 'count'}, {'name': 'c', 'kind': 'count'}]
    assert problems(checks, {'a': 'x', 'b': 'UNSET'}, unset='UNSET') == [
        'a has the wrong form (got "x"), expected a whole number, such as 20']


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match='unknown kind'):
        check_value({'name': 'a', 'kind': 'nope', 'value': 1})


def test_env():
    good = {'N8N_X': 'a b "c"\n', 'N': 1, 'B': True, 'D': 'cost $$5'}
    assert problems([{'name': 'e', 'kind': 'env', 'value': good}]) == []
    assert problems([{'name': 'e', 'kind': 'env', 'value': {}}]) == []
    bad = {'A B': 'x', '1X': 'y', 'L': [1], 'S': 'pa$word', 'OK': 'fine'}
    found = problems([{'name': 'e', 'kind': 'env', 'value': bad}])
    assert [f.split(' ')[0] for f in found] == ['e', 'e', 'e.L', 'e.S']
    assert 'key "A B", which holds white space' in found[0] and 'key "1X", which has the wrong form' in found[1]
    assert 'write $$ for a literal $' in found[3]
    assert problems([{'name': 'e', 'kind': 'env', 'value': ['A=1']}])[0].startswith('e is not a mapping')


def test_command():
    good = ['CMD', 'curl', '-fsS', '-o', '/dev/null', 'http://127.0.0.1:8099/healthz']
    assert problems([{'name': 'h', 'kind': 'command', 'value': good}]) == []
    assert problems([{'name': 'h', 'kind': 'command', 'value': 'curl x'}])[0].startswith('h is not such a list')
    assert problems([{'name': 'h', 'kind': 'command', 'value': ['CMD', 'a\nb']}])[0].startswith('h[1] holds a line')
    assert 'lone $' in problems([{'name': 'h', 'kind': 'command', 'value': ['CMD-SHELL', 'echo $HOME']}])[0]


def test_litellm_models():
    backends = [{'model': 'llama3', 'api_base': 'http://host.docker.internal:11434'},
                {'model': 'llama3:8b', 'api_base': 'http://b:11434', 'weight': 2}]
    models = [{'name': 'llama3', 'backends': backends}]
    assert problems([{'name': 'm', 'kind': 'litellm_models', 'value': models}]) == []
    bad = [{'name': 'llama3\n', 'backends': [{'model': 'llama 3', 'api_base': 'http://b:11434/ x'}]}, 'junk',
           {'backends': 'junk'}]
    assert [f.split(' ')[0] for f in problems([{'name': 'm', 'kind': 'litellm_models', 'value': bad}])] == [
        'm[0].name', 'm[0].backends[0].model', 'm[0].backends[0].api_base']
    # the shape itself is the litellm role's check
    assert problems([{'name': 'm', 'kind': 'litellm_models', 'value': 'junk'}]) == []


def test_defect():
    assert defect('a\tb') == 'holds white space' and defect('a"b{') == 'holds "{" and "\\""'
    assert defect('a\x01') == 'holds a control character' and defect(None) == 'is not set (null)'


# ---------------------------------------------------------------------------------------------
# properties

NGINX_BOUND = ['domain', 'ipv4', 'cidr', 'host_port', 'host_header', 'nginx_size', 'nginx_rate', 'count', 'seconds',
               'http_status', 'phase', 'container_name', 'bearer_key']
BREAKING = [';', '{', '}', '\n', '\r', "'", '"', ' ', '\t', '#', '$', '\\']


@PROPS
@given(st.sampled_from(sorted(KINDS)), st.data())
def test_a_breaking_character_anywhere_is_refused(kind, data):
    good = data.draw(st.sampled_from(GOOD.get(kind, ['N8N_HOST'])))
    text = str(good)
    at = data.draw(st.integers(min_value=0, max_value=len(text)))
    char = data.draw(st.sampled_from(BREAKING))
    value = text[:at] + char + text[at:]
    assert not matches(kind, value)
    found = problems([{'name': 'v', 'kind': kind, 'value': value}])
    assert len(found) == 1 and 'has the wrong form' not in found[0], found


@PROPS
@given(st.sampled_from(NGINX_BOUND), st.text(max_size=30), st.sampled_from(BREAKING), st.text(max_size=30))
def test_nginx_bound_kinds_refuse_any_value_with_a_breaking_character(kind, head, char, tail):
    assert problems([{'name': 'v', 'kind': kind, 'value': head + char + tail}])


@PROPS
@given(st.sampled_from(sorted(KINDS)), st.text(max_size=40))
def test_whatever_is_accepted_is_a_single_safe_token(kind, value):
    if matches(kind, value):
        assert not any(c.isspace() or c in ';{}\'"`$#\\' or ord(c) < 32 for c in value)
        assert problems([{'name': 'v', 'kind': kind, 'value': value}]) == []
    else:
        assert len(problems([{'name': 'v', 'kind': kind, 'value': value}])) == 1


FRAGMENTS = {'holds a line break', 'holds white space', 'holds a control character', 'has the wrong form',
             'is empty'}


@PROPS
@given(st.text(min_size=1, max_size=60))
def test_a_secret_value_is_never_in_a_message(secret):
    """A secret's message depends only on the kind of defect (from a fixed vocabulary), never on the value."""
    for check, label in (({'name': 'k', 'kind': 'bearer_key', 'each': True, 'value': [secret]}, 'k[0]'),
                         ({'name': 'k', 'kind': 'domain', 'secret': True, 'value': secret}, 'k')):
        for problem in problems([check]):
            what = defect(secret)
            assert what in FRAGMENTS or what.startswith('holds "')
            assert problem == '%s %s (the value is secret and not shown), expected %s' % (
                label, what, KINDS[check['kind']][1])


def test_memory_limits_name_services_of_the_stack_with_docker_sizes():
    assert check_value({'name': 'm', 'kind': 'mem_limits', 'value': {'n8n': '2g', 'litellm': '512m'}}) == []
    assert check_value({'name': 'm', 'kind': 'mem_limits', 'value': {}}) == []
    found = check_value({'name': 'm', 'kind': 'mem_limits', 'value': {'n8n': '2g;', 'mysql': '1g'}})
    assert len(found) == 2 and 'm.n8n' in found[0] and 'mysql' in found[1]
    assert check_value({'name': 'm', 'kind': 'mem_limits', 'value': ['2g']})
    assert check_value({'name': 's', 'kind': 'docker_size', 'value': '10m'}) == []
    assert check_value({'name': 's', 'kind': 'docker_size', 'value': '0'})


@pytest.mark.parametrize('value, words', [
    ('', ['missing or shorter than 16']),
    (None, ['missing or shorter than 16']),
    ('short-but-ok', ['missing or shorter than 16']),
    ('CHANGE-ME-to-your-n8n-encryption-key', ['placeholder']),
    ('a-long-enough-key-with-$dollar', ['which an env file would alter']),
    ('a long enough key with spaces', ['which an env file would alter']),
    ('change_me', ['missing or shorter than 16', 'placeholder']),
])
def test_a_secret_for_the_stacks_files_names_each_problem_and_never_the_value(value, words):
    found = secret_problems(value)
    assert len(found) == len(words) and all(w in p for w, p in zip(words, found)), found
    assert not value or all(value not in p for p in found)


def test_a_good_secret_has_no_problem_and_the_filter_names_bad_entries_of_a_mapping():
    from ansible_collections.local_ai.llm_gateway.plugins.filter.secret_problems import FilterModule
    check = FilterModule().filters()['secret_problems']
    assert secret_problems('0123456789abcdef0123') == []
    assert check({'llm_gateway_postgres_password': '0123456789abcdef0123', 'llm_gateway_redis_password': 'x'}) == [
        'llm_gateway_redis_password']
    assert check('x') == secret_problems('x')


@pytest.mark.parametrize('value,good', [
    ('postgresql://litellm:p$w#rd;x@llama-postgres:5432/litellm', True),
    ('postgres://u:p@h/db?sslmode=disable', True),
    ('postgresql://u:p@h:5432/db\n', False),
    ('postgresql://u:p w@h/db', False),
    ('postgresql://h/db', False),
    ('mysql://u:p@h/db', False),
    ('postgresql://u:p@h/', False),
])
def test_a_database_url_is_a_secret_form_whose_password_may_hold_anything_but_white_space(value, good):
    assert matches('postgres_url', value) is good
    assert 'postgres_url' in SECRET_FORMS and 'postgres_url' not in KINDS
