package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
// with the provider's key set (its jwks_uri from discovery) and refuses the
// login when the configured key set is another's.
func TestInteropIDTokenSignature(t *testing.T) {
	t.Parallel()
	foreign := foreignJWKS(t)
	tests := []struct {
		name   string
		jwks   func(op *interopProvider, d map[string]any) string
		logsIn bool
	}{
		{name: "provider's key set", jwks: func(_ *interopProvider, d map[string]any) string { return d["jwks_uri"].(string) }, logsIn: true},
		{name: "another key set", jwks: func(*interopProvider, map[string]any) string { return foreign.URL }, logsIn: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it := newInterop(t, interopSetup{env: func(_ string, op *interopProvider, env map[string]string) {
				env["MULTICART_JWKS_URL"] = tc.jwks(op, op.discovery(t))
			}})
			c := it.browser()
			p := it.approveAll(c, it.get(c, it.srv.URL+"/auth/multicart/login?return_to=/me", false))
			status, me := it.me(c)
			if tc.logsIn {
				require.Equal(t, http.StatusOK, p.status, p.body)
				require.Equal(t, http.StatusOK, status)
				assert.Equal(t, opSubject, me.Subject)
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
// with error=access_denied; no code is exchanged and nobody is logged in.
func TestInteropDeny(t *testing.T) {
	t.Parallel()
	it := newInterop(t, interopSetup{})
	for _, provider := range []string{"istores", "multicart"} {
		t.Run(provider, func(t *testing.T) {
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
