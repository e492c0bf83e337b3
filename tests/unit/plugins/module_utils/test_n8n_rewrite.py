"""The pure matching and rewriting logic behind n8n_workflow_urls."""

from __future__ import annotations

import copy
import string

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_rewrite as rw
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import (
    Rule, RuleError, build_rules, plan_workflow, rewrite_expression, rewrite_node, rewrite_url,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_chat import OpenAIChatConverter
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import put_body

OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'
RULES = build_rules([{'from': OLD, 'to': NEW}])
HOST_RULES = build_rules([{'from': 'https://llm.example.com', 'to': 'http://llama-nginx'}])
CONVERTERS = {'openai_chat': OpenAIChatConverter()}


def http_node(url, version=4.2, node_type='n8n-nodes-base.httpRequest', name='Call LLM', **params):
    parameters = dict(params)
    parameters['url'] = url
    return {'id': name.lower().replace(' ', '-'), 'name': name, 'type': node_type, 'typeVersion': version,
            'position': [0, 0], 'parameters': parameters}


def workflow(nodes, **extra):
    base = {'id': 'wf1', 'name': 'WF 1', 'active': False, 'activeVersionId': None, 'isArchived': False,
            'versionId': 'v1', 'nodes': nodes, 'connections': {}, 'settings': {'binaryMode': 'separate'},
            'staticData': None, 'pinData': {'x': [{'json': {}}]}, 'tags': [], 'shared': [], 'meta': None,
            'activeVersion': None, 'createdAt': 't', 'updatedAt': 't', 'triggerCount': 0}
    base.update(extra)
    return base


# ---------------------------------------------------------------------------------------------
# prefix matching and its boundary

@pytest.mark.parametrize('url,expected', [
    (OLD, NEW),
    (OLD + '?x=1', NEW + '?x=1'),
    (OLD + '/', NEW + '/'),
    (OLD + '/more/path', NEW + '/more/path'),
    (OLD + '#frag', NEW + '#frag'),
    ('HTTPS://LLM.Example.COM/api/generate', NEW),           # scheme and host are case-insensitive
    (OLD + 'x', OLD + 'x'),                                    # no boundary
    ('https://llm.example.com.evil/api/generate', 'https://llm.example.com.evil/api/generate'),
    ('https://llm.example.com/API/generate', 'https://llm.example.com/API/generate'),  # the path is not
    ('https://llm.example.com/api/gen', 'https://llm.example.com/api/gen'),
    ('http://llm.example.com/api/generate', 'http://llm.example.com/api/generate'),    # other scheme
    ('https://llm.example.com:8443/api/generate', 'https://llm.example.com:8443/api/generate'),
    (' ' + OLD, ' ' + OLD),
    ('', ''),
])
def test_prefix_rule_boundary(url, expected):
    assert rewrite_url(url, RULES)[0] == expected


@pytest.mark.parametrize('url,expected', [
    ('https://llm.example.com', 'http://llama-nginx'),
    ('https://llm.example.com/api/chat', 'http://llama-nginx/api/chat'),
    ('https://llm.example.com?q', 'http://llama-nginx?q'),
    ('https://llm.example.com.evil/', 'https://llm.example.com.evil/'),
    ('https://llm.example.com:11434/', 'https://llm.example.com:11434/'),
    ('https://llm.example.community/', 'https://llm.example.community/'),
])
def test_host_rule_boundary(url, expected):
    assert rewrite_url(url, HOST_RULES)[0] == expected


def test_from_ending_with_a_boundary_matches_anything_after_it():
    rules = build_rules([{'from': 'https://llm.example.com/api/', 'to': 'http://llama-nginx/api/'}])
    assert rewrite_url('https://llm.example.com/api/generate', rules)[0] == 'http://llama-nginx/api/generate'
    assert rewrite_url('https://llm.example.com/api', rules)[0] == 'https://llm.example.com/api'


def test_first_matching_rule_wins():
    rules = build_rules([{'from': OLD, 'to': NEW}, {'from': 'https://llm.example.com', 'to': 'http://other'}])
    assert rewrite_url(OLD, rules) == (NEW, rules[0])
    assert rewrite_url('https://llm.example.com/api/tags', rules) == ('http://other/api/tags', rules[1])


def test_regex_rule_with_groups():
    rules = build_rules([{'from': r'https?://llm-(dev|prod)\.example\.com/api/', 'to': r'http://nginx-\1/api/',
                          'regex': True}])
    assert rewrite_url('https://llm-prod.example.com/api/generate?x', rules)[0] == 'http://nginx-prod/api/generate?x'
    assert rewrite_url('https://llm-test.example.com/api/generate', rules)[0] == 'https://llm-test.example.com/api/generate'
    # anchored at the start of the URL
    assert rewrite_url('http://proxy/?u=https://llm-dev.example.com/api/x', rules)[0] == \
        'http://proxy/?u=https://llm-dev.example.com/api/x'


@pytest.mark.parametrize('spec,message', [
    ({'from': OLD, 'to': 'ftp://x/'}, 'to must be an http:// or https:// URL'),
    ({'from': OLD, 'to': 'llama-nginx/api'}, 'to must be an http:// or https:// URL'),
    ({'from': OLD, 'to': 'http://'}, 'to must be an http:// or https:// URL'),
    ({'from': OLD, 'to': ''}, 'to must be an http:// or https:// URL'),
    ({'from': '', 'to': NEW}, 'from must be a non-empty string'),
    ({'from': 'llm.example.com', 'to': NEW}, 'from must be an http:// or https:// URL'),
    ({'from': '([', 'to': NEW, 'regex': True}, 'not a valid regular expression'),
    ({'from': 'x*', 'to': NEW, 'regex': True}, 'matches the empty string'),
    ({'from': '(a)', 'to': r'http://h\2', 'regex': True}, 'refers to the group 2'),
    ({'from': 'https://a.example/api', 'to': 'https://a.example/api/v2'}, 'would be matched by rewrites[0]'),
    ({'from': 'https://a.example', 'to': 'HTTPS://A.example'}, 'would be matched'),
    ({'from': OLD, 'to': NEW, 'convert': 'anthropic'}, 'convert must be one of none, openai_chat'),
    ({'from': OLD, 'to': NEW, 'convert': 'openai_chat'}, 'to must be an OpenAI chat completions URL'),
    ({'from': 'https://llm.example.com', 'to': 'http://gw/v1/chat/completions', 'convert': 'openai_chat'},
     'from must be an Ollama /api/generate or /api/chat URL'),
])
def test_bad_rules(spec, message):
    with pytest.raises(RuleError) as caught:
        build_rules([spec], CONVERTERS)
    assert message in str(caught.value)


def test_a_rule_keeps_the_converter_it_names():
    rules = build_rules([{'from': OLD, 'to': 'http://gw/v1/chat/completions', 'convert': 'openai_chat'},
                         {'from': 'https://llm.example.com/api/chat', 'to': 'http://llama-nginx/api/chat'}], CONVERTERS)
    assert rules[0].converter is CONVERTERS['openai_chat'] and rules[1].converter is None
    with pytest.raises(RuleError, match='convert must be one of none, got'):
        build_rules([{'from': OLD, 'to': 'http://gw/v1/chat/completions', 'convert': 'openai_chat'}])


def test_rules_must_not_chain():
    with pytest.raises(RuleError) as caught:
        build_rules([{'from': 'http://a.example', 'to': 'http://b.example'},
                     {'from': 'http://b.example', 'to': 'http://c.example'}])
    assert 'rewrites[0]' in str(caught.value) and 'rewrites[1]' in str(caught.value)


def test_empty_rules():
    with pytest.raises(RuleError) as caught:
        build_rules([])
    assert 'at least one' in str(caught.value)


def test_secret_in_url_is_masked_in_messages():
    with pytest.raises(RuleError) as caught:
        build_rules([{'from': 'https://u:hunter2@a.example', 'to': 'https://u:hunter2@a.example/x'}])
    assert 'hunter2' not in str(caught.value) and '********' in str(caught.value)


# ---------------------------------------------------------------------------------------------
# expressions

@pytest.mark.parametrize('value,expected', [
    ("={{ '%s' }}" % OLD, "={{ '%s' }}" % NEW),
    ('={{ "%s" }}' % OLD, '={{ "%s" }}' % NEW),
    ('={{ `%s` }}' % OLD, '={{ `%s` }}' % NEW),
    ('=%s' % OLD, '=%s' % NEW),
    ('=%s?model={{ $json.model }}' % OLD, '=%s?model={{ $json.model }}' % NEW),
    ("={{ '%s?x=' + $json.q }}" % OLD, "={{ '%s?x=' + $json.q }}" % NEW),
    ("={{ '%s' + '?x=1' }}" % OLD, "={{ '%s' + '?x=1' }}" % NEW),
    ("={{ $json.fast ? '%s' : 'https://other.example/x' }}" % OLD,
     "={{ $json.fast ? '%s' : 'https://other.example/x' }}" % NEW),
    ("={{ $json.a ? '%s' : '%s/x' }}" % (OLD, OLD), "={{ $json.a ? '%s' : '%s/x' }}" % (NEW, NEW)),
    ('={{ `%s/${$json.path}` }}' % OLD, '={{ `%s/${$json.path}` }}' % NEW),
    ("={{ {a: '%s'}.a }}" % OLD, "={{ {a: '%s'}.a }}" % NEW),
])
def test_expression_rewritten(value, expected):
    new, used, problem = rewrite_expression(value, RULES)
    assert problem is None and new == expected and used == RULES[:1]


@pytest.mark.parametrize('value,reason', [
    ("={{ 'https://llm.example.com' + '/api/generate' }}", 'builds the URL from parts'),
    ("={{ 'https://llm.example.com/api/' + $json.endpoint }}", 'builds the URL from parts'),
    ('=%s{{ $json.suffix }}' % OLD, 'followed by an expression part'),
    ('={{ `%s${$json.x}` }}' % OLD, 'followed by an expression part'),
    ("={{ 'see %s' }}" % OLD, 'inside a longer text'),
    ('={{ $json.x }}%s' % OLD, 'inside a longer text'),
    ("={{ '%s' " % OLD, 'could not be parsed'),
    ("={{ 'https:\\/\\/llm.example.com/api/generate' }}", None),
])
def test_expression_left_alone(value, reason):
    new, used, problem = rewrite_expression(value, RULES)
    assert new == value and used == []
    if reason is None:
        assert problem is None
    else:
        assert reason in problem


def test_expression_with_escape_inside_the_url_is_left_alone():
    value = "={{ 'https://llm.example.com/api/gen\\erate' }}"
    new, dummy, problem = rewrite_expression(value, RULES)
    assert new == value


def test_expression_other_endpoint_on_the_same_host_is_not_a_mention():
    value = "={{ 'https://llm.example.com/api/tags' }}"
    assert rewrite_expression(value, RULES) == (value, [], None)


def test_expression_host_rule_on_parts():
    new, dummy, problem = rewrite_expression("={{ 'https://llm.example.com' + '/api/generate' }}", HOST_RULES)
    assert problem is None and new == "={{ 'http://llama-nginx' + '/api/generate' }}"


def test_new_url_that_would_break_the_literal_is_refused():
    rules = build_rules([{'from': OLD, 'to': "http://x/it's"}])
    new, dummy, problem = rewrite_expression("={{ '%s' }}" % OLD, rules)
    assert new == "={{ '%s' }}" % OLD and 'would change the expression' in problem
    # the same new URL is fine in a double-quoted literal
    new, dummy, problem = rewrite_expression('={{ "%s" }}' % OLD, rules)
    assert problem is None and new == '={{ "http://x/it\'s" }}'


# ---------------------------------------------------------------------------------------------
# nodes

@pytest.mark.parametrize('node', [
    http_node(OLD, version=1, requestMethod='POST', jsonParameters=True, bodyParametersJson='{"model":"m"}'),
    http_node(OLD, version=2, requestMethod='POST'),
    http_node(OLD, version=3, method='POST', sendBody=True, specifyBody='json', jsonBody='{"model":"m"}'),
    http_node(OLD, version=4.2, method='POST', sendBody=True, contentType='json', jsonBody='{"model":"m"}'),
    http_node(OLD, version=4.4),
    http_node(OLD, version=4.2, node_type='n8n-nodes-base.httpRequestTool', toolDescription='LLM'),
    http_node(OLD, version=1.1, node_type='@n8n/n8n-nodes-langchain.toolHttpRequest', method='POST'),
    http_node("={{ '%s' }}" % OLD, version=4.2),
])
def test_every_http_node_shape(node):
    before = copy.deepcopy(node)
    new_node, changes, skipped = rewrite_node(node, RULES)
    assert node == before, 'the input node must not be modified'
    assert [c.path for c in changes] == [('parameters', 'url')]
    assert NEW in new_node['parameters']['url'] and OLD not in new_node['parameters']['url']
    rest = dict(new_node, parameters=dict(new_node['parameters'], url=None))
    assert rest == dict(node, parameters=dict(node['parameters'], url=None)), 'only the url changes'
    assert skipped == []


def test_non_http_nodes_are_never_rewritten():
    for node_type in ('n8n-nodes-base.set', 'n8n-nodes-base.mistralAi', '@n8n/n8n-nodes-langchain.mcpClientTool'):
        node = {'name': 'n', 'type': node_type, 'parameters': {'url': OLD}}
        new_node, changes, skipped = rewrite_node(node, RULES)
        assert new_node is None and changes == []
        assert [s['kind'] for s in skipped] == ['mention'] and skipped[0]['parameter'] == 'parameters.url'


@pytest.mark.parametrize('node,parameter,place', [
    ({'name': 'Code', 'type': 'n8n-nodes-base.code', 'parameters': {'jsCode': "await fetch('%s')" % OLD}},
     'parameters.jsCode', 'Code node'),
    ({'name': 'Note', 'type': 'n8n-nodes-base.stickyNote', 'parameters': {'content': 'We call %s.' % OLD}},
     'parameters.content', 'sticky note'),
    (http_node('http://other/x', jsonBody='{"callback": "%s"}' % OLD), 'parameters.jsonBody', 'request body'),
    (http_node('http://other/x', headerParameters={'parameters': [{'name': 'X-Upstream', 'value': OLD}]}),
     'parameters.headerParameters.parameters[0].value', 'request header'),
    (http_node('http://other/x', queryParameters={'parameters': [{'name': 'u', 'value': OLD + '?a'}]}),
     'parameters.queryParameters.parameters[0].value', 'query parameter'),
    (http_node('http://other/x', options={'pagination': {'pagination': {'nextURL': OLD + '?p=2'}}}),
     'parameters.options.pagination.pagination.nextURL', 'request options'),
    (dict(http_node('http://other/x'), notes='was ' + OLD), 'notes', 'notes'),
])
def test_mentions_elsewhere_are_reported_not_rewritten(node, parameter, place):
    new_node, changes, skipped = rewrite_node(node, RULES)
    assert new_node is None and changes == []
    assert len(skipped) == 1
    assert skipped[0]['parameter'] == parameter and skipped[0]['kind'] == 'mention'
    assert place in skipped[0]['reason'] and skipped[0]['node'] == node['name']


def test_url_rewritten_but_body_mention_reported():
    node = http_node(OLD, method='POST', jsonBody='{"echo": "%s"}' % OLD)
    new_node, changes, skipped = rewrite_node(node, RULES)
    assert new_node['parameters']['url'] == NEW and new_node['parameters']['jsonBody'] == node['parameters']['jsonBody']
    assert [s['parameter'] for s in skipped] == ['parameters.jsonBody']


@pytest.mark.parametrize('url,kind', [
    ('={{ $json.url }}', 'dynamic_url'),
    ("={{ $json.base + '/api/generate' }}", 'dynamic_url'),
    ("={{ 'https://llm.example.com' + '/api/generate' }}", 'expression'),
    ('http://proxy.local/?target=' + OLD, 'not_rewritable'),
])
def test_url_that_cannot_be_rewritten(url, kind):
    new_node, changes, skipped = rewrite_node(http_node(url), RULES)
    assert new_node is None and [s['kind'] for s in skipped] == [kind]
    assert skipped[0]['parameter'] == 'parameters.url'


def test_literal_url_with_the_old_address_twice():
    url = OLD + '?next=' + OLD
    new_node, changes, skipped = rewrite_node(http_node(url), RULES)
    assert new_node['parameters']['url'] == NEW + '?next=' + OLD
    assert [s['kind'] for s in skipped] == ['not_rewritable'] and 'once more' in skipped[0]['reason']


def test_static_expression_to_elsewhere_is_not_reported():
    new_node, changes, skipped = rewrite_node(http_node('=https://api.github.com/{{ $json.repo }}'), RULES)
    assert new_node is None and skipped == []


def test_llm_credentials_are_reported():
    node = {'name': 'Ollama Chat', 'type': '@n8n/n8n-nodes-langchain.lmChatOllama', 'parameters': {},
            'credentials': {'ollamaApi': {'id': 'c1', 'name': 'Ollama local'}}}
    dummy, dummy2, skipped = rewrite_node(node, RULES)
    assert [s['kind'] for s in skipped] == ['credential']
    assert 'ollamaApi' in skipped[0]['reason'] and 'Ollama local' in skipped[0]['reason']
    other = {'name': 'Slack', 'type': 'n8n-nodes-base.slack', 'parameters': {},
             'credentials': {'slackApi': {'id': 'c2', 'name': 'S'}}}
    assert rewrite_node(other, RULES)[2] == []


def test_odd_values_do_not_break_it():
    for node in (None, 'x', {}, {'type': 'n8n-nodes-base.httpRequest'},
                 {'type': 'n8n-nodes-base.httpRequest', 'parameters': {'url': 123}},
                 {'type': 'n8n-nodes-base.httpRequest', 'parameters': None}):
        assert rewrite_node(node, RULES)[:2] == (None, [])


# ---------------------------------------------------------------------------------------------
# workflows: actions, skipped reasons, PUT bodies

def test_plan_put_for_inactive():
    wf = workflow([http_node(OLD), http_node('http://other/x', name='Other')])
    plan = plan_workflow(wf, RULES)
    assert plan.action == 'put' and plan.changed_nodes == ['Call LLM']
    assert plan.new_nodes[0]['parameters']['url'] == NEW and plan.new_nodes[1] == wf['nodes'][1]
    assert wf['nodes'][0]['parameters']['url'] == OLD


def test_plan_nothing_to_do():
    plan = plan_workflow(workflow([http_node('http://other/x')]), RULES)
    assert plan.action is None and plan.skipped == []


def test_plan_archived():
    plan = plan_workflow(workflow([http_node(OLD)], isArchived=True), RULES)
    assert plan.action == 'skip' and [s['kind'] for s in plan.skipped] == ['archived']
    assert plan.skipped[0]['id'] == 'wf1' and plan.skipped[0]['name'] == 'WF 1'
    # an archived workflow that does not mention the old URL is not reported
    assert plan_workflow(workflow([http_node('http://x/')], isArchived=True), RULES).skipped == []


def test_plan_unsupported_node_keys():
    node = dict(http_node(OLD), extendsCredential='openAiApi', forceCustomOperation={'a': 1})
    plan = plan_workflow(workflow([node]), RULES)
    assert plan.action == 'skip'
    entry = [s for s in plan.skipped if s['kind'] == 'unsupported_node_keys'][0]
    assert 'extendsCredential' in entry['reason'] and 'forceCustomOperation' in entry['reason']


def test_plan_read_only_node_keys_are_dropped_from_the_put():
    node = dict(http_node(OLD), createdAt='t', updatedAt='t')
    plan = plan_workflow(workflow([node]), RULES)
    assert plan.action == 'put'
    assert 'createdAt' not in put_body(plan.workflow, plan.new_nodes)['nodes'][0]


def active_wf(draft_url, published_url):
    return workflow([http_node(draft_url)], active=True, versionId='v2' if draft_url != published_url else 'v1',
                    activeVersionId='v1',
                    activeVersion={'versionId': 'v1', 'nodes': [http_node(published_url)], 'connections': {}})


def test_plan_active_without_draft():
    plan = plan_workflow(active_wf(OLD, OLD), RULES)
    assert plan.action == 'put' and plan.active and not plan.draft


def test_plan_active_with_draft_is_skipped_unless_publish_drafts():
    wf = active_wf(OLD + '?draft', OLD)
    plan = plan_workflow(wf, RULES)
    assert plan.action == 'skip' and plan.skipped[-1]['kind'] == 'unpublished_draft'
    assert 'publish_drafts' in plan.skipped[-1]['reason']
    assert plan_workflow(wf, RULES, publish_drafts=True).action == 'put'


def test_plan_draft_already_new_but_published_old():
    wf = active_wf(NEW, OLD)
    assert plan_workflow(wf, RULES).action == 'skip'
    plan = plan_workflow(wf, RULES, publish_drafts=True)
    assert plan.action == 'publish' and plan.changes == [] and len(plan.published_changes) == 1


def test_plan_draft_without_old_urls_is_left_alone():
    wf = active_wf('http://other/a', 'http://other/b')
    assert plan_workflow(wf, RULES).action is None


def test_diff_entry():
    plan = plan_workflow(workflow([http_node('https://u:pw@llm.example.com/api/generate?x=1'), http_node(OLD, name='B')]),
                         build_rules([{'from': 'https://u:pw@llm.example.com', 'to': 'http://n'},
                                      {'from': OLD, 'to': NEW}]))
    diff = rw.diff_entry(plan)
    assert diff['before']['B'] == {'parameters.url': OLD} and diff['after']['B'] == {'parameters.url': NEW}
    assert diff['before']['Call LLM'] == {'parameters.url': 'https://u:********@llm.example.com/api/generate?x=1'}
    assert 'WF 1' in diff['before_header'] and 'wf1' in diff['before_header']


# ---------------------------------------------------------------------------------------------
# property-based: a rewrite never touches anything outside the matched prefix

URL_CHARS = string.ascii_letters + string.digits + '-._~%!$&()*+,;=:@/?#'
hosts = st.from_regex(r'\A[a-z][a-z0-9]{0,8}(\.[a-z][a-z0-9]{0,8}){1,3}\Z', fullmatch=True)
paths = st.from_regex(r'\A(/[A-Za-z0-9._~-]{1,8}){0,3}\Z', fullmatch=True)
suffixes = st.text(alphabet=URL_CHARS, max_size=40)


@st.composite
def prefix_rules(draw):
    scheme = draw(st.sampled_from(['http', 'https']))
    source = '%s://%s%s' % (scheme, draw(hosts), draw(paths))
    target = '%s://%s%s' % (draw(st.sampled_from(['http', 'https'])), draw(hosts), draw(paths))
    assume(Rule(source, NEW).match(target) is None and Rule(source, NEW).match(target.rstrip('/') + '/') is None)
    return source, target


@settings(max_examples=300, deadline=None)
@given(prefix_rules(), suffixes)
@example((OLD, NEW), '?x=1')
@example(('https://llm.example.com', 'http://llama-nginx'), '.evil/')
def test_property_rewrite_is_target_plus_untouched_suffix(rule, suffix):
    source, target = rule
    rules = build_rules([{'from': source, 'to': target}])
    new, used = rewrite_url(source + suffix, rules)
    if suffix == '' or suffix[0] in '/?#':
        assert used is rules[0] and new == target + suffix
    else:
        assert used is None and new == source + suffix


@settings(max_examples=300, deadline=None)
@given(prefix_rules(), st.text(max_size=60))
def test_property_result_is_unchanged_or_target_plus_rest(rule, text):
    source, target = rule
    rules = build_rules([{'from': source, 'to': target}])
    new, used = rewrite_url(text, rules)
    if used is None:
        assert new == text
    else:
        assert text[:len(source)].lower() == source.lower()
        assert new == target + text[len(source):]


@settings(max_examples=300, deadline=None)
@given(prefix_rules(), st.text(max_size=60))
def test_property_strings_not_starting_with_from_are_unchanged(rule, text):
    source, target = rule
    assume(not text.lower().startswith(source.lower()))
    assert rewrite_url(text, build_rules([{'from': source, 'to': target}])) == (text, None)


JS_SAFE = string.ascii_letters + string.digits + '-._~%!$&()*+,;=:@/?#'


@settings(max_examples=300, deadline=None)
@given(prefix_rules(), st.text(alphabet=JS_SAFE, max_size=30), st.sampled_from(["'", '"', '`']),
       st.text(alphabet=string.ascii_letters + ' +.$()', max_size=20),
       st.text(alphabet=string.ascii_letters + ' +.$()', max_size=20))
def test_property_expression_edit_stays_inside_the_literal(rule, suffix, quote, before, after):
    source, target = rule
    assume(suffix == '' or suffix[0] in '/?#')
    rules = build_rules([{'from': source, 'to': target}])
    head = '={{ %s%s' % (before, quote)
    tail = '%s%s }}' % (quote, after)
    value = head + source + suffix + tail
    new, used, problem = rewrite_expression(value, rules)
    assume(problem is None or 'could not be parsed' not in problem)
    assert problem is None
    assert new == head + target + suffix + tail


def replaces_some_occurrences(old, new, source, target):
    """Whether ``new`` is ``old`` with some occurrences of ``source`` (any case) replaced by ``target``."""
    memo = {}

    def walk(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(old):
            ok = j == len(new)
        else:
            ok = j < len(new) and old[i] == new[j] and walk(i + 1, j + 1)
            if not ok and old[i:i + len(source)].lower() == source.lower() and new.startswith(target, j):
                ok = walk(i + len(source), j + len(target))
        memo[(i, j)] = ok
        return ok
    return walk(0, 0)


@settings(max_examples=200, deadline=None)
@given(prefix_rules(), st.lists(st.one_of(st.text(max_size=12), st.sampled_from(["'", '"', '`', '{{', '}}', '${', '}'])),
                                max_size=12),
       st.lists(st.sampled_from(['/', '?x', '#', '', 'x', '.evil']), max_size=3))
def test_property_random_expressions_change_only_matched_prefixes(rule, pieces, tails):
    source, target = rule
    rules = build_rules([{'from': source, 'to': target}])
    body = ''.join(pieces)
    for tail in tails:
        body += source + tail + "'"
    value = '=' + body
    new, used, problem = rewrite_expression(value, rules)
    if not used:
        assert new == value
    else:
        assert problem is None and new != value
        assert replaces_some_occurrences(value, new, source, target)


# fallback ------------------------------------------------------------------------------------

GW = 'http://llama-litellm:4000/v1/chat/completions'
CHAT = 'https://llm.example.com/api/chat'
FALLBACK_RULES = build_rules([
    {'from': OLD, 'to': GW, 'convert': 'openai_chat', 'fallback': NEW},
    {'from': CHAT, 'to': GW, 'convert': 'openai_chat'},
    {'from': NEW, 'to': GW, 'convert': 'openai_chat'},
], CONVERTERS)
IMAGES = '{"model": "llava", "prompt": "x", "images": ["aGk="]}'


def refused_node(url):
    return http_node(url, method='POST', sendBody=True, specifyBody='json', jsonBody=IMAGES)


def test_a_refused_expression_url_moves_to_the_fallback():
    url = '={{ "%s" }}' % OLD
    plan = plan_workflow(workflow([refused_node(url)]), FALLBACK_RULES)
    assert plan.action == 'put'
    assert plan.new_nodes[0]['parameters'] == dict(refused_node(url)['parameters'], url='={{ "%s" }}' % NEW)
    assert [(s['kind'], s['moved_to']) for s in plan.skipped] == [('not_converted', '={{ "%s" }}' % NEW)]
    again = plan_workflow(workflow(plan.new_nodes), FALLBACK_RULES)
    assert again.action is None and [s['kind'] for s in again.skipped] == ['not_converted']
    assert 'moved_to' not in again.skipped[0]


def test_an_expression_also_using_a_rule_without_fallback_is_left_untouched():
    url = '={{ $json.chat ? "%s" : "%s" }}' % (CHAT, OLD)
    plan = plan_workflow(workflow([refused_node(url)]), FALLBACK_RULES)
    assert plan.action is None and plan.new_nodes is None
    assert [s['kind'] for s in plan.skipped] == ['not_converted'] and 'moved_to' not in plan.skipped[0]


def test_phase_2_rules_of_the_role_are_accepted():
    from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_routes import routes
    rules = build_rules(routes(2, 'example.com', 'llama-nginx', GW), CONVERTERS)
    assert [rule.fallback for rule in rules] == [NEW, 'http://llama-nginx/api/chat', None, None]
    assert build_rules(routes(1, 'example.com', 'llama-nginx'), CONVERTERS)
    assert build_rules(routes('back', 'example.com', 'llama-nginx'), CONVERTERS)


@pytest.mark.parametrize('spec,words', [
    ({'from': OLD, 'to': NEW, 'fallback': 'http://elsewhere/api/generate'}, 'fallback is only used with convert'),
    ({'from': OLD, 'to': GW, 'convert': 'openai_chat', 'fallback': '/api/generate'},
     'fallback must be an http:// or https:// URL with a host'),
    ({'from': OLD, 'to': GW, 'convert': 'openai_chat', 'fallback': OLD}, 'which has a fallback itself'),
])
def test_bad_fallback_is_refused(spec, words):
    with pytest.raises(RuleError, match=words):
        build_rules([spec], CONVERTERS)
