#!/usr/bin/env python3
"""UC6 and export timings, each request timed by curl (time_total: sending the list to reading
the whole answer), each list different so the bulk answer cache (structure G) is never what is
measured:
- all-hit: 10,000 ISDNs of the warm sample, every record already in the API's near cache;
- Redis only: 10,000 ISDNs never asked before (cold list), in Redis but not in the near cache;
- all-miss: 10,000 other cold ISDNs whose rec keys are unlinked first: PostgreSQL, written back;
the Redis-only and all-miss cases each make two unmeasured requests first: in a series of 45 lists
read from Redis, the first two took 590 and 390 ms (JIT, the process's first multi-megabyte
buffers) and every later one 120-235 ms; then the LOW-risk export. Prints JSON.
usage: bulk.py BASE KEY WARM_ISDNS REDIS_PORT NAMESPACE RUNS COLD_ISDNS (BULK_REDIS_CLUSTER=1: REDIS_PORT is a cluster node)"""
import json, os, random, statistics, subprocess, sys, tempfile

base, key, warm_file, redis_port, ns, runs, cold_file = sys.argv[1:8]
runs = int(runs)
warm = [l.strip() for l in open(warm_file) if l.strip()]
cold = [l.strip() for l in open(cold_file) if l.strip()]
rng = random.Random()
body = os.path.join(tempfile.mkdtemp(), "body.json")

def curl(url, data=None):
    args = ["curl", "-fsS", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", "-H", f"X-Api-Key: {key}"]
    if data is not None:
        with open(body, "w") as f:
            json.dump({"isdns": data}, f)
        args += ["-H", "Content-Type: application/json", "--data-binary", "@" + body]
    seconds, size = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout.split()
    return float(seconds) * 1000, int(size)

def post(isdns):
    return curl(base + "/api/v1/recommendations/bulk", isdns)[0]

def unlink(keys):
    if os.environ.get("BULK_REDIS_CLUSTER") == "1":
        # A cluster refuses a multi-key UNLINK across slots: one key per command, redirects followed.
        subprocess.run(["redis-cli", "-c", "-p", redis_port], input="".join(f"UNLINK {k}\n" for k in keys), text=True,
                       check=True, stdout=subprocess.DEVNULL)
        return
    for i in range(0, len(keys), 2000):
        subprocess.run(["redis-cli", "-p", redis_port, "UNLINK", *keys[i:i + 2000]], check=True, stdout=subprocess.DEVNULL)

def summary(times):
    return {"runs": len(times), "p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "all_ms": [round(t, 1) for t in times]}

def take_cold():
    if len(cold) < 10000:
        sys.exit("bulk.py: not enough cold ISDNs left")
    picked = cold[:10000]
    del cold[:10000]
    return picked

def all_hit():
    # Every record of the sample into the near cache through two half lists first.
    post(warm[:10000])
    post(warm[10000:20000])
    return summary([post(rng.sample(warm, 10000)) for _ in range(runs)])

WARM_UP = 2   # unmeasured requests before each cold case

def redis_only():
    for _ in range(WARM_UP):
        post(take_cold())
    return summary([post(take_cold()) for _ in range(runs)])

def all_miss():
    times = []
    for run in range(WARM_UP + runs):
        sample = take_cold()
        unlink([f"{ns}:rec:{i}" for i in sample])
        elapsed = post(sample)
        if run >= WARM_UP:
            times.append(elapsed)
    return summary(times)

def export():
    times, size = [], 0
    for _ in range(runs):
        ms, size = curl(base + "/api/v1/risk/LOW/export?format=csv")
        times.append(ms)
    return {**summary(times), "bytes": size}

result = {"bulk_all_hit": all_hit(), "bulk_redis_only": redis_only(), "bulk_all_miss": all_miss(), "export_low": export()}
# The export's line count: one request more, read whole.
out = subprocess.run(["curl", "-fsS", "-H", f"X-Api-Key: {key}", base + "/api/v1/risk/LOW/export?format=csv"], check=True, capture_output=True).stdout
result["export_low"]["members"] = out.count(b"\n") - 1
print(json.dumps(result))
