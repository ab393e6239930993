package sso_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

func (h *harness) refreshCalls() int {
	return h.stand.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantRefreshToken)
}

// currentToken returns the access token the protected handler sees.
func (h *harness) currentToken(c *http.Client) string {
	h.t.Helper()
	resp := h.getJSON(c, "/private")
	require.Equal(h.t, http.StatusOK, resp.StatusCode)
	h.view(resp)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokens[len(h.tokens)-1]
}

// awaitToken polls until the protected handler sees an access token other
// than old (a background refresh has been stored) and returns it.
func (h *harness) awaitToken(c *http.Client, old string) string {
	h.t.Helper()
	var got string
	require.Eventually(h.t, func() bool { got = h.currentToken(c); return got != old }, 10*time.Second, 5*time.Millisecond,
		"the refreshed token never reached the session")
	return got
}

func TestRefreshBeforeExpiry(t *testing.T) {
	h := newHarness(t) // one-hour tokens, one-minute margin
	c := h.login(multicart.Name)
	first := h.currentToken(c)

	h.clock.Advance(58 * time.Minute)
	assert.Equal(t, first, h.currentToken(c), "outside the margin: no refresh")
	assert.Zero(t, h.refreshCalls())

	h.clock.Advance(90 * time.Second) // 30 s before expiry
	assert.Equal(t, first, h.currentToken(c), "a valid token is served at once while the refresh runs")
	second := h.awaitToken(c, first)
	assert.Equal(t, 1, h.refreshCalls())
	assert.Equal(t, second, h.currentToken(c), "the refreshed token was stored")
	assert.Equal(t, 1, h.refreshCalls())
}

func TestRefreshMarginAdaptsToShortTokens(t *testing.T) {
	h := newHarness(t, withTokenTTL(20*time.Second)) // margin: min(1 min, 10 s)
	c := h.login(multicart.Name)
	first := h.currentToken(c)
	for range 5 {
		h.clock.Advance(time.Second)
		assert.Equal(t, first, h.currentToken(c), "a fresh short-lived token is not refreshed on every request")
	}
	assert.Zero(t, h.refreshCalls())
	h.clock.Advance(6 * time.Second) // 9 s left
	h.awaitToken(c, first)
	assert.Equal(t, 1, h.refreshCalls())
	h.currentToken(c)
	assert.Equal(t, 1, h.refreshCalls())
}

func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	old := h.currentToken(c)

	for lifetime := 1; lifetime <= 2; lifetime++ {
		h.clock.Advance(61 * time.Minute) // expired
		const n = 120
		var wg sync.WaitGroup
		statuses := make([]int, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/private", nil)
				req.Header.Set("Accept", "application/json")
				resp, err := c.Do(req)
				if assert.NoError(t, err) {
					statuses[i] = resp.StatusCode
					resp.Body.Close()
				}
			})
		}
		close(start)
		wg.Wait()
		for i, s := range statuses {
			require.Equal(t, http.StatusOK, s, "request %d", i)
		}
		assert.Equal(t, lifetime, h.refreshCalls(), "exactly one refresh per lifetime")

		h.mu.Lock()
		seen := map[string]bool{}
		for _, tok := range h.tokens[len(h.tokens)-n:] {
			seen[tok] = true
		}
		h.mu.Unlock()
		assert.Len(t, seen, 1, "every request got the same new token")
		assert.False(t, seen[old])
		old = h.currentToken(c)
	}

	// The rotated refresh token was used the second time, never the old one.
	var used []string
	for _, r := range h.stand.TokenRequests() {
		if r.Grant == ssotest.GrantRefreshToken {
			used = append(used, r.Form.Get("refresh_token"))
		}
	}
	require.Len(t, used, 2)
	assert.NotEqual(t, used[0], used[1])
	assert.NotContains(t, h.logs.String(), "refresh refused")
}

// racingProvider lets another app instance refresh first, then refreshes
// with the same (now used) refresh token, as a lost race between two
// instances does.
type racingProvider struct {
	*multicart.Provider
	other func()
}

func (p racingProvider) Refresh(ctx context.Context, rt string) (*oauth2.Token, error) {
	p.other()
	return p.Provider.Refresh(ctx, rt)
}

