// Package bench compares shopsso's logged-in request path with its peers
// in one test binary. It has no API: run
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// from the repository root, or sh bench/run.sh for interleaved rounds,
// medians and ratios; benchplot draws BENCHMARKS.md's figures from the
// output. It is a module of its own
// so that the peers' dependencies (gorilla/sessions, auth0/go-jwt-middleware)
// never enter the core module's go.mod.
package bench
