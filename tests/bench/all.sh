#!/usr/bin/env bash
# Reproduces every table and plot in BENCHMARKS.md:
#   tests/bench/all.sh [SEEDS] [ROUNDS]
# Builds the release binaries (sloop, sloop-bench), prints the machine, runs `sloop-bench deciders` (Markdown tables
# to docs/bench/deciders.md, JSON to docs/bench/deciders.json), `sloop-bench engine`
# (docs/bench/engine.txt), and renders one election-night report per decider
# (docs/bench/election-night-<decider>.html). Takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-3}"
rounds="${2:-5}"
out=docs/bench
mkdir -p "$out"
cargo build --release --locked
bin=target/release/sloop
bench=target/release/sloop-bench
{
  echo "nproc: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "rustc: $(rustc --version)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
} | tee "$out/machine.txt"
"$bench" deciders --seeds "$seeds" --format md --json-out "$out/deciders.json" | tee "$out/deciders.md"
"$bench" engine --rounds "$rounds" --seeds "$seeds" | tee "$out/engine.txt"
for d in sloop heat-aodh senlin-health hpa oracle; do
  "$bin" rehearse policies/election-web.yaml --scenario policies/scenarios/election-night.yaml \
    --decider "$d" --report "$out/election-night-$d.html" > "$out/election-night-$d.txt"
done
echo "wrote $out/"
