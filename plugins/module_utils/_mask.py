# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""What a report shows of a value that may hold a secret (pure, no I/O).

Diffs and messages about n8n workflows show parameter values: URLs, headers, query
parameters, bodies. A secret among them is replaced by ``********`` (MASK); what is written
to n8n is never changed, only what is reported.

A *secret name* is a parameter, header, query or JSON key name that SECRET_NAME matches
once the name is cut into lower-case words at separators, with or without a cut at camelCase
(``X-N8N-API-KEY`` -> ``x_n8_n_api_key``, ``accessToken`` -> ``access_token``, ``APIKey`` ->
``api_key``): one of the words
authorization, apikey / api_key, token, secret(s), password, passwd, passphrase, pwd,
cookie(s), bearer, jwt, session / session_id; or the last word ``key`` (``key``,
``x_api_key``, ``subscription_key``); or the whole name ``auth`` / ``x_auth``. Whole words
only: ``max_tokens``, ``tokenizer``, ``authentication``, ``genericAuthType``,
``httpHeaderAuth``, ``keep_alive`` are not secret names.

What is masked:

* a value whose own name is a secret name (``{"apiKey": "..."}``, ``options.password``);
* the ``value`` next to a secret ``name`` (or ``key``) in a name/value pair, as n8n keeps
  header, query and body parameters (``headerParameters.parameters[0].value`` beside
  ``name: Authorization``), whatever the value's shape;
