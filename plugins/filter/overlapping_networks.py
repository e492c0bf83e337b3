# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: overlapping_networks
short_description: Docker networks whose subnets overlap a subnet
version_added: 0.1.0
description:
  - Reads the Docker networks as community.docker's C(docker_host_info) lists them with O(community.docker.docker_host_info#module:networks=true)
    and O(community.docker.docker_host_info#module:verbose_output=true) (the Docker API's network objects) and returns the
    names of the networks whose subnets overlap O(subnet).
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The networks, each a dictionary with C(Name) and C(IPAM.Config[].Subnet).
    type: list
    elements: dict
    required: true
  subnet:
    description: The subnet to compare with, for example V(172.29.77.0/24).
    type: str
    required: true
  skip:
    description: Network names to leave out (the stack's own network).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: List the Docker networks
  community.docker.docker_host_info:
    networks: true
    verbose_output: true
  register: host

- name: Networks in the way of the stack's subnet
  ansible.builtin.debug:
    msg: "{{ host.networks | local_ai.llm_gateway.overlapping_networks('172.29.77.0/24', skip=['llama-network']) }}"
'''

RETURN = r'''
_value:
  description: The names of the overlapping networks, in input order.
  type: list
  elements: str
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._networks import (
    networks_of_api, overlapping_networks,
)


def _overlapping(networks, subnet, skip=None):
    return overlapping_networks(subnet, networks_of_api(networks), skip=skip or ())


class FilterModule(object):
    def filters(self):
        return {'overlapping_networks': _overlapping}
