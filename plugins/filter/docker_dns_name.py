# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: docker_dns_name
short_description: Whether an upstream's host is a name Docker's embedded DNS answers for
version_added: 0.1.0
description:
  - Takes an upstream C(host:port) and tells whether nginx has to resolve its host through Docker's embedded DNS
    (a container's name, which nginx then re-resolves with C(server ... resolve) and follows when the container is
    recreated), as opposed to an IP address or a name from the container's C(/etc/hosts) (V(localhost),
    V(host.docker.internal) from Compose's C(extra_hosts)), which Docker's DNS does not answer for.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The upstream, C(host:port).
    type: str
    required: true
'''

EXAMPLES = r'''
- name: An Ollama container on the stack's network is resolved at run time
  ansible.builtin.debug:
    msg: "{{ 'ollama:11434' | local_ai.llm_gateway.docker_dns_name }}"  # true; host.docker.internal:11434 is false
'''

RETURN = r'''
_value:
  description: V(true) for a name Docker's DNS answers for.
  type: bool
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._networks import resolved_by_docker_dns


class FilterModule(object):
    def filters(self):
        return {'docker_dns_name': resolved_by_docker_dns}
