# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: n8n_routes
short_description: The URL rules a phase moves n8n's Ollama calls with
version_added: 0.2.0
description:
  - Returns the rules (C(from), C(to), and in phase 2 C(convert) and C(fallback)) that
    M(local_ai.llm_gateway.n8n_workflow_urls) applies for a phase, and with V(back) phase 1's the other way round,
    which restore.yml applies to what it carries into the original n8n.
  - Phase 1 moves C(https://llm.<domain>/api/generate) and C(/api/chat) to the internal nginx route; phase 2 moves
    both the public and the internal route to LiteLLM's chat completions, converting the request body (a public
    call that cannot be converted goes to the internal route).
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The phase, V(1), V(2) or V(back).
    type: raw
    required: true
  domain:
    description: The public domain (C(llm.<domain>) serves Ollama).
    type: str
    required: true
  nginx:
    description: The stack's nginx container (its internal route is C(http://<nginx>)).
    type: str
    required: true
  litellm_url:
    description: LiteLLM's chat completions URL; phase 2 only.
    type: str
'''

EXAMPLES = r'''
- name: Phase 1's rules
  ansible.builtin.debug:
    msg: "{{ 1 | local_ai.llm_gateway.n8n_routes('example.com', 'llama-nginx') }}"
'''

RETURN = r'''
_value:
  description: The rules, a list of dicts.
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_routes import routes


def n8n_routes(phase, domain, nginx, litellm_url=None):
    try:
        return routes(phase, domain, nginx, litellm_url)
    except ValueError as exc:
        raise AnsibleFilterError('n8n_routes: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'n8n_routes': n8n_routes}
