"""Speed of ``infimed_lib.packing.ffd`` against two yardsticks, measured in one process (Chapter 02).

1. 10,000,000 log-normal lengths (median 500 tokens, sigma 1.0, clipped to 1..4096): ``ffd``
   against ``numpy.sort`` of the same array. Target: ffd <= 10 x sort.
2. 50,000 such lengths: ``ffd`` against ``binpacking.to_constant_volume`` (PyPI). Target:
   ffd >= 1000 x faster.

The numba kernels are compiled (or loaded from their on-disk cache) by a warm-up call before
any timing, so compilation is never counted. Each large measurement alternates sort and ffd
``--repeats`` times and reports medians, so background load hits both alike.

Run: ``make bench`` or ``.venv/bin/python benchmarks/bench_ffd.py`` (about a minute, most of it
``binpacking``). Exit status 1 if a target is missed.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

for _name, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_name, _value)  # offline, as the Makefile runs everything
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from infimed_lib.packing import ffd  # noqa: E402
from infimed_lib.packing.stats import synthetic_lengths  # noqa: E402


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="items for the sort comparison")
    parser.add_argument("--small-n", type=int, default=50_000, help="items for the binpacking comparison")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timings of sort and ffd")
    parser.add_argument("--sigma", type=float, default=1.0, help="log-normal sigma of the lengths")
    parser.add_argument("--skip-binpacking", action="store_true", help="skip the slow PyPI comparison")
    args = parser.parse_args(argv)

    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")
    warm = seconds(lambda: ffd(synthetic_lengths(1000, sigma=args.sigma, seed=1)))
    print(f"warm-up call (numba compile or cache load, not counted): {warm:.2f} s")

    lengths = synthetic_lengths(args.n, sigma=args.sigma, seed=0)
    print(f"\n[1] {args.n:,} lengths, median {int(np.median(lengths))}, mean {lengths.mean():.0f}, "
          f"{int((lengths == 4096).sum()):,} clipped at 4096")
    sort_times, ffd_times = [], []
    for _ in range(args.repeats):
        sort_times.append(seconds(lambda: np.sort(lengths)))
        ffd_times.append(seconds(lambda: ffd(lengths)))
    sort_s, ffd_s = statistics.median(sort_times), statistics.median(ffd_times)
    bins = int(ffd(lengths).max()) + 1
    lower = -(-int(lengths.sum()) // 4096)
    print(f"    numpy.sort  median {sort_s:.3f} s   (all: {', '.join(f'{t:.3f}' for t in sort_times)})")
    print(f"    ffd         median {ffd_s:.3f} s   (all: {', '.join(f'{t:.3f}' for t in ffd_times)})")
    print(f"    bins {bins:,} (lower bound {lower:,})")
    ratio_sort = ffd_s / sort_s
    ok_sort = ratio_sort <= 10
    print(f"    RATIO ffd / numpy.sort = {ratio_sort:.2f}   (target <= 10: {'met' if ok_sort else 'MISSED'})")

    ok_pypi = True
    if not args.skip_binpacking:
        import binpacking

        small = synthetic_lengths(args.small_n, sigma=args.sigma, seed=2)
        as_list = small.tolist()
        ffd_small = min(seconds(lambda: ffd(small)) for _ in range(max(args.repeats, 5)))
        print(f"\n[2] {args.small_n:,} lengths; binpacking.to_constant_volume runs once (it is slow)")
        pypi_s = seconds(lambda: binpacking.to_constant_volume(as_list, 4096))
        pypi_bins = len(binpacking.to_constant_volume(small[:2000].tolist(), 4096))
        print(f"    binpacking  {pypi_s:.2f} s")
        print(f"    ffd         {ffd_small * 1000:.2f} ms (best of {max(args.repeats, 5)})")
        print(f"    (on the first 2,000: binpacking {pypi_bins} bins, ffd {int(ffd(small[:2000]).max()) + 1} bins; "
              f"binpacking places each item in the least-loaded bin that fits, not the first)")
        ratio_pypi = pypi_s / ffd_small
        ok_pypi = ratio_pypi >= 1000
        print(f"    RATIO binpacking / ffd = {ratio_pypi:,.0f}   (target >= 1000: {'met' if ok_pypi else 'MISSED'})")
    return 0 if ok_sort and ok_pypi else 1


if __name__ == "__main__":
    sys.exit(main())
