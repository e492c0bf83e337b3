# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.
"""n8n_workflow_urls' state C(present): plan every workflow in scope, write the credentials the plans need, then
write each workflow with the concurrency checks (read again right before its write, planned again when it changed).
A failure raises ``Failure``; one workflow's failure is its entry in the result."""

from __future__ import annotations

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_client import explain, is_global_failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_chat import (
    OPENAI_CHAT, Context, OpenAIChatConverter, validate_model_map,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_openai_node import HEADER_AUTH
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import (
    RuleError, apply_credential, apply_moves, build_moves, build_rules, diff_entry, pending_rewrites, plan_nodes,
    plan_workflow,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_credentials import (
    create_move_targets, credential_diff, find_move_targets, move_targets_to_create, resolve_credential,
)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_urls_run import entry_of
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import (
    changed_since, concurrency_entry, in_scope, is_active, put_body,
)


def conversion_context(module, rules):
    """The context of the openai_chat conversion, or None when no rule converts."""
    params = module.params
    converting = any(rule.convert == OPENAI_CHAT for rule in rules)
    if not converting:
        if params['model_map'] or params['auth']:
            module.warn('model_map and auth are only used by rules with convert: %s; no rule has it.' % OPENAI_CHAT)
        return None
    problem = validate_model_map(params['model_map'])
    if problem:
        raise Failure(problem)
    auth = params['auth'] or {}
    if auth:
        if not (auth.get('credential_name') or '').strip():
            raise Failure('auth.credential_name must not be empty')
        if not (auth.get('header') or '').strip():
            raise Failure('auth.header must not be empty')
        if auth.get('value') is not None and not auth['value'].strip():
            raise Failure('auth.value must not be empty (leave it out to use an existing credential)')
    return Context(params['model_map'], auth.get('credential_name'), auth.get('header'))


def present(module, runner):
    params = module.params
    try:
        rules = build_rules(params['rewrites'], {OPENAI_CHAT: OpenAIChatConverter()})
    except RuleError as exc:
        raise Failure(str(exc))
    try:
        runner.moves = build_moves(params['credential_moves'])
    except RuleError as exc:
        raise Failure(str(exc))
    runner.context = conversion_context(module, rules)
    find_move_targets(runner)
    try:
        workflows = list(runner.client.list_workflows(active_only=params['active_only']))
    except ApiError as exc:
        raise Failure(explain(exc, runner.url), status=exc.status)

    listed_ids = set(w.get('id') for w in workflows)
    unknown = [wid for wid in params['workflow_ids'] if wid not in listed_ids]
    if unknown and not params['active_only']:
        raise Failure('n8n at %s has no workflow with the id(s) %s; nothing was written.'
                      % (runner.url, ', '.join(unknown)))
    scoped = [w for w in workflows if in_scope(w, params)]
    if params['names'] and not scoped:
        module.warn('No workflow matched names=%s (names are matched exactly).' % params['names'])
    runner.result['workflows_in_scope'] = len(scoped)

    plans = []
    for workflow in scoped:
        plan = plan_workflow(workflow, rules, publish_drafts=params['publish_drafts'], context=runner.context,
                             moves=runner.moves)
        runner.result['skipped_items'].extend(plan.skipped)
        if plan.action in ('put', 'publish'):
            plans.append(plan)
            runner.result['conversions'].extend(plan.conversions)
    todo = resolve_credential(module, runner, plans)
    new_targets = move_targets_to_create(runner, plans)
    runner.result['changed'] = bool(plans) or bool(todo)
    updating = todo.updating if todo else None
    if module._diff:
        runner.result['diff'] = [diff_entry(plan) for plan in plans]
        if updating:
            runner.result['diff'].append(credential_diff(runner, updating))
    if module.check_mode:
        runner.result['changed_workflows'] = [entry_of(plan) for plan in plans]
        return

    if plans:
        runner.open_backups()
    if new_targets:
        create_move_targets(runner, plans, new_targets)
    if todo:
        todo.apply(module, runner, plans)
    if module._diff and (todo or new_targets):
        runner.result['diff'][:len(plans)] = [diff_entry(plan) for plan in plans]
    jobs = []
    for plan in plans:
        entry = entry_of(plan)
        jobs.append((entry, lambda plan=plan, entry=entry: write_fresh(runner, plan, rules, entry)))
    runner.run_jobs(jobs)
    merge_replanned(runner, plans)
    written = set(entry['id'] for entry in runner.result['changed_workflows'])
    runner.result['conversions'] = [c for c in runner.result['conversions'] if c['id'] in written]
    runner.result['changed'] = bool(runner.result['changed_workflows']) or runner.wrote_credential


def entry_of(plan):
    return {'id': plan.id, 'name': plan.name, 'nodes': plan.changed_nodes, 'active': plan.active,
            'action': plan.action}


# Optimistic concurrency: the public API has no If-Match, so each workflow is read again right before
# its write and compared with the copy the plan was made from. When it changed, the plan is made again
# from the fresh copy (the plan is a pure function of the workflow), so an edit made meanwhile is kept.
def note_changed(runner, entry):
    with runner.lock:
        runner.result['changed_since_read'].append(entry)


def read_again(runner, plan, entry):
    """``(fresh copy, None)``, or ``(None, outcome)`` when it cannot be written."""
    try:
        return runner.client.get_workflow(plan.id), None
    except ApiError as exc:
        if exc.status == 404:
            reason = 'the workflow was deleted after the listing; nothing was written'
            note_changed(runner, concurrency_entry(plan, None, 'skipped', reason))
            return None, 'not_written'
        if is_global_failure(exc):
            runner.abort.set()
        # nothing was sent: its publication is as listed
        return None, runner.failure(entry, 'not written: reading it again right before the write failed: %s'
                                    % explain(exc, runner.url), False, entry['active'])


def replan(runner, plan, fresh, rules):
    """The plan made again from ``fresh``, or None when it must not be written (reported)."""
    new = plan_workflow(fresh, rules, publish_drafts=runner.params['publish_drafts'], context=runner.context,
                        moves=runner.moves)
    with runner.lock:
        runner.replanned[plan.id] = new
    reason = None
    if new.action is None:
        reason = 'it no longer needs a rewrite (someone else changed it); nothing was written'
    elif new.action == 'skip':
        reason = 'it changed and must now be left alone: %s' % '; '.join(
            s['reason'] for s in new.skipped if s['kind'] in ('archived', 'unpublished_draft', 'unsupported_node_keys'))
    elif new.conversions and runner.params['auth'] and runner.credential_ref is None:
        reason = ('it now has a node to convert, which needs the credential %r that this run did not look up; '
                  're-run the task' % runner.params['auth']['credential_name'])
    elif any(runner.moves[c.path[1]].ref['id'] is None for c in new.changes if c.path[0] == 'credentials' and
             c.path[1] in runner.moves):
        reason = 'it now has a node to move to a credential that this run did not create; re-run the task'
    if reason:
        note_changed(runner, concurrency_entry(plan, fresh, 'skipped', reason))
        return None
    if runner.credential_ref:
        apply_credential(new.new_nodes, new.changes, runner.credential_ref, HEADER_AUTH)
    apply_moves(new.new_nodes, new.changes, runner.moves)
    reason = ('it changed after the listing; the rules were applied again to the copy read before the write, so '
              'the other change is kept')
    note_changed(runner, concurrency_entry(plan, fresh, 'replanned', reason))
    return new


def write_fresh(runner, plan, rules, entry):
    """Read the workflow again, plan again when it changed, back the fresh copy up, then write."""
    fresh, outcome = read_again(runner, plan, entry)
    if fresh is None:
        return outcome
    if changed_since(plan.workflow, fresh):
        plan = replan(runner, plan, fresh, rules)
        if plan is None:
            return 'not_written'
        entry.update(nodes=plan.changed_nodes, action=plan.action, active=plan.active)
    try:
        runner.backup(fresh)
        runner.note_writing(fresh)
    except OSError as exc:
        runner.abort.set()
        return runner.failure(entry, 'not written: its backup or the run\'s journal could not be written under %s '
                                     '(%s); fix backup_dir and re-run' % (runner.backup_folder, exc), False,
                              is_active(fresh))
    return write_plan(runner, plan, rules, entry, fresh)


def merge_replanned(runner, plans):
    """Replace what the listing said of re-planned workflows (skipped items, conversions, diff)."""
    final = runner.replanned
    result = runner.result
    result['changed_since_read'].sort(key=lambda e: str(e['id']))
    if not final:
        return
    result['skipped_items'] = [s for s in result['skipped_items'] if s['id'] not in final] + [
        s for plan in final.values() for s in plan.skipped]
    result['conversions'] = [c for c in result['conversions'] if c['id'] not in final] + [
        c for plan in final.values() for c in plan.conversions]
    if 'diff' in result:
        for index, plan in enumerate(plans):
            if plan.id in final:
                result['diff'][index] = diff_entry(final[plan.id])


def write_plan(runner, plan, rules, entry, fresh):
    client = runner.client
    try:
        if plan.action == 'put':
            answer = client.put_workflow(plan.id, put_body(plan.workflow, plan.new_nodes))
        else:
            answer = client.activate(plan.id)
    except ApiError as exc:
        if is_global_failure(exc):
            runner.abort.set()
        current = runner.read_back(plan.id)
        if current is None:     # its journal entry keeps the outcome unknown
            return runner.failure(entry, explain(exc, runner.url), None, None)
        runner.note_written(fresh, current)
        saved = not plan_nodes(current.get('nodes'), rules, current.get('connections'), runner.context).changes
        active_after = is_active(current)
        error = explain(exc, runner.url)
        if saved and plan.active and active_after and exc.status == 403:
            error = ('saved as an unpublished draft, but not published: the API key lacks workflow:activate (%s). '
                     'Give the key that scope and re-run with publish_drafts: true (the draft holds only this '
                     'change), or publish the workflow in n8n' % error)
        elif saved and plan.active and not active_after:
            error = 'saved, but n8n did not republish it and it is now inactive: %s' % error
        elif saved:
            error = 'n8n saved it but answered with an error: %s' % error
        return runner.failure(entry, error, saved, active_after)
    current = answer
    if plan.active:
        try:
            current = client.get_workflow(plan.id)
        except ApiError as exc:
            if is_global_failure(exc):
                runner.abort.set()
            return runner.failure(entry, 'saved (the PUT answered 200), but reading it back to confirm that it is '
                                         'still active failed: %s' % explain(exc, runner.url), True, None)
    runner.note_written(fresh, current, written=True)
    left = pending_rewrites(current, rules, runner.context)
    active_after = is_active(current)
    if plan.active and not active_after:
        return runner.failure(entry, 'saved, but the workflow is no longer active (n8n did not republish it); '
                                     'publish it in n8n or restore its backup', not left, False)
    if plan.active and current.get('activeVersionId') != current.get('versionId'):
        return runner.failure(entry, 'saved, but n8n still runs an older published version (%s, draft %s)'
                              % (current.get('activeVersionId'), current.get('versionId')), not left, True)
    if left:
        return runner.failure(entry, 'n8n answered 200 but still holds the old URL in node(s) %s'
                              % ', '.join(sorted(set(c.node or '' for c in left))), False, active_after)
    return None
