# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The stack's files as they were before a run, read into memory and put back (file system only).

``read`` records the folders and files under a few names of the stack's root (the compose file,
nginx's, LiteLLM's and the secrets' folders): for each, its type, mode, owner and group and, for a
file, its content (base64) or, for a link, its target. Nothing is written anywhere: the record
lives in the play's memory, so a run that changes nothing leaves nothing behind.

``restore`` makes the same names equal to a record again: what the record lacks goes, what differs
is written again (a file atomically, through a temporary file beside it), and what is equal is
left alone, its modification time included, so that a container whose files did not change is
not taken for one that must restart.
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import tempfile

# A record holds configuration and secrets, never data: anything larger is not what it is for.
MAX_BYTES = 8 * 1024 * 1024


class FilesError(Exception):
    """Raised with a message that names the path and what to do."""


def _entry(root, path):
    info = os.lstat(path)
    entry = {'path': os.path.relpath(path, root), 'mode': stat.S_IMODE(info.st_mode), 'uid': info.st_uid,
             'gid': info.st_gid}
    if stat.S_ISLNK(info.st_mode):
        entry['type'] = 'link'
        entry['target'] = os.readlink(path)
    elif stat.S_ISDIR(info.st_mode):
        entry['type'] = 'directory'
    elif stat.S_ISREG(info.st_mode):
        entry['type'] = 'file'
        with open(path, 'rb') as handle:
            entry['content'] = base64.b64encode(handle.read()).decode('ascii')
    else:
        raise FilesError('%s is neither a file, a folder nor a link; move it out of the stack\'s folder' % path)
    return entry


def _walk(root, name):
    """The paths under ``root/name`` (itself first, a folder before what it holds), or none."""
    top = os.path.join(root, name)
    if not os.path.lexists(top):
        return []
    paths = [top]
    if os.path.isdir(top) and not os.path.islink(top):
        for folder, dirs, files in os.walk(top):
            dirs.sort()
            paths.extend(os.path.join(folder, child) for child in sorted(dirs) + sorted(files))
    return paths


def read(root, names, limit=MAX_BYTES):
    """The record of ``names`` under ``root``: a list of entries, a folder before what it holds."""
    entries, size = [], 0
    for name in names:
        for path in _walk(root, name):
            entry = _entry(root, path)
            size += len(entry.get('content', ''))
            if size > limit:
                raise FilesError('the stack\'s files under %s hold more than %d bytes (%s); keep data elsewhere'
                                 % (root, limit, path))
            entries.append(entry)
    return entries


def _name_of(relpath):
    return relpath.split(os.sep, 1)[0]


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _same(path, entry):
    """Whether ``path`` is already as ``entry`` records it."""
    if not os.path.lexists(path):
        return False
    current = _entry(os.path.dirname(path) or '.', path)
    keys = ('type', 'mode', 'uid', 'gid', 'content', 'target')
    return all(current.get(key) == entry.get(key) for key in keys)


def _write(path, entry):
    if os.path.lexists(path) and (entry['type'] != 'directory' or not os.path.isdir(path) or os.path.islink(path)):
        _remove(path)
    if entry['type'] == 'directory':
        if not os.path.isdir(path):
            os.mkdir(path)
    elif entry['type'] == 'link':
        os.symlink(entry['target'], path)
        return
    else:
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.llm-gateway-')
        try:
            with os.fdopen(handle, 'wb') as out:
                out.write(base64.b64decode(entry['content']))
            os.chown(tmp, entry['uid'], entry['gid'])
            os.chmod(tmp, entry['mode'])
            os.rename(tmp, path)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
        return
    os.chown(path, entry['uid'], entry['gid'])
    os.chmod(path, entry['mode'])


def restore(root, names, entries, check_mode=False):
    """Make ``names`` under ``root`` equal to ``entries`` (a record of ``read``); the paths changed, in order."""
    wanted = dict((entry['path'], entry) for entry in entries if _name_of(entry['path']) in names)
    changed = []
    for name in names:
        # What the record lacks goes, deepest first (so that a folder's content goes with it).
        for path in reversed(_walk(root, name)):
            relpath = os.path.relpath(path, root)
            if relpath not in wanted and os.path.lexists(path):
                changed.append(relpath)
                if not check_mode:
                    _remove(path)
    for entry in entries:
        if entry['path'] not in wanted:
            continue
        path = os.path.join(root, entry['path'])
        if not _same(path, entry):
            changed.append(entry['path'])
            if not check_mode:
                _write(path, entry)
    return changed
