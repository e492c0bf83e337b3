"""n8n_workflow_urls against the harness's real n8n (2.41.1; make test-n8n-releases: 1.123.81), run like a task.

One corpus of varied workflows is built for this module (unique name prefix and tag) and deleted
at the end. The tests run in order: check mode, apply, second run, scoped runs, restore, and the
failure cases, each comparing the workflows with their state before.
"""

from __future__ import annotations

import json
import os
import stat

import pytest

from conftest import free_port, run_module
from n8n_corpus import NEW, OLD, Corpus, differences, expected_after, live_corpus, normalize, published_nodes

RULES = [{'from': OLD, 'to': NEW}]


@pytest.fixture(scope='module')
def corpus(n8n):
    with live_corpus(Corpus, n8n.client(), 'it') as built:
        yield built


@pytest.fixture(scope='module')
def backup_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp('n8n-backups'))


def module_args(n8n, corpus, backup_root, **extra):
    args = {'url': n8n.url, 'api_key': n8n.api_key, 'rewrites': RULES, 'workflow_ids': corpus.ids,
            'backup_dir': backup_root}
    args.update(extra)
    return args


def assert_untouched(corpus, before, after, items=None):
    """Strictly unchanged: same versions, same timestamps, same everything."""
    for item in items or corpus.items:
        assert after[item.id] == before[item.id], (item.key, differences(before[item.id], after[item.id]))


def assert_no_key(n8n, result):
    assert n8n.api_key not in json.dumps(result)


def expected_changed(corpus):
    return sorted(item.id for item in corpus.items if item.changes)


# ---------------------------------------------------------------------------------------------

def test_corpus_is_big_and_varied(corpus):
    # (n8n 1.x has no archive call and no draft apart from the published version: those items are left out there.)
    assert len(corpus.items) + len(corpus.left_out) >= 30
    kinds = set()
    for item in corpus.items:
        kinds.update(item.skips)
    assert {'archived', 'unpublished_draft', 'unsupported_node_keys', 'expression', 'dynamic_url', 'mention',
            'credential', 'not_rewritable'} - corpus.kinds_left_out <= kinds
    assert corpus.kinds_left_out == (set() if corpus.release >= (2, 0) else {'archived', 'unpublished_draft'})
    types = set((n['type'], n['typeVersion']) for item in corpus.items for n in item.nodes)
    for wanted in (('n8n-nodes-base.httpRequest', 1), ('n8n-nodes-base.httpRequest', 3),
                   ('n8n-nodes-base.httpRequest', 4.2), ('n8n-nodes-base.httpRequestTool', 4.2),
                   ('@n8n/n8n-nodes-langchain.toolHttpRequest', 1.1)):
        assert wanted in types


def test_check_mode_writes_nothing(n8n, corpus, backup_root):
    result, dummy = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root), check=True, diff=True)
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert sorted(w['id'] for w in result['changed_workflows']) == expected_changed(corpus)
    assert set(result['api_calls']) == {'GET'}
    assert result['backups'] == [] and os.listdir(backup_root) == []
    assert_untouched(corpus, corpus.before, corpus.api.snapshot(corpus.ids))
    # diff: per node, before and after of each changed parameter
    diffs = dict((d['before_header'], d) for d in result['diff'])
    item = corpus.by_key('two-of-three')
    entry = diffs['n8n workflow %s (%s)' % (item.name, item.id)]
    assert entry['before'] == {'A': {'parameters.url': OLD}, 'C': {'parameters.url': OLD + '#frag'}}
    assert entry['after'] == {'A': {'parameters.url': NEW}, 'C': {'parameters.url': NEW + '#frag'}}
    assert len(result['diff']) == len(expected_changed(corpus))
    assert_no_key(n8n, result)


