#!/usr/bin/env python3
"""The report of bench/scale.sh: one JSON line per size (sizes.tsv) → a markdown table per
subject and the targets of issue 14, each marked met or missed against the first size.
usage: report.py SIZES_TSV COMMAND SERVER_DESCRIPTION"""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
command, server = sys.argv[2], sys.argv[3]
base = rows[0]
x = lambda r: r["n"] / base["n"]
label = lambda r: f"{x(r):g}× {r['n']:,}"
mb = lambda b: f"{b / 1048576:,.0f} MiB"
verdict = lambda ok: "met" if ok else "**missed**"
out = []
p = out.append

p(f"Command: `{command}`; {server}. Each size in a database and a namespace of its own; the load")
p("average (1/5/15 min) at the start and the end of each size is in the last table.")
p("")
p("| size | generate: wall, peak RSS | load: wall, peak RSS | sync (empty namespace): wall, peak RSS | sync again (over that version): wall, peak RSS | Parquet | PostgreSQL | Redis used_memory (per subscriber) |")
p("|---|---|---|---|---|---|---|---|")
for r in rows:
    t = r["times"]
    used = r["redis_used"] - r["redis_base"]
    p(f"| {label(r)} | {t['generate'][0]} s, {t['generate'][1]} MB | {t['load'][0]} s, {t['load'][1]} MB | {t['sync'][0]} s, {t['sync'][1]} MB | {t['resync'][0]} s, {t['resync'][1]} MB "
      f"| {r['files_mb']} MB | {mb(r['pg_bytes'])} | {mb(r['redis_used'])} ({used / r['subscribers']:,.0f} B) |")
p("")
p("| size | longest stall during the two syncs: LATENCY LATEST max by event (server) | redis-cli --latency max (client, 1 s samples): during the sync / 10 s idle before it | largest index set | RENAME of a copy over it (SLOWLOG) | per node used_memory |")
p("|---|---|---|---|---|---|")
for r in rows:
    ev = ", ".join(f"{k} {v} ms" for k, v in sorted(r["events"].items())) or "none ≥ 1 ms"
    p(f"| {label(r)} | {ev} | {r['stall_client_ms']} ms / {r['idle_client_ms']} ms | {r['largest']} ({r['largest_n']:,}) | {r['rename_us']} µs | {r['per_node']} |")
p("")
p("| size | UC1 p50 / p99 (near cache on) | UC5 p50 / p99 (on) | UC1 p50 / p99 (off: Redis) | UC5 p50 / p99 (off) | UC2 page of 100, first / p50 at offsets | UC6 10,000 from Redis, p50 | UC6 10,000 all-miss, p50 | UC3 export LOW: lines, p50 |")
p("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    q = lambda k: f"{r[k]['p50_ms']} / {r[k]['p99_ms']} ms"
    uc2 = "; ".join(f"{int(o):,}: {v['first_ms']} / {v['p50_ms']} ms" for o, v in r["uc2"].items())
    b = r["bulk"]
    g = lambda case, f: b.get(case, {}).get(f, "–")
    p(f"| {label(r)} | {q('uc1')} | {q('uc5')} | {q('uc1_off')} | {q('uc5_off')} | {r['uc2_service']} ({r['uc2_n']:,}): {uc2} "
      f"| {g('bulk_redis_only', 'p50_ms')} ms | {g('bulk_all_miss', 'p50_ms')} ms | {g('export_low', 'members')}, {g('export_low', 'p50_ms')} ms |")
p("")
p("| size | load average at the start | at the end |")
p("|---|---|---|")
for r in rows:
    p(f"| {label(r)} | {r['load_start']} | {r['load_end']} |")
p("")

p(f"Targets (issue 14), each size against the first ({label(base)}):")
p("")
p("| target | size | figure | |")
p("|---|---|---|---|")
if len(rows) > 1:
    for r in rows[1:]:
        for cmd in ("generate", "load", "sync", "resync"):
            ratio = (r["times"][cmd][0] / base["times"][cmd][0]) / x(r)
            p(f"| {cmd} time ≤ 1.1 × linear | {label(r)} | {r['times'][cmd][0]} s = {ratio:.2f} × linear ({base['times'][cmd][0]} s × {x(r):g}) | {verdict(ratio <= 1.1)} |")
        for cmd in ("generate", "load", "sync", "resync"):
            ratio = r["times"][cmd][1] / base["times"][cmd][1]
            p(f"| {cmd} peak RSS ≤ 1.1 × the first size's | {label(r)} | {r['times'][cmd][1]} MB = {ratio:.2f}× ({base['times'][cmd][1]} MB) | {verdict(ratio <= 1.1)} |")
        for k, name in (("uc1", "UC1"), ("uc5", "UC5"), ("uc1_off", "UC1 near cache off"), ("uc5_off", "UC5 near cache off")):
            for f in ("p50_ms", "p99_ms"):
                ratio = r[k][f] / base[k][f]
                p(f"| {name} {f[:3]} ≤ 1.2 × | {label(r)} | {r[k][f]} ms = {ratio:.2f}× ({base[k][f]} ms) | {verdict(ratio <= 1.2)} |")
        deep, deep0 = r["uc2"][max(r["uc2"], key=int)], base["uc2"][max(base["uc2"], key=int)]
        ratio = deep["p50_ms"] / deep0["p50_ms"]
        p(f"| UC2 last page p50 ≤ 1.2 × | {label(r)} | {deep['p50_ms']} ms = {ratio:.2f}× ({deep0['p50_ms']} ms) | {verdict(ratio <= 1.2)} |")
        for case, name in (("bulk_redis_only", "UC6 10,000 from Redis"), ("bulk_all_miss", "UC6 10,000 all-miss")):
            if case in r["bulk"] and case in base["bulk"]:
                a, b0 = r["bulk"][case]["p50_ms"], base["bulk"][case]["p50_ms"]
                p(f"| {name} p50 ≤ 1.2 × | {label(r)} | {a} ms = {a / b0:.2f}× ({b0} ms) | {verdict(a / b0 <= 1.2)} |")
for r in rows:
    if "export_low" in r["bulk"]:
        e = r["bulk"]["export_low"]
        p(f"| export of the whole LOW set ≤ 10 s | {label(r)} | {e['members']:,} lines in {e['p50_ms'] / 1000:.1f} s | {verdict(e['p50_ms'] <= 10000)} |")
for r in rows:
    cmd = r["events"].get("command", 0)
    p(f"| no Redis stall > 50 ms during the sync (server's LATENCY LATEST, any event) | {label(r)} | {r['stall_server_ms']} ms (the sync's own commands, event `command`: {cmd} ms; client sampling {r['stall_client_ms']} ms against {r['idle_client_ms']} ms idle) | {verdict(r['stall_server_ms'] <= 50)} |")
print("\n".join(out))
