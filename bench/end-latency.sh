#!/usr/bin/env bash
# End latency: N participants in one meeting on a release `endsession-server` (loopback), one host calls kickAll;
# per participant, the time from the host's kickAll to its `roomLeft`. Side by side, the floor: a bare WebSocket
# server (tokio-tungstenite, no session logic) broadcasting one frame of the same size to the same N clients.
# Also: server RSS per idle connected participant, and joins per second with N already connected.
#
# Usage: bench/end-latency.sh [--isolate] [--webhook] [--perf DIR] [--nodes K]   (N="1000 5000 10000" by default; e.g. N="20 1000" ...)
#   --isolate  the server (and the floor) on some cores, the load generator on the others (taskset); without it, all
#              share every core. The run prints which cores each side got.
#   --webhook  a webhook for meeting.participantJoined, meeting.participantLeft and meeting.ended is registered (to
#              a sink in the bench), so each join also writes its event (the joins/s column counts them), and the
#              end has one outbox event per participant to write and deliver (written after the participants were
#              told: they overlap the end's fan-out, and the CPU window counts them).
#   --perf DIR perf record of each server around the end and during the join burst (DIR/ours.data, ...).
#   --nodes K  no floor: instead, in the same run and with the same N, one node, one node on Redis, and K nodes
#              (2-16) on a private redis-server (free port, --save '' --appendonly no, killed after) sharing one
#              SQLite --data directory; the guests join round-robin over the K nodes, the host (first node) calls
#              kickAll. CPU and RSS are summed over the nodes (Redis's CPU printed beside). Needs redis-server.
# Writes bench/out/end-latency-N-{shared,isolated}[-webhook][-nodesK].json and the chart bench/latency.svg (every
# floor mode run so far); updates nothing else. Reports, never asserts.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000 5000 10000}"
mode=shared; suffix=; nodes=; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --isolate) mode=isolated; extra+=(--isolate) ;;
    --webhook) suffix=-webhook; extra+=(--webhook) ;;
    --perf) extra+=(--perf "$2"); shift ;;
    --nodes) nodes="-nodes$2"; extra+=(--nodes "$2"); shift ;;
    *) echo "unknown argument $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
  shift
done
target="${CARGO_TARGET_DIR:-target}"

# One socket per client in this process and one per participant in the server: raise the open-file limit.
max=0; for n in $N; do [ "$n" -gt "$max" ] && max=$n; done
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((max + 1000)) ]; then
  echo "open-file limit $(ulimit -n) is too low for N=$max (raise the hard limit)" >&2; exit 1
fi

cargo build --release -q -p endsession-server -p endsession-bench
mkdir -p bench/out
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
for n in $N; do
  echo "load before N=$n: $(uptime | sed 's/.*load average: //')"
  "$target/release/end-latency" --n "$n" --server-bin "$target/release/endsession-server" \
    --floor-bin "$target/release/bench-floor" --json "bench/out/end-latency-$n-$mode$suffix$nodes.json" ${extra[@]+"${extra[@]}"}
done

# The nodes comparison is printed above and kept in its JSON; the table and chart below are of the floor runs.
[ -n "$nodes" ] && exit 0

# The table and the chart, from the JSON of this run and of the other mode's last run if there is one.
runs=()
for n in $N; do
  for run in shared isolated shared-webhook isolated-webhook; do
    [ -f "bench/out/end-latency-$n-$run.json" ] && runs+=("bench/out/end-latency-$n-$run.json")
  done
done
echo
"$target/release/bench-report" --chart bench/latency.svg "${runs[@]}"
