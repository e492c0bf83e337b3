# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: n8n_adoption
short_description: What the stack carries over from a running n8n container it adopts
version_added: 0.1.0
description:
  - Reads C(docker container inspect) of the user's n8n container and returns where n8n keeps its data, the
    environment the user gave it (split into values for the compose file and secrets for the 0600 env file),
    its other mounts, the networks it needs, whether its C(N8N_ENCRYPTION_KEY) matches the play's, and the
    problems that keep it from being adopted.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The parsed output of C(docker container inspect NAME) (a list of one) or its element.
    type: raw
    required: true
  image_env:
    description: The image's own C(Config.Env); entries the container has unchanged from it are not carried.
    type: list
    elements: str
    default: []
  managed:
    description: Variable names the stack sets itself (not carried).
    type: list
    elements: str
    default: []
  network:
    description: The stack's network (not carried as an extra network).
    type: str
  encryption_key:
    description: The key the play will use, compared with the container's C(N8N_ENCRYPTION_KEY).
    type: str
'''

EXAMPLES = r'''
- name: Plan the adoption of the user's n8n
  ansible.builtin.set_fact:
    plan: "{{ inspect.stdout | from_json | local_ai.llm_gateway.n8n_adoption(image_env=image.stdout | from_json) }}"
'''

RETURN = r'''
_value:
  description: >-
    A dict with container, image, data, data_is_path, env, secret_env, carried (names only), volumes,
    named_volumes, networks, key_in_container, key_matches and problems.
  type: dict
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_adopt import adoption


def _n8n_adoption(inspected, image_env=None, managed=None, network=None, encryption_key=None):
    container = inspected[0] if isinstance(inspected, list) else inspected
    return adoption(container, image_env=image_env or [], managed=managed or (), network=network,
                    encryption_key=encryption_key)


class FilterModule(object):
    def filters(self):
        return {'n8n_adoption': _n8n_adoption}
