# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""n8n_workflow_urls' state C(restored): put workflows back from a run's backups, each read again right before its
write and left alone when it changed since (the run's journal says which changes were not this module's)."""

from __future__ import annotations

import functools

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_backups import read_backups
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_client import explain, is_global_failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_journal import read_journal
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_restore import (
    changed_during_restore, content_differs, node_differences, restore_diff, restore_refusal, restore_skip,
    restore_steps, restored_ok,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import (
    is_active, put_body, restore_body,
)


def restore_one(runner, path, current, backup, steps, entry):
    """Read the workflow again; unless it changed since ``current`` was read (and backed up), journal it and
    make the ``steps``."""
    client = runner.client
    wid = backup['id']
    with_static = runner.params['restore_static_data']
    try:
        fresh = client.get_workflow(wid)
    except ApiError as exc:
        if exc.status == 404:
            skip = restore_skip(backup, path, 'deleted', 'n8n has no workflow %s any more (it was deleted while this '
                                                         'restore ran); import %s in the n8n editor to get it back'
                                % (wid, path))
        else:
            if is_global_failure(exc):
                runner.abort.set()
            return runner.failure(entry, 'not restored: reading it again right before the write failed: %s'
                                  % explain(exc, runner.url), False, entry['active'])
    else:
        changed = changed_during_restore(current, fresh, with_static)
        skip = restore_skip(backup, path, 'changed_since_read', changed) if changed else None
    if skip:
        with runner.lock:
            runner.result['skipped_items'].append(skip)
        return 'not_written'
    try:
        runner.note_writing(fresh)
    except OSError as exc:
        runner.abort.set()
        return runner.failure(entry, 'not restored: the journal could not be written in %s (%s)'
                              % (runner.backup_folder, exc), False, entry['active'])
    for step in steps:
        try:
            if step == 'put':
                client.put_workflow(wid, restore_body(backup) if with_static else put_body(backup))
            elif step == 'activate':
                client.activate(wid)
            elif step == 'activate_version':
                client.activate(wid, backup.get('activeVersionId'))
            else:
                client.deactivate(wid)
        except ApiError as exc:
            if is_global_failure(exc):
                runner.abort.set()
            after = runner.read_back(wid)
            if after is not None:
                runner.note_written(fresh, after)
            return runner.failure(entry, '%s: %s' % (step, explain(exc, runner.url)),
                                  None if after is None else not content_differs(after, backup, with_static),
                                  None if after is None else is_active(after))
    after = client.get_workflow(wid)
    runner.note_written(fresh, after, written=True)
    problem = restored_ok(after, backup, with_static)
    if problem:
        return runner.failure(entry, 'restored, but %s' % problem, not content_differs(after, backup, with_static),
                              is_active(after))
    return None


def restore(module, runner):
    params = module.params
    try:
        backups, warnings = read_backups(params['backup'])
    except ValueError as exc:
        raise Failure(str(exc))
    for warning in warnings:
        module.warn(warning)
    journal = {}
    if not params['force']:
        try:
            journal = read_journal(params['backup'])
        except ValueError as exc:
            raise Failure('%s. Nothing was restored; set force: true to restore without checking for later edits.'
                          % exc)
    if params['workflow_ids']:
        backups = [(path, wf) for path, wf in backups if wf['id'] in params['workflow_ids']]
    runner.result['workflows_in_scope'] = len(backups)
    todo = []
    for path, backup in backups:
        try:
            current = runner.client.get_workflow(backup['id'])
        except ApiError as exc:
            if exc.status == 404:
                runner.result['skipped_items'].append(restore_skip(
                    backup, path, 'deleted', 'n8n has no workflow %s any more; import %s in the n8n editor to get it '
                                             'back' % (backup['id'], path)))
                continue
            raise Failure(explain(exc, runner.url), status=exc.status)
        if current.get('isArchived'):
            runner.result['skipped_items'].append(restore_skip(
                backup, path, 'archived', 'the workflow is archived now; n8n refuses to update it (unarchive it '
                                          'first)'))
            continue
        steps = restore_steps(current, backup, params['restore_static_data'])
        refusal = restore_refusal(journal.get(str(backup['id'])), current, path) if steps and not params['force'] \
            else None
        if refusal:
            runner.result['skipped_items'].append(restore_skip(backup, path, *refusal))
        elif steps:
            todo.append((path, current, backup, steps))
    runner.result['changed'] = bool(todo)
    entries = []
    for path, current, backup, steps in todo:
        names = list(node_differences(current.get('nodes'), backup.get('nodes')))
        entries.append({'id': backup['id'], 'name': backup.get('name'), 'nodes': names,
                        'active': is_active(current), 'action': ','.join(steps)})
    if module._diff:
        runner.result['diff'] = [restore_diff(current, backup) for path, current, backup, steps in todo]
    if module.check_mode:
        runner.result['changed_workflows'] = entries
        return
    runner.write_backups([current for path, current, backup, steps in todo])
    jobs = []
    for entry, (path, current, backup, steps) in zip(entries, todo):
        jobs.append((entry, functools.partial(restore_one, runner, path, current, backup, steps, entry)))
    runner.run_jobs(jobs)
    runner.result['changed'] = bool(runner.result['changed_workflows']) or any(
        f.get('saved') for f in runner.result['failed_workflows'])
