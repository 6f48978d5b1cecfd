#!/usr/bin/env bash
# Builds the test guest: Debian's kernel and a small initramfs made from
# Debian's packages (busybox-static, iperf3, ethtool, the virtio_net modules).
# Cached: does nothing when OUT already holds an image built from the same
# package versions. Never committed; the build tree holds it.
#
# Usage: build-initramfs.sh OUT_DIR
set -euo pipefail
out=$(realpath -m "${1:?usage: build-initramfs.sh OUT_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
packages=(linux-image-amd64 busybox-static iperf3 libiperf0 libsctp1 ethtool libmnl0)
mkdir -p "$out/debs"

step() { printf 'guest image: %s\n' "$*" >&2; }

# The kernel package is a metapackage: resolve the real image's name.
kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}
real_kernel=$(kernel_pkg || true)
if [ -z "$real_kernel" ]; then
  step "refreshing Debian's package lists"
  apt-get update -qq
  real_kernel=$(kernel_pkg)
fi
# The image is rebuilt when a package version, the init or this script changes.
versions="$(apt-cache policy "$real_kernel" "${packages[@]}" | awk '/Candidate/{print $2}' | tr '\n' ' ')$(cat "$here/init" "$0" | sha256sum | cut -c1-16)"
stamp="$out/.built-from"
if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$versions" ]; then
  exit 0
fi

step "downloading $real_kernel ${packages[*]:1}"
(cd "$out/debs" && rm -f ./*.deb && apt-get download -q "$real_kernel" "${packages[@]:1}" 2>/dev/null >/dev/null)

root="$out/root"
rm -rf "$root" "$out/extract"
mkdir -p "$out/extract" "$root"/{bin,sbin,etc,proc,sys,dev,tmp,lib/modules,lib64,usr/lib,run}
step "unpacking"
for deb in "$out"/debs/*.deb; do dpkg-deb -x "$deb" "$out/extract"; done

kver=$(ls "$out/extract/lib/modules" | head -1)
cp "$out/extract/boot/vmlinuz-$kver" "$out/vmlinuz"
step "kernel $kver; modules"
# virtio_net and what it needs, in load order: each module after the ones its
# modinfo "depends=" names.
moddir="$out/extract/lib/modules/$kver"
order=()
add_module() {
  local m=$1 f dep
  for done_m in "${order[@]}"; do [ "$done_m" = "$m" ] && return 0; done
  f=$(find "$moddir" -name "$m.ko*" | head -1)
  [ -n "$f" ] || { echo "guest image: module $m not found in $real_kernel" >&2; exit 1; }
  for dep in $(strings "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do add_module "$dep"; done
  cp "$f" "$root/lib/modules/"
  order+=("$m")
}
# 8021q: guests on trunk ports with VLAN sub-interfaces.
for m in virtio_pci virtio_net 8021q; do add_module "$m"; done
echo "${order[*]}" > "$root/lib/modules/order"
step "busybox, iperf3, ethtool and their libraries"
cp "$out/extract/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
cp "$out/extract/usr/bin/iperf3" "$root/bin/iperf3"
cp "$out/extract/sbin/ethtool" "$root/bin/ethtool" 2>/dev/null || cp "$out/extract/usr/sbin/ethtool" "$root/bin/ethtool"
export LD_LIBRARY_PATH="$out/extract/usr/lib/x86_64-linux-gnu:$out/extract/lib/x86_64-linux-gnu"
for bin in "$root/bin/iperf3" "$root/bin/ethtool"; do
  ldd "$bin" | awk '/=>/{print $3} /ld-linux/{print $1}' | while read -r lib; do
    [ -f "$lib" ] && cp -L "$lib" "$root/usr/lib/"
  done
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
echo "/usr/lib" > "$root/etc/ld.so.conf"
cp "$here/init" "$root/init"
chmod +x "$root/init"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"

step "packing the initramfs"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$out/initrd.gz")
rm -rf "$out/extract"
echo "$versions" > "$stamp"
step "ready: $out/vmlinuz $out/initrd.gz ($(du -h "$out/initrd.gz" | cut -f1))"
