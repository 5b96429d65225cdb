"""A bounded HTTP load generator: `clients` threads, each on one keep-alive connection, send requests
back to back until `seconds` have passed, then stop. Throughput and latency percentiles of the answers."""

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    requests: int
    errors: int  # answers other than 2xx, and connection failures
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")

    def line(self, label: str) -> str:
        return (f"{label}: {self.throughput:.0f} req/s, p50 {statistics.median(self.latencies_ms):.1f} ms, "
                f"p99 {self.percentile(99):.1f} ms ({self.requests} requests, {self.errors} errors)")


def run(url: str, *, clients: int, seconds: float, body: dict, warmup_s: float = 1.0) -> LoadResult:
    """POST `body` as JSON to `url` from `clients` threads for `warmup_s` (not counted), then `seconds`."""
    target = urlsplit(url)
    payload = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    started = time.monotonic()
    measure_from, stop_at = started + warmup_s, started + warmup_s + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def client() -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        mine, failed = [], 0
        while (sent := time.monotonic()) < stop_at:
            try:
                connection.request("POST", target.path, payload, headers)
                response = connection.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                ok = False
            if sent >= measure_from:
                if ok:
                    mine.append((time.monotonic() - sent) * 1000)
                else:
                    failed += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(latencies), errors[0], seconds, latencies)
