#!/usr/bin/env python3
"""CPython baselines for `procq bench`: multiprocessing.Queue, SimpleQueue and Pipe.

Prints one line per case in procq's format:
  bench=<workload> impl=<name> size=<bytes> msgs=<n> seconds=<t> msgs_per_s=<r> [p50_us= p99_us=] [peak_rss_mb=]

Run everything:   python3 bench/python_baseline.py [--quick]
Run one case:     python3 bench/python_baseline.py --bench spsc --impl py-queue --kind str --size 12 --msgs 200000
                  (options: --producers P --consumers C --maxsize M; see `bench/README.md` for the workloads)

Every consumer checks every item it receives (content and order); multi-producer workloads check that every
item is delivered exactly once. A wrong item prints `FAIL ...` on stderr and exits with status 1.
Processes start with the platform's default start method (fork on Linux), except for `startup`, which measures
spawn, fork and forkserver.
"""

import argparse
import multiprocessing as mp
import resource
import sys
import time

BASE = 10_000_000
OBJ_SIZE = 55  # v8.serialize length of the Node object, so lines compare across languages


def make_str(i):
    return "msg-" + str(BASE + i)


def make_obj(i):
    return {"id": i, "name": "job-" + str(i), "tags": ["alpha", "beta", "gamma"]}


def make_job(i):
    return {"id": i, "name": "job-" + str(i), "tags": ["alpha", "beta", "gamma"], "prio": i % 10}


class Maker:
    """Builds the i-th item; bytes items are fresh copies of a template whose header carries i."""

    def __init__(self, kind, size):
        self.kind = kind
        self.size = size
        self.template = bytearray(size) if kind == "bytes" else None

    def __call__(self, i):
        if self.kind == "str":
            return make_str(i)
        if self.kind == "obj":
            return make_obj(i)
        if self.kind == "job":
            return make_job(i)
        t = self.template
        t[0:4] = (i & 0xFFFFFFFF).to_bytes(4, "little")
        t[-1] = i & 255
        return bytes(t)


def check(kind, size, i, item):
    if kind == "str":
        ok = item == make_str(i)
    elif kind in ("obj", "job"):
        ok = (
            isinstance(item, dict)
            and (kind == "obj" or item.get("prio") == i % 10)
            and item.get("id") == i
            and item.get("name") == "job-" + str(i)
            and len(item.get("tags", ())) == 3
        )
    else:
        ok = (
            len(item) == size
            and int.from_bytes(item[0:4], "little") == (i & 0xFFFFFFFF)
            and item[-1] == (i & 255)
        )
    if not ok:
        raise AssertionError(f"wrong item: expected {kind} #{i}, got {str(item)[:80]}")


def item_id(kind, item):
    if kind == "str":
        return int(item[4:]) - BASE
    if kind in ("obj", "job"):
        return item["id"]
    return int.from_bytes(item[0:4], "little")


def peak_rss_mb():
    kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return kb / 1024


def fmt(x):
    v = float(f"{x:.4g}")
    return str(int(v)) if v >= 1000 or v == int(v) else f"{v:g}"


def line(bench, impl, size, msgs, seconds, p50=None, p99=None, rss=None):
    s = (
        f"bench={bench} impl={impl} size={size} msgs={msgs} seconds={fmt(seconds)} "
        f"msgs_per_s={round(msgs / seconds)}"
    )
    if p50 is not None:
        s += f" p50_us={fmt(p50)} p99_us={fmt(p99)}"
    if rss is not None:
        s += f" peak_rss_mb={fmt(rss)}"
    print(s, flush=True)


