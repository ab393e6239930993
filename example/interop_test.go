package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	oidcprovider "github.com/shopsso/sso/providers/oidc"
)

// TestInteropLogin logs a customer in through each of the example's
// providers against oidc-provider, with nothing but client IDs, secrets and
// URLs in the example's environment: no issuer and no key set configured.
func TestInteropLogin(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{})
	for _, k := range []string{"MULTICART_ISSUER", "MULTICART_JWKS_URL"} {
		require.Empty(t, it.env[k], "the example is given no %s", k)
	}
	tests := []struct {
		name     string
		provider string
		audience string
		scopes   []string
		idToken  bool
	}{
		{name: "istores", provider: "istores", audience: "istores.api", scopes: []string{"products:read", "customers:read"}},
		{name: "multicart", provider: "multicart", audience: "multicart.api", scopes: []string{"multicart.api"}, idToken: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := it.op.stats(t).Grants["authorization_code"]
			c, me := it.login(tc.provider)
			assert.Equal(t, tc.provider, me.Provider)
			assert.Equal(t, opSubject, me.Subject)
			assert.ElementsMatch(t, tc.scopes, me.Scopes)
			// The access token is the provider's own JWT for the service's API.
			assert.Equal(t, it.op.Issuer, me.Claims["iss"])
			assert.Equal(t, tc.audience, me.Claims["aud"])
			assert.Equal(t, opSubject, me.Claims["sub"])
			if tc.idToken {
				assert.Equal(t, it.op.Issuer, me.IDClaims["iss"], "the ID token's issuer, accepted without configuring it")
				assert.Equal(t, opMulticartClient, me.IDClaims["aud"])
				assert.Equal(t, "customer-1@shop.example", me.IDClaims["email"])
				assert.Equal(t, "Customer One", me.IDClaims["name"])
			} else {
				assert.Empty(t, me.IDClaims, "Istores is not OpenID Connect")
			}
			assert.Equal(t, before+1, it.op.stats(t).Grants["authorization_code"], "one code exchange")

			status, again := it.me(c)
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, me.Claims["jti"], again.Claims["jti"], "the same token, no second call")
			assert.NotContains(t, it.logs.String(), "eyJ", "no token in the log")
		})
	}
}

// TestInteropIDTokenSignature verifies the Multicart ID token's signature
// with the provider's key set — found through its discovery document when
// nothing is configured, or at a configured MULTICART_JWKS_URL — and
// refuses the login when the configured key set is another's.
func TestInteropIDTokenSignature(t *testing.T) {
	t.Parallel()
	foreign := foreignJWKS(t)
	tests := []struct {
		name   string
		jwks   func(op *interopProvider) string // MULTICART_JWKS_URL; "" for none
		logsIn bool
	}{
		{name: "through discovery", jwks: func(*interopProvider) string { return "" }, logsIn: true},
		{name: "configured provider's key set", jwks: func(op *interopProvider) string { return op.discovery(t)["jwks_uri"].(string) }, logsIn: true},
		{name: "configured other key set", jwks: func(*interopProvider) string { return foreign.URL }, logsIn: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it := newInterop(t, interopSetup{env: func(_ string, op *interopProvider, env map[string]string) {
				if u := tc.jwks(op); u != "" {
					env["MULTICART_JWKS_URL"] = u
				}
			}})
			before := it.op.stats(t).Fetched["/jwks"]
			c := it.browser()
			p := it.approveAll(c, it.get(c, it.srv.URL+"/auth/multicart/login?return_to=/me", false))
			status, me := it.me(c)
			if tc.logsIn {
				require.Equal(t, http.StatusOK, p.status, p.body)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, opSubject, me.Subject)
				assert.Greater(t, it.op.stats(t).Fetched["/jwks"], before, "the provider's key set was fetched")
				return
			}
			assert.Equal(t, it.srv.URL+"/auth/multicart/callback", p.url.Scheme+"://"+p.url.Host+p.url.Path)
			assert.GreaterOrEqual(t, p.status, 400, "the login is refused")
			assert.NotContains(t, p.body, "eyJ")
			assert.Equal(t, http.StatusUnauthorized, status, "nobody is logged in")
			assert.Equal(t, 1, refusals(it.logs.String()), "one log line:\n%s", it.logs.String())
			assert.Contains(t, it.logs.String(), "ID token")
		})
	}
}

