# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_export import (
    ExportError, changed_items, export_changes, read_export)


def snapshot(root, name, workflows=(), credentials=(), container='n8n'):
    folder = root / name
    for kind, items in (('workflows', workflows), ('credentials', credentials)):
        path = folder / ('n8n-export-' + container) / kind
        path.mkdir(parents=True)
        for item_id, item_name in items:
            (path / ('%s.json' % item_id)).write_text(json.dumps({'id': item_id, 'name': item_name, 'nodes': []}))
    return str(folder)


def test_read_export_reads_ids_and_names_of_both_kinds(tmp_path):
    found = read_export(snapshot(tmp_path, 's', [('w1', 'Digest'), ('w2', 'Chat')], [('c1', 'Ollama key')]))
    assert found == {'workflows': {'w1': 'Digest', 'w2': 'Chat'}, 'credentials': {'c1': 'Ollama key'}}


def test_read_export_reads_a_list_file_and_an_empty_kind(tmp_path):
    folder = tmp_path / 's' / 'n8n-export-x' / 'workflows'
    folder.mkdir(parents=True)
    (folder / 'all.json').write_text(json.dumps([{'id': 1, 'name': 'A'}, {'id': 2, 'name': None}, 'junk']))
    assert read_export(str(tmp_path / 's')) == {'workflows': {'1': 'A', '2': ''}, 'credentials': {}}


def test_the_first_export_folder_is_read(tmp_path):
    snapshot(tmp_path, 's', [('b', 'B')], container='zz')
    snapshot(tmp_path, 's', [('a', 'A')], container='aa')
    assert read_export(str(tmp_path / 's'))['workflows'] == {'a': 'A'}


@pytest.mark.parametrize('make, words', [
    (lambda root: str(root / 'missing'), 'cannot read'),
    (lambda root: (root / 'empty').mkdir() or str(root / 'empty'), "no n8n-export-"),
])
def test_a_folder_without_an_export_is_an_error_that_names_it(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(ExportError) as err:
        read_export(path)
    assert words in str(err.value) and path in str(err.value)


def test_a_broken_file_is_an_error_that_names_it(tmp_path):
    folder = snapshot(tmp_path, 's', [('w1', 'A')])
    broken = os.path.join(folder, 'n8n-export-n8n', 'workflows', 'w1.json')
    with open(broken, 'w', encoding='utf-8') as handle:
        handle.write('{')
    with pytest.raises(ExportError) as err:
        read_export(folder)
    assert broken in str(err.value)


def test_changes_are_created_and_deleted_by_id_with_names():
    before = {'workflows': {'w1': 'Old', 'w2': 'Kept'}, 'credentials': {'c1': 'Key'}}
    after = {'workflows': {'w2': 'Kept renamed', 'w3': 'New', 'w0': 'Also new'}, 'credentials': {'c1': 'Key'}}
    changes = export_changes(before, after)
    assert changes == {
        'workflows': {'created': [{'id': 'w0', 'name': 'Also new'}, {'id': 'w3', 'name': 'New'}],
                      'deleted': [{'id': 'w1', 'name': 'Old'}]},
        'credentials': {'created': [], 'deleted': []},
    }
    assert changed_items(changes) == ['workflow created: Also new (w0)', 'workflow created: New (w3)',
                                      'workflow deleted: Old (w1)']


def test_no_change_is_empty():
    same = {'workflows': {'w1': 'A'}, 'credentials': {'c1': 'B'}}
    assert changed_items(export_changes(same, dict(same))) == []