def percentile(xs, p):
    xs = sorted(xs)
    rank = min(len(xs) - 1, max(0, -(-p * len(xs) // 100) - 1))
    return xs[rank]


# --- roles (module level, so every start method can find them) ---------------------------------------------


def q_producer(barrier, q, done, kind, size, n, first):
    make = Maker(kind, size)
    barrier.wait()
    put = q.put
    for i in range(first, first + n):
        put(make(i))
    if hasattr(q, "join_thread"):  # mp.Queue: make sure the feeder thread has written everything
        q.close()
        q.join_thread()
    done.put(("pdone", None))


def q_consumer(barrier, q, done, kind, size, n):
    barrier.wait()
    get = q.get
    try:
        for i in range(n):
            check(kind, size, i, get())
        done.put(("ok", None))
    except Exception as e:  # noqa: BLE001 - reported to the parent
        done.put(("error", repr(e)))


def q_tally_consumer(barrier, q, done, kind, producers, per):
    """Multi-producer consumer: takes items until a None sentinel; checks per-producer FIFO; returns its ids."""
    barrier.wait()
    seen = bytearray(producers * per)
    last = [-1] * producers
    get = q.get
    try:
        while True:
            item = get()
            if item is None:
                break
            i = item_id(kind, item)
            if kind in ("obj", "job"):
                check(kind, 0, i, item)
            if seen[i]:
                raise AssertionError(f"item {i} delivered twice")
            seen[i] = 1
            p, k = divmod(i, per)
            if k <= last[p]:
                raise AssertionError(f"producer {p}: item {k} after {last[p]}")
            last[p] = k
        done.put(("tally", bytes(seen)))
    except Exception as e:  # noqa: BLE001
        done.put(("error", repr(e)))


def pipe_producer(barrier, conn, done, kind, size, n):
    make = Maker(kind, size)
    barrier.wait()
    send = conn.send_bytes if kind == "bytes" else conn.send
    for i in range(n):
        send(make(i))
    done.put(("pdone", None))


def pipe_consumer(barrier, conn, done, kind, size, n):
    barrier.wait()
    recv = conn.recv_bytes if kind == "bytes" else conn.recv
    try:
        for i in range(n):
            check(kind, size, i, recv())
        done.put(("ok", None))
    except Exception as e:  # noqa: BLE001
        done.put(("error", repr(e)))


def echo_queues(qin, qout, n):
    for _ in range(n):
        qout.put(qin.get())


def echo_pipe(conn, n):
    for _ in range(n):
        conn.send(conn.recv())


def first_item(q):
    q.put("first")


def job_producer(q, done, n, first):
    put = q.put
    for i in range(first, first + n):
        put(make_job(i))
    q.close()
    q.join_thread()
    done.put(("pdone", None))


def square(x):
    return x * x


# --- cases ----------------------------------------------------------------------------------------------------


def make_queue(impl, maxsize=0):
    if impl == "py-queue":
        return mp.Queue(maxsize)
    if impl == "py-simplequeue":
        return mp.SimpleQueue()
    raise ValueError(impl)


def run_procs(procs, barrier, done, expect):
    """Starts procs, releases the barrier, times until `expect` results came; returns (seconds, results)."""
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    results = []
    while len(results) < expect:
        tag, value = done.get(timeout=600)
        if tag == "error":
            raise AssertionError(value)
        results.append((tag, value))
    return t0, results


def collect_tallies(q, done, producers, consumers):
    """The tallies of `consumers` q_tally_consumers; once every producer is done, one None sentinel per consumer."""
    pdone, tallies = 0, []
    while len(tallies) < consumers:
        tag, value = done.get(timeout=600)
        if tag == "error":
            raise AssertionError(value)
        if tag == "pdone":
            pdone += 1
            if pdone == producers:  # every producer's items are in the pipe: the sentinels come after all of them
                for _ in range(consumers):
                    q.put(None)
        else:
            tallies.append(value)
    return tallies


def check_tallies(tallies, total):
    """Exactly once: each of the `total` items in exactly one consumer's tally."""
    seen = bytearray(total)
    for t in tallies:
        for i, x in enumerate(t):
            if x:
                if seen[i]:
                    raise AssertionError(f"item {i} delivered to two consumers")
                seen[i] = 1
    if seen.count(0):
        raise AssertionError(f"item {seen.index(0)} never delivered")


def spsc(a):
    barrier = mp.Barrier(3)
    done = mp.Queue()
    if a.impl == "py-pipe":
        r, w = mp.Pipe(duplex=False)
        procs = [
            mp.Process(target=pipe_producer, args=(barrier, w, done, a.kind, a.size, a.msgs)),
            mp.Process(target=pipe_consumer, args=(barrier, r, done, a.kind, a.size, a.msgs)),
        ]
    else:
        q = make_queue(a.impl, a.maxsize)
        procs = [
            mp.Process(target=q_producer, args=(barrier, q, done, a.kind, a.size, a.msgs, 0)),
            mp.Process(target=q_consumer, args=(barrier, q, done, a.kind, a.size, a.msgs)),
        ]
    t0, results = run_procs(procs, barrier, done, 2)
    seconds = time.perf_counter() - t0
    if not any(tag == "ok" for tag, _ in results):
        raise AssertionError("consumer did not finish")
    for p in procs:
        p.join()
    line(a.bench, a.impl, a.size, a.msgs, seconds, rss=peak_rss_mb())


def multi(a):
    """mpsc / mpmc over mp.Queue: P producers of `msgs` items each, C consumers, exactly-once checked."""
    P, C, per = a.producers, a.consumers, a.msgs
    barrier = mp.Barrier(P + C + 1)
    done = mp.Queue()
    q = make_queue(a.impl, a.maxsize)
    procs = [
        mp.Process(target=q_producer, args=(barrier, q, done, a.kind, a.size, per, p * per)) for p in range(P)
    ] + [mp.Process(target=q_tally_consumer, args=(barrier, q, done, a.kind, P, per)) for _ in range(C)]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    tallies = collect_tallies(q, done, P, C)
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join()
    check_tallies(tallies, P * per)
    line(a.bench, a.impl, a.size, P * per, seconds, rss=peak_rss_mb())


def pingpong(a):
    n = a.msgs
    if a.impl == "py-pipe":
        here, there = mp.Pipe()
        p = mp.Process(target=echo_pipe, args=(there, n))
        send, recv = here.send, here.recv
    else:
        q1, q2 = make_queue(a.impl), make_queue(a.impl)
        p = mp.Process(target=echo_queues, args=(q1, q2, n))
        send, recv = q1.put, q2.get
    p.start()
    send(make_str(0))  # warm-up round trip, not counted: the child is running
    recv()
    rtt = []
    t0 = time.perf_counter()
    for i in range(n - 1):
        t = time.perf_counter_ns()
        send(make_str(i))
        back = recv()
        rtt.append((time.perf_counter_ns() - t) / 1000)
        check("str", 12, i, back)
    seconds = time.perf_counter() - t0
    p.join()
    line(a.bench, a.impl, 12, n - 1, seconds, percentile(rtt, 50), percentile(rtt, 99))


def startup(a):
    method = a.impl.removeprefix("py-")
    ctx = mp.get_context(method)
    times = []
    t0 = time.perf_counter()
    for _ in range(a.msgs):
        q = ctx.SimpleQueue()
        t = time.perf_counter_ns()
        p = ctx.Process(target=first_item, args=(q,))
        p.start()
        if q.get() != "first":
            raise AssertionError("wrong first item")
        times.append((time.perf_counter_ns() - t) / 1000)
        p.join()
    seconds = time.perf_counter() - t0
    line(a.bench, a.impl, 0, a.msgs, seconds, percentile(times, 50), percentile(times, 99))


def jobs(a):
    """jobs-PxC: P producers x C consumers of job dicts over Queue(maxsize), timed from the first start()."""
    P, C, per = a.producers, a.consumers, a.msgs
    ctx = mp.get_context("spawn") if a.impl.endswith("-spawn") else mp.get_context()
    t0 = time.perf_counter()
    q = ctx.Queue(a.maxsize)
    done = ctx.Queue()
    barrier = ctx.Barrier(C)  # consumers only wait for each other: no one waits for the parent
    procs = [ctx.Process(target=q_tally_consumer, args=(barrier, q, done, "job", P, per)) for _ in range(C)]
    procs += [ctx.Process(target=job_producer, args=(q, done, per, p * per)) for p in range(P)]
    for p in procs:
        p.start()
    tallies = collect_tallies(q, done, P, C)
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join()
    check_tallies(tallies, P * per)
    line(a.bench, a.impl, a.size, P * per, seconds, rss=peak_rss_mb())


def poolmap(a):
    """Pool.map of msgs small tasks over a started, warmed pool of 2 processes (as bench/impl/poolmap.ts)."""
    with mp.Pool(2) as pool:
        pool.map(square, range(4))
        t0 = time.perf_counter()
        out = pool.map(square, range(a.msgs))
        seconds = time.perf_counter() - t0
    if out != [x * x for x in range(a.msgs)]:
        raise AssertionError("wrong Pool.map results")
    line(a.bench, a.impl, 0, a.msgs, seconds)


def run_case(a):
    if a.bench.startswith("jobs-"):
        jobs(a)
    elif a.bench == "poolmap":
        poolmap(a)
    elif a.bench == "pingpong":
        pingpong(a)
    elif a.bench == "startup":
        startup(a)
    elif a.producers > 1 or a.consumers > 1:
        multi(a)
    else:
        spsc(a)


# --- the whole suite, when run by hand ------------------------------------------------------------------------


def suite(quick):
    d = 50 if quick else 1

    def n(x):
        return max(200, x // d)

    cases = []
    for impl in ("py-queue", "py-simplequeue", "py-pipe"):
        cases.append(("spsc", impl, "str", 12, n(200_000), 1, 1, 0))
        cases.append(("spsc-obj", impl, "obj", OBJ_SIZE, n(200_000), 1, 1, 0))
        for size, count in ((1024, 100_000), (65536, 5_000), (1048576, 300)):
            cases.append(("spsc", impl, "bytes", size, max(20, count // d), 1, 1, 0))
        cases.append(("pingpong", impl, "str", 12, n(10_000), 1, 1, 0))
    cases.append(("bounded-3", "py-queue", "str", 12, n(100_000), 1, 1, 3))
    cases.append(("bounded-1000", "py-queue", "str", 12, n(200_000), 1, 1, 1000))
    cases.append(("mpsc-4x1", "py-queue", "str", 12, n(50_000), 4, 1, 0))
    cases.append(("mpmc-2x2", "py-queue", "str", 12, n(100_000), 2, 2, 0))
    cases.append(("mpmc-4x4", "py-queue", "str", 12, n(50_000), 4, 4, 0))
    for method in ("spawn", "fork", "forkserver"):
        cases.append(("startup", "py-" + method, "str", 0, 2 if quick else 5, 1, 1, 0))
    return cases


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bench")
    ap.add_argument("--impl")
    ap.add_argument("--kind", default="str", choices=("str", "bytes", "obj", "job"))
    ap.add_argument("--size", type=int, default=12)
    ap.add_argument("--msgs", type=int, default=100_000)
    ap.add_argument("--producers", type=int, default=1)
    ap.add_argument("--consumers", type=int, default=1)
    ap.add_argument("--maxsize", type=int, default=0)
    return ap.parse_args(argv)


def main(argv):
    a = parse(argv)
    if a.bench:
        try:
            run_case(a)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL bench={a.bench} impl={a.impl} size={a.size}: {e!r}", file=sys.stderr, flush=True)
            return 1
        return 0
    status = 0
    for bench, impl, kind, size, msgs, P, C, maxsize in suite(a.quick):
        args = parse(
            ["--bench", bench, "--impl", impl, "--kind", kind, "--size", str(size), "--msgs", str(msgs),
             "--producers", str(P), "--consumers", str(C), "--maxsize", str(maxsize)]
        )
        try:
            run_case(args)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL bench={bench} impl={impl} size={size}: {e!r}", file=sys.stderr, flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
