"""No secret reaches Ansible's output (issue 22), checked for every task of the
roles (tasks, handlers) and playbooks:

* a task of a community.docker module whose result holds a container's, image's or
  the host's inspection (environment, command lines, volume options) has no_log,
  on itself or on a block or play around it (true, or a template such as
  llm_gateway_litellm_no_log);
* docker_container_exec returns what the command prints: no_log too, unless the
  task is one of EXEC_REVIEWED, whose output was checked to hold no secret;
* a uri task that sends n8n's API key has no_log and does not follow redirects
  (a redirect would take the key to another address).

AWX and ARA keep every task's result, at any verbosity: only no_log keeps a value out.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

INSPECTING = {'docker_container', 'docker_container_info', 'docker_host_info', 'docker_image_info'}
EXEC = 'docker_container_exec'
# (file, task name) of docker_container_exec tasks without no_log, and why.
EXEC_REVIEWED = {
    # n8n --version prints the release (or the CLI's error), nothing of its data or environment.
    ('roles/stack/tasks/preflight.yml', 'Ask the attached n8n which release it is'),
    # n8n's export prints what it exported, or its error; the script echoes it on failure only.
    ('roles/stack/tasks/export.yml', "Export the workflows and credentials with n8n's own export"),
    ('roles/stack/tasks/export.yml', 'Remove the export from the container (the folder keeps it)'),
    # n8n's readiness answer ({"status":"ok"}), uid:gid, chown and rm (nothing), n8n's import (what it imported, or
    # its error).
    ('roles/stack/tasks/carry.yml', 'Wait until the original n8n is ready'),
    ('roles/stack/tasks/carry.yml', 'Ask which user the original n8n runs as'),
    ('roles/stack/tasks/carry.yml', 'Give them to that user'),
    ('roles/stack/tasks/carry.yml', "Import what was made since with n8n's own CLI (credentials stay encrypted; "
                                    "workflows come in inactive)"),
    ('roles/stack/tasks/carry.yml', 'Remove the copy from the container (the pre-restore folder keeps it)'),
}
PLAY_TASK_LISTS = ('pre_tasks', 'tasks', 'post_tasks', 'handlers')
BLOCK_LISTS = ('block', 'rescue', 'always')


def files():
    found = []
    for pattern in ('roles/*/tasks/*.yml', 'roles/*/handlers/*.yml', 'playbooks/*.yml'):
        found += sorted(glob.glob(os.path.join(REPO, pattern)))
    return [os.path.relpath(path, REPO) for path in found]


def tasks(entries, no_log=None):
    """Each task of a task list, with the no_log it runs under (its own or an enclosing block's)."""
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        own = entry.get('no_log', no_log)
        if any(key in entry for key in BLOCK_LISTS):
            for key in BLOCK_LISTS:
                yield from tasks(entry.get(key), own)
        else:
            yield entry, own


def file_tasks(path):
    with open(os.path.join(REPO, path)) as f:
        content = yaml.safe_load(f) or []
    if path.startswith('playbooks/'):
        for play in content:
            for key in PLAY_TASK_LISTS:
                yield from tasks(play.get(key), play.get('no_log'))
    else:
        yield from tasks(content)


def module(task):
    """The short name of a task's module (community.docker.docker_container -> docker_container)."""
    for key in task:
        if key.startswith(('community.docker.', 'ansible.builtin.')) or key in INSPECTING or key in (EXEC, 'uri'):
            return key.rsplit('.', 1)[-1]
    return None


def hidden(no_log):
    """no_log: true, or a template (llm_gateway_litellm_no_log, default true)."""
    return no_log is True or (isinstance(no_log, str) and '{{' in no_log)


def sends_n8n_key(task):
    headers = (task.get('ansible.builtin.uri') or task.get('uri') or {}).get('headers') or {}
    return isinstance(headers, dict) and any(name.lower() == 'x-n8n-api-key' for name in headers)


def problems(path):
    found = []
    for task, no_log in file_tasks(path):
        name = task.get('name', '(unnamed)')
        used = module(task)
        if used in INSPECTING and not hidden(no_log):
            found.append('%s: %r (%s) has no no_log' % (path, name, used))
        if used == EXEC and not hidden(no_log) and (path, name) not in EXEC_REVIEWED:
            found.append('%s: %r (%s) has no no_log and is not in EXEC_REVIEWED' % (path, name, used))
        if used == 'uri' and sends_n8n_key(task):
            args = task.get('ansible.builtin.uri') or task.get('uri')
            if not hidden(no_log):
                found.append('%s: %r sends the n8n API key without no_log' % (path, name))
            if args.get('follow_redirects') != 'none':
                found.append('%s: %r sends the n8n API key and follows redirects' % (path, name))
    return found


def test_the_files_are_found():
    found = files()
    assert 'roles/stack/tasks/docker.yml' in found
    assert 'roles/nginx/handlers/main.yml' in found
    assert 'playbooks/restore.yml' in found


def test_the_walk_finds_the_tasks_it_checks():
    """Nested blocks and plays are walked: the rule cannot pass by finding nothing."""
    used = {}
    for path in files():
        for task, no_log in file_tasks(path):
            used.setdefault(module(task), []).append((path, no_log))
    assert len(used['docker_container']) >= 3  # retire, unretire (in a block), litellm absent (in a block)
    assert {'docker_host_info', 'docker_image_info', 'docker_container_info', EXEC} <= set(used)
    assert any(path == 'playbooks/restore.yml' for path, _no_log in used['uri'])


def test_the_exec_review_is_current():
    """Every reviewed exemption still names a task (a renamed task must be reviewed again)."""
    present = {(path, task.get('name')) for path in files() for task, _no_log in file_tasks(path)}
    assert EXEC_REVIEWED <= present


@pytest.mark.parametrize('path', files())
def test_secret_bearing_results_are_not_shown(path):
    assert not problems(path)


def test_a_missing_no_log_is_found(tmp_path, monkeypatch):
    """The rule fails on a task of the kind it looks for, in a block of a playbook."""
    os.makedirs(tmp_path / 'playbooks')
    (tmp_path / 'playbooks' / 'leak.yml').write_text(yaml.safe_dump([{'hosts': 'all', 'tasks': [
        {'block': [{'name': 'Look', 'community.docker.docker_container_info': {'name': 'n8n'}}],
         'always': [{'name': 'Ask', 'ansible.builtin.uri': {'url': 'http://n8n', 'headers': {'X-N8N-API-KEY': 'k'}},
                     'no_log': True}]},
        {'name': 'Hidden', 'community.docker.docker_host_info': {}, 'no_log': '{{ hide }}'},
    ]}]))
    monkeypatch.setitem(globals(), 'REPO', str(tmp_path))
    assert problems('playbooks/leak.yml') == [
        "playbooks/leak.yml: 'Look' (docker_container_info) has no no_log",
        "playbooks/leak.yml: 'Ask' sends the n8n API key and follows redirects",
    ]
