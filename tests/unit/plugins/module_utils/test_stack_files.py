"""_stack_files: a record of the stack's files, and putting it back (on a temporary folder)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._stack_files import FilesError, read, restore

NAMES = ['docker-compose.yml', 'nginx', 'litellm', 'env']


def put(root, relpath, content, mode=0o644):
    path = os.path.join(str(root), relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(content)
    os.chmod(path, mode)
    return path


def text(root, relpath):
    with open(os.path.join(str(root), relpath)) as handle:
        return handle.read()


@pytest.fixture
def phase1(tmp_path):
    put(tmp_path, 'docker-compose.yml', 'services: {nginx: {}}\n')
    put(tmp_path, 'nginx/conf.d/llm-gateway.conf', 'location /api/ {}\n')
    put(tmp_path, 'env/n8n-secrets/N8N_ENCRYPTION_KEY', 'k1', 0o400)
    os.chmod(str(tmp_path / 'env'), 0o700)
    put(tmp_path, 'backups/n8n/one.json', '{}')  # not one of the names: never touched
    os.symlink('llm-gateway.conf', str(tmp_path / 'nginx/conf.d/default.conf'))
    return tmp_path


def test_a_record_lists_folders_before_what_they_hold_with_modes_and_content(phase1):
    entries = read(str(phase1), NAMES)
    paths = [e['path'] for e in entries]
    assert paths == ['docker-compose.yml', 'nginx', 'nginx/conf.d', 'nginx/conf.d/default.conf',
                     'nginx/conf.d/llm-gateway.conf', 'env', 'env/n8n-secrets', 'env/n8n-secrets/N8N_ENCRYPTION_KEY']
    by_path = dict((e['path'], e) for e in entries)
    assert by_path['env']['mode'] == 0o700 and by_path['env']['type'] == 'directory'
    assert by_path['env/n8n-secrets/N8N_ENCRYPTION_KEY']['mode'] == 0o400
    assert by_path['nginx/conf.d/default.conf'] == dict(by_path['nginx/conf.d/default.conf'], type='link',
                                                        target='llm-gateway.conf')


def test_putting_back_removes_what_a_run_added_and_writes_what_it_changed(phase1):
    before = read(str(phase1), NAMES)
    put(phase1, 'docker-compose.yml', 'services: {nginx: {}, litellm: {}}\n')
    put(phase1, 'litellm/config.yaml', 'model_list: []\n')
    put(phase1, 'env/litellm-secrets/litellm.env', 'LITELLM_MASTER_KEY=sk-1', 0o400)
    put(phase1, 'env/n8n-secrets/N8N_ENCRYPTION_KEY', 'k1', 0o600)  # same content, other mode
    kept = os.stat(str(phase1 / 'nginx/conf.d/llm-gateway.conf')).st_mtime_ns

    assert sorted(restore(str(phase1), NAMES, before, check_mode=True)) == sorted([
        'docker-compose.yml', 'litellm/config.yaml', 'litellm', 'env/litellm-secrets/litellm.env',
        'env/litellm-secrets', 'env/n8n-secrets/N8N_ENCRYPTION_KEY'])
    assert os.path.exists(str(phase1 / 'litellm'))  # check mode changed nothing

    changed = restore(str(phase1), NAMES, before)
    assert 'litellm' in changed and 'docker-compose.yml' in changed
    assert read(str(phase1), NAMES) == before
    assert not os.path.exists(str(phase1 / 'litellm'))
    assert text(phase1, 'docker-compose.yml') == 'services: {nginx: {}}\n'
    # What did not change keeps its modification time (a container that reads it is not taken for a stale one).
    assert os.stat(str(phase1 / 'nginx/conf.d/llm-gateway.conf')).st_mtime_ns == kept
    assert text(phase1, 'backups/n8n/one.json') == '{}'
    assert restore(str(phase1), NAMES, before) == []


def test_a_name_that_was_absent_goes_and_a_removed_one_comes_back(phase1):
    before = read(str(phase1), NAMES)
    os.unlink(str(phase1 / 'docker-compose.yml'))
    os.unlink(str(phase1 / 'nginx/conf.d/default.conf'))
    os.mkdir(str(phase1 / 'litellm'))
    restore(str(phase1), NAMES, before)
    assert read(str(phase1), NAMES) == before
    assert os.readlink(str(phase1 / 'nginx/conf.d/default.conf')) == 'llm-gateway.conf'


def test_a_file_that_became_a_folder_is_a_file_again(phase1):
    before = read(str(phase1), NAMES)
    os.unlink(str(phase1 / 'docker-compose.yml'))
    put(phase1, 'docker-compose.yml/inner', 'x')
    restore(str(phase1), NAMES, before)
    assert text(phase1, 'docker-compose.yml') == 'services: {nginx: {}}\n'


def test_a_record_refuses_more_than_configuration(phase1):
    put(phase1, 'env/big', 'x' * 200)
    with pytest.raises(FilesError, match='more than 100 bytes'):
        read(str(phase1), NAMES, limit=100)
