# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""What n8n's own export (``n8n export:workflow|credentials --all --backup``) holds, and what changed between two.

A snapshot folder holds one ``n8n-export-<container>`` folder per exported n8n, each with ``workflows/`` and
``credentials/``: one JSON file per item, named by its id. ``read_items`` reads one snapshot folder (I/O);
``export_changes`` compares two readings (pure); ``stage_created`` copies what was created since into a folder
for n8n's ``import:workflow|credentials --separate``, each workflow's LLM URLs put back by the given rules.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_text
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_credential_record import CredentialState
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import build_rules, plan_nodes

KINDS = ('workflows', 'credentials')
HOW = ('created', 'updated', 'deleted')
EXPORT_PREFIX = 'n8n-export-'


class ExportError(Exception):
    """A snapshot folder that holds no readable n8n export."""


def _item(path):
    with open(path, encoding='utf-8') as handle:
        data = json.load(handle)
    if isinstance(data, list):  # an export without --separate: one file, a list
        return data
    return [data]


def export_folder(snapshot):
    """The first ``n8n-export-<container>`` folder of ``snapshot`` (sorted by name): (path, container)."""
    try:
        exports = sorted(n for n in os.listdir(snapshot) if n.startswith(EXPORT_PREFIX))
    except OSError as exc:
        raise ExportError('cannot read %s: %s' % (snapshot, exc.strerror or exc)) from exc
    if not exports:
        raise ExportError('%s holds no %s* folder (n8n\'s own export)' % (snapshot, EXPORT_PREFIX))
    return os.path.join(snapshot, exports[0]), exports[0][len(EXPORT_PREFIX):]


def _items(folder, kind):
    """{id: item} of one kind in an export folder."""
    path = os.path.join(folder, kind)
    names = sorted(n for n in os.listdir(path) if n.endswith('.json')) if os.path.isdir(path) else []
    found = {}
    for name in names:
        try:
            items = _item(os.path.join(path, name))
        except (OSError, ValueError) as exc:
            raise ExportError('cannot read %s: %s' % (os.path.join(path, name), exc)) from exc
        for item in items:
            if isinstance(item, dict) and item.get('id') is not None:
                found[str(item['id'])] = item
    return found


def read_items(snapshot):
    """{kind: {id: item}} of the first ``n8n-export-*`` folder in ``snapshot`` (sorted by name): the one reading of a
    snapshot that ``export_changes`` and ``stage_created`` share."""
    folder = export_folder(snapshot)[0]
    return dict((kind, _items(folder, kind)) for kind in KINDS)


WORKFLOW_CONTENT = ('name', 'nodes', 'connections', 'settings', 'pinData', 'versionId', 'isArchived')
CREDENTIAL_CONTENT = ('name', 'type', 'data')


def _version(kind, item):
    """What changes when a user saves an item in n8n: a workflow's name, nodes, connections, settings, pinned data
    and versionId (n8n keeps the versionId on a rename), a credential's name, type and (encrypted) data. Not its
    updatedAt, which n8n also moves without a user's edit."""
    keys = WORKFLOW_CONTENT if kind == 'workflows' else CREDENTIAL_CONTENT
    return hashlib.sha256(json.dumps([item.get(k) for k in keys], sort_keys=True).encode('utf-8')).hexdigest()


def own_credentials(record):
    """The ids of the credentials the play created in n8n itself (LiteLLM's key, the internal Ollama route), from
    n8n_workflow_urls' credential record (``credentials.json``; none when it does not exist)."""
    if not record or not os.path.exists(record):
        return set()
    try:
        state = CredentialState(record).load()
    except ValueError as exc:
        raise ExportError(str(exc)) from exc
    return set(i for i, r in state.records.items() if r.get('created'))


BACKUP_NAME = re.compile(r'^(?P<id>.+)-\d{8}T\d{6}(?:\.\d+)?Z\.json$')


def moved_ids(backup_dir):
    """The ids of the workflows the phases wrote (a backup ``<id>-<time>.json`` anywhere under ``backup_dir``)."""
    found = set()
    for _folder, _dirs, files in os.walk(backup_dir or ''):
        for name in files:
            match = BACKUP_NAME.match(name)
            if match:
                found.add(match.group('id'))
    return found


