#!/usr/bin/env bash
# Fuzzes for a bounded time with libFuzzer, ASan and UBSan: the offload engine
# (parse + GSO + GRO, offload/fuzz/fuzz_engine) and the ports' translation of
# a peer's offload requests (a kernel port's virtio_net_hdr, a guest's header:
# ports/vhost/fuzz/fuzz_peer_hdr), SECONDS split between them. Exits non-zero on any
# crash, leak, sanitizer report or broken invariant, and prints a one-line
# summary per target either way.
#
# Usage: scripts/fuzz.sh [SECONDS]      (default 60)
#   VO_FUZZ_BUILD_DIR  clang build dir    (default build-fuzz)
#   VO_FUZZ_JOBS       parallel fuzzers   (default 1)
#
# Installs nothing itself: scripts/setup.sh (run first) provides clang and
# libclang-rt-14-dev. The checked-in seeds (offload/fuzz/corpus/) are copied
# to a scratch corpus, so a run never changes the tree; a finding is written
# to $VO_FUZZ_BUILD_DIR/fuzz-artifacts/ and can be replayed with
#   $VO_FUZZ_BUILD_DIR/offload/fuzz/fuzz_engine ARTIFACT
# (VO_FUZZ_TRACE=1 prints what each round did). The corpus the run grew is
# left in $VO_FUZZ_BUILD_DIR/fuzz-corpus-last/.
#
# ASan and DPDK: the EAL runs with --no-huge (testing::ensure_eal), so its
# 512 MB is plain anonymous mmap: ASan needs no mapping options and the EAL
# starts under it as is (checked with clang 14 / DPDK 22.11; peak RSS ~600 MB,
# inside the 2.5 GB limit below). LeakSanitizer stays on, and libFuzzer fails
# the run on a leak; the EAL's own allocations hang off globals and are not
# reported. What ASan cannot see is mempool memory (DPDK is not instrumented),
# which is why the target can put packet bytes in exactly sized malloc'd
# external buffers. UBSan: -fno-sanitize-recover=all turns any report into a
# crash; DPDK's inline rte_hash_crc() is exempt from the alignment check only
# (offload/fuzz/ubsan_ignorelist.txt says why).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${VO_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${VO_FUZZ_JOBS:-1}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

"$root/scripts/setup.sh"

log_dir="$build/fuzz-logs"
mkdir -p "$build"
if ! { CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DVO_FUZZ=ON &&
       ninja -C "$build" fuzz_engine fuzz_peer_hdr; } >"$build/fuzz-build.log" 2>&1; then
  tail -n 40 "$build/fuzz-build.log" >&2
  echo "fuzz: FAILED to build (log: $build/fuzz-build.log)"
  exit 1
fi

artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts" "$log_dir"
export ASAN_OPTIONS="detect_leaks=1:symbolize=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
parallel=()
[ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")

# fuzz TARGET_PATH SEED_DIR SECONDS: one target; 0 when it found nothing.
fuzz() {
  local target=$1 seeds=$2 secs=$3 name work log rc=0
  name=$(basename "$target")
  work=$(mktemp -d "${TMPDIR:-/tmp}/vo-fuzz.XXXXXX")
  cp "$seeds"/* "$work/" || { echo "fuzz: no seeds in $seeds" >&2; return 1; }
  log="$log_dir/$name-$(date +%Y%m%d-%H%M%S).log"
  (cd "$work" && "$build/$target" \
      -max_total_time="$secs" -max_len=8192 -timeout=30 -rss_limit_mb=2560 \
      -print_final_stats=1 "${parallel[@]}" \
      -artifact_prefix="$artifacts/$name-" "$work") >"$log" 2>&1 || rc=$?
  # (With -jobs, libFuzzer copies every job's fuzz-N.log into its own output.)
  # The grown corpus is kept, outside the tree, for a look at what was reached.
  rm -rf "$build/fuzz-corpus-last-$name"
  mkdir -p "$build/fuzz-corpus-last-$name"
  find "$work" -maxdepth 1 -type f ! -name 'fuzz-*.log' -exec cp {} "$build/fuzz-corpus-last-$name/" \;
  local execs cov corpus reports
  execs=$( (grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" || true) | awk '{s += $2} END {print s + 0}')
  cov=$( (grep -Eo 'cov: [0-9]+' "$log" || true) | tail -n 1 | awk '{print $2}')
  corpus=$(find "$work" -maxdepth 1 -type f ! -name 'fuzz-*.log' | wc -l)
  reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz: (invariant|leak)|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer' "$log" || true)
  rm -rf "$work"
  if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ]; then
    grep -E -A 25 'ERROR: |runtime error:|fuzz: ' "$log" | head -n 60 >&2 || true
    echo "fuzz: $name FAILED after ${secs}s: exit $rc, $reports report(s), ${execs} runs; artifacts in $artifacts/, log $log"
    return 1
  fi
  echo "fuzz: $name OK ${secs}s, ${execs} runs, coverage ${cov:-?} edges, corpus ${corpus} inputs, no crash, leak or sanitizer report (log $log)"
}

half=$(( (seconds + 1) / 2 ))
status=0
fuzz offload/fuzz/fuzz_engine "$root/offload/fuzz/corpus" "$half" || status=1
fuzz ports/vhost/fuzz/fuzz_peer_hdr "$root/ports/vhost/fuzz/corpus" "$half" || status=1
exit $status
