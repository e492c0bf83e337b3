# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""LiteLLM keys: what makes a key acceptable, and how a virtual key differs from the one wanted (pure).

The rules follow LiteLLM 1.108.7's proxy (``proxy/management_endpoints/key_management_endpoints.py``):

* a key chosen by the caller (``key`` of ``/key/generate``) must start with ``sk-`` and be at least
  16 characters long; LiteLLM stores only its SHA-256 (``token``) and never returns the key again;
* ``/key/info`` answers ``{"key": ..., "info": {...}}``; a deleted key still answers, from LiteLLM's
  archive of deleted keys, with ``info.status == "deleted"``;
* ``/key/update`` takes the key and the fields to change; ``metadata`` is replaced as a whole;
* ``/key/generate`` with a key that exists answers 200 and changes nothing (an upsert without update),
  so a key is looked up first and updated, never generated twice;
* with no database, the key endpoints answer 500 with texts that name the database.
"""

from __future__ import annotations

import hashlib
import json

# LiteLLM's own minimum for a key chosen by the caller (MINIMUM_CUSTOM_KEY_LENGTH).
LITELLM_MIN_KEY_LENGTH = 16
# What the roles ask of the keys they are given (the master key, n8n's virtual key).
MIN_KEY_LENGTH = 32
KEY_CHARACTERS = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~+/=-')
MIN_DISTINCT = 10
# The fields of a virtual key the module manages (LiteLLM's names).
MANAGED_FIELDS = ('key_alias', 'models', 'rpm_limit', 'tpm_limit', 'max_budget', 'budget_duration', 'metadata')
# Marks the keys the collection made, in their metadata.
MANAGED_BY = 'local_ai.llm_gateway'
# Texts of LiteLLM's answers when it runs without a database (one per endpoint).
NO_DATABASE_TEXTS = ('DB not connected', 'Database not connected', 'Not connected to DB', 'No connected db')


def key_problems(key, weak=(), min_length=MIN_KEY_LENGTH, master=None):
    """What is wrong with a key, one phrase each (empty: nothing); the key itself is never quoted.

    ``master``: the master key, which a virtual key may not be.
    """
    key = '' if key is None else str(key).strip()
    checks = (
        ('it is the master key (a virtual key must be a key of its own)', bool(key) and key == master),
        ('it is empty or not set', not key),
        ('it is a publicly known default (sk-1234 and the like, from LiteLLM\'s docs and compose examples)',
         key.lower() in set(k.lower() for k in weak)),
        ('it does not start with "sk-" (LiteLLM takes only sk- keys)', bool(key) and not key.startswith('sk-')),
        ('it is shorter than %d characters' % min_length, len(key) < min_length),
        ('it holds characters other than letters, digits and - _ . ~ + / = (it goes unquoted into an env file)',
         bool(key) and not set(key) <= KEY_CHARACTERS),
        ('it has fewer than %d different characters after "sk-" (not random)' % MIN_DISTINCT,
         len(set(key[3:])) < MIN_DISTINCT),
    )
    return [problem for problem, bad in checks if bad]


def served_names(models, suffix):
    """Every model name the litellm role's config.yaml serves: each public name, then, for a name with several
    backends, each backend's own name (name + suffix + its number from 1), as config.yaml.j2 names them."""
    names = [model['name'] for model in models]
    for model in models:
        if len(model['backends']) > 1:
            names += ['%s%s%d' % (model['name'], suffix, index) for index in range(1, len(model['backends']) + 1)]
    return names


def token(key):
    """LiteLLM's name for a key in its database and answers: the SHA-256 of the key, in hex."""
    return hashlib.sha256(key.encode('utf-8')).hexdigest()


