package sso_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// withQuery returns u with one query parameter replaced.
func withQuery(u *url.URL, key, value string) string {
	cp := *u
	q := cp.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	cp.RawQuery = q.Encode()
	return cp.String()
}

// assertLoggedOut checks that c has no login.
func assertLoggedOut(t *testing.T, h *harness, c *http.Client) {
	t.Helper()
	assert.Equal(t, http.StatusUnauthorized, h.getJSON(c, "/private").StatusCode)
}

func TestCallbackStateChecks(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(h *harness, c *http.Client, cb *url.URL) string
		status  int
		genuine bool // the genuine callback still completes afterwards
	}{
		{"forged state", func(h *harness, c *http.Client, cb *url.URL) string {
			return withQuery(cb, "state", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		}, http.StatusBadRequest, true},
		{"missing state", func(h *harness, c *http.Client, cb *url.URL) string {
			return withQuery(cb, "state", "")
		}, http.StatusBadRequest, true},
		{"truncated state", func(h *harness, c *http.Client, cb *url.URL) string {
			return withQuery(cb, "state", cb.Query().Get("state")[:20])
		}, http.StatusBadRequest, true},
		{"state of another browser", func(h *harness, c *http.Client, cb *url.URL) string {
			other := h.startLogin(h.browser(), istores.Name, "/")
			return withQuery(cb, "state", other.Query().Get("state"))
		}, http.StatusBadRequest, true},
		{"cross-provider state", func(h *harness, c *http.Client, cb *url.URL) string {
			return strings.Replace(cb.String(), "/auth/istores/callback", "/auth/multicart/callback", 1)
		}, http.StatusBadRequest, true},
		{"expired state", func(h *harness, c *http.Client, cb *url.URL) string {
			h.clock.Advance(11 * time.Minute)
			return cb.String()
		}, http.StatusBadRequest, false},
		{"missing code", func(h *harness, c *http.Client, cb *url.URL) string {
			return withQuery(cb, "code", "")
		}, http.StatusBadRequest, false},
		{"code of another login", func(h *harness, c *http.Client, cb *url.URL) string {
			other := h.startLogin(h.browser(), istores.Name, "/")
			return withQuery(cb, "code", other.Query().Get("code"))
		}, http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c := h.browser()
			cb := h.startLogin(c, istores.Name, "/private")
			before := sessionCookie(c, h.app.URL)
			calls := h.stand.TokenCalls("", "")

			resp := h.get(noFollow(c), tt.tamper(h, c, cb))
			if tt.genuine {
				assert.Equal(t, before, sessionCookie(c, h.app.URL), "a refused callback changes nothing")
			}
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
			assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			page := body(resp)
			assert.NotContains(t, page, cb.Query().Get("code"))
			assert.NotContains(t, page, cb.Query().Get("state"))
			assertLoggedOut(t, h, c)

			resp = h.get(noFollow(c), cb.String())
			if tt.genuine {
				assert.Equal(t, calls+1, h.stand.TokenCalls("", ""), "state is checked before any token call")
				require.Equal(t, http.StatusFound, resp.StatusCode, "the genuine callback still completes")
				assert.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode)
			} else {
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a refused pending login is used up")
				assertLoggedOut(t, h, c)
			}
		})
	}
}

func TestCallbackReplayRefused(t *testing.T) {
	h := newHarness(t)
	c := h.browser()
	cb := h.startLogin(c, multicart.Name, "/private")
	require.Equal(t, http.StatusFound, h.get(noFollow(c), cb.String()).StatusCode)
	calls := h.stand.TokenCalls("", "")

	// The same browser replays it, and so does an attacker with a copy.
	assert.Equal(t, http.StatusBadRequest, h.get(noFollow(c), cb.String()).StatusCode)
	attacker := h.browser()
	assert.Equal(t, http.StatusBadRequest, h.get(noFollow(attacker), cb.String()).StatusCode)
	assert.Equal(t, calls, h.stand.TokenCalls("", ""), "replays never reach the token endpoint")
	assertLoggedOut(t, h, attacker)
	assert.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode, "the real login is unharmed")
}

func TestSeveralTabsLogInAtOnce(t *testing.T) {
	h := newHarness(t)
	c := h.browser()
	var cbs []*url.URL
	for i := range 6 {
		cbs = append(cbs, h.startLogin(c, istores.Name, "/tab/"+string(rune('a'+i))))
	}
	// Five pending logins are kept; the sixth start dropped the oldest.
	assert.Equal(t, http.StatusBadRequest, h.get(noFollow(c), cbs[0].String()).StatusCode)
	resp := h.get(noFollow(c), cbs[3].String())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/tab/d", resp.Header.Get("Location"))
	resp = h.get(noFollow(c), cbs[5].String())
	require.Equal(t, http.StatusFound, resp.StatusCode, "other tabs' logins survive a completed one")
	assert.Equal(t, "/tab/f", resp.Header.Get("Location"))
}

