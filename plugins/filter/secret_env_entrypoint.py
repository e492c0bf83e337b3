# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
name: secret_env_entrypoint
short_description: A container entrypoint that exports secrets from a mounted file, then runs the image's own
version_added: 0.1.0
description:
  - Takes the path, inside the container, of a file of C(NAME=value) lines and returns an entrypoint (a list for
    Compose's C(entrypoint) or C(docker run --entrypoint) plus arguments) that exports each line as it is (read, never
    evaluated by the shell) and then C(exec)s the image's own entrypoint with the container's command.
  - The secrets so reach the process without being in the container's configuration, which C(docker inspect) shows;
    a restart reads the file again.
  - In a Compose file every V($) must be written V($$).
author:
  - llm_gateway developers (@local-ai)
options:
  _input:
    description: The secrets file inside the container.
    type: str
    required: true
  image_entrypoint:
    description: The image's own entrypoint, run with the container's command.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: LiteLLM with its master key out of docker inspect
  ansible.builtin.debug:
    msg: "{{ '/run/secrets/llm-gateway/litellm.env' | local_ai.llm_gateway.secret_env_entrypoint('/app/docker-entrypoint.sh') }}"
'''

RETURN = r'''
_value:
  description: V([/bin/sh, -c, SCRIPT, NAME]); the container's command follows as the script's arguments.
  type: list
  elements: str
'''

import shlex


def secret_env_entrypoint(env_file, image_entrypoint):
    """The entrypoint list; the command's arguments reach the image's entrypoint unchanged ("$@")."""
    script = ('while IFS= read -r kv || [ -n "$kv" ]; do case "$kv" in *=*) export "$kv";; esac; done < %s; '
              'exec %s "$@"' % (shlex.quote(env_file), shlex.quote(image_entrypoint)))
    return ['/bin/sh', '-c', script, 'secret-env']


class FilterModule(object):
    def filters(self):
        return {'secret_env_entrypoint': secret_env_entrypoint}
