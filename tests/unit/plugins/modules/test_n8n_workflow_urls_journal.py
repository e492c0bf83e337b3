"""n8n_workflow_urls: the run's journal follows every write (an entry with the outcome unknown right before it,
settled once the workflow is read back), and a restore refuses, without force, a backup the journal cannot vouch
for and a workflow that changed while the restore ran."""

from __future__ import annotations

import copy
import glob
import json
import os

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_urls_run
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_restore import content_fingerprint
from ansible_collections.local_ai.llm_gateway.plugins.modules import n8n_workflow_urls

# args and n8n are fixtures
from test_n8n_workflow_urls import (  # noqa: F401 pylint: disable=unused-import
    NEW, OLD, args, http, n8n, urls, wf,
)

TIMEOUT = (-1, 'Request failed: <urlopen error timed out>')


def journal_on_disk(tmp_path):
    found = glob.glob(str(tmp_path / 'backups' / '*' / 'journal.json'))
    if not found:
        return None
    with open(found[0]) as handle:
        return json.load(handle)['workflows']


def read(path):
    with open(path) as handle:
        return json.load(handle)


def test_the_journal_is_on_disk_before_each_write_and_settled_after_it(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    before = fake.store['a']['versionId']
    seen = {}

    def put(wid):
        def hook(fake_, wid_, body):
            seen[wid] = copy.deepcopy(journal_on_disk(tmp_path))
        return hook
    fake.hooks[('PUT', 'a')] = put('a')
    fake.hooks[('PUT', 'b')] = put('b')
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert not failed, result
    # while a was being written: its entry alone, outcome unknown, no version_after or content_after yet
    assert seen['a'] == {'a': {'id': 'a', 'name': 'WF a', 'outcome': 'unknown', 'version_before': before,
                               'backup': result['backups'][0]}}
    # while b was: a settled, b unknown
    assert seen['b']['a']['outcome'] == 'written' and seen['b']['b']['outcome'] == 'unknown'
    assert 'content_after' not in seen['b']['b']
    final = read(result['journal'])['workflows']
    assert {wid: e['outcome'] for wid, e in final.items()} == {'a': 'written', 'b': 'written'}
    assert final['b']['content_after'] == content_fingerprint(fake.store['b'])


def test_a_write_that_times_out_and_cannot_be_read_back_stays_unknown(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    gets = []

    def read_back_fails(fake_, wid, body):
        gets.append(wid)
        return (500, {'message': 'boom'}) if len(gets) > 1 else None    # the read before the PUT works

    def lands_but_times_out(fake_, wid, body):
        fake_.put(wid, body)
        return TIMEOUT
    fake.hooks[('PUT', 'b')] = lands_but_times_out
    fake.hooks[('GET', 'b')] = read_back_fails
    result, failed = run_module(n8n_workflow_urls, args(parallel=1, retries=0))
    assert failed and [w['id'] for w in result['changed_workflows']] == ['a']
    assert result['failed_workflows'][0]['id'] == 'b' and result['failed_workflows'][0]['saved'] is None
    journal = journal_on_disk(tmp_path)
    assert result['journal'] and journal == read(result['journal'])['workflows']
    assert journal['a']['outcome'] == 'written' and journal['a']['content_after'] == content_fingerprint(
        fake.store['a'])
    assert journal['b']['outcome'] == 'unknown' and 'content_after' not in journal['b']
    assert journal['b']['backup'] == result['failed_workflows'][0]['backup']

    # the restore puts a back; b (its write might have landed, and been edited since) needs force
    fake.hooks.clear()
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'],
                                                          backup_dir=str(tmp_path / 'rollback')))
    assert not failed, restored
    assert [w['id'] for w in restored['changed_workflows']] == ['a'] and urls(fake, 'a') == [OLD]
    skip = [s for s in restored['skipped_items'] if s['id'] == 'b'][0]
    assert skip['kind'] == 'write_outcome_unknown' and 'force: true' in skip['reason']
    assert skip['backup'] == journal['b']['backup'] and urls(fake, 'b') == [NEW], 'the timed-out PUT landed'
    forced, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'],
                                                        backup_dir=str(tmp_path / 'rollback'), force=True))
    assert not failed and [w['id'] for w in forced['changed_workflows']] == ['b'] and urls(fake, 'b') == [OLD]