func TestPKCEVerifierMismatch(t *testing.T) {
	for _, p := range []string{istores.Name, multicart.Name} {
		t.Run(p, func(t *testing.T) {
			h := newHarness(t)
			c := h.browser()
			nf := noFollow(c)
			resp := h.get(nf, "/auth/"+p+"/login")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			authz, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			// An attacker's challenge: the code is bound to a verifier we do not hold.
			resp = h.get(nf, withQuery(authz, "code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			resp = h.get(nf, resp.Header.Get("Location"))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assertLoggedOut(t, h, c)
			reqs := h.stand.TokenRequests()
			require.Len(t, reqs, 1)
			assert.NotEmpty(t, reqs[0].Form.Get("code_verifier"))
		})
	}
}

func TestIDTokenChecks(t *testing.T) {
	tests := []struct {
		name string
		f    ssotest.Failure
	}{
		{"wrong issuer", ssotest.Failure{IDTokenIssuer: "https://evil.example"}},
		{"wrong audience", ssotest.Failure{IDTokenAudience: "another-app"}},
		{"wrong nonce", ssotest.Failure{IDTokenNonce: "not-the-login-nonce"}},
		{"expired", ssotest.Failure{ExpiredIDToken: true}},
		{"unsigned", ssotest.Failure{IDTokenUnsigned: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.stand.Inject(tt.f)
			c := h.browser()
			cb := h.startLogin(c, multicart.Name, "/private")
			resp := h.get(noFollow(c), cb.String())
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assertLoggedOut(t, h, c)
			assert.Contains(t, h.logs.String(), "ID token rejected")
		})
	}
}

func TestProviderErrorOnCallback(t *testing.T) {
	h := newHarness(t)
	h.stand.Inject(ssotest.Failure{Deny: true})
	c := h.browser()
	cb := h.startLogin(c, multicart.Name, "/private")
	require.Equal(t, "access_denied", cb.Query().Get("error"))
	// A hostile description must not be echoed.
	resp := h.get(noFollow(c), withQuery(cb, "error_description", "<script>alert(1)</script>"))
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	page := body(resp)
	assert.NotContains(t, page, "script")
	assert.NotContains(t, page, "access_denied")
	assert.Zero(t, h.stand.TokenCalls("", ""))
	assertLoggedOut(t, h, c)

	// A made-up error code is neither echoed nor logged verbatim.
	cb = h.startLogin(c, multicart.Name, "/private")
	resp = h.get(noFollow(c), withQuery(cb, "error", "Evil Text\nInjected"))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.NotContains(t, body(resp), "Evil")
	assert.NotContains(t, h.logs.String(), "Evil")
}

func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		name    string
		f       ssotest.Failure
		timeout time.Duration
		closed  bool
		status  int
	}{
		{"invalid_grant", ssotest.Failure{TokenError: "invalid_grant"}, 0, false, http.StatusBadRequest},
		{"5xx", ssotest.Failure{Status: http.StatusServiceUnavailable}, 0, false, http.StatusBadGateway},
		{"garbage JSON", ssotest.Failure{MalformedJSON: true}, 0, false, http.StatusBadGateway},
		{"oversized body", ssotest.Failure{Oversized: true}, 0, false, http.StatusBadGateway},
		{"redirect", ssotest.Failure{Redirect: true}, 0, false, http.StatusBadGateway},
		{"slow", ssotest.Failure{Delay: 5 * time.Second}, 300 * time.Millisecond, false, http.StatusGatewayTimeout},
		{"down", ssotest.Failure{}, 0, true, http.StatusBadGateway},
	}
	for _, tt := range tests {
		for _, p := range []string{istores.Name, multicart.Name} {
			t.Run(tt.name+"/"+p, func(t *testing.T) {
				t.Parallel()
				var opts []harnessOption
				if tt.timeout > 0 {
					opts = append(opts, withTokenTimeout(tt.timeout))
				}
				h := newHarness(t, opts...)
				c := h.browser()
				cb := h.startLogin(c, p, "/private")
				h.stand.Inject(tt.f)
				if tt.closed {
					h.stand.Close()
				}
				start := time.Now()
				resp := h.get(noFollow(c), cb.String())
				assert.Less(t, time.Since(start), 4*time.Second, "token calls are time-boxed")
				assert.Equal(t, tt.status, resp.StatusCode)
				assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
				assert.NotContains(t, body(resp), "oauth2")
				assertLoggedOut(t, h, c)
				if !tt.closed {
					assert.Zero(t, h.stand.RedirectsFollowed())
				}
			})
		}
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	cookie := sessionCookie(c, h.app.URL)
	copyOfCookie := h.browser()
	u, _ := url.Parse(h.app.URL)
	copyOfCookie.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: cookie}})
	require.Equal(t, http.StatusOK, h.getJSON(copyOfCookie, "/private").StatusCode)

	// GET does not log out.
	resp := h.get(noFollow(c), "/logout")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "POST", resp.Header.Get("Allow"))
	require.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode)

	// A cross-site POST does not either.
	req, _ := http.NewRequest(http.MethodPost, h.app.URL+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := noFollow(c).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode)

	req, _ = http.NewRequest(http.MethodPost, h.app.URL+"/logout", nil)
	req.Header.Set("Accept", "text/html")
	resp, err = noFollow(c).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/", resp.Header.Get("Location"))
	assertLoggedOut(t, h, c)
	assertLoggedOut(t, h, copyOfCookie)
}
