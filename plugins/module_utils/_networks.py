# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE: this module_utils is private to the local_ai.llm_gateway collection
# and may change without notice. Do not use it from outside the collection.

"""Which Docker networks are in the way of the stack's subnet (pure)."""

from __future__ import annotations

import ipaddress

from ansible.module_utils.common.text.converters import to_text


def overlapping_networks(subnet, networks, skip=()):
    """Names of the networks (``[(name, [subnets])]``) whose subnets overlap ``subnet``.

    Networks named in ``skip`` (the stack's own) are left out; unreadable subnets are ignored.
    """
    wanted = ipaddress.ip_network(to_text(subnet), strict=False)
    hits = []
    for name, subnets in networks:
        if name in skip:
            continue
        for other in subnets:
            try:
                net = ipaddress.ip_network(to_text(other), strict=False)
            except ValueError:
                continue
            if net.version == wanted.version and net.overlaps(wanted) and name not in hits:
                hits.append(name)
    return hits


def parse_network_lines(text):
    """``docker network inspect --format '{{.Name}}{{range .IPAM.Config}} {{.Subnet}}{{end}}'`` output,
    one network a line, as ``[(name, [subnet, ...])]``."""
    networks = []
    for line in to_text(text).splitlines():
        parts = line.split()
        if parts:
            networks.append((parts[0], parts[1:]))
    return networks


def networks_of_api(items):
    """The Docker API's network list (``GET /networks``, as community.docker's
    ``docker_host_info`` returns it with ``verbose_output``) as ``[(name, [subnet, ...])]``."""
    networks = []
    for item in items or []:
        configs = ((item.get('IPAM') or {}).get('Config') or [])
        networks.append((item.get('Name'), [c.get('Subnet') for c in configs if c.get('Subnet')]))
    return networks


# Names a container finds in its /etc/hosts (Compose's extra_hosts, Docker's own),
# which Docker's embedded DNS does not answer for.
HOSTS_FILE_NAMES = ('localhost', 'host.docker.internal')


def resolved_by_docker_dns(upstream):
    """Whether the host of ``upstream`` (``host:port``) is a name that nginx's resolver must ask Docker's
    embedded DNS for (a container's name): not an IP address, and not a name from /etc/hosts."""
    host = to_text(upstream).rsplit(':', 1)[0].strip('[]').lower()
    if not host or host in HOSTS_FILE_NAMES:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def subnet_host(subnet, index=-1):
    """The host address at ``index`` of ``subnet`` (the last one by default; network and broadcast excluded).

    Raises ValueError for a subnet that is not an IPv4 or IPv6 network, or an index past its hosts.
    """
    network = ipaddress.ip_network(to_text(subnet), strict=False)
    hosts = network.num_addresses - (2 if network.version == 4 and network.prefixlen < 31 else 0)
    if not -hosts <= index < hosts:
        raise ValueError('%s has no host number %d' % (network, index))
    first = int(network.network_address) + (1 if network.version == 4 and network.prefixlen < 31 else 0)
    return str(ipaddress.ip_address(first + (index % hosts)))
