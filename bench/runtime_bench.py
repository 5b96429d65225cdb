"""Runtime benchmark: `make bench` (or `.venv/bin/python -m bench.runtime_bench`).

Measures the full path of a run through RuntimePool and compares it, in the same
process run, with V8 through mini-racer. Prints figures, ratios and the issue's
targets; it asserts nothing (timing belongs here, never in tests).
"""

import argparse
import json
import statistics
import threading
import time

import quickjs

from runtime import RunRequest, RuntimePool
from runtime.engine import prelude_bytecode, prelude_source

TRIVIAL = "async function main(input, ctx) { console.log('hello', input.n); return {ok: true, n: input.n + 1} }"
BATCH = """
function transformBatch(events, metadata) {
  return events.map(function (e) {
    e.properties.total = e.properties.price * e.properties.quantity;
    e.context.library = {name: 'jsr', version: '1'};
    if (e.event === 'Order Completed') e.properties.vip = e.properties.total > 100;
    return e;
  });
}
"""
RACER_TRIVIAL = ("var logs = []; function main(input) {"
                 " logs.push('hello ' + input.n); return {ok: true, n: input.n + 1} }")
FIB = "function main(n) { function fib(k) { return k < 2 ? k : fib(k - 1) + fib(k - 2) } return fib(n) }"


def _event(i: int) -> dict:
    return {
        "type": "track", "event": "Order Completed" if i % 2 else "Product Viewed",
        "userId": f"user-{i}", "messageId": f"msg-{i:06d}", "timestamp": "2026-11-23T10:00:00Z",
        "properties": {"price": 12.5 + i % 10, "quantity": 1 + i % 3, "sku": f"SKU-{i % 50}"},
        "context": {"ip": "203.0.113.9", "locale": "en-US"},
    }


