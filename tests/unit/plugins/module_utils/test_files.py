"""_files: which wanted files and folders differ from what ansible.builtin.find found (also the stale_paths filter)."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, strategies as st

from ansible.modules.find import statinfo
from ansible_collections.local_ai.llm_gateway.plugins.filter.stale_paths import FilterModule
from ansible_collections.local_ai.llm_gateway.plugins.module_utils._files import content_checksum, stale_paths


def found_entry(path):
    """What ansible.builtin.find returns for ``path`` (file_type any, get_checksum), from its own code."""
    st_ = os.lstat(path)
    entry = dict(statinfo(st_), path=path)
    if entry['isreg']:
        with open(path, 'rb') as handle:
            entry['checksum'] = hashlib.sha1(handle.read()).hexdigest()
    return entry


@pytest.fixture
def tree(tmp_path):
    conf = tmp_path / 'conf.d'
    conf.mkdir(mode=0o755)
    os.chmod(conf, 0o755)
    secret = tmp_path / 'key.env'
    secret.write_text('KEY=é1\n', encoding='utf-8')
    os.chmod(secret, 0o600)
    found = [found_entry(str(conf)), found_entry(str(secret))]
    wanted = [{'path': str(conf), 'state': 'directory', 'mode': '0755', 'owner': found[0]['pw_name'] or found[0]['uid'],
               'group': str(found[0]['gid'])},
              {'path': str(secret), 'mode': '0600', 'content': 'KEY=é1\n', 'owner': str(found[1]['uid'])}]
    return tmp_path, found, wanted


def test_what_is_as_wanted_is_not_stale(tree):
    dummy, found, wanted = tree
    assert stale_paths(found, wanted) == []


@pytest.mark.parametrize('change, key', [
    ({'mode': '0644'}, 1), ({'content': 'KEY=2\n'}, 1), ({'owner': 'nobody-here'}, 1), ({'group': '4242'}, 0),
    ({'mode': '0700'}, 0), ({'state': 'file'}, 0), ({'state': 'directory'}, 1), ({'state': 'absent'}, 1),
])
def test_each_difference_makes_that_path_stale(tree, change, key):
    dummy, found, wanted = tree
    wanted[key].update(change)
    assert stale_paths(found, wanted) == [wanted[key]['path']]


def test_missing_paths_are_stale_and_absent_ones_are_not(tree):
    tmp_path, found, wanted = tree
    gone = str(tmp_path / 'gone')
    assert stale_paths(found, wanted + [{'path': gone, 'state': 'directory'}, {'path': gone + '.conf'},
                                        {'path': gone + '.env', 'state': 'absent'}]) == [gone, gone + '.conf']


def test_a_link_is_not_the_file_it_points_to(tree):
    tmp_path, found, wanted = tree
    link = tmp_path / 'link.env'
    link.symlink_to(wanted[1]['path'])
    assert stale_paths([found_entry(str(link))], [dict(wanted[1], path=str(link))]) == [str(link)]


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError, match='state of /x must be one of'):
        stale_paths([], [{'path': '/x', 'state': 'present'}])


@given(st.text(max_size=200))
def test_the_checksum_is_finds_of_the_utf8_bytes(text):
    assert content_checksum(text) == hashlib.sha1(text.encode('utf-8', 'surrogateescape')).hexdigest()


@given(st.lists(st.sampled_from(['a', 'b', 'c', 'd/e', 'd']), unique=True),
       st.lists(st.sampled_from(['a', 'b', 'c', 'd/e', 'd']), unique=True))
def test_only_wanted_paths_come_back_in_their_order(present, wanted_names):
    found = [{'path': '/r/' + name, 'isdir': True, 'isreg': False, 'mode': '0755', 'uid': 0, 'gid': 0,
              'pw_name': 'root', 'gr_name': 'root'} for name in present]
    wanted = [{'path': '/r/' + name + '/', 'state': 'directory', 'mode': '755', 'owner': 'root', 'group': 0}
              for name in wanted_names]
    assert stale_paths(found, wanted) == ['/r/' + name for name in wanted_names if name not in present]


def test_the_filter_is_the_same_function():
    assert FilterModule().filters()['stale_paths'] is stale_paths
