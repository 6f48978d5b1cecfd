#include "socket_access.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace vo::vhost {
namespace {

struct ModeCase {
  const char* text;
  bool ok;
  int mode;
};

TEST(SocketMode, ParsesOctalPermissionBitsOnly) {
  const ModeCase cases[] = {{"0660", true, 0660}, {"660", true, 0660}, {"0", true, 0},
                            {"0777", true, 0777}, {"1777", false, 0}, {"0668", false, 0},
                            {"rw", false, 0},     {"", false, 0},     {"0660 ", false, 0}};
  for (const ModeCase& c : cases) {
    int m = -1;
    EXPECT_EQ(parse_socket_mode(c.text, m), c.ok) << c.text;
    if (c.ok) {
      EXPECT_EQ(m, c.mode) << c.text;
    }
  }
}

// A listening socket in a fresh directory, as the vhost library leaves it.
class SocketFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vo-sock-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/vm.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    path_.copy(sa.sun_path, sizeof(sa.sun_path) - 1);
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  }
  void TearDown() override {
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  struct stat st() const {
    struct stat s{};
    stat(path_.c_str(), &s);
    return s;
  }
  std::string dir_, path_;
  int fd_ = -1;
};

TEST_F(SocketFile, TakesTheModeAndGroupAsked) {
  std::string error;
  SocketAccess a;
  a.group = "12345";  // a number needs no entry in the group database
  a.mode = 0660;
  if (geteuid() != 0) GTEST_SKIP() << "giving a file to another group needs root";
  ASSERT_TRUE(apply_socket_access(path_, a, error)) << error;
  EXPECT_EQ(st().st_mode & 07777, 0660u);
  EXPECT_EQ(st().st_gid, 12345u);
  EXPECT_EQ(st().st_uid, geteuid());  // the owner stays
}

TEST_F(SocketFile, ANamedGroupIsLookedUp) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a file to another group needs root";
  struct group* g = getgrgid(0);
  ASSERT_NE(g, nullptr);
  SocketAccess a;
  a.group = g->gr_name;
  a.owner = "root";
  std::string error;
  ASSERT_TRUE(apply_socket_access(path_, a, error)) << error;
  EXPECT_EQ(st().st_gid, 0u);
  EXPECT_EQ(st().st_uid, 0u);
}

TEST_F(SocketFile, AnUnknownGroupOrUserIsAnErrorThatSaysSo) {
  struct stat before = st();
  for (bool group : {true, false}) {
    SocketAccess a;
    (group ? a.group : a.owner) = "no-such-name-vo";
    a.mode = 0666;
    std::string error;
    EXPECT_FALSE(apply_socket_access(path_, a, error));
    EXPECT_NE(error.find("no-such-name-vo"), std::string::npos) << error;
    EXPECT_NE(error.find("QEMU runs as"), std::string::npos) << error;
  }
  EXPECT_EQ(st().st_mode, before.st_mode);  // nothing half-applied
}

}  // namespace
}  // namespace vo::vhost
