#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: compose_roll
short_description: Recreate or restart, one at a time, a Compose project's containers that run an old definition or configuration
version_added: 0.2.0
description:
  - For each of O(services), the containers that C(docker compose up) would recreate (a changed service definition
    or image, as Compose's own dry run names them) are recreated, and those that started before the newest of the
    service's O(services[].files) was written (a container reads its bind-mounted configuration and secret files
    when it starts) restart, one container at a time; the next goes only once Docker reports the one before
    C(healthy) (its own health check), then O(services[].settle) seconds more.
  - A container of a service Compose scales (O(services[].scale)) is replaced rather than recreated in place; one
    more replica with the new definition joins, becomes healthy, then the old one stops (finishing what it serves)
    and goes.
  - A service that runs a single container first gets a second one that serves meanwhile, its
    O(services[].standby) service (a service of the compose file under a profile of the same name), or one more
    replica with O(services[].scale). That one goes once the restarted container is healthy.
  - Does nothing when O(project_src) has no compose file yet.
  - The rule is read from the host on every run, so a run that stopped half way is finished by the next one, and a
    standby left serving by a failed run is removed once its service is healthy again.
  - Fails naming the container that did not become healthy within O(timeout), with its health check's last output
    and its last log lines (secrets masked).
  - C(community.docker.docker_compose_v2) with O(community.docker.docker_compose_v2#module:state=restarted)
    restarts a service's containers together and does not wait for their health.
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - local_ai.llm_gateway.compose
attributes:
  check_mode:
    support: full
    details: Nothing changes; RV(recreated) and RV(restarted) list what would.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  services:
    description: The services to roll, in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      names:
        description: Services of the compose file that share the other options, rolled in this order (for example
          the replicas of one program, each a service of its own). One that runs no container is passed over.
        type: list
        elements: str
        required: true
      files:
        description: The files (or folders of files) the service's containers read at start.
        type: list
        elements: path
        default: []
      standby:
        description: A service of the compose file, under a profile of the same name, that serves while the only
          container of a service of O(services[].names) restarts; a compose file without it restarts that container
          alone.
        type: str
      scale:
        description: The service is scaled by Compose (C(deploy.replicas)); a single container gets one more replica
          while it restarts.
        type: bool
        default: false
      settle:
        description: Seconds to wait after each container of this service is healthy, before the next goes, so that
          callers which resolve its name again on a period (nginx's C(resolver ... valid=)) find it.
        type: int
        default: 0
  timeout:
    description: How long each container may take to become healthy, in seconds.
    type: int
    default: 120
  stop_timeout:
    description: Seconds a container gets to stop by itself (finishing what it serves) before it is killed.
    type: int
    default: 30
'''

EXAMPLES = r'''
- name: Restart LiteLLM and n8n's workers that run an old configuration, one at a time
  local_ai.llm_gateway.compose_roll:
    project: llm-gateway
    project_src: /opt/llm-gateway
    services:
      - names: [litellm]
        files: [/opt/llm-gateway/litellm/config.yaml, /opt/llm-gateway/env/litellm-secrets]
        standby: litellm-standby
        settle: 3
      - names: [n8n-worker]
        files: [/opt/llm-gateway/env/n8n-secrets]
        scale: true
'''

RETURN = r'''
recreated:
  description: The containers recreated or replaced (or that would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [llama-litellm]
restarted:
  description: The containers restarted (or that would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [llama-litellm, llama-litellm-2]
helpers:
  description: The containers that joined while a service's containers were replaced or restarted; a standby left
    by an earlier run and removed by this one as C(<name> (removed)).
  returned: always
  type: list
  elements: str
  sample: [llama-litellm-standby]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._rolling import Docker, RollError, Roller


COMPOSE_FILES = ('compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type='str'),
            project_src=dict(type='path', required=True),
            services=dict(type='list', elements='dict', required=True, options=dict(
                names=dict(type='list', elements='str', required=True),
                files=dict(type='list', elements='path', default=[]),
                standby=dict(type='str'),
                scale=dict(type='bool', default=False),
                settle=dict(type='int', default=0),
            )),
            timeout=dict(type='int', default=120),
            stop_timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not [name for name in COMPOSE_FILES if os.path.exists(os.path.join(params['project_src'], name))]:
        # Nothing runs from a compose file that does not exist yet (a first deployment).
        module.exit_json(changed=False, recreated=[], restarted=[], helpers=[])
    docker = Docker(module.run_command, params['project'], params['project_src'])
    roller = Roller(docker, params['timeout'], stop_timeout=params['stop_timeout'], check_mode=module.check_mode)
    try:
        for spec in params['services']:
            roller.settle = spec['settle']
            for name in spec['names']:
                roller.roll(dict(spec, service=name))
    except RollError as exc:
        exc.fail(module, **result(roller))
    module.exit_json(**result(roller))


def result(roller):
    return dict(changed=bool(roller.recreated or roller.restarted or roller.helpers), recreated=roller.recreated,
                restarted=roller.restarted, helpers=roller.helpers)


if __name__ == '__main__':
    main()
