#!/usr/bin/env python3
"""Regenerates the README's benchmark tables from a results file written by scripts/bench.sh.

Usage: scripts/render-bench-tables.py [--mark-loaded] [--check] RESULTS README

Each table lives between `<!-- bench:begin NAME -->` and `<!-- bench:end NAME -->` in the README
and is replaced whole; nothing between the markers is kept. Every table states the run's date,
command and load average. A run whose 1-minute load average at start was above 0.5 is refused
(exit 3, README untouched) unless --mark-loaded, which publishes it with every table marked as
taken on a loaded machine. --check only verifies that the README's tables match the results.

Results file lines (see bench/bench_common.hpp):
  # steward-bench date=... kernel=... nproc=... load_start=1m,5m,15m load_end=... commit=... command=...
  BENCH name=... impl=... base=... median_ns=... p99_ns=... ratio=... ratio_min=... ratio_max=...
        p99_ratio=... p99_ratio_min=... p99_ratio_max=... rounds=... samples=... [goal=...] [goal_p99=...] [n=...]
  LOADAVG / NOTE / SIZE / OTPINFO
"""
import re
import sys

IDLE_LOAD = 0.5

IMPL = {
    "futex": "raw futex handshake",
    "mutex_condvar": "mutex + condvar with acknowledgement",
    "steward": "**steward**",
    "futex_ack": "raw futex stop + ack (parked thread)",
    "jthread_cv": "`std::jthread` + `condition_variable_any::wait_for(stop_token)`, join",
    "poll_eventfd_ack": "`poll()` on fd + eventfd, futex ack (parked thread)",
    "jthread_poll": "`std::jthread`, `poll()` on fd + eventfd written by a `stop_callback`, join",
    "empty_loop": "empty loop",
    "acquire_load": "bare acquire load of a flag",
    "new_thread": "join + new `std::thread`",
    "two_futex_handoffs": "two futex hand-offs between parked threads",
    "steward_isolated": "steward, isolated restarts",
    "hand_rolled": "hand-rolled: threads + one mutex, condvar and flag",
    "steward_sequential": "**steward, sequential**",
    "steward_parallel": "**steward, parallel**",
    "otp": "Erlang/OTP",
    "cyclictest": "`cyclictest -m -t 1`",
    "steward_pool": "**steward pool**",
    "plain_pool": "plain pool: mutex + condvar + `std::function`",
    "flag_condvar": "shared flag + condvar + ack counter",
    "raw_futex_floor": "floor: one futex word + broadcast wake, no lifecycle",
    "mpmc_ring": "**lock-free MPMC ring**",
    "locked_ring": "the same ring under a PI mutex",
}

FIGURE = {
    "checkpoint": "checkpoint, per loop iteration",
    "pause_ack": "pause -> ack",
    "resume_running": "resume -> running",
    "stop_sleeping_c0": "stop a worker in `sleep_for(1h)`, empty cleanup stack",
    "stop_sleeping_c4": "stop a worker in `sleep_for(1h)`, 4 cleanup entries",
    "stop_fd_c0": "stop a worker in `wait_readable()`, empty cleanup stack",
    "stop_fd_c4": "stop a worker in `wait_readable()`, 4 cleanup entries",
    "restart": "restart: failure -> next incarnation's first instruction",
    "restart_storm": "restart storm: back-to-back failures",
    "start_100": "start of a supervisor with 100 children",
    "stop_100": "stop of a supervisor with 100 children",
    "one_for_all_restart_8": "one_for_all restart of 8 children: failure -> all 8 running again",
    "restart_one_for_one": "one_for_one restart: failure -> restarted child's first instruction",
    "submit_to_start": "submit -> task's first instruction, idle pool",
    "tiny_task": "tiny tasks, 1 producer, 2 threads, per task",
    "pause_all_8": "pause-all acknowledged, 8 tasks sleeping 1 ms per loop",
    "resume_all_8": "resume-all until all 8 run again",
    "ring_handoff": "queue: producer and consumer on two threads, per entry",
    "ring_uncontended": "queue: push + pop on one thread",
}

