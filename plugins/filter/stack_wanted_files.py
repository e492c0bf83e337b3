# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: stack_wanted_files
short_description: The files and folders the stack role writes, for stale_paths
version_added: 0.2.0
description:
  - The stack role's folder of secrets, its compose file, n8n's secret files and env file (unless n8n is attached),
    and Postgres' and Redis' secret files, each with its owner, mode and content, as
    P(local_ai.llm_gateway.stale_paths#filter) takes them.
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The stack's folder (C(llm_gateway_root)).
    type: str
    required: true
  env_dir:
    description: The folder of its env files and secrets.
    type: str
    required: true
  compose:
    description: The compose file's text.
    type: str
    required: true
  n8n:
    description:
      - Null for an attached n8n; else C(uid) (the image's user), C(secret_files) (name to value, the secrets n8n
        reads from files) and C(env_file) (the text of the env file of the others).
    type: dict
  data_secrets:
    description: Postgres' and Redis' files, each C(folder), C(file) and C(content).
    type: list
    elements: dict
    default: []
  data_uid:
    description: The user of the Postgres and Redis images, who owns their files.
    type: raw
'''

EXAMPLES = r'''
- name: Compare the stack's files with what this run writes
  ansible.builtin.set_fact:
    stale: >-
      {{ found.files | local_ai.llm_gateway.stale_paths(llm_gateway_root | local_ai.llm_gateway.stack_wanted_files(
         env_dir=llm_gateway_root ~ '/env', compose=compose_text, n8n=none)) }}
'''

RETURN = r'''
_value:
  description: The entries, each C(path), C(owner), C(group), C(mode), and C(state=directory) or C(content).
  type: list
  elements: dict
'''

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._wanted_files import stack_wanted_files


class FilterModule(object):
    def filters(self):
        return {'stack_wanted_files': stack_wanted_files}
