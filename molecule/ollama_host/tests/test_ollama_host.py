"""The ollama_host role on a systemd host: Ollama reachable from the stack's subnet,
and only from it, restarted once."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

DROPIN = '/etc/systemd/system/ollama.service.d/llm-gateway.conf'
RULES = '/etc/llm-gateway/ollama-firewall.nft'
NETWORK = 'llm-gateway-ollama-host-net'
CLIENT_IMAGE = 'llm-gateway-test/base:bookworm'


def from_client(ip, url):
    """curl from a throwaway container at IP on the scenario's network: (exit code, output)."""
    proc = subprocess.run(['docker', 'run', '--rm', '--network', NETWORK, '--ip', ip, CLIENT_IMAGE,
                           'curl', '-sS', '--connect-timeout', '3', '--max-time', '6', url],
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize('path', [DROPIN, RULES])
def test_files(host, path):
    f = host.file(path)
    assert f.exists and f.user == 'root' and f.mode == 0o644


def test_ollama_listens_on_all_interfaces_without_host_check(host):
    assert 'OLLAMA_HOST=0.0.0.0:11434' in host.check_output('systemctl show --property=Environment ollama.service')
    state = json.loads(host.check_output('curl -sf http://127.0.0.1:11434/_standin/state'))
    assert state['listen'] == '0.0.0.0:11434' and state['host_check']['active'] is False


def test_dropin_and_rules_pass_their_checkers(host):
    verify = host.run('systemd-analyze verify ollama.service')
    assert verify.rc == 0 and 'llm-gateway.conf' not in verify.stdout + verify.stderr
    host.check_output('nft -c -f %s' % RULES)


def counters(host):
    """Packets counted by the role's accept and drop rules for Ollama's port."""
    table = host.check_output('nft list table inet llm_gateway_ollama')
    found = dict((verdict, int(packets)) for packets, verdict in
                 re.findall(r'saddr .*counter packets (\d+) bytes \d+ (accept)', table)
                 + re.findall(r'dport 11434 counter packets (\d+) bytes \d+ (drop)', table))
    assert set(found) == {'accept', 'drop'}, table
    return found


def test_the_stacks_subnet_reaches_ollama(host):
    before = counters(host)
    rc, out = from_client('10.219.77.10', 'http://10.219.77.2:11434/api/version')
    assert rc == 0 and json.loads(out)['version'], out
    assert counters(host)['accept'] > before['accept']


def test_anything_else_is_dropped_by_the_roles_rule(host):
    before = counters(host)
    rc, out = from_client('10.219.77.200', 'http://10.219.77.2:11434/api/version')
    assert rc == 28, out  # a drop: the connection times out, nothing refuses it
    assert counters(host)['drop'] > before['drop']


def test_ufw_lets_the_subnet_through(host):
    assert '10.219.77.0/25' in host.check_output('ufw status')


def test_ollama_was_restarted_once(host):
    """Started at boot, restarted by converge; never by check mode or the idempotence run."""
    starts = host.check_output("journalctl -u ollama.service --no-pager -o cat | grep -c 'ollama-standin listening on'")
    assert int(starts) == 2


def test_rules_come_back_when_the_live_table_is_gone(host):
    host.check_output('nft delete table inet llm_gateway_ollama')
    scenario = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(scenario, '..', '..', '.cache', 'collections'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    proc = subprocess.run(['ansible-playbook', '-i', os.environ['MOLECULE_INVENTORY_FILE'],
                           os.path.join(scenario, 'converge.yml')], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0 and 'changed=1 ' in proc.stdout, proc.stdout[-2000:]
    assert 'Load the firewall rules again when the live table is gone' in proc.stdout
    host.check_output('nft list table inet llm_gateway_ollama')
    rc, out = from_client('10.219.77.200', 'http://10.219.77.2:11434/api/version')
    assert rc == 28, out
