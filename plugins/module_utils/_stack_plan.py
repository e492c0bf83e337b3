# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""What the stack role reads from Docker's answers and its compose file (pure; the stack_plan filter).

* ``named_containers``: the containers named in a list (those the stack retires), from ``docker_host_info``'s container list.
* ``unseen_images``: the stack's images that the host's image list does not name (to look up one by one).
* ``created_first``: the services whose containers are created before the old containers stop.
* ``n8n_data_containers``: the containers, of ``docker_container_info`` results, that run n8n on its data.
* ``n8n_api_candidates``: where the host reaches the API of the running containers named in a list (check mode's
  preview from the user's current n8n, before the stack runs).
"""

from __future__ import annotations

N8N_DATA = '/home/node/.n8n'


def _named(containers, names):
    """(name, container) of each container of ``docker_host_info``'s list that has one of ``names``."""
    for container in containers or []:
        own = [n.lstrip('/') for n in container.get('Names') or [] if n.lstrip('/') in names]
        if own:
            yield own[0], container


def named_containers(containers, names):
    """[{name, running, project}] of the containers (``docker_host_info``'s ``containers``) named in ``names``."""
    return [{'name': name, 'running': container.get('State') == 'running',
             'project': (container.get('Labels') or {}).get('com.docker.compose.project', '')}
            for name, container in _named(containers, names)]


def _full(reference):
    """An image reference with its tag (``:latest`` when it has neither a tag nor a digest)."""
    return reference if '@' in reference or ':' in reference.split('/')[-1] else reference + ':latest'


def _short(reference):
    """The reference as Docker lists an image of Docker Hub (without ``docker.io/`` and ``library/``)."""
    for prefix in ('docker.io/library/', 'docker.io/'):
        if reference.startswith(prefix):
            return reference[len(prefix):]
    return reference


def unseen_images(images, references):
    """The ``references`` (in order, once each) that no image of ``images`` (``docker_host_info``'s ``images``)
    names by a tag or a digest."""
    seen = set()
    for image in images or []:
        seen.update((image.get('RepoTags') or []) + (image.get('RepoDigests') or []))
    unseen = []
    for reference in references:
        if reference in unseen:
            continue
        full = _full(reference)
        if full not in seen and _short(full) not in seen:
            unseen.append(reference)
    return unseen


def created_first(services, retiring):
    """The services (of the compose file) whose containers can exist before the old ones stop: those not named like
    a container in ``retiring``, and not of a profile."""
    return [name for name, service in services.items()
            if (service or {}).get('container_name', '') not in retiring and 'profiles' not in (service or {})]


def n8n_data_containers(results):
    """The containers of ``docker_container_info`` results (``item`` the name) that exist, run, and mount n8n's data
    folder."""
    return [r['item'] for r in results
            if r.get('exists') and (r.get('container') or {}).get('State', {}).get('Running')
            and any(m.get('Destination') == N8N_DATA for m in r['container'].get('Mounts') or [])]


N8N_PORT = 5678


def n8n_api_candidates(containers, names):
    """[{name, url}] where this host may reach n8n's API (port 5678 inside) in each running container of
    ``containers`` (``docker_host_info``'s verbose list) named in ``names``: its published port on the host first,
    then its address on each of its networks (which a Linux host routes to)."""
    found = []
    for name, container in _named(containers, names):
        if container.get('State') != 'running':
            continue
        for port in container.get('Ports') or []:
            if port.get('PrivatePort') == N8N_PORT and port.get('PublicPort') and port.get('Type', 'tcp') == 'tcp':
                host = '127.0.0.1' if port.get('IP') in (None, '', '0.0.0.0', '::', '127.0.0.1') else port['IP']
                if ':' in host:
                    host = '[%s]' % host
                found.append({'name': name, 'url': 'http://%s:%d' % (host, port['PublicPort'])})
        networks = ((container.get('NetworkSettings') or {}).get('Networks') or {})
        for network in sorted(networks):
            address = (networks[network] or {}).get('IPAddress')
            if address:
                found.append({'name': name, 'url': 'http://%s:%d' % (address, N8N_PORT)})
    unique = []
    for candidate in found:
        if candidate not in unique:
            unique.append(candidate)
    return unique


PLANS = {
    'named_containers': named_containers,
    'unseen_images': unseen_images,
    'created_first': created_first,
    'n8n_data_containers': n8n_data_containers,
    'n8n_api_candidates': n8n_api_candidates,
}
