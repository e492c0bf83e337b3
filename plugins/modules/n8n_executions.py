#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: n8n_executions
short_description: Count n8n's executions since a time
version_added: 0.2.0
description:
  - Lists n8n's executions through its public API (C(GET /api/v1/executions), newest first, without their data) and
    counts those that started at O(since) or later; the listing is read only as far as the first older one.
  - C(playbooks/restore.yml) uses it to say how many executions were made since the snapshot it puts back (n8n's
    export, which the restore compares, does not hold executions).
  - Needs the API key's C(execution:list) scope where n8n lets a key have scopes.
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - local_ai.llm_gateway.n8n
  - ansible.builtin.action_common_attributes
attributes:
  action_group:
    description: Use C(group/local_ai.llm_gateway.n8n) in C(module_defaults) to set this module's connection
      options once for every task of a play.
    support: full
    membership:
      - local_ai.llm_gateway.n8n
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  since:
    description: The time, as a snapshot folder names it (V(20261207T200819Z), UTC) or as n8n writes it
      (V(2026-12-07T20:08:19.000Z)).
    type: str
    required: true
  max_pages:
    description: At most this many pages of 250 executions are read; RV(complete) says whether the count stopped
      there.
    type: int
    default: 40
'''

EXAMPLES = r'''
- name: Count the executions since a snapshot
  local_ai.llm_gateway.n8n_executions:
    url: http://127.0.0.1:5678
    api_key: "{{ n8n_api_key }}"
    since: 20261207T200819Z
  register: since
'''

RETURN = r'''
count:
  description: The executions that started at O(since) or later (at least this many when RV(complete) is false).
  returned: success
  type: int
  sample: 12
complete:
  description: Whether the count reached an older execution or the end of the list within O(max_pages).
  returned: success
  type: bool
'''

import itertools

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_client import (
    PAGE_SIZE, N8nClient, connection_argument_spec, executions_since, explain, validate_connection)


def main():
    spec = connection_argument_spec()
    spec.update(since=dict(type='str', required=True), max_pages=dict(type='int', default=40))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    problem = validate_connection(params) or (None if params['max_pages'] > 0 else 'max_pages must be 1 or more')
    if problem:
        module.fail_json(msg=problem)
    client = N8nClient(module, params['url'], params['api_key'], timeout=params['timeout'],
                       retries=params['retries'], delay=params['delay'])
    limit = params['max_pages'] * PAGE_SIZE
    try:
        listed = itertools.islice(client.list_executions(max_pages=params['max_pages'] + 1), limit + 1)
        count = executions_since(listed, params['since'])
    except ValueError as exc:
        module.fail_json(msg='since: %s' % exc)
    except ApiError as exc:
        module.fail_json(msg='Cannot list n8n\'s executions: %s' % explain(exc, client.url))
    module.exit_json(changed=False, count=min(count, limit), complete=count <= limit)


if __name__ == '__main__':
    main()
