# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: subnet_host
short_description: A host address of a subnet, counted from its first or its last
version_added: 0.2.0
description:
  - Returns the host address at O(index) of the subnet (the network and broadcast addresses of an IPv4 subnet are
    not hosts). V(-1), the default, is the last host; V(0) the first.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The subnet, for example V(172.29.77.0/24).
    type: str
    required: true
  index:
    description: Which host, from V(0) (the first) or from V(-1) (the last).
    type: int
    default: -1
'''

EXAMPLES = r'''
- name: The last host address of the stack's subnet (172.29.77.254)
  ansible.builtin.debug:
    msg: "{{ '172.29.77.0/24' | local_ai.llm_gateway.subnet_host }}"
'''

RETURN = r'''
_value:
  description: The address.
  type: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._networks import subnet_host


class FilterModule(object):
    def filters(self):
        return {'subnet_host': subnet_host}
