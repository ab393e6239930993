package main

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopsso/sso/internal/testenv"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// Issue 11's "done when": three instances of the example behind one Redis
// serve one customer's concurrent requests over three consecutive token
// expiries, against a provider that revokes the whole grant when a refresh
// token is spent twice, with exactly one refresh call per expiry and
// nobody logged out.
func TestThreeInstancesRedis(t *testing.T) {
	testThreeInstances(t, newClusterOf(t, 3, settings{RedisURL: startRedisServer(t, false).url}, nil))
}

// The same behind one PostgreSQL (sessions through pgxstore, the lock
// through pglock).
func TestThreeInstancesPostgres(t *testing.T) {
	testThreeInstances(t, newClusterOf(t, 3, settings{DatabaseURL: testenv.StartPostgres(t).NewDatabase(t)}, nil))
}

func testThreeInstances(t *testing.T, c *redisCluster) {
	const perInstance = 10
	const ttl = time.Hour // the stand-in's default AccessTokenTTL
	refreshCalls := func() int { return c.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantRefreshToken) }

	jar := c.login(multicart.Name, "a")
	last := c.me(jar, "c")
	if last.status != http.StatusOK {
		t.Fatalf("GET /me on c after login on a: status %d", last.status)
	}
	lastJTI := last.jti()
	for expiry := 1; expiry <= 3; expiry++ {
		c.clock.Advance(ttl + time.Second)
		if expiry == 2 {
			// A slow token endpoint: every instance is surely waiting while
			// the one refresh runs.
			c.stand.Inject(ssotest.Failure{Provider: ssotest.ProviderMulticart, Grant: ssotest.GrantRefreshToken, Delay: 300 * time.Millisecond})
		}
		before := refreshCalls()
		results := make([]meResult, perInstance*len(c.names))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				<-start
				results[i] = c.me(jar, c.names[i%len(c.names)])
			})
		}
		close(start)
		wg.Wait()
		c.stand.Reset()

		servedBy := map[string]int{}
		newJTI := results[0].jti()
		for i, r := range results {
			if r.err != nil || r.status != http.StatusOK {
				t.Fatalf("expiry %d: request %d on %s: status %d, err %v — the customer was logged out",
					expiry, i, c.names[i%len(c.names)], r.status, r.err)
			}
			if r.me.Subject != "customer-1" || !r.me.ExpiresAt.After(c.clock.Now()) {
				t.Fatalf("expiry %d: request %d: subject %q, token expiring %v (now %v)", expiry, i, r.me.Subject, r.me.ExpiresAt, c.clock.Now())
			}
			if r.jti() != newJTI {
				t.Fatalf("expiry %d: requests served with different access tokens (%q, %q)", expiry, newJTI, r.jti())
			}
			servedBy[r.servedBy]++
		}
		for _, name := range c.names {
			if servedBy[name] != perInstance {
				t.Fatalf("expiry %d: served by %v, want %d each", expiry, servedBy, perInstance)
			}
		}
		if newJTI == lastJTI {
			t.Fatalf("expiry %d: the access token was not refreshed", expiry)
		}
		if n := refreshCalls() - before; n != 1 {
			t.Fatalf("expiry %d: %d refresh calls across %d instances, want exactly 1", expiry, n, len(c.names))
		}
		if n := c.stand.Reuses(); n != 0 {
			t.Fatalf("expiry %d: a refresh token was spent twice (%d reuses); the provider revoked the grant", expiry, n)
		}
		lastJTI = newJTI
	}
	// Still logged in everywhere, with no further provider call.
	before := refreshCalls()
	for _, name := range c.names {
		if r := c.me(jar, name); r.status != http.StatusOK || r.jti() != lastJTI {
			t.Fatalf("afterwards on %s: status %d, jti %q, want 200 with %q", name, r.status, r.jti(), lastJTI)
		}
	}
	if n := refreshCalls() - before; n != 0 {
		t.Fatalf("%d refresh calls with a valid token", n)
	}
}
