# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: litellm_key_problems
short_description: What is wrong with a LiteLLM key given to the roles
version_added: 0.1.0
description:
  - Takes a key (the master key, or n8n's virtual key) and returns one phrase for each problem, without quoting
    the key; an empty list means the key is fine.
  - A key must start with C(sk-), be at least 32 characters of letters, digits and C(- _ . ~ + / =), have at least
    10 different characters after C(sk-), and not be one of the given publicly known keys.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The key.
    type: str
    required: true
  weak:
    description: Publicly known keys (compared without case).
    type: list
    elements: str
    default: []
  master:
    description: The master key, which the key (a virtual key) may not be.
    type: str
'''

EXAMPLES = r'''
- name: Refuse a weak master key
  ansible.builtin.assert:
    that: llm_gateway_litellm_master_key | local_ai.llm_gateway.litellm_key_problems(['sk-1234']) | length == 0
'''

RETURN = r'''
_value:
  description: One phrase per problem.
  type: list
  elements: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._litellm_keys import key_problems


def litellm_key_problems(key, weak=(), master=None):
    return key_problems(key, weak=weak or (), master=master)


class FilterModule(object):
    def filters(self):
        return {'litellm_key_problems': litellm_key_problems}
