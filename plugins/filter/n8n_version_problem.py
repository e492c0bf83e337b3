# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: n8n_version_problem
short_description: Why an n8n release is not one the collection supports, or an empty text
version_added: 0.2.0
description:
  - The collection supports n8n 1.123.x and 2.0.0 to 2.41.x (tested on 1.123.81 and 2.41.1).
  - The input is what C(n8n --version) answered in n8n's container, or with O(image) an image reference whose tag
    names the release (a tag that names none, such as V(latest), is not checked here and gives an empty text).
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: C(n8n --version)'s answer, or an image reference with O(image).
    type: str
    required: true
  what:
    description: Where the version was read, for the message (for example V(the container n8n)).
    type: str
    required: true
  image:
    description: The input is an image reference.
    type: bool
    default: false
  credentials:
    description: The play needs n8n's public API to list credentials (phase 2, or
      C(llm_gateway_n8n_ollama_credentials)), which it does from n8n 2.0 on.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Refuse an n8n the collection does not support
  vars:
    _problem: "{{ found.stdout | local_ai.llm_gateway.n8n_version_problem('the container n8n') }}"
  ansible.builtin.assert:
    that: _problem | length == 0
    fail_msg: "{{ _problem }}. Nothing was changed."
'''

RETURN = r'''
_value:
  description: The problem, naming the version, the supported range and the fix; empty when there is none.
  type: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_versions import (
    image_version, version_problem)


def n8n_version_problem(value, what, image=False, credentials=False):
    if image:
        version = image_version(value)
        if version is None:
            return ''
        value = '.'.join(str(part) for part in version)
    return version_problem(value, what, credentials=credentials) or ''


class FilterModule(object):
    def filters(self):
        return {'n8n_version_problem': n8n_version_problem}
