package sso_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
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

// tokenEdit rewrites a token response as a misbehaving provider would send
// it. It gets the harness so that it can mint tokens with the stand-in's key.
type tokenEdit func(h *harness, tok *oauth2.Token) *oauth2.Token

// tamperedProvider is the Multicart provider with its token responses
// (login and refresh) rewritten.
type tamperedProvider struct {
	*multicart.Provider
	h    **harness
	edit tokenEdit
}

func (p tamperedProvider) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	tok, err := p.Provider.Exchange(ctx, code, verifier)
	if err != nil {
		return nil, err
	}
	return p.edit(*p.h, tok), nil
}

func (p tamperedProvider) Refresh(ctx context.Context, rt string) (*oauth2.Token, error) {
	tok, err := p.Provider.Refresh(ctx, rt)
	if err != nil {
		return nil, err
	}
	return p.edit(*p.h, tok), nil
}

// unverifyingProvider speaks Multicart's protocol but, like Istores, does
// not implement sso.IDTokenVerifier (nor refresh).
type unverifyingProvider struct {
	inner *multicart.Provider
	h     **harness
	edit  tokenEdit
}

func (p unverifyingProvider) Name() string { return p.inner.Name() }

func (p unverifyingProvider) AuthCodeURL(ap sso.AuthParams) string { return p.inner.AuthCodeURL(ap) }

func (p unverifyingProvider) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	tok, err := p.inner.Exchange(ctx, code, verifier)
	if err != nil {
		return nil, err
	}
	return p.edit(*p.h, tok), nil
}

// reissue returns a copy of tok with the given fields; extras keep the
// response's scope and id_token unless idToken is set.
func reissue(tok *oauth2.Token, access, tokenType string, expiresIn int64, idToken string) *oauth2.Token {
	extra := map[string]any{}
	if s, ok := tok.Extra("scope").(string); ok {
		extra["scope"] = s
	}
	if id, ok := tok.Extra("id_token").(string); ok {
		extra["id_token"] = id
	}
	if idToken != "" {
		extra["id_token"] = idToken
	}
	out := &oauth2.Token{
		AccessToken:  access,
		TokenType:    tokenType,
		RefreshToken: tok.RefreshToken,
		ExpiresIn:    expiresIn,
	}
	if expiresIn != 0 {
		out.Expiry = time.Now().Add(time.Duration(expiresIn) * time.Second)
	}
	return out.WithExtra(extra)
}

// jwtExpiring returns a Multicart access token whose "exp" is d from now.
func jwtExpiring(h *harness, d time.Duration) string {
	return h.stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{
		"exp":   h.clock.Now().Add(d).Unix(),
		"scope": "openid multicart.api",
	})
}

// withTamperedMulticart makes the harness's Multicart rewrite its token
// responses with edit.
func withTamperedMulticart(edit tokenEdit) (harnessOption, **harness) {
	hp := new(*harness)
	return withMulticart(func(p *multicart.Provider) sso.Provider {
		return tamperedProvider{Provider: p, h: hp, edit: edit}
	}), hp
}