// TestInvalidGrantAfterAnotherInstanceRefreshed: two instances that do NOT
// share a Locker (each keeps the in-process default) both spend the same
// refresh token. Against a provider without reuse detection the refused
// one finds the other's result in the store and nobody is logged out; a
// provider that detects reuse would have revoked the grant, which is why
// instances sharing a store need a shared Locker
// (TestRefreshAcrossInstancesExactlyOnce).
func TestInvalidGrantAfterAnotherInstanceRefreshed(t *testing.T) {
	var other func()
	h := newHarness(t, withStand(func(o *ssotest.Options) { o.SkipReuseDetection = true }),
		withMulticart(func(p *multicart.Provider) sso.Provider {
			return racingProvider{Provider: p, other: func() { other() }}
		}))
	c := h.login(multicart.Name)
	old := h.currentToken(c)
	b := h.second(func(cfg *sso.Config) { cfg.Locker = sso.NewLocalLocker() })
	var otherToken string
	other = func() {
		req, _ := http.NewRequest(http.MethodGet, b.URL+"/private", nil)
		req.Header.Set("Accept", "application/json")
		for _, ck := range c.Jar.Cookies(mustURL(h.app.URL)) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		h.view(resp)
		h.mu.Lock()
		otherToken = h.tokens[len(h.tokens)-1]
		h.mu.Unlock()
	}
	h.clock.Advance(61 * time.Minute)
	got := h.currentToken(c)
	assert.NotEqual(t, old, got)
	assert.Equal(t, otherToken, got, "the token the other instance stored is used")
	assert.Equal(t, 2, h.refreshCalls(), "the other instance's refresh and our refused one")
	assert.Equal(t, 1, h.stand.Reuses(), "the same refresh token was spent twice")
	assert.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode, "nobody was logged out")
	assert.Equal(t, 2, h.refreshCalls())
	assert.NotContains(t, h.logs.String(), "refresh refused", "a refusal whose successor was found is no failure")
}

func TestRefreshProviderDownWhileTokenValid(t *testing.T) {
	tests := []struct {
		name string
		f    ssotest.Failure
	}{
		{"5xx", ssotest.Failure{Grant: ssotest.GrantRefreshToken, Status: http.StatusServiceUnavailable}},
		{"slow", ssotest.Failure{Grant: ssotest.GrantRefreshToken, Delay: 4 * time.Second}},
		{"garbage", ssotest.Failure{Grant: ssotest.GrantRefreshToken, MalformedJSON: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, withTokenTimeout(time.Second))
			c := h.login(multicart.Name)
			old := h.currentToken(c)
			h.clock.Advance(59*time.Minute + 30*time.Second) // in the margin, still valid
			h.stand.Inject(tt.f)
			for range 20 {
				assert.Equal(t, old, h.currentToken(c), "the old token is served while it is valid")
			}
			require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "provider unavailable") },
				10*time.Second, 5*time.Millisecond, "the failed refresh is logged")
			for range 20 {
				assert.Equal(t, old, h.currentToken(c), "backing off: the old token, no new call")
			}
			assert.Equal(t, 1, h.refreshCalls(), "one provider call, not one per request")
			assert.Equal(t, 1, strings.Count(h.logs.String(), "provider unavailable"), "one log record per failed refresh")

			h.stand.Reset()
			h.clock.Advance(time.Second) // past the first backoff
			h.awaitToken(c, old)
			assert.Equal(t, 2, h.refreshCalls())
		})
	}
}

func TestRefreshProviderDownAfterExpiry(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	h.clock.Advance(61 * time.Minute)
	h.stand.Inject(ssotest.Failure{Grant: ssotest.GrantRefreshToken, Status: http.StatusInternalServerError})
	for range 10 {
		resp := h.getJSON(c, "/private")
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		assert.JSONEq(t, `{"error":"provider_unavailable"}`, body(resp))
	}
	assert.Equal(t, 1, h.refreshCalls(), "the session's refresh backs off: no provider call per request")
	assert.Equal(t, 1, strings.Count(h.logs.String(), "provider unavailable"), "one log record per failed refresh")

	h.stand.Reset()
	h.clock.Advance(time.Second) // the first backoff has passed
	assert.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode, "the login survived the outage")
	assert.Equal(t, 2, h.refreshCalls())
}

