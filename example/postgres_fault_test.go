package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopsso/sso/internal/testenv"
	"github.com/shopsso/sso/providers/multicart"
)

// PostgreSQL stopped, restarted and paused (every server process stopped
// with SIGSTOP) under two instances: as with Redis, fast 503s with
// Retry-After, no login started or completed, one log line per interval,
// and service back by itself once the database answers.
func TestPostgresStoreFaults(t *testing.T) {
	pg := testenv.StartPrivatePostgres(t)
	c := newCluster(t, settings{DatabaseURL: pg.URL("postgres")}, nil)
	jar := c.login(multicart.Name, "a")
	c.expectServed("before", jar, 4)
	pl := c.startLogin("a")
	const slack = 1500 * time.Millisecond

	pg.Stop(t)
	c.expectUnavailable("stopped", jar, pl, slack)
	for _, inst := range instanceNames {
		if n := c.logLines(inst, "session store unavailable"); n != 1 {
			t.Fatalf("stopped: instance %s logged %d 'unavailable' lines, want 1", inst, n)
		}
	}

	pg.Restart(t)
	// A pooled connection the old server closed fails the one request that
	// uses it unless pgx pings it first (it does after a second idle), so
	// a few 503s may follow the restart; then service is back for good.
	c.expectServedWithin("restarted", jar, 10*time.Second)
	c.expectServed("restarted", jar, 20)

	c.clock.Advance(61 * time.Second)
	pl = c.startLogin("a")
	pg.Signal(t, syscall.SIGSTOP)
	c.expectUnavailable("paused", jar, pl, storeTimeout+slack)
	pg.Signal(t, syscall.SIGCONT)
	c.expectServedWithin("resumed", jar, 10*time.Second)
	c.expectServed("resumed", jar, 20)
	for _, inst := range instanceNames {
		if n := c.logLines(inst, "session store unavailable"); n != 2 {
			t.Fatalf("instance %s logged %d 'unavailable' lines in all, want 2 (one per outage a minute apart)", inst, n)
		}
	}
	if strings.Contains(c.logs.String(), "status=500") {
		t.Fatalf("a 500 was logged:\n%s", c.logs.String())
	}
}

// expectServedWithin waits, up to within, for a request on each instance
// to be served.
func (c *redisCluster) expectServedWithin(phase string, jar http.CookieJar, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for _, inst := range c.names {
		for {
			r := c.me(jar, inst)
			if r.status == http.StatusOK {
				break
			}
			if r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				c.t.Fatalf("%s: GET /me on %s: status %d, err %v; want 200 within %v", phase, inst, r.status, r.err, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
