// Package testenv is the one place where this repository's tests find and
// start what lives outside Go: the rule for skipping (or failing) without
// it, and a private PostgreSQL server. It is imported by tests only.
package testenv

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
)

// RequireExternalEnv names the variable that turns a missing external
// dependency from a skip into a failure (CI sets it, so that a test that
// silently stopped running is noticed).
const RequireExternalEnv = "SHOPSSO_REQUIRE_EXTERNAL"

// RequireExternal is the one rule for tests that need something outside
// Go (a redis-server or PostgreSQL binary, a browser, Node): when found is
// false, the test is skipped with a loud message — or fails, when
// SHOPSSO_REQUIRE_EXTERNAL is set to a true value (1, true).
func RequireExternal(t testing.TB, what string, found bool) {
	t.Helper()
	if found {
		return
	}
	v := os.Getenv(RequireExternalEnv)
	required, err := strconv.ParseBool(v)
	if err != nil && v != "" {
		required = true // any other non-empty value: be strict
	}
	if required {
		t.Fatalf("\n*** %s is required but was not found (%s=%q). ***\n*** This test cannot run without it: install it (CI: .ci/run) or unset %s. ***",
			what, RequireExternalEnv, v, RequireExternalEnv)
	}
	t.Skipf("\n*** SKIPPED: %s not found — THIS TEST DID NOT RUN. ***\n*** Install it, or set %s=1 to make its absence a failure. ***",
		what, RequireExternalEnv)
}

// FreeLoopbackPort returns a port that was free on 127.0.0.1 a moment ago.
func FreeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// errorf is fmt.Errorf, prefixed with the package name.
func errorf(format string, args ...any) error {
	return fmt.Errorf("testenv: "+format, args...)
}
