# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: litellm_served_names
short_description: Every model name LiteLLM's rendered configuration serves
version_added: 0.1.0
description:
  - Takes C(llm_gateway_litellm_models) and returns each public name, then, for a name with several backends, each
    backend's own name (the name, the suffix and the backend's number from 1), as the litellm role's C(config.yaml)
    names them.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The models, a list of C({name, backends}).
    type: list
    elements: dict
    required: true
  suffix:
    description: What joins a shared name and a backend's number.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: The names n8n's key may call
  ansible.builtin.debug:
    msg: "{{ llm_gateway_litellm_models | local_ai.llm_gateway.litellm_served_names('@backend-') }}"
'''

RETURN = r'''
_value:
  description: The model names.
  type: list
  elements: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._litellm_keys import served_names


class FilterModule(object):
    def filters(self):
        return {'litellm_served_names': served_names}
