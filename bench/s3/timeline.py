#!/usr/bin/env python3
"""timeline.py - where an S3 stage's time goes, from `strace -f -tt -s 200`
of it (bench/s3/run.sh with TRACE=DIR writes one per stage).

Prints the stage's span and its S3 requests in phases: the requests of one
kind (method, table, data or log) sent within MAX_GAP_MS of each other
(default 50), with when each phase started and ended (seconds from the
first traced call), the gap before it (no request sent: computing, or
waiting on the answers of the phase before; "overlap" when it began before
the last one ended, as two tables' uploads on two threads do) and how many
requests it holds. strace slows the process several times: read the
shape, not the figures.

Usage: timeline.py STAGE.strace [MAX_GAP_MS]
"""
import re
import sys

REQ = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) /([^/ ?]+)/?([^ ?]*)(\?[^ ]*)? HTTP')
LINE = re.compile(r'(\d+)\s+(\d+):(\d+):(\d+\.\d+)\s+(.*)')


def kind_of(method, key, query):
    """GET bronze/orders data, PUT silver/allorders log, LIST gold/x log"""
    if query and 'list-type' in query:
        p = re.search(r'prefix=([^&]*)', query)
        key = p.group(1).replace('%2F', '/') if p else ''
        method = 'LIST'
    parts = key.replace('%3D', '=').split('/')
    table = '/'.join(parts[1:3]) if len(parts) > 2 else key
    what = 'log' if '_delta_log' in key else 'data'
    return '%s %s %s' % (method, table, what)


def main():
    max_gap = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.05
    t0 = end = None
    reqs = []
    for line in open(sys.argv[1], errors='replace'):
        m = LINE.match(line)
        if not m:
            continue
        t = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))
        t0 = t if t0 is None else t0
        end = t
        call = m.group(5)
        r = REQ.search(call)
        if r and (call.startswith('sendto') or call.startswith('write')):
            reqs.append((t - t0, kind_of(r.group(1), r.group(3), r.group(4))))
    if t0 is None:
        print('no trace')
        return
    print('%.3f s traced, %d S3 requests' % (end - t0, len(reqs)))
    phases = []
    for t, k in reqs:
        for ph in reversed(phases):
            if ph[3] == k and t - ph[1] <= max_gap:
                ph[1] = t
                ph[2] += 1
                break
        else:
            phases.append([t, t, 1, k])
    prev = 0.0
    print('   start      end      gap  count  requests')
    for s, e, n, k in phases:
        gap = '%8.3f' % (s - prev) if s >= prev else ' overlap'
        print('%8.3f %8.3f %s %6d  %s' % (s, e, gap, n, k))
        prev = max(prev, e)
    print('%8.3f %8s %8.3f %6s  (exit)' % (end - t0, '', end - t0 - prev, ''))


if __name__ == '__main__':
    main()
