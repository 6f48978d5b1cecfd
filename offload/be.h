// Big-endian wire integers. They do not convert to or from host integers
// implicitly: every read of a header field says .get(), every write .set(),
// so a missing byte swap is a compile error instead of a wrong packet.
#pragma once

#include <cstdint>
#include <cstring>

namespace vo {

template <typename T>
class Be {
 public:
  Be() = default;
  static Be from_host(T v) {
    Be b;
    b.set(v);
    return b;
  }
  [[nodiscard]] T get() const { return swap(raw_); }
  void set(T v) { raw_ = swap(v); }
  // The stored (network order) bits, for checksum arithmetic over the wire form.
  [[nodiscard]] T raw() const { return raw_; }
  void set_raw(T v) { raw_ = v; }
  bool operator==(const Be&) const = default;

 private:
  static T swap(T v) {
    if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
    else if constexpr (sizeof(T) == 4) return __builtin_bswap32(v);
    else return v;
  }
  T raw_;
} __attribute__((packed));

using be16 = Be<uint16_t>;
using be32 = Be<uint32_t>;
static_assert(sizeof(be16) == 2 && sizeof(be32) == 4);

}  // namespace vo
