# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Restoring n8n workflows from backups (n8n_workflow_urls ``state: restored``), the pure part: whether
a workflow differs from its backup, the calls that bring it back, whether that worked, whether it was
edited since the run that made the backup (the entries of that run's journal), and the diff shown. No I/O here.
"""

from __future__ import annotations

import hashlib

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_change
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import path_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_workflow import (
    MAX_DEPTH, READ_ONLY_NODE_KEYS, canonical, changed_since, has_unpublished_draft, is_active,
)

# The outcome of a journal entry (see _n8n_journal.write_journal). An entry is written with UNKNOWN right
# before the workflow's write and settled once the run has read the workflow back; it stays UNKNOWN when the run
# never could (the write timed out or failed and the read back failed too, or the run was stopped).
WRITTEN = 'written'
NOT_WRITTEN = 'not written'
UNKNOWN = 'unknown'


def comparable_nodes(nodes):
    """The nodes without the keys n8n manages itself (see READ_ONLY_NODE_KEYS)."""
    out = []
    for node in nodes or []:
        if isinstance(node, dict):
            node = dict((k, v) for k, v in node.items() if k not in READ_ONLY_NODE_KEYS)
        out.append(node)
    return out


def content_differs(current, backup, with_static_data):
    """Whether the name, nodes, connections (and, when asked, staticData) differ from the backup's."""
    if current.get('name') != backup.get('name'):
        return True
    if canonical(comparable_nodes(current.get('nodes'))) != canonical(comparable_nodes(backup.get('nodes'))):
        return True
    if canonical(current.get('connections') or {}) != canonical(backup.get('connections') or {}):
        return True
    return with_static_data and canonical(current.get('staticData')) != canonical(backup.get('staticData'))


def content_fingerprint(workflow):
    """SHA-256 of what a restore compares (name, nodes, connections) and of whether the workflow is active."""
    content = [workflow.get('name'), comparable_nodes(workflow.get('nodes')), workflow.get('connections') or {},
               bool(is_active(workflow))]
    return hashlib.sha256(canonical(content).encode('utf-8')).hexdigest()


def _flatten(value, path, out, depth=0):
    if isinstance(value, dict) and value and depth < MAX_DEPTH:
        for key in value:
            _flatten(value[key], path + (key,), out, depth + 1)
    elif isinstance(value, list) and value and depth < MAX_DEPTH:
        for index, item in enumerate(value):
            _flatten(item, path + (index,), out, depth + 1)
    else:
        out[path] = value


def node_differences(current_nodes, backup_nodes):
    """``{node name: (current node, backup node, [(path, current, backup)])}`` for the nodes that differ
    (a node missing on one side is None there); ``path`` is the tuple of keys and indexes in the node."""
    current = dict((n.get('name'), n) for n in comparable_nodes(current_nodes) if isinstance(n, dict))
    backup = dict((n.get('name'), n) for n in comparable_nodes(backup_nodes) if isinstance(n, dict))
    found = {}
    for name in list(backup) + [n for n in current if n not in backup]:
        before, after = {}, {}
        if name in current:
            _flatten(current[name], (), before)
        if name in backup:
            _flatten(backup[name], (), after)
        diffs = [(p, before.get(p), after.get(p)) for p in sorted(set(before) | set(after), key=str)
                 if canonical(before.get(p)) != canonical(after.get(p))]
        if diffs:
            found[name] = (current.get(name), backup.get(name), diffs)
    return found


def restore_steps(current, backup, with_static_data):
    """The calls that bring ``current`` back to ``backup``: a list of ``put``, ``activate``,
    ``activate_version`` and ``deactivate``, in order."""
    differs = content_differs(current, backup, with_static_data)
    steps = []
    if not is_active(backup):
        if is_active(current):
            steps.append('deactivate')
        if differs:
            steps.append('put')
    elif not has_unpublished_draft(backup):
        if differs:
            steps.append('put')
        if not is_active(current) or (has_unpublished_draft(current) and not differs):
            steps.append('activate')
    else:
        published_ok = is_active(current) and current.get('activeVersionId') == backup.get('activeVersionId')
        if differs:
            if is_active(current):
                steps.append('deactivate')
            steps.append('put')
            steps.append('activate_version')
        elif not published_ok:
            steps.append('activate_version')
    return steps


def restored_ok(current, backup, with_static_data):
    """None when ``current`` matches ``backup``, else what still differs."""
    if content_differs(current, backup, with_static_data):
        return 'the content differs from the backup'
    if is_active(current) != is_active(backup):
        return 'it is %s, the backup was %s' % ('active' if is_active(current) else 'inactive',
                                                'active' if is_active(backup) else 'inactive')
    if has_unpublished_draft(backup):
        if current.get('activeVersionId') != backup.get('activeVersionId'):
            return 'the published version is %s, the backup\'s was %s' % (current.get('activeVersionId'),
                                                                          backup.get('activeVersionId'))
    elif is_active(backup) and current.get('activeVersionId') != current.get('versionId'):
        return 'the published version is not the restored one'
    return None


def restore_skip(backup, path, kind, reason):
    return {'id': backup['id'], 'name': backup.get('name'), 'node': None, 'parameter': None, 'kind': kind,
            'reason': reason, 'backup': path}


def pending_entry(workflow, backup):
    """The journal entry of ``workflow`` (as read right before its write) before the write: outcome unknown."""
    return {'id': workflow.get('id'), 'name': workflow.get('name'), 'outcome': UNKNOWN,
            'version_before': workflow.get('versionId'), 'backup': backup}


def state_changed(before, after):
    """Whether n8n's copy ``after`` differs from ``before`` in anything a write of this module changes."""
    return (content_fingerprint(after) != content_fingerprint(before)
            or any(after.get(key) != before.get(key) for key in ('versionId', 'activeVersionId'))
            or canonical(after.get('staticData')) != canonical(before.get('staticData')))


def settled_entry(before, after, backup, written=None):
    """The journal entry once the run has read the workflow after its write: ``before`` as read right before
    the write, ``after`` as n8n has it now. ``written`` None: decided by whether n8n's copy changed (a write
    that n8n answered with an error may have been saved or not)."""
    if written is None:
        written = state_changed(before, after)
    return {'id': before.get('id'), 'name': after.get('name'), 'outcome': WRITTEN if written else NOT_WRITTEN,
            'version_before': before.get('versionId'), 'version_after': after.get('versionId'),
            'content_after': content_fingerprint(after), 'backup': backup}


def entry_outcome(entry):
    """WRITTEN, NOT_WRITTEN or UNKNOWN. An entry without ``outcome`` (a journal from before outcomes were
    recorded, which held written workflows only) counts as written when it has ``content_after``; any entry
    without ``content_after`` counts as unknown."""
    outcome = entry.get('outcome', WRITTEN)
    if outcome in (WRITTEN, NOT_WRITTEN) and entry.get('content_after'):
        return outcome
    return UNKNOWN


def restore_refusal(entry, current, backup_path):
    """``(kind, reason)`` when the workflow ``current`` must not be restored from ``backup_path`` without
    force, given its entry in that run's journal (None when there is none), else None."""
    if entry is None:
        return ('no_journal_entry',
                'the journal of the run that made this backup (journal.json in its folder) has no entry for it - the '
                'backup was made by hand or by an older version of this module, or that run was stopped before the '
                'write - so whether it was changed since cannot be told, and restoring could overwrite a later '
                'change. Check it in n8n, then restore it with force: true, or import its backup %s by hand'
                % backup_path)
    if entry_outcome(entry) == UNKNOWN:
        return ('write_outcome_unknown',
                'the run that made this backup did not learn whether its write reached n8n (the write failed or '
                'timed out and the workflow could not be read back, or the run was stopped), so whether it was '
                'changed since cannot be told, and restoring could overwrite a later change. Check it in n8n, then '
                'restore it with force: true, or import its backup %s by hand' % backup_path)
    reason = edited_since_run(entry, current)
    return ('changed_since_run', reason) if reason else None


def changed_during_restore(read, fresh, with_static_data):
    """Why the workflow must not be written, now that it was read again right before its write (``fresh``)
    after being read (``read``) and backed up when the restore started, or None."""
    if not (changed_since(read, fresh) or content_fingerprint(read) != content_fingerprint(fresh)
            or (with_static_data and canonical(read.get('staticData')) != canonical(fresh.get('staticData')))):
        return None
    return ('it changed in n8n after this restore read it and saved its backup (versionId then %s, now %s); '
            'nothing was written, so that change is kept. Run the restore again to look at it afresh'
            % (read.get('versionId'), fresh.get('versionId')))


def edited_since_run(written, current):
    """Why a workflow must not be restored, or None: its name, nodes, connections or activation are no longer
    what the run left (a restore that put exactly that back does not count as a change)."""
    if not written or content_fingerprint(current) == written.get('content_after'):
        return None
    return ('it was changed after the run that made this backup (name, nodes, connections or activation differ from '
            'what that run left; versionId then %s, now %s); restoring would overwrite that change. Check it in n8n, '
            'then restore it with force: true, or import its backup %s by hand'
            % (written.get('version_after'), current.get('versionId'), written.get('backup')))


def restore_diff(current, backup):
    """Ansible diff for one restored workflow: per node, each parameter that differs, secrets masked."""
    before, after = {}, {}
    for name, (now, then, diffs) in node_differences(current.get('nodes'), backup.get('nodes')).items():
        for path, was, will in diffs:
            shown = mask_change(now, then, path, was, will)
            before.setdefault(name, {})[path_text(path)] = shown[0]
            after.setdefault(name, {})[path_text(path)] = shown[1]
    for key in ('name',):
        if current.get(key) != backup.get(key):
            before[key] = current.get(key)
            after[key] = backup.get(key)
    before['active'] = is_active(current)
    after['active'] = is_active(backup)
    header = 'n8n workflow %s (%s)' % (backup.get('name'), backup.get('id'))
    return {'before_header': header, 'after_header': header, 'before': before, 'after': after}
