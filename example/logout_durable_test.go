package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// A logout on one instance while another is refreshing the same session
// (the provider is slow) is final: whatever the in-flight request answers,
// the refresh's result does not bring the session back, the old cookie is
// refused on every instance and the store holds no live session for it.
func TestRedisLogoutDuringRefreshElsewhere(t *testing.T) {
	testLogoutDuringRefreshElsewhere(t, newRedisCluster(t))
}

// The same with the sessions, and the locks, in PostgreSQL.
func TestPostgresLogoutDuringRefreshElsewhere(t *testing.T) {
	testLogoutDuringRefreshElsewhere(t, newPostgresCluster(t))
}

func testLogoutDuringRefreshElsewhere(t *testing.T, c *redisCluster) {
	jar := c.login(multicart.Name, "a")
	u, _ := url.Parse(c.lb.URL)
	var old string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "shopsso_session" {
			old = ck.Value
		}
	}
	if old == "" {
		t.Fatal("no session cookie after login")
	}
	live := c.sessionKeys()

	c.clock.Advance(time.Hour + time.Second) // the access token has expired
	c.stand.Inject(ssotest.Failure{Provider: ssotest.ProviderMulticart, Grant: ssotest.GrantRefreshToken, Delay: time.Second})
	defer c.stand.Reset()
	calls := func() int { return c.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantRefreshToken) }
	before := calls()
	inFlight := make(chan meResult, 1)
	go func() { inFlight <- c.me(jar, "b") }()
	for deadline := time.Now().Add(10 * time.Second); calls() == before; {
		if time.Now().After(deadline) {
			t.Fatal("instance b did not start refreshing")
		}
		time.Sleep(10 * time.Millisecond)
	}

	req, _ := http.NewRequest(http.MethodPost, c.lb.URL+"/logout", strings.NewReader(""))
	req.Header.Set("Accept", "application/json")
	resp, err := c.via(jar, "a").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /logout on a during the refresh on b: %s", resp.Status)
	}
	r := <-inFlight
	t.Logf("the request in flight on b answered %d", r.status)

	for _, inst := range c.names {
		if r := c.me(jar, inst); r.status != http.StatusUnauthorized {
			t.Fatalf("after logout, the browser on %s: status %d, want 401", inst, r.status)
		}
		req, _ := http.NewRequest(http.MethodGet, c.lb.URL+"/me", nil)
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: "shopsso_session", Value: old})
		resp, err := c.via(nil, inst).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the old cookie on %s after logout: %s, want 401", inst, resp.Status)
		}
	}
	if got := c.sessionKeys(); got != live-1 {
		t.Fatalf("%d live sessions in the store after the logout, want %d", got, live-1)
	}
}
