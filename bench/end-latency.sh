#!/usr/bin/env bash
# End latency: N participants in one meeting on a release `endsession-server` (loopback), one host calls kickAll;
# per participant, the time from the host's kickAll to its `roomLeft`. Side by side, the floor: a bare WebSocket
# server (tokio-tungstenite, no session logic) broadcasting one frame of the same size to the same N clients.
# Also: server RSS per idle connected participant, and joins per second with N already connected.
#
# Usage: bench/end-latency.sh            (N="1000 5000 10000" by default; e.g. N="20 1000" bench/end-latency.sh)
# Writes bench/out/end-latency-N.json and the chart bench/latency.svg; updates nothing else. Reports, never asserts.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000 5000 10000}"
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
    --floor-bin "$target/release/bench-floor" --json "bench/out/end-latency-$n.json"
done

# The table and the chart, from the JSON just written (no plotting dependencies: the SVG is written by hand).
python3 - $N <<'PY'
import json, sys
runs = [json.load(open(f"bench/out/end-latency-{n}.json")) for n in sys.argv[1:]]
print()
print("|      N | ours p50 | ours p99 | ours max | floor p99 | p99 ratio | RSS/participant | joins/s | load (1m) |")
print("|-------:|---------:|---------:|---------:|----------:|----------:|----------------:|--------:|----------:|")
for r in runs:
    o, f = r["ours"], r["floor"]
    rss = o["rss_per_participant_bytes"]
    print(f"| {r['n']:>6} | {o['p50_ms']:>5.1f} ms | {o['p99_ms']:>5.1f} ms | {o['max_ms']:>5.1f} ms | {f['p99_ms']:>6.1f} ms "
          f"| {r['p99_ratio']:>9.2f} | {rss/1024:>10.1f} KiB | {o['join_rate_per_s']:>7.0f} | {r['load_start'].split()[0]:>9} |")

W, H, L, R, T, B = 640, 400, 70, 20, 40, 60
xs = [r["n"] for r in runs]
series = [("ours p99", "#d9480f", [r["ours"]["p99_ms"] for r in runs]),
          ("ours p50", "#f59f00", [r["ours"]["p50_ms"] for r in runs]),
          ("floor p99", "#1c7ed6", [r["floor"]["p99_ms"] for r in runs]),
          ("floor p50", "#74c0fc", [r["floor"]["p50_ms"] for r in runs])]
ymax = max(max(v) for _, _, v in series) * 1.1 or 1
xmax = max(xs) * 1.05
px = lambda x: L + (W - L - R) * x / xmax
py = lambda y: H - B - (H - T - B) * y / ymax
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="22" text-anchor="middle" font-size="14">kickAll to roomLeft: endsession-server vs bare broadcast floor</text>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/><line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>']
step = 10 ** max(0, len(str(int(ymax))) - 1)
if ymax / step < 4: step /= 2
y = 0
while y <= ymax:
    out.append(f'<line x1="{L}" y1="{py(y):.1f}" x2="{W-R}" y2="{py(y):.1f}" stroke="#eee"/>'
               f'<text x="{L-6}" y="{py(y)+4:.1f}" text-anchor="end">{y:g}</text>')
    y += step
for x in xs:
    out.append(f'<text x="{px(x):.1f}" y="{H-B+16}" text-anchor="middle">{x:,}</text>')
out.append(f'<text x="{(L+W-R)/2}" y="{H-20}" text-anchor="middle">connected participants N</text>')
out.append(f'<text x="16" y="{(T+H-B)/2}" text-anchor="middle" transform="rotate(-90 16 {(T+H-B)/2})">latency (ms)</text>')
for i, (name, color, values) in enumerate(series):
    dash = '' if 'p99' in name else ' stroke-dasharray="5 4"'
    points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, values))
    out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
    out += [f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="3" fill="{color}"/>' for x, v in zip(xs, values)]
    out.append(f'<line x1="{L+14}" y1="{T+10+i*16}" x2="{L+40}" y2="{T+10+i*16}" stroke="{color}" stroke-width="2"{dash}/>'
               f'<text x="{L+46}" y="{T+14+i*16}">{name}</text>')
m = runs[-1]["machine"]
out.append(f'<text x="{W-R}" y="{H-6}" text-anchor="end" font-size="10" fill="#555">{m["nproc"]} cores, {m["cpu"]}; '
           f'load {", ".join(r["load_start"].split()[0] for r in runs)}</text>')
out.append('</svg>')
open("bench/latency.svg", "w").write("\n".join(out) + "\n")
print("\nchart: bench/latency.svg")
PY
