# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""LiteLLM's key API (``/key/info``, ``/key/generate``, ``/key/update``, ``/key/delete``) over a JsonHttpClient.

The client, built by the caller with the master key in its secret headers, is passed in. A key is named
by its token (its SHA-256, which LiteLLM takes wherever it takes a key) except in ``/key/generate``, so that
the key is never in a URL (LiteLLM's access log) or an error message. What to do is
decided by ``plan`` from one look-up (read only, so check mode sends nothing else); ``apply`` does it.
The comparison itself is in ``_litellm_keys``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._litellm_keys import (
    MANAGED_FIELDS, changes, current_fields, is_live, token,
)


class LiteLLMKeys(object):
    """One proxy's virtual keys."""

    def __init__(self, client):
        self.client = client

    def info(self, key):
        """``/key/info``'s ``info`` for the key, or None when LiteLLM does not know it."""
        try:
            answer = self.client.json('GET', '/key/info?' + urlencode({'key': token(key)}))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return answer.get('info') or {}

    def plan(self, key, wanted, state):
        """What makes the key as wanted: ``{action, fields, status, diff}``.

        ``action`` is ``created``, ``updated``, ``deleted`` or ``none``; ``fields`` the managed fields
        to send; ``diff`` Ansible's before/after of the managed fields (never the key).
        """
        info = self.info(key)
        live = info is not None and is_live(info)
        status = 'missing' if info is None else info.get('status') or 'active'
        before = current_fields(info) if live else {}
        if state == 'absent':
            action = 'deleted' if live else 'none'
            return dict(action=action, fields={}, status=status, diff=dict(before=before, after={}))
        if not live:
            fields = dict((field, wanted[field]) for field in MANAGED_FIELDS)
            return dict(action='created', fields=fields, status=status, diff=dict(before={}, after=fields))
        fields = changes(before, wanted)
        after = dict(before)
        after.update(fields)
        return dict(action='updated' if fields else 'none', fields=fields, status=status,
                    diff=dict(before=before, after=after))

    def apply(self, key, plan):
        """Send what ``plan`` decided."""
        if plan['action'] == 'created':
            body = dict(plan['fields'], key=key)
            # Not idempotent on its face; LiteLLM keeps a key that exists as it is, so a second send after a lost
            # answer is looked up first rather than repeated (json_checked).
            self.client.json_checked('POST', '/key/generate', body, landed=lambda: self._landed(key))
        elif plan['action'] == 'updated':
            self.client.json('POST', '/key/update', dict(plan['fields'], key=token(key)), idempotent=True)
        elif plan['action'] == 'deleted':
            try:
                self.client.json('POST', '/key/delete', {'keys': [token(key)]}, idempotent=True)
            except ApiError as exc:
                # A retry after a lost answer finds the key gone: LiteLLM answers 404 "No keys found".
                if exc.status != 404:
                    raise

    def _landed(self, key):
        info = self.info(key)
        return info if info is not None and is_live(info) else None
