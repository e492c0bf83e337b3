#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: n8n_export_changes
short_description: Compare two snapshots of n8n made with n8n's own export
version_added: 0.2.0
description:
  - Reads the C(n8n-export-*) folder of two snapshot folders (n8n's C(export:workflow --all --backup) and
    C(export:credentials --all --backup), one JSON file per item) and returns the workflows and credentials
    created and deleted from the first to the second, by id, with their names.
  - C(playbooks/restore.yml) uses it to find the work done in n8n since the snapshot it puts back.
  - Reads only; credentials stay encrypted (only their ids and names are read).
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  before:
    description: The older snapshot folder (it holds an C(n8n-export-<container>) folder).
    type: path
    required: true
  after:
    description: The newer snapshot folder.
    type: path
    required: true
'''

EXAMPLES = r'''
- name: What was made in n8n since the snapshot
  local_ai.llm_gateway.n8n_export_changes:
    before: /opt/llm-gateway/backups/original/20261201T101500Z
    after: /opt/llm-gateway/backups/pre-restore/20261207T090000Z
  register: since
'''

RETURN = r'''
changes:
  description: Per kind (C(workflows), C(credentials)), the items C(created) and C(deleted), each with C(id) and
    C(name), sorted by name.
  returned: success
  type: dict
  sample: {"workflows": {"created": [{"id": "Ab12", "name": "Weekly digest"}], "deleted": []},
           "credentials": {"created": [], "deleted": []}}
listed:
  description: 'One line per changed item, for example C(workflow created: Weekly digest (Ab12)).'
  returned: success
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_export import (
    ExportError, changed_items, export_changes, read_export)


def main():
    module = AnsibleModule(
        argument_spec=dict(before=dict(type='path', required=True), after=dict(type='path', required=True)),
        supports_check_mode=True,
    )
    try:
        changes = export_changes(read_export(module.params['before']), read_export(module.params['after']))
    except ExportError as exc:
        module.fail_json(msg='Cannot compare the snapshots: %s. Nothing was changed.' % exc)
    module.exit_json(changed=False, changes=changes, listed=changed_items(changes))


if __name__ == '__main__':
    main()
