# -*- coding: utf-8 -*-
# Copyright (c) llm_gateway developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""epoch_seconds: the one reader of the times Docker, n8n and the play's folder names write."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._time import epoch_seconds


def test_each_form_the_services_write():
    assert epoch_seconds('1970-01-01T00:00:01.5Z') == 1.5
    assert epoch_seconds('2026-12-07T20:08:19.123Z') == pytest.approx(epoch_seconds('20261207T200819Z') + 0.123)
    assert epoch_seconds('2026-12-07T21:08:19+01:00') == epoch_seconds('20261207T200819Z')
    assert epoch_seconds('2026-12-07T19:38:19.000-00:30') == epoch_seconds('2026-12-07T20:08:19Z')


@pytest.mark.parametrize('text', [None, '', 'yesterday', '2026-12-07', '2026-12-07 20:08:19Z', '20261207T2008Z',
                                  '2026-13-07T20:08:19Z', '20260007T200819Z'])
def test_what_is_not_a_time_is_none(text):
    assert epoch_seconds(text) is None


@given(st.datetimes(min_value=datetime.datetime(1000, 1, 1), max_value=datetime.datetime(9999, 12, 31)))
def test_it_agrees_with_the_standard_library(moment):
    utc = moment.replace(tzinfo=datetime.timezone.utc)
    expected = (utc - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds()
    assert epoch_seconds(moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')) == pytest.approx(expected, abs=1e-3)
    assert epoch_seconds(moment.strftime('%Y%m%dT%H%M%SZ')) == pytest.approx(expected - moment.microsecond / 1e6,
                                                                             abs=1e-3)
