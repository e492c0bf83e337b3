# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""What n8n's own export (``n8n export:workflow|credentials --all --backup``) holds, and what changed between two.

A snapshot folder holds one ``n8n-export-<container>`` folder per exported n8n, each with ``workflows/`` and
``credentials/``: one JSON file per item, named by its id. ``read_export`` reads one snapshot folder (I/O);
``export_changes`` compares two readings (pure).
"""

from __future__ import annotations

import json
import os

KINDS = ('workflows', 'credentials')
EXPORT_PREFIX = 'n8n-export-'


class ExportError(Exception):
    """A snapshot folder that holds no readable n8n export."""


def _item(path):
    with open(path, encoding='utf-8') as handle:
        data = json.load(handle)
    if isinstance(data, list):  # an export without --separate: one file, a list
        return data
    return [data]


def read_export(snapshot):
    """{kind: {id: name}} of the first ``n8n-export-*`` folder in ``snapshot`` (sorted by name)."""
    try:
        exports = sorted(n for n in os.listdir(snapshot) if n.startswith(EXPORT_PREFIX))
    except OSError as exc:
        raise ExportError('cannot read %s: %s' % (snapshot, exc.strerror or exc)) from exc
    if not exports:
        raise ExportError('%s holds no %s* folder (n8n\'s own export)' % (snapshot, EXPORT_PREFIX))
    folder = os.path.join(snapshot, exports[0])
    found = {}
    for kind in KINDS:
        found[kind] = {}
        path = os.path.join(folder, kind)
        names = sorted(n for n in os.listdir(path) if n.endswith('.json')) if os.path.isdir(path) else []
        for name in names:
            try:
                items = _item(os.path.join(path, name))
            except (OSError, ValueError) as exc:
                raise ExportError('cannot read %s: %s' % (os.path.join(path, name), exc)) from exc
            for item in items:
                if isinstance(item, dict) and item.get('id') is not None:
                    found[kind][str(item['id'])] = str(item.get('name') or '')
    return found


def export_changes(before, after):
    """{kind: {'created': [...], 'deleted': [...]}} from ``before`` to ``after`` (``read_export``'s readings),
    each item {'id', 'name'}, sorted by name then id."""
    changes = {}
    for kind in KINDS:
        was, now = before.get(kind, {}), after.get(kind, {})
        changes[kind] = {
            'created': _listed(now, set(now) - set(was)),
            'deleted': _listed(was, set(was) - set(now)),
        }
    return changes


def _listed(names, ids):
    return sorted(({'id': i, 'name': names[i]} for i in ids), key=lambda item: (item['name'], item['id']))


def changed_items(changes):
    """Every item of ``export_changes``'s answer, as 'kind created|deleted: name (id)' lines."""
    return ['%s %s: %s (%s)' % (kind[:-1], how, item['name'], item['id'])
            for kind in KINDS for how in ('created', 'deleted') for item in changes[kind][how]]