// TestInteropIssuerSpellings: with no issuer configured, Multicart logins
// work whatever plausible issuer the provider uses (learned from its
// discovery document), and a configured issuer is matched exactly.
func TestInteropIssuerSpellings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		issuerPath string // appended to the provider's origin
		configured string // MULTICART_ISSUER, relative to the origin; "" for none
		logsIn     bool
	}{
		{name: "origin", issuerPath: "", logsIn: true},
		{name: "trailing slash", issuerPath: "/", logsIn: true},
		{name: "with a path", issuerPath: "/identity", logsIn: true},
		{name: "configured exactly", issuerPath: "/", configured: "/", logsIn: true},
		{name: "configured otherwise", issuerPath: "/", configured: "/other", logsIn: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it := newInterop(t, interopSetup{op: opConfig{IssuerPath: tc.issuerPath}, env: func(_ string, op *interopProvider, env map[string]string) {
				if tc.configured != "" {
					env["MULTICART_ISSUER"] = op.URL + tc.configured
				}
			}})
			require.Equal(t, it.op.URL+tc.issuerPath, it.op.Issuer)
			c := it.browser()
			p := it.approveAll(c, it.get(c, it.srv.URL+"/auth/multicart/login?return_to=/me", false))
			status, me := it.me(c)
			if tc.logsIn {
				require.Equal(t, http.StatusOK, p.status, p.body)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, it.op.Issuer, me.IDClaims["iss"])
				return
			}
			assert.GreaterOrEqual(t, p.status, 400, "the login is refused")
			assert.Equal(t, http.StatusUnauthorized, status)
			logs := it.logs.String()
			assert.Equal(t, 1, refusals(logs), "one log line:\n%s", logs)
			assert.Contains(t, logs, it.op.Issuer, "the log names the issuer received")
			assert.Contains(t, logs, it.op.URL+"/other", "and the one expected")
		})
	}
}

// foreignJWKS serves a key set holding one RSA key the provider never used.
func foreignJWKS(t *testing.T) *httptest.Server {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	set := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "foreign",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestInteropDeny: a customer who presses Deny at the provider comes back
// with error=access_denied; no code is exchanged, nobody is logged in, the
// customer sees the declined page and the log says, once, that the
// customer declined.
func TestInteropDeny(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{})
	for _, provider := range []string{"istores", "multicart"} {
		t.Run(provider, func(t *testing.T) {
			logged := refusals(it.logs.String())
			c := it.browser()
			p := it.get(c, it.srv.URL+"/auth/"+provider+"/login?return_to=/me", false)
			require.True(t, it.onProviderPage(p), "the provider asks: %s", p.url)
			p = it.decide(c, p, "deny")
			assert.Equal(t, "/auth/"+provider+"/callback", p.url.Path)
			assert.Equal(t, "access_denied", p.url.Query().Get("error"))
			assert.Equal(t, http.StatusForbidden, p.status, p.body)
			status, _ := it.me(c)
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Zero(t, it.op.stats(t).Grants["authorization_code"], "no code exchanged")
			assert.Contains(t, p.body, "You didn&#39;t log in", "the declined page, not an error")
			assert.Equal(t, logged+1, refusals(it.logs.String()), "one log line")
			lines := strings.Split(strings.TrimSpace(it.logs.String()), "\n")
			last := lines[len(lines)-1]
			assert.Contains(t, last, `reason="`+sso.ErrAccessDenied.Error()+`"`, "logged as declined")
			assert.Contains(t, last, "provider="+provider)
			assert.NotContains(t, last, "exchange", "no exchange happened")
		})
	}
}