def export_changes(before, after, moved=(), own_credentials=()):
    """{kind: {'created': [...], 'updated': [...], 'deleted': [...]}} from ``before`` to ``after`` (``read_items``'s
    readings), each item {'id', 'name'}, sorted by name then id.

    ``updated``: the items in both whose version (``_version``) differs, but for the workflows in ``moved`` (a phase
    wrote them; their way back is their backup). The credentials in ``own_credentials`` (ids the play created and
    deletes itself, such as LiteLLM's key) are never listed."""
    changes = {}
    for kind in KINDS:
        skip = set(own_credentials) if kind == 'credentials' else set()
        was = dict((i, item) for i, item in before.get(kind, {}).items() if i not in skip)
        now = dict((i, item) for i, item in after.get(kind, {}).items() if i not in skip)
        saved = set(i for i in set(now) & set(was)
                    if _version(kind, was[i]) != _version(kind, now[i]) and not (kind == 'workflows' and i in moved))
        changes[kind] = {
            'created': _listed(now, set(now) - set(was)),
            'updated': _listed(now, saved),
            'deleted': _listed(was, set(was) - set(now)),
        }
    return changes


def _listed(items, ids):
    return sorted(({'id': i, 'name': str(items[i].get('name') or '')} for i in ids),
                  key=lambda item: (item['name'], item['id']))


def changed_items(changes):
    """Every item of ``export_changes``'s answer, as 'kind created|deleted: name (id)' lines."""
    return ['%s %s: %s (%s)' % (kind[:-1], how, item['name'], item['id'])
            for kind in KINDS for how in HOW for item in changes[kind].get(how, [])]


def _urls(nodes):
    return sorted(set(re.findall(r'https?://[^\s"\'{}()<>]+', json.dumps(nodes))))


def carried_workflow(workflow, rules, hosts):
    """A workflow made since, as it is imported into the original n8n (pure): its nodes' URLs rewritten by ``rules``
    (the stack's routes back to the original ones), inactive, without a published version (n8n publishes it again
    when it is activated). Returns (workflow, notes): what was put back, and each URL left on one of ``hosts`` (the
    stack's containers, which the original setup does not run)."""
    carried = dict(workflow)
    plan = plan_nodes(workflow.get('nodes'), rules, workflow.get('connections'))
    if plan.new_nodes is not None:
        carried['nodes'] = plan.new_nodes
    for key in ('activeVersion', 'activeVersionId'):
        carried.pop(key, None)
    carried['active'] = False
    notes = ['%s put back to %s' % (mask_text(c.before), mask_text(c.after)) for c in plan.changes if c.rule is not None]
    left = [url for url in _urls(carried.get('nodes')) if re.match(r'https?://(%s)[:/]' % '|'.join(
        re.escape(h) for h in hosts), url)] if hosts else []
    notes.extend('still calls %s, which the original setup does not run: change it in n8n' % mask_text(url)
                 for url in left)
    return carried, notes


def stage_created(after, changes, dest, rewrites, hosts, check_mode=False):
    """Write what ``changes`` (``export_changes``) lists as created or updated into ``dest/<kind>/<id>.json`` from
    ``after`` (``read_items`` of the newer snapshot), workflows through ``carried_workflow``.
    Returns one line per item: 'workflow carried: name (id)', with its notes."""
    rules = build_rules(rewrites) if rewrites else []
    lines = []
    for kind in KINDS:
        created = changes[kind]['created'] + changes[kind].get('updated', [])
        updated = set(item['id'] for item in changes[kind].get('updated', []))
        if not created:
            continue
        items = after[kind]
        target = os.path.join(dest, kind)
        if not check_mode:
            for path in (dest, target):
                if not os.path.isdir(path):
                    os.mkdir(path, 0o700)
        for listed in created:
            item, notes = items[listed['id']], []
            if kind == 'workflows':
                item, notes = carried_workflow(item, rules, hosts)
            lines.append('%s carried%s: %s (%s)%s' % (
                kind[:-1], ' (edited since the snapshot)' if listed['id'] in updated else '', listed['name'],
                listed['id'], ''.join('; ' + note for note in notes)))
            if check_mode:
                continue
            path = os.path.join(target, '%s.json' % listed['id'])
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump(item, handle, indent=2)
            os.chmod(path, 0o600)
    return lines