func TestTokenResponseRules(t *testing.T) {
	const hour = 3600
	tests := []struct {
		name   string
		edit   tokenEdit
		cfg    func(*sso.Config)
		status int           // of the callback
		expiry time.Duration // from login, when accepted
		reason string        // in the log, when refused
	}{
		{name: "token_type MAC refused",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, t.AccessToken, "MAC", hour, "")
			},
			status: http.StatusBadGateway, reason: `token_type \"MAC\" is not Bearer`},
		{name: "token_type missing refused",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, t.AccessToken, "", hour, "")
			},
			status: http.StatusBadGateway, reason: "token_type missing is not Bearer"},
		{name: "token_type with control characters not repeated",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, t.AccessToken, "Bearer\nlevel=ERROR", hour, "")
			},
			status: http.StatusBadGateway, reason: "token_type (unprintable) is not Bearer"},
		{name: "token_type bearer in lower case accepted",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, jwtExpiring(h, time.Hour), "bearer", hour, "")
			},
			status: http.StatusFound, expiry: time.Hour},
		{name: "negative expires_in ignored for exp",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, jwtExpiring(h, 40*time.Minute), "Bearer", -60, "")
			},
			status: http.StatusFound, expiry: 40 * time.Minute},
		{name: "absurd expires_in ignored for exp",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, jwtExpiring(h, time.Hour), "Bearer", 20*365*24*hour, "")
			},
			status: http.StatusFound, expiry: time.Hour},
		{name: "exp earlier than expires_in wins",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, jwtExpiring(h, 30*time.Minute), "Bearer", 2*hour, "")
			},
			status: http.StatusFound, expiry: 30 * time.Minute},
		{name: "expires_in earlier than exp wins",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, jwtExpiring(h, time.Hour), "Bearer", 600, "")
			},
			status: http.StatusFound, expiry: 10 * time.Minute},
		{name: "neither: the configured maximum",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, "opaque-access-token", "Bearer", 0, "")
			},
			cfg:    func(c *sso.Config) { c.MaxTokenLifetime = 20 * time.Minute },
			status: http.StatusFound, expiry: 20 * time.Minute},
		{name: "neither: one hour by default",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, "opaque-access-token", "Bearer", -5, "")
			},
			status: http.StatusFound, expiry: time.Hour},
		{name: "no expires_in and exp an hour ago refused",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, jwtExpiring(h, -time.Hour), "Bearer", 0, "")
			},
			status: http.StatusBadGateway, reason: "access token already expired"},
		{name: "old token replayed: exp an hour ago, iat two hours ago",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				now := h.clock.Now()
				old := h.stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{
					"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
				return reissue(t, old, "Bearer", 3600, "")
			},
			status: http.StatusBadGateway, reason: "access token already expired"},
		{name: "provider clock three minutes behind",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				now := h.clock.Now()
				behind := h.stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{
					"iat": now.Add(-3 * time.Minute).Unix(), "exp": now.Add(-3*time.Minute + 10*time.Minute).Unix()})
				return reissue(t, behind, "Bearer", 0, "")
			},
			status: http.StatusFound, expiry: 10 * time.Minute},
		{name: "provider clock three minutes behind, short token",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				now := h.clock.Now()
				behind := h.stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{
					"iat": now.Add(-3 * time.Minute).Unix(), "exp": now.Add(-3*time.Minute + time.Minute).Unix()})
				return reissue(t, behind, "Bearer", 60, "")
			},
			status: http.StatusFound, expiry: time.Minute},
		{name: "expires_in fine but exp passed refused",
			edit: func(h *harness, t *oauth2.Token) *oauth2.Token {
				return reissue(t, jwtExpiring(h, -time.Second), "Bearer", hour, "")
			},
			status: http.StatusBadGateway, reason: "access token already expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opt, hp := withTamperedMulticart(tt.edit)
			opts := []harnessOption{opt}
			if tt.cfg != nil {
				opts = append(opts, withConfig(tt.cfg))
			}
			h := newHarness(t, opts...)
			*hp = h
			c := h.browser()
			start := h.clock.Now()
			cb := h.startLogin(c, multicart.Name, "/private")
			resp := h.get(noFollow(c), cb.String())
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status != http.StatusFound {
				assertLoggedOut(t, h, c)
				assert.Contains(t, h.logs.String(), "token response refused: "+tt.reason)
				assert.NotContains(t, body(resp), "Bearer")
				return
			}
			resp = h.getJSON(c, "/private")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			v := h.view(resp)
			assert.WithinDuration(t, start.Add(tt.expiry), v.Expiry, time.Second)

			// Never served past its expiry: one second later the request
			// gets a refreshed token or none.
			h.clock.Advance(tt.expiry + time.Second)
			if resp := h.getJSON(c, "/private"); resp.StatusCode == http.StatusOK {
				assert.True(t, h.view(resp).Expiry.After(h.clock.Now()), "a token served is unexpired")
			}
		})
	}
}

func TestRefreshResponseRules(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(h *harness, t *oauth2.Token) *oauth2.Token
		reason string
	}{
		{"token_type MAC", func(h *harness, t *oauth2.Token) *oauth2.Token {
			return reissue(t, t.AccessToken, "MAC", 3600, "")
		}, `token_type \"MAC\" is not Bearer`},
		{"already expired", func(h *harness, t *oauth2.Token) *oauth2.Token {
			return reissue(t, jwtExpiring(h, -time.Minute), "Bearer", 3600, "")
		}, "access token already expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			refreshing := false
			opt, hp := withTamperedMulticart(func(h *harness, tok *oauth2.Token) *oauth2.Token {
				mu.Lock()
				defer mu.Unlock()
				if refreshing {
					return tt.edit(h, tok)
				}
				return tok
			})
			h := newHarness(t, opt)
			*hp = h
			c := h.login(multicart.Name)
			mu.Lock()
			refreshing = true
			mu.Unlock()
			h.clock.Advance(61 * time.Minute) // expired: the request waits for the refresh
			assert.Equal(t, http.StatusUnauthorized, h.getJSON(c, "/private").StatusCode)
			assert.Equal(t, 1, h.refreshCalls())
			assert.Contains(t, h.logs.String(), "token refresh refused: token response refused: "+tt.reason)
		})
	}
}

