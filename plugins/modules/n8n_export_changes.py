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
    created, updated (saved since with other content, such as a workflow's name, nodes, connections, settings or
    pinned data, a credential's data) and deleted from the first to the second, by id, with their names. A workflow with a
    backup under O(moved_dir) (a phase rewrote it; its way back is that backup) does not count as updated.
  - C(playbooks/restore.yml) uses it to find the work done in n8n since the snapshot it puts back.
  - With O(stage_dir), the workflows and credentials created or updated since are also written there, one JSON file
    per item under C(workflows/) and C(credentials/), for n8n's C(import:workflow --separate) and
    C(import:credentials --separate), each workflow's URLs rewritten by O(rewrites), inactive and without a published
    version; credentials as exported (encrypted with n8n's key).
  - Otherwise it only reads; credentials stay encrypted (only their ids and names are read).
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
  moved_dir:
    description:
      - The folder of the phases' workflow backups (C(<id>-<time>.json) in any folder below it).
      - Its C(credentials.json), M(local_ai.llm_gateway.n8n_workflow_urls)' record, names the credentials the
        phases created themselves (LiteLLM's key, the internal Ollama route); they are never listed nor staged.
    type: path
  stage_dir:
    description: A folder (created, mode 0700) to write the items created or updated since into; not written when
      omitted.
    type: path
  rewrites:
    description: Rules (C(from), C(to)) for the staged workflows' URLs, as in
      M(local_ai.llm_gateway.n8n_workflow_urls)'s O(local_ai.llm_gateway.n8n_workflow_urls#module:rewrites).
    type: list
    elements: dict
    default: []
  hosts:
    description: Hosts a staged workflow may still call after O(rewrites) that the place it goes to does not have;
      each such URL is named in RV(staged).
    type: list
    elements: str
    default: []
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
  description: Per kind (C(workflows), C(credentials)), the items C(created), C(updated) and C(deleted), each with
    C(id) and C(name), sorted by name.
  returned: success
  type: dict
  sample: {"workflows": {"created": [{"id": "Ab12", "name": "Weekly digest"}], "updated": [], "deleted": []},
           "credentials": {"created": [], "updated": [], "deleted": []}}
listed:
  description: 'One line per changed item, for example C(workflow created: Weekly digest (Ab12)).'
  returned: success
  type: list
  elements: str
staged:
  description: 'With O(stage_dir), one line per item written there, with what was put back or is left, for example
    C(workflow carried: Weekly digest (Ab12); http://llama-nginx/api/generate put back to
    https://llm.example.com/api/generate).'
  returned: success
  type: list
  elements: str
container:
  description: The container whose export O(before) holds (its C(n8n-export-<container>) folder).
  returned: success
  type: str
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_credential_record import CREDENTIAL_RECORD
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_export import (
    ExportError, changed_items, export_changes, export_folder, moved_ids, own_credentials, read_items, stage_created)
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_rewrite import RuleError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            before=dict(type='path', required=True),
            after=dict(type='path', required=True),
            moved_dir=dict(type='path'),
            stage_dir=dict(type='path'),
            rewrites=dict(type='list', elements='dict', default=[]),
            hosts=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        after = read_items(params['after'])
        own = own_credentials(os.path.join(params['moved_dir'], CREDENTIAL_RECORD)) if params['moved_dir'] else ()
        changes = export_changes(read_items(params['before']), after, moved_ids(params['moved_dir']), own)
        staged = []
        if params['stage_dir']:
            staged = stage_created(after, changes, params['stage_dir'], params['rewrites'], params['hosts'],
                                   module.check_mode)
        container = export_folder(params['before'])[1]
    except (ExportError, RuleError, OSError) as exc:
        module.fail_json(msg='Cannot compare the snapshots: %s. Nothing was changed.' % exc)
    module.exit_json(changed=bool(staged) and not module.check_mode, changes=changes, listed=changed_items(changes),
                     staged=staged, container=container)


if __name__ == '__main__':
    main()