// TestInteropLogout: after POST /logout the app's session is gone: API
// calls get 401 and the old cookie logs nobody in.
func TestInteropLogout(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{})
	for _, provider := range []string{"istores", "multicart"} {
		t.Run(provider, func(t *testing.T) {
			c, _ := it.login(provider)
			u := it.srv.URL + "/me"
			appURL, err := url.Parse(it.srv.URL)
			require.NoError(t, err)
			old := c.Jar.Cookies(appURL)
			require.NotEmpty(t, old)
			req, err := http.NewRequest(http.MethodPost, it.srv.URL+"/logout", nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "application/json")
			p := it.do(c, req)
			assert.Equal(t, http.StatusNoContent, p.status)
			status, _ := it.me(c)
			assert.Equal(t, http.StatusUnauthorized, status)
			// A browser that comes back is sent to log in again, on the
			// example's page for choosing a provider.
			nf := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			p = it.get(nf, u, false)
			assert.Equal(t, http.StatusFound, p.status)
			assert.Equal(t, "/login?return_to=%2Fme", p.header.Get("Location"))
			// The cookie from before the logout is worth nothing.
			replay := it.browser()
			replay.Jar.SetCookies(appURL, old)
			status, _ = it.me(replay)
			assert.Equal(t, http.StatusUnauthorized, status)
		})
	}
}

// refusals counts the log records at level WARN or ERROR.
func refusals(logs string) int {
	return strings.Count(logs, "level=WARN ") + strings.Count(logs, "level=ERROR ")
}

// TestInteropAdminServiceToken: /admin/whoami gets the Admin API token
// through the separate confidential client (a standard provider registers
// one authentication method per client, so the public login client cannot
// use client credentials), once, then from its cache.
func TestInteropAdminServiceToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		wantStatus int
		calls      int
	}{
		{name: "service client", env: map[string]string{
			"MULTICART_SERVICE_CLIENT_ID": opServiceClient, "MULTICART_SERVICE_CLIENT_SECRET": opServiceSecret,
		}, wantStatus: http.StatusOK, calls: 1},
		{name: "login client refused", env: map[string]string{
			"MULTICART_CLIENT_SECRET": "the public client has none",
		}, wantStatus: http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it := newInterop(t, interopSetup{env: func(_ string, _ *interopProvider, env map[string]string) {
				for k, v := range tc.env {
					env[k] = v
				}
			}})
			for range 3 {
				p := it.get(http.DefaultClient, it.srv.URL+"/admin/whoami", true)
				require.Equal(t, tc.wantStatus, p.status, p.body)
				assert.NotContains(t, p.body, "eyJ", "never the token")
				if tc.wantStatus != http.StatusOK {
					continue
				}
				var v map[string]string
				require.NoError(t, json.Unmarshal([]byte(p.body), &v))
				assert.Equal(t, opServiceClient, v["subject"], "the token's subject is the service client")
				assert.NotEmpty(t, v["expires_at"])
			}
			assert.Equal(t, tc.calls, it.op.stats(t).Grants["client_credentials"], "cached after the first call")
		})
	}
}

// TestInteropRefreshRotation: a Multicart login is refreshed over two
// expiries — the first inside the refresh margin while the token is still
// valid, the second past the expiry — with exactly one refresh call each
// although many requests arrive at once, the refresh token rotated every
// time, and the provider's reuse detection never triggered.
func TestInteropRefreshRotation(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{op: opConfig{AccessTokenTTL: 60}, env: withConsent})
	c, me := it.login("multicart")
	require.Contains(t, me.Scopes, "multicart.api")
	first := jti(me)
	require.NotEmpty(t, first)

	steps := []struct {
		name    string
		advance time.Duration // the app's clock; the token lives 60 s
	}{
		{name: "inside the margin", advance: 45 * time.Second},
		{name: "past the expiry", advance: 61 * time.Second},
	}
	prev := first
	for i, step := range steps {
		it.clock.Advance(step.advance)
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for j := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[j], _ = it.me(c)
			}()
		}
		wg.Wait()
		for j, s := range statuses {
			assert.Equal(t, http.StatusOK, s, "%s: request %d", step.name, j)
		}
		var now meResponse
		it.eventually(func() bool {
			var status int
			status, now = it.me(c)
			return status == http.StatusOK && jti(now) != prev
		}, step.name+": a new access token")
		assert.Equal(t, opSubject, now.Subject)
		assert.Equal(t, it.op.Issuer, now.IDClaims["iss"])
		st := it.op.stats(t)
		assert.Equal(t, i+1, st.Grants["refresh_token"], "%s: exactly one refresh call per expiry", step.name)
		assert.Zero(t, st.Reuse, "%s: no refresh token used twice", step.name)
		assert.Empty(t, st.Errors, "%s: the provider refused nothing", step.name)
		prev = jti(now)
	}
	assert.Equal(t, 1, it.op.stats(t).Grants["authorization_code"], "nobody logged in again")
	assert.Zero(t, refusals(it.logs.String()), "nothing refused")
}

