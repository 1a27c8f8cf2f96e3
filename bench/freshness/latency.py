#!/usr/bin/env python3
"""latency.py - every event's commit -> /api/gold latency, for run.sh.

    latency.py OBSERVATIONS EVENTS [MINUTE_US]

OBSERVATIONS: gold-watch's lines "SEEN_US XID_BOUND SNAPSHOT_AT_US", one
per new watermark /api/gold showed, in the order seen. EVENTS: one line
per source event, "XID COMMIT_US" (the xid8 of its transaction and
pg_xact_commit_timestamp of it, in µs since the epoch).

Gold's watermark promises that every transaction with xid < xid_bound is
in gold; ingestion's bound is pg_snapshot_xmin of its snapshot, so every
xid below it had ended when the snapshot was taken (a transaction still
in progress then, even one with a smaller xid than a committed one, holds
the bound at its own xid until it ends). An event is reflected at the
first observation whose xid_bound is above its xid. Its latency is that
observation's SEEN_US minus its COMMIT_US, split into commit -> snapshot
(waiting for the next run's ingestion to take a snapshot that includes
it) and snapshot -> seen (that run's stages, and the poll).

Prints nearest-rank p50, p90, p99 and max, how many events were timed
and how many gold never reflected, the two parts' medians, and the
median of the first and last whole MINUTE_US (default 60 s) of commits.
"""
import bisect
import sys


def pct(sorted_values, p):
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return float("nan")
    i = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(i) - 1]


def read_observations(path):
    """(seen, reach, snapshot) lists; reach is the running max bound."""
    seen, reach, snap = [], [], []
    went_back = 0
    with open(path) as f:
        for line in f:
            s, bound, at = line.split()
            bound = int(bound)
            if reach and bound <= reach[-1]:
                went_back += 1
                continue
            seen.append(int(s))
            reach.append(bound)
            snap.append(int(at))
    return seen, reach, snap, went_back


def read_events(path):
    with open(path) as f:
        return [tuple(int(v) for v in line.split()) for line in f
                if line.strip()]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: latency.py OBSERVATIONS EVENTS [MINUTE_US]")
    minute = int(sys.argv[3]) if len(sys.argv) == 4 else 60_000_000
    seen, reach, snap, went_back = read_observations(sys.argv[1])
    events = read_events(sys.argv[2])
    if not events:
        sys.exit("latency.py: no events in %s" % sys.argv[2])
    total, waited, ran, lost = [], [], [], 0
    by_commit = []
    for xid, commit in events:
        i = bisect.bisect_right(reach, xid)
        if i == len(reach):
            lost += 1
            continue
        total.append(seen[i] - commit)
        waited.append(snap[i] - commit)
        ran.append(seen[i] - snap[i])
        by_commit.append((commit, seen[i] - commit))
    for v in (total, waited, ran):
        v.sort()
    ms = lambda us: "%.0f" % (us / 1000)
    print("commit -> /api/gold, every event (%d timed, %d not reflected "
          "by the end): p50 %s ms, p90 %s ms, p99 %s ms, max %s ms"
          % (len(total), lost, ms(pct(total, 50)), ms(pct(total, 90)),
             ms(pct(total, 99)), ms(pct(total, 100))))
    print("  commit -> the snapshot that took it: p50 %s ms, p90 %s ms; "
          "snapshot -> seen on /api/gold: p50 %s ms, p90 %s ms"
          % (ms(pct(waited, 50)), ms(pct(waited, 90)), ms(pct(ran, 50)),
             ms(pct(ran, 90))))
    by_commit.sort()
    start, end = by_commit[0][0], by_commit[-1][0]
    first = sorted(l for c, l in by_commit if c < start + minute)
    last = sorted(l for c, l in by_commit if c >= end - minute)
    print("  p50 of the first minute's commits %s ms, of the last "
          "minute's %s ms; %d watermarks seen%s"
          % (ms(pct(first, 50)), ms(pct(last, 50)), len(reach),
             ", %d went back (a bug)" % went_back if went_back else ""))


if __name__ == "__main__":
    main()
