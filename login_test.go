package sso_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

func TestFullLoginThroughRequire(t *testing.T) {
	tests := []struct {
		name       string
		provider   string
		wantScopes []string
		wantIDSub  string
	}{
		{"istores", istores.Name, []string{"products:read", "customers:read"}, ""},
		{"multicart", multicart.Name, []string{"email", "profile", "openid", "roles", "offline_access", "multicart.api"}, "customer-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, withConfig(func(c *sso.Config) { c.DefaultProvider = tt.provider }))
			c := h.browser()

			// Anonymous: the page load is sent to log in and comes back.
			resp := h.get(c, "/private/orders?page=2")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, h.app.URL+"/private/orders?page=2", resp.Request.URL.String())
			v := h.view(resp)
			assert.Equal(t, tt.provider, v.Provider)
			assert.Equal(t, "customer-1", v.Subject)
			assert.Equal(t, tt.wantScopes, v.Scopes)
			assert.Equal(t, tt.wantIDSub, v.IDSub)
			assert.Equal(t, "/private/orders?page=2", v.Path)
			assert.NotEmpty(t, v.Claims["iss"])
			assert.True(t, v.Expiry.After(h.clock.Now()))
			assert.Equal(t, 1, h.stand.TokenCalls(tt.provider, ssotest.GrantAuthorizationCode))

			// Logged in: straight through, no further token call.
			resp = h.getJSON(c, "/private")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, 1, h.stand.TokenCalls("", ""))
		})
	}
}

func TestLoginRenewsSessionToken(t *testing.T) {
	h := newHarness(t)
	c := h.browser()
	cb := h.startLogin(c, istores.Name, "/private")
	before := sessionCookie(c, h.app.URL)
	require.NotEmpty(t, before)
	resp := h.get(noFollow(c), cb.String())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/private", resp.Header.Get("Location"))
	after := sessionCookie(c, h.app.URL)
	assert.NotEmpty(t, after)
	assert.NotEqual(t, before, after, "login must issue a new session ID (no session fixation)")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))

	// The pre-login session ID is worth nothing now.
	old := h.browser()
	u, _ := url.Parse(h.app.URL)
	old.Jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: before}})
	assert.Equal(t, http.StatusUnauthorized, h.getJSON(old, "/private").StatusCode)
}

func TestAnonymousNonNavigationGets401(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		method string
		header map[string]string
	}{
		{"api client, no accept", http.MethodGet, nil},
		{"accept json", http.MethodGet, map[string]string{"Accept": "application/json"}},
		{"xhr", http.MethodGet, map[string]string{"Accept": "text/html", "X-Requested-With": "XMLHttpRequest"}},
		{"fetch from a page", http.MethodGet, map[string]string{"Accept": "text/html", "Sec-Fetch-Mode": "cors"}},
		{"post form", http.MethodPost, map[string]string{"Accept": "text/html"}},
		{"delete", http.MethodDelete, map[string]string{"Accept": "text/html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, h.app.URL+"/private", nil)
			require.NoError(t, err)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := noFollow(h.browser()).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Equal(t, `Session realm="shopsso"`, resp.Header.Get("WWW-Authenticate"))
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.JSONEq(t, `{"error":"login_required"}`, body(resp))
		})
	}
	assert.Zero(t, len(h.stand.AuthorizeRequests()), "no login was started")
}

func TestBrowserNavigationRedirectsToProvider(t *testing.T) {
	h := newHarness(t)
	resp := h.get(noFollow(h.browser()), "/private?x=1")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(loc.String(), h.stand.Istores().AuthURL), loc.String())
	q := loc.Query()
	assert.Len(t, q.Get("state"), 43, "32 random bytes, base64url")
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.NotContains(t, loc.String(), "x%3D1", "the return target stays on the server, out of the state and URL")
	assert.NotEmpty(t, resp.Header.Get("Set-Cookie"))
}

func TestLoginPathSendsBrowsersToTheChooser(t *testing.T) {
	h := newHarness(t, withConfig(func(c *sso.Config) { c.LoginPath = "/choose" }))
	resp := h.get(noFollow(h.browser()), "/private/a?b=c")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/choose?return_to=%2Fprivate%2Fa%3Fb%3Dc", resp.Header.Get("Location"))
}

func TestReturnToOpenRedirectAttempts(t *testing.T) {
	h := newHarness(t)
	attempts := []string{
		"//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
		"/%2F%2Fevil.example", "/%2f%5cevil.example", "%2F%2Fevil.example", "/%252F%252Fevil.example",
		"/\t/evil.example", " //evil.example", "/\r\n/evil.example", "javascript:alert(1)",
		"http:evil.example", "//user@evil.example", "evil.example", "",
	}
	for _, a := range attempts {
		t.Run(a, func(t *testing.T) {
			c := h.browser()
			cb := h.startLogin(c, istores.Name, a)
			resp := h.get(noFollow(c), cb.String())
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, "/", resp.Header.Get("Location"))
		})
	}
	c := h.browser()
	cb := h.startLogin(c, istores.Name, "/shop/cart?item=a%20b#top")
	resp := h.get(noFollow(c), cb.String())
	assert.Equal(t, "/shop/cart?item=a%20b#top", resp.Header.Get("Location"))
}

func TestTruncatedOrForgedCookie(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	good := sessionCookie(c, h.app.URL)
	require.NotEmpty(t, good)
	for _, value := range []string{good[:len(good)/2], good + "x", "", "%%%", strings.Repeat("A", 4096)} {
		t.Run(fmt.Sprintf("len %d", len(value)), func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.app.URL+"/private", nil)
			req.Header.Set("Accept", "application/json")
			req.AddCookie(&http.Cookie{Name: "session", Value: value})
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

			req.Header.Set("Accept", "text/html")
			resp, err = noFollow(h.browser()).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusFound, resp.StatusCode, "a browser is sent to log in")
		})
	}
	assert.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode, "the real session is untouched")
}
