"""Load benchmark for `rnnkit serve`: N concurrent short generations on loopback.

Starts `rnnkit serve --checkpoint RUN --port 0` with its default settings (2 workers,
waiting line 128, 1 torch thread), fires `--requests` one-shot (or streaming) generations at
once, and prints requests per second and p50/p99 latency; every request must be answered 200.

    python benchmarks/serve_load.py --checkpoint runs/demo [--requests 100] [--length 50]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def fire(url: str, requests: int, length: int, endpoint: str) -> tuple[list[float], float]:
    """All requests at once; their latencies and the wall time of the whole burst."""
    limits = httpx.Limits(max_connections=requests, max_keepalive_connections=requests)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one(i: int) -> float:
            body = {"prefix": "the ", "length": length, "seed": i, "temperature": 0.8}
            t = time.perf_counter()
            res = await client.post(f"{url}/api/{endpoint}", json=body)
            assert res.status_code == 200, (res.status_code, res.text)
            if endpoint == "stream":
                assert res.text.rstrip().split("\n\n")[-1].startswith("event: done"), res.text
            return time.perf_counter() - t

        await one(10**6)  # warm-up
        start = time.perf_counter()
        latencies = await asyncio.gather(*(one(i) for i in range(requests)))
        return list(latencies), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="run folder or .pt file")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--length", type=int, default=50, help="new tokens per request")
    parser.add_argument("--endpoint", choices=["generate", "stream"], default="generate")
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "rnnkit", "serve", "--checkpoint", args.checkpoint]
    server = subprocess.Popen([*cmd, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        found = re.search(r"(http://\S+):(\d+)/", line)
        if not found:
            print(f"the server did not start: {line}", file=sys.stderr)
            return 1
        url = f"{found.group(1)}:{found.group(2)}"
        latencies, wall = asyncio.run(fire(url, args.requests, args.length, args.endpoint))
    finally:
        server.terminate()
        server.wait(10)
    ms = [x * 1000 for x in latencies]
    print(
        f"{Path(args.checkpoint).name}: {args.requests} concurrent /api/{args.endpoint} "
        f"x {args.length} tokens, all 200: {args.requests / wall:.1f} requests/s, "
        f"{args.requests * args.length / wall:,.0f} tokens/s, latency p50 "
        f"{percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms, "
        f"mean {statistics.fmean(ms):.0f} ms, wall {wall:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
