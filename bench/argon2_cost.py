"""The CPU cost of one password hash and one verification with the provider's settings.

`python -m bench.argon2_cost [ROUNDS]` prints one JSON line (milliseconds, median of ROUNDS).
Run it pinned (`taskset -c 0 ...`) for a per-core figure.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from idp.authn.password import PasswordHasher
from idp.settings import Settings


def measure(rounds: int) -> dict[str, object]:
    settings = Settings()
    hasher = PasswordHasher.argon2(
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
    )
    password = "rice fields at dawn"
    stored = hasher.hash(password)
    hashing, verifying = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        stored = hasher.hash(password)
        hashing.append(time.perf_counter() - started)
        started = time.perf_counter()
        ok, _ = hasher.verify(password, stored)
        verifying.append(time.perf_counter() - started)
        if not ok:
            raise SystemExit("the password did not verify")
    return {
        "memory_kib": settings.argon2_memory_kib,
        "time_cost": settings.argon2_time_cost,
        "parallelism": settings.argon2_parallelism,
        "hash_ms": round(statistics.median(hashing) * 1000, 2),
        "verify_ms": round(statistics.median(verifying) * 1000, 2),
        "verify_ms_min": round(min(verifying) * 1000, 2),
        "rounds": rounds,
        "encoded_prefix": stored.split("$")[1:4],
    }


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    print(json.dumps(measure(rounds)))


if __name__ == "__main__":
    main()