TREE_OPS = [("stop_all", "stop-all"), ("pause_all", "pause-all"), ("start", "start"), ("resume_all", "resume-all")]
SIZES = [8, 64, 256, 1024]


class Run:
    def __init__(self, path):
        self.header = {}
        self.bench = []
        self.notes = []
        self.sizes = {}
        self.otp_release = None
        with open(path, encoding="utf-8") as f:
            for raw in f:
                line = raw.rstrip("\n")
                if line.startswith("# steward-bench "):
                    body = line[len("# steward-bench "):]
                    head, _, command = body.partition(" command=")
                    self.header = dict(kv.split("=", 1) for kv in head.split())
                    self.header["command"] = command
                elif line.startswith("BENCH "):
                    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                    for k in list(fields):
                        if k not in ("name", "impl", "base"):
                            fields[k] = float(fields[k])
                    self.bench.append(fields)
                elif line.startswith("NOTE "):
                    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                    self.notes.append(fields["text"].replace("_", " "))
                elif line.startswith("SIZE "):
                    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                    self.sizes[fields["name"]] = int(fields["bytes"])
                elif line.startswith("OTPINFO "):
                    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
                    self.otp_release = fields.get("release")
        if not self.header:
            sys.exit(f"{path}: no '# steward-bench' header line")

    def load(self, which):
        return [float(x) for x in self.header[which].split(",")]

    def find(self, name, impl, base=None):
        for b in self.bench:
            if b["name"] == name and b["impl"] == impl and (base is None or b["base"] == base):
                return b
        return None

    def lines(self, name):
        return [b for b in self.bench if b["name"] == name]


def t(ns):
    if ns < 1000:
        return f"{ns:.2f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} us"
    return f"{ns / 1e6:.2f} ms"


def ratio(b, p99=False):
    if p99:
        return f"{b['p99_ratio']:.2f}x ({b['p99_ratio_min']:.2f}-{b['p99_ratio_max']:.2f})"
    return f"{b['ratio']:.2f}x ({b['ratio_min']:.2f}-{b['ratio_max']:.2f})"


def goal(b, key="goal", p99=False):
    g = b.get(key)
    if not g:
        return "-"
    r, hi = (b["p99_ratio"], b["p99_ratio_max"]) if p99 else (b["ratio"], b["ratio_max"])
    if r <= g and hi <= g:
        verdict = "met"
    elif r <= g:
        verdict = "met (median; not every round)"
    else:
        verdict = "**missed**"
    return f"<= {g:.2f}x: {verdict}"


def impl_label(run, impl):
    if impl == "otp" and run.otp_release:
        return f"Erlang/OTP {run.otp_release}"
    return IMPL.get(impl, impl)


def stamp(run, program, loaded, mark):
    h = run.header
    ls, le = run.load("load_start"), run.load("load_end")
    text = (f"Measured {h['date']} by `{h['command']}` (`build/bench-rel/bench/{program}`), "
            f"commit {h['commit']}, Linux {h['kernel']}, {h['nproc']} CPUs; load average {ls[0]:.2f} "
            f"at the start of the run, {le[0]:.2f} at its end.")
    out = [text, ""]
    if loaded and mark:
        out = [f"> **Taken on a loaded machine** (1-minute load average {ls[0]:.2f} at start, above "
               f"{IDLE_LOAD}): not a valid publication. Rerun `scripts/bench.sh --wait-idle` on an idle machine.",
               ""] + out
    return out