def test_apply_changes_only_the_targeted_urls(n8n, corpus, backup_root):
    result, seconds = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root), diff=True)
    assert not result.get('failed'), result
    corpus.state['apply'] = result
    assert result['changed'] is True
    assert sorted(w['id'] for w in result['changed_workflows']) == expected_changed(corpus)
    for entry in result['changed_workflows']:
        item = [i for i in corpus.items if i.id == entry['id']][0]
        assert sorted(entry['nodes']) == sorted(item.rewrites), item.key
    # calls: the listing, per changed workflow one GET right before its PUT and the PUT, one GET to confirm
    # each active one
    changed = len(expected_changed(corpus))
    changed_active = [i for i in corpus.items if i.changes and i.active]
    pages = result['api_calls']['GET'] - changed - len(changed_active)
    assert 1 <= pages <= 10
    assert result['api_calls'] == {'GET': pages + changed + len(changed_active), 'PUT': changed}

    after = corpus.api.snapshot(corpus.ids)
    for item in corpus.items:
        before = corpus.before[item.id]
        now = after[item.id]
        if not item.changes:
            assert now == before, (item.key, differences(before, now))
            continue
        assert normalize(now) == expected_after(item, before), (item.key, differences(expected_after(item, before),
                                                                                      normalize(now)))
        assert now['versionId'] != before['versionId']
        if item.active:
            assert now['active'] is True and now['activeVersionId'] == now['versionId'], item.key
            assert published_nodes(now) == now['nodes'], item.key
    # what must not move: archived, draft, pinData, staticData, settings n8n's PUT would reject, tags
    assert after[corpus.by_key('archived').id] == corpus.before[corpus.by_key('archived').id]
    draft = after[corpus.by_key('active-draft').id]
    assert draft['versionId'] != draft['activeVersionId'] and draft['active'] is True
    assert after[corpus.by_key('pin-data').id]['pinData'] == {'LLM': [{'json': {'response': 'pinned'}}]}
    assert after[corpus.by_key('static-data').id]['staticData'] == {'lastId': 42}
    assert after[corpus.by_key('odd-settings').id]['settings']['binaryMode'] == 'separate'
    assert [t['name'] for t in after[corpus.by_key('tagged').id]['tags']] == [corpus.tag]


def test_apply_reports_what_it_left_alone(n8n, corpus):
    result = corpus.state['apply']
    by_id = {}
    for entry in result['skipped_items']:
        by_id.setdefault(entry['id'], set()).add(entry['kind'])
        assert entry['name'] and entry['reason']
    for item in corpus.items:
        assert item.skips <= by_id.get(item.id, set()), (item.key, by_id.get(item.id))
    archived = [e for e in result['skipped_items'] if e['kind'] == 'archived']
    assert [e['id'] for e in archived] == [corpus.by_key('archived').id]
    code = [e for e in result['skipped_items'] if e['id'] == corpus.by_key('code-only').id][0]
    assert code['node'] == 'Code' and code['parameter'] == 'parameters.jsCode' and 'Code node' in code['reason']
    assert_no_key(n8n, result)


def test_apply_wrote_backups(corpus):
    result = corpus.state['apply']
    assert len(result['backups']) == len(expected_changed(corpus))
    folder = result['backup_folder']
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for path in result['backups']:
        assert os.path.dirname(path) == folder and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            saved = json.load(handle)
        before = dict(corpus.before[saved['id']])
        for key in ('description', 'versionCounter'):   # not in the listing
            before.pop(key, None)
        for entry in before.get('shared') or []:
            entry.pop('project', None)
        assert saved['nodes'] == before['nodes'] and saved['versionId'] == before['versionId']
        assert saved['settings'] == before['settings'] and saved['pinData'] == before['pinData']


def test_second_run_changes_nothing(n8n, corpus, backup_root):
    before = corpus.api.snapshot(corpus.ids)
    result, dummy = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root))
    assert not result.get('failed'), result
    assert result['changed'] is False and result['changed_workflows'] == [] and result['backups'] == []
    assert set(result['api_calls']) == {'GET'}
    assert_untouched(corpus, before, corpus.api.snapshot(corpus.ids))


def test_publish_drafts_in_check_mode_lists_the_draft(n8n, corpus, backup_root):
    draft = corpus.by_key('active-draft')
    args = module_args(n8n, corpus, backup_root, publish_drafts=True, workflow_ids=[draft.id])
    result, dummy = run_module('n8n_workflow_urls', args, check=True)
    assert not result.get('failed'), result
    assert [w['id'] for w in result['changed_workflows']] == [draft.id]
    assert set(result['api_calls']) == {'GET'}


