# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: ollama_host_backends
short_description: LiteLLM's models served by an inventory group of Ollama hosts
version_added: 0.1.0
description:
  - Takes the hosts of an inventory group (e.g. C(groups['ollama_hosts'])) and returns a value for
    C(llm_gateway_litellm_models) in which each of the given models is served by every host of the group that has it.
  - A host's base URL is its C(llm_gateway_ollama_api_base), or C(http://ansible_host:llm_gateway_ollama_port)
    (port 11434 by default); C(llm_gateway_ollama_models) (default every model) says which models it serves;
    C(llm_gateway_ollama_weight) its share of the traffic.
  - A model that no host serves, or an empty group, is an error that names the fix.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The Ollama hosts' inventory names.
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
  models:
    description: The Ollama model names to serve; each is also LiteLLM's public name.
    type: list
    elements: str
    required: true
'''

EXAMPLES = r'''
# group_vars/llm_gateway/vars.yml
llm_gateway_litellm_models: "{{ groups['ollama_hosts'] | local_ai.llm_gateway.ollama_host_backends(hostvars, ['llama3']) }}"
'''

RETURN = r'''
_value:
  description: A list of C({name, backends}), as C(llm_gateway_litellm_models) takes it.
  type: list
  elements: dict
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._ollama_hosts import models_from_hosts


def ollama_host_backends(hosts, hostvars, models):
    """The filter; an OllamaHostsError (a ValueError naming the fix) reaches the play as the task's error."""
    return models_from_hosts(list(hosts or []), hostvars, list(models))


class FilterModule(object):
    def filters(self):
        return {'ollama_host_backends': ollama_host_backends}
