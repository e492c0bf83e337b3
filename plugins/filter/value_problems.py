# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: value_problems
short_description: What is wrong with values that the roles write into configuration files
version_added: 0.1.0
description:
  - Checks each value against the anchored pattern of its kind (the whole value must match, so a trailing line
    break does not slip through) and returns one sentence per bad value, naming the variable (C(name[2]) for an
    element of a list), what is wrong (a line break, white space, a C(;), a brace, a quote, ... or the wrong form)
    and the form expected. A secret value is never shown.
  - 'Kinds: C(domain), C(ipv4), C(cidr), C(host_port), C(host_header), C(listen), C(publish), C(nginx_size),
    C(nginx_rate), C(count), C(seconds), C(http_status), C(phase), C(container_name), C(network_name),
    C(volume_or_path), C(compose_project), C(image), C(path), C(volume), C(env_name), C(timezone), C(unit), C(url),
    C(model_name), C(ollama_model), C(bearer_key) (always secret); structured: C(env) (a mapping of environment
    variable names to texts, numbers or booleans, without a lone C($) that Compose would substitute),
    C(command) (a Compose healthcheck test) and C(litellm_models) (the names, Ollama models and C(api_base) URLs of
    C(llm_gateway_litellm_models)).'
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description:
      - The checks, each a dict with C(name) (the variable), C(kind), C(value), and optionally C(each) (the value
        is a list of that kind), C(optional) (an empty value is fine) and C(secret) (never show the value).
      - A check without C(value) takes its value from O(values) by C(name).
    type: list
    elements: dict
    required: true
  values:
    description: Values by variable name, for checks without C(value); a check whose name is not in it is left out.
    type: dict
  unset:
    description: A value that means "not defined by this play" (the default of a vars lookup); such checks are left
      out.
    type: str
'''

EXAMPLES = r'''
- name: Refuse values that would break nginx's configuration
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}. Nothing was changed."
  vars:
    problems: >-
      {{ [{'name': 'llm_gateway_nginx_client_max_body_size', 'kind': 'nginx_size',
           'value': llm_gateway_nginx_client_max_body_size}] | local_ai.llm_gateway.value_problems }}
'''

RETURN = r'''
_value:
  description: One sentence per bad value, in the order of the checks; empty when every value is good.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._values import problems


def _value_problems(checks, values=None, unset=None):
    try:
        return problems(checks, values=values, unset=unset)
    except (ValueError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError('value_problems: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'value_problems': _value_problems}
