"""The supported n8n releases: one rule, in _n8n_versions."""

from __future__ import annotations

import pytest

from ansible_collections.local_ai.llm_gateway.plugins.filter.n8n_version_problem import n8n_version_problem
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._n8n_versions import (
    RANGE_TEXT, image_version, parse_version, supported, version_problem)


@pytest.mark.parametrize('text,version', [
    ('2.41.1', (2, 41, 1)), ('2.41.1\n', (2, 41, 1)), ('n8n 1.123.81', (1, 123, 81)), ('v2.0.0', (2, 0, 0)),
    ('', None), (None, None), ('2.41', None), ('latest', None), ('1.2.3.4', None),
])
def test_parse_version(text, version):
    assert parse_version(text) == version


@pytest.mark.parametrize('version,ok', [
    ((1, 123, 0), True), ((1, 123, 81), True), ((2, 0, 0), True), ((2, 41, 1), True), ((2, 41, 99), True),
    ((1, 122, 9), False), ((1, 124, 0), False), ((2, 42, 0), False), ((0, 236, 0), False), ((3, 0, 0), False),
])
def test_supported_lines(version, ok):
    assert supported(version) is ok
    assert (version_problem('.'.join(map(str, version)), 'the container n8n') is None) is ok


def test_a_problem_names_where_the_version_and_the_range():
    problem = version_problem('1.100.2\n', 'the container n8n')
    assert problem.startswith('the container n8n is n8n 1.100.2, which the collection does not support')
    assert RANGE_TEXT in problem and '2.41.1' in problem
    assert 'did not say which n8n release' in version_problem('command not found', 'the container n8n')


@pytest.mark.parametrize('image,version', [
    ('n8nio/n8n:2.41.1', (2, 41, 1)), ('docker.n8n.io/n8nio/n8n:1.123.81', (1, 123, 81)),
    ('n8nio/n8n:2.41.1@sha256:' + 'a' * 64, (2, 41, 1)), ('localhost:5000/n8n:2.0.0', (2, 0, 0)),
    ('n8nio/n8n:latest', None), ('n8nio/n8n', None), ('localhost:5000/n8n', None), ('n8nio/n8n:2.41.1-debian', None),
    ('llm-gateway-test/n8n:latest', None),
])
def test_image_version(image, version):
    assert image_version(image) == version


def test_the_filter_checks_an_image_only_when_its_tag_names_a_release():
    assert n8n_version_problem('n8nio/n8n:latest', 'llm_gateway_n8n_image', image=True) == ''
    assert n8n_version_problem('n8nio/n8n:2.41.1', 'llm_gateway_n8n_image', image=True) == ''
    assert n8n_version_problem('n8nio/n8n:1.90.0', 'llm_gateway_n8n_image', image=True).startswith(
        'llm_gateway_n8n_image is n8n 1.90.0, which')
    assert n8n_version_problem('2.41.1', 'the container n8n') == ''


def test_phase_2_and_credential_moves_need_a_release_that_lists_credentials():
    assert version_problem('1.123.81', 'the container n8n') is None
    problem = version_problem('1.123.81', 'the container n8n', credentials=True)
    assert problem.startswith('the container n8n is n8n 1.123.81, whose public API cannot list credentials')
    assert 'move n8n to 2.0 or later first' in problem
    assert version_problem('2.0.0', 'the container n8n', credentials=True) is None
    assert n8n_version_problem('n8nio/n8n:1.123.81', 'llm_gateway_n8n_image', image=True, credentials=True)