def _percentiles(samples_us: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_us)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def bench_pool_trivial(runs: int, prepared: bool, rounds: int = 5) -> tuple[float, float, float]:
    """(p50, p99, p50 of the quietest round): this machine's neighbours make single runs noisy."""
    pool = RuntimePool()
    request = RunRequest(source=TRIVIAL, tenant_id="bench", input={"n": 1})
    pool.run(request)  # warm the compilation cache
    samples, round_p50s = [], []
    for _ in range(rounds):
        this_round = []
        for _ in range(max(1, runs // rounds)):
            if prepared:
                pool.prepare()  # what an idle worker thread does between runs
            started = time.perf_counter()
            result = pool.run(request)
            this_round.append((time.perf_counter() - started) * 1e6)
            assert result.ok and result.output == {"ok": True, "n": 2}, result.error
        samples += this_round
        round_p50s.append(statistics.median(this_round))
    p50, p99 = _percentiles(samples)
    return p50, p99, min(round_p50s)


def bench_new_context(runs: int) -> tuple[float, float]:
    """p50 of a new context with the prelude evaluated from source, and from the bytecode compiled once."""
    source, bytecode = prelude_source(), prelude_bytecode()
    from_source, from_bytecode = [], []
    for _ in range(runs):
        started = time.perf_counter()
        context = quickjs.Context()
        context.eval(source)
        from_source.append((time.perf_counter() - started) * 1e6)
        del context  # freed outside the timed part
        started = time.perf_counter()
        context = quickjs.Context()
        context.eval_bytecode(bytecode)
        from_bytecode.append((time.perf_counter() - started) * 1e6)
        del context
    return statistics.median(from_source), statistics.median(from_bytecode)


def bench_batch(events: int, rounds: int) -> float:
    pool = RuntimePool()
    batch = [_event(i) for i in range(events)]
    request = RunRequest(source=BATCH, tenant_id="bench", handler="transformBatch", input=batch)
    best = float("inf")
    for _ in range(rounds):
        pool.prepare()
        started = time.perf_counter()
        result = pool.run(request)
        best = min(best, time.perf_counter() - started)
        assert result.ok and len(result.output) == events, result.error
    return events / best


def bench_fib(rounds: int) -> float:
    pool = RuntimePool()
    request = RunRequest(source=FIB, tenant_id="bench", input=30)
    samples = []
    for _ in range(rounds):
        result = pool.run(request)
        assert result.output == 832040, result.error
        samples.append(result.duration_ms)
    return statistics.median(samples)


def bench_threads(runs: int = 20) -> float:
    """Speed-up of two threads, each with its own contexts, over one thread doing the same runs."""
    pool = RuntimePool()
    request = RunRequest(source=FIB, tenant_id="bench", input=25)

    def work(count: int) -> None:
        for _ in range(count):
            pool.prepare()
            assert pool.run(request).output == 75025

    started = time.perf_counter()
    work(2 * runs)
    serial = time.perf_counter() - started
    threads = [threading.Thread(target=work, args=(runs,)) for _ in range(2)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return serial / (time.perf_counter() - started)


def bench_mini_racer(runs: int, events: int, rounds: int) -> dict[str, float] | None:
    try:
        from py_mini_racer import MiniRacer
    except ImportError:
        return None
    fresh, warm = [], []
    warm_ctx = MiniRacer()
    warm_ctx.eval(RACER_TRIVIAL)
    for _ in range(runs):
        started = time.perf_counter()
        ctx = MiniRacer()
        ctx.eval(RACER_TRIVIAL)
        out = json.loads(ctx.eval("JSON.stringify([main(JSON.parse('{\"n\":1}')), logs])"))
        fresh.append((time.perf_counter() - started) * 1e6)
        assert out[0] == {"ok": True, "n": 2}
        started = time.perf_counter()
        out = json.loads(warm_ctx.eval("JSON.stringify(main(JSON.parse('{\"n\":1}')))"))
        warm.append((time.perf_counter() - started) * 1e6)
    batch_ctx = MiniRacer()
    batch_ctx.eval(BATCH)
    payload = json.dumps([_event(i) for i in range(events)])
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        out = json.loads(batch_ctx.eval(f"JSON.stringify(transformBatch(JSON.parse({json.dumps(payload)}), null))"))
        best = min(best, time.perf_counter() - started)
        assert len(out) == events
    return {"fresh_p50": statistics.median(fresh), "warm_p50": statistics.median(warm), "batch_eps": events / best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    prepared = bench_pool_trivial(args.runs, prepared=True)
    cold = bench_pool_trivial(args.runs, prepared=False)
    prelude_from_source, prelude_from_bytecode = bench_new_context(min(args.runs, 1000))
    batch_eps = bench_batch(args.events, args.rounds)
    fib_ms = bench_fib(5)
    speedup = bench_threads()
    racer = bench_mini_racer(min(args.runs, 500), args.events, args.rounds)

    rows = [
        ("trivial run, prepared context  p50", f"{prepared[0]:8.1f} µs", "≤ 100 µs"),
        ("  (quietest of 5 rounds, p50)", f"{prepared[2]:8.1f} µs", ""),
        ("trivial run, prepared context  p99", f"{prepared[1]:8.1f} µs", "≤ 1000 µs"),
        ("trivial run, context on request p50", f"{cold[0]:8.1f} µs", "≤ 300 µs"),
        ("  (quietest of 5 rounds, p50)", f"{cold[2]:8.1f} µs", ""),
        ("trivial run, context on request p99", f"{cold[1]:8.1f} µs", ""),
        ("new context + prelude from source p50", f"{prelude_from_source:8.1f} µs", ""),
        ("new context + prelude from bytecode p50", f"{prelude_from_bytecode:8.1f} µs", ""),
        (f"transformBatch of {args.events} events", f"{batch_eps:8.0f} ev/s", "≥ 85000 ev/s"),
        ("recursive fib(30)", f"{fib_ms:8.1f} ms", "≤ 70 ms"),
        ("2 threads vs 1 on CPU-bound runs (speed-up)", f"{speedup:8.2f} x", ""),
    ]
    if racer:
        rows += [
            ("mini-racer: fresh context + run p50", f"{racer['fresh_p50']:8.1f} µs", ""),
            ("mini-racer: warm call (no isolation) p50", f"{racer['warm_p50']:8.1f} µs", ""),
            (f"mini-racer: transformBatch {args.events}", f"{racer['batch_eps']:8.0f} ev/s", ""),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>14}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>14}  {target}")
    if racer:
        print()
        print(f"ratio: mini-racer fresh context / our prepared run  = {racer['fresh_p50'] / prepared[0]:6.1f}x "
              "(target ≥ 5x)")
        print(f"ratio: mini-racer fresh context / our on-request run = {racer['fresh_p50'] / cold[0]:6.1f}x")
        print(f"ratio: mini-racer warm call / our prepared run       = {racer['warm_p50'] / prepared[0]:6.1f}x")
        print(f"ratio: our batch / mini-racer batch                  = {batch_eps / racer['batch_eps']:6.2f}x")
    else:
        print("\nmini-racer is not installed: `pip install -r requirements-bench.txt` for the V8 baseline")


if __name__ == "__main__":
    main()
