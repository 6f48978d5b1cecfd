// The control socket: a unix stream socket on which each request is one JSON
// object on one line, and so is each answer (docs: README, "Operating the
// switch"). Served on the daemon's main thread; several clients may be
// connected, each request is answered before the next is read.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ports/vhost/socket_access.h"

namespace vo::control {

inline constexpr const char* kDefaultControlPath = "/run/vhost-offload/control.sock";

struct ControlOptions {
  std::string path = kDefaultControlPath;
  // Whoever may connect may add and remove ports: root and the group given,
  // never everyone (0660 unless told otherwise).
  vhost::SocketAccess access{"", "", 0660};
};

class ControlSocket {
 public:
  using Handler = std::function<nlohmann::ordered_json(const nlohmann::ordered_json& request)>;

  // Listens at opts.path, creating its directory. Refuses (nullptr, `error`
  // saying what to do) a path where another daemon answers; a stale socket
  // file left by a daemon that died is replaced.
  static std::unique_ptr<ControlSocket> open(const ControlOptions& opts, std::string& error);
  ~ControlSocket();  // closes every connection and removes the socket file

  // Answers requests with `handle` until `stopped()` (checked every 100 ms).
  void serve(const std::function<bool()>& stopped, const Handler& handle);
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  ControlSocket(std::string path, int fd) : path_(std::move(path)), listen_fd_(fd) {}
  struct Client {
    int fd;
    std::string in;   // bytes read, not yet a whole line
    std::string out;  // answers not yet taken by the client
  };
  void accept_client();
  // Reads what the client sent; false when it is gone (or sent a line
  // longer than it may).
  bool read_client(Client& c);
  bool answer_client(Client& c, const Handler& handle);
  // Sends what the client takes of its answers without waiting; false when
  // it is gone.
  static bool write_client(Client& c);

  std::string path_;
  int listen_fd_;
  std::vector<Client> clients_;
};

// The answer to a request that failed: {"ok": false, "error": message}.
nlohmann::ordered_json failure(const std::string& message);

}  // namespace vo::control
