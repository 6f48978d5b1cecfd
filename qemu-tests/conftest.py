"""The VM tests build on the project's harness (the vo package, on the path
through pytest.ini at the top of the tree)."""
import signal
import sys

# A test stopped with SIGTERM (a timeout, a Ctrl-C'd wrapper) still runs its
# cleanup blocks: guests, daemons and namespaces it started go away with it.

signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
