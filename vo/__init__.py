"""The project's Python: the telemetry client the stats tool uses
(vo.telemetry), the harness the switch and VM tests run real peers with
(vo.harness, vo.pcaps, vo.vm, vo.vnet_sender), and the benchmarks behind
tools/bench (vo.bench).

Tests get it through pytest.ini at the top of the tree; scripts in tools/ and
qemu-tests/ put the top of the tree on sys.path themselves."""
