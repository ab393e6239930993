package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
)

// sessionTTLs returns the time to live of every scs session key in Redis.
func (c *redisCluster) sessionTTLs() map[string]time.Duration {
	c.t.Helper()
	opts, err := redis.ParseURL(c.redisURL)
	if err != nil {
		c.t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx := context.Background()
	keys, err := client.Keys(ctx, "scs:session:*").Result()
	if err != nil {
		c.t.Fatalf("listing Redis keys: %v", err)
	}
	out := make(map[string]time.Duration, len(keys))
	for _, k := range keys {
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			c.t.Fatalf("PTTL %s: %v", k, err)
		}
		out[k] = ttl
	}
	return out
}

// TestRedisAnonymousSessionsLiveOnlyAsLongAsTheirState: the session an
// anonymous login start creates in Redis — by a login route, or by a
// protected page when it starts a login itself — expires with the login's state (StateTTL), not after
// scs's 24-hour Lifetime; a completed login gets the full Lifetime back.
func TestRedisAnonymousSessionsLiveOnlyAsLongAsTheirState(t *testing.T) {
	c := newRedisCluster(t)
	start := func(path string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, c.lb.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		client := c.via(c.jar(), "")
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET %s: %s, want a redirect to the provider", path, resp.Status)
		}
	}
	for range 5 {
		start("/auth/" + istores.Name + "/login?return_to=/me")
		start("/auth/" + multicart.Name + "/login?return_to=/me")
		start("/me") // a protected page: sent to choose a provider, or to one
	}
	ttls := c.sessionTTLs()
	if len(ttls) < 10 || len(ttls) > 15 {
		t.Fatalf("%d sessions in Redis after 10 anonymous login starts and 5 protected-page visits, want 10 to 15", len(ttls))
	}
	for k, ttl := range ttls {
		if ttl <= 0 || ttl > sso.DefaultStateTTL {
			t.Errorf("%s lives %v; an anonymous login start may live at most StateTTL (%v)", k, ttl, sso.DefaultStateTTL)
		}
	}

	// A completed login lives the session manager's full Lifetime.
	c.login(istores.Name, "a")
	long := 0
	for _, ttl := range c.sessionTTLs() {
		if ttl > sso.DefaultStateTTL {
			long++
			if ttl < 23*time.Hour {
				t.Errorf("the logged-in session lives %v, want scs's 24-hour Lifetime", ttl)
			}
		}
	}
	if long != 1 {
		t.Errorf("%d sessions outlive StateTTL after one login, want exactly the logged-in one", long)
	}
}