def table_latency(run):
    rows = ["| figure | implementation | median | p99 | vs | ratio (range over rounds) | goal |",
            "|---|---|---|---|---|---|---|"]
    for name in ["pause_ack", "resume_running", "stop_sleeping_c0", "stop_sleeping_c4", "stop_fd_c0", "stop_fd_c4",
                 "checkpoint"]:
        for b in run.lines(name):
            base = b["base"] == b["impl"]
            p99 = "-" if name == "checkpoint" else t(b["p99_ns"])
            rows.append(f"| {FIGURE[name]} | {impl_label(run, b['impl'])} | {t(b['median_ns'])} | {p99} | "
                        f"{'-' if base else impl_label(run, b['base'])} | {'baseline' if base else ratio(b)} | "
                        f"{goal(b)} |")
    return rows


def table_restart(run):
    rows = ["| figure | implementation | median | p99 | vs | ratio (range over rounds) | goal |",
            "|---|---|---|---|---|---|---|"]
    for name in ["restart", "restart_storm"]:
        for b in run.lines(name):
            base = b["base"] == b["impl"]
            rows.append(f"| {FIGURE[name]} | {impl_label(run, b['impl'])} | {t(b['median_ns'])} | {t(b['p99_ns'])} | "
                        f"{'-' if base else impl_label(run, b['base'])} | {'baseline' if base else ratio(b)} | "
                        f"{goal(b)} |")
    return rows


def table_tree(run):
    rows = ["| operation | workers | hand-rolled (baseline) | steward sequential | ratio (range) | goal "
            "| steward parallel | ratio (range) | goal |",
            "|---|---|---|---|---|---|---|---|---|"]
    for op, label in TREE_OPS:
        for n in SIZES:
            name = f"{op}_n{n}"
            base = run.find(name, "hand_rolled")
            seq = run.find(name, "steward_sequential")
            par = run.find(name, "steward_parallel")
            if not (base and seq and par):
                continue
            rows.append(f"| {label} | {n:,} | {t(base['median_ns'])} | {t(seq['median_ns'])} | {ratio(seq)} | "
                        f"{goal(seq)} | {t(par['median_ns'])} | {ratio(par)} | {goal(par)} |")
    return rows


def table_per_worker(run):
    rows = ["| operation | implementation | " + " | ".join(f"{n:,} workers" for n in SIZES) +
            " | 1,024 / 8 workers (range) | goal |",
            "|---|---|" + "---|" * len(SIZES) + "---|---|"]
    for op, label in TREE_OPS:
        for impl in ["hand_rolled", "steward_sequential", "steward_parallel"]:
            cells = []
            last = None
            for n in SIZES:
                b = run.find(f"per_worker_{op}_n{n}", impl)
                cells.append(t(b["median_ns"]) if b else "-")
                last = b if b else last
            if last is None:
                continue
            rows.append(f"| {label} | {impl_label(run, impl)} | " + " | ".join(cells) +
                        f" | {ratio(last)} | {goal(last)} |")
    return rows


def table_otp(run):
    if not run.find("start_100", "otp"):
        notes = [n for n in run.notes if "OTP" in n] or ["Erlang/OTP figures not measured in this run."]
        return [f"_{notes[0]}_"]
    rows = ["| operation | Erlang/OTP median (p99) | steward median (p99) | ratio (range) | goal "
            "| steward sequential median | ratio (range) |",
            "|---|---|---|---|---|---|---|"]
    for name in ["start_100", "stop_100", "one_for_all_restart_8", "restart_one_for_one"]:
        otp = run.find(name, "otp")
        ours = run.find(name, "steward_parallel", "otp") or run.find(name, "steward", "otp")
        seq = run.find(name, "steward_sequential", "otp")
        if not (otp and ours):
            continue
        mode = " (parallel)" if ours["impl"] == "steward_parallel" else ""
        seq_cells = f"{t(seq['median_ns'])} | {ratio(seq)}" if seq else "- | -"
        rows.append(f"| {FIGURE[name]} | {t(otp['median_ns'])} ({t(otp['p99_ns'])}) | "
                    f"{t(ours['median_ns'])} ({t(ours['p99_ns'])}){mode} | {ratio(ours)} | {goal(ours)} | {seq_cells} |")
    return rows


