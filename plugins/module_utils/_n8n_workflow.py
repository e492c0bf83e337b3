# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""n8n workflows as the public API hands them out and takes them back (pure, no I/O): whether one
is active or has an unpublished draft, what a PUT may carry, a comparable form of its JSON, the
strings in its nodes' parameters, and where its main connections lead."""

from __future__ import annotations

import json

# Keys a node may carry in a public-API PUT (n8n's node schema has additionalProperties: false).
# GET can return more (extendsCredential, rewireOutputLogTo, forceCustomOperation, ...): such a
# workflow cannot be written back without losing them, so it is skipped.
PUT_NODE_KEYS = frozenset((
    'id', 'name', 'webhookId', 'disabled', 'notesInFlow', 'notes', 'type', 'typeVersion',
    'executeOnce', 'alwaysOutputData', 'retryOnFail', 'maxTries', 'waitBetweenTries',
    'continueOnFail', 'onError', 'position', 'parameters', 'credentials', 'customTelemetryTags',
))
# Server-managed node keys a PUT must not carry (read-only); dropping them loses nothing.
READ_ONLY_NODE_KEYS = frozenset(('createdAt', 'updatedAt'))

MAX_DEPTH = 64            # nesting of node parameters walked


def unsupported_node_keys(nodes):
    """``{node name: [keys]}`` of keys a public-API PUT would reject."""
    found = {}
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict):
            extra = sorted(k for k in node if k not in PUT_NODE_KEYS and k not in READ_ONLY_NODE_KEYS)
            if extra:
                found[node.get('name')] = extra
    return found


def is_active(workflow):
    return bool(workflow.get('active') or workflow.get('activeVersionId'))


def has_unpublished_draft(workflow):
    """An active workflow whose draft (versionId) is not the published version."""
    return (is_active(workflow) and bool(workflow.get('activeVersionId'))
            and workflow.get('versionId') != workflow.get('activeVersionId'))


def put_body(workflow, nodes=None):
    """The body of a public-API PUT: only what the API accepts, settings left as they are.

    ``settings: {}`` is merged by n8n into the stored settings (sending GET's settings back can
    fail: binaryMode, timeSavedMode ...). ``staticData`` is left out: n8n keeps what is stored,
    and a trigger may have updated it since the listing.
    """
    nodes = nodes if nodes is not None else workflow.get('nodes') or []
    return {
        'name': workflow.get('name'),
        'nodes': [dict((k, v) for k, v in node.items() if k not in READ_ONLY_NODE_KEYS)
                  if isinstance(node, dict) else node for node in nodes],
        'connections': workflow.get('connections') or {},
        'settings': {},
    }


def restore_body(backup):
    """The PUT body that puts a backed-up workflow's name, nodes, connections and staticData back."""
    body = put_body(backup)
    if backup.get('staticData') is not None:
        body['staticData'] = backup.get('staticData')
    return body


def canonical(value):
    """A comparable form of JSON data (key order ignored)."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def walk_strings(value, path, depth=0):
    """Yield (path, string) for every string inside nested dicts/lists."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key in value:
            yield from walk_strings(value[key], path + (key,), depth + 1)
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            yield from walk_strings(entry, path + (index,), depth + 1)


def main_targets(connections, name):
    """Names of the nodes the main outputs of ``name`` lead to."""
    out = []
    outputs = (connections.get(name) or {}).get('main') if isinstance(connections.get(name), dict) else None
    for output in outputs or []:
        for link in output or []:
            if isinstance(link, dict) and link.get('node') not in out:
                out.append(link.get('node'))
    return out


def main_sources(connections):
    """{target node name: [source node names]} over the main connections."""
    sources = {}
    for source in connections:
        for target in main_targets(connections, source):
            sources.setdefault(target, [])
            if source not in sources[target]:
                sources[target].append(source)
    return sources


# Optimistic concurrency: what tells that a workflow changed since it was listed.
CONCURRENCY_KEYS = ('versionId', 'updatedAt', 'activeVersionId', 'isArchived')


def changed_since(listed, fresh):
    """Whether ``fresh`` differs from ``listed`` in its version, time of update, publication or archiving."""
    return any(key in listed and listed.get(key) != fresh.get(key) for key in CONCURRENCY_KEYS)


def concurrency_entry(plan, fresh, outcome, reason):
    """The changed_since_read entry of a planned workflow and its fresh copy (None when it was deleted)."""
    return {'id': plan.id, 'name': plan.name, 'version_listed': plan.workflow.get('versionId'),
            'version_read': fresh.get('versionId') if fresh else None,
            'updated_listed': plan.workflow.get('updatedAt'),
            'updated_read': fresh.get('updatedAt') if fresh else None,
            'outcome': outcome, 'reason': reason}


def credential_users(workflows, credential_id):
    """``[(workflow, [node names])]`` of the workflows whose draft or published version uses the credential."""
    users = []
    for workflow in workflows:
        versions = [workflow.get('nodes')]
        if isinstance(workflow.get('activeVersion'), dict):
            versions.append(workflow['activeVersion'].get('nodes'))
        names = []
        for nodes in versions:
            for node in nodes or []:
                creds = node.get('credentials') if isinstance(node, dict) else None
                if not isinstance(creds, dict):
                    continue
                for ref in creds.values():
                    if isinstance(ref, dict) and str(ref.get('id')) == str(credential_id) and \
                            node.get('name') not in names:
                        names.append(node.get('name'))
        if names:
            users.append((workflow, names))
    return users


def in_scope(workflow, params):
    """Whether a listed workflow is one the module's workflow_ids, names, tags and active_only select."""
    if params['workflow_ids'] and workflow.get('id') not in params['workflow_ids']:
        return False
    if params['names'] and workflow.get('name') not in params['names']:
        return False
    if params['tags']:
        names = set(tag.get('name') for tag in workflow.get('tags') or [] if isinstance(tag, dict))
        if not names.issuperset(params['tags']):
            return False
    if params['active_only'] and not is_active(workflow):
        return False
    return True
