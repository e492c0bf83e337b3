# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: secret_problems
short_description: What keeps a secret from going verbatim into the stack's files
version_added: 0.2.0
description:
  - The one rule for the secrets the stack writes as they are into an env file, a secret file or C(redis.conf)
    (n8n's encryption key, the stack's Postgres and Redis passwords) - at least 16 characters, not a CHANGE-ME
    placeholder, no C($), quotes, C(#), backslash or white space.
  - Given a text, returns one phrase per problem; given a mapping of variable names to texts, returns the names
    whose text has a problem. A value is never quoted.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The secret, or a mapping of variable names to secrets.
    type: raw
    required: true
'''

EXAMPLES = r'''
- name: Refuse an unusable key
  ansible.builtin.assert:
    that: llm_gateway_n8n_encryption_key | local_ai.llm_gateway.secret_problems | length == 0
'''

RETURN = r'''
_value:
  description: The problems of a text, or the names of a mapping's bad entries.
  type: list
  elements: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._values import secret_problems


def _secret_problems(value):
    if isinstance(value, dict):
        return [name for name, secret in value.items() if secret_problems(secret)]
    return secret_problems(value)


class FilterModule(object):
    def filters(self):
        return {'secret_problems': _secret_problems}
