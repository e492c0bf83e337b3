"""A stack that does not come up gives the user's n8n back: run by prepare.yml on
the linux-configured host, with nginx's published port held by another process,
so that `up` fails after the old n8n was stopped."""

from __future__ import annotations

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_linux_default import OLD_N8N, docker, workflows  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared'))
from gateway import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

SNAPSHOTS = '/srv/llm-gateway-linux/backups/original'


def wait_for(what, predicate, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if predicate():
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, what
        time.sleep(1)


def test_a_stack_that_does_not_come_up_gives_the_old_n8n_back():
    before = workflows()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(('127.0.0.1', 18180))  # llm_gateway_nginx_publish
    holder.listen(1)
    try:
        rc, out = run_playbook('site.yml')
    finally:
        holder.close()
    assert rc != 0
    assert 'The stack did not come up' in out, out[-3000:]
    assert 'address already in use' in out or 'port is already allocated' in out, out[-3000:]
    assert 'run again as before' in out
    # The old n8n runs again under its own name, with its workflows as they were.
    assert docker('container', 'inspect', '--format', '{{.Name}} {{.State.Running}}', OLD_N8N).split() == [
        '/' + OLD_N8N, 'true']
    assert OLD_N8N + '-pre-llm-gateway' not in docker('ps', '-a', '--format', '{{.Names}}').split()
    wait_for('the old n8n to answer again', lambda: bool(workflows()), 180)
    assert workflows() == before
    # The new stack is down; the snapshot taken before the first change stays.
    assert docker('ps', '-a', '--quiet', '--filter', 'label=com.docker.compose.project=llm-gateway-linux') == ''
    snapshots = sorted(os.listdir(SNAPSHOTS))
    assert snapshots and os.path.exists(os.path.join(SNAPSHOTS, snapshots[-1], 'n8n-data.tar.gz'))