def test_tag_scope_in_check_mode(n8n, corpus, backup_root):
    # after the apply nothing is left to change, so scope on a rule that matches the new URLs instead
    rules = [{'from': NEW, 'to': 'http://llama-nginx-2/api/generate'}]
    result, dummy = run_module('n8n_workflow_urls', {'url': n8n.url, 'api_key': n8n.api_key, 'rewrites': rules,
                                                     'tags': [corpus.tag], 'backup_dir': backup_root}, check=True)
    assert not result.get('failed'), result
    assert [w['id'] for w in result['changed_workflows']] == [corpus.by_key('tagged').id]
    assert result['workflows_in_scope'] == 1


def test_restore_brings_everything_back_exactly(n8n, corpus, backup_root):
    folder = corpus.state['apply']['backup_folder']
    result, dummy = run_module('n8n_workflow_urls', {'url': n8n.url, 'api_key': n8n.api_key, 'state': 'restored',
                                                     'backup': folder, 'backup_dir': backup_root}, diff=True)
    assert not result.get('failed'), result
    assert result['changed'] is True
    assert sorted(w['id'] for w in result['changed_workflows']) == expected_changed(corpus)
    assert len(result['backups']) == len(expected_changed(corpus)) and result['backup_folder'] != folder
    after = corpus.api.snapshot(corpus.ids)
    for item in corpus.items:
        before = corpus.before[item.id]
        now = after[item.id]
        assert normalize(now) == normalize(before), (item.key, differences(normalize(before), normalize(now)))
        assert bool(now['activeVersionId']) == bool(before['activeVersionId']), item.key
        if item.active and not item.draft:
            assert now['activeVersionId'] == now['versionId'] and published_nodes(now) == before['nodes']
    # nothing left to restore
    again, dummy = run_module('n8n_workflow_urls', {'url': n8n.url, 'api_key': n8n.api_key, 'state': 'restored',
                                                    'backup': folder, 'backup_dir': backup_root})
    assert not again.get('failed') and again['changed'] is False and set(again['api_calls']) == {'GET'}


def test_wrong_key_fails_clearly_and_writes_nothing(n8n, corpus, backup_root):
    before = corpus.api.snapshot(corpus.ids)
    args = module_args(n8n, corpus, backup_root, api_key='n8n_api_wrong_key_for_the_test')
    result, dummy = run_module('n8n_workflow_urls', args)
    assert result.get('failed') is True
    assert 'refused the API key' in result['msg'] and 'HTTP 401' in result['msg']
    assert result['api_calls'] == {'GET': 1} and result['changed'] is False
    assert 'n8n_api_wrong_key_for_the_test' not in result['_stdout']
    assert_untouched(corpus, before, corpus.api.snapshot(corpus.ids))


def test_an_n8n_that_cannot_list_credentials_refuses_phase_2_before_any_write(n8n, corpus, backup_root):
    # n8n 1.x's public API answers 405 to GET /credentials, which finding or making phase 2's credential needs.
    if n8n.release >= (2, 0):
        pytest.skip('n8n %s lists credentials (make test-n8n-releases runs this against 1.123.81)'
                    % '.'.join(map(str, n8n.release)))
    before = corpus.api.snapshot(corpus.ids)
    args = module_args(n8n, corpus, backup_root, rewrites=[{'from': OLD, 'to': 'http://llama-litellm:4000/v1/chat/completions',
                                                            'convert': 'openai_chat'}],
                       auth={'credential_name': corpus.prefix + ' LiteLLM', 'value': 'sk-' + 'x' * 40})
    result, dummy = run_module('n8n_workflow_urls', args)
    assert result.get('failed') is True, result
    assert 'answered HTTP 405' in result['msg'] and 'cannot list credentials' in result['msg'], result['msg']
    assert 'move n8n to 2.0 or later first' in result['msg'] and result['changed'] is False
    assert result['changed_workflows'] == [] and 'PUT' not in result['api_calls'] and 'POST' not in result['api_calls']
    assert_untouched(corpus, before, corpus.api.snapshot(corpus.ids))


def test_stopped_n8n_fails_clearly(n8n, corpus, backup_root):
    port = free_port()   # nothing listens there
    args = module_args(n8n, corpus, backup_root, url='http://127.0.0.1:%d' % port, retries=1, delay=0)
    result, dummy = run_module('n8n_workflow_urls', args)
    assert result.get('failed') is True
    assert 'connection refused' in result['msg'] and '127.0.0.1:%d' % port in result['msg']
    assert result['api_calls'] == {'GET': 2} and result['changed'] is False
    assert_no_key(n8n, result)


