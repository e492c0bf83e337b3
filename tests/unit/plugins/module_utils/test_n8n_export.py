# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import build_rules
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_export import (
    ExportError, carried_workflow, changed_items, export_changes, export_folder, moved_ids, own_credentials, read_items,
    stage_created)


def snapshot(root, name, workflows=(), credentials=(), container='n8n'):
    folder = root / name
    for kind, items in (('workflows', workflows), ('credentials', credentials)):
        path = folder / ('n8n-export-' + container) / kind
        path.mkdir(parents=True)
        for item_id, item_name in items:
            (path / ('%s.json' % item_id)).write_text(json.dumps({'id': item_id, 'name': item_name, 'nodes': []}))
    return str(folder)


def names(found):
    return dict((kind, dict((i, item.get('name')) for i, item in items.items())) for kind, items in found.items())


def test_read_items_reads_both_kinds_by_id(tmp_path):
    found = read_items(snapshot(tmp_path, 's', [('w1', 'Digest'), ('w2', 'Chat')], [('c1', 'Ollama key')]))
    assert names(found) == {'workflows': {'w1': 'Digest', 'w2': 'Chat'}, 'credentials': {'c1': 'Ollama key'}}
    assert found['workflows']['w1'] == {'id': 'w1', 'name': 'Digest', 'nodes': []}


def test_read_items_reads_a_list_file_and_an_empty_kind(tmp_path):
    folder = tmp_path / 's' / 'n8n-export-x' / 'workflows'
    folder.mkdir(parents=True)
    (folder / 'all.json').write_text(json.dumps([{'id': 1, 'name': 'A'}, {'id': 2, 'name': None}, 'junk']))
    assert names(read_items(str(tmp_path / 's'))) == {'workflows': {'1': 'A', '2': None}, 'credentials': {}}


def test_the_first_export_folder_is_read(tmp_path):
    snapshot(tmp_path, 's', [('b', 'B')], container='zz')
    snapshot(tmp_path, 's', [('a', 'A')], container='aa')
    assert names(read_items(str(tmp_path / 's')))['workflows'] == {'a': 'A'}


