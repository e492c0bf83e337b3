#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: litellm_key
short_description: Create, update or delete a LiteLLM virtual key through the proxy's admin API
version_added: 0.1.0
description:
  - Makes a LiteLLM proxy hold a virtual key of the caller's choosing (O(key)), limited to O(models) and to
    the rate and budget limits given, so that a client such as n8n never holds the master key.
  - The key is looked up with C(GET /key/info) and created with C(POST /key/generate) when missing, updated
    with C(POST /key/update) when a managed field differs, or deleted with C(POST /key/delete) when
    O(state=absent). Nothing is sent but the look-up when the key is as wanted.
  - LiteLLM keeps virtual keys in its database. A proxy without one answers the key endpoints with an
    error that names the database; the module reports it with the fix.
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - local_ai.llm_gateway.litellm
  - ansible.builtin.action_common_attributes
attributes:
  action_group:
    description: Use C(group/local_ai.llm_gateway.litellm) in C(module_defaults) to set this module's
      connection options once for every task of a play.
    support: full
    membership:
      - local_ai.llm_gateway.litellm
  check_mode:
    support: full
    details: Only the look-up is sent; the result says what would change.
  diff_mode:
    support: full
    details: The managed fields before and after (never the key).
  platform:
    platforms: posix
options:
  key:
    description:
      - The virtual key, C(sk-) and at least 13 more characters (LiteLLM's minimum; the litellm role asks for 29),
        for example the output of C(echo "sk-$(openssl rand -hex 32)"). Not logged; LiteLLM stores only its SHA-256.
    type: str
    required: true
  key_alias:
    description:
      - The key's name in LiteLLM (unique among its keys).
    type: str
    default: n8n
  models:
    description:
      - The model names the key may call; empty means every model.
    type: list
    elements: str
    default: []
  rpm_limit:
    description:
      - Requests per minute the key may make; unset means no limit.
    type: int
  tpm_limit:
    description:
      - Tokens per minute the key may use; unset means no limit.
    type: int
  max_budget:
    description:
      - Spend (in LiteLLM's cost units) after which the key is refused; unset means no limit.
    type: float
  budget_duration:
    description:
      - How often the spend is reset, in LiteLLM's form (V(30d), V(1h)); unset means never.
    type: str
  state:
    description:
      - V(present) creates or updates the key; V(absent) deletes it (revokes it).
    type: str
    choices: [present, absent]
    default: present
notes:
  - LiteLLM answers a C(/key/generate) for a key that exists with success and changes nothing, so the module
    always looks the key up first. A key deleted before is found in LiteLLM's archive of deleted keys and is
    created again.
seealso:
  - name: LiteLLM virtual keys
    description: The key endpoints this module calls.
    link: https://docs.litellm.ai/docs/proxy/virtual_keys
'''

EXAMPLES = r'''
- name: n8n's key, limited to llama3 and 60 requests a minute
  local_ai.llm_gateway.litellm_key:
    url: http://llama-litellm:4000
    container: llama-nginx
    master_key: "{{ llm_gateway_litellm_master_key }}"
    key: "{{ llm_gateway_litellm_n8n_key }}"
    key_alias: n8n
    models: [llama3]
    rpm_limit: 60

- name: Revoke it
  local_ai.llm_gateway.litellm_key:
    url: http://llama-litellm:4000
    container: llama-nginx
    master_key: "{{ llm_gateway_litellm_master_key }}"
    key: "{{ llm_gateway_litellm_n8n_key }}"
    state: absent
'''

RETURN = r'''
operation:
  description: What was (or in check mode would be) done, C(created), C(updated), C(deleted) or C(none).
  returned: always
  type: str
  sample: updated
changed_fields:
  description: The managed fields that were (or would be) set, with their new values.
  returned: always
  type: dict
  sample: {rpm_limit: 60}
status:
  description: The key's status as LiteLLM reported it before any change (C(active), C(expired), C(revoked),
    C(deleted)), or C(missing).
  returned: always
  type: str
  sample: active
token:
  description: LiteLLM's name for the key, the SHA-256 of the key (what its logs and database show).
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._container_http import ContainerCurl, ContainerError
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._failure import Failure
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._http import ApiError, JsonHttpClient
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._litellm_admin import LiteLLMKeys
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._litellm_keys import (
    LITELLM_MIN_KEY_LENGTH, explain, key_problems, token, wanted_fields,
)


def argument_spec():
    return dict(
        url=dict(type='str', required=True),
        master_key=dict(type='str', required=True, no_log=True),
        key=dict(type='str', required=True, no_log=True),
        key_alias=dict(type='str', default='n8n', no_log=False),
        models=dict(type='list', elements='str', default=[]),
        rpm_limit=dict(type='int'),
        tpm_limit=dict(type='int'),
        max_budget=dict(type='float'),
        budget_duration=dict(type='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        container=dict(type='str'),
        timeout=dict(type='float', default=30),
        retries=dict(type='int', default=3),
        delay=dict(type='float', default=2),
        validate_certs=dict(type='bool', default=True),
    )


def validate(module):
    params = module.params
    url = params['url']
    if not url.startswith(('http://', 'https://')) or len(url.split('://', 1)[1].strip('/')) == 0:
        raise Failure('url must be an http:// or https:// URL of the LiteLLM proxy, got %r' % url)
    problems = key_problems(params['key'], min_length=LITELLM_MIN_KEY_LENGTH, master=params['master_key'])
    if problems:
        raise Failure('key is refused: %s. Generate one with: echo "sk-$(openssl rand -hex 32)".'
                      % '; '.join(problems))
    for name in ('rpm_limit', 'tpm_limit', 'max_budget', 'retries', 'timeout', 'delay'):
        if params[name] is not None and params[name] < 0:
            raise Failure('%s must not be negative' % name)


def run(module, keys):
    params = module.params
    wanted = wanted_fields(params['key_alias'], params['models'], params['rpm_limit'], params['tpm_limit'],
                           params['max_budget'], params['budget_duration'])
    plan = keys.plan(params['key'], wanted, params['state'])
    if plan['action'] != 'none' and not module.check_mode:
        keys.apply(params['key'], plan)
    result = dict(changed=plan['action'] != 'none', operation=plan['action'], changed_fields=plan['fields'],
                  status=plan['status'], token=token(params['key']))
    if module._diff:
        result['diff'] = plan['diff']
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        validate(module)
        send = None
        if params['container']:
            send = ContainerCurl(module.run_command, None, None, running=params['container'])
        client = JsonHttpClient(module, params['url'],
                                secret_headers={'Authorization': 'Bearer ' + params['master_key']},
                                timeout=params['timeout'], retries=params['retries'], delay=params['delay'], send=send)
        try:
            module.exit_json(**run(module, LiteLLMKeys(client)))
        except ApiError as exc:
            if exc.status > 0:
                raise Failure(explain(exc.status, exc.body, params['url'], exc.call), status=exc.status)
            raise Failure('LiteLLM at %s did not answer %s (%s): is its container running and healthy (docker ps)?'
                          % (params['url'], exc.call, exc.detail), status=exc.status)
        except ContainerError as exc:
            raise Failure(str(exc))
    except Failure as exc:
        exc.fail(module)


if __name__ == '__main__':
    main()
