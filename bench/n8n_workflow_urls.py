"""Benchmark of n8n_workflow_urls against a naive pass, on a real n8n of its own.

    python bench/n8n_workflow_urls.py [--workflows 1000] [--share 0.1] [--port 5690] [--keep]

Starts the harness's n8n on a separate port (default 5690, so that the test instance is not
flooded) from a clean data folder, creates N workflows (a trigger and two HTTP Request nodes
each) of which a share calls the old LLM URL, then measures in the same run:

* the module, run through ansible as a task (all workflows in scope): wall time and API calls;
* a naive pass as a simple script would do it: list the ids, then GET each workflow and PUT
  each one back with the URL rewritten (here: back to the old URL, so both passes do the same
  amount of real work).

Prints the figures and the speed-up, writes bench/results/n8n_workflow_urls.json, and stops
(and, unless --keep, deletes) its n8n. Only 127.0.0.1 is contacted. Exit status 1 when a goal is
missed: API calls <= ceil(N/250) + 2 per changed workflow (the GET right before its PUT, and the
PUT; + the post-PUT checks of active ones), and at least 5x
faster than the naive pass.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests', 'harness'))
from n8n_client import N8nClient, N8nError  # noqa: E402  pylint: disable=wrong-import-position
HARNESS = os.path.join(REPO, 'tests', 'harness', 'n8n.sh')
COLLECTIONS = os.path.join(REPO, '.cache', 'collections')
RESULTS = os.path.join(REPO, 'bench', 'results', 'n8n_workflow_urls.json')
OLD = 'https://llm.example.com/api/generate'
NEW = 'http://llama-nginx/api/generate'
OTHER = 'https://api.other.example/v1/items'
MAX_WORKFLOWS = 20000


def log(msg):
    print('[bench] %s' % msg, file=sys.stderr, flush=True)


def list_ids(api):
    ids = []
    cursor = None
    for dummy in range(MAX_WORKFLOWS // 250 + 2):
        query = {'limit': 250}
        if cursor:
            query['cursor'] = cursor
        page = api.call('GET', '/workflows?' + urllib.parse.urlencode(query))
        ids.extend(w['id'] for w in page['data'])
        cursor = page.get('nextCursor')
        if not cursor or not page['data']:
            return ids
    raise SystemExit('listing did not end')


def harness(*args):
    proc = subprocess.run(['bash', HARNESS] + list(args), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit('n8n.sh %s failed:\n%s' % (' '.join(args), proc.stderr[-3000:]))
    return proc.stdout.strip().splitlines()


def read_env(path):
    values = {}
    with open(path) as handle:
        for line in handle:
            key, sep, value = line.strip().partition('=')
            if sep:
                values[key] = value
    return values


def workflow(index, old):
    url = OLD if old else 'https://api.other.example/v1/llm-%d' % index
    return {
        'name': 'bench %04d' % index,
        'nodes': [
            {'id': 'start', 'name': 'Start', 'type': 'n8n-nodes-base.manualTrigger', 'typeVersion': 1,
             'position': [0, 0], 'parameters': {}},
            {'id': 'llm', 'name': 'Call LLM', 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2,
             'position': [220, 0], 'parameters': {'method': 'POST', 'url': url, 'sendBody': True, 'specifyBody': 'json',
                                                  'jsonBody': '{"model": "llama3", "prompt": "hi %d"}' % index,
                                                  'options': {}}},
            {'id': 'other', 'name': 'Other', 'type': 'n8n-nodes-base.httpRequest', 'typeVersion': 4.2,
             'position': [440, 0], 'parameters': {'url': OTHER, 'options': {}}},
        ],
        'connections': {'Start': {'main': [[{'node': 'Call LLM', 'type': 'main', 'index': 0}]]},
                        'Call LLM': {'main': [[{'node': 'Other', 'type': 'main', 'index': 0}]]}},
        'settings': {'executionOrder': 'v1'},
    }


def create(api, count, share):
    every = max(1, int(round(1 / share))) if share > 0 else 0
    specs = [workflow(i, every and i % every == 0) for i in range(count)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda spec: api.call('POST', '/workflows', spec), specs))
    return sum(1 for i in range(count) if every and i % every == 0)


def n8n_version():
    """The version the harness runs: N8N_VERSION, else n8n.sh's default."""
    if os.environ.get('N8N_VERSION'):
        return os.environ['N8N_VERSION']
    with open(HARNESS) as handle:
        found = re.search(r'N8N_VERSION:=([0-9.]+)', handle.read())
    return found.group(1) if found else None


def run_module(url, key, rules, backup_dir):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    args = {'url': url, 'api_key': key, 'rewrites': rules, 'backup_dir': backup_dir}
    cmd = ['ansible', 'localhost', '-c', 'local', '-m', 'local_ai.llm_gateway.n8n_workflow_urls', '-a', json.dumps(args)]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.monotonic() - started
    try:
        result = json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        raise SystemExit('no JSON result from ansible (rc=%s):\n%s\n%s' % (proc.returncode, proc.stdout[-2000:],
                                                                           proc.stderr[-2000:]))
    if result.get('failed'):
        raise SystemExit('the module failed: %s' % result.get('msg'))
    return wall, result


