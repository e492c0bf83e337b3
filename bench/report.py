"""The benchmark's report: the JSON document (figures, goals, estimates) and the table printed."""

from __future__ import annotations

import os


def make_report(args, variants, targets, results, rss, elapsed, conc):
    cN = 'c%d' % conc
    base = results[cN]['default']
    report = {
        'benchmark': 'public route (nginx + LiteLLM) vs direct to the Ollama stand-in; '
                     "the collection's LiteLLM settings vs LiteLLM's defaults",
        'machine': {'cpus': os.cpu_count(), 'load_client': 'asyncio, raw HTTP/1.1 keep-alive sockets, same machine'},
        'settings': {'rounds': args.rounds, 'c1_requests_per_path': args.c1_requests,
                     'c%d_seconds_per_round' % conc: args.c16_seconds,
                     'stream_c1_requests_per_path': args.stream_requests,
                     'stream_c%d_seconds_per_round' % conc: args.stream_c16_seconds,
                     'token_delay_ms': args.token_delay_ms, 'stream_tokens': 4,
                     'nginx_rate_limit': 'raised to 100000r/s (one client address sends all the load)'},
        'paths': {t.name: t.label for t in targets},
        'variants': {v.name: {'about': v.about, 'command': v.args, 'environment': dict(v.env),
                              'config': v.config, 'live_after_s': v.ready_s,
                              'memory_mb_after': rss.get(v.name)} for v in variants},
        'memory_mb_after_load': rss,
        'results': results,
        'run_seconds': elapsed,
    }

    ncpu = os.cpu_count() or 1

    def workers(v):
        value = v.env.get('NUM_WORKERS', '1')
        if '--num_workers' in v.args:
            value = v.args[v.args.index('--num_workers') + 1]
        return int(value)

    def estimate(v):
        """Requests per second this machine could serve with nothing else on it:
        LiteLLM's workers each use at most one CPU, and LiteLLM and nginx share
        all CPUs (the stand-in and the load client are left out: elsewhere in
        real use). From the measured CPU ms per request at 16 clients, which
        depend far less on the neighbours' load than throughput does."""
        cpu = results[cN][v.name].get('cpu_ms_per_request', {})
        ll, ng = cpu.get('litellm'), cpu.get('nginx')
        if not ll or ng is None:
            return None
        return round(min(min(workers(v), ncpu) * 1000.0 / ll, ncpu * 1000.0 / (ll + ng)), 1)
    estimates = {v.name: estimate(v) for v in variants}
    report['idle_machine_estimate_rps'] = estimates
    report['idle_machine_estimate_note'] = (
        'min(workers, CPUs) / LiteLLM CPU per request, capped by CPUs / (LiteLLM + nginx CPU per request); '
        'CPU per request measured at %d clients; an upper bound, not a measurement' % conc)

    def compare(name):
        row, c1 = results[cN][name], results['c1']
        ratio = round(row['rps'] / base['rps'], 2) if base['rps'] and row['rps'] else None
        est = (round(estimates[name] / estimates['default'], 2)
               if estimates.get(name) and estimates.get('default') else None)
        tol = 1 + args.p50_tolerance
        p50_c1_ok = c1[name]['p50_ms'] is not None and c1[name]['p50_ms'] <= c1['default']['p50_ms'] * tol
        p50_cN_ok = row['p50_ms'] is not None and row['p50_ms'] <= base['p50_ms'] * tol
        return {'throughput_ratio_vs_default': ratio, 'idle_machine_estimate_ratio': est,
                'litellm_cpu_ms_per_request': row.get('cpu_ms_per_request', {}).get('litellm'),
                'litellm_cpu_ms_per_request_default': base.get('cpu_ms_per_request', {}).get('litellm'),
                'p50_c1_ms': c1[name]['p50_ms'], 'p50_c1_default_ms': c1['default']['p50_ms'],
                'p50_%s_ms' % cN: row['p50_ms'], 'p50_%s_default_ms' % cN: base['p50_ms'],
                'p50_no_worse': bool(p50_c1_ok and p50_cN_ok),
                'goal_met': bool(ratio is not None and ratio >= args.goal_ratio and p50_c1_ok and p50_cN_ok)}

    report['goal'] = {'throughput_ratio': args.goal_ratio, 'at_clients': conc,
                      'p50_no_worse': 'at 1 and %d clients, within %d%% noise margin' % (
                          conc, round(args.p50_tolerance * 100))}
    report['role_vs_default'] = compare('role')
    report['candidates_vs_default'] = {v.name: compare(v.name) for v in variants
                                       if v.name not in ('default', 'role')}
    report['goal_met'] = report['role_vs_default']['goal_met']
    other = [row.get('other_load_cpus') for phase in results.values() for row in phase.values()
             if row.get('other_load_cpus') is not None]
    report['other_load_cpus_max'] = max(other) if other else None
    report['machine_was_busy'] = bool(other and max(other) > 0.3)
    direct, c1 = results['c1']['direct'], results['c1']
    report['added_by_gateway_c1_p50_ms'] = {
        name: round(c1[name]['p50_ms'] - direct['p50_ms'], 3) for name in c1 if name != 'direct'}
    st = results['stream_c1']
    report['ttft_added_c1_p50_ms'] = {
        name: round(st[name]['ttft_p50_ms'] - st['direct']['ttft_p50_ms'], 3)
        for name in st if name != 'direct' and st[name].get('ttft_p50_ms') is not None
        and st['direct'].get('ttft_p50_ms') is not None}
    return report


