#include "cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "ports/vhost/features.h"

namespace vo::cli {
namespace {

std::optional<Config> run(std::vector<const char*> args, std::string& error) {
  args.insert(args.begin(), "vhost-offload");
  return parse(int(args.size()), args.data(), error);
}

TEST(Cli, PortsWithTheirOptionsAndEalArguments) {
  std::string err;
  auto c = run({"--vhost", "/tmp/a.sock", "--name", "vm1", "--disable", "guest-tso4,mrg-rxbuf",
                "--nic", "net_tap0,iface=vo0", "--disable", "tso", "--no-gro",
                "--vhost-client", "/tmp/b.sock", "--gro-timeout-us", "50", "--", "-l", "0,1"},
               err);
  ASSERT_TRUE(c) << err;
  ASSERT_EQ(c->ports.size(), 3u);
  EXPECT_EQ(c->ports[0].kind, control::PortKind::Vhost);
  EXPECT_EQ(c->ports[0].name, "vm1");
  EXPECT_EQ(c->ports[0].disable, "guest-tso4,mrg-rxbuf");
  EXPECT_EQ(c->ports[1].kind, control::PortKind::Nic);
  EXPECT_EQ(c->ports[1].target, "net_tap0,iface=vo0");
  EXPECT_FALSE(c->ports[1].gro);
  EXPECT_TRUE(c->ports[0].gro);
  EXPECT_EQ(c->ports[2].kind, control::PortKind::VhostClient);
  // Resolved for each kind: the options each port opens with.
  EXPECT_EQ(c->ports[0].vhost.path, "/tmp/a.sock");
  EXPECT_EQ(c->ports[0].vhost.disabled, vhost::bit(vhost::kGuestTso4) | vhost::bit(vhost::kMrgRxbuf));
  EXPECT_FALSE(c->ports[1].nic.tso);
  EXPECT_TRUE(c->ports[1].nic.csum);
  EXPECT_FALSE(c->ports[1].nic.gro);
  EXPECT_TRUE(c->ports[2].vhost.client);
  EXPECT_EQ(c->ports[2].name, "b.sock") << "the socket's file name";
  EXPECT_EQ(c->ports[1].words, (std::vector<std::string>{"--nic", "net_tap0,iface=vo0", "--disable",
                                                         "tso", "--no-gro"}));
  EXPECT_EQ(c->datapath.gro_timeout_us, 50u);
  EXPECT_EQ(c->eal_args, (std::vector<std::string>{"-l", "0,1"}));
}

TEST(Cli, KernelPortWithItsOptions) {
  std::string err;
  auto c = run({"--tap", "vo-k0", "--name", "host", "--disable", "tso4,ecn", "--netns", "peer",
                "--mtu", "9000", "--queues", "2", "--tap", "vo-k1"},
               err);
  ASSERT_TRUE(c) << err;
  ASSERT_EQ(c->ports.size(), 2u);
  EXPECT_EQ(c->ports[0].kind, control::PortKind::Tap);
  EXPECT_EQ(c->ports[0].target, "vo-k0");
  EXPECT_EQ(c->ports[0].name, "host");
  EXPECT_EQ(c->ports[0].disable, "tso4,ecn");
  EXPECT_EQ(c->ports[0].tap.netns, "peer");
  EXPECT_EQ(c->ports[0].tap.mtu, 9000u);
  EXPECT_EQ(c->ports[0].tap.queues, 2u);
  EXPECT_FALSE(c->ports[0].tap.tso4);
  EXPECT_TRUE(c->ports[0].tap.tso6);
  EXPECT_FALSE(c->ports[0].tap.ecn);
  EXPECT_EQ(c->ports[0].tap.ifname, "vo-k0");
  EXPECT_EQ(c->ports[1].tap.netns, "");
  EXPECT_EQ(c->ports[1].tap.mtu, 0u);
  EXPECT_EQ(c->ports[1].tap.queues, 1u);
}

struct BadLine {
  std::vector<const char*> args;
  const char* says;
};

// Each line is refused with an error that contains what the row says.
template <size_t N>
void expect_refused(const BadLine (&rows)[N]) {
  for (const BadLine& r : rows) {
    std::string err;
    EXPECT_FALSE(run(r.args, err)) << r.says;
    EXPECT_NE(err.find(r.says), std::string::npos) << err;
  }
}

TEST(Cli, BadLinesSayWhatToDo) {
  const BadLine rows[] = {
      {{"--name", "x"}, "must follow"},
      {{"--vhost"}, "needs a value"},
      {{"--nic", "net_null0", "--mbufs", "many"}, "whole number"},
      {{"--nic", "net_null0", "--tx-queue-mbufs", "16"}, "at least 128"},
      {{"--nic", "net_null0", "--frobnicate", "1"}, "unknown option --frobnicate"},
      {{"--nic", "net_null0", "--netns", "x"}, "applies to a kernel port only"},
      {{"--tap", "k0", "--mtu", "20"}, "a TAP takes 68 to 65535"},
      {{"--tap", "k0", "--queues", "0"}, "out of range"},
      {{"--tap", "k0", "--queues", "two"}, "whole number"},
      {{"--vhost", "/tmp/a.sock", "--queues", "17"}, "give 1 to 16"},
      {{"--nic", "net_null0", "--disable", "turbo"}, "unknown offload 'turbo' for uplink"},
      {{"--tap", "k0", "--disable", "tso,fast"}, "unknown offload 'fast' for kernel port"},
      {{"--vhost", "/tmp/a.sock", "--disable", "warp"}, "unknown offload 'warp'"},
      {{"--nic", "net_null0", "--control-mode", "rw"}, "octal permission bits"},
      {{"--datapath-lcores", "1,x"}, "lcore numbers and ranges such as 1,2 or 1-3"},
      {{"--datapath-lcores", "3-1"}, "lcore numbers and ranges"},
      {{"--datapath-lcores", "1-9"}, "8 datapath threads at most"},
  };
  expect_refused(rows);
}

TEST(Cli, DatapathLcores) {
  const std::pair<const char*, std::vector<unsigned>> rows[] = {
      {"1", {1}}, {"1,2", {1, 2}}, {"2-4", {2, 3, 4}}, {"1,3-4,3", {1, 3, 4}}};
  for (const auto& [list, want] : rows) {
    std::string err;
    auto c = run({"--datapath-lcores", list}, err);
    ASSERT_TRUE(c) << list << ": " << err;
    EXPECT_EQ(c->datapath_lcores, want) << list;
    EXPECT_EQ(c->datapath.threads, want.size()) << list;
  }
  std::string err;
  auto c = run({"--datapath-lcore", "3"}, err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->datapath_lcores, std::vector<unsigned>{3});
  c = run({}, err);
  ASSERT_TRUE(c) << err;
  EXPECT_TRUE(c->datapath_lcores.empty()) << "default: every worker lcore EAL has";
}

TEST(Cli, QueuePairsPerGuestPort) {
  std::string err;
  auto c = run({"--vhost", "/tmp/a.sock", "--queues", "4", "--vhost-client", "/tmp/b.sock",
                "--queues", "1", "--vhost", "/tmp/c.sock"},
               err);
  ASSERT_TRUE(c) << err;
  ASSERT_EQ(c->ports.size(), 3u);
  EXPECT_EQ(c->ports[0].vhost.max_queue_pairs, 4);
  EXPECT_EQ(c->ports[1].vhost.max_queue_pairs, 1);
  EXPECT_EQ(c->ports[2].vhost.max_queue_pairs, vhost::kMaxQueuePairs);
  c = run({"--nic", "net_null0", "--queues", "2", "--tap", "k0", "--queues", "3"}, err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->ports[0].nic.queues, 2);
  EXPECT_EQ(c->ports[1].tap.queues, 3);
}

TEST(Cli, GuestInterruptPolicyPerVhostPort) {
  std::string err;
  auto c = run({"--vhost", "/tmp/a.sock", "--notify", "library", "--vhost-client", "/tmp/b.sock",
                "--notify-gap-us", "250", "--vhost", "/tmp/c.sock"},
               err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->ports[0].vhost.notify.policy, vhost::NotifyPolicy::Library);
  EXPECT_EQ(c->ports[1].vhost.notify.policy, vhost::NotifyPolicy::Coalesce);
  EXPECT_EQ(c->ports[1].vhost.notify.gap_us, 250u);
  EXPECT_EQ(c->ports[2].vhost.notify.policy, vhost::NotifyPolicy::Coalesce) << "the default";
  EXPECT_EQ(c->ports[2].vhost.notify.gap_us, vhost::NotifyConfig().gap_us);
  const BadLine rows[] = {
      {{"--vhost", "/tmp/a.sock", "--notify", "sometimes"}, "--notify takes library or coalesce"},
      {{"--tap", "vo-k0", "--notify", "library"}, "applies to a guest port"},
      {{"--vhost", "/tmp/a.sock", "--notify-gap-us", "x"}, "takes a whole number"},
      {{"--vhost", "/tmp/a.sock", "--notify-gap-us", "10001"}, "out of range"},
  };
  expect_refused(rows);
}

TEST(Cli, SocketAccessPerServedSocket) {
  std::string err;
  auto c = run({"--vhost", "/tmp/a.sock", "--socket-group", "libvirt-qemu", "--socket-mode", "0660",
                "--socket-owner", "0", "--vhost", "/tmp/b.sock"},
               err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->ports[0].vhost.access.group, "libvirt-qemu");
  EXPECT_EQ(c->ports[0].vhost.access.owner, "0");
  EXPECT_EQ(c->ports[0].vhost.access.mode, 0660);
  EXPECT_FALSE(c->ports[1].vhost.access.any()) << "the default: the socket as the umask makes it";
  const BadLine rows[] = {
      {{"--vhost", "/tmp/a.sock", "--socket-mode", "rw-rw----"}, "octal permission bits"},
      {{"--vhost", "/tmp/a.sock", "--socket-mode", "01777"}, "octal permission bits"},
      {{"--vhost-client", "/tmp/a.sock", "--socket-group", "kvm"}, "QEMU owns the socket"},
      {{"--tap", "vo-k0", "--socket-mode", "0660"}, "put it after its --vhost"},
  };
  expect_refused(rows);
}

TEST(Cli, PortSecurityOnForGuestsByDefault) {
  std::string err;
  auto c = run({"--vhost", "/tmp/a.sock", "--vhost", "/tmp/b.sock", "--port-security", "off",
                "--tap", "vo-k0", "--tap", "vo-k1", "--mac", "02:00:00:00:00:07", "--allowed-ips",
                "10.0.0.7,fd00::7", "--nic", "net_null0", "--port-security", "on"},
               err);
  ASSERT_TRUE(c) << err;
  EXPECT_TRUE(c->ports[0].policy.security.enabled) << "a guest port: on by default";
  EXPECT_FALSE(c->ports[0].policy.security.mac) << "its MAC: as the guest announces it";
  EXPECT_FALSE(c->ports[1].policy.security.enabled);
  EXPECT_FALSE(c->ports[2].policy.security.enabled) << "a kernel port: off by default";
  EXPECT_TRUE(c->ports[3].policy.security.enabled) << "given addresses to hold it to";
  EXPECT_EQ(c->ports[3].policy.security.mac->b[5], 7);
  EXPECT_EQ(c->ports[3].policy.security.ipv4.size(), 1u);
  EXPECT_EQ(c->ports[3].policy.security.ipv6.size(), 1u);
  EXPECT_TRUE(c->ports[4].policy.security.enabled);
  const BadLine rows[] = {
      {{"--vhost", "/tmp/a.sock", "--port-security", "yes"}, "takes on or off"},
      {{"--vhost", "/tmp/a.sock", "--mac", "01:00:5e:00:00:01"}, "--mac: '01:00:5e:00:00:01' is not a unicast MAC"},
      {{"--vhost", "/tmp/a.sock", "--allowed-ips", "10.0.0.300"}, "--allowed-ips: '10.0.0.300' is not"},
      {{"--mac", "02:00:00:00:00:01", "--vhost", "/tmp/a.sock"}, "must follow the --vhost"},
  };
  expect_refused(rows);
}

TEST(Cli, VlansPerPort) {
  std::string err;
  auto c = run({"--vhost", "/tmp/a.sock", "--tag", "10", "--tap", "vo-k0", "--trunks", "10,20-22",
                "--native-vlan", "5", "--nic", "net_null0", "--mac-per-vlan", "512"},
               err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->ports[0].policy.vlan.tag, 10);
  EXPECT_EQ(c->ports[1].policy.vlan.trunks, (std::vector<uint16_t>{10, 20, 21, 22}));
  EXPECT_EQ(c->ports[1].policy.vlan.native, 5);
  EXPECT_TRUE(c->ports[2].policy.vlan.is_default()) << "every VLAN, as the switch did before VLANs";
  EXPECT_EQ(c->datapath.mac_limits.per_vlan, 512u);
  const BadLine rows[] = {
      {{"--vhost", "/tmp/a.sock", "--tag", "4095"}, "--tag takes one VLAN ID (1 to 4094)"},
      {{"--vhost", "/tmp/a.sock", "--tag", "10,20"}, "--tag takes one VLAN ID"},
      {{"--vhost", "/tmp/a.sock", "--trunks", "10-x"}, "--trunks: x is not a VLAN ID"},
      {{"--vhost", "/tmp/a.sock", "--tag", "10", "--trunks", "20"}, "port /tmp/a.sock: a port is either"},
      {{"--vhost", "/tmp/a.sock", "--native-vlan", "10"}, "--native-vlan needs --trunks"},
      {{"--tag", "10", "--vhost", "/tmp/a.sock"}, "must follow the --vhost"},
  };
  expect_refused(rows);
}

TEST(Cli, HelpDocumentsEveryOption) {
  std::string u = usage("vhost-offload");
  for (const char* opt : {"--vhost ", "--vhost-client", "--nic", "--tap", "--netns", "--mtu",
                          "--queues", "tso4 tso6 csum ecn gro", "--name", "--disable", "--no-gro",
                          "--datapath-lcores", "--mbufs", "--gro-timeout-us", "--idle-sleep-max-us",
                          "--mac-age", "--tx-hold-us", "--tx-queue-mbufs", "--gso-copy", "--help", "--notify ",
                          "--notify-gap-us", "--mac-table-size", "--mac-per-port", "--socket-group", "--socket-owner", "--socket-mode",
                          "--port-security", "--mac ", "--allowed-ips", "--flood-pps",
                          "--tag", "--trunks", "--native-vlan", "--mac-per-vlan", "--control ",
                          "--control-group", "--control-mode", "--config"})
    EXPECT_NE(u.find(opt), std::string::npos) << opt;
}

// The config file's options first, the command line's over them; its ports
// through the same parser, an error naming the port.
TEST(Cli, ConfigFileUnderTheCommandLine) {
  const std::string path = "/tmp/vo-cli-test-" + std::to_string(getpid()) + ".json";
  auto write = [&](const char* text) { std::ofstream(path) << text; };
  write(R"({"switch": {"mbufs": 4096, "flood-pps": 7},
            "ports": [["--vhost", "/tmp/a.sock", "--name", "a"], ["--nic", "net_null0"]]})");
  std::string err;
  auto c = run({"--config", path.c_str(), "--flood-pps", "9"}, err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->mbufs, 4096u);
  EXPECT_EQ(c->datapath.flood_pps, 9u) << "the command line wins";
  ASSERT_EQ(c->ports.size(), 2u);
  EXPECT_EQ(c->ports[0].name, "a");
  EXPECT_EQ(c->ports[1].kind, control::PortKind::Nic);
  EXPECT_EQ(c->config_path, path);
  EXPECT_FALSE(run({"--config", path.c_str(), "--vhost", "/tmp/b.sock"}, err));
  EXPECT_NE(err.find("with --config, ports live in the file"), std::string::npos) << err;
  write(R"({"ports": [["--nic", "net_null0"], ["--tap", "k0", "--mtu", "20"]]})");
  EXPECT_FALSE(run({"--config", path.c_str()}, err));
  EXPECT_NE(err.find("ports[1]: --mtu 20 is out of range"), std::string::npos) << err;
  write(R"({"switch": {"mbufz": 1}})");
  EXPECT_FALSE(run({"--config", path.c_str()}, err));
  EXPECT_NE(err.find("unknown option --mbufz"), std::string::npos) << err;
  std::remove(path.c_str());
}

TEST(Features, SwitchesCloseOverDependencies) {
  using namespace vo::vhost;
  std::string err;
  auto d = parse_disabled("csum", err);
  ASSERT_TRUE(d);
  // Without CSUM the guest may not send TSO (virtio 1.2 5.1.3.1), nor ECN with it.
  EXPECT_EQ(*d, bit(kCsum) | bit(kHostTso4) | bit(kHostTso6) | bit(kHostEcn));
  d = parse_disabled("guest-tso4", err);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, bit(kGuestTso4));  // GUEST_ECN still has GUEST_TSO6
  d = parse_disabled("guest-tso", err);
  EXPECT_EQ(*d, bit(kGuestTso4) | bit(kGuestTso6) | bit(kGuestEcn));
  EXPECT_FALSE(parse_disabled("turbo", err));
  EXPECT_NE(err.find("unknown offload 'turbo'"), std::string::npos);
  EXPECT_EQ(feature_names(bit(kCsum) | bit(kMrgRxbuf) | (1ull << 32)), "CSUM MRG_RXBUF VERSION_1");
}

}  // namespace
}  // namespace vo::cli
