#!/usr/bin/env python3
"""UC6 and export timings: bulk lookups of 10,000 ISDNs with every record in Redis (all-hit) or
none (all-miss: their rec keys unlinked first), each list different so the bulk answer cache is
never what is measured; then the LOW-risk export. Prints JSON."""
import json, random, statistics, subprocess, sys, time, urllib.request

base, key, isdn_file, redis_port, ns, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
isdns = [l.strip() for l in open(isdn_file) if l.strip()]
rng = random.Random(42)

def post(body):
    req = urllib.request.Request(base + "/api/v1/recommendations/bulk", data=body, method="POST",
                                 headers={"X-Api-Key": key, "Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        data = r.read()
    return (time.perf_counter() - t) * 1000, json.loads(data)

def unlink(keys):
    for i in range(0, len(keys), 2000):
        subprocess.run(["redis-cli", "-p", redis_port, "UNLINK", *keys[i:i + 2000]], check=True, stdout=subprocess.DEVNULL)

def bulk(miss):
    times = []
    for _ in range(runs):
        sample = rng.sample(isdns, 10000)
        if miss:
            unlink([f"{ns}:rec:{i}" for i in sample])
        else:
            # Put every record in Redis through two half lists, so the whole list itself is not
            # a cached bulk answer yet.
            post(json.dumps({"isdns": sample[:5000]}).encode())
            post(json.dumps({"isdns": sample[5000:]}).encode())
        ms, answer = post(json.dumps({"isdns": sample}).encode())
        assert answer["requested"] == 10000 and not answer["cached"], answer["requested"]
        times.append(ms)
    return {"runs": runs, "p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "all_ms": [round(t, 1) for t in times]}

def export():
    times, lines = [], 0
    for _ in range(runs):
        req = urllib.request.Request(base + "/api/v1/risk/LOW/export?format=csv", headers={"X-Api-Key": key})
        t = time.perf_counter()
        with urllib.request.urlopen(req) as r:
            body = r.read()
        times.append((time.perf_counter() - t) * 1000)
        lines = body.count(b"\n") - 1
    return {"runs": runs, "members": lines, "p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}

print(json.dumps({"bulk_all_hit": bulk(False), "bulk_all_miss": bulk(True), "export_low": export()}))