// chooseMulticart finds the Multicart button of the example's login page.
var chooseMulticart = regexp.MustCompile(`id="choose-multicart" href="([^"]+)"`)

// TestInteropGrantRevoked: when the customer's grant is withdrawn at the
// provider, the next refresh is refused: API clients get 401, and a
// browser navigating to a page is asked to log in again and comes back to
// that page.
func TestInteropGrantRevoked(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{op: opConfig{AccessTokenTTL: 60}, env: withConsent})
	api, _ := it.login("multicart")
	browser, before := it.login("multicart")
	require.Equal(t, 2, it.op.revokeGrants(t))
	it.clock.Advance(61 * time.Second)

	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for j := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[j], _ = it.me(api)
		}()
	}
	wg.Wait()
	for j, s := range statuses {
		assert.Equal(t, http.StatusUnauthorized, s, "API request %d: the refresh was refused", j)
	}
	status, _ := it.me(api)
	assert.Equal(t, http.StatusUnauthorized, status, "API: and stays logged out")
	assert.Equal(t, 1, it.op.stats(t).Errors["refresh_token:invalid_grant"], "one refresh call for all the waiting requests")
	assert.Equal(t, 1, refusals(it.logs.String()), "one log line for all of them:\n%s", it.logs.String())

	p := it.get(browser, it.srv.URL+"/me", false)
	require.Equal(t, "/login", p.url.Path, "the browser is asked to log in again")
	m := chooseMulticart.FindStringSubmatch(p.body)
	require.NotNil(t, m, "the login page offers Multicart:\n%s", p.body)
	p = it.get(browser, it.srv.URL+html.UnescapeString(m[1]), false)
	require.True(t, it.onProviderPage(p), "the browser is sent to the provider again: %s %d", p.url, p.status)
	p = it.approveAll(browser, p)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "/me", p.url.Path, "back where it was going")
	var after meResponse
	require.NoError(t, json.Unmarshal([]byte(p.body), &after))
	assert.Equal(t, opSubject, after.Subject)
	assert.NotEqual(t, jti(before), jti(after))

	st := it.op.stats(t)
	assert.Equal(t, 3, st.Grants["authorization_code"], "two logins and the re-login")
	assert.Equal(t, 2, st.Errors["refresh_token:invalid_grant"], "one refused refresh per session")
	assert.Zero(t, st.Reuse)
}

var (
	opPrompt     = regexp.MustCompile(`<h1 id="prompt">(\w+)</h1>`)
	opLogoutForm = regexp.MustCompile(`<form id="op.logoutForm" method="post" action="([^"]+)"><input type="hidden" name="xsrf" value="([^"]+)"/>`)
)

