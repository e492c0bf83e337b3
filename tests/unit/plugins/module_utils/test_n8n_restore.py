"""The pure restore logic: what a restore compares, the calls it makes, and when it leaves a workflow alone."""

from __future__ import annotations

import copy

from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_restore import (
    NOT_WRITTEN, UNKNOWN, WRITTEN, changed_during_restore, content_fingerprint, edited_since_run, entry_outcome,
    pending_entry, restore_refusal, restore_steps, restored_ok, settled_entry,
)


def workflow(url='http://llama-nginx/api/generate', name='WF', active=False, draft=False, **extra):
    wf = {'id': 'a', 'name': name, 'versionId': 'v1',
          'nodes': [{'id': 'n1', 'name': 'Ask', 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2,
                     'position': [0, 0], 'parameters': {'url': url}}],
          'connections': {}, 'settings': {'executionOrder': 'v1'}, 'staticData': None,
          'activeVersionId': None}
    if active:
        wf['activeVersionId'] = 'v0' if draft else 'v1'
        wf['active'] = True
    wf.update(extra)
    return wf


def test_the_fingerprint_follows_what_a_restore_puts_back_and_nothing_else():
    base = workflow()
    same = dict(copy.deepcopy(base), versionId='v9', settings={'timezone': 'UTC'}, staticData={'lastId': 3},
                updatedAt='later')
    assert content_fingerprint(same) == content_fingerprint(base)
    for changed in (workflow(name='Renamed'), workflow(url='http://elsewhere/'), workflow(active=True),
                    dict(workflow(), connections={'Ask': {'main': [[]]}})):
        assert content_fingerprint(changed) != content_fingerprint(base)


def test_edited_since_run_by_content_not_by_version():
    left = workflow()
    written = {'version_after': 'v1', 'content_after': content_fingerprint(left), 'backup': '/b/a-x.json'}
    assert edited_since_run(written, dict(left, versionId='v2')) is None, 'a restore of the same content'
    reason = edited_since_run(written, workflow(name='Renamed'))
    assert reason and 'force: true' in reason and '/b/a-x.json' in reason
    assert edited_since_run(None, workflow(name='Renamed')) is None, 'no journal entry: no check'


def test_a_journal_entry_is_unknown_before_the_write_and_settled_by_what_n8n_holds_after():
    before = workflow()
    pending = pending_entry(before, '/b/a-x.json')
    assert pending == {'id': 'a', 'name': 'WF', 'outcome': UNKNOWN, 'version_before': 'v1', 'backup': '/b/a-x.json'}
    assert entry_outcome(pending) == UNKNOWN
    after = workflow(url='http://llama-litellm:4000/v1', versionId='v2')
    entry = settled_entry(before, after, '/b/a-x.json')
    assert entry == {'id': 'a', 'name': 'WF', 'outcome': WRITTEN, 'version_before': 'v1', 'version_after': 'v2',
                     'content_after': content_fingerprint(after), 'backup': '/b/a-x.json'}
    # n8n answered with an error and holds what it held: not written, and what it holds is what the run left
    same = settled_entry(before, copy.deepcopy(before), None)
    assert same['outcome'] == NOT_WRITTEN and same['content_after'] == content_fingerprint(before)
    for changed in (dict(before, versionId='v2'), workflow(active=True), dict(before, staticData={'x': 1})):
        assert settled_entry(before, changed, None)['outcome'] == WRITTEN, changed
    assert settled_entry(before, copy.deepcopy(before), None, written=True)['outcome'] == WRITTEN


def test_entries_without_outcome_are_old_journals_of_written_workflows():
    assert entry_outcome({'version_after': 'v2', 'content_after': 'f'}) == WRITTEN
    assert entry_outcome({'outcome': NOT_WRITTEN, 'content_after': 'f'}) == NOT_WRITTEN
    for odd in ({}, {'outcome': WRITTEN}, {'outcome': 'pending', 'content_after': 'f'}, {'outcome': UNKNOWN}):
        assert entry_outcome(odd) == UNKNOWN, odd


def test_restore_refusal_without_an_entry_with_an_unknown_outcome_or_after_an_edit():
    left = workflow()
    kind, reason = restore_refusal(None, left, '/b/a-x.json')
    assert kind == 'no_journal_entry' and 'force: true' in reason and '/b/a-x.json' in reason
    kind, reason = restore_refusal(pending_entry(left, '/b/a-x.json'), left, '/b/a-x.json')
    assert kind == 'write_outcome_unknown' and 'force: true' in reason and '/b/a-x.json' in reason
    written = settled_entry(workflow(url='http://old/'), left, '/b/a-x.json')
    assert restore_refusal(written, dict(left, versionId='v7'), '/b/a-x.json') is None
    kind, reason = restore_refusal(written, workflow(name='Renamed'), '/b/a-x.json')
    assert kind == 'changed_since_run' and 'force: true' in reason
    not_written = settled_entry(left, left, '/b/a-x.json')
    assert restore_refusal(not_written, left, '/b/a-x.json') is None
    assert restore_refusal(not_written, workflow(url='http://edited/'), '/b/a-x.json')[0] == 'changed_since_run'


def test_changed_during_restore():
    read = dict(workflow(), updatedAt='t1', isArchived=False)
    assert changed_during_restore(read, copy.deepcopy(read), True) is None
    for fresh in (dict(read, versionId='v2'), dict(read, updatedAt='t2'), dict(read, name='Renamed'),
                  dict(read, activeVersionId='v1'), dict(read, isArchived=True)):
        reason = changed_during_restore(read, fresh, False)
        assert reason and 'nothing was written' in reason, fresh
    assert changed_during_restore(read, dict(read, staticData={'x': 1}), False) is None
    assert changed_during_restore(read, dict(read, staticData={'x': 1}), True)


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_restore_steps_reach_the_backup(backup_active, current_active, backup_draft, current_draft, same_content):
    backup = workflow(active=backup_active, draft=backup_active and backup_draft)
    current = workflow(url='http://llama-nginx/api/generate' if same_content else 'http://llama-litellm:4000/v1',
                       active=current_active, draft=current_active and current_draft)
    steps = restore_steps(current, backup, False)
    assert len(steps) == len(set(steps)), steps
    # Play the steps the way n8n answers them, then the result must be what restored_ok accepts.
    state = copy.deepcopy(current)
    for step in steps:
        if step == 'deactivate':
            state.update(activeVersionId=None, active=False)
        elif step == 'put':
            state.update(nodes=copy.deepcopy(backup['nodes']), versionId='v-put')
            if state.get('activeVersionId'):
                state['activeVersionId'] = 'v-put'
        elif step == 'activate':
            state.update(activeVersionId=state['versionId'], active=True)
        elif step == 'activate_version':
            state.update(activeVersionId=backup['activeVersionId'], active=True)
    problem = restored_ok(state, backup, False)
    assert problem is None, (steps, problem)
    if not steps:
        assert restored_ok(current, backup, False) is None
