#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: stack_files
short_description: Read the stack's files into the play's memory, and put them back after a failed start
version_added: 0.2.0
description:
  - With O(state=read), records the files and folders under O(names) of O(root) (type, mode, owner, group, content
    or link target) and returns the record as RV(entries). Nothing is written, so a run that changes nothing leaves
    nothing behind.
  - With O(state=restored), makes O(names) under O(root) equal to O(entries) again. What the record lacks is
    removed, what differs is written again (a file through a temporary file beside it, then renamed), and what is
    equal is left alone, its modification time included.
  - The record holds secrets (the files under C(env/)); a task that registers it or passes it must set C(no_log).
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: O(state=read) reads in check mode too; O(state=restored) lists in RV(restored) what it would change.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  root:
    description: The stack's folder.
    type: path
    required: true
  names:
    description: The files and folders of O(root) that are recorded or put back; one that does not exist is recorded
      as absent (and removed by O(state=restored)).
    type: list
    elements: str
    default: [docker-compose.yml, nginx, litellm, env]
  state:
    description: C(read) records, C(restored) puts a record back.
    type: str
    choices: [read, restored]
    default: read
  entries:
    description: The record to put back (RV(entries) of an earlier O(state=read)); required with O(state=restored).
    type: list
    elements: dict
'''

EXAMPLES = r'''
- name: Read the stack's files before any change
  local_ai.llm_gateway.stack_files:
    root: /opt/llm-gateway
  register: stack_files_before
  no_log: true

- name: Put them back after a failed start
  local_ai.llm_gateway.stack_files:
    root: /opt/llm-gateway
    state: restored
    entries: "{{ stack_files_before.entries }}"
  no_log: true
'''

RETURN = r'''
entries:
  description: With O(state=read), the record, a folder before what it holds; each entry has C(path) (relative to
    O(root)), C(type) (C(file), C(directory) or C(link)), C(mode), C(uid), C(gid) and C(content) (base64) or
    C(target).
  returned: state=read
  type: list
  elements: dict
restored:
  description: With O(state=restored), the paths (relative to O(root)) removed or written again (or that would be,
    in check mode).
  returned: state=restored
  type: list
  elements: str
  sample: [litellm/config.yaml, litellm, docker-compose.yml]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._stack_files import FilesError, read, restore


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', required=True),
            names=dict(type='list', elements='str', default=['docker-compose.yml', 'nginx', 'litellm', 'env']),
            state=dict(type='str', choices=['read', 'restored'], default='read'),
            # Not no_log here: Ansible would then mask every value of the record in the result, paths and owners
            # included (env/x came back as ********/x). The tasks that pass it set no_log (see the description).
            entries=dict(type='list', elements='dict'),
        ),
        required_if=[('state', 'restored', ['entries'])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params['state'] == 'read':
            module.exit_json(changed=False, entries=read(params['root'], params['names']))
        changed = restore(params['root'], params['names'], params['entries'], check_mode=module.check_mode)
    except (FilesError, OSError) as exc:
        module.fail_json(msg='The stack\'s files under %s: %s' % (params['root'], exc))
    module.exit_json(changed=bool(changed), restored=changed)


if __name__ == '__main__':
    main()