func TestRefreshRefusedLogsOutCleanly(t *testing.T) {
	var errs []error
	var mu sync.Mutex
	h2 := newHarness(t, withConfig(func(cfg *sso.Config) {
		cfg.OnError = func(_ context.Context, err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }
	}))
	c := h2.login(multicart.Name)
	h2.clock.Advance(61 * time.Minute)
	h2.stand.Inject(ssotest.Failure{Grant: ssotest.GrantRefreshToken, TokenError: "invalid_grant"})

	// A browser is sent to log in again, through the provider it used, and
	// comes back to its page.
	resp := h2.get(noFollow(c), "/private/orders")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), h2.stand.Multicart().AuthURL), resp.Header.Get("Location"))
	h2.stand.Reset()
	resp = h2.get(c, resp.Header.Get("Location"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	v := h2.view(resp)
	assert.Equal(t, "/private/orders", v.Path)
	assert.Equal(t, multicart.Name, v.Provider)

	// An API client gets 401; many waiting on one refused refresh make one
	// log record.
	c2 := h2.login(multicart.Name)
	h2.clock.Advance(61 * time.Minute)
	h2.stand.Inject(ssotest.Failure{Grant: ssotest.GrantRefreshToken, TokenError: "invalid_grant", Delay: 200 * time.Millisecond})
	logsBefore := strings.Count(h2.logs.String(), "refresh refused")
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, h2.app.URL+"/private", nil)
			req.Header.Set("Accept", "application/json")
			resp, err := c2.Do(req)
			if assert.NoError(t, err) {
				resp.Body.Close()
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, http.StatusUnauthorized, h2.getJSON(c2, "/private").StatusCode, "the dead login was removed")
	assert.Equal(t, 1, strings.Count(h2.logs.String(), "refresh refused")-logsBefore, "one log record per refused refresh")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, errs)
	assert.ErrorIs(t, errs[0], sso.ErrRefresh)
}

func TestIstoresExpiryAsksToLogInAgain(t *testing.T) {
	h := newHarness(t)
	c := h.login(istores.Name)
	h.clock.Advance(59*time.Minute + 30*time.Second)
	assert.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode, "valid until it expires: no refresh to try")
	h.clock.Advance(time.Minute)

	api := h.login(istores.Name)
	h.clock.Advance(61 * time.Minute)
	assert.Equal(t, http.StatusUnauthorized, h.getJSON(api, "/private").StatusCode)

	resp := h.get(noFollow(c), "/private/cart?x=1")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	resp = h.get(c, "/private/cart?x=1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "/private/cart?x=1", h.view(resp).Path)
	assert.Zero(t, h.stand.TokenCalls(ssotest.ProviderIstores, ssotest.GrantRefreshToken))
}

func TestClientCallsStoreAPIAsCustomer(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	tok := h.currentToken(c)
	resp := h.getJSON(c, "/call")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "Bearer "+tok, body(resp))

	h.clock.Advance(61 * time.Minute)
	resp = h.getJSON(c, "/call")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	got := body(resp)
	assert.NotEqual(t, "Bearer "+tok, got)
	assert.Equal(t, 1, h.refreshCalls())
	assert.Equal(t, got, "Bearer "+h.currentToken(c), "the refreshed token was stored in the session")
	assert.Equal(t, 1, h.refreshCalls())

	anon := h.browser()
	assert.Equal(t, http.StatusBadGateway, h.getJSON(anon, "/call").StatusCode)
}

// TestStaleSessionWrittenBackAfterRefresh: a request that loaded the
// session before a refresh writes its old copy back (scs saves whole
// sessions). The next request must not spend the dead refresh token.
func TestStaleSessionWrittenBackAfterRefresh(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	h.currentToken(c)
	id := sessionCookie(c, h.app.URL)
	stale, found, err := h.sm.Store.Find(id)
	require.NoError(t, err)
	require.True(t, found)

	h.clock.Advance(61 * time.Minute)
	refreshed := h.currentToken(c)
	require.Equal(t, 1, h.refreshCalls())

	require.NoError(t, h.sm.Store.Commit(id, stale, h.clock.Now().Add(time.Hour)))
	assert.Equal(t, refreshed, h.currentToken(c), "the successor of the written-back refresh token is reused")
	assert.Equal(t, 1, h.refreshCalls(), "no provider call with the dead refresh token")

	// Written back again, and now the successor has expired too: the next
	// refresh must start from the successor's refresh token.
	require.NoError(t, h.sm.Store.Commit(id, stale, h.clock.Now().Add(time.Hour)))
	h.clock.Advance(61 * time.Minute)
	third := h.currentToken(c)
	assert.NotEqual(t, refreshed, third)
	require.Equal(t, 2, h.refreshCalls())
	var used []string
	for _, r := range h.stand.TokenRequests() {
		if r.Grant == ssotest.GrantRefreshToken {
			used = append(used, r.Form.Get("refresh_token"))
		}
	}
	assert.NotEqual(t, used[0], used[1], "the dead refresh token was not spent again")
	assert.NotContains(t, h.logs.String(), "refused")
}

