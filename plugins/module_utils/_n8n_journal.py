# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The journal of an n8n_workflow_urls run, in the run's backup folder: what the run wrote."""

from __future__ import annotations

import json
import os

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_backups import JOURNAL_NAME, atomic_write


# The journal of a run: BACKUP_DIR/<run stamp>/journal.json, what the run wrote - per workflow id the
# outcome of its write, its versionId before and after it and a fingerprint of what it left - so that a
# restore can tell whether someone edited the workflow since. Replaced atomically right before each
# write (the entry says outcome unknown) and again once the write's outcome is known, so that a run
# stopped or timing out half way leaves a journal too (see _n8n_restore for the entries). Version 1
# journals written before outcomes were recorded have entries without ``outcome``; they are read as
# written.

JOURNAL_VERSION = 1


def write_journal(folder, entries):
    """Write the journal ``{id: {id, name, outcome, version_before, version_after, content_after, backup}}``
    atomically; return its path. ``content_after`` is the fingerprint of what the run left (see
    _n8n_restore.content_fingerprint); an entry whose outcome is unknown has no ``version_after`` and no
    ``content_after``. Raises OSError."""
    path = os.path.join(folder, JOURNAL_NAME)
    data = json.dumps({'version': JOURNAL_VERSION, 'workflows': entries}, indent=2, sort_keys=True,
                      ensure_ascii=False).encode('utf-8')
    atomic_write(path, data)
    return path


def read_journal(backup):
    """The journal entries of the run whose backup (file or folder) is given, ``{}`` when it has none.

    Raises ValueError when a journal is there but cannot be used.
    """
    backup = os.path.abspath(os.path.expanduser(backup))
    folder = backup if os.path.isdir(backup) else os.path.dirname(backup)
    path = os.path.join(folder, JOURNAL_NAME)
    try:
        with open(path, 'rb') as handle:
            data = json.loads(handle.read().decode('utf-8'))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError('cannot read the journal %s: %s' % (path, exc))
    if not isinstance(data, dict) or data.get('version') != JOURNAL_VERSION or \
            not isinstance(data.get('workflows'), dict):
        raise ValueError('%s is not a journal of n8n_workflow_urls (version %d)' % (path, JOURNAL_VERSION))
    return dict((k, v) for k, v in data['workflows'].items() if isinstance(v, dict))