def print_table(report, conc):
    res = report['results']
    cN, sN = 'c%d' % conc, 'stream_c%d' % conc
    width = max(10, max(len(n) for n in res['c1']))
    head = ('%-*s %7s %7s %8s | %7s %8s %8s %7s | %8s %8s | %8s %8s | %6s %6s %5s' % (
        width, 'path', 'c1 n', 'c1 p50', 'c1 p99', '%s n' % cN, '%s p50' % cN, '%s p99' % cN, 'req/s',
        'TTFT c1', 'p99', 'TTFT c%d' % conc, 'p99', 'LL ms', 'ng ms', 'other'))
    print()
    print('latencies in ms; TTFT = first streamed token (stand-in: %d ms per token); '
          'LL/ng ms = LiteLLM/nginx CPU ms per request at %d clients; other = CPUs busy outside the bench\'s '
          'containers and client (other users, dockerd, kernel)' % (
              report['settings']['token_delay_ms'], conc))
    print(head)
    print('-' * len(head))
    for name in res['c1']:
        a, b, s1, sN_ = res['c1'][name], res[cN][name], res['stream_c1'][name], res[sN][name]
        cpu = b.get('cpu_ms_per_request', {})

        def f(x, fmt='%8.1f'):
            return fmt % x if x is not None else ' ' * (len(fmt % 0))
        print('%-*s %7d %7.2f %8.2f | %7d %8.1f %8.1f %7.1f | %s %s | %s %s | %s %s %5s' % (
            width, name, a['n'], a['p50_ms'] or 0, a['p99_ms'] or 0, b['n'], b['p50_ms'] or 0, b['p99_ms'] or 0,
            b['rps'] or 0, f(s1.get('ttft_p50_ms')), f(s1.get('ttft_p99_ms')), f(sN_.get('ttft_p50_ms')),
            f(sN_.get('ttft_p99_ms')), f(cpu.get('litellm'), '%6.2f'), f(cpu.get('nginx'), '%6.2f'),
            '%.2f' % b['other_load_cpus'] if b.get('other_load_cpus') is not None else ''))
        errs = sum(res[p][name]['errors'] for p in res)
        if errs:
            kinds = sorted({k for p in res for k in res[p][name].get('error_kinds', [])})
            print('  ^ %d failed requests: %s' % (errs, kinds))
    for phase in sorted((p for p in res if p.startswith('c') and p not in ('c1', cN)), key=lambda p: int(p[1:])):
        print('at %s clients, not streamed: %s' % (phase[1:], ', '.join(
            '%s %.1f req/s (p50 %.1f, p99 %.1f ms)' % (name, row['rps'] or 0, row['p50_ms'] or 0, row['p99_ms'] or 0)
            for name, row in res[phase].items())))
    print('memory after the load (MB resident): %s' % ', '.join(
        '%s: %s' % (name, ' '.join('%s %s' % (c, mb) for c, mb in mem.items()))
        for name, mem in report['memory_mb_after_load'].items()))
    rv = report['role_vs_default']
    est = report['idle_machine_estimate_rps']
    print()
    print('idle-machine estimate (req/s from CPU per request, an upper bound): %s' % ', '.join(
        '%s %s' % (k, v) for k, v in est.items()))
    if report['machine_was_busy']:
        print('NOTE: other work on this machine used up to %.2f CPUs during the run: throughput figures are '
              'depressed and noisy; compare the CPU per request and the estimate' % report['other_load_cpus_max'])
    print('role vs default at %d clients: %.2fx the throughput (goal %.1fx; idle-machine estimate %sx); '
          'p50 c1 %.2f vs %.2f ms, c%d %.1f vs %.1f ms -> goal met: %s' % (
              conc, rv['throughput_ratio_vs_default'] or 0, report['goal']['throughput_ratio'],
              rv['idle_machine_estimate_ratio'], rv['p50_c1_ms'], rv['p50_c1_default_ms'], conc,
              rv['p50_%s_ms' % cN], rv['p50_%s_default_ms' % cN], report['goal_met']))
    for name, c in report['candidates_vs_default'].items():
        print('candidate %s: %.2fx the default throughput (estimate %sx), p50 c1 %.2f ms, c%d %.1f ms '
              '(goal met: %s)' % (name, c['throughput_ratio_vs_default'] or 0, c['idle_machine_estimate_ratio'],
                                  c['p50_c1_ms'], conc, c['p50_%s_ms' % cN], c['goal_met']))
