#!/usr/bin/env python3
"""probe.py - commit -> /api/gold latency, for bench/freshness/run.sh.

    probe.py GOLD_URL SECONDS PSQL_ARGS...

Once a second it commits one probe order (a NEW event of branch 'Probe',
one INSERT statement, so one transaction) with psql, and notes when psql
returned: the commit happened before then, so each latency measured from
there is at most a psql exit short of the truth. A thread reads GOLD_URL
every POLL_MS (10 ms) and notes when gold's 'Probe' branch first counts
each probe. Prints one latency a line (seconds); probes gold never showed
within 30 s of the end are printed as 'lost'.
"""
import json
import subprocess
import sys
import threading
import time
import urllib.request

POLL_S = 0.010
SQL = ("WITH o AS (INSERT INTO orders (ordertime, branch) "
       "VALUES (localtimestamp, 'Probe') RETURNING orderid) "
       "INSERT INTO ordershistory (orderid, status, updatedat) "
       "SELECT orderid, 'NEW', localtimestamp FROM o")


def probe_count(url):
    """Gold's count of probe orders, or None when gold cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            doc = json.load(r)
    except (OSError, ValueError):
        return None
    for b in doc.get("branches", []):
        if b.get("branch") == "Probe":
            return b.get("orders_received", 0)
    return 0


def main():
    url, seconds, psql = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    committed = []          # time psql returned, per probe
    seen = {}               # probe index -> first time gold counted it
    done = threading.Event()
    base = probe_count(url) or 0

    def poll():
        while not done.is_set():
            n = probe_count(url)
            now = time.monotonic()
            if n is not None:
                for k in range(base, n):
                    seen.setdefault(k - base, now)
            time.sleep(POLL_S)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick = time.monotonic()
        subprocess.run(psql + ["-c", SQL], check=True,
                       stdout=subprocess.DEVNULL)
        committed.append(time.monotonic())
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    wait_end = time.monotonic() + 30
    while len(seen) < len(committed) and time.monotonic() < wait_end:
        time.sleep(0.05)
    done.set()
    t.join()
    for i, c in enumerate(committed):
        print("%.4f" % (seen[i] - c) if i in seen else "lost")


if __name__ == "__main__":
    main()
