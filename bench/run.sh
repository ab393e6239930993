#!/bin/sh
# run.sh measures the logged-in request path as BENCHMARKS.md reports it:
# the root package's benchmarks and this module's peer comparison, in
# interleaved rounds (so that a change in the machine's load hits every
# benchmark alike), then the medians of ns/op and cpu-ns/op and their
# ratios to the scs baseline and to the bare handler (net:base is CPU time
# over the bare handler's, relative to the baseline's; size-B is the
# session's bytes in the store, the cookie's or the header's), and benchstat's
# summary when benchstat is installed
# (go install golang.org/x/perf/cmd/benchstat@latest).
#
#	ROUNDS=12 BENCH=. BENCHTIME=1s sh bench/run.sh
set -eu
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-12}
bench=${BENCH:-.}
benchtime=${BENCHTIME:-1s}
dir=$(mktemp -d)
out="$dir/results.txt"
go test -c -o "$dir/sso.test" .
go test -c -o "$dir/bench.test" ./bench/
i=0
while [ "$i" -lt "$rounds" ]; do
	"$dir/sso.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" -test.benchmem >>"$out"
	"$dir/bench.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" -test.benchmem >>"$out"
	i=$((i + 1))
done
echo "raw results: $out"

# name metric value, one line per measurement; then the median of each.
awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) print name, $(i + 1), $i
}' "$out" | sort -k1,1 -k2,2 -k3,3g | awk '
function flush() {
	if (n == 0) return
	med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	m[last] = med; order[++k] = last; n = 0
}
{ key = $1 " " $2; if (key != last) { flush(); last = key } v[++n] = $3 }
END {
	flush()
	printf "%-44s %10s %10s %8s %7s %7s %8s %8s %8s %8s\n", "benchmark (median)", "ns/op", "cpu-ns/op", "B/op", "allocs", "size-B", "ns:base", "cpu:base", "cpu:bare", "net:base"
	for (j = 1; j <= k; j++) {
		split(order[j], p, " ")
		if (p[2] != "ns/op") continue
		b = p[1]
		base = (b ~ /^BenchmarkLoggedInRequest\//) ? "BenchmarkLoggedInRequest/scs/codec=gob" : "BenchmarkSCSBaseline"
		bare = (b ~ /^BenchmarkLoggedInRequest\//) ? "BenchmarkLoggedInRequest/bare" : "BenchmarkBare"
		nsb = m[base " ns/op"]; cpb = m[base " cpu-ns/op"]; cpbare = m[bare " cpu-ns/op"]
		isReq = (b ~ /^BenchmarkLoggedInRequest\// || b ~ /^Benchmark(Bare|SCSBaseline|SCSBaselineFastCodec|RequireLoggedIn|RequireLoggedInFastCodec)$/)
		cpu = ((b " cpu-ns/op") in m) ? sprintf("%.0f", m[b " cpu-ns/op"]) : "-"
		size = "-"
		if ((b " stored-B") in m) size = sprintf("%.0f", m[b " stored-B"])
		if ((b " cookie-B") in m) size = sprintf("%.0f", m[b " cookie-B"])
		if ((b " header-B") in m) size = sprintf("%.0f", m[b " header-B"])
		printf "%-44s %10.0f %10s %8.0f %7.0f %7s", b, m[b " ns/op"], cpu, m[b " B/op"], m[b " allocs/op"], size
		if (isReq && nsb > 0 && cpb > cpbare && cpbare > 0)
			printf " %8.2f %8.2f %8.2f %8.2f", m[b " ns/op"] / nsb, m[b " cpu-ns/op"] / cpb, m[b " cpu-ns/op"] / cpbare, (m[b " cpu-ns/op"] - cpbare) / (cpb - cpbare)
		printf "\n"
	}
}'

if command -v benchstat >/dev/null 2>&1; then
	benchstat "$out"
elif [ -x "$(go env GOPATH)/bin/benchstat" ]; then
	"$(go env GOPATH)/bin/benchstat" "$out"
fi
