# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""The record of the credentials n8n_workflow_urls manages."""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_backups import atomic_write

CREDENTIAL_RECORD = 'credentials.json'  # in backup_dir by default: the credentials n8n_workflow_urls manages


# ------------------------------------------------------------------------------------------
# The credentials n8n_workflow_urls manages: a JSON file (mode 0600, replaced atomically) with,
# per credential id, its name and type, whether the module created it, and an HMAC-SHA256 of the
# header and value it last stored, keyed with a random salt kept in the same file. The value
# itself is never written; the public API never returns it, so this is all there is to compare.

STATE_VERSION = 1


class CredentialState(object):
    """The record file. ``load`` raises ValueError for a file that is not one."""

    def __init__(self, path):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.salt = None
        self.records = {}

    def load(self):
        try:
            with open(self.path, 'rb') as handle:
                data = json.loads(handle.read().decode('utf-8'))
        except FileNotFoundError:
            return self
        except (OSError, ValueError) as exc:
            raise ValueError('cannot read the credential record %s: %s' % (self.path, exc))
        if (not isinstance(data, dict) or data.get('version') != STATE_VERSION
                or not isinstance(data.get('salt'), str) or not isinstance(data.get('credentials'), dict)):
            raise ValueError('%s is not a credential record of n8n_workflow_urls (version %d); move it away'
                             % (self.path, STATE_VERSION))
        self.salt = data['salt']
        self.records = dict((k, v) for k, v in data['credentials'].items() if isinstance(v, dict))
        return self

    def fingerprint(self, header, value):
        if self.salt is None:
            self.salt = os.urandom(32).hex()
        message = json.dumps([header, value]).encode('utf-8')
        return hmac.new(bytes.fromhex(self.salt), message, hashlib.sha256).hexdigest()

    def get(self, credential_id):
        return self.records.get(str(credential_id))

    def find(self, name, cred_type):
        return [r for r in self.records.values() if r.get('name') == name and r.get('type') == cred_type]

    def matches(self, record, header, value):
        return bool(record) and hmac.compare_digest(str(record.get('fingerprint') or ''),
                                                    self.fingerprint(header, value))

    def remember(self, credential_id, name, cred_type, created, header, value):
        self.records[str(credential_id)] = {'id': str(credential_id), 'name': name, 'type': cred_type,
                                            'created': bool(created),
                                            'fingerprint': self.fingerprint(header, value)}

    def forget(self, credential_id):
        return self.records.pop(str(credential_id), None) is not None

    def save(self):
        """Write the file: a temporary file in the same folder (0600), fsync, rename over the old one."""
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o700)
        data = json.dumps({'version': STATE_VERSION, 'salt': self.salt or os.urandom(32).hex(),
                           'credentials': self.records}, indent=2, sort_keys=True).encode('utf-8')
        atomic_write(self.path, data)


def short_fingerprint(fingerprint):
    """The start of a fingerprint, for messages and diffs."""
    return (fingerprint or '')[:12]
