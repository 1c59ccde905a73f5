#!/usr/bin/env python3
"""bench/faults.sh's report: per fault and per use case, the answers by status during the fault
and in the 12 s after it, p99 during and after, and the time to recover, from h2load's
--log-file files (start µs, status, duration µs per request) and the fault timeline.

Recovery: from the fault's end to the end of the last request of the after-window that failed
(not 2xx) or took over 10x the baseline p99 (at least 20 ms); 0 when none did.
usage: report.py events.tsv load_start_us out_dir still_up header load_after"""
import os, sys

events_file, load_start, out, still_up, header, load_after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
AFTER_US = 12_000_000
CASES = [("UC1", "uc1.log"), ("UC5", "uc5.log"), ("UC2", "uc2.log")]

def read(path):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 3:
                continue
            start, status, duration = int(p[0]), int(p[1]), int(p[2])
            if start < 10**12:          # h2load versions that log time since the run's start
                start += load_start
            rows.append((start, status, duration))
    return rows

def p99(durations):
    if not durations:
        return "–"
    d = sorted(durations)
    return f"{d[min(len(d) - 1, int(0.99 * len(d)))] / 1000:.1f}"

def statuses(rows):
    counts = {}
    for _, s, _ in rows:
        counts[s] = counts.get(s, 0) + 1
    return ", ".join(f"{k}×{v}" for k, v in sorted(counts.items())) or "–"

events = [l.rstrip("\n").split("\t") for l in open(events_file) if l.strip()]
logs = {name: read(os.path.join(out, f)) for name, f in CASES}
first_fault = int(events[0][1]) if events else 0
baseline = {name: [d for t, s, d in rows if t < first_fault] for name, rows in logs.items()}

print("# Fault bench")
print()
print(header)
print(f"Load average at the end: {load_after}. Servers of the bench's own (PostgreSQL, redis-server); the API as deployed")
print("(Release, near cache on, Redis budget 250 ms, circuit 3 failures / 2 s).")
print()
print("| use case | baseline requests | baseline statuses | baseline p99 ms |")
print("|---|---|---|---|")
for name, _ in CASES:
    rows = [r for r in logs[name] if r[0] < first_fault]
    print(f"| {name} | {len(rows)} | {statuses(rows)} | {p99(baseline[name])} |")
print()
print("| fault | use case | fault lasted s | statuses during | statuses in the 12 s after | p99 during ms | p99 after ms | recovered after s | 5xx other than 503 | process up |")
print("|---|---|---|---|---|---|---|---|---|---|")
verdict = []
for name_, start, end, up in events:
    start, end = int(start), int(end)
    for name, _ in CASES:
        rows = logs[name]
        during = [r for r in rows if start <= r[0] <= end]
        after = [r for r in rows if end < r[0] <= end + AFTER_US]
        slow = max(20_000, 10 * (sorted(baseline[name])[int(0.99 * len(baseline[name]))] if baseline[name] else 0))
        bad_ends = [t + d for t, s, d in rows if start <= t <= end + AFTER_US and (not 200 <= s < 300 or d > slow)]
        recovered = max(0.0, (max(bad_ends) - end) / 1e6) if bad_ends else 0.0
        other_5xx = sum(1 for _, s, _ in during + after if s >= 500 and s != 503)
        print(f"| {name_} | {name} | {(end - start) / 1e6:.1f} | {statuses(during)} | {statuses(after)} | "
              f"{p99([d for _, _, d in during])} | {p99([d for _, _, d in after])} | {recovered:.1f} | {other_5xx} | {up} |")
        verdict.append((name_, name, recovered, other_5xx, up))
print()
print("## Verdict")
print()
exits = sum(1 for v in verdict if v[4] != "yes") + (0 if still_up == "yes" else 1)
print(f"- Process exits: {'none' if exits == 0 else 'THE PROCESS WENT DOWN'} (checked after each fault and at the end: {still_up}).")
print(f"- 5xx other than 503: {sum(v[3] for v in verdict)}.")
slowest = max(verdict, key=lambda v: v[2]) if verdict else None
if slowest:
    print(f"- Slowest recovery: {slowest[2]:.1f} s ({slowest[1]} after \"{slowest[0]}\"); target ≤ 2 s: "
          f"{'met' if slowest[2] <= 2 else 'missed'} ({sum(1 for v in verdict if v[2] > 2)} of {len(verdict)} rows over 2 s).")
print()
print("## Reading these figures")
print("- 503 is the API's answer (with Retry-After) for a record in neither the near cache nor Redis while PostgreSQL")
print("  is down; h2load does not keep headers, the Retry-After itself is checked by PostgresDownTests.")
print("- \"Recovered after\": from the end of the fault to the end of the last request, within the 12 s after it, that")
print("  failed or took over 10x the baseline p99 (at least 20 ms).")
print("- Per-request logs: bench/out/faults-*/ (not committed).")