// TestInteropRPInitiatedLogout: with MULTICART_LOGOUT_AT_PROVIDER=1 the
// example's logout ends the customer's session at the provider too
// (OpenID Connect RP-Initiated Logout, endpoint from discovery), and the
// next login asks the customer to log in at the provider again; without
// it, logout is local and the provider logs the customer straight back in.
func TestInteropRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		atProvider bool
	}{
		{name: "local only", atProvider: false},
		{name: "at the provider too", atProvider: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it := newInterop(t, interopSetup{env: func(_ string, _ *interopProvider, env map[string]string) {
				if tc.atProvider {
					env["MULTICART_LOGOUT_AT_PROVIDER"] = "1"
				}
			}})
			c, _ := it.login("multicart")
			var visited []*url.URL
			c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
				visited = append(visited, r.URL)
				return nil
			}
			req, err := http.NewRequest(http.MethodPost, it.srv.URL+"/logout", nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "text/html")
			p := it.do(c, req)
			if tc.atProvider {
				require.Equal(t, it.op.discovery(t)["end_session_endpoint"], endpointOf(p.url), "at the end-session endpoint")
				q := p.url.Query()
				assert.NotEmpty(t, q.Get("id_token_hint"))
				assert.Equal(t, opMulticartClient, q.Get("client_id"))
				assert.Equal(t, it.srv.URL+logoutReturnPath, q.Get("post_logout_redirect_uri"))
				assert.NotEmpty(t, q.Get("state"))
				m := opLogoutForm.FindStringSubmatch(p.body)
				require.NotNil(t, m, "the provider asks to confirm:\n%s", p.body)
				require.True(t, strings.HasPrefix(html.UnescapeString(m[1]), it.op.URL+"/"), m[1])
				form := url.Values{"xsrf": {html.UnescapeString(m[2])}, "logout": {"yes"}}
				req, err := http.NewRequest(http.MethodPost, html.UnescapeString(m[1]), strings.NewReader(form.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept", "text/html")
				visited = nil
				p = it.do(c, req)
				require.NotEmpty(t, visited)
				assert.Equal(t, it.srv.URL+logoutReturnPath, endpointOf(visited[0]), "back through the logout return")
				assert.NotEmpty(t, visited[0].Query().Get("state"))
				assert.Equal(t, 1, it.op.stats(t).Ended, "the provider ended its session")
			} else {
				assert.Zero(t, it.op.stats(t).Ended)
			}
			assert.Equal(t, http.StatusOK, p.status, p.body)
			assert.True(t, strings.HasPrefix(p.url.String(), it.srv.URL), "back at the shop: %s", p.url)
			assert.Zero(t, refusals(it.logs.String()), "nothing refused")
			status, _ := it.me(c)
			assert.Equal(t, http.StatusUnauthorized, status, "logged out of the shop")

			c.CheckRedirect = nil
			p = it.get(c, it.srv.URL+"/auth/multicart/login?return_to=/me", false)
			if tc.atProvider {
				require.True(t, it.onProviderPage(p), "the provider asks again: %s", p.url)
				m := opPrompt.FindStringSubmatch(p.body)
				require.NotNil(t, m)
				assert.Equal(t, "login", m[1], "the customer logs in at the provider again")
				return
			}
			assert.Equal(t, it.srv.URL+"/me", endpointOf(p.url), "still logged in at the provider: straight back")
			assert.Equal(t, http.StatusOK, p.status)
		})
	}
}

// endpointOf is u without its query.
func endpointOf(u *url.URL) string { return u.Scheme + "://" + u.Host + u.Path }

// TestInteropRefreshAcrossInstances: three instances of the example share
// a Redis; one customer's requests reach all of them at once around each of
// three expiries (the first while the token is still valid, inside the
// refresh margin). Exactly one refresh call per expiry reaches the
// provider: a second use of the same refresh token would make it revoke
// the whole grant (RFC 9700 §4.14.2) and log the customer out — which is
// what two instances refreshing on their own did.
func TestInteropRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{op: opConfig{AccessTokenTTL: 60}, env: withConsent, instances: 3})
	c, me := it.login("multicart")
	prev := jti(me)
	for i, advance := range []time.Duration{45 * time.Second, 61 * time.Second, 61 * time.Second} {
		it.clock.Advance(advance)
		var wg sync.WaitGroup
		statuses := make([]int, 12)
		for j := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[j], _ = it.me(c) // taken in turn by the instances
			}()
		}
		wg.Wait()
		for j, s := range statuses {
			require.Equal(t, http.StatusOK, s, "expiry %d, request %d", i+1, j)
		}
		var now meResponse
		it.eventually(func() bool {
			var status int
			status, now = it.me(c)
			return status == http.StatusOK && jti(now) != prev
		}, fmt.Sprintf("expiry %d: a refreshed token", i+1))
		st := it.op.stats(t)
		require.Zero(t, st.Reuse, "expiry %d: a refresh token was used twice; the provider revoked the grant", i+1)
		require.Equal(t, i+1, st.Grants["refresh_token"], "expiry %d: exactly one refresh call", i+1)
		prev = jti(now)
	}
	for _, pin := range []string{"a", "b", "c"} {
		req, err := http.NewRequest(http.MethodGet, it.srv.URL+"/me", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "application/json")
		req.Header.Set(instanceHeader, pin)
		p := it.do(c, req)
		require.Equal(t, http.StatusOK, p.status, "instance %s still serves the customer", pin)
		var me meResponse
		require.NoError(t, json.Unmarshal([]byte(p.body), &me))
		assert.Equal(t, prev, jti(me), "instance %s: the newest token", pin)
	}
	st := it.op.stats(t)
	assert.Zero(t, st.Revoked)
	assert.Empty(t, st.Errors)
	assert.Equal(t, 1, st.Grants["authorization_code"], "nobody logged in again")
}

