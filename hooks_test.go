package sso_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

func TestRequireScopes(t *testing.T) {
	for _, asString := range []bool{false, true} {
		name := "scopes as a list"
		if asString {
			name = "scopes as a string"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *ssotest.Options, _ *sso.Config, _ *http.Client) { o.IstoresScopesAsString = asString })
			c := h.login(istores.Name)
			assert.Equal(t, http.StatusOK, h.getJSON(c, "/products").StatusCode)

			resp := h.getJSON(c, "/charge")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.JSONEq(t, `{"error":"insufficient_scope"}`, body(resp))
			resp = h.get(c, "/charge")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
			assert.Contains(t, body(resp), "You can&#39;t open this page")

			anon := h.browser()
			assert.Equal(t, http.StatusUnauthorized, h.getJSON(anon, "/products").StatusCode, "scopes imply a login")
		})
	}
	t.Run("multicart scope string", func(t *testing.T) {
		h := newHarness(t)
		c := h.login(multicart.Name)
		assert.Equal(t, http.StatusForbidden, h.getJSON(c, "/products").StatusCode)
	})
}

func TestClaimsScopesFormats(t *testing.T) {
	stand := ssotest.NewServer(ssotest.Options{})
	defer stand.Close()
	tests := []struct {
		name   string
		claims map[string]any
		want   []string
	}{
		{"scope string", map[string]any{"scope": "a b  c"}, []string{"a", "b", "c"}},
		{"scopes string", map[string]any{"scopes": "products:read pbl:read"}, []string{"products:read", "pbl:read"}},
		{"scopes list", map[string]any{"scopes": []string{"products:read", "pbl:read"}}, []string{"products:read", "pbl:read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := stand.IssueAccessToken(ssotest.ProviderIstores, tt.claims)
			c, err := sso.ParseClaims(raw)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Scopes())
			assert.Equal(t, "customer-1", c.Subject())
			assert.False(t, c.Expiry().IsZero())
			assert.False(t, c.IssuedAt().IsZero())
			assert.NotEmpty(t, c.Issuer())
			assert.NotEmpty(t, c.Audience())
		})
	}
	_, err := sso.ParseClaims("not.a.jwt")
	assert.Error(t, err)
}

type hookLog struct {
	mu       sync.Mutex
	logins   []sso.LoginInfo
	logouts  []sso.LoginInfo
	refresh  []sso.LoginInfo
	failures []error
}

func TestHooks(t *testing.T) {
	var hl hookLog
	h := newHarness(t, withConfig(func(c *sso.Config) {
		c.OnLogin = func(_ context.Context, info sso.LoginInfo) error {
			hl.mu.Lock()
			defer hl.mu.Unlock()
			hl.logins = append(hl.logins, info)
			if store, _ := info.Claims.Value("store_id"); store == "store-1" && info.Provider == istores.Name {
				return errors.New("this app does not serve store-1")
			}
			return nil
		}
		c.OnLogout = func(_ context.Context, info sso.LoginInfo) {
			hl.mu.Lock()
			hl.logouts = append(hl.logouts, info)
			hl.mu.Unlock()
		}
		c.OnRefresh = func(_ context.Context, info sso.LoginInfo) {
			hl.mu.Lock()
			hl.refresh = append(hl.refresh, info)
			hl.mu.Unlock()
		}
		c.OnError = func(_ context.Context, err error) {
			hl.mu.Lock()
			hl.failures = append(hl.failures, err)
			hl.mu.Unlock()
		}
	}))

	// OnLogin rejects Istores' store-1: nobody is logged in.
	c := h.browser()
	cb := h.startLogin(c, istores.Name, "/private")
	resp := h.get(noFollow(c), cb.String())
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body(resp), "This account can&#39;t log in here")
	assertLoggedOut(t, h, c)

	// Multicart is accepted.
	c = h.login(multicart.Name)
	h.clock.Advance(59*time.Minute + 30*time.Second)
	h.awaitToken(c, h.currentToken(c))
	req, _ := http.NewRequest(http.MethodPost, h.app.URL+"/logout", nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)

	hl.mu.Lock()
	defer hl.mu.Unlock()
	require.Len(t, hl.logins, 2)
	assert.Equal(t, istores.Name, hl.logins[0].Provider)
	assert.Equal(t, "customer-1", hl.logins[0].Subject)
	assert.Nil(t, hl.logins[0].IDClaims)
	assert.Equal(t, multicart.Name, hl.logins[1].Provider)
	assert.Equal(t, "customer-1", hl.logins[1].IDClaims.Subject())
	assert.Contains(t, hl.logins[1].Token.Scopes, multicart.ScopeAPI)
	require.Len(t, hl.refresh, 1)
	assert.NotEqual(t, hl.logins[1].Token.AccessToken, hl.refresh[0].Token.AccessToken)
	require.Len(t, hl.logouts, 1)
	assert.Equal(t, hl.refresh[0].Token.AccessToken, hl.logouts[0].Token.AccessToken)
	require.Len(t, hl.failures, 1)
	assert.ErrorIs(t, hl.failures[0], sso.ErrLoginRejected)
	assert.NotContains(t, hl.failures[0].Error(), "store-1", "the hook's own error text is not printed")
}

// TestLogsCarryNoSecrets runs logins and every failure path, then checks
// that the log holds none of the codes, tokens, states, verifiers or
// secrets that passed through.
func TestLogsCarryNoSecrets(t *testing.T) {
	h := newHarness(t)
	c := h.login(multicart.Name)
	h.login(istores.Name)
	h.clock.Advance(61 * time.Minute)
	h.currentToken(c)
	// A refresh the provider refuses, logged as a failure.
	h.clock.Advance(61 * time.Minute)
	h.stand.Inject(ssotest.Failure{Grant: ssotest.GrantRefreshToken, TokenError: "invalid_grant"})
	assertLoggedOut(t, h, c)
	for _, f := range []ssotest.Failure{
		{TokenError: "invalid_grant"}, {Status: 500}, {MalformedJSON: true}, {Oversized: true},
		{Redirect: true}, {IDTokenNonce: "x"}, {Deny: true},
	} {
		h.stand.Inject(f)
		for _, p := range []string{istores.Name, multicart.Name} {
			cb := h.startLogin(h.browser(), p, "/")
			h.get(noFollow(h.browser()), cb.String())
			b := h.browser()
			cb = h.startLogin(b, p, "/")
			h.get(noFollow(b), cb.String())
		}
	}
	h.stand.Reset()
	logs := h.logs.String()
	require.Contains(t, logs, "reason=", "the failures were logged")
	require.Contains(t, logs, "refresh refused")

	var secrets []string
	for _, r := range h.stand.TokenRequests() {
		for _, k := range []string{"code", "code_verifier", "refresh_token", "client_secret"} {
			if v := r.Form.Get(k); v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	for _, q := range h.stand.AuthorizeRequests() {
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if v := q.Get(k); v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	h.mu.Lock()
	secrets = append(secrets, h.tokens...)
	h.mu.Unlock()
	require.Greater(t, len(secrets), 20)
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log contains a secret value of length %d", len(s))
		}
	}
	assert.NotContains(t, logs, "eyJ", "no JWT in the log")
}
