package main

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopsso/sso/providers/multicart"
)

// noFollowVia is c.via(jar, instance) stopping at redirects.
func (c *redisCluster) noFollowVia(jar http.CookieJar, instance string) *http.Client {
	cl := c.via(jar, instance)
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return cl
}

// browserGet sends a browser-style GET of u through cl.
func browserGet(t *testing.T, cl *http.Client, u string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp
}

// pendingLogin is a login started and approved, whose callback has not
// been visited yet.
type pendingLogin struct {
	jar      http.CookieJar
	callback string
}

// startLogin starts a login on instance with a new browser and lets the
// stand-in approve it.
func (c *redisCluster) startLogin(instance string) pendingLogin {
	c.t.Helper()
	jar := c.jar()
	cl := c.noFollowVia(jar, instance)
	resp := browserGet(c.t, cl, c.lb.URL+"/auth/multicart/login?return_to=/me")
	if resp.StatusCode != http.StatusFound {
		c.t.Fatalf("login start: %s", resp.Status)
	}
	resp = browserGet(c.t, cl, resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		c.t.Fatalf("stand-in approval: %s", resp.Status)
	}
	return pendingLogin{jar: jar, callback: resp.Header.Get("Location")}
}

// logLines counts the log lines of instance that contain msg.
func (c *redisCluster) logLines(instance, msg string) int {
	n := 0
	for _, line := range strings.Split(c.logs.String(), "\n") {
		if strings.Contains(line, msg) && strings.Contains(line, "instance="+instance) {
			n++
		}
	}
	return n
}

// expectUnavailable sends concurrent logged-in requests to both instances,
// a login start and a callback (of a login started before the outage), and
// checks that every one is refused with a 503 carrying Retry-After within
// maxTook, and that the refused login left no session behind.
func (c *redisCluster) expectUnavailable(phase string, jar http.CookieJar, pl pendingLogin, maxTook time.Duration) {
	t := c.t
	t.Helper()
	type result struct {
		instance   string
		status     int
		retryAfter string
		took       time.Duration
		err        error
	}
	const perInstance = 5
	results := make(chan result, 2*perInstance)
	var wg sync.WaitGroup
	for _, inst := range instanceNames {
		for range perInstance {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, c.lb.URL+"/me", nil)
				req.Header.Set("Accept", "application/json")
				start := time.Now()
				resp, err := c.via(jar, inst).Do(req)
				r := result{instance: inst, took: time.Since(start), err: err}
				if err == nil {
					resp.Body.Close()
					r.status, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
				}
				results <- r
			})
		}
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil || r.status != http.StatusServiceUnavailable || r.retryAfter == "" || r.took > maxTook {
			t.Fatalf("%s: GET /me on %s: status %d, Retry-After %q, after %v (want 503 with Retry-After within %v), err %v",
				phase, r.instance, r.status, r.retryAfter, r.took, maxTook, r.err)
		}
	}

	fresh := c.jar()
	start := time.Now()
	resp := browserGet(t, c.noFollowVia(fresh, "a"), c.lb.URL+"/auth/multicart/login?return_to=/me")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: login start: %s, Location %q, Retry-After %q; want 503, no redirect", phase,
			resp.Status, resp.Header.Get("Location"), resp.Header.Get("Retry-After"))
	}
	took := time.Since(start)
	t.Logf("%s: login start refused after %v", phase, took)
	if took > maxTook {
		t.Fatalf("%s: login start refused after %v, want within %v", phase, took, maxTook)
	}
	u, _ := url.Parse(c.lb.URL)
	if cookies := fresh.Cookies(u); len(cookies) != 0 {
		t.Fatalf("%s: a refused login start set cookies %v", phase, cookies)
	}

	resp = browserGet(t, c.noFollowVia(pl.jar, "b"), pl.callback)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" {
		t.Fatalf("%s: callback: %s, Location %q; want 503, no redirect", phase, resp.Status, resp.Header.Get("Location"))
	}
}

// expectServed checks that n requests, alternating between the
// instances, are all served: not one failure once the store answers.
func (c *redisCluster) expectServed(phase string, jar http.CookieJar, n int) {
	c.t.Helper()
	for i := range n {
		if r := c.me(jar, ""); r.err != nil || r.status != http.StatusOK || r.me.Subject != "customer-1" {
			c.t.Fatalf("%s: request %d on %s: status %d, err %v", phase, i, r.servedBy, r.status, r.err)
		}
	}
}

// Redis stopped, restarted and paused under two instances: every request
// is refused fast with 503 and Retry-After (never a 500, never a wait past
// the store deadline), a login cannot start or complete, each instance
// logs "session store unavailable" once per interval rather than once per
// request, and service comes back by itself as soon as Redis answers —
// without a burst of failures from connections that died with the old
// server.
func TestRedisStoreFaults(t *testing.T) {
	c := newRedisClusterOn(t, startRedisServer(t, true), nil)
	jar := c.login(multicart.Name, "a")
	c.expectServed("before", jar, 4)
	pl := c.startLogin("a")
	// A slack for a loaded machine; a paused store costs the deadline.
	const slack = 1500 * time.Millisecond

	c.redis.kill()
	c.expectUnavailable("stopped", jar, pl, slack)
	for _, inst := range instanceNames {
		if n := c.logLines(inst, "session store unavailable"); n != 1 {
			t.Fatalf("stopped: instance %s logged %d 'unavailable' lines, want 1", inst, n)
		}
	}

	c.redis.restart()
	c.expectServed("restarted", jar, 20)
	for _, inst := range instanceNames {
		if n := c.logLines(inst, "session store available again"); n != 1 {
			t.Fatalf("restarted: instance %s logged %d 'available again' lines, want 1", inst, n)
		}
	}

	// A minute later (the log interval), Redis hangs.
	c.clock.Advance(61 * time.Second)
	pl = c.startLogin("a")
	c.redis.signal(syscall.SIGSTOP)
	c.expectUnavailable("paused", jar, pl, storeTimeout+slack)
	c.redis.signal(syscall.SIGCONT)
	c.expectServed("resumed", jar, 20)
	for _, inst := range instanceNames {
		if n := c.logLines(inst, "session store unavailable"); n != 2 {
			t.Fatalf("paused: instance %s logged %d 'unavailable' lines in all, want 2 (one per outage a minute apart)", inst, n)
		}
	}
	if strings.Contains(c.logs.String(), "status=500") {
		t.Fatalf("a 500 was logged:\n%s", c.logs.String())
	}
}
