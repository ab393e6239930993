package main

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// A login completed on instance A is honoured by instance B: the session
// lives in Redis, not in the instance.
func TestRedisLoginOnOneInstanceHonouredByOther(t *testing.T) {
	testLoginHonouredByOther(t, newRedisCluster(t))
}

// The same with the sessions in PostgreSQL.
func TestPostgresLoginOnOneInstanceHonouredByOther(t *testing.T) {
	testLoginHonouredByOther(t, newPostgresCluster(t))
}

func testLoginHonouredByOther(t *testing.T, c *redisCluster) {
	for _, provider := range []string{istores.Name, multicart.Name} {
		t.Run(provider, func(t *testing.T) {
			c.t = t
			jar := c.login(provider, "a")
			onA := c.me(jar, "a")
			onB := c.me(jar, "b")
			for _, r := range []meResult{onA, onB} {
				if r.err != nil || r.status != http.StatusOK {
					t.Fatalf("GET /me: status %d, err %v", r.status, r.err)
				}
				if r.me.Provider != provider || r.me.Subject != "customer-1" {
					t.Fatalf("GET /me on %s: provider %q subject %q", r.servedBy, r.me.Provider, r.me.Subject)
				}
			}
			if onA.servedBy != "a" || onB.servedBy != "b" {
				t.Fatalf("served by %q and %q, want a and b", onA.servedBy, onB.servedBy)
			}
			if onA.jti() == "" || onA.jti() != onB.jti() {
				t.Fatalf("A and B see different access tokens (jti %q, %q)", onA.jti(), onB.jti())
			}
			// A browser that never logged in is refused on both.
			for _, inst := range instanceNames {
				if r := c.me(c.jar(), inst); r.status != http.StatusUnauthorized {
					t.Fatalf("anonymous GET /me on %s: status %d, want 401", inst, r.status)
				}
			}
		})
	}
	if c.served[0].Load() == 0 || c.served[1].Load() == 0 {
		t.Fatalf("the balancer did not use both instances: %d, %d", c.served[0].Load(), c.served[1].Load())
	}
}

// A logout on either instance ends the session everywhere: in Redis, so
// that a copy of the old cookie replayed against the other instance is
// refused too.
func TestRedisLogoutEndsSessionEverywhere(t *testing.T) {
	testLogoutEndsSessionEverywhere(t, newRedisCluster(t))
}

// The same with the sessions in PostgreSQL.
func TestPostgresLogoutEndsSessionEverywhere(t *testing.T) {
	testLogoutEndsSessionEverywhere(t, newPostgresCluster(t))
}

func testLogoutEndsSessionEverywhere(t *testing.T, c *redisCluster) {
	for _, tt := range []struct{ loginOn, logoutOn, replayOn string }{
		{"a", "a", "b"},
		{"a", "b", "a"},
		{"b", "a", "b"},
		{"b", "b", "a"},
	} {
		t.Run("login on "+tt.loginOn+", logout on "+tt.logoutOn, func(t *testing.T) {
			c.t = t
			jar := c.login(multicart.Name, tt.loginOn)
			u, _ := url.Parse(c.lb.URL)
			var old *http.Cookie
			for _, ck := range jar.Cookies(u) {
				if ck.Name == "shopsso_session" {
					old = ck
				}
			}
			if old == nil {
				t.Fatal("no session cookie after login")
			}
			for _, inst := range instanceNames {
				if r := c.me(jar, inst); r.status != http.StatusOK {
					t.Fatalf("before logout, GET /me on %s: status %d", inst, r.status)
				}
			}
			keysBefore := c.sessionKeys()

			req, _ := http.NewRequest(http.MethodPost, c.lb.URL+"/logout", strings.NewReader(""))
			req.Header.Set("Accept", "application/json")
			resp, err := c.via(jar, tt.logoutOn).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get(servedByHeader) != tt.logoutOn {
				t.Fatalf("POST /logout: %s served by %q", resp.Status, resp.Header.Get(servedByHeader))
			}
			if got := c.sessionKeys(); got != keysBefore-1 {
				t.Fatalf("Redis holds %d sessions after logout, want %d", got, keysBefore-1)
			}

			// The browser itself is logged out on both instances...
			for _, inst := range instanceNames {
				if r := c.me(jar, inst); r.status != http.StatusUnauthorized {
					t.Fatalf("after logout, GET /me on %s: status %d, want 401", inst, r.status)
				}
			}
			// ...and so is a copy of the old cookie, on the other instance
			// and on the one that logged out.
			for _, inst := range []string{tt.replayOn, tt.logoutOn} {
				req, _ := http.NewRequest(http.MethodGet, c.lb.URL+"/me", nil)
				req.Header.Set("Accept", "application/json")
				req.AddCookie(&http.Cookie{Name: old.Name, Value: old.Value})
				resp, err := c.via(nil, inst).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(servedByHeader) != inst {
					t.Fatalf("old cookie replayed on %s: %s served by %q, want 401", inst, resp.Status, resp.Header.Get(servedByHeader))
				}
			}
		})
	}
}

