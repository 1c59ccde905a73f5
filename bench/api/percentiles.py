#!/usr/bin/env python3
"""Latency percentiles from an h2load --log-file (elapsed µs, status, duration µs per line)."""
import json, sys

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

if __name__ == "__main__":
    print(json.dumps(summarise(sys.argv[1])))