def ansible_overhead():
    """Wall time of a trivial ad-hoc task: what starting ansible costs, for the record."""
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    started = time.monotonic()
    subprocess.run(['ansible', 'localhost', '-c', 'local', '-m', 'ansible.builtin.ping'], env=env,
                   capture_output=True, timeout=300, check=False)
    return time.monotonic() - started


def naive_pass(api, source, target):
    """List the ids, then GET each workflow and PUT each back with the URL rewritten."""
    api.calls = {}
    started = time.monotonic()
    changed = 0
    for wid in list_ids(api):
        wf = api.call('GET', '/workflows/%s' % wid)
        for node in wf['nodes']:
            url = node.get('parameters', {}).get('url')
            if isinstance(url, str) and url.startswith(source):
                node['parameters']['url'] = target + url[len(source):]
                changed += 1
        api.call('PUT', '/workflows/%s' % wid, {'name': wf['name'], 'nodes': wf['nodes'],
                                                'connections': wf['connections'], 'settings': {}})
    return time.monotonic() - started, dict(api.calls), changed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--workflows', type=int, default=1000)
    ap.add_argument('--share', type=float, default=0.1, help='share of workflows that call the old URL')
    ap.add_argument('--port', type=int, default=5690)
    ap.add_argument('--keep', action='store_true', help='leave the n8n instance and its data behind')
    args = ap.parse_args()
    if not 1 <= args.workflows <= MAX_WORKFLOWS or not 0 < args.share <= 1:
        raise SystemExit('--workflows must be 1..%d and --share within (0, 1]' % MAX_WORKFLOWS)
    if args.port == 5678:
        raise SystemExit('port 5678 is the test instance; use another one')
    link = os.path.join(COLLECTIONS, 'ansible_collections', 'local_ai', 'llm_gateway')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink('../../../..', link)

    log('starting a clean n8n on 127.0.0.1:%d' % args.port)
    harness('reset', str(args.port))
    env = read_env(harness('up', str(args.port))[-1])
    try:
        api = N8nClient(env['N8N_URL'], env['N8N_API_KEY'])
        version = n8n_version()
        started = time.monotonic()
        old_count = create(api, args.workflows, args.share)
        create_s = time.monotonic() - started
        log('created %d workflows (%d with the old URL) in %.1f s' % (args.workflows, old_count, create_s))
        overhead = ansible_overhead()

        with tempfile.TemporaryDirectory(prefix='n8n-bench-backups-') as backup_dir:
            module_wall, result = run_module(api.url, api.api_key, [{'from': OLD, 'to': NEW}], backup_dir)
            backups = len(result['backups'])
        calls = result['api_calls']
        changed = len(result['changed_workflows'])
        log('module: %.2f s, calls %s, %d changed' % (module_wall, calls, changed))
        naive_wall, naive_calls, naive_changed = naive_pass(api, NEW, OLD)
        log('naive: %.2f s, calls %s, %d changed' % (naive_wall, naive_calls, naive_changed))

        total_calls = sum(calls.values())
        post_put_checks = sum(1 for w in result['changed_workflows'] if w.get('active'))
        bound = int(math.ceil(args.workflows / 250.0)) + 2 * changed + post_put_checks
        ratio = naive_wall / module_wall if module_wall else float('inf')
        figures = {
            'benchmark': 'n8n_workflow_urls',
            'date': datetime.datetime.now(datetime.timezone.utc).isoformat(),
            'n8n_url': api.url,
            'n8n_version': version,
            'workflows': args.workflows,
            'workflows_with_old_url': old_count,
            'create_seconds': round(create_s, 2),
            'module': {'wall_seconds': round(module_wall, 3), 'api_calls': calls, 'api_calls_total': total_calls,
                       'changed_workflows': changed, 'parallel': 4, 'backups_written': backups,
                       'ansible_startup_seconds': round(overhead, 3),
                       'wall_seconds_without_ansible_startup': round(max(module_wall - overhead, 0), 3)},
            'naive': {'wall_seconds': round(naive_wall, 3), 'api_calls': naive_calls,
                      'api_calls_total': sum(naive_calls.values()), 'changed_workflows': naive_changed},
            'speedup': round(ratio, 2),
            'api_call_bound': bound,
            'goals': {'api_calls_within_bound': total_calls <= bound, 'at_least_5x_faster': ratio >= 5},
        }
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, 'w') as handle:
            json.dump(figures, handle, indent=2)
            handle.write('\n')
        print('n8n_workflow_urls on %d workflows (%d with the old URL):' % (args.workflows, old_count))
        print('  module: %.2f s (ansible start-up %.2f s), %d API calls %s, %d workflows written'
              % (module_wall, overhead, total_calls, json.dumps(calls, sort_keys=True), changed))
        naive_total = sum(naive_calls.values())
        print('  naive : %.2f s, %d API calls %s' % (naive_wall, naive_total, json.dumps(naive_calls, sort_keys=True)))
        print('  speed-up: %.1fx (goal >= 5x); API calls %d <= bound %d: %s'
              % (ratio, total_calls, bound, total_calls <= bound))
        print('  results: %s' % RESULTS)
        return 0 if all(figures['goals'].values()) else 1
    except N8nError as exc:
        raise SystemExit(str(exc))
    finally:
        harness('down' if args.keep else 'reset', str(args.port))


if __name__ == '__main__':
    sys.exit(main())
