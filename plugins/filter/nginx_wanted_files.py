# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: nginx_wanted_files
short_description: The files and folders the nginx role writes, for stale_paths
version_added: 0.2.0
description:
  - C(conf.d), each rendered configuration file and the keys file (readable by root only), each with its owner,
    mode and content, as P(local_ai.llm_gateway.stale_paths#filter) takes them.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: nginx's configuration folder.
    type: str
    required: true
  files:
    description: The rendered files, each with C(dest) (relative to the folder).
    type: list
    elements: dict
    required: true
  contents:
    description: Their renderings, in the same order.
    type: list
    elements: str
    required: true
  keys_file:
    description: The keys file, relative to the folder.
    type: str
    required: true
  keys:
    description: Its text.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Compare nginx's files with a fresh rendering
  ansible.builtin.set_fact:
    stale: >-
      {{ found.files | local_ai.llm_gateway.stale_paths('/srv/llm-gateway/nginx' | local_ai.llm_gateway.nginx_wanted_files(
         files=[{'src': 'nginx.conf.j2', 'dest': 'nginx.conf'}], contents=[lookup('ansible.builtin.template', 'nginx.conf.j2')],
         keys_file='keys.conf', keys=lookup('ansible.builtin.template', 'keys.conf.j2'))) }}
'''

RETURN = r'''
_value:
  description: The entries, each C(path), C(owner), C(group), C(mode), and C(state=directory) or C(content).
  type: list
  elements: dict
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._wanted_files import nginx_wanted_files


class FilterModule(object):
    def filters(self):
        return {'nginx_wanted_files': nginx_wanted_files}
