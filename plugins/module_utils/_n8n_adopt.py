# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""What the stack carries over from a running n8n container it adopts (pure).

Read from ``docker container inspect`` (one container) and the image's own
environment: where n8n keeps its data, the environment the user gave it (the
database settings, execution and queue settings...), its other mounts and the
networks it needs (to reach its database). What cannot be carried is listed in
``problems``; the play refuses before any change when there is any.
"""

from __future__ import annotations

import re

from ansible.module_utils.six import string_types

DATA_PATH = '/home/node/.n8n'
# Names whose values go into the 0600 env file instead of the compose file.
SECRET_NAME = re.compile(r'(PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH)', re.IGNORECASE)
# Characters an env file (Compose's env_file) would alter or cut.
ENV_FILE_HOSTILE = re.compile('[$\'"#\\\\`\\s]')
# Networks that are Docker's own, never declared in a compose file.
DOCKER_NETWORKS = ('bridge', 'host', 'none')


def _env_dict(pairs):
    env = {}
    for pair in pairs or []:
        if isinstance(pair, string_types) and '=' in pair:
            name, value = pair.split('=', 1)
            env[name] = value
    return env


def adoption(container, image_env=None, managed=(), network=None, encryption_key=None):
    """The plan for adopting ``container`` (a ``docker container inspect`` element).

    ``image_env`` is the image's own environment (``Config.Env`` of the image):
    entries the container has unchanged from it are the image's, not the user's.
    ``managed`` are the variable names the stack sets itself; ``network`` is the
    stack's network. ``encryption_key`` is the key the play will use, compared
    with the container's N8N_ENCRYPTION_KEY (never returned).
    """
    problems = []
    name = (container.get('Name') or '').lstrip('/')
    host_config = container.get('HostConfig') or {}
    mode = host_config.get('NetworkMode') or ''
    if mode == 'host' or mode.startswith('container:'):
        problems.append('it uses network mode %s, which a Compose service on the stack\'s network cannot' % mode)

    data, data_is_path, volumes, named_volumes = None, False, [], []
    for mount in container.get('Mounts') or []:
        kind, source, dest = mount.get('Type'), mount.get('Name') or mount.get('Source'), mount.get('Destination')
        if kind == 'volume':
            source = mount.get('Name')
        elif kind == 'bind':
            source = mount.get('Source')
        else:
            if dest == DATA_PATH:
                problems.append('its data (%s) is on a %s mount, which the stack cannot take over' % (DATA_PATH, kind))
            continue
        if dest == DATA_PATH:
            data, data_is_path = source, kind == 'bind'
            continue
        volumes.append('%s:%s%s' % (source, dest, '' if mount.get('RW', True) else ':ro'))
        if kind == 'volume':
            named_volumes.append(source)
    if data is None:
        problems.append('its data (%s) is on no volume or folder: it lives only in the container' % DATA_PATH)

    own = _env_dict((container.get('Config') or {}).get('Env'))
    image = _env_dict(image_env)
    env, secret_env, carried = {}, {}, []
    key_in_container = own.pop('N8N_ENCRYPTION_KEY', None)
    for var in sorted(own):
        value = own[var]
        if var in managed or image.get(var) == value:
            continue
        carried.append(var)
        if SECRET_NAME.search(var):
            if ENV_FILE_HOSTILE.search(value):
                problems.append('%s holds characters an env file would alter ($, quotes, #, a backslash or white '
                                'space); change it in %s first' % (var, name))
            secret_env[var] = value
        else:
            # Compose interpolates $ in the compose file: $$ is a literal $.
            env[var] = value.replace('$', '$$')

    networks = [n for n in sorted((container.get('NetworkSettings') or {}).get('Networks') or {})
                if n not in DOCKER_NETWORKS and n != network]
    return {
        'container': name,
        'image': (container.get('Config') or {}).get('Image'),
        'data': data,
        'data_is_path': data_is_path,
        'env': env,
        'secret_env': secret_env,
        'carried': carried,
        'volumes': volumes,
        'named_volumes': named_volumes,
        'networks': networks,
        'key_in_container': key_in_container is not None,
        'key_matches': key_in_container is None or encryption_key is None or key_in_container == encryption_key,
        'problems': problems,
    }
