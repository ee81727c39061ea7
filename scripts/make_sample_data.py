"""Write the bundled sample log: ``python scripts/make_sample_data.py``.

The file is :func:`interactive_metrics.data.anomaly_log` with its defaults (seed 0),
so running this again rewrites the same rows.
"""

from __future__ import annotations

from pathlib import Path

import interactive_metrics as im
from interactive_metrics.data import SAMPLE_LOG_FILE

TARGET = Path(im.data.__file__).parent / SAMPLE_LOG_FILE


def main() -> None:
    """Write the file and say where."""
    log = im.data.anomaly_log()
    log.write_parquet(TARGET, compression="zstd", compression_level=19, statistics=False)
    print(f"wrote {TARGET} ({log.height:,} rows, {TARGET.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
