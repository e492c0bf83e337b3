# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: stale_paths
short_description: The files and folders a role wants that are not as it wants them
version_added: 0.1.0
description:
  - Compares what C(ansible.builtin.find) found (O(ansible.builtin.find#module:file_type=any),
    O(ansible.builtin.find#module:get_checksum=true)) with the files and folders a role would write, and returns the
    paths that differ (missing, of another type, of another mode, owner or group, or, for a file with C(content),
    with other content).
  - The roles read their folders with one call and run their C(file), C(template) and C(copy) tasks only when this
    is not empty, so a re-run on a converged host does not pay two module calls per file.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The C(files) that C(ansible.builtin.find) returned.
    type: list
    elements: dict
    required: true
  wanted:
    description:
      - What the role wants, each a dictionary with C(path), C(state) (V(directory), V(file) or V(absent); V(file)
        by default) and optionally C(mode) (octal text), C(owner) and C(group) (a name or a number) and, for a file,
        C(content) (the text the role writes).
    type: list
    elements: dict
    required: true
'''

EXAMPLES = r'''
- name: Read the folder once
  ansible.builtin.find:
    paths: /srv/llm-gateway
    file_type: any
    get_checksum: true
  register: found

- name: Write the file only when it is not as wanted
  ansible.builtin.template:
    src: app.conf.j2
    dest: /srv/llm-gateway/app.conf
    mode: "0644"
  when: >-
    found.files | local_ai.llm_gateway.stale_paths([{'path': '/srv/llm-gateway/app.conf', 'mode': '0644',
    'content': lookup('ansible.builtin.template', 'app.conf.j2')}]) | length > 0
'''

RETURN = r'''
_value:
  description: The paths of O(wanted) that are not as wanted, in the order given.
  type: list
  elements: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._files import stale_paths


class FilterModule(object):
    def filters(self):
        return {'stale_paths': stale_paths}