// TestLogoutDuringRefresh: a logout that lands while a refresh is in flight
// stays a logout; the refresh does not bring the session back.
func TestLogoutDuringRefresh(t *testing.T) {
	h := newHarness(t)
	c, id, done := refreshInFlight(t, h)
	req, _ := http.NewRequest(http.MethodPost, h.app.URL+"/logout", nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, http.StatusUnauthorized, <-done, "the in-flight request sees the logout")

	_, found, err := h.sm.Store.Find(id)
	require.NoError(t, err)
	assert.False(t, found, "the session stays deleted")
	assertLoggedOut(t, h, c)
	copyOfCookie := h.browser()
	copyOfCookie.Jar.SetCookies(mustURL(h.app.URL), []*http.Cookie{{Name: "session", Value: id}})
	assertLoggedOut(t, h, copyOfCookie)
}

// TestClientKeepsTokenOnItsOrigin: the customer's bearer token does not
// follow a redirect to another host.
func TestClientKeepsTokenOnItsOrigin(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
	}))
	defer other.Close()
	redirecting := httptest.NewServer(http.RedirectHandler(strings.Replace(other.URL, "127.0.0.1", "localhost", 1), http.StatusFound))
	defer redirecting.Close()

	h := newHarness(t)
	c := h.login(multicart.Name)
	h.api.Config.Handler = http.RedirectHandler(redirecting.URL, http.StatusFound) // same host, other port: another origin
	resp := h.getJSON(c, "/call")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.False(t, leaked.Load(), "the token reached another origin")
}

// TestNewerLoginRecordDuringRefresh: while a refresh is in flight, an
// instance of a newer release (a rolling deploy) rewrites the session's
// login as a record of a version this one does not know. The waiting
// request is treated as logged out, as any request meeting such a record
// is, but the session is not destroyed: the newer record stays for the
// customer's next request, which may reach an instance that reads it.
func TestNewerLoginRecordDuringRefresh(t *testing.T) {
	h := newHarness(t)
	_, id, done := refreshInFlight(t, h)

	// The newer instance's write: the same session, its login record of a
	// version no release of this one knows.
	b, found, err := h.sm.Store.Find(id)
	require.NoError(t, err)
	require.True(t, found)
	deadline, values, err := h.sm.Codec.Decode(b)
	require.NoError(t, err)
	rec, ok := values["shopsso.login"].(string)
	require.True(t, ok, "the login is kept as a record")
	newer := "\x7f" + rec[1:]
	values["shopsso.login"] = newer
	b, err = h.sm.Codec.Encode(deadline, values)
	require.NoError(t, err)
	require.NoError(t, h.sm.Store.Commit(id, b, deadline))

	assert.Equal(t, http.StatusUnauthorized, <-done, "the waiting request is logged out")
	b, found, err = h.sm.Store.Find(id)
	require.NoError(t, err)
	require.True(t, found, "the session is not destroyed")
	_, values, err = h.sm.Codec.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, newer, values["shopsso.login"], "the newer release's record is left as it is")
}

// refreshInFlight logs a customer in through Multicart, lets the token
// expire, and sends an API request whose refresh the stand-in holds for
// 500 ms; it returns once the refresh call has reached the stand-in, with
// the customer's client, session ID and the request's status to come (0
// when it got no answer).
func refreshInFlight(t *testing.T, h *harness) (*http.Client, string, <-chan int) {
	t.Helper()
	c := h.login(multicart.Name)
	id := sessionCookie(c, h.app.URL)
	h.clock.Advance(61 * time.Minute)
	h.stand.Inject(ssotest.Failure{Grant: ssotest.GrantRefreshToken, Delay: 500 * time.Millisecond})
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/private", nil)
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: "session", Value: id})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return h.refreshCalls() == 1 }, 5*time.Second, 5*time.Millisecond)
	return c, id, done
}
