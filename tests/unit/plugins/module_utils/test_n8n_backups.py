"""The backup files: run folders, atomic writes, and reading backups back."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.module_utils import _n8n_backups


def test_backup_files(tmp_path):
    stamp = _n8n_backups.run_stamp()
    folder = _n8n_backups.make_run_folder(str(tmp_path / 'b' / 'c'), stamp)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700 and os.path.basename(folder) == stamp
    second = _n8n_backups.make_run_folder(str(tmp_path / 'b' / 'c'), stamp)
    assert second != folder and second.startswith(folder)
    wf = {'id': 'w1', 'name': 'ü', 'nodes': [], 'connections': {}, 'active': True, 'pinData': {'a': 1}}
    path = _n8n_backups.write_backup(folder, wf, stamp)
    assert os.path.basename(path) == 'w1-%s.json' % stamp
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        assert json.load(handle) == wf
    with pytest.raises(OSError):
        _n8n_backups.write_backup(folder, wf, stamp)      # never overwrites
    assert _n8n_backups.read_backups(path) == ([(path, wf)], [])
    assert _n8n_backups.read_backups(folder) == ([(path, wf)], [])
    assert [n for n in os.listdir(folder) if n.endswith('.tmp')] == [], 'no temporary file is left'


def test_read_backups_refuses_what_is_not_a_backup(tmp_path):
    with pytest.raises(ValueError) as caught:
        _n8n_backups.read_backups(str(tmp_path / 'missing'))
    assert 'does not exist' in str(caught.value)
    with pytest.raises(ValueError) as caught:
        _n8n_backups.read_backups(str(tmp_path))
    assert 'no *.json' in str(caught.value)
    (tmp_path / 'x.json').write_text('{"id": "a"}')
    with pytest.raises(ValueError) as caught:
        _n8n_backups.read_backups(str(tmp_path))
    assert 'not an n8n workflow backup' in str(caught.value)
    (tmp_path / 'x.json').write_text('not json')
    with pytest.raises(ValueError) as caught:
        _n8n_backups.read_backups(str(tmp_path))
    assert 'cannot read' in str(caught.value)
    wf = {'id': 'a', 'name': 'n', 'nodes': [], 'connections': {}}
    (tmp_path / 'x.json').write_text(json.dumps(wf))
    (tmp_path / 'y.json').write_text(json.dumps(wf))
    with pytest.raises(ValueError) as caught:
        _n8n_backups.read_backups(str(tmp_path))
    assert 'same workflow a' in str(caught.value)


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = str(tmp_path / 'state.json')
    _n8n_backups.atomic_write(path, b'old')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    _n8n_backups.atomic_write(path, b'new')
    assert open(path, 'rb').read() == b'new'

    def crash(src, dst):
        raise OSError('disk gone')
    monkeypatch.setattr(_n8n_backups.os, 'replace', crash)
    with pytest.raises(OSError):
        _n8n_backups.atomic_write(path, b'half')
    assert open(path, 'rb').read() == b'new', 'a failed write leaves the old file'
    assert sorted(os.listdir(str(tmp_path))) == ['state.json'], 'and no temporary file'


def test_backup_is_written_through_a_fsynced_temporary_file(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(_n8n_backups.os, 'fsync', lambda fd: synced.append(fd) or real_fsync(fd))
    renamed = []
    real_link = os.link
    monkeypatch.setattr(_n8n_backups.os, 'link', lambda src, dst: renamed.append((src, dst)) or real_link(src, dst))
    path = _n8n_backups.write_backup(str(tmp_path), {'id': 'w1', 'name': 'n', 'nodes': [], 'connections': {}}, 'S')
    assert renamed and os.path.dirname(renamed[0][0]) == str(tmp_path) and renamed[0][0].endswith('.tmp')
    assert renamed[0][1] == path and len(synced) >= 2, 'the file and its folder are fsynced'
    assert os.listdir(str(tmp_path)) == [os.path.basename(path)]


def test_read_backups_ignores_leftovers_and_damaged_files_with_a_warning(tmp_path):
    good = {'id': 'a', 'name': 'n', 'nodes': [], 'connections': {}}
    (tmp_path / 'a-S.json').write_text(json.dumps(good))
    (tmp_path / '.b-S.json.x1y2.tmp').write_text('{"id": "b", "na')
    (tmp_path / 'c-S.json').write_text('{"id": "c", "na')        # cut short
    (tmp_path / 'journal.json').write_text('{}')                  # the run's journal is no backup
    found, warnings = _n8n_backups.read_backups(str(tmp_path))
    assert found == [(str(tmp_path / 'a-S.json'), good)]
    assert len(warnings) == 2
    assert 'leftover of an interrupted backup write' in warnings[0] and '.b-S.json.x1y2.tmp' in warnings[0]
    assert 'cannot read the backup' in warnings[1] and 'c-S.json' in warnings[1] and 'ignored' in warnings[1]
    with pytest.raises(ValueError) as caught:
        _n8n_backups.read_backups(str(tmp_path / 'c-S.json'))                 # named alone, it still fails
    assert 'cannot read the backup' in str(caught.value)


def test_backup_without_hard_links_still_never_overwrites(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError(1, 'Operation not permitted')
    monkeypatch.setattr(_n8n_backups.os, 'link', no_links)
    wf = {'id': 'w1', 'name': 'n', 'nodes': [], 'connections': {}}
    path = _n8n_backups.write_backup(str(tmp_path), wf, 'S')
    assert json.loads(open(path).read()) == wf and os.listdir(str(tmp_path)) == ['w1-S.json']
    with pytest.raises(FileExistsError):
        _n8n_backups.write_backup(str(tmp_path), dict(wf, name='other'), 'S')
    assert json.loads(open(path).read()) == wf and os.listdir(str(tmp_path)) == ['w1-S.json']
