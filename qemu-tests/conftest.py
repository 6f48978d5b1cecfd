"""The VM tests build on the switch tests' harness (vswitch/tests/harness.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "vswitch", "tests"))

# A test stopped with SIGTERM (a timeout, a Ctrl-C'd wrapper) still runs its
# cleanup blocks: guests, daemons and namespaces it started go away with it.
import signal  # noqa: E402

signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
