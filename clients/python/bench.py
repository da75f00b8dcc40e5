#!/usr/bin/env python3
"""Benchmark of the Python client against real daemons. It prints figures; it is not a test.

1. Throughput: a flat-out sender (its own process, blocking API, not a member) multicasts
   ``--size``-byte agreed messages to a group; one receiver (asyncio API, on another daemon)
   counts what is delivered to it. Figure: delivered messages/s at the receiver, measured
   over ``--duration`` seconds after ``--warmup``.
2. Latency, one message in flight: a sender (a member of the group) sends the next message
   once its previous one came back to it; a receiver on another daemon records the one-way
   latency (send time carried in the payload, the host's monotonic clock). Figures: p50 and
   p99 one-way at the receiver, and the sender's own round trip.

Without ``--daemon`` it starts a site of ``--daemons`` chorusd processes on 127.0.0.1 (ports
in 46000-46999, binaries from $CHORUS_BIN_DIR or <repo>/.build/release) and stops them at the
end. With ``--daemon A [--daemon B]`` it uses running daemons (the receiver on the last one).

    python3 bench.py                      # 3 daemons, 100-byte agreed messages
    python3 bench.py --daemons 1 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "src"))
sys.path.insert(0, str(HERE / "tests"))

import chorus  # noqa: E402
import chorus.blocking  # noqa: E402

STAMP = struct.Struct(">QQ")  # seq, send time (ns, monotonic)
END = 1  # message type of the sender's last message


def payload(seq: int, size: int) -> bytes:
    head = STAMP.pack(seq, time.monotonic_ns())
    return head + b"\x00" * max(0, size - len(head))


def flat_out_sender(address: str, group: str, size: int, batch: int, seconds: float, go: Any, result: Any) -> None:
    """Runs in its own process: sends as fast as the daemon takes messages for ``seconds``,
    one multicast() per message (batch 1) or multicast_many() of ``batch`` messages."""
    with chorus.blocking.connect(address, name=f"bench-tx-{os.getpid()}", membership=False) as session:
        go.wait(30)
        seq = 0
        stop = time.monotonic() + seconds
        filler = b"\x00" * max(0, size - STAMP.size)
        while True:
            if batch == 1:
                for _ in range(256):
                    session.multicast(group, STAMP.pack(seq, 0) + filler)
                    seq += 1
            else:
                session.multicast_many(group, [STAMP.pack(seq + i, 0) + filler for i in range(batch)])
                seq += batch
            if time.monotonic() >= stop:
                break
        session.multicast(group, payload(seq, size), message_type=END)
        result.put(seq)


async def throughput(tx_address: str, rx_address: str, size: int, batch: int, warmup: float, duration: float) -> None:
    group = f"bench-{os.getpid()}-tp"
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    result = context.Queue()
    async with chorus.connect(rx_address, name=f"bench-rx-{os.getpid()}") as receiver:
        await receiver.join(group)
        await receiver.receive(10)  # the join view
        sender = context.Process(
            target=flat_out_sender, args=(tx_address, group, size, batch, warmup + duration + 0.5, go, result), daemon=True
        )
        sender.start()
        go.set()
        delivered = 0
        first: Optional[float] = None
        window_start_count = 0
        window_start = 0.0
        window_end_count = 0
        window_end = 0.0
        while True:
            event = await receiver.receive(30)
            if not isinstance(event, chorus.Message):
                continue
            delivered += 1
            now = time.perf_counter()
            if first is None:
                first = now
            elif not window_start and now - first >= warmup:
                window_start, window_start_count = now, delivered
            elif window_start and not window_end and now - window_start >= duration:
                window_end, window_end_count = now, delivered
            if event.message_type == END:
                break
        sent = result.get(timeout=30)
        sender.join(10)
    if not window_end:  # the sender stopped early: measure up to the last message
        window_end, window_end_count = now, delivered
    rate = (window_end_count - window_start_count) / (window_end - window_start)
    print(
        f"throughput: {rate:,.0f} msg/s delivered at one receiver ({rate * size / 1e6:.2f} MB/s), "
        f"{size}-byte agreed messages, flat-out sender "
        f"({'one multicast() per message' if batch == 1 else f'multicast_many() of {batch}'}); "
        f"measured over {window_end - window_start:.1f} s "
        f"({sent + 1:,} sent, {delivered:,} delivered)"
    )


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def latency(tx_address: str, rx_address: str, size: int, count: int, warmup_count: int) -> None:
    group = f"bench-{os.getpid()}-lat"
    async with chorus.connect(tx_address, name=f"bench-ltx-{os.getpid()}") as sender, chorus.connect(
        rx_address, name=f"bench-lrx-{os.getpid()}"
    ) as receiver:
        for session in (sender, receiver):
            await session.join(group)
        for session in (sender, receiver):
            while True:
                view = await session.receive(10)
                if isinstance(view, chorus.Membership) and len(view.members) == 2:
                    break
        one_way: List[float] = []
        round_trip: List[float] = []

        async def receive_all() -> None:
            for seq in range(count + warmup_count):
                while True:
                    event = await receiver.receive(10)
                    if isinstance(event, chorus.Message):
                        break
                got_seq, sent_ns = STAMP.unpack_from(event.payload)
                assert got_seq == seq
                if seq >= warmup_count:
                    one_way.append((time.monotonic_ns() - sent_ns) / 1000)

        receiving = asyncio.ensure_future(receive_all())
        for seq in range(count + warmup_count):
            started = time.monotonic_ns()
            await sender.multicast(group, payload(seq, size))
            while True:
                event = await sender.receive(10)
                if isinstance(event, chorus.Message):
                    break
            if seq >= warmup_count:
                round_trip.append((time.monotonic_ns() - started) / 1000)
        await asyncio.wait_for(receiving, 10)
    print(
        f"latency, one {size}-byte agreed message in flight, {count} messages: "
        f"one-way at the receiver p50 {percentile(one_way, 0.5):.0f} µs, p99 {percentile(one_way, 0.99):.0f} µs "
        f"(mean {statistics.mean(one_way):.0f}); sender's own round trip p50 {percentile(round_trip, 0.5):.0f} µs, "
        f"p99 {percentile(round_trip, 0.99):.0f} µs"
    )


def swift_bench(tx: str, rx: str, arguments: List[str]) -> Optional[str]:
    """Runs ``chorus bench`` (the Swift client) against the same two daemons; its report."""
    import subprocess

    binary = Path(os.environ.get("CHORUS_BIN_DIR", HERE.parent.parent / ".build" / "release")) / "chorus"
    if not binary.exists():
        print(f"swift client: {binary} not found, not measured (swift build -c release first)")
        return None
    run = subprocess.run(
        [str(binary), "bench", "--connect", tx, "--connect", rx, *arguments],
        capture_output=True, text=True, timeout=120,
    )
    if run.returncode != 0:
        print(f"swift client: chorus bench failed: {run.stderr.strip()[-500:]}")
        return None
    return run.stdout


def swift_beside(tx: str, rx: str, options: Any) -> None:
    """The Swift client in the same run and the same shape: a flat-out non-member sender on the
    first daemon (batches of 32, as multicast_many(32)), the one receiver on the second; then one
    message in flight from a member on the first daemon, one-way latency at the second."""
    import re

    report = swift_bench(tx, rx, [
        "--size", str(options.size), "--sender-daemons", "1", "--skip-receivers", "1",
        "--duration", str(options.duration), "--warmup", str(options.warmup),
    ])
    if report:
        rate = re.search(r"per receiver \(mean\): (\d+) msg/s", report)
        print(f"swift client throughput: {int(rate.group(1)):,} msg/s delivered at one receiver, flat-out sender "
              f"(batches of 32), same daemons and shape" if rate else f"swift client: unexpected report\n{report}")
    report = swift_bench(tx, rx, [
        "--size", str(options.size), "--in-flight", "1", "--duration", str(max(2.0, options.duration / 2)), "--warmup", "0.5",
    ])
    if report:
        line = re.search(r"receiver 1 \(d2\):.*latency p50 (\d+) µs.*p99 (\d+)", report)
        print(f"swift client latency, one message in flight: one-way at the receiver p50 {line.group(1)} µs, "
              f"p99 {line.group(2)} µs" if line else f"swift client: unexpected report\n{report}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--daemon", action="append", help="a running daemon's address (repeat for the receiver's)")
    parser.add_argument("--daemons", type=int, default=3, help="daemons of the site to start (default 3)")
    parser.add_argument("--size", type=int, default=100, help="payload bytes (default 100)")
    parser.add_argument("--duration", type=float, default=5.0, help="throughput measurement, seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="throughput warm-up, seconds")
    parser.add_argument("--count", type=int, default=2000, help="latency samples")
    parser.add_argument(
        "--batch", type=int, action="append", help="sender batch: 1 = multicast() per message (default: 1, then 32)"
    )
    parser.add_argument("--no-swift", action="store_true", help="skip the Swift client's figures beside these")
    options = parser.parse_args()
    options.batch = options.batch or [1, 32]
    if options.size < STAMP.size:
        parser.error(f"--size must be at least {STAMP.size}")

    site = None
    if options.daemon:
        tx, rx = options.daemon[0], options.daemon[-1]
        where = f"daemons {tx} -> {rx}"
    else:
        import cluster

        if not cluster.chorusd_available():
            sys.exit(cluster.skip_reason())
        site = cluster.Site(Path(tempfile.mkdtemp(prefix="chorus-bench-")), count=options.daemons)
        site.start()
        tx = site.daemons[0].unix
        rx = site.daemons[min(1, options.daemons - 1)].unix
        where = f"a site of {options.daemons} daemon(s) started here, sender on d1, receiver on d{min(2, options.daemons)}, Unix sockets"
    try:
        print(f"chorus-client {chorus.__version__}, Python {sys.version.split()[0]}; {where}")
        for batch in options.batch:
            asyncio.run(throughput(tx, rx, options.size, batch, options.warmup, options.duration))
        asyncio.run(latency(tx, rx, options.size, options.count, 100))
        if not options.no_swift:
            swift_beside(tx, rx, options)
    finally:
        if site is not None:
            site.stop()


if __name__ == "__main__":
    main()
