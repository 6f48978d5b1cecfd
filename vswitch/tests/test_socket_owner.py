"""A guest port's socket belongs to one guest (issue 12): a second client that
connects while a guest is attached is refused and counted, the attached
guest's traffic goes on, during and after; and the socket takes the group and
mode the operator gives, so that QEMU's group may connect without the socket
being world-writable."""
import os
import stat

from vo.harness import Guest, Switch, Testpmd, cleanup, virtio_user, wait_for, wait_moving
from vo import pcaps

SENDER_MAC, RECEIVER_MAC = "02:00:00:00:0b:01", "02:00:00:00:0b:02"


def test_a_second_client_is_refused_and_the_guest_keeps_its_port(tmp_path):
    workdir = str(tmp_path)
    sender_sock, receiver_sock = str(tmp_path / "vm1.sock"), str(tmp_path / "vm2.sock")
    with cleanup() as later:
        sw = Switch(workdir, ["--vhost", sender_sock, "--name", "vm1",
                              "--vhost", receiver_sock, "--name", "vm2"])
        later(sw)
        hello = str(tmp_path / "hello.pcap")
        pcaps.write_announce(hello, RECEIVER_MAC)
        receiver = Guest(workdir, receiver_sock, hello)
        later(receiver)
        sw.wait_learned("vm2")
        stream = str(tmp_path / "stream.pcap")
        pcaps.write_stream(stream, 4, 4, 64000)
        sender = Guest(workdir, sender_sock, stream, tso_mss=pcaps.MSS[4], peer=RECEIVER_MAC,
                       mac=SENDER_MAC, loop=True)
        later(sender)
        sw.wait_guest("vm1")

        def sender_moves():
            wait_moving("the sender's segments out of the switch to the receiver",
                        lambda: sw.port("vm2")["tx_packets"])
            assert sw.port("vm1")["ready"] == 1

        sender_moves()
        connects = sw.port("vm1")["connects"]
        # A second virtio-user device on the same socket, as a neighbour or a
        # misconfigured second VM would open it. Refused, its testpmd has no
        # port to start (or gives up altogether): either is fine here.
        try:
            intruder = Testpmd(workdir, [virtio_user(sender_sock, "02:00:00:00:0b:66")],
                               ["start"], ["--no-flush-rx"])
            later(intruder)
        except RuntimeError:
            intruder = None
        wait_for("the switch to count the refused connection",
                 lambda: sw.port("vm1")["refused_connections"] >= 1)
        assert sw.port("vm1")["connects"] == connects, "the second client became the port's guest"
        assert "refused a second connection on vhost-user socket" in sw.process.text()
        sender_moves()
        if intruder:
            intruder.stop()
        sender_moves()  # its leaving does not take the port down under the guest
        assert sender.process.alive()


def test_the_socket_takes_the_group_and_mode_given(tmp_path):
    sock = str(tmp_path / "vm.sock")
    with cleanup() as later:
        sw = Switch(str(tmp_path), ["--vhost", sock, "--socket-group", "12345",
                                    "--socket-mode", "0660"])
        later(sw)
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_gid == 12345
