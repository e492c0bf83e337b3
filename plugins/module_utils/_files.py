# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Which of the files and folders a role wants are not as it wants them on the host (pure).

A role reads its folders once with ansible.builtin.find (get_checksum, file_type any) and compares
that with what it would write; only when something differs do its file, template and copy tasks
run, so a re-run on a converged host costs one module call instead of two per file, and --check
and --diff still come from those tasks.
"""

from __future__ import annotations

import hashlib

from ansible.module_utils.common.text.converters import to_bytes

STATES = ('directory', 'file', 'absent')


def content_checksum(content):
    """The SHA-1 of ``content`` as written to a file (UTF-8), as ansible.builtin.find reports it."""
    return hashlib.sha1(to_bytes(content, errors='surrogate_or_strict')).hexdigest()


def _same_account(wanted, name, number):
    """An owner or group given by name (root) or number (1000) against what find reports."""
    if wanted is None:
        return True
    wanted = str(wanted)
    return wanted == str(number) if wanted.isdigit() else wanted == name


def _as_wanted(item, state, have):
    if state == 'directory':
        if not have.get('isdir'):
            return False
    elif not have.get('isreg'):
        return False
    elif 'content' in item and have.get('checksum') != content_checksum(item['content']):
        return False
    if item.get('mode') is not None and int(str(item['mode']), 8) != int(str(have.get('mode', '-1')), 8):
        return False
    return (_same_account(item.get('owner'), have.get('pw_name'), have.get('uid'))
            and _same_account(item.get('group'), have.get('gr_name'), have.get('gid')))


def stale_paths(found, wanted):
    """The paths of ``wanted`` that are not as wanted, in the order given.

    ``found``: the ``files`` of ansible.builtin.find, each with ``path``, ``isdir``, ``isreg``,
    ``mode`` (octal text), ``uid``, ``gid``, ``pw_name``, ``gr_name`` and, for a regular file,
    ``checksum`` (SHA-1). A path find did not list counts as missing.
    ``wanted``: entries with ``path``, ``state`` (``directory``, ``file`` or ``absent``; ``file`` by
    default) and, optionally, ``mode``, ``owner``, ``group`` and, for a file, ``content``.
    """
    by_path = {}
    for entry in found or ():
        by_path[str(entry['path']).rstrip('/')] = entry
    stale = []
    for item in wanted or ():
        path = str(item['path']).rstrip('/')
        state = item.get('state', 'file')
        if state not in STATES:
            raise ValueError('state of %s must be one of %s, not %r' % (path, ', '.join(STATES), state))
        have = by_path.get(path)
        if state == 'absent':
            if have is not None:
                stale.append(path)
        elif have is None or not _as_wanted(item, state, have):
            stale.append(path)
    return stale
