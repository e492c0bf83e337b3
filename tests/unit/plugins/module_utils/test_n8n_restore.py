"""The pure restore logic: what a restore compares, the calls it makes, and when it leaves a workflow alone."""

from __future__ import annotations

import copy

from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_restore import (
    content_fingerprint, edited_since_run, restore_steps, restored_ok,
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
