"""No-op re-run benchmark: how long `playbooks/site.yml` takes on a converged host where nothing changes.

Runs against the demo (inventory/local, `make demo` / `make demo PHASE=2` deploys it first): the playbook is
run --runs times in a row for the phase the demo is in, each run must report changed=0, and the wall time of
each run, their median and the slowest tasks (ansible.posix's profile_tasks callback, from the median run)
are written as JSON, with the floor: how long a play of the same shape (as many module calls and other tasks)
takes when its tasks do nothing. Goal: at most 8 s per phase on a warm host. Bounded: --runs runs of at most 600 s each.

  bench/run.sh rerun          (phase 1 then phase 2, one JSON file)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_SECONDS = 8.0
TASK_LINE = re.compile(r'^(?P<task>.+?) -+ (?P<seconds>\d+\.\d+)s$')
RECAP = re.compile(r'^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unr>\d+)\s+'
                   r'failed=(?P<failed>\d+)')


# A task of the profile taking this long ran a module; shorter ones ran on the controller only (checks,
# facts, skipped steps: at most about 0.14 s on this machine).
MODULE_CALL_SECONDS = 0.15


def playbook(path, inventory, *extra):
    """Run ansible-playbook with the profile callback; return (wall seconds, process)."""
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks',
               PROFILE_TASKS_TASK_OUTPUT_LIMIT='all', PROFILE_TASKS_SORT_ORDER='descending',
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.cache', 'collections'),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    started = time.monotonic()
    proc = subprocess.run([ansible, '-i', inventory, path] + list(extra), cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    return time.monotonic() - started, proc


def floor(inventory, module_calls, other_tasks):
    """How long a play of the same shape takes when its tasks do nothing: ``module_calls`` calls of
    ansible.builtin.stat and ``other_tasks`` skipped tasks, on the same host and Python. What a no-op run
    takes beyond that is the work its checks do (Docker, Compose, Ollama, n8n)."""
    tasks = ['    - name: Module call %d\n      ansible.builtin.stat:\n        path: /\n' % n
             for n in range(module_calls)]
    tasks += ['    - name: Controller task %d\n      ansible.builtin.debug:\n        msg: skipped\n'
              '      when: false\n' % n for n in range(other_tasks)]
    with tempfile.TemporaryDirectory(prefix='noop-floor-') as folder:
        path = os.path.join(folder, 'floor.yml')
        with open(path, 'w') as handle:
            handle.write('---\n- name: The shape of a no-op run\n  hosts: llm_gateway\n  gather_facts: false\n'
                         '  tasks:\n' + ''.join(tasks))
        seconds, proc = playbook(path, inventory)
    if proc.returncode != 0:
        raise SystemExit('the floor play failed:\n%s' % proc.stdout[-2000:])
    return round(seconds, 2)


def run_once(phase, inventory):
    seconds, proc = playbook(os.path.join(REPO, 'playbooks', 'site.yml'), inventory, '-e',
                             'llm_gateway_phase=%d' % phase)
    lines = proc.stdout.splitlines()
    recap = [m.groupdict() for m in (RECAP.match(line) for line in lines) if m]
    if proc.returncode != 0 or not recap:
        tail = '\n'.join(lines[-30:]) + proc.stderr[-2000:]
        raise SystemExit('site.yml (phase %d) failed (rc %d):\n%s' % (phase, proc.returncode, tail))
    changed = sum(int(r['changed']) for r in recap)
    tasks = []
    for line in lines:
        found = TASK_LINE.match(line.strip())
        if found:
            tasks.append({'task': found.group('task').strip(), 'seconds': float(found.group('seconds'))})
    calls = [t for t in tasks if t['seconds'] >= MODULE_CALL_SECONDS]
    return {'seconds': round(seconds, 2), 'changed': changed, 'slowest_tasks': tasks[:15],
            'module_call_tasks': len(calls), 'module_call_seconds': round(sum(t['seconds'] for t in calls), 2),
            'other_tasks': len(tasks) - len(calls),
            'other_tasks_seconds': round(sum(t['seconds'] for t in tasks) - sum(t['seconds'] for t in calls), 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--phase', type=int, choices=[1, 2], required=True)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--inventory', default=os.path.join(REPO, 'inventory', 'local'))
    ap.add_argument('--out', default=os.path.join(REPO, 'bench', 'results', 'noop_rerun.json'))
    args = ap.parse_args()
    runs = [run_once(args.phase, args.inventory) for dummy in range(max(1, min(args.runs, 10)))]
    median = statistics.median(r['seconds'] for r in runs)
    middle = sorted(runs, key=lambda r: r['seconds'])[len(runs) // 2]
    result = {'phase': args.phase, 'runs_seconds': [r['seconds'] for r in runs], 'median_seconds': median,
              'goal_seconds': GOAL_SECONDS, 'goal_met': median <= GOAL_SECONDS,
              'changed': [r['changed'] for r in runs], 'slowest_tasks': middle['slowest_tasks']}
    for key in ('module_call_tasks', 'module_call_seconds', 'other_tasks', 'other_tasks_seconds'):
        result[key] = middle[key]
    result['floor'] = {
        'seconds': floor(args.inventory, middle['module_call_tasks'], middle['other_tasks']),
        'about': 'the same number of module calls (ansible.builtin.stat) and skipped tasks doing nothing, '
                 'same host and Python: what the task structure alone costs on this machine'}
    report = {}
    if os.path.exists(args.out):
        with open(args.out) as handle:
            report = json.load(handle)
    report['phase%d' % args.phase] = result
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as handle:
        json.dump(report, handle, indent=2)
    print('phase %d no-op re-run: %s s (median %.1f s, goal %.0f s), changed %s' % (
        args.phase, result['runs_seconds'], median, GOAL_SECONDS, result['changed']))
    print('  %d tasks ran a module (%.1f s), %d did not (%.1f s); the same shape doing nothing: %.1f s' % (
        result['module_call_tasks'], result['module_call_seconds'], result['other_tasks'],
        result['other_tasks_seconds'], result['floor']['seconds']))
    for task in middle['slowest_tasks'][:10]:
        print('  %6.2f s  %s' % (task['seconds'], task['task']))
    if any(result['changed']):
        raise SystemExit('a re-run changed something: %s' % result['changed'])


if __name__ == '__main__':
    main()
