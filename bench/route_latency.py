"""Phase 1 benchmark: direct to Ollama (the stand-in) vs through the internal
route (llama-nginx), measured side by side in one run from a client container
on the Docker network, the way n8n calls it.

Runs inside a container on llama-network (see bench/run.sh). Requests are
interleaved (direct, route, direct, route, ...) so that drift hits both paths
alike. Bounded: N requests per path and a wall-clock cap.

Prints a table and writes JSON (--out).
"""

import argparse
import http.client
import json
import statistics
import sys
import time

BODY = json.dumps({'model': 'llama3', 'prompt': 'one two three four five six seven eight', 'stream': False})
STREAM_BODY = json.dumps({'model': 'llama3', 'prompt': 'one two three four five six seven eight'})


class Path:
    def __init__(self, name, host, port, host_header):
        self.name = name
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.headers = {'Host': host_header, 'Content-Type': 'application/json'}

    def plain(self):
        start = time.perf_counter()
        self.conn.request('POST', '/api/generate', BODY, self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - start
        if resp.status != 200 or b'"done":true' not in data.replace(b' ', b''):
            raise RuntimeError('%s answered %s: %r' % (self.name, resp.status, data[:200]))
        return elapsed

    def first_token(self):
        start = time.perf_counter()
        self.conn.request('POST', '/api/generate', STREAM_BODY, self.headers)
        resp = self.conn.getresponse()
        first = resp.readline()
        ttft = time.perf_counter() - start
        rest = resp.read()
        if resp.status != 200 or not first or b'"done":true' not in rest.replace(b' ', b''):
            raise RuntimeError('%s stream answered %s' % (self.name, resp.status))
        return ttft


def standin_delay(host, port, ms):
    """Set the stand-in's per-token delay through its test hook."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request('POST', '/_standin/config', json.dumps({'token_delay_ms': ms}), {'Content-Type': 'application/json'})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError('stand-in config answered %s' % resp.status)


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def measure(paths, fn, count, deadline):
    results = {p.name: [] for p in paths}
    for dummy in range(count):
        if time.monotonic() > deadline:
            break
        for p in paths:
            results[p.name].append(getattr(p, fn)() * 1000.0)
    return results


def summarize(results):
    return {name: {'n': len(v), 'p50_ms': round(pct(v, 50), 4), 'p99_ms': round(pct(v, 99), 4),
                   'mean_ms': round(statistics.mean(v), 4)} for name, v in results.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--direct', default='host.docker.internal:11434')
    ap.add_argument('--route', default='llama-nginx:80')
    ap.add_argument('--requests', type=int, default=2000)
    ap.add_argument('--stream-requests', type=int, default=100)
    ap.add_argument('--token-delay-ms', type=int, default=20)
    ap.add_argument('--max-seconds', type=float, default=240)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    dh, dp = args.direct.rsplit(':', 1)
    rh, rp = args.route.rsplit(':', 1)
    paths = [Path('direct', dh, int(dp), 'localhost:11434'), Path('route', rh, int(rp), rh)]
    deadline = time.monotonic() + args.max_seconds
    standin_delay(dh, int(dp), 0)
    measure(paths, 'plain', 50, deadline)  # warm-up: connections, nginx keepalive pool
    plain = summarize(measure(paths, 'plain', args.requests, deadline))
    standin_delay(dh, int(dp), args.token_delay_ms)
    try:
        stream = summarize(measure(paths, 'first_token', args.stream_requests, deadline))
    finally:
        standin_delay(dh, int(dp), 0)
    report = {
        'benchmark': 'internal route (llama-nginx) vs direct to Ollama stand-in',
        'non_streamed': plain,
        'added_p50_ms': round(plain['route']['p50_ms'] - plain['direct']['p50_ms'], 4),
        'added_p99_ms': round(plain['route']['p99_ms'] - plain['direct']['p99_ms'], 4),
        'streamed_first_token': stream,
        'ttft_added_p50_ms': round(stream['route']['p50_ms'] - stream['direct']['p50_ms'], 4),
        'token_delay_ms': args.token_delay_ms,
        'goals': {'added_p50_ms': 0.3, 'added_p99_ms': 1.0, 'ttft_added_ms': 2.0},
    }
    report['goals_met'] = (report['added_p50_ms'] <= 0.3 and report['added_p99_ms'] <= 1.0
                           and report['ttft_added_p50_ms'] <= 2.0)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    print('%-28s %10s %10s %10s' % ('path', 'n', 'p50 ms', 'p99 ms'))
    for kind, table in (('non-streamed', plain), ('first token (streamed)', stream)):
        for name, row in table.items():
            print('%-28s %10d %10.3f %10.3f' % ('%s %s' % (kind, name), row['n'], row['p50_ms'], row['p99_ms']))
    print('added by the route: p50 %.3f ms, p99 %.3f ms; first token p50 %+.3f ms; goals met: %s' % (
        report['added_p50_ms'], report['added_p99_ms'], report['ttft_added_p50_ms'], report['goals_met']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