def test_a_write_n8n_refused_is_journaled_not_written_and_restores_without_force(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    fake.hooks[('PUT', 'b')] = lambda fake_, wid, body: (400, {'message': 'request/body/nodes/1 must be object'})
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert failed and result['failed_workflows'][0]['saved'] is False
    journal = read(result['journal'])['workflows']
    assert journal['b']['outcome'] == 'not written'
    assert journal['b']['version_after'] == journal['b']['version_before'] == fake.store['b']['versionId']
    assert journal['b']['content_after'] == content_fingerprint(fake.store['b'])
    # b is as its backup has it: nothing to restore, nothing skipped; a is put back
    fake.hooks.clear()
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and [w['id'] for w in restored['changed_workflows']] == ['a'] and restored['skipped_items'] == []
    # edited after that run, b is left alone like any workflow edited since
    edited = copy.deepcopy(fake.store['b']['nodes'])
    edited[1]['parameters']['url'] = NEW + '?by-hand'
    fake.put('b', {'name': 'WF b', 'nodes': edited, 'connections': {}, 'settings': {}})
    again, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and [(s['id'], s['kind']) for s in again['skipped_items']] == [('b', 'changed_since_run')]


def test_a_backup_the_journal_has_no_entry_for_needs_force(run_module, n8n, args):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    journal = read(result['journal'])
    del journal['workflows']['b']
    with open(result['journal'], 'w') as handle:
        json.dump(journal, handle)
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and [w['id'] for w in restored['changed_workflows']] == ['a']
    skip = restored['skipped_items'][0]
    assert (skip['id'], skip['kind']) == ('b', 'no_journal_entry') and 'force: true' in skip['reason']
    assert urls(fake, 'b') == [NEW]
    # no journal at all: the same for every backup
    os.unlink(result['journal'])
    fake.store['a']['nodes'][1]['parameters']['url'] = NEW
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and restored['changed_workflows'] == [] and restored['changed'] is False
    assert sorted((s['id'], s['kind']) for s in restored['skipped_items']) == [('a', 'no_journal_entry'),
                                                                               ('b', 'no_journal_entry')]
    assert [c['method'] for c in fake.calls if c['method'] != 'GET'] == ['PUT', 'PUT', 'PUT']
    forced, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'], force=True))
    assert not failed and sorted(w['id'] for w in forced['changed_workflows']) == ['a', 'b']
    assert urls(fake, 'a') == urls(fake, 'b') == [OLD]


def test_a_journal_without_outcomes_is_read_as_written(run_module, n8n, args):
    # a journal written before outcomes were recorded: its entries are all written workflows
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    journal = read(result['journal'])
    for entry in journal['workflows'].values():
        del entry['outcome']
    with open(result['journal'], 'w') as handle:
        json.dump(journal, handle)
    fake.put('b', {'name': 'WF b, renamed', 'nodes': fake.store['b']['nodes'], 'connections': {}, 'settings': {}})
    restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder']))
    assert not failed and [w['id'] for w in restored['changed_workflows']] == ['a']
    assert [(s['id'], s['kind']) for s in restored['skipped_items']] == [('b', 'changed_since_run')]


def test_a_workflow_edited_while_the_restore_runs_is_not_overwritten_even_forced(run_module, n8n, args, tmp_path):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    result, dummy = run_module(n8n_workflow_urls, args())
    gets = []

    def edit_after_the_first_read(fake_, wid, body):
        gets.append(wid)
        if len(gets) == 1:     # the restore's first read; someone edits a right after it
            answer = fake_.view(wid)
            edited = copy.deepcopy(fake_.store[wid]['nodes'])
            edited[1]['parameters']['url'] = NEW + '?edited-meanwhile'
            fake_.put(wid, {'name': 'WF a', 'nodes': edited, 'connections': {}, 'settings': {}})
            return 200, answer
        return None
    fake.hooks[('GET', 'a')] = edit_after_the_first_read
    for force in (False, True):
        gets[:] = []
        fake.calls = []
        restored, failed = run_module(n8n_workflow_urls, args(state='restored', backup=result['backup_folder'],
                                                              backup_dir=str(tmp_path / 'rollback'), force=force))
        assert not failed, restored
        assert [w['id'] for w in restored['changed_workflows']] == (['b'] if not force else [])
        skip = restored['skipped_items'][0]
        assert (skip['id'], skip['kind']) == ('a', 'changed_since_read') and 'nothing was written' in skip['reason']
        assert urls(fake, 'a') == [NEW + '?edited-meanwhile'], 'the edit made during the restore is kept'
        assert [c['path'] for c in fake.calls if c['method'] == 'PUT'] == ([] if force else ['/api/v1/workflows/b'])
        assert gets == ['a', 'a'], 'read once, then again right before the write'
        # the restore's journal has no entry for a: it was never about to be written
        assert 'a' not in (read(restored['journal'])['workflows'] if restored.get('journal') else {})
        fake.store['a']['nodes'][1]['parameters']['url'] = NEW    # back as the run left it, for the forced round


def test_a_workflow_whose_journal_entry_cannot_be_written_is_not_written(run_module, n8n, args, monkeypatch):
    fake = n8n(wf('a', http(OLD)), wf('b', http(OLD)))
    real = _n8n_urls_run.write_journal

    def full_disk_for_b(folder, entries):
        if entries.get('b', {}).get('outcome') == 'unknown':
            raise OSError(28, 'No space left on device')
        return real(folder, entries)
    monkeypatch.setattr(_n8n_urls_run, 'write_journal', full_disk_for_b)
    result, failed = run_module(n8n_workflow_urls, args(parallel=1))
    assert failed and [w['id'] for w in result['changed_workflows']] == ['a']
    failure = result['failed_workflows'][0]
    assert failure['id'] == 'b' and failure['saved'] is False and 'journal' in failure['error']
    assert urls(fake, 'b') == [OLD] and [c['path'] for c in fake.writes()] == ['/api/v1/workflows/a']
    assert list(read(result['journal'])['workflows']) == ['a']
