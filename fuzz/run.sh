#!/usr/bin/env bash
# Short fuzzing pass over every target (CI-like): ./fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target runs for
# SECONDS_PER_TARGET (default 30) on its corpus in fuzz/corpus/<target>/ (new interesting inputs are
# added there); crashes are written to fuzz/artifacts/<target>/ and make the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fastx normalize dwca_meta dwca_zip reference_fasta index_open)
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "run.sh: a nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: cargo-fuzz is needed (cargo install cargo-fuzz)" >&2
    exit 2
fi

# -a: debug assertions (and overflow checks, also set in Cargo.toml) so arithmetic bugs crash.
cargo +nightly fuzz build -a

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "== $t (${secs}s)"
    if cargo +nightly fuzz run -a "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>"/tmp/fuzz-$t.log"; then
        grep -E '^stat::number_of_executed_units' "/tmp/fuzz-$t.log" || true
    else
        echo "!! $t failed; see /tmp/fuzz-$t.log and fuzz/artifacts/$t/" >&2
        tail -n 40 "/tmp/fuzz-$t.log" >&2
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran ${secs}s each without a crash"
