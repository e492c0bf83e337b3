"""The benchmark's load client: asyncio, raw HTTP/1.1 over keep-alive sockets.

1 client: the paths take turns request by request (order rotated each turn); several clients:
slices of a few seconds per path. Every loop is bounded in count and time. Each slice also
measures the CPU used by the path's containers (cgroup accounting), by this process, and by
the whole machine, so that the rest of the machine's load can be told apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import socket
import statistics
import time

PROMPT = 'one two three four five six seven eight'
CONTENT_RE = re.compile(rb'"content"\s*:\s*"[^"]')


def host_cpu():
    """(busy, total) jiffies of the whole machine."""
    with open('/proc/stat') as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


# ----------------------------------------------------------------------------
# Load client: asyncio, raw HTTP/1.1 over keep-alive sockets
# ----------------------------------------------------------------------------

class Target:
    """One path under test: where to send, what, and how to check the answer."""

    def __init__(self, name, label, ip, port, kind, host_header, model, key=None, containers=()):
        self.name, self.label, self.ip, self.port, self.kind = name, label, ip, port, kind
        self.containers = list(containers)  # (role, Container) whose CPU is accounted to this path
        headers = ['Host: %s' % host_header, 'Content-Type: application/json', 'Accept: */*',
                   'User-Agent: llm-gateway-bench']
        if key:
            headers.append('Authorization: Bearer %s' % key)
        self._head = '\r\n'.join(headers)
        self.requests = {}
        for stream in (False, True):
            if kind == 'ollama':
                path = '/api/chat'
                body = {'model': model, 'messages': [{'role': 'user', 'content': PROMPT}], 'stream': stream}
                if stream:
                    body['options'] = {'num_predict': 4}
            else:
                path = '/v1/chat/completions'
                body = {'model': model, 'messages': [{'role': 'user', 'content': PROMPT}], 'stream': stream}
                if stream:
                    body['max_tokens'] = 4
            raw = json.dumps(body).encode()
            self.requests[stream] = ('POST %s HTTP/1.1\r\n%s\r\nContent-Length: %d\r\n\r\n' % (
                path, self._head, len(raw))).encode() + raw

    def ok(self, status, body, stream):
        if status != 200:
            return False
        if not stream:
            return b'Stand-in answer' in body
        flat = body.replace(b' ', b'')
        return (b'"done":true' in flat) if self.kind == 'ollama' else (b'[DONE]' in body)


class Conn:
    def __init__(self, target):
        self.target = target
        self.reader = self.writer = None

    async def open(self):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.target.ip, self.target.port), 10)
        self.writer.get_extra_info('socket').setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def exchange(self, stream):
        """One request; returns (status, body, seconds, seconds to first content or None)."""
        t0 = time.perf_counter()
        self.writer.write(self.target.requests[stream])
        head = await self.reader.readuntil(b'\r\n\r\n')
        status = int(head[9:12])
        lower = head.lower()
        first = None
        if b'transfer-encoding: chunked' in lower:
            body = bytearray()
            while True:
                line = await self.reader.readuntil(b'\r\n')
                size = int(line.split(b';', 1)[0], 16)
                if size == 0:
                    await self.reader.readuntil(b'\r\n')
                    break
                start = max(0, len(body) - 32)
                body += (await self.reader.readexactly(size + 2))[:-2]
                if first is None and CONTENT_RE.search(body, start):
                    first = time.perf_counter() - t0
        else:
            m = re.search(rb'\r\ncontent-length:\s*(\d+)', lower)
            if m:
                body = await self.reader.readexactly(int(m.group(1)))
            else:  # neither length nor chunks: the body ends with the connection
                body = await self.reader.read()
                lower += b'\r\nconnection: close'
            if CONTENT_RE.search(body):
                first = time.perf_counter() - t0
        elapsed = time.perf_counter() - t0
        if b'\r\nconnection: close' in lower:
            self.close()
        return status, bytes(body), elapsed, first


async def _one(conn, stream, out):
    """One request on a keep-alive connection, recorded in out."""
    if conn.writer is None:
        await conn.open()
    try:
        status, body, elapsed, first = await asyncio.wait_for(conn.exchange(stream), 60)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, ValueError) as exc:
        conn.close()
        out['errors'].append(type(exc).__name__)
        return
    if conn.target.ok(status, body, stream):
        out['lat'].append(elapsed * 1000.0)
        if first is not None:
            out['ttft'].append(first * 1000.0)
    else:
        out['errors'].append('HTTP %d' % status)
        if len(out['samples']) < 3:
            out['samples'].append(body[:300].decode('utf-8', 'replace'))


def run_sequential(targets, stream, count, glob_deadline):
    """One client per path, the paths taking turns request by request (order
    rotated each turn), so that drift on a shared machine hits them alike."""
    outs = {t.name: {'lat': [], 'ttft': [], 'errors': [], 'samples': [], 'cpu': {}} for t in targets}

    async def main():
        conns = [Conn(t) for t in targets]
        try:
            for i in range(count):
                if time.perf_counter() >= glob_deadline:
                    break
                k = i % len(conns)
                for conn in conns[k:] + conns[:k]:
                    await _one(conn, stream, outs[conn.target.name])
        finally:
            for conn in conns:
                conn.close()
    asyncio.run(main())
    for out in outs.values():
        out['wall'] = sum(out['lat']) / 1000.0
    return outs


async def client_loop(target, stream, count, deadline, out):
    conn = Conn(target)
    try:
        for dummy in range(count):
            if time.perf_counter() >= deadline:
                break
            await _one(conn, stream, out)
    finally:
        conn.close()


def run_slice(target, clients, stream, count, seconds, glob_deadline):
    """Run `clients` concurrent keep-alive clients, each up to `count` requests,
    for at most `seconds`. Returns latencies, errors, wall time and CPU use."""
    out = {'lat': [], 'ttft': [], 'errors': [], 'samples': []}
    deadline = min(time.perf_counter() + seconds, glob_deadline)
    cpu0 = {role: c.cpu_ns() for role, c in target.containers}
    host0 = host_cpu()
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()

    async def main():
        await asyncio.gather(*(client_loop(target, stream, count, deadline, out) for dummy in range(clients)))
    asyncio.run(main())
    wall = time.perf_counter() - t0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    host1 = host_cpu()
    cpu = {}
    for role, c in target.containers:
        after = c.cpu_ns()
        cpu[role] = None if after is None or cpu0[role] is None else (after - cpu0[role]) / 1e9
    cpu['client'] = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    ncpu = os.cpu_count() or 1
    busy, total = host1[0] - host0[0], host1[1] - host0[1]
    cpu['machine'] = busy / total * ncpu * wall if total else None  # CPU-seconds used on the whole machine
    out.update(wall=wall, cpu=cpu)
    return out


class Series:
    """Accumulates slices of one (path, phase)."""

    def __init__(self):
        self.lat, self.ttft, self.errors, self.samples = [], [], [], []
        self.wall = 0.0
        self.cpu = {}

    def add(self, s):
        self.lat += s['lat']
        self.ttft += s['ttft']
        self.errors += s['errors']
        self.samples += s['samples'][:3 - len(self.samples)]
        self.wall += s['wall']
        for key, value in s['cpu'].items():
            if value is None or self.cpu.get(key, 0) is None:
                self.cpu[key] = None
            else:
                self.cpu[key] = self.cpu.get(key, 0) + value

    def summary(self, ttft):
        def pct(values, p):
            values = sorted(values)
            if not values:
                return None
            k = (len(values) - 1) * p / 100.0
            lo, hi = int(k), min(int(k) + 1, len(values) - 1)
            return round(values[lo] + (values[hi] - values[lo]) * (k - lo), 3)
        n = len(self.lat)
        row = {'n': n, 'errors': len(self.errors), 'seconds': round(self.wall, 2),
               'p50_ms': pct(self.lat, 50), 'p99_ms': pct(self.lat, 99),
               'mean_ms': round(statistics.mean(self.lat), 3) if n else None,
               'rps': round(n / self.wall, 1) if self.wall else None}
        if ttft:
            row.update(ttft_p50_ms=pct(self.ttft, 50), ttft_p99_ms=pct(self.ttft, 99), ttft_n=len(self.ttft))
        if self.errors:
            row['error_kinds'] = sorted(set(self.errors))
            row['error_samples'] = self.samples
        total = len(self.lat) + len(self.errors)
        if total:
            cpu_ms = {}
            busy_bench = 0.0
            for key, value in self.cpu.items():
                if key == 'machine' or value is None:
                    continue
                cpu_ms[key] = round(value * 1000.0 / total, 3)
                busy_bench += value
            row['cpu_ms_per_request'] = cpu_ms
            if self.cpu.get('machine') is not None and self.wall:
                row['machine_cpus_busy'] = round(self.cpu['machine'] / self.wall, 2)
                row['other_load_cpus'] = round(max(0.0, self.cpu['machine'] - busy_bench) / self.wall, 2)
        return row
