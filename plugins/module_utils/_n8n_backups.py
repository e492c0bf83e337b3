# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The workflow backup files of n8n_workflow_urls: a new folder per run, each file written atomically."""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile

TMP_SUFFIX = '.tmp'           # temporary files of atomic_write
JOURNAL_NAME = 'journal.json'  # in a run's backup folder: what the run wrote (not a backup)


# ------------------------------------------------------------------------------------------
# Backups: BACKUP_DIR/<run stamp>/<workflow id>-<run stamp>.json, the workflow JSON as read right
# before it was written, each file written atomically (atomic_write).

def run_stamp(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y%m%dT%H%M%S.%fZ')


def make_run_folder(backup_dir, stamp):
    """Create (0700) and return a new folder for one run's backups."""
    backup_dir = os.path.abspath(os.path.expanduser(backup_dir))
    if not os.path.isdir(backup_dir):
        os.makedirs(backup_dir, 0o700)
    for attempt in range(100):
        name = stamp if attempt == 0 else '%s-%d' % (stamp, attempt)
        folder = os.path.join(backup_dir, name)
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)
        return folder
    raise OSError('cannot create a new backup folder under %s' % backup_dir)


def _safe_name(text):
    return re.sub(r'[^A-Za-z0-9_.-]', '_', str(text))[:100] or 'workflow'


def _fsync_folder(folder):
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _link_new(tmp, path):
    """Give ``tmp`` the name ``path`` unless that exists (FileExistsError). A hard link does it in one
    step; where the file system has none, a check and a rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(17, 'File exists', path)
        os.rename(tmp, path)
        return
    os.unlink(tmp)


def atomic_write(path, data, replace=True):
    """Write ``data`` (bytes) to ``path`` durably: a temporary file in the same folder (0600, named
    ``.<name>.<random>.tmp``), flushed and fsynced, then renamed over ``path`` (``replace``) or linked to
    it, failing with FileExistsError when ``path`` exists (``replace=False``, never overwriting). A
    crash leaves either the old file or the whole new one, at worst a ``*.tmp`` leftover."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix=TMP_SUFFIX, dir=folder)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def write_backup(folder, workflow, stamp):
    """Write one workflow's JSON (mode 0600, atomically, never overwriting); return the path."""
    path = os.path.join(folder, '%s-%s.json' % (_safe_name(workflow.get('id')), _safe_name(stamp)))
    data = json.dumps(workflow, indent=2, sort_keys=True, ensure_ascii=False).encode('utf-8')
    atomic_write(path, data, replace=False)
    return path


def _backup_files(path):
    """``(json files, leftovers)`` of a backup folder or file; raises ValueError when there is none."""
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        files = [os.path.join(path, n) for n in names if n.endswith('.json') and n != JOURNAL_NAME]
        leftovers = [os.path.join(path, n) for n in names if n.endswith(TMP_SUFFIX)]
        if not files:
            raise ValueError('the folder %s holds no *.json backup files (pass one run\'s folder, e.g. '
                             'the backup_folder a run returned)' % path)
        return files, leftovers
    if os.path.isfile(path):
        return [path], []
    raise ValueError('backup %s does not exist' % path)


def _load_backup(name):
    """The workflow in one backup file; raises ValueError naming the file and what is wrong."""
    try:
        with open(name, 'rb') as handle:
            workflow = json.loads(handle.read().decode('utf-8'))
    except (OSError, ValueError) as exc:
        raise ValueError('cannot read the backup %s: %s' % (name, exc))
    if (not isinstance(workflow, dict) or not workflow.get('id') or not isinstance(workflow.get('nodes'), list)
            or not isinstance(workflow.get('connections'), dict) or 'name' not in workflow):
        raise ValueError('%s is not an n8n workflow backup (id, name, nodes and connections needed)' % name)
    return workflow


def read_backups(path):
    """``([(file, workflow)], [warning])`` from one backup file or from the ``*.json`` files of a folder.

    In a folder, a leftover temporary file (``*.tmp``, from an interrupted write) or a file that is not
    a usable backup (a partial or damaged JSON file) is left out with a warning; the rest is restored.
    Raises ValueError with a clear message when nothing usable is left, for a single file that is not
    a backup, or for two backups of the same workflow.
    """
    path = os.path.abspath(os.path.expanduser(path))
    files, leftovers = _backup_files(path)
    warnings = ['%s is the leftover of an interrupted backup write; it was ignored (delete it)' % name
                for name in leftovers]
    found = []
    by_id = {}
    for name in files:
        try:
            workflow = _load_backup(name)
        except ValueError as exc:
            if len(files) == 1 and not os.path.isdir(path):
                raise
            warnings.append('%s; it was ignored, the other backups are restored (move it away, or fix it and '
                            'restore it alone)' % exc)
            continue
        if workflow['id'] in by_id:
            raise ValueError('%s and %s are backups of the same workflow %s; restore one of them'
                             % (by_id[workflow['id']], name, workflow['id']))
        by_id[workflow['id']] = name
        found.append((name, workflow))
    if not found:
        raise ValueError('the folder %s holds no usable backup (%s)' % (path, '; '.join(warnings)))
    return found, warnings