def test_bad_rule_fails_before_any_call(n8n, corpus, backup_root):
    before = corpus.api.snapshot(corpus.ids)
    for rules, words in (([], 'at least one'), ([{'from': OLD, 'to': 'llama-nginx/api/generate'}], 'http')):
        result, dummy = run_module('n8n_workflow_urls', module_args(n8n, corpus, backup_root, rewrites=rules))
        assert result.get('failed') is True and words in result['msg']
        assert result.get('api_calls', {}) == {}
    assert_untouched(corpus, before, corpus.api.snapshot(corpus.ids))


def test_publish_drafts_then_restore_brings_back_draft_and_published_version(n8n, corpus, backup_root):
    item = corpus.by_key('active-draft')
    before = corpus.api.get(item.id)
    assert before['versionId'] != before['activeVersionId']
    args = module_args(n8n, corpus, backup_root, publish_drafts=True, workflow_ids=[item.id])
    result, dummy = run_module('n8n_workflow_urls', args)
    assert not result.get('failed'), result
    assert [w['id'] for w in result['changed_workflows']] == [item.id]
    now = corpus.api.get(item.id)
    assert now['active'] is True and now['versionId'] == now['activeVersionId']
    assert [n['parameters'].get('url') for n in published_nodes(now) if n['name'] == 'LLM'] == [NEW + '?draft=1']
    restored, dummy = run_module('n8n_workflow_urls', {'url': n8n.url, 'api_key': n8n.api_key, 'state': 'restored',
                                                       'backup': result['backup_folder'], 'backup_dir': backup_root})
    assert not restored.get('failed'), restored
    assert restored['changed_workflows'][0]['action'] == 'deactivate,put,activate_version'
    now = corpus.api.get(item.id)
    assert normalize(now) == normalize(before), differences(normalize(before), normalize(now))
    assert now['activeVersionId'] == before['activeVersionId'] and now['versionId'] != now['activeVersionId']
    assert published_nodes(now) == published_nodes(before)


def test_least_privilege_key(n8n, corpus, backup_root):
    """The documented scopes: list/read/update rewrite inactive workflows; active ones also need activate."""
    api = corpus.api
    scopes = ['workflow:list', 'workflow:read', 'workflow:update']
    created = api.rest('POST', '/api-keys', {'label': corpus.prefix + '-narrow', 'scopes': scopes, 'expiresAt': None})
    key = created['data']['rawApiKey']
    inactive = corpus.by_key('v3-json')
    active = corpus.by_key('active-webhook')
    try:
        args = module_args(n8n, corpus, backup_root, api_key=key, workflow_ids=[inactive.id])
        result, dummy = run_module('n8n_workflow_urls', args)
        assert not result.get('failed'), result
        assert [w['id'] for w in result['changed_workflows']] == [inactive.id]
        args = module_args(n8n, corpus, backup_root, api_key=key, workflow_ids=[active.id])
        result, dummy = run_module('n8n_workflow_urls', args)
        if n8n.release < (2, 0):
            # n8n 1.x saves an active workflow live (no draft to publish): the narrow key is enough there.
            assert not result.get('failed'), result
            assert [w['id'] for w in result['changed_workflows']] == [active.id]
            now = api.get(active.id)
            assert now['active'] is True and [n['parameters'].get('url') for n in now['nodes']
                                              if n['name'] == 'LLM'] == [NEW]
            return
        assert result.get('failed') is True
        failure = result['failed_workflows'][0]
        assert 'workflow:activate' in failure['error'] and 'HTTP 403' in failure['error']
        assert key not in result['_stdout']
        now = api.get(active.id)
        # n8n saved the change as a draft and left the published version running
        assert now['active'] is True and now['versionId'] != now['activeVersionId']
        assert failure['saved'] is True and failure['active_after'] is True
    finally:
        api.request('DELETE', '/rest/api-keys/%s' % created['data']['id'])
    # with a full key, publish_drafts finishes the job the narrow key could not
    args = module_args(n8n, corpus, backup_root, publish_drafts=True, workflow_ids=[active.id])
    result, dummy = run_module('n8n_workflow_urls', args)
    assert not result.get('failed'), result
    now = api.get(active.id)
    assert now['versionId'] == now['activeVersionId'] and published_nodes(now) == now['nodes']