def wanted_fields(key_alias, models, rpm_limit=None, tpm_limit=None, max_budget=None, budget_duration=None):
    """The managed fields of the key as the caller wants them (LiteLLM's names and types).

    ``models`` empty means every model (LiteLLM's own meaning of an empty list). A limit that is None is
    no limit. The metadata marks the key as the collection's.
    """
    return {
        'key_alias': key_alias,
        'models': sorted(set(models or [])),
        'rpm_limit': None if rpm_limit is None else int(rpm_limit),
        'tpm_limit': None if tpm_limit is None else int(tpm_limit),
        'max_budget': None if max_budget is None else float(max_budget),
        'budget_duration': budget_duration or None,
        'metadata': {'managed_by': MANAGED_BY},
    }


def _comparable(field, value):
    if field == 'models':
        return sorted(set(value or []))
    if field == 'max_budget' and value is not None:
        return float(value)
    if field in ('rpm_limit', 'tpm_limit') and value is not None:
        return int(value)
    if field == 'metadata':
        return value if isinstance(value, dict) else _json_object(value)
    return value if value != '' else None


def _json_object(value):
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def current_fields(info):
    """The managed fields of a key as ``/key/info``'s ``info`` shows them."""
    return dict((field, _comparable(field, (info or {}).get(field))) for field in MANAGED_FIELDS)


def changes(current, wanted):
    """The fields of ``wanted`` that the key does not have (``current``: its ``current_fields``): ``{field: value}``.

    The metadata counts as changed only when its ``managed_by`` differs: other entries (LiteLLM's own,
    or an admin's) are kept by sending them back with it.
    """
    diff = {}
    for field in MANAGED_FIELDS:
        if field == 'metadata':
            merged = dict(current['metadata'])
            merged.update(wanted['metadata'])
            if merged != current['metadata']:
                diff['metadata'] = merged
        elif _comparable(field, wanted[field]) != current[field]:
            diff[field] = wanted[field]
    return diff


def is_live(info):
    """Whether ``/key/info``'s ``info`` is a key LiteLLM still has (not one from its archive of deleted keys)."""
    return (info or {}).get('status') != 'deleted'


def error_text(body):
    """The message of one of LiteLLM's error answers (``{"error": {"message": ...}}`` or ``{"detail": ...}``)."""
    if isinstance(body, bytes):
        body = body.decode('utf-8', 'replace')
    try:
        data = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return (body or '')[:300]
    if isinstance(data, dict):
        error = data.get('error', data.get('detail'))
        if isinstance(error, dict):
            return str(error.get('message', error))
        if error is not None:
            return str(error)
    return str(data)[:300]


def explain(status, body, url, call):
    """One sentence naming the cause and the fix for a failed call to LiteLLM's key API."""
    message = error_text(body)
    if status in (500, 400) and any(text in message for text in NO_DATABASE_TEXTS):
        return ('LiteLLM at %s runs without a database, and virtual keys live in its database (%s answered: %s). '
                'Give LiteLLM a PostgreSQL database (DATABASE_URL; with the litellm role: '
                'llm_gateway_litellm_database_url) or leave llm_gateway_litellm_virtual_keys off.'
                % (url, call, message))
    if status == 403 and 'Custom API key values are disabled' in message:
        return ('LiteLLM at %s takes no key chosen by the caller (%s: %s): its general_settings have '
                'disable_custom_api_keys. Remove it (llm_gateway_litellm_general_settings) to give n8n a virtual key.'
                % (url, call, message))
    if status in (401, 403) and 'alias' not in message:
        return ('LiteLLM at %s refused the master key (%s: HTTP %s, %s). The key in master_key must be the '
                'LITELLM_MASTER_KEY the proxy runs with (llm_gateway_litellm_master_key).' % (url, call, status, message))
    if status == 400 and 'alias' in message:
        return ('LiteLLM at %s already has another key with this alias (%s: %s). Delete that key '
                '(POST /key/delete {"key_aliases": [...]}) or choose another key_alias.' % (url, call, message))
    return 'LiteLLM at %s answered %s with HTTP %s: %s' % (url, call, status, message)
