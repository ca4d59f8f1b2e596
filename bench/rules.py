"""Throughput of the rules fast path on a city-sized screening (single core).

    .venv/bin/python bench/rules.py            # 1.45 M rows (Shijiazhuang's 2023 screening)
    .venv/bin/python bench/rules.py --rows 200000 --seed 7

Generates plausible result rows with a fixed seed (pupils 6-18 y, realistic heights,
weights, acuity, refraction, scoliometer readings and teeth) as the integer tuples of
``schoolhealth.rules.fast_row``, then times:

* ``classify_row`` for growth + vision + spine (dental fields empty), and with dental;
* a raw baseline on the same machine: a loop doing only the growth-table lookup and the
  tuple building of one row's codes (the floor any Python implementation pays);
* on a sample, for scale: ``fast_row`` + ``classify_row`` from Decimal ``Measurements``
  (the conversion to integers included), and ``evaluate()`` (full findings with
  standard, clause, detail).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schoolhealth.rules import (  # noqa: E402
    DEFAULT_CONFIG,
    Measurements,
    Sex,
    classify_row,
    compile_rules,
    evaluate,
    fast_row,
)

MOLARS = (16, 26, 36, 46, 17, 27, 37, 47)
TEETH = tuple(q * 10 + t for q in (1, 2, 3, 4) for t in range(1, 8))


def generate(n: int, seed: int) -> list[tuple]:
    """Deterministic plausible rows in ``fast_row`` layout (see engine.ROW_FIELDS)."""
    rng = random.Random(seed)
    gauss, rand, randrange, choice = rng.gauss, rng.random, rng.randrange, rng.choice
    no_dental = (None,) * 6
    rows = []
    for _ in range(n):
        sex = randrange(2)
        months = randrange(72, 228)
        years = months / 12
        height = int(max(8000, min(22000, (75 + 5.8 * years + gauss(0, 6)) * 100)))
        bmi = max(11.0, gauss(14.0 + 0.45 * years, 2.6))
        weight = int(max(1000, min(20000, bmi * (height / 10000) ** 2 * 100)))
        # about half the pupils see 5.0 or better (Chinese surveys: ~50 % reduced vision)
        ucva_r = randrange(50, 54) if rand() < 0.5 else max(30, 49 - int(abs(gauss(0, 3))))
        ucva_l = max(30, min(53, ucva_r + randrange(-1, 2)))
        se_r = None if rand() < 0.1 else int(gauss(-0.8, 1.5) * 4) * 250
        se_l = None if se_r is None else se_r + choice((-250, 0, 0, 250))
        atrs = [min(300, int(abs(gauss(0, 1.6)) * 10)) for _ in range(3)]
        sagittal = "normal" if rand() < 0.97 else choice(("kyphosis", "lordosis", "straight_back"))
        rows.append(
            (
                sex,
                months,
                height,
                weight,
                ucva_r,
                ucva_l,
                se_r,
                se_l,
                rand() < 0.01,
                1 if rand() < 0.04 else 0,
                1 if rand() < 0.04 else 0,
                atrs[0],
                atrs[1],
                atrs[2],
                sagittal,
                None if sagittal == "normal" else choice(("resolved", "persists")),
                *no_dental,
                choice((None, "resolved", "persists")),  # motion test
            )
        )
    return rows


def with_dental(rows: list[tuple], seed: int) -> list[tuple]:
    """The same rows plus tooth records drawn from a pool (decayed, filled, sealed)."""
    rng = random.Random(seed + 1)
    pool = []
    for _ in range(4096):
        decayed = tuple(rng.sample(TEETH, rng.randrange(1, 4))) if rng.random() < 0.4 else ()
        filled = tuple(t for t in rng.sample(MOLARS, rng.randrange(0, 2)) if t not in decayed)
        sealed = (16,) if rng.random() < 0.3 and 16 not in decayed + filled else None
        pool.append((decayed, filled, None, sealed, None, None))
    return [row[:16] + pool[i & 4095] + row[22:] for i, row in enumerate(rows)]


def rate(label: str, n: int, seconds: float, baseline: float | None = None) -> float:
    per_second = n / seconds
    extra = f"  (baseline / this = {baseline / per_second:.1f})" if baseline else ""
    print(f"{label:<46} {per_second:>11,.0f} rows/s {seconds:6.2f} s{extra}")
    return per_second


def best_of(repeat: int, run) -> float:
    """Fastest of ``repeat`` runs (as timeit does): other processes only ever add time."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def baseline_loop(rows: list[tuple], entries) -> None:
    """Only the per-row unavoidable work: unpack, one table lookup, build a result tuple."""
    for row in rows:
        sex, months = row[0], row[1]
        e = entries[sex][months]
        _ = (
            e[0],
            e[1],
            row[2],
            row[4],
            row[5],
            row[11],
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "",
        )