@pytest.mark.parametrize('make, words', [
    (lambda root: str(root / 'missing'), 'cannot read'),
    (lambda root: (root / 'empty').mkdir() or str(root / 'empty'), "no n8n-export-"),
])
def test_a_folder_without_an_export_is_an_error_that_names_it(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(ExportError) as err:
        read_items(path)
    assert words in str(err.value) and path in str(err.value)


def test_a_broken_file_is_an_error_that_names_it(tmp_path):
    folder = snapshot(tmp_path, 's', [('w1', 'A')])
    broken = os.path.join(folder, 'n8n-export-n8n', 'workflows', 'w1.json')
    with open(broken, 'w', encoding='utf-8') as handle:
        handle.write('{')
    with pytest.raises(ExportError) as err:
        read_items(folder)
    assert broken in str(err.value)


def items(**kinds):
    return dict((kind, dict((i, {'id': i, 'name': name}) for i, name in found.items())) for kind, found in kinds.items())


def test_changes_are_created_updated_and_deleted_by_id_with_names():
    before = items(workflows={'w1': 'Old', 'w2': 'Kept'}, credentials={'c1': 'Key'})
    after = items(workflows={'w2': 'Kept renamed', 'w3': 'New', 'w0': 'Also new'}, credentials={'c1': 'Key'})
    changes = export_changes(before, after)
    assert changes == {
        'workflows': {'created': [{'id': 'w0', 'name': 'Also new'}, {'id': 'w3', 'name': 'New'}],
                      'updated': [{'id': 'w2', 'name': 'Kept renamed'}], 'deleted': [{'id': 'w1', 'name': 'Old'}]},
        'credentials': {'created': [], 'updated': [], 'deleted': []},
    }
    assert changed_items(changes) == ['workflow created: Also new (w0)', 'workflow created: New (w3)',
                                      'workflow updated: Kept renamed (w2)', 'workflow deleted: Old (w1)']


def test_no_change_is_empty():
    same = items(workflows={'w1': 'A'}, credentials={'c1': 'B'})
    assert changed_items(export_changes(same, dict(same))) == []


def test_the_plays_own_credentials_are_never_listed(tmp_path):
    record = tmp_path / 'credentials.json'
    record.write_text(json.dumps({'version': 1, 'salt': '00', 'credentials': {
        'c2': {'id': 'c2', 'name': 'LiteLLM', 'type': 'httpHeaderAuth', 'created': True},
        'c3': {'id': 'c3', 'name': 'Ollama (internal)', 'type': 'ollamaApi', 'created': True},
        'c4': {'id': 'c4', 'name': 'Users own, reused', 'type': 'httpHeaderAuth', 'created': False}}}))
    own = own_credentials(str(record))
    assert own == {'c2', 'c3'}
    assert own_credentials(str(tmp_path / 'missing.json')) == set()
    before = items(credentials={'c1': 'Key'})
    after = items(credentials={'c1': 'Key', 'c2': 'LiteLLM', 'c3': 'Ollama (internal)', 'c4': 'Users own, reused'})
    assert changed_items(export_changes(before, after, own_credentials=own)) == [
        'credential created: Users own, reused (c4)']


def test_a_broken_credential_record_is_an_error_that_names_it(tmp_path):
    record = tmp_path / 'credentials.json'
    record.write_text('[]')
    with pytest.raises(ExportError) as err:
        own_credentials(str(record))
    assert str(record) in str(err.value)


BACK = [{'from': 'http://llama-nginx/api/generate', 'to': 'https://llm.example.com/api/generate'},
        {'from': 'http://llama-nginx/api/chat', 'to': 'https://llm.example.com/api/chat'}]
HOSTS = ['llama-nginx', 'llama-litellm']


def http_node(name, url):
    return {'name': name, 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2, 'position': [0, 0],
            'parameters': {'method': 'POST', 'url': url, 'options': {}}}


def test_a_carried_workflow_calls_the_original_route_and_is_inactive():
    made = {'id': 'w9', 'name': 'Made since', 'active': True, 'activeVersionId': 'v1', 'activeVersion': {'nodes': []},
            'connections': {}, 'nodes': [http_node('Ask', 'http://llama-nginx/api/generate')]}
    carried, notes = carried_workflow(made, build_rules(BACK), HOSTS)
    assert carried['nodes'][0]['parameters']['url'] == 'https://llm.example.com/api/generate'
    assert carried['active'] is False and 'activeVersion' not in carried and 'activeVersionId' not in carried
    assert notes == ['http://llama-nginx/api/generate put back to https://llm.example.com/api/generate']
    assert made['nodes'][0]['parameters']['url'] == 'http://llama-nginx/api/generate'  # the input is not changed


def test_a_carried_workflow_names_a_call_no_rule_puts_back():
    made = {'id': 'w8', 'name': 'Chat',
            'nodes': [http_node('Ask', 'http://llama-litellm:4000/v1/chat/completions'),
                      http_node('Other', 'https://example.org/x')]}
    carried, notes = carried_workflow(made, build_rules(BACK), HOSTS)
    assert carried['nodes'] == made['nodes']
    assert notes == ['still calls http://llama-litellm:4000/v1/chat/completions, which the original setup does not '
                     'run: change it in n8n']


def test_what_was_created_since_is_staged_for_n8ns_import(tmp_path):
    before = snapshot(tmp_path, 'before', [('w1', 'Old')], [('c1', 'Old key')], container='n8n')
    after = snapshot(tmp_path, 'after', [('w1', 'Old'), ('w2', 'New')], [('c1', 'Old key'), ('c2', 'New key')],
                     container='llm-gateway-n8n-1')
    made = os.path.join(after, 'n8n-export-llm-gateway-n8n-1', 'workflows', 'w2.json')
    with open(made, 'w') as handle:
        json.dump({'id': 'w2', 'name': 'New', 'active': True, 'nodes': [http_node('Ask', 'http://llama-nginx/api/chat')]},
                  handle)
    changes = export_changes(read_items(before), read_items(after))
    dest = str(tmp_path / 'carry')

    lines = stage_created(read_items(after), changes, dest, BACK, HOSTS, check_mode=True)
    assert not os.path.exists(dest)
    assert lines == stage_created(read_items(after), changes, dest, BACK, HOSTS)
    assert lines == ['workflow carried: New (w2); http://llama-nginx/api/chat put back to https://llm.example.com/api/chat',
                     'credential carried: New key (c2)']
    assert sorted(os.listdir(dest)) == ['credentials', 'workflows']
    assert os.listdir(os.path.join(dest, 'workflows')) == ['w2.json']
    staged = json.load(open(os.path.join(dest, 'workflows', 'w2.json')))
    assert staged['active'] is False and staged['nodes'][0]['parameters']['url'] == 'https://llm.example.com/api/chat'
    assert json.load(open(os.path.join(dest, 'credentials', 'c2.json')))['name'] == 'New key'
    assert os.stat(os.path.join(dest, 'credentials', 'c2.json')).st_mode & 0o777 == 0o600
    assert export_folder(before) == (os.path.join(before, 'n8n-export-n8n'), 'n8n')


def test_nothing_created_stages_nothing(tmp_path):
    before = snapshot(tmp_path, 'before', [('w1', 'Old')])
    changes = export_changes(read_items(before), read_items(before))
    assert stage_created(read_items(before), changes, str(tmp_path / 'carry'), BACK, HOSTS) == []
    assert not os.path.exists(str(tmp_path / 'carry'))


def test_an_item_saved_since_is_updated_unless_a_phase_wrote_it(tmp_path):
    before = snapshot(tmp_path, 'before', [('w1', 'Keep me'), ('w2', 'Moved'), ('w3', 'Same')], [('c1', 'Key')])
    after = snapshot(tmp_path, 'after', [('w1', 'Keep me'), ('w2', 'Moved'), ('w3', 'Same')], [('c1', 'Key')])
    for snap, kind, item in ((before, 'workflows', {'id': 'w1', 'name': 'Keep me', 'versionId': 'v1'}),
                             (after, 'workflows', {'id': 'w1', 'name': 'Keep me', 'versionId': 'v2'}),
                             (before, 'workflows', {'id': 'w2', 'name': 'Moved', 'versionId': 'v1'}),
                             (after, 'workflows', {'id': 'w2', 'name': 'Moved', 'versionId': 'v9'}),
                             (after, 'credentials', {'id': 'c1', 'name': 'Key', 'data': 'U2FsdGVkX1+other'})):
        with open(os.path.join(snap, 'n8n-export-n8n', kind, item['id'] + '.json'), 'w') as handle:
            json.dump(item, handle)
    backups = tmp_path / 'backups' / 'phase1' / '20261207T160457.704775Z'
    backups.mkdir(parents=True)
    (backups / 'w2-20261207T160457.704775Z.json').write_text('{}')
    (backups / 'journal.json').write_text('{}')
    assert moved_ids(str(tmp_path / 'backups')) == {'w2'}

    changes = export_changes(read_items(before), read_items(after), moved_ids(str(tmp_path / 'backups')))
    assert changed_items(changes) == ['workflow updated: Keep me (w1)', 'credential updated: Key (c1)']
    lines = stage_created(read_items(after), changes, str(tmp_path / 'carry'), BACK, HOSTS)
    assert lines == ['workflow carried (edited since the snapshot): Keep me (w1)',
                     'credential carried (edited since the snapshot): Key (c1)']
    assert json.load(open(str(tmp_path / 'carry' / 'workflows' / 'w1.json')))['versionId'] == 'v2'


def test_a_rename_alone_is_an_update_and_a_new_updated_at_alone_is_not(tmp_path):
    before = snapshot(tmp_path, 'before', [('w1', 'Keep me'), ('w2', 'Touched')])
    after = snapshot(tmp_path, 'after', [('w1', 'Keep me, renamed'), ('w2', 'Touched')])
    for snap, item in ((before, {'id': 'w2', 'name': 'Touched', 'versionId': 'v1', 'updatedAt': '2026-12-01'}),
                       (after, {'id': 'w2', 'name': 'Touched', 'versionId': 'v1', 'updatedAt': '2026-12-07'})):
        with open(os.path.join(snap, 'n8n-export-n8n', 'workflows', 'w2.json'), 'w') as handle:
            json.dump(item, handle)
    changes = export_changes(read_items(before), read_items(after))
    assert changed_items(changes) == ['workflow updated: Keep me, renamed (w1)']