// TestExpiredTokenDoesNotLoop: a provider that hands out tokens that have
// already expired (Istores has no refresh token) gets one login attempt
// and an error page, not an endless bounce that spends a code each turn.
func TestExpiredTokenDoesNotLoop(t *testing.T) {
	h := newHarness(t)
	h.stand.Inject(ssotest.Failure{Provider: ssotest.ProviderIstores, ExpiredAccessToken: true})
	c := h.browser()
	for range 2 { // the customer tries again: one code per attempt, still no loop
		resp := h.get(c, "/auth/istores/login?return_to=/private")
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	}
	assert.Equal(t, 2, h.stand.TokenCalls(ssotest.ProviderIstores, ""))
	assertLoggedOut(t, h, c)
	assert.Equal(t, 2, countLines(h.logs.String(), "access token already expired"))
}

// TestUnverifiedIDTokenDropped: a provider that does not verify ID tokens
// cannot name the customer with one — not even an unsigned token saying
// sub=admin.
func TestUnverifiedIDTokenDropped(t *testing.T) {
	hp := new(*harness)
	var mu sync.Mutex
	var infos []sso.LoginInfo
	h := newHarness(t, withMulticart(func(p *multicart.Provider) sso.Provider {
		return unverifyingProvider{inner: p, h: hp, edit: func(h *harness, tok *oauth2.Token) *oauth2.Token {
			forged := h.stand.IssueIDToken(map[string]any{"sub": "admin"})
			return reissue(tok, tok.AccessToken, tok.TokenType, 3600, unsignedCopy(forged))
		}}
	}), withConfig(func(c *sso.Config) {
		c.OnLogin = func(_ context.Context, info sso.LoginInfo) error {
			mu.Lock()
			infos = append(infos, info)
			mu.Unlock()
			return nil
		}
	}))
	*hp = h
	c := h.login(multicart.Name)
	resp := h.getJSON(c, "/private")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	v := h.view(resp)
	assert.Empty(t, v.IDSub, "IDClaimsFromContext has nothing")
	assert.Equal(t, "customer-1", v.Subject)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, infos, 1)
	assert.Nil(t, infos[0].IDClaims)
	assert.Equal(t, "customer-1", infos[0].Subject)

	// Istores itself verifies no ID tokens either.
	_, ok := sso.Provider(h.ist).(sso.IDTokenVerifier)
	assert.False(t, ok)
	assert.Equal(t, istores.Name, h.ist.Name())
}

// unsignedCopy returns jwt's claims under an alg=none header, unsigned.
func unsignedCopy(jwt string) string {
	parts := strings.Split(jwt, ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return header + "." + parts[1] + "."
}

// countLines returns how many lines of logs contain s.
func countLines(logs, s string) int {
	n := 0
	for line := range strings.Lines(logs) {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// slowFailingProvider's refresh takes so long that the access token expires
// meanwhile, and then fails as an unavailable provider would.
type slowFailingProvider struct {
	*multicart.Provider
	h    **harness
	done chan struct{}
}

func (p slowFailingProvider) Refresh(context.Context, string) (*oauth2.Token, error) {
	defer func() { p.done <- struct{}{} }()
	(*p.h).clock.Advance(2 * time.Minute)
	return nil, &oauth2.RetrieveError{Response: &http.Response{StatusCode: http.StatusServiceUnavailable}}
}

// TestExpiredTokenNotServedAfterFailedRefresh: a refresh that fails after
// the token expired while it ran leaves nothing to serve: the next request
// is refused, not handed the expired token.
func TestExpiredTokenNotServedAfterFailedRefresh(t *testing.T) {
	hp := new(*harness)
	done := make(chan struct{}, 1)
	h := newHarness(t, withMulticart(func(p *multicart.Provider) sso.Provider {
		return slowFailingProvider{Provider: p, h: hp, done: done}
	}))
	*hp = h
	c := h.login(multicart.Name)
	h.clock.Advance(59*time.Minute + 30*time.Second) // inside the refresh margin, still valid
	require.Equal(t, http.StatusOK, h.getJSON(c, "/private").StatusCode, "a valid token is served at once")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh was attempted")
	}
	resp := h.getJSON(c, "/private")
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode, "the token expired during the failed refresh")
}
