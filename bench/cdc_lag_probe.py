#!/usr/bin/env python3
"""End-to-end lag probe for bench/cdc_lag_bench.sh (python3 stdlib + the psql binary only).

Usage: cdc_lag_probe.py --source CONNINFO --target CONNINFO --seconds N
                        [--table lag_probe] [--interval 0.1] [--poll 0.01] [--drain 60]

Every --interval seconds it inserts (seq, clock_timestamp()) into --table on the source, one
autocommit transaction per probe, from seq = max(seq) + 1. Meanwhile it polls the target for
the highest seq present, with the target server's clock_timestamp() at that moment, every
--poll seconds. A probe's lag is the time of the first poll that saw it (or a higher seq: the
replica applies in commit order, and probes commit in seq order) minus its insert time. Both
clocks are the same machine's (source and target run on one host), so no skew correction.

After --seconds it stops inserting and waits up to --drain seconds for the last probe to
arrive. Prints one line on stdout:
  probes=N arrived=M p50_ms=.. p95_ms=.. p99_ms=.. max_ms=.. mean_ms=..
and, with --dump FILE, every probe's "seq insert_epoch arrival_epoch lag_ms" to FILE.
Exit status 0 when every probe arrived, 1 otherwise, 2 on a setup error.
"""
import argparse
import math
import subprocess
import sys
import threading
import time


class Psql:
    """One long-lived psql session: send a statement, read its single result line."""

    def __init__(self, conninfo):
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)

    def query(self, sql):
        self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise RuntimeError("psql ended: " + err.strip())
        return line.rstrip("\n")

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - best effort at exit
            self.proc.kill()


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--table", default="lag_probe")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--poll", type=float, default=0.01)
    ap.add_argument("--drain", type=float, default=60.0)
    ap.add_argument("--dump")
    args = ap.parse_args()

    try:
        src = Psql(args.source)
        dst = Psql(args.target)
        first = int(src.query(f"SELECT coalesce(max(seq), 0) + 1 FROM {args.table}"))
        dst.query(f"SELECT coalesce(max(seq), 0) FROM {args.table}")
    except Exception as e:  # noqa: BLE001
        print(f"probe: setup failed: {e}", file=sys.stderr)
        return 2

    inserted = {}  # seq -> insert epoch (source clock)
    arrived = {}   # seq -> arrival epoch (target clock)
    stop_insert = threading.Event()
    insert_error = []

    def inserter():
        seq = first
        next_at = time.monotonic()
        deadline = next_at + args.seconds
        try:
            while not stop_insert.is_set() and time.monotonic() < deadline:
                t = src.query(f"INSERT INTO {args.table} (seq, t) VALUES ({seq}, clock_timestamp())"
                              " RETURNING extract(epoch FROM t)")
                inserted[seq] = float(t)
                seq += 1
                next_at += args.interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except Exception as e:  # noqa: BLE001
            insert_error.append(str(e))

    thread = threading.Thread(target=inserter)
    thread.start()
    seen = first - 1
    drain_deadline = None
    try:
        while True:
            row = dst.query(f"SELECT coalesce(max(seq), 0) || ' ' || "
                            f"extract(epoch FROM clock_timestamp()) FROM {args.table}")
            top_text, at_text = row.split()
            top, at = int(top_text), float(at_text)
            for s in range(seen + 1, top + 1):
                arrived[s] = at
            seen = max(seen, top)
            if not thread.is_alive():
                last = max(inserted) if inserted else first - 1
                if seen >= last:
                    break
                if drain_deadline is None:
                    drain_deadline = time.monotonic() + args.drain
                elif time.monotonic() > drain_deadline:
                    break
            time.sleep(args.poll)
    except Exception as e:  # noqa: BLE001
        print(f"probe: polling the target failed: {e}", file=sys.stderr)
    stop_insert.set()
    thread.join()
    src.close()
    dst.close()
    if insert_error:
        print(f"probe: inserting failed: {insert_error[0]}", file=sys.stderr)

    lags = []
    rows = []
    for s in sorted(inserted):
        if s in arrived:
            lag = max(0.0, arrived[s] - inserted[s]) * 1000.0
            lags.append(lag)
            rows.append(f"{s} {inserted[s]:.6f} {arrived[s]:.6f} {lag:.1f}")
        else:
            rows.append(f"{s} {inserted[s]:.6f} - -")
    if args.dump:
        with open(args.dump, "w") as f:
            f.write("\n".join(rows) + "\n")
    lags.sort()
    mean = sum(lags) / len(lags) if lags else float("nan")
    print(f"probes={len(inserted)} arrived={len(lags)} p50_ms={percentile(lags, 50):.0f} "
          f"p95_ms={percentile(lags, 95):.0f} p99_ms={percentile(lags, 99):.0f} "
          f"max_ms={(lags[-1] if lags else float('nan')):.0f} mean_ms={mean:.0f}")
    return 0 if len(lags) == len(inserted) and not insert_error else 1


if __name__ == "__main__":
    sys.exit(main())
