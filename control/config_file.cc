#include "config_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vo::control {
namespace {

using json = nlohmann::ordered_json;

// "line L, column C" of byte offset `at` (1-based, as editors count).
std::string position(const std::string& text, size_t at) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

bool read_switch(const json& j, ConfigFile& out, std::string& error) {
  if (!j.is_object()) {
    error = "\"switch\" is an object of options, e.g. {\"mbufs\": 65536}";
    return false;
  }
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string() && !v.is_number_unsigned() && !v.is_boolean()) {
      error = "\"switch\": \"" + k + "\" takes a string, a whole number or true";
      return false;
    }
  }
  out.switch_options = j;
  return true;
}

bool read_ports(const json& j, ConfigFile& out, std::string& error) {
  if (!j.is_array()) {
    error = "\"ports\" is a list of ports, each a list of words as on the command line";
    return false;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    const json& p = j[i];
    std::vector<std::string> words;
    bool ok = p.is_array() && !p.empty();
    for (const json& w : p) {
      ok = ok && w.is_string();
      if (ok) words.push_back(w.get<std::string>());
    }
    if (!ok) {
      error = "ports[" + std::to_string(i) + "] is not a list of words such as " +
              "[\"--vhost\", \"/run/vm1.sock\", \"--name\", \"vm1\"]";
      return false;
    }
    out.ports.push_back(std::move(words));
  }
  return true;
}

bool fail(const std::string& path, const std::string& what, std::string& error) {
  error = "config " + path + ": " + what;
  return false;
}

}  // namespace

std::vector<std::string> ConfigFile::switch_words() const {
  std::vector<std::string> words;
  for (const auto& [k, v] : switch_options.items()) {
    if (v.is_boolean()) {
      if (v.get<bool>()) words.push_back("--" + k);
      continue;
    }
    words.push_back("--" + k);
    words.push_back(v.is_string() ? v.get<std::string>() : std::to_string(v.get<uint64_t>()));
  }
  return words;
}

bool read_config(const std::string& path, ConfigFile& out, std::string& error) {
  std::ifstream in(path);
  if (!in) return fail(path, std::string("cannot read it: ") + std::strerror(errno), error);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  json j;
  try {
    j = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    return fail(path, position(text, e.byte ? e.byte - 1 : 0) + ": " +
                          what.substr(what.find(':') + 2), error);
  }
  if (!j.is_object()) return fail(path, "the file is one object with \"switch\" and \"ports\"", error);
  out = ConfigFile{};
  std::string what;
  for (const auto& [k, v] : j.items()) {
    bool ok = k == "switch" ? read_switch(v, out, what)
              : k == "ports" ? read_ports(v, out, what)
                             : (what = "unknown entry \"" + k + "\" (known: switch, ports)", false);
    if (!ok) return fail(path, what, error);
  }
  return true;
}

bool write_config(const std::string& path, const ConfigFile& file, std::string& error) {
  json j = json::object();
  j["switch"] = file.switch_options;
  j["ports"] = file.ports;
  const std::string text = j.dump(2) + "\n";
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size()) &&
            fsync(fd) == 0;
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  ok = ok && rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    error = "cannot save config " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    fsync(d);  // the rename itself is durable
    ::close(d);
  }
  return true;
}

}  // namespace vo::control
