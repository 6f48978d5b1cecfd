// TCP sequence numbers: 32-bit modular arithmetic (RFC 793 section 3.3).
// GSO advances them and GRO compares them only through this type.
#pragma once

#include <cstdint>

namespace vo {

class TcpSeq {
 public:
  constexpr TcpSeq() = default;
  constexpr explicit TcpSeq(uint32_t v) : v_(v) {}
  [[nodiscard]] constexpr uint32_t value() const { return v_; }
  constexpr TcpSeq operator+(uint32_t n) const { return TcpSeq(v_ + n); }
  // Signed distance from `o` to this; valid while the two are within 2^31.
  constexpr int32_t operator-(TcpSeq o) const { return int32_t(v_ - o.v_); }
  constexpr bool operator==(const TcpSeq&) const = default;
  constexpr bool operator<(TcpSeq o) const { return (*this - o) < 0; }

 private:
  uint32_t v_ = 0;
};

}  // namespace vo