// When a Multicart access token expires while both instances serve the same
// customer concurrently, against a provider that revokes a grant whose
// refresh token is spent twice, exactly one instance calls the provider
// (they share a lock in Redis, github.com/shopsso/sso/redislock), the
// other waits and uses the stored result, and nobody is logged out. The
// same holds on every later expiry. A token still valid (within the
// refresh margin) is served at once while the refresh runs.
func TestRedisConcurrentRefreshAcrossInstances(t *testing.T) {
	testConcurrentRefreshAcrossInstances(t, newRedisCluster(t))
}

// The same with the sessions, and the lock, in PostgreSQL.
func TestPostgresConcurrentRefreshAcrossInstances(t *testing.T) {
	testConcurrentRefreshAcrossInstances(t, newPostgresCluster(t))
}

func testConcurrentRefreshAcrossInstances(t *testing.T, c *redisCluster) {
	const concurrent = 50
	const ttl = time.Hour // the stand-in's default AccessTokenTTL
	jar := c.login(multicart.Name, "a")
	first := c.me(jar, "b")
	if first.status != http.StatusOK {
		t.Fatalf("GET /me on b after login on a: status %d", first.status)
	}
	lastJTI := first.jti()

	rounds := []struct {
		name    string
		advance time.Duration // from the previous token's issue
		slow    time.Duration // token endpoint delay: both instances surely in flight
	}{
		{name: "expired", advance: ttl + time.Second},
		{name: "expired again", advance: ttl + time.Minute},
		{name: "within refresh margin", advance: ttl - 30*time.Second},
		{name: "expired, slow provider", advance: ttl + time.Second, slow: 400 * time.Millisecond},
		{name: "expired after slow round", advance: ttl + time.Second},
	}
	for _, round := range rounds {
		t.Run(round.name, func(t *testing.T) {
			c.t = t
			c.clock.Advance(round.advance)
			expired := round.advance >= ttl
			if round.slow > 0 {
				c.stand.Inject(ssotest.Failure{Provider: ssotest.ProviderMulticart, Grant: ssotest.GrantRefreshToken, Delay: round.slow})
				defer c.stand.Reset()
			}
			refreshesBefore := c.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantRefreshToken)
			logsBefore := len(c.logs.String())

			results := make([]meResult, concurrent)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range results {
				wg.Go(func() {
					<-start
					results[i] = c.me(jar, instanceNames[i%2])
				})
			}
			began := time.Now()
			close(start)
			wg.Wait()
			elapsed := time.Since(began)

			servedBy := map[string]int{}
			// An expired token: everybody waits for the one refresh and gets
			// its token. A valid one: served at once, so a request gets the
			// old token or, once the background refresh has stored, the new.
			wantJTI := results[0].jti()
			if !expired {
				wantJTI = lastJTI
				for _, r := range results {
					if r.jti() != lastJTI {
						wantJTI = r.jti()
						break
					}
				}
			}
			for i, r := range results {
				if r.err != nil || r.status != http.StatusOK {
					t.Fatalf("request %d (on %s): status %d, err %v — customer logged out", i, instanceNames[i%2], r.status, r.err)
				}
				if r.me.Subject != "customer-1" || r.me.Provider != multicart.Name {
					t.Fatalf("request %d: provider %q subject %q", i, r.me.Provider, r.me.Subject)
				}
				if !r.me.ExpiresAt.After(c.clock.Now()) {
					t.Fatalf("request %d was served with an expired token (expires %v, now %v)", i, r.me.ExpiresAt, c.clock.Now())
				}
				servedBy[r.servedBy]++
				if r.jti() != wantJTI && (expired || r.jti() != lastJTI) {
					t.Fatalf("request %d was served with access token %q, want %q", i, r.jti(), wantJTI)
				}
			}
			if servedBy["a"] != concurrent/2 || servedBy["b"] != concurrent/2 {
				t.Fatalf("served by %v, want half each", servedBy)
			}
			newJTI := wantJTI
			if !expired {
				// The background refresh stores its result; poll for it.
				deadline := time.Now().Add(10 * time.Second)
				for newJTI == lastJTI && time.Now().Before(deadline) {
					newJTI = c.me(jar, "a").jti()
				}
			}
			if newJTI == lastJTI {
				t.Fatalf("the access token was not refreshed")
			}
			refreshes := c.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantRefreshToken) - refreshesBefore
			t.Logf("%d concurrent GET /me across a and b: %v, %d refresh call(s)", concurrent, elapsed.Round(time.Millisecond), refreshes)
			if refreshes != 1 {
				t.Fatalf("%d refresh calls to Multicart, want exactly 1 across both instances", refreshes)
			}
			if n := c.stand.Reuses(); n != 0 {
				t.Fatalf("a refresh token was spent twice (%d reuses): the provider revoked the grant", n)
			}
			if logs := c.logs.String()[logsBefore:]; strings.Contains(logs, "request refused") {
				t.Fatalf("a refresh failure was logged:\n%s", logs)
			}

			// Both instances now serve the stored token without refreshing.
			for _, inst := range instanceNames {
				r := c.me(jar, inst)
				if r.status != http.StatusOK || r.jti() != newJTI {
					t.Fatalf("afterwards on %s: status %d, jti %q, want 200 with %q", inst, r.status, r.jti(), newJTI)
				}
			}
			if got := c.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantRefreshToken) - refreshesBefore; got != refreshes {
				t.Fatalf("%d more refresh calls after the round", got-refreshes)
			}
			lastJTI = newJTI
		})
		if t.Failed() {
			return
		}
	}
}