// TestInteropProviderDetectsReuse proves the setting the refresh tests
// rely on: the provider rotates refresh tokens, and a used one presented
// again is refused and revokes the whole grant, the new token included.
func TestInteropProviderDetectsReuse(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{})
	conf := oauth2.Config{
		ClientID: opGenericClient, ClientSecret: opGenericSecret,
		RedirectURL: it.srv.URL + "/auth/oidc/callback",
		Scopes:      []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{
			AuthURL: it.op.URL + "/auth", TokenURL: it.op.URL + "/api/connect/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	ctx := t.Context()
	tok := it.codeFlow(conf, oauth2.SetAuthURLParam("prompt", "consent"))
	require.NotEmpty(t, tok.RefreshToken)

	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
	next, err := refresh(tok.RefreshToken)
	require.NoError(t, err)
	require.NotEqual(t, tok.RefreshToken, next.RefreshToken, "rotated")
	_, err = refresh(tok.RefreshToken)
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re, "the used token is refused")
	assert.Equal(t, "invalid_grant", re.ErrorCode)
	_, err = refresh(next.RefreshToken)
	require.ErrorAs(t, err, &re, "and the grant is gone: its newest token too")
	st := it.op.stats(t)
	assert.Equal(t, 1, st.Reuse)
	assert.Equal(t, 1, st.Revoked)
}

// TestInteropBearerAPI: GET /api/me accepts the provider's own JWT access
// tokens for the multicart.api audience, as a single-page or mobile client
// obtains them itself, with keys and issuer found through discovery; it
// refuses every other token with an RFC 6750 challenge.
func TestInteropBearerAPI(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{})
	spa := it.codeFlow(oauth2.Config{
		ClientID: opMulticartClient, RedirectURL: it.srv.URL + "/auth/multicart/callback",
		Scopes:   []string{"openid", "multicart.api"},
		Endpoint: oauth2.Endpoint{AuthURL: it.op.URL + "/auth", TokenURL: it.op.URL + "/api/connect/token", AuthStyle: oauth2.AuthStyleInParams},
	})
	istoresTok := it.codeFlow(oauth2.Config{
		ClientID: opIstoresClient, ClientSecret: opIstoresSecret, RedirectURL: it.srv.URL + "/auth/istores/callback",
		Scopes:   []string{"products:read"},
		Endpoint: oauth2.Endpoint{AuthURL: it.op.URL + "/auth", TokenURL: it.op.URL + "/api/connect/token", AuthStyle: oauth2.AuthStyleInParams},
	})
	idToken, _ := spa.Extra("id_token").(string)
	require.NotEmpty(t, idToken)
	parts := strings.Split(spa.AccessToken, ".")
	require.Len(t, parts, 3, "a JWT access token")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	tests := []struct {
		name      string
		token     string // "" sends no Authorization header
		advance   time.Duration
		want      int
		challenge string // in WWW-Authenticate
	}{
		{name: "the provider's access token", token: spa.AccessToken, want: http.StatusOK},
		{name: "no token", token: "", want: http.StatusUnauthorized, challenge: `Bearer realm=`},
		{name: "the ID token", token: idToken, want: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "another API's token", token: istoresTok.AccessToken, want: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "signature altered", token: tampered, want: http.StatusUnauthorized, challenge: `error="invalid_token"`},
		{name: "expired", token: spa.AccessToken, advance: 10 * time.Minute, want: http.StatusUnauthorized, challenge: `error="invalid_token"`},
	}
	for _, tc := range tests { // in order: the last one moves the clock
		t.Run(tc.name, func(t *testing.T) {
			it.clock.Advance(tc.advance)
			req, err := http.NewRequest(http.MethodGet, it.srv.URL+"/api/me", nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "application/json")
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			p := it.do(http.DefaultClient, req)
			require.Equal(t, tc.want, p.status, p.body)
			assert.Contains(t, p.header.Get("WWW-Authenticate"), tc.challenge)
			if tc.want != http.StatusOK {
				return
			}
			var me meResponse
			require.NoError(t, json.Unmarshal([]byte(p.body), &me))
			assert.Equal(t, "multicart", me.Provider)
			assert.Equal(t, opSubject, me.Subject)
			assert.Equal(t, "multicart.api", me.Claims["aud"])
			assert.Equal(t, it.op.Issuer, me.Claims["iss"])
		})
	}
	assert.NotContains(t, it.logs.String(), "eyJ", "no token in the log")
}

