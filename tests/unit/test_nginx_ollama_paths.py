"""Which of Ollama's paths nginx serves, rendered from the nginx role's template: llm.<domain> (phase 1, with keys)
and the internal route http://llama-nginx/api/ serve the same inference and read paths by one rule
(_nginx_ollama_public_location); model management (pull, push, create, copy, delete, blobs) and every other /api/
path reach Ollama on the internal route only with llm_gateway_nginx_internal_ollama_management: true.

The configuration is rendered by one ansible-playbook run on localhost (the template module with the role's defaults
and vars), a few seconds; nothing talks to Docker. nginx itself checks the configuration in the Molecule scenarios.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(REPO, 'roles', 'nginx')
SETTING = 'llm_gateway_nginx_internal_ollama_management'
PUBLIC_PATHS = ['generate', 'chat', 'embed', 'embeddings', 'tags', 'show', 'version', 'ps']
MANAGEMENT = ['/api/pull', '/api/push', '/api/create', '/api/copy', '/api/delete', '/api/blobs/sha256:0000']
CASES = {
    'phase1': {'llm_gateway_phase': 1, 'llm_gateway_nginx_public_ollama_keys': ['k' * 48]},
    'phase2': {'llm_gateway_phase': 2},
    'phase1-management': {'llm_gateway_phase': 1, 'llm_gateway_nginx_public_ollama_keys': ['k' * 48], SETTING: True},
    'phase2-management': {'llm_gateway_phase': 2, SETTING: True},
}


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    """{case: the rendered conf.d/llm-gateway.conf}."""
    tmp = tmp_path_factory.mktemp('nginx-render')
    play = [{
        'name': 'Render the nginx configuration',
        'hosts': 'localhost',
        'gather_facts': False,
        'vars_files': [os.path.join(ROLE, 'defaults', 'main.yml'), os.path.join(ROLE, 'vars', 'main.yml')],
        'tasks': [{'name': case, 'vars': dict(extra, llm_gateway_domain='example.test'), 'ansible.builtin.template': {
            'src': os.path.join(ROLE, 'templates', 'llm-gateway.conf.j2'), 'dest': str(tmp / (case + '.conf')),
            'mode': '0644'}} for case, extra in CASES.items()],
    }]
    (tmp / 'render.yml').write_text(yaml.safe_dump(play, sort_keys=False))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.cache', 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0', ANSIBLE_LOCAL_TEMP=str(tmp / 'tmp'),
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run(['ansible-playbook', '-i', 'localhost,', '-c', 'local', '-e',
                           'ansible_python_interpreter=' + sys.executable, str(tmp / 'render.yml')],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return {case: (tmp / (case + '.conf')).read_text() for case in CASES}


def server(conf, name):
    """The text of the server block that answers NAME."""
    start = conf.index('    server_name %s;\n' % name)
    return conf[start:conf.index('\n}\n', start)]


def locations(block):
    """{location argument: its body} of a server block."""
    return dict(re.findall(r'^    location (.+?) \{\n(.*?)^    \}$', block, re.M | re.S))


def served(locs, path):
    """The location nginx picks for PATH among LOCS (regular expressions first, as nginx does with no ^~ or =)."""
    for arg in locs:
        if arg.startswith('~ ') and re.search(arg[2:], path):
            return arg
    prefixes = [arg for arg in locs if not arg.startswith(('~', '='))]
    return max((arg for arg in prefixes if path.startswith(arg)), key=len)


def test_management_paths_are_never_in_the_public_list():
    with open(os.path.join(ROLE, 'vars', 'main.yml')) as handle:
        public = yaml.safe_load(handle)['_nginx_ollama_public_paths']
    assert public == PUBLIC_PATHS
    assert not [path for path in MANAGEMENT if path.split('/')[2] in public]


def test_the_setting_is_off_by_default():
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        assert yaml.safe_load(handle)[SETTING] is False


@pytest.mark.parametrize('case', ['phase1', 'phase2'])
def test_the_internal_route_serves_the_public_paths_only(rendered, case):
    locs = locations(server(rendered[case], 'llama-nginx'))
    rule = '~ ^/api/(%s)$' % '|'.join(PUBLIC_PATHS)
    assert 'proxy_pass http://llm_gateway_ollama;' in locs[rule]
    for name in PUBLIC_PATHS:
        assert served(locs, '/api/' + name) == rule, name
    for path in MANAGEMENT + ['/api/', '/api/tags/x', '/api/generatex', '/api/unknown']:
        assert served(locs, path) == '/api/', path
    refusal = locs['/api/']
    assert 'proxy_pass' not in refusal and 'default_type application/json;' in refusal
    status, body = re.search(r"return (\d+) '(.*)';", refusal).groups()
    assert status == '404'  # as llm.<domain> answers a path it does not serve
    assert SETTING in json.loads(body.replace('\\n', '\n'))['error']


@pytest.mark.parametrize('case', ['phase1-management', 'phase2-management'])
def test_with_the_setting_the_internal_route_serves_all_of_ollama(rendered, case):
    locs = locations(server(rendered[case], 'llama-nginx'))
    assert not [arg for arg in locs if arg.startswith('~')]
    assert 'proxy_pass http://llm_gateway_ollama;' in locs['/api/'] and 'return' not in locs['/api/']
    for path in MANAGEMENT + ['/api/generate', '/api/tags']:
        assert served(locs, path) == '/api/', path


@pytest.mark.parametrize('case', CASES)
def test_the_internal_route_keeps_its_other_locations(rendered, case):
    block = server(rendered[case], 'llama-nginx')
    assert 'allow 172.29.77.0/24;' in block and 'deny  172.29.77.1;' in block
    locs = locations(block)
    assert locs['/'].strip() == 'return 404;'
    assert ('/v1/' in locs) == (CASES[case]['llm_gateway_phase'] == 2)


@pytest.mark.parametrize('case', ['phase1', 'phase1-management'])
def test_llm_domain_uses_the_same_rule_whatever_the_setting(rendered, case):
    locs = locations(server(rendered[case], 'llm.example.test'))
    rule = '~ ^/api/(%s)$' % '|'.join(PUBLIC_PATHS)
    assert sorted(locs) == sorted(['/', rule])
    assert 'return 401' in locs[rule] and 'proxy_pass http://llm_gateway_ollama;' in locs[rule]
    for path in MANAGEMENT:
        assert served(locs, path) == '/', path
