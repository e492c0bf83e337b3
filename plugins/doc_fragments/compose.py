# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    """The Compose project options of the collection's modules that work on the stack's containers."""

    DOCUMENTATION = r'''
options:
  project:
    description: The Compose project's name (its containers' C(com.docker.compose.project) label); by default the
      one the compose file in O(project_src) names.
    type: str
  project_src:
    description: The folder of the compose file.
    type: path
    required: true
'''
