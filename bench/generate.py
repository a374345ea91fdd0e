"""Deterministic NDJSON customers for `patron import` and the benchmarks.

    python bench/generate.py --customers 100000 --seed 1 > var/bench/customers.ndjson

Each customer: an id (UUIDv7 from a fixed clock, so the same seed gives the same file), two
contacts, one alias (`crm-<n>`), two custom properties (`region`, `score`), one of 50 labels.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid

import msgspec

BASE_MILLIS = 1_720_000_000_000
LABELS = [f"segment-{n:02d}" for n in range(50)]
REGIONS = ["emea", "amer", "apac", "latam", "anz"]


def customer_id(n: int, rng: random.Random) -> str:
    millis = BASE_MILLIS + n
    rand = rng.getrandbits(74)
    value = millis << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def body(n: int, rng: random.Random) -> dict[str, object]:
    return {
        "id": customer_id(n, rng),
        "legalName": f"Customer {n:07d} Ltd",
        "address": {
            "line1": f"{n % 9000 + 1} Market Street",
            "town": "Springfield",
            "postcode": f"{n % 90000 + 10000}",
            "country": "GB",
        },
        "taxStatus": "TAXED",
        "label": LABELS[n % len(LABELS)],
        "contacts": [
            {
                "name": f"Billing {n}",
                "email": f"billing{n}@c{n}.example.com",
                "billingPreference": "PRIMARY",
            },
            {"name": f"Ops {n}", "email": f"ops{n}@c{n}.example.com", "billingPreference": "NONE"},
        ],
        "customerAliases": [f"crm-{n:07d}"],
        "customProperties": {"region": rng.choice(REGIONS), "score": f"{rng.randrange(10**6):06d}"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    encode = msgspec.json.Encoder().encode
    out = sys.stdout.buffer
    for n in range(args.customers):
        out.write(encode(body(n, rng)) + b"\n")


if __name__ == "__main__":
    main()