def classify_all(rules, rows: list[tuple]) -> None:
    for row in rows:
        classify_row(rules, row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_450_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--sample", type=int, default=20_000, help="rows for evaluate()")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    args = parser.parse_args()

    rules = compile_rules(DEFAULT_CONFIG)
    t = time.perf_counter()
    rows = generate(args.rows, args.seed)
    dental_rows = with_dental(rows, args.seed)
    print(
        f"generated 2 x {args.rows:,} rows (seed {args.seed}) in "
        f"{time.perf_counter() - t:.1f} s; Python {sys.version.split()[0]}"
    )

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"best of {args.repeat} runs each; 1-minute load average {load:.2f} on "
        f"{os.cpu_count()} CPUs"
    )
    base = rate(
        "raw baseline (lookup + tuple only)",
        args.rows,
        best_of(args.repeat, lambda: baseline_loop(rows, rules.growth.entries)),
    )
    rate(
        "classify_row: growth + vision + spine",
        args.rows,
        best_of(args.repeat, lambda: classify_all(rules, rows)),
        base,
    )
    rate(
        "classify_row: growth + vision + spine + dental",
        args.rows,
        best_of(args.repeat, lambda: classify_all(rules, dental_rows)),
        base,
    )
    counts = Counter(word for row in dental_rows for word in classify_row(rules, row)[-1].split())
    print(
        "  referral rate: "
        + ", ".join(f"{k} {v / args.rows:.1%}" for k, v in sorted(counts.items()))
    )

    sample = rows[: args.sample]
    birth = date(2005, 1, 1)
    measurements = []
    for row in sample:
        screening = date(2005 + (row[1] // 12), 1 + row[1] % 12, 1)
        measurements.append(
            (
                Sex.MALE if row[0] == 0 else Sex.FEMALE,
                screening,
                Measurements(
                    height_cm=Decimal(row[2]).scaleb(-2).quantize(Decimal("0.1")),
                    weight_kg=Decimal(row[3]).scaleb(-2),
                    ucva_right=Decimal(row[4]).scaleb(-1),
                    ucva_left=Decimal(row[5]).scaleb(-1),
                    atr_thoracic=Decimal(row[11]).scaleb(-1),
                    adams="positive" if row[10] else "negative",
                ),
            )
        )

    def evaluate_sample() -> None:
        for sex, screening, m in measurements:
            evaluate(sex, birth, screening, m)

    months = [row[1] for row in sample]

    def fast_row_sample() -> None:
        for (sex, _, m), n_months in zip(measurements, months, strict=True):
            classify_row(rules, fast_row(sex, n_months, m))

    rate(
        "fast_row + classify_row from Measurements",
        len(sample),
        best_of(args.repeat, fast_row_sample),
        base,
    )
    rate(
        "evaluate() with findings (sample)",
        len(sample),
        best_of(args.repeat, evaluate_sample),
        base,
    )


if __name__ == "__main__":
    main()
