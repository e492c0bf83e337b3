# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: masked
short_description: A text (a tool's output, for a message) with secrets masked
version_added: 0.2.0
description:
  - Masks each of O(secrets) in the input, then what the collection's modules mask in any text they report
    (passwords in URLs, bearer tokens, values of secret-named parameters and pairs), with C(********).
  - The one rule the roles' messages and the modules' reports share (C(module_utils/_mask.py)).
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The text.
    type: str
    required: true
  secrets:
    description: Values known to be secret (empty ones are skipped).
    type: list
    elements: raw
    default: []
'''

EXAMPLES = r'''
- name: Show a tool's last words without the keys it was given
  ansible.builtin.debug:
    msg: "{{ result.stderr | local_ai.llm_gateway.masked([master_key, database_url]) }}"
'''

RETURN = r'''
_value:
  description: The text, masked.
  type: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._mask import mask_known


class FilterModule(object):
    def filters(self):
        return {'masked': mask_known}
