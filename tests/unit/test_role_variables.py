"""The roles' variable conventions, checked for every role:

* every public variable (defaults/main.yml) starts with llm_gateway_;
* every internal variable (vars/main.yml) starts with _<role>_;
* meta/argument_specs.yml documents exactly the variables of defaults/main.yml,
  with the same default values.
"""

from __future__ import annotations

import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(d for d in os.listdir(os.path.join(REPO, 'roles')) if not d.startswith('.'))


def load(role, *path):
    full = os.path.join(REPO, 'roles', role, *path)
    if not os.path.exists(full):
        return None
    with open(full) as f:
        return yaml.safe_load(f) or {}


def test_there_are_roles():
    assert 'preflight' in ROLES


@pytest.mark.parametrize('role', ROLES)
def test_public_variables_are_prefixed(role):
    defaults = load(role, 'defaults', 'main.yml') or {}
    bad = [k for k in defaults if not k.startswith('llm_gateway_')]
    assert not bad, 'public variables of %s without the llm_gateway_ prefix: %s' % (role, bad)


@pytest.mark.parametrize('role', ROLES)
def test_internal_variables_are_prefixed(role):
    internals = load(role, 'vars', 'main.yml') or {}
    bad = [k for k in internals if not k.startswith('_%s_' % role)]
    assert not bad, 'internal variables of %s without the _%s_ prefix: %s' % (role, role, bad)


@pytest.mark.parametrize('role', ROLES)
def test_argument_specs_match_defaults(role):
    defaults = load(role, 'defaults', 'main.yml') or {}
    specs = load(role, 'meta', 'argument_specs.yml')
    assert specs, '%s has no meta/argument_specs.yml' % role
    options = specs['argument_specs']['main'].get('options') or {}
    assert sorted(options) == sorted(defaults), 'argument_specs and defaults of %s differ' % role
    for name, spec in options.items():
        assert spec.get('description'), '%s.%s has no description' % (role, name)
        assert spec.get('default') == defaults[name], '%s.%s: spec default %r != defaults %r' % (
            role, name, spec.get('default'), defaults[name])


def test_shared_variables_have_one_default():
    """A variable several roles declare has the same default in each of them."""
    seen = {}
    for role in ROLES:
        for name, value in (load(role, 'defaults', 'main.yml') or {}).items():
            seen.setdefault(name, {})[role] = value
    differing = {name: by_role for name, by_role in seen.items()
                 if len(set(repr(v) for v in by_role.values())) > 1}
    assert not differing, differing


def _role_entries(tasks):
    """(role, tasks_from) of every include_role/import_role in a list of tasks, blocks included."""
    for task in tasks or []:
        yield from _role_entries(task.get('block'))
        for action in ('ansible.builtin.include_role', 'ansible.builtin.import_role'):
            if action in task:
                yield task[action]['name'], task[action].get('tasks_from', 'main'), task.get('loop')


PLAYBOOKS = sorted(f for f in os.listdir(os.path.join(REPO, 'playbooks')) if f.endswith('.yml'))


@pytest.mark.parametrize('playbook', PLAYBOOKS)
def test_every_entry_point_a_playbook_uses_is_documented(playbook):
    with open(os.path.join(REPO, 'playbooks', playbook)) as f:
        plays = yaml.safe_load(f)
    missing = []
    for play in plays:
        for section in ('pre_tasks', 'tasks', 'post_tasks'):
            for name, entry, loop in _role_entries(play.get(section)):
                roles = [r.rsplit('.', 1)[1] for r in loop] if loop else [name.rsplit('.', 1)[1]]
                for role in roles:
                    specs = (load(role, 'meta', 'argument_specs.yml') or {}).get('argument_specs', {})
                    if entry not in specs or not os.path.exists(os.path.join(REPO, 'roles', role, 'tasks', entry + '.yml')):
                        missing.append('%s:%s' % (role, entry))
    assert not missing, '%s enters roles through undocumented entry points: %s' % (playbook, missing)


def test_site_reads_as_stages_each_entering_a_role_once():
    with open(os.path.join(REPO, 'playbooks', 'site.yml')) as f:
        (play,) = yaml.safe_load(f)
    stages = play['tasks']
    assert [s['name'].split(':')[0] for s in stages] == [
        'Stage 1, check', 'Stage 2, host', 'Stage 3, configuration', 'Stage 4, switch', 'Stage 5, workflows',
        'Stage 6, report']
    assert not play.get('roles') and not play.get('pre_tasks') and not play.get('post_tasks')
    for stage in stages:
        roles = [name for name, dummy, loop in _role_entries(stage['block']) if not loop]
        assert len(roles) == len(set(roles)), '%s enters a role twice: %s' % (stage['name'], roles)
