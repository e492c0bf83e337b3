#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: compose_health
short_description: Name a Compose project's containers that are not healthy, with their health check's and logs' last words
version_added: 0.2.0
description:
  - Lists the containers of O(project), running or not, that Docker does not report C(healthy) (a container without
    a health check counts while it runs), each with its health check's last output and its last 20 log lines,
    secrets masked.
  - Only reads; for a message after C(docker compose up --wait) failed, which names neither.
  - With O(fail_unless_ready), it also fails when a container that runs is not yet or no longer healthy. After
    C(docker compose up --wait --wait-timeout) returned success, that means the timeout passed, since Compose 2.40
    stops waiting without an error then, leaving a container C(starting).
author:
  - llm_gateway developers (@local-ai)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - local_ai.llm_gateway.compose
options:
  fail_unless_ready:
    description:
      - Fail, naming them, when a container is C(starting), C(unhealthy) or C(restarting); RV(summary) still has
        their health checks' and logs' last words. Containers that do not run (C(exited)) are listed, but do not fail
        it.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
'''

EXAMPLES = r'''
- name: Name what did not become healthy
  local_ai.llm_gateway.compose_health:
    project: llm-gateway
    project_src: /opt/llm-gateway
  register: not_healthy

- name: Fail unless every running container is healthy (after docker compose up --wait returned)
  local_ai.llm_gateway.compose_health:
    project: llm-gateway
    project_src: /opt/llm-gateway
    fail_unless_ready: true
'''

RETURN = r'''
containers:
  description: The containers that are not healthy, by name.
  returned: when Docker could be read (also when O(fail_unless_ready) fails the task)
  type: list
  elements: dict
  contains:
    name: {description: The container., type: str}
    service: {description: Its Compose service., type: str}
    status: {description: "C(starting), C(unhealthy), or its state when it does not run (C(exited), C(restarting))",
             type: str}
    health: {description: Its health check's last output (secrets masked)., type: str}
    logs: {description: Its last 20 log lines (secrets masked)., type: str}
  sample: [{name: llama-litellm, service: litellm, status: starting, health: "Connection refused", logs: "..."}]
summary:
  description: One sentence per container of RV(containers), for a message; empty when all are healthy.
  returned: when Docker could be read (also when O(fail_unless_ready) fails the task)
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._rolling import (
    Docker, RollError, not_healthy_text, not_ready, not_ready_text)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type='str'),
            project_src=dict(type='path', required=True),
            fail_unless_ready=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    docker = Docker(module.run_command, module.params['project'], module.params['project_src'])
    try:
        containers = docker.not_healthy()
    except RollError as exc:
        exc.fail(module)
    summary = not_healthy_text(containers)
    if module.params['fail_unless_ready'] and not_ready(containers):
        module.fail_json(msg=not_ready_text(containers), containers=containers, summary=summary)
    module.exit_json(changed=False, containers=containers, summary=summary)


if __name__ == '__main__':
    main()
