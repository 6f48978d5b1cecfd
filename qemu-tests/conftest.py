"""The VM tests build on the switch tests' harness (vswitch/tests/harness.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "vswitch", "tests"))
