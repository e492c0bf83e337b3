"""The entrypoint that exports secrets from a file: run with a real sh."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from ansible_collections.local_ai.llm_gateway.plugins.filter.secret_env_entrypoint import (
    FilterModule, secret_env_entrypoint,
)

# What the child prints: its environment's test variables and its arguments.
SHOW = 'import json, os, sys; print(json.dumps({"env": {k: v for k, v in os.environ.items() if k.startswith("T_")}, "argv": sys.argv[1:]}))'


def run(tmp_path, content, args):
    env_file = tmp_path / 'secrets.env'
    env_file.write_text(content)
    show = tmp_path / 'show'
    show.write_text('#!/bin/sh\nexec %s -c %s "$@"\n' % (sys.executable, "'" + SHOW + "'"))
    show.chmod(0o755)
    argv = secret_env_entrypoint(str(env_file), str(show)) + list(args)
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env={'PATH': '/usr/bin:/bin'})
    return json.loads(out.stdout)


def test_exports_each_line_and_passes_the_command_on(tmp_path):
    got = run(tmp_path, 'T_KEY=sk-abc\nT_REDIS=p4ss\n', ['--config', '/app/config.yaml', '--port', '4000'])
    assert got == {'env': {'T_KEY': 'sk-abc', 'T_REDIS': 'p4ss'}, 'argv': ['--config', '/app/config.yaml', '--port', '4000']}


def test_values_are_never_evaluated_and_a_last_line_without_newline_counts(tmp_path):
    got = run(tmp_path, 'T_A=$(touch pwned);x y`id`\n# a comment\n\nT_B="quoted" $HOME', [])
    assert got['env'] == {'T_A': '$(touch pwned);x y`id`', 'T_B': '"quoted" $HOME'}
    assert not (tmp_path / 'pwned').exists()


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40))
def test_any_printable_value_arrives_as_written(tmp_path_factory, value):
    got = run(tmp_path_factory.mktemp('v'), 'T_V=%s\n' % value, [])
    assert got['env'] == {'T_V': value}


def test_the_filter_is_registered():
    assert FilterModule().filters()['secret_env_entrypoint'] is secret_env_entrypoint
