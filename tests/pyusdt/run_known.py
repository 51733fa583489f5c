"""usage: python3.12 run_known.py GT.json - known_calls.py with pyusdt probes on
(PYTHONPATH: this directory with _pyusdt built in it, and tests/py)."""
import pyusdt

pyusdt.enable()

import known_calls  # noqa: E402

known_calls.main()
