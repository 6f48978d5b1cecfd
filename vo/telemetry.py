"""Reads vhost-offload's statistics from its DPDK telemetry socket."""
import json
import os
import socket

COMMAND = "/vhost_offload/stats"


def socket_path(prefix):
    run = "/var/run/dpdk" if os.geteuid() == 0 else os.path.join(
        os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
    return os.path.join(run, prefix, "dpdk_telemetry.v2")


class TelemetryError(RuntimeError):
    pass


def query(prefix, command=COMMAND):
    """The parsed reply of one telemetry command."""
    path = socket_path(prefix)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
    except OSError as e:
        raise TelemetryError(f"cannot reach the switch at {path}: {e.strerror}. "
                             f"Is vhost-offload running (with --file-prefix {prefix})?")
    try:
        info = json.loads(s.recv(1024).decode())
        s.send(command.encode())
        reply = s.recv(info.get("max_output_len", 16384)).decode()
    finally:
        s.close()
    data = json.loads(reply).get(command)
    if data is None:
        raise TelemetryError("the process at that socket is no vhost-offload switch")
    return data
