"""The preflight role's check of every value written into a configuration file (tasks/values.yml):
the table covers the templates, and the play refuses bad values before anything else runs.

The play runs are ansible-playbook against localhost (connection local, check mode), a few seconds each;
nothing in them talks to Docker: the refusal stops site.yml at its first pre-task.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.local_ai.llm_gateway.plugins.module_utils._values import check_value

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(d for d in os.listdir(os.path.join(REPO, 'roles')) if not d.startswith('.'))


def load(*path):
    with open(os.path.join(REPO, *path)) as handle:
        return yaml.safe_load(handle) or {}


TABLE = load('roles', 'preflight', 'vars', 'main.yml')['_preflight_templated_values']
PUBLIC = dict((name, value) for role in ROLES
              for name, value in load('roles', role, 'defaults', 'main.yml').items())
# Public variables the templates use that the table leaves to their roles, and why.
CHECKED_ELSEWHERE = {
    'llm_gateway_litellm_general_settings': 'written with to_nice_yaml; the litellm role checks it',
    'llm_gateway_litellm_router_settings': 'written with to_nice_yaml; the litellm role checks it',
    'llm_gateway_litellm_settings': 'written with to_nice_yaml; the litellm role checks it',
    'llm_gateway_litellm_health_check_interval': 'written through | int',
    'llm_gateway_litellm_log_level': 'one of a list (the litellm role)',
    'llm_gateway_ollama_host_firewall': 'only decides a branch',
    'llm_gateway_compose_no_new_privileges': 'only decides a branch',
    'llm_gateway_nginx_internal_ollama_management': 'only decides a branch',
}


def test_the_table_names_public_variables_with_known_kinds():
    names = [entry['name'] for entry in TABLE]
    assert len(names) == len(set(names))
    assert not [name for name in names if name not in PUBLIC]
    for entry in TABLE:
        check_value(dict(entry, value=None))  # raises on an unknown kind


def test_every_public_variable_of_a_template_is_checked():
    used = set()
    for role in ROLES:
        folder = os.path.join(REPO, 'roles', role, 'templates')
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            with open(os.path.join(folder, name)) as handle:
                used.update(re.findall(r'\b(llm_gateway_[a-z0-9_]+)', handle.read()))
    used &= set(PUBLIC)
    missing = sorted(used - set(entry['name'] for entry in TABLE) - set(CHECKED_ELSEWHERE))
    assert not missing, 'templated but not in _preflight_templated_values: %s' % missing


def test_the_defaults_pass_but_an_empty_domain():
    found = [problem for entry in TABLE if '{{' not in json.dumps(PUBLIC[entry['name']])
             for problem in check_value(dict(entry, value=PUBLIC[entry['name']]))]
    assert found == ['llm_gateway_domain is empty (got ""), expected a DNS domain in lower case, such as example.com']


# ---------------------------------------------------------------------------------------------
# ansible-playbook

def playbook(tmp_path, path, extra):
    inventory = tmp_path / 'inventory.yml'
    inventory.write_text(yaml.safe_dump({'llm_gateway': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_become': False, 'ansible_python_interpreter': sys.executable}}}}))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.cache', 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run(['ansible-playbook', '-i', str(inventory), '--check', str(path), '-e', json.dumps(extra)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr


# The roles' defaults are visible to the check as in site.yml, where the roles are imported.
CHECK_ONLY = [{
    'name': 'Only the value check, with every role imported',
    'hosts': 'llm_gateway',
    'gather_facts': False,
    'pre_tasks': [{'name': 'Check the values', 'ansible.builtin.include_role': {
        'name': 'local_ai.llm_gateway.preflight', 'tasks_from': 'values'}}],
    'tasks': [{'name': role, 'ansible.builtin.import_role': {'name': 'local_ai.llm_gateway.' + role}, 'when': False}
              for role in ('ollama_host', 'litellm', 'nginx', 'stack', 'n8n_routing')],
}]


def test_good_values_pass(tmp_path):
    path = tmp_path / 'check.yml'
    path.write_text(yaml.safe_dump(CHECK_ONLY, sort_keys=False))
    rc, out = playbook(tmp_path, path, {
        'llm_gateway_domain': 'example.com', 'llm_gateway_n8n_publish': '', 'llm_gateway_nginx_publish': '8080',
        'llm_gateway_ollama_host_header': '[::1]:11434', 'llm_gateway_n8n_env': {'N8N_DISABLED_MODULES': 'x y'},
        'llm_gateway_n8n_extra_volumes': ['/usr:/opt/node:ro'], 'llm_gateway_nginx_public_ollama_keys': ['k' * 48],
        'llm_gateway_n8n_takeover': 'attach', 'llm_gateway_n8n_container': 'n8n'})
    assert rc == 0, out[-3000:]
    assert 'Refuse values that would break the files they are written into' in out


def test_site_refuses_bad_values_first_all_at_once_without_showing_secrets(tmp_path):
    secret = 'leaked-public-key-0123456789;return-200'
    rc, out = playbook(tmp_path, os.path.join(REPO, 'playbooks', 'site.yml'), {
        'llm_gateway_domain': 'example.com\nserver { listen 81; }',
        'llm_gateway_nginx_client_max_body_size': '64m; return 200',
        'llm_gateway_nginx_rate_limit': '10r/s burst=100',
        'llm_gateway_n8n_image': 'n8nio/n8n:2.41.1 ; x',
        'llm_gateway_n8n_env': {'BAD KEY': 'x'},
        'llm_gateway_nginx_publish': '127.0.0.1:8080\n',
        'llm_gateway_nginx_public_ollama_keys': ['g' * 30, secret],
    })
    assert rc != 0
    failed = [line for line in out.splitlines() if line.startswith('fatal:')]
    assert len(failed) == 1, out[-3000:]
    msg = json.loads(failed[0].split('=> ', 1)[1])['msg']
    for expected in ('llm_gateway_domain holds a line break', 'llm_gateway_nginx_client_max_body_size holds white '
                     'space (got "64m; return 200"), expected an nginx size', 'llm_gateway_nginx_rate_limit holds '
                     'white space', 'llm_gateway_n8n_image holds white space', 'llm_gateway_n8n_env has the key '
                     '"BAD KEY"', 'llm_gateway_nginx_publish holds a line break',
                     'llm_gateway_nginx_public_ollama_keys[1] holds ";" (the value is secret and not shown)'):
        assert expected in msg, msg
    assert msg.endswith('Nothing was changed.')
    assert secret not in out and 'leaked-public-key' not in out
    # the first pre-task refused it: no other role's check, no Docker, nothing written
    tasks = re.findall(r'^TASK \[(.*?)\]', out, re.M)
    assert tasks[-1] == 'local_ai.llm_gateway.preflight : Refuse values that would break the files they are ' \
                        'written into', tasks
    assert not [t for t in tasks if 'preflight' not in t and 'Refuse bad input' not in t], tasks


@pytest.mark.parametrize('name', ['llm_gateway_nginx_container', 'llm_gateway_network_subnet'])
def test_each_entry_names_its_variable(name):
    entry = [e for e in TABLE if e['name'] == name][0]
    assert check_value(dict(entry, value='x;y'))[0].startswith(name + ' holds ";"')


@pytest.mark.parametrize('extra,mode,deprecated', [
    ({}, 'regular', None),
    ({'llm_gateway_n8n_executions_mode': 'queue'}, 'queue', None),
    ({'llm_gateway_n8n_mode': 'queue'}, 'queue', 'The old name is still read ("queue") until 0.3.0'),
    ({'llm_gateway_n8n_mode': 'queue', 'llm_gateway_n8n_executions_mode': 'regular'}, 'regular',
     'The old name is still read ("queue", but llm_gateway_n8n_executions_mode is set too and wins: "regular")'),
])
def test_the_execution_mode_still_reads_its_deprecated_name_and_says_so(tmp_path, extra, mode, deprecated):
    play = [dict(CHECK_ONLY[0], tasks=CHECK_ONLY[0]['tasks'] + [{
        'name': 'Show the mode', 'ansible.builtin.debug': {
            'msg': 'mode={{ llm_gateway_n8n_executions_mode }} queue={{ _stack_queue | bool }} '
                   'processors={{ _nginx_webhook_processors | bool }}'}}])]
    path = tmp_path / 'mode.yml'
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    rc, out = playbook(tmp_path, path, dict(extra, llm_gateway_domain='example.com', llm_gateway_n8n_webhook_processors=1))
    assert rc == 0, out[-3000:]
    assert 'mode=%s queue=%s processors=%s' % (mode, mode == 'queue', mode == 'queue') in out, out[-3000:]
    if deprecated:
        assert 'DEPRECATED: llm_gateway_n8n_mode is now llm_gateway_n8n_executions_mode' in out
        assert deprecated in ' '.join(out.replace('\\"', '"').split()), out[-3000:]
    else:
        assert 'DEPRECATED' not in out
