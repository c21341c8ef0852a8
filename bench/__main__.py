"""``python -m bench``: rerun every benchmark and refresh bench/results/*.json.

``python -m bench --quick`` skips the 1M- and 5M-row training runs (minutes each on 2 cores) and the
5M-row batch scoring run.
"""

from __future__ import annotations

import sys

from bench import ai_local, batch, coldstart, demo_time, garbage, latency, quality, serving, throughput, training


def main() -> None:
    quick = "--quick" in sys.argv
    coldstart.main([])
    throughput.main([])
    latency.main([])
    quality.main([])
    garbage.main([])
    serving.main([])
    demo_time.main([])
    training.main(["--sizes", "10000,100000" if quick else "10000,100000,1000000,5000000"])
    batch.main(["--sizes", "1000000" if quick else "1000000,5000000"])
    ai_local.main()


if __name__ == "__main__":
    main()