// TestInteropGenericOIDCProvider: providers/oidc, configured by nothing
// but the provider's issuer URL (discovery) and a client, logs a customer
// in, refreshes once per expiry and logs out at the provider too — for a
// confidential client authenticating with HTTP Basic or in the form, and
// for a public one.
func TestInteropGenericOIDCProvider(t *testing.T) {
	t.Parallel()
	type client struct {
		name, secret, method string
		style                oauth2.AuthStyle
	}
	clients := []client{
		{name: "oidc-basic", secret: "basic-secret", method: "client_secret_basic"},
		{name: "oidc-post", secret: "post-secret", method: "client_secret_post", style: oauth2.AuthStyleInParams},
		{name: "oidc-public", method: "none"},
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	var reg []map[string]any
	for _, c := range clients {
		m := map[string]any{
			"client_id":                  c.name,
			"token_endpoint_auth_method": c.method,
			"grant_types":                []string{"authorization_code", "refresh_token"},
			"response_types":             []string{"code"},
			"redirect_uris":              []string{base + "/auth/" + c.name + "/callback"},
			"post_logout_redirect_uris":  []string{base + logoutReturnPath},
		}
		if c.secret != "" {
			m["client_secret"] = c.secret
		}
		reg = append(reg, m)
	}
	it := &interop{t: t, logs: &logSink{}, clock: newSharedClock(), srv: srv}
	it.op = startOP(t, opConfig{Clients: reg, AccessTokenTTL: 60, IssuerPath: "/realms/shop"})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app logs:\n%s", it.logs.String())
		}
	})

	var providers []sso.Provider
	for _, c := range clients {
		p, err := oidcprovider.New(t.Context(), oidcprovider.Config{
			Name: c.name, IssuerURL: it.op.Issuer,
			ClientID: c.name, ClientSecret: c.secret, AuthStyle: c.style,
			RedirectURL:           base + "/auth/" + c.name + "/callback",
			Scopes:                []string{"openid", "profile", "email", "offline_access"},
			AuthParams:            url.Values{"prompt": {"consent"}},
			PostLogoutRedirectURL: base + logoutReturnPath,
			Now:                   it.clock.Now,
		})
		require.NoError(t, err, c.name)
		providers = append(providers, p)
	}
	sm := scs.New()
	auth, err := sso.New(sso.Config{
		Sessions: sm, Providers: providers, InsecureCookie: true, Now: it.clock.Now,
		Logger: slog.New(slog.NewTextHandler(it.logs, nil)),
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	for _, c := range clients {
		mux.Handle("GET /auth/"+c.name+"/login", auth.Login(c.name))
		mux.Handle("GET /auth/"+c.name+"/callback", auth.Callback(c.name))
	}
	mux.Handle("POST /logout", auth.Logout())
	mux.Handle("GET "+logoutReturnPath, auth.LogoutCallback())
	mux.Handle("GET /me", auth.Require(http.HandlerFunc(me)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "home") })
	srv.Config.Handler = sm.LoadAndSave(mux)
	srv.Start()
	t.Cleanup(srv.Close)

	for i, c := range clients { // in order: the counters add up
		t.Run(c.name, func(t *testing.T) {
			b := it.browser()
			p := it.approveAll(b, it.get(b, base+"/auth/"+c.name+"/login?return_to=/me", false))
			require.Equal(t, http.StatusOK, p.status, p.body)
			var me meResponse
			require.NoError(t, json.Unmarshal([]byte(p.body), &me))
			assert.Equal(t, c.name, me.Provider)
			assert.Equal(t, opSubject, me.Subject)
			assert.Equal(t, it.op.Issuer, me.IDClaims["iss"])
			assert.Equal(t, "customer-1@shop.example", me.IDClaims["email"])

			it.clock.Advance(61 * time.Second)
			status, now := it.me(b)
			require.Equal(t, http.StatusOK, status)
			assert.NotEqual(t, jti(me), jti(now), "refreshed")
			st := it.op.stats(t)
			assert.Equal(t, i+1, st.Grants["refresh_token"], "one refresh call")
			assert.Zero(t, st.Reuse)

			req, err := http.NewRequest(http.MethodPost, base+"/logout", nil)
			require.NoError(t, err)
			req.Header.Set("Accept", "text/html")
			p = it.do(b, req)
			m := opLogoutForm.FindStringSubmatch(p.body)
			require.NotNil(t, m, "the provider's end-session page (%s):\n%s", p.url, p.body)
			form := url.Values{"xsrf": {html.UnescapeString(m[2])}, "logout": {"yes"}}
			req, err = http.NewRequest(http.MethodPost, html.UnescapeString(m[1]), strings.NewReader(form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "text/html")
			p = it.do(b, req)
			assert.Equal(t, http.StatusOK, p.status, p.body)
			assert.Equal(t, base+"/", endpointOf(p.url), "back at the shop")
			assert.Equal(t, i+1, it.op.stats(t).Ended, "logged out at the provider")
			status, _ = it.me(b)
			assert.Equal(t, http.StatusUnauthorized, status)
		})
	}
}

// TestInteropRefusesAnotherIssuer (mix-up): with no issuer configured, an
// ID token is accepted only from an issuer the identity service itself
// names (discovery under its URL) or, failing that, one on its token
// endpoint's origin. Here the service's URL is a proxy in front of another
// provider: that provider's discovery document names itself, not the
// service, so it does not count, and its ID tokens — validly signed, from
// the configured token endpoint — are refused, with one log line naming
// the check, what was expected and what came.
func TestInteropRefusesAnotherIssuer(t *testing.T) {
	t.Parallel()
	var front *httptest.Server
	it := newInterop(t, interopSetup{env: func(_ string, op *interopProvider, env map[string]string) {
		target, err := url.Parse(op.URL)
		require.NoError(t, err)
		front = httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
		t.Cleanup(front.Close)
		env["MULTICART_AUTH_URL"] = front.URL + "/"
		env["MULTICART_TOKEN_URL"] = front.URL + "/api/connect/token"
	}})
	c := it.browser()
	p := it.approveAll(c, it.get(c, it.srv.URL+"/auth/multicart/login?return_to=/me", false))
	assert.Equal(t, "/auth/multicart/callback", p.url.Path)
	assert.GreaterOrEqual(t, p.status, 400, "the login is refused")
	status, _ := it.me(c)
	assert.Equal(t, http.StatusUnauthorized, status, "nobody is logged in")
	assert.Equal(t, 1, it.op.stats(t).Grants["authorization_code"], "the code was exchanged through the front")
	logs := it.logs.String()
	assert.Equal(t, 1, refusals(logs), "one log line:\n%s", logs)
	assert.Contains(t, logs, "check=iss")
	assert.Contains(t, logs, "got="+it.op.Issuer, "the issuer received")
	assert.Contains(t, logs, front.URL, "and what was expected")
}

// TestInteropRefreshRealTime: with the real clock on both sides and access
// tokens that live 4 s, a customer's requests go on without a failure while
// the token is refreshed again and again (twice at least), every refresh
// token used once.
func TestInteropRefreshRealTime(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{op: opConfig{AccessTokenTTL: 4}, env: withConsent, realClock: true})
	c, me := it.login("multicart")
	seen := map[string]bool{jti(me): true}
	it.eventually(func() bool {
		status, now := it.me(c)
		require.Equal(t, http.StatusOK, status, "no request fails while tokens come and go")
		seen[jti(now)] = true
		return len(seen) >= 3
	}, "two refreshed tokens")
	st := it.op.stats(t)
	assert.GreaterOrEqual(t, st.Grants["refresh_token"], 2)
	assert.Zero(t, st.Reuse, "no refresh token used twice")
	assert.Empty(t, st.Errors, "the provider refused nothing")
	assert.Zero(t, refusals(it.logs.String()), "nothing refused:\n%s", it.logs.String())
}
