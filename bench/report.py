#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/report.py: results of `make bench` from the test bed's output.

    report.py LOG RESULTS_JSON PNG

Reads the "BENCH {json}" lines that scripts/guest/bench printed (LOG is
the output of scripts/xmem-vm), prints the table and the target ratios,
writes RESULTS_JSON (rows, ratios, setup) and a PNG chart (if matplotlib
is there).  The VM rows are expected when BENCH_VM=1 (scripts/bench
booted their test bed).  Exit status: 0 when every expected row was measured (whether
or not a target is met), 1 when a row is missing or failed, saying which
and why.  See Documentation/bench.rst.
"""
import datetime
import json
import os
import sys

MALLOC_CASES = ["small.1t", "small.2t", "large.1t", "large.2t"]

# Rows every run must have.
EXPECTED = [
    "ib_read_lat.median", "ib_read_bw",
    "xmem.fault.median", "xmem.fault.p99", "xmem.seq", "seq.pair_ratio",
    "xmem.rand2x.ro", "xmem.rand2x.rw50", "xmem.rand4x.ro", "xmem.rand4x.rw50",
    "xmem.rand2x.ro.t1", "xmem.rand2x.ro.t4", "rand2x.pair_ratio",
    "nvme_swap.rand2x.ro", "nvme_swap.rand2x.rw50",
    "nvme_swap.rand4x.ro", "nvme_swap.rand4x.rw50", "nvme_swap.seq",
    "dram.rand2x.ro", "dram.rand2x.rw50", "dram.rand4x.ro", "dram.rand4x.rw50",
    "dram.seq",
] + [f"libxmem.{c}.{a}" for c in MALLOC_CASES for a in ("glibc", "xmem")] + [
    f"snap.{k}.{mb}M" for mb in (8, 16, 32, 64) for k in ("total", "hold")
] + ["copy.appliance", "copy.client"] + [
    f"fork.{how}.{k}" for how in ("copy", "local") for k in ("fork", "child")
] + ["touch.plain", "touch.sole"]
# The VM rows (scripts/bench's second boot, rows "vm").
VM_ROWS = ["vm.l2.ram1x", "vm.l2.ram2x", "vm.l2.ram4x"] + [
    f"vm.migrate.{m}.{k}" for m in ("zerocopy", "precopy")
    for k in ("ram_transferred", "total_time_ms", "downtime_ms")]

# name: (numerator row, denominator row, target, "<=" or ">=", what)
RATIOS = {
    "fault_vs_ib_read_lat": ("xmem.fault.median", "ib_read_lat.median", 1.25,
                             "<=", "xmem cold fault median / ib_read_lat median"),
    "seq_vs_ib_read_bw": ("xmem.seq", "ib_read_bw", 0.9, ">=",
                          "xmem sequential MiB/s / ib_read_bw MiB/s, "
                          "median of alternated pairs"),
    "rand2x_vs_nvme_swap": ("xmem.rand2x.ro", "nvme_swap.rand2x.ro", 2.4, ">=",
                            "xmem random reads/s / nvme-rdma swap random "
                            "reads/s, set 2x the limit, median of "
                            "alternated pairs"),
    "threads4_vs_1": ("xmem.rand2x.ro.t4", "xmem.rand2x.ro.t1", 1.5, ">=",
                      "xmem random reads/s, 4 threads of one process / "
                      "1 thread, set 2x the limit"),
    "copy_appliance_vs_client": ("copy.appliance", "copy.client", 1.0, ">=",
                                 "appliance-side copy MiB/s / copy through "
                                 "the client (mmap, copy, msync) MiB/s, "
                                 "64 MiB"),
    # Shown, not judged: what XMEM_FORK=copy costs against a local copy.
    "fork_copy_vs_local": ("fork.copy.child", "fork.local.child", None, "<=",
                           "fork() of a libxmem program with a 32 MiB heap "
                           "until its child (reading the heap) is reaped, "
                           "appliance copy / local copy"),
    # Shown, not judged: what a region held alone saves at first touch.
    "first_touch_sole_vs_plain": ("touch.sole", "touch.plain", None, ">=",
                                  "filling a fresh 32 MiB region through "
                                  "8 MiB, MiB/s, held alone (never-written "
                                  "pages zero-filled here) / created "
                                  "plainly (read from the appliance)"),
    # A value, not a quotient of two rows (no denominator).
    "tlb_per_evict_batch": ("xmem.rand2x.rw50.tlb_per_batch", None, 2, "<=",
                            "TLB flushes per eviction batch and process "
                            "mapping the region, random 4 KiB, 50% writes, "
                            "set 2x the limit"),
}
# libxmem's fast path within 2x of glibc's: xmem / glibc >= 0.5.
for _c in MALLOC_CASES:
    RATIOS["malloc_%s_vs_glibc" % _c.replace(".", "_")] = (
        f"libxmem.{_c}.xmem", f"libxmem.{_c}.glibc", 0.5, ">=",
        f"xmem_malloc/free ops/s / glibc's, {_c[:-3]} sizes, "
        f"{_c[-2]} thread(s), resident")

# The VM rows' ratios; a target of None is shown, not judged.
RATIOS.update({
    "vm_ram2x_vs_1x": ("vm.l2.ram2x", "vm.l2.ram1x", None, ">=",
                       "L2 guest workload MiB/s, RAM 2x the local limit / "
                       "RAM 1x"),
    "vm_ram4x_vs_1x": ("vm.l2.ram4x", "vm.l2.ram1x", None, ">=",
                       "L2 guest workload MiB/s, RAM 4x the local limit / "
                       "RAM 1x"),
    "zerocopy_vs_precopy_bytes": (
        "vm.migrate.zerocopy.ram_transferred",
        "vm.migrate.precopy.ram_transferred", 0.05, "<=",
        "RAM bytes QEMU sent, zero-copy / pre-copy migration"),
    "zerocopy_vs_precopy_time": (
        "vm.migrate.zerocopy.total_time_ms", "vm.migrate.precopy.total_time_ms",
        1.0, "<=", "total migration time, zero-copy / pre-copy"),
    "zerocopy_vs_precopy_downtime": (
        "vm.migrate.zerocopy.downtime_ms", "vm.migrate.precopy.downtime_ms",
        None, "<=", "downtime (write-back at switch-over included), "
        "zero-copy / pre-copy"),
})

# A ratio whose pairs were measured alternately in the run: the row holding
# the median of the pairs' ratios (with its spread) replaces the quotient of
# the two rows' medians.
PAIRED = {"seq_vs_ib_read_bw": "seq.pair_ratio",
          "rand2x_vs_nvme_swap": "rand2x.pair_ratio"}

GROUPS = [("ib_", "transport"), ("xmem.", "xmem"), ("seq.", "xmem"),
          ("rand2x.", "xmem"),
          ("vm.", "VM"),
          ("nvme_swap.", "nvme-rdma swap"), ("dram.", "local DRAM"),
          ("libxmem.", "libxmem malloc"), ("snap.", "snapshots"),
          ("copy.", "snapshots")]


def group_of(name):
    for prefix, group in GROUPS:
        if name.startswith(prefix):
            return group
    return "other"


def parse(log):
    rows, errors, info = [], {}, {}
    with open(log, errors="replace") as f:
        for line in f:
            line = line.strip().replace("\r", "")
            at = line.find("BENCH {")
            if at < 0:
                continue
            try:
                obj = json.loads(line[at + 6:])
            except ValueError:
                print(f"bench: unreadable result line: {line[:200]}",
                      file=sys.stderr)
                continue
            kind = obj.pop("type", "row")
            if kind == "info":
                info[obj.get("key", "?")] = obj.get("value")
            elif kind == "error":
                errors[obj.get("name", "?")] = obj.get("why", "?")
            elif all(k in obj for k in ("name", "metric", "value", "unit")):
                obj.setdefault("group", group_of(obj["name"]))
                rows.append(obj)
            else:
                print(f"bench: row without name/metric/value/unit: "
                      f"{line[:200]}", file=sys.stderr)
    return rows, errors, info


def fmt(v):
    if isinstance(v, (int, float)):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        return f"{v:.2f}"
    return str(v)


def tlb_rows(rows):
    """Rows of TLB flushes per eviction batch, from the counters of the
    xmem random-access rows (the bench is the one process mapping)."""
    out = []
    for r in rows:
        st = r.get("stats") or {}
        if not r["name"].startswith("xmem.rand") or \
                not st.get("evict_batches") or "evict_tlb_flushes" not in st:
            continue
        out.append({"name": r["name"] + ".tlb_per_batch",
                    "metric": "TLB flushes per eviction batch, per process "
                    f"({st['evict_batches']} batches)",
                    "value": st["evict_tlb_flushes"] / st["evict_batches"],
                    "unit": "flush", "group": r["group"]})
    return out


def judge(v, target, cmp):
    if target is None:
        return None
    return v <= target if cmp == "<=" else v >= target


def ratios_of(byname):
    out = {}
    for key, (num, den, target, cmp, what) in RATIOS.items():
        r = {"target": target, "compare": cmp, "numerator": num,
             "denominator": den, "what": what}
        pair = byname.get(PAIRED.get(key, ""))
        if pair is not None:
            v = pair["value"]
            r["value"] = round(v, 3)
            r["met"] = judge(v, target, cmp)
            r["spread"] = [pair["min"], pair["max"]]
            r["runs"] = pair["runs"]
        elif den is None and num in byname:
            v = byname[num]["value"]
            r["value"] = round(v, 3)
            r["met"] = v <= target if cmp == "<=" else v >= target
        elif num in byname and den in byname and byname[den]["value"]:
            v = byname[num]["value"] / byname[den]["value"]
            r["value"] = round(v, 3)
            r["met"] = judge(v, target, cmp)
        else:
            r["value"] = None
            r["met"] = None
            r["why"] = "row missing: " + ", ".join(
                n for n in (num, den) if n and n not in byname)
        out[key] = r
    return out


def table(rows, ratios):
    lines = []
    w = max([len(r["name"]) for r in rows] + [20])
    lines.append(f"{'row':<{w}}  {'value':>12}  {'unit':<6}  metric")
    lines.append("-" * (w + 60))
    last = None
    for r in rows:
        if last is not None and r["group"] != last:
            lines.append("")
        last = r["group"]
        spread = ""
        if isinstance(r.get("runs"), list):
            spread = (f" ({len(r['runs'])} runs, {fmt(r['min'])} to "
                      f"{fmt(r['max'])})")
        lines.append(f"{r['name']:<{w}}  {fmt(r['value']):>12}  "
                     f"{r['unit']:<6}  {r['metric']}{spread}")
    lines.append("")
    lines.append("ratios (target)")
    for key, r in ratios.items():
        if r["value"] is None:
            verdict, val = "n/a", "-"
        elif r["target"] is None:
            verdict, val = "", f"{r['value']:.3f}"
        else:
            verdict, val = ("pass" if r["met"] else "MISS"), f"{r['value']:.3f}"
        what = r["what"]
        if "spread" in r:
            what += f" (pairs from {r['spread'][0]:.2f} to {r['spread'][1]:.2f})"
        target = "  -    " if r["target"] is None else \
            f"{r['compare']} {r['target']:<5}"
        lines.append(f"  {key:<28} {val:>8}  {target} {verdict:<5} {what}")
    return "\n".join(lines)


def chart(rows, ratios, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: no matplotlib: no chart", file=sys.stderr)
        return False
    byname = {r["name"]: r for r in rows}
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5))
    colours = {"transport": "#7f7f7f", "xmem": "#1f77b4",
               "nvme-rdma swap": "#d62728", "local DRAM": "#2ca02c"}

    # Random access: xmem vs swap (log scale, DRAM is far above).
    ax = axes[0]
    cases = ["rand2x.ro", "rand2x.rw50", "rand4x.ro", "rand4x.rw50"]
    series = [("xmem", "xmem"), ("nvme_swap", "nvme-rdma swap"),
              ("dram", "local DRAM")]
    width = 0.27
    for i, (prefix, label) in enumerate(series):
        vals = [byname.get(f"{prefix}.{c}", {}).get("value", 0) for c in cases]
        xs = [j + (i - 1) * width for j in range(len(cases))]
        ax.bar(xs, vals, width, label=label, color=colours[label])
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(["2x read", "2x 50% write", "4x read", "4x 50% write"])
    ax.set_yscale("log")
    ax.set_ylabel("ops/s (log)")
    ax.set_title("random 4 KiB accesses (set = N x limit)")
    ax.legend(fontsize=8)

    # Latency: fault vs RDMA READ.
    ax = axes[1]
    names = [("ib_read_lat.median", "RDMA READ\nmedian"),
             ("ib_read_lat.p99", "RDMA READ\np99"),
             ("xmem.fault.median", "xmem fault\nmedian"),
             ("xmem.fault.p99", "xmem fault\np99")]
    names = [n for n in names if n[0] in byname]
    ax.bar([n[1] for n in names], [byname[n[0]]["value"] for n in names],
           color=[colours[byname[n[0]]["group"]] for n in names])
    ax.set_yscale("log")
    ax.set_ylabel("us (log)")
    ax.set_title("4 KiB latency")

    # Bandwidth.
    ax = axes[2]
    names = [("ib_read_bw", "ib_read_bw"), ("xmem.seq", "xmem seq"),
             ("nvme_swap.seq", "swap seq")]
    names = [n for n in names if n[0] in byname]
    ax.bar([n[1] for n in names], [byname[n[0]]["value"] for n in names],
           color=[colours[byname[n[0]]["group"]] for n in names])
    ax.set_ylabel("MiB/s")
    ax.set_title("sequential read bandwidth")

    txt = "   ".join(
        f"{k}: {r['value']:.2f} ({r['compare']} {r['target']}: "
        f"{'pass' if r['met'] else 'MISS'})" if r["value"] is not None
        else f"{k}: n/a" for k, r in ratios.items()
        if not k.startswith(("malloc_", "vm_", "zerocopy_")))
    malloc = [r["value"] for k, r in ratios.items()
              if k.startswith("malloc_") and r["value"] is not None]
    if malloc:
        txt += (f"\nmalloc xmem/glibc, worst of {len(malloc)}: "
                f"{min(malloc):.2f} (>= 0.5: "
                f"{'pass' if min(malloc) >= 0.5 else 'MISS'})")
    fig.suptitle("xmem make bench: " + txt, fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return True


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    log, out_json, png = sys.argv[1:]
    rows, errors, info = parse(log)
    rows += tlb_rows(rows)
    byname = {r["name"]: r for r in rows}
    ratios = ratios_of(byname)

    missing = {}
    # scripts/bench sets BENCH_VM=1 when it booted the VM rows' test bed.
    expected = EXPECTED + (VM_ROWS if os.environ.get("BENCH_VM") == "1"
                           else [])
    for name in expected:
        if name not in byname:
            missing[name] = errors.get(name) or errors.get(
                name.rsplit(".", 1)[0], "no result (the run stopped before "
                "it, or the test bed failed: see its log)")
    # Errors of other rows (xmem-malloc-bench), unless told above.
    for name, why in errors.items():
        if name not in byname and not any(
                m == name or m.startswith(name + ".") for m in missing):
            missing[name] = why

    knobs = {k[5:]: v for k, v in info.items() if k.startswith("knob_")}
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "setup": {k: v for k, v in info.items() if not k.startswith("knob_")},
        "knobs": knobs,
        "rows": rows,
        "ratios": {k: {key: r[key] for key in ("value", "target", "compare",
                                                "met", "what", "spread",
                                                "runs") if key in r}
                   for k, r in ratios.items()},
        "missing": missing,
    }
    with open(out_json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    print(table(rows, ratios))
    if knobs:
        print("\nknobs: " + ", ".join(f"{k}={v}" for k, v in knobs.items()))
    end = info.get("ib_read_lat_end_median")
    if end is not None and "ib_read_lat.median" in byname:
        print(f"ib_read_lat median at the start {fmt(byname['ib_read_lat.median']['value'])}"
              f" us, at the end {fmt(end)} us (the host's load drifts)")
    if "xmem_malloc_bench" in info:
        print(f"xmem-malloc-bench: {info['xmem_malloc_bench']}")
    drawn = chart(rows, ratios, png)
    print(f"\nwrote {out_json}" + (f" and {png}" if drawn else ""))
    if missing:
        print("\nrows not measured:", file=sys.stderr)
        for name, why in missing.items():
            print(f"  {name}: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
