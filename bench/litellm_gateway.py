"""Phase 2 benchmark: the public route (nginx + LiteLLM) vs direct to the Ollama
stand-in, and the collection's tuned LiteLLM settings vs LiteLLM's defaults,
measured side by side in one run.

Everything runs on this machine, in containers this script starts on a Docker
network of its own (internal: nothing leaves the machine) and removes at the
end, whatever happens. Names start with llm-gateway-bench-<run id>; nothing of
a demo or Molecule stack (llama-*, published ports) is touched, and no port is
published: the load goes from this process to the containers' addresses.

  stand-in   llm-gateway-test/ollama-standin (its /_standin/config hook sets the
             per-token delay for the streamed phase)
  default    LiteLLM as it comes: 1 worker, default logging, a minimal config
             with the same model (offline switches only: no cost-map fetch,
             no telemetry)
  role       the collection's settings: config.yaml rendered from
             roles/litellm/templates/config.yaml.j2 and the command and
             environment of the litellm service rendered from
             roles/stack/templates/docker-compose.yml.j2 (phase 2), both
             with the roles' defaults
  <cand>     optional candidates (--candidates a,b+c): the role's settings
             with one change (or several joined by +), to find better role
             settings; see CANDIDATES in bench/lab.py
Each LiteLLM sits behind its own nginx whose configuration is rendered from
roles/nginx/templates (phase 2, the public llm.<domain> server: an upstream
that keeps idle connections to LiteLLM), except that the per-client rate limit
is raised so the load is not answered 429.

Measured per path, side by side so that the noise of a shared machine hits all
paths alike (1 client: the paths take turns request by request; 16 clients:
rounds of a few seconds per path, order rotated), after a warm-up that reaches
every worker; every loop is bounded in count and time:
  - 1 client: p50/p99 latency of non-streamed chat completions
  - 16 clients: p50/p99 and requests per second (and the same at --high-concurrency, 64)
  - streamed, 1 and 16 clients: time to the first content token (the
    stand-in waits --token-delay-ms before each token)
  - CPU ms per request of each container (cgroup accounting) and the rest of
    the machine's load during each slice; from the CPU per request, an
    idle-machine estimate of each configuration's throughput, which the
    neighbours' load disturbs far less than the measured req/s
The load client is asyncio over raw keep-alive sockets; its ceiling is the
direct row (the stand-in is the cheapest server here).

Run with the test venv's Python (Ansible renders the roles' templates):
  bench/run.sh litellm [--candidates granian,workers3]
Prints a table and writes JSON (--out). The master key is random per run, kept
in a 0600 env file of the run's temporary folder and never printed.

This file is the entry point (bench/run.sh calls it); bench/lab.py holds the
containers, the network and the variants, bench/load.py the load client,
bench/report.py the JSON document and the table.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time

import yaml

from lab import CANDIDATES, MODEL, PUBLIC_HOST, REPO, Lab, build_variants, docker, log, render, set_token_delay, wait_ready
from load import Series, Target, run_sequential, run_slice
from report import make_report, print_table


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(REPO, 'bench', 'results', 'litellm_gateway.json'))
    ap.add_argument('--litellm-image', default='llm-gateway-test/litellm:latest')
    ap.add_argument('--nginx-image', default='llm-gateway-test/nginx:latest')
    ap.add_argument('--standin-image', default='llm-gateway-test/ollama-standin:latest')
    ap.add_argument('--candidates', default='', help='comma-separated, or "all": %s' % ', '.join(CANDIDATES))
    ap.add_argument('--rounds', type=int, default=4, help='interleaved rounds per phase')
    ap.add_argument('--c1-requests', type=int, default=300, help='requests per path, 1 client')
    ap.add_argument('--c16-seconds', type=float, default=4.0, help='seconds per path and round, 16 clients')
    ap.add_argument('--stream-requests', type=int, default=60, help='streams per path, 1 client')
    ap.add_argument('--stream-c16-seconds', type=float, default=3.0, help='seconds per path and round, 16 streams')
    ap.add_argument('--token-delay-ms', type=int, default=20)
    ap.add_argument('--concurrency', type=int, default=16)
    ap.add_argument('--high-concurrency', type=int, default=64,
                    help='also measure non-streamed throughput at this many clients (0: not)')
    ap.add_argument('--start-timeout', type=float, default=240, help='seconds for LiteLLM to become live')
    ap.add_argument('--max-seconds', type=float, default=1200, help='cap on the measuring phases')
    ap.add_argument('--goal-ratio', type=float, default=3.0)
    ap.add_argument('--p50-tolerance', type=float, default=0.05,
                    help='relative noise margin for "p50 no worse" (default 5%%)')
    args = ap.parse_args()
    candidates = list(CANDIDATES) if args.candidates == 'all' else [c for c in args.candidates.split(',') if c]
    unknown = [p for c in candidates for p in c.split('+') if p not in CANDIDATES]
    if unknown:
        ap.error('unknown candidates: %s (known: %s)' % (', '.join(unknown), ', '.join(CANDIDATES)))
    for image in (args.litellm_image, args.nginx_image, args.standin_image):
        if not docker('image', 'ls', '-q', image):
            raise SystemExit('image %s is missing: run tests/harness/run.sh images (make test builds it)' % image)

    started = time.monotonic()
    lab = Lab(secrets.token_hex(4))
    lab.remove_stale()
    subnet, gateway = lab.create_network()
    standin_name = lab.prefix + '-standin'
    standin = lab.run(standin_name, args.standin_image,
                      args=['--host', '0.0.0.0', '--port', '11434', '--models', MODEL + ':latest',
                            '--token-delay-ms', '0', '--name', 'bench'])
    wait_ready(standin.ip, 11434, '/_standin/state', 30, standin)

    log('rendering the roles\' templates')
    rendered = render(lab, subnet, gateway, ['default', 'role'] + candidates, standin_name)
    variants = build_variants(rendered, candidates)

    key = 'sk-' + secrets.token_hex(32)
    key_file = os.path.join(lab.tmp, 'litellm.env')
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write('LITELLM_MASTER_KEY=%s\n' % key)

    log('starting %d LiteLLM containers and their nginx' % len(variants))
    t_start = time.monotonic()
    for v in variants:
        cfg = os.path.join(lab.tmp, 'config-%s.yaml' % v.name)
        with open(cfg, 'w') as f:
            yaml.safe_dump(v.config, f, sort_keys=False)
        os.chmod(cfg, 0o644)
        v.litellm = lab.run(lab.litellm_name(v.name), args.litellm_image, args=v.args, env=v.env, env_file=key_file,
                            mounts=[(cfg, '/app/config.yaml')])
    for v in variants:
        v.nginx = lab.run(lab.nginx_name(v.name), args.nginx_image,
                          mounts=[(os.path.join(rendered, 'nginx.conf'), '/etc/nginx/nginx.conf'),
                                  (os.path.join(rendered, v.name, 'conf.d'), '/etc/nginx/conf.d')])
    for v in variants:
        wait_ready(v.litellm.ip, 4000, '/health/liveliness', args.start_timeout, v.litellm)
        v.ready_s = round(time.monotonic() - t_start, 1)
        log('%s live after %.1f s (all started together)' % (v.litellm.name, v.ready_s))

    targets = [Target('direct', 'direct to the stand-in (Ollama /api/chat)', standin.ip, 11434, 'ollama',
                      'localhost:11434', MODEL, containers=[('standin', standin)])]
    for v in variants:
        targets.append(Target(v.name, 'nginx + LiteLLM %s' % v.name, v.nginx.ip, 80, 'openai', PUBLIC_HOST, MODEL,
                              key=key, containers=[('litellm', v.litellm), ('nginx', v.nginx),
                                                   ('standin', standin)]))
    for v in variants:  # nginx's /health -> LiteLLM's liveliness
        wait_ready(v.nginx.ip, 80, '/health', 30, v.nginx, PUBLIC_HOST)

    deadline = time.perf_counter() + args.max_seconds
    conc = args.concurrency
    set_token_delay(standin, 0)
    # Warm-up: every worker's first requests are slow (lazy init), streams too.
    log('warming up (every worker, streamed and not)')
    for t in targets:
        for stream in (False, True):
            s = run_slice(t, conc, stream, 10 ** 6, 4.0 if not stream else 2.0, deadline)
            if len(s['lat']) == 0:
                raise RuntimeError('%s answers nothing during warm-up: %s %s' % (t.name, s['errors'][:3], s['samples']))

    phases = [
        ('c1', 1, False, args.c1_requests, False),
        ('c%d' % conc, conc, False, args.c16_seconds, False),
    ] + ([('c%d' % args.high_concurrency, args.high_concurrency, False, args.c16_seconds, False)]
         if args.high_concurrency > conc else []) + [
        ('stream_c1', 1, True, args.stream_requests, True),
        ('stream_c%d' % conc, conc, True, args.stream_c16_seconds, True),
    ]
    results = {}
    for phase, clients, stream, amount, ttft in phases:
        set_token_delay(standin, args.token_delay_ms if stream else 0)
        series = {t.name: Series() for t in targets}
        if clients == 1:
            log('phase %s: 1 client per path, %s, %d requests per path, paths taking turns' % (
                phase, 'streamed' if stream else 'not streamed', amount))
            for name, out in run_sequential(targets, stream, int(amount), deadline).items():
                series[name].add(out)
        else:
            log('phase %s: %d clients, %s, %d rounds of %.0f s per path' % (
                phase, clients, 'streamed' if stream else 'not streamed', args.rounds, amount))
            for r in range(args.rounds):
                order = targets[r % len(targets):] + targets[:r % len(targets)]
                for t in order:
                    series[t.name].add(run_slice(t, clients, stream, 10 ** 6, amount, deadline))
        results[phase] = {name: s.summary(ttft) for name, s in series.items()}
        set_token_delay(standin, 0)

    # Resident memory of each container once the load is over (the stand-in serves every path).
    rss = {v.name: {'litellm': v.litellm.rss_mb(), 'nginx': v.nginx.rss_mb()} for v in variants}
    rss['direct'] = {'standin': standin.rss_mb()}
    versions = {'images': {'litellm': args.litellm_image, 'nginx': args.nginx_image, 'standin': args.standin_image}}
    versions.update(json.loads(docker('exec', variants[0].litellm.name, 'python3', '-c', (
        'import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in '
        '("litellm", "uvicorn", "granian", "uvloop")}))'), check=False) or '{}'))
    versions['nginx'] = docker('exec', variants[0].nginx.name, 'sh', '-c', 'nginx -v 2>&1', check=False) or None
    elapsed = round(time.monotonic() - started, 1)
    report = make_report(args, variants, targets, results, rss, elapsed, conc)
    report['versions'] = versions
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    print_table(report, conc)
    log('results in %s; %.0f s in all (containers removed next)' % (args.out, elapsed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
