#!/bin/sh
# An example CI job: record the same rtnetlink workload on Debian's 6.1 and 6.12 kernels (in
# QEMU, through `cargo xtask vm`) and let `rtnlprof diff` decide whether RTNL got worse.
# Exit status: 0 no regression, 1 regression, 2 bad input. Leaves target/rtnl-diff.{md,xml,txt}.
# Run from the repository root: profiler/examples/ci/rtnl-regression.sh [BASE_KERNEL NEW_KERNEL]
set -eu
base=${1:-6.1}
new=${2:-6.12}
workload="rtnl-workload links:40 up:40 addrs:40 routes:40 neighs:40 getlinks:100 dellinks:40"
for k in "$base" "$new"; do
    # The guest hands the recording out on its console as base64 lines (see xtask/src/vm.rs).
    cargo xtask vm --kernel "$k" -- \
        "rtnlprof record -o /tmp/run.rtnl -- $workload >/dev/null && base64 /tmp/run.rtnl | sed 's/^/@@rtnlprof-export run.rtnl /'"
    cp "target/xtask/vm-$k/exports/run.rtnl" "target/rtnl-$k.rtnl"
done
cargo build -q -p rtnlprof
diff() { target/debug/rtnlprof diff "$@" "target/rtnl-$base.rtnl" "target/rtnl-$new.rtnl"; }
diff --format junit > target/rtnl-diff.xml || true
diff --format markdown > target/rtnl-diff.md || true
status=0
diff | tee target/rtnl-diff.txt || status=$?
exit $status
