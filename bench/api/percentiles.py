#!/usr/bin/env python3
"""Latency percentiles from h2load --log-file files (elapsed µs, status, duration µs per line).
One file: that run's figures. Several (rounds of the same run): the median of each figure across
them, the slowest request of all, and each round's p99 in p99_rounds.
usage: percentiles.py LOG [LOG...]"""
import json, statistics, sys

def summarise(path):
    durations, starts, bad = [], [], 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            start, status, duration = int(parts[0]), int(parts[1]), int(parts[2])
            if not 200 <= status < 300:
                bad += 1
            starts.append(start)
            durations.append(duration)
    durations.sort()
    n = len(durations)
    if n == 0:
        return {"requests": 0}
    pick = lambda q: durations[min(n - 1, int(q * n))] / 1000.0
    span = (max(starts) - min(starts)) / 1e6 or 1
    return {"requests": n, "non_2xx": bad, "rate": round(n / span, 1),
            "p50_ms": pick(0.50), "p99_ms": pick(0.99), "p999_ms": pick(0.999), "max_ms": durations[-1] / 1000.0}

def combine(runs):
    if len(runs) == 1:
        return runs[0]
    median = lambda k: round(statistics.median(r[k] for r in runs), 3)
    return {"rounds": len(runs), "requests": sum(r["requests"] for r in runs), "non_2xx": sum(r["non_2xx"] for r in runs),
            "rate": median("rate"), "p50_ms": median("p50_ms"), "p99_ms": median("p99_ms"), "p999_ms": median("p999_ms"),
            "max_ms": max(r["max_ms"] for r in runs), "p99_rounds": [r["p99_ms"] for r in runs]}

if __name__ == "__main__":
    print(json.dumps(combine([summarise(p) for p in sys.argv[1:]])))
