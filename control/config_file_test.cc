// The config file: what a person writes is read into switch options and
// ports, a mistake is named by line and column (syntax) or by entry, and what
// the switch writes back reads the same.
#include "config_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace vo::control {
namespace {

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vo-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/switch.json";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  void write(const std::string& text) { std::ofstream(path_) << text; }
  std::string dir_, path_;
};

TEST_F(ConfigFileTest, SwitchOptionsAndPortsAsOnTheCommandLine) {
  write(R"({
  // comments are allowed
  "switch": {"mbufs": 65536, "control-group": "kvm", "gso-copy": true},
  "ports": [
    ["--vhost", "/run/vm1.sock", "--name", "vm1"],
    ["--tap", "vo-host", "--mtu", "9000"]
  ]
})");
  ConfigFile f;
  std::string error;
  ASSERT_TRUE(read_config(path_, f, error)) << error;
  EXPECT_EQ(f.switch_words(), (std::vector<std::string>{"--mbufs", "65536", "--control-group",
                                                        "kvm", "--gso-copy"}));
  ASSERT_EQ(f.ports.size(), 2u);
  EXPECT_EQ(f.ports[1], (std::vector<std::string>{"--tap", "vo-host", "--mtu", "9000"}));
}

TEST_F(ConfigFileTest, MistakesAreNamedWhereTheyAre) {
  struct Row {
    const char* text;
    const char* says;
  } rows[] = {
      {"{\n  \"ports\": [\n    [\"--vhost\" \"/run/a.sock\"]\n  ]\n}", "line 3, column 28: syntax error"},
      {"{\"ports\": [[\"--vhost\", \"/a\"]],}", "line 1, column 31"},
      {"", "line 1, column 1"},
      {"[]", "one object with \"switch\" and \"ports\""},
      {"{\"portz\": []}", "unknown entry \"portz\""},
      {"{\"ports\": [\"--vhost /a.sock\"]}", "ports[0] is not a list of words"},
      {"{\"ports\": [[], [\"--nic\", \"x\"]]}", "ports[0] is not a list of words"},
      {"{\"switch\": {\"mbufs\": -5}}", "\"mbufs\" takes a string, a whole number or true"},
      {"{\"switch\": [\"--mbufs\"]}", "\"switch\" is an object of options"},
  };
  for (const Row& r : rows) {
    write(r.text);
    ConfigFile f;
    std::string error;
    EXPECT_FALSE(read_config(path_, f, error)) << r.text;
    EXPECT_NE(error.find(r.says), std::string::npos) << r.text << " -> " << error;
    EXPECT_NE(error.find(path_), std::string::npos) << error;
  }
  ConfigFile f;
  std::string error;
  EXPECT_FALSE(read_config(dir_ + "/missing.json", f, error));
  EXPECT_NE(error.find("cannot read it"), std::string::npos) << error;
}

TEST_F(ConfigFileTest, WhatIsWrittenReadsTheSameAndNothingIsLeftBeside) {
  ConfigFile f;
  f.switch_options = {{"mbufs", 65536}, {"flood-pps", 0}};
  f.ports = {{"--vhost", "/run/vm1.sock", "--name", "vm1"}, {"--nic", "net_null0,no-rx=1"}};
  std::string error;
  ASSERT_TRUE(write_config(path_, f, error)) << error;
  ConfigFile back;
  ASSERT_TRUE(read_config(path_, back, error)) << error;
  EXPECT_EQ(back.switch_words(), f.switch_words());
  EXPECT_EQ(back.ports, f.ports);
  struct stat st;
  EXPECT_NE(stat((path_ + ".tmp").c_str(), &st), 0) << "the temporary file stayed";
  EXPECT_FALSE(write_config(dir_ + "/no-such-dir/switch.json", f, error));
  EXPECT_NE(error.find("cannot save config"), std::string::npos) << error;
}

}  // namespace
}  // namespace vo::control