def table_jitter(run):
    lines = [b for b in run.bench if b["name"].startswith("jitter_")]
    if not lines:
        return ["_Jitter not measured in this run._"]
    rows = ["| implementation | p50 | p99 | p99 ratio (range over rounds) | p50 ratio (range) | goal (p99) |",
            "|---|---|---|---|---|---|"]
    for b in lines:
        base = b["base"] == b["impl"]
        rows.append(f"| {impl_label(run, b['impl'])} | {t(b['median_ns'])} | {t(b['p99_ns'])} | "
                    f"{'baseline' if base else ratio(b, p99=True)} | {'baseline' if base else ratio(b)} | "
                    f"{goal(b, 'goal_p99', p99=True)} |")
    return rows


def block_memory(run):
    s = run.sizes
    if not s:
        return ["_Not measured in this run._"]
    return [f"Memory per slot (bytes, `sizeof`): child slot {s['child_slot']}, worker without its stack "
            f"{s['worker_without_stack']} (`static_worker<S, C>` adds S and C x {s['cleanup_entry']}), "
            f"`supervisor<N>` {s['supervisor_base']} + N x {s['child_slot']}."]


def table_pool(run):
    rows = ["| figure | implementation | median | p99 | vs | ratio (range over rounds) | goal |",
            "|---|---|---|---|---|---|---|"]
    for name in ["submit_to_start", "tiny_task", "pause_all_8", "resume_all_8", "ring_handoff", "ring_uncontended"]:
        for b in run.lines(name):
            rows.append(f"| {FIGURE[name]} | {impl_label(run, b['impl'])} | {t(b['median_ns'])} | {t(b['p99_ns'])} | "
                        f"{impl_label(run, b['base'])} | {ratio(b)} | {goal(b)} |")
    notes = [n for n in run.notes if n.startswith("allocations per task")]
    if notes:
        rows += ["", f"_{notes[0]}._"]
    return rows


BLOCKS = {
    "latency": ("steward_bench", table_latency),
    "restart": ("steward_tree_bench", table_restart),
    "tree": ("steward_tree_bench", table_tree),
    "per-worker": ("steward_tree_bench", table_per_worker),
    "otp": ("steward_otp_bench", table_otp),
    "jitter": ("steward_jitter", table_jitter),
    "memory": ("steward_tree_bench", block_memory),
    "pool": ("steward_pool_bench", table_pool),
}


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    mark = "--mark-loaded" in argv
    check = "--check" in argv
    if len(args) != 2:
        sys.exit(__doc__)
    results, readme = args
    run = Run(results)
    loaded = run.load("load_start")[0] > IDLE_LOAD
    if loaded and not mark and not check:
        print(f"render-bench-tables: REFUSED: the run started with a 1-minute load average of "
              f"{run.load('load_start')[0]:.2f} (above {IDLE_LOAD}); the README is unchanged. Rerun on an idle "
              f"machine (scripts/bench.sh --wait-idle), or pass --mark-loaded to publish it marked as loaded.",
              file=sys.stderr)
        return 3
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    new = text
    for name, (program, render) in BLOCKS.items():
        pattern = re.compile(rf"(<!-- bench:begin {re.escape(name)} -->\n)(.*?)(<!-- bench:end {re.escape(name)} -->)",
                             re.S)
        if not pattern.search(new):
            sys.exit(f"{readme}: no '<!-- bench:begin {name} -->' ... '<!-- bench:end {name} -->' markers")
        body = "\n".join(stamp(run, program, loaded, mark or check) + render(run)) + "\n"
        new = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), new)
    if check:
        if new != text:
            print(f"{readme}: benchmark tables differ from {results}", file=sys.stderr)
            return 1
        return 0
    with open(readme, "w", encoding="utf-8") as f:
        f.write(new)
    print(f"render-bench-tables: {readme} updated from {results}" + (" (MARKED: loaded machine)" if loaded else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