* in any text: the password of URL user info (``https://u:********@h``), query parameters
  with a secret name (``?api_key=********&model=x``), ``Bearer <anything>`` (``Bearer ********``)
  and JSON- or YAML-like pairs with a secret name (``"X-API-Key": "********"``).

An HTTP authentication scheme in front of a masked value is kept (``Bearer ********``,
``Basic ********``): it says what kind of secret it was, not the secret.
"""

from __future__ import annotations

import json
import re

MASK = '********'
CHANGED = ' (secret changed)'

SECRET_NAME = re.compile(
    r'(?:^|_)(?:authorization|api_?key|token|secrets?|password|passwd|passphrase|pwd|cookies?|bearer|jwt'
    r'|session(?:_?id)?)(?:_|$)'
    r'|(?:^|_)key$'
    r'|^(?:x_)?auth$')

_SCHEME = re.compile(r'(?i)(bearer|basic|digest|token)(\s+)\S')
_USERINFO = re.compile(r'(\b[a-z][a-z0-9+.\-]*://[^/?#@\s:]*):[^/?#@\s]*@', re.I)
_EXPRESSION = r'\{\{.*?\}\}'
_BEARER = re.compile(r'(?i)\b(bearer)(\s+)(' + _EXPRESSION + r'|[^\s"\'\\,;{}()\[\]<>]+)')
_PAIR = re.compile(
    r'(?<![\w$.\-/])(?P<q>["\']?)(?P<name>[A-Za-z0-9_$\-]+)(?P=q)(?P<sep>[ \t]*:[ \t]*)'
    r'(?P<value>' + _EXPRESSION + r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r'|(?i:bearer|basic|digest|token)[ \t]+[^\s,;{}()\[\]<>"\']+|[^\s,;{}()\[\]<>"\']+)')
_QUERY = re.compile(r'(?P<lead>^|[?&;\s])(?P<name>[^\s=&#?;"\'{}()]+)=(?P<value>' + _EXPRESSION
                    + r'|[^&#\s;"\'{}()]+)')


def words(name):
    """``name`` cut into lower-case words joined by ``_`` (camelCase and separators split)."""
    text = re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', name)
    text = re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', text)
    return re.sub(r'[^a-z0-9]+', '_', text.lower()).strip('_')


def is_secret_name(name):
    """Whether a parameter, header, query or key name looks like it names a secret (its words with and
    without the camelCase split, so that ``AUTHORIZATION`` or ``authorizatioN`` count too)."""
    if not isinstance(name, str):
        return False
    plain = re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')
    return bool(SECRET_NAME.search(words(name)) or SECRET_NAME.search(plain))


def mask_url(value):
    """Hide a password in URL user info, any scheme: ``postgresql://u:secret@h`` -> ``postgresql://u:********@h``."""
    if not isinstance(value, str):
        return value
    return _USERINFO.sub(r'\1:' + MASK + '@', value)


def masked_scalar(value):
    """What a secret scalar is shown as: MASK, after its authentication scheme if it has one."""
    if isinstance(value, str):
        found = _SCHEME.match(value)
        return found.group(1) + found.group(2) + MASK if found else MASK
    return MASK


def _quoted(text):
    """A masked quoted or bare value of a pair, keeping its quotes and scheme."""
    if text[:1] in ('"', "'") and text[-1:] == text[:1] and len(text) >= 2:
        return text[0] + masked_scalar(text[1:-1]) + text[0]
    return masked_scalar(text)


def _pair(match):
    if not is_secret_name(match.group('name')):
        return match.group(0)
    quote = match.group('q')
    return quote + match.group('name') + quote + match.group('sep') + _quoted(match.group('value'))


def _query(match):
    if not is_secret_name(match.group('name')):
        return match.group(0)
    return match.group('lead') + match.group('name') + '=' + MASK


def mask_text(text):
    """``text`` with URL passwords, secret query parameters, bearer tokens and secret pairs masked."""
    if not isinstance(text, str):
        return text
    text = mask_url(text)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _PAIR.sub(_pair, text)
    return _QUERY.sub(_query, text)


def mask_known(text, secrets=()):
    """``text`` with each of ``secrets`` (the values a caller knows to be secret; empty ones are skipped, longest
    first) masked, then what ``mask_text`` masks."""
    if not isinstance(text, str):
        return text
    for secret in sorted((str(s) for s in secrets or () if s not in (None, '')), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_text(text)


def hide(value):
    """A secret value as shown: every string or number in it masked, its shape kept; empty stays empty."""
    if value is None or value == '' or isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return dict((key, hide(item)) for key, item in value.items())
    if isinstance(value, list):
        return [hide(item) for item in value]
    return masked_scalar(value)


def is_secret_pair(value):
    """A name/value pair (n8n's header, query and body parameters) whose name is a secret name."""
    return isinstance(value, dict) and 'value' in value and any(
        is_secret_name(value.get(key)) for key in ('name', 'key'))


def mask_value(value, depth=0):
    """A copy of JSON data with every secret in it masked (see the module's description)."""
    if isinstance(value, str):
        return mask_text(value)
    if depth > 64:
        return hide(value)
    if isinstance(value, list):
        return [mask_value(item, depth + 1) for item in value]
    if isinstance(value, dict):
        pair = is_secret_pair(value)
        return dict((key, hide(item) if (pair and key == 'value') or is_secret_name(key)
                     else mask_value(item, depth + 1)) for key, item in value.items())
    return value


def _child(value, part):
    if isinstance(part, int):
        return value[part] if isinstance(value, list) and 0 <= part < len(value) else None
    return value.get(part) if isinstance(value, dict) else None


def is_secret_place(root, path):
    """Whether ``path`` (keys and list indexes from ``root``, a node) leads into a secret: a key on the
    way is a secret name, or it passes through the ``value`` of a secret name/value pair."""
    here = root
    for part in path:
        if isinstance(part, str) and (is_secret_name(part) or (part == 'value' and is_secret_pair(here))):
            return True
        here = _child(here, part)
    return False


def _same(left, right):
    return json.dumps(left, sort_keys=True, default=str) == json.dumps(right, sort_keys=True, default=str)


def mask_change(before_root, after_root, path, before, after):
    """``(before, after)`` of one changed value at ``path`` as a diff shows them.

    The value is hidden whole when its place is secret on either side (a header renamed to or from
    Authorization included); otherwise the secrets inside it are masked. When masking leaves the two
    sides equal although they differ, the after side says so with `` (secret changed)``.
    """
    if is_secret_place(before_root, path) or is_secret_place(after_root, path):
        shown_before, shown_after = hide(before), hide(after)
    else:
        shown_before, shown_after = mask_value(before), mask_value(after)
    if isinstance(shown_after, str) and _same(shown_before, shown_after) and not _same(before, after):
        shown_after += CHANGED
    return shown_before, shown_after
