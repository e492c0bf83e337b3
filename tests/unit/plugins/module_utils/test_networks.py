"""_networks: which Docker networks are in the way of a subnet (also the overlapping_networks filter)."""

from __future__ import annotations

import ipaddress

import pytest

from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.filter.docker_dns_name import FilterModule as DnsFilters
from ansible_collections.local_ai.llm_gateway.plugins.filter.overlapping_networks import FilterModule
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._networks import (
    networks_of_api, overlapping_networks, parse_network_lines, resolved_by_docker_dns, subnet_host,
)

INSPECT = 'bridge 172.17.0.0/16\nhost\nother 172.29.0.0/16 fd00::/64\nllama-network 172.29.77.0/24\n'


def test_inspect_lines_are_read():
    assert parse_network_lines(INSPECT) == [('bridge', ['172.17.0.0/16']), ('host', []),
                                            ('other', ['172.29.0.0/16', 'fd00::/64']),
                                            ('llama-network', ['172.29.77.0/24'])]


def test_overlaps_are_named_and_the_stacks_own_network_skipped():
    networks = parse_network_lines(INSPECT)
    assert overlapping_networks('172.29.77.0/24', networks, skip=['llama-network']) == ['other']
    assert overlapping_networks('10.1.0.0/24', networks) == []


def test_the_filter_is_the_same_function():
    overlapping = FilterModule().filters()['overlapping_networks']
    api = [{'Name': 'bridge', 'IPAM': {'Config': [{'Subnet': '172.17.0.0/16', 'Gateway': '172.17.0.1'}]}},
           {'Name': 'host', 'IPAM': {'Config': None}},
           {'Name': 'llama-network', 'IPAM': {'Config': [{'Subnet': '172.29.77.0/24'}]}},
           {'Name': 'other', 'IPAM': {'Config': [{'Subnet': '172.29.0.0/16'}, {'Subnet': 'fd00::/64'}]}}]
    assert networks_of_api(api) == [('bridge', ['172.17.0.0/16']), ('host', []), ('llama-network', ['172.29.77.0/24']),
                                    ('other', ['172.29.0.0/16', 'fd00::/64'])]
    assert overlapping(api, '172.29.77.0/24', skip=['llama-network']) == ['other']


@given(st.ip_addresses(v=4), st.integers(8, 30), st.ip_addresses(v=4), st.integers(8, 30))
def test_overlap_is_symmetric_and_matches_address_ranges(a, pa, b, pb):
    na, nb = ipaddress.ip_network('%s/%d' % (a, pa), strict=False), ipaddress.ip_network('%s/%d' % (b, pb), strict=False)
    expected = not (na.broadcast_address < nb.network_address or nb.broadcast_address < na.network_address)
    assert (overlapping_networks(str(na), [('x', [str(nb)])]) == ['x']) == expected
    assert (overlapping_networks(str(nb), [('x', [str(na)])]) == ['x']) == expected


@pytest.mark.parametrize('upstream, expected', [
    ('ollama:11434', True), ('Ollama-GPU.internal-net:11434', True), ('gpu-box.example.com:11434', True),
    ('host.docker.internal:11434', False), ('localhost:11434', False), ('172.17.0.1:11434', False),
    ('[fd00::1]:11434', False), ('HOST.DOCKER.INTERNAL:11434', False),
])
def test_only_names_docker_dns_answers_for_are_resolved_at_run_time(upstream, expected):
    assert resolved_by_docker_dns(upstream) is expected
    assert DnsFilters().filters()['docker_dns_name'](upstream) is expected


@pytest.mark.parametrize('subnet, index, expected', [
    ('172.29.77.0/24', -1, '172.29.77.254'), ('172.29.77.0/24', 0, '172.29.77.1'),
    ('10.223.77.0/24', -2, '10.223.77.253'), ('10.0.0.0/16', -1, '10.0.255.254'),
    ('10.0.0.4/31', -1, '10.0.0.5'), ('10.0.0.9/24', -1, '10.0.0.254')])
def test_subnet_host(subnet, index, expected):
    assert subnet_host(subnet, index) == expected


@given(st.integers(min_value=8, max_value=30), st.integers(min_value=0, max_value=2 ** 32 - 1))
def test_subnet_host_is_a_host_of_the_subnet(prefix, address):
    network = ipaddress.ip_network('%s/%d' % (ipaddress.ip_address(address), prefix), strict=False)
    last = ipaddress.ip_address(subnet_host(str(network)))
    assert last in network and last not in (network.network_address, network.broadcast_address)
    assert int(last) == int(network.broadcast_address) - 1


@pytest.mark.parametrize('subnet, index', [('10.0.0.0/30', 2), ('not a subnet', -1), ('10.0.0.0/30', -3)])
def test_subnet_host_refuses(subnet, index):
    with pytest.raises(ValueError):
        subnet_host(subnet, index)
