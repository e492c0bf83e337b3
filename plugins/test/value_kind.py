# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: value_kind
short_description: Whether a value has the form of one of the collection's kinds
version_added: 0.2.0
description:
  - True when the whole value matches the kind's pattern, the same one the
    R(value_problems,ansible_collections.local_ai.llm_gateway.value_problems_filter) filter checks with (one
    source for every input pattern, in C(module_utils/_values.py)).
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The value.
    type: raw
    required: true
  kind:
    description: The kind, such as V(domain), V(cidr), V(ipv4), V(base_url), V(publish), V(loopback_publish),
      V(listen), V(model_name), V(ollama_model), V(bearer_key), V(key_alias), V(budget_duration) or
      V(postgres_url) (a secret form whose password may hold any character but white space).
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Refuse a domain that is not one
  ansible.builtin.assert:
    that: llm_gateway_domain is local_ai.llm_gateway.value_kind('domain')
'''

RETURN = r'''
_value:
  description: Whether the value has the form.
  type: bool
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._values import KINDS, SECRET_FORMS, matches


def value_kind(value, kind):
    if kind not in KINDS and kind not in SECRET_FORMS:
        raise AnsibleFilterError('value_kind: unknown kind %r (known: %s)'
                                 % (kind, ', '.join(sorted(list(KINDS) + list(SECRET_FORMS)))))
    return matches(kind, value)


class TestModule(object):
    def tests(self):
        return {'value_kind': value_kind}
