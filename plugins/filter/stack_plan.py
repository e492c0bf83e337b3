# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: stack_plan
short_description: What the stack role reads from Docker's answers and its compose file
version_added: 0.2.0
description:
  - One filter for the stack role's small readings, chosen by O(what).
  - V(named_containers) - the containers of C(docker_host_info)'s container list (the input) named in O(names), each as
    C(name), C(running) and C(project) (its Compose project, empty when none).
  - V(unseen_images) - the image references O(references) that no image of C(docker_host_info)'s image list (the
    input) names by a tag or digest (a reference without a tag means C(:latest); Docker Hub names match with or
    without C(docker.io/) and C(library/)).
  - V(created_first) - the services of the compose file's C(services) (the input) that are not named like a
    container in O(names) and have no profile.
  - V(n8n_data_containers) - of C(docker_container_info) results (the input), the names of the containers that
    exist, run and mount C(/home/node/.n8n).
  - V(n8n_api_candidates) - where this host may reach n8n's API (port 5678 inside) in each running container of
    C(docker_host_info)'s verbose container list (the input) named in O(names), as C(name) and C(url) - its
    published port first, then its address on each of its networks.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: Docker's answer or the compose file's services, as O(what) says.
    type: raw
    required: true
  what:
    description: Which reading.
    type: str
    required: true
    choices: [named_containers, unseen_images, created_first, n8n_data_containers, n8n_api_candidates]
  names:
    description: Container names (V(named_containers), V(created_first), V(n8n_api_candidates)).
    type: list
    elements: str
  references:
    description: Image references (V(unseen_images)).
    type: list
    elements: str
'''

EXAMPLES = r'''
- name: The images to look up one by one
  ansible.builtin.debug:
    msg: "{{ docker.images | local_ai.llm_gateway.stack_plan('unseen_images', references=['nginx:1.30.0']) }}"
'''

RETURN = r'''
_value:
  description: A list, as O(what) says.
  type: list
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._stack_plan import PLANS


def stack_plan(value, what, names=None, references=None):
    if what not in PLANS:
        raise AnsibleFilterError('stack_plan: unknown reading %r (one of %s)' % (what, ', '.join(sorted(PLANS))))
    if what == 'unseen_images':
        return PLANS[what](value, references or [])
    if what in ('named_containers', 'created_first', 'n8n_api_candidates'):
        return PLANS[what](value, names or [])
    return PLANS[what](value)


class FilterModule(object):
    def filters(self):
        return {'stack_plan': stack_plan}
