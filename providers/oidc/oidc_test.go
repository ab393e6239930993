package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/providers/oidc"
	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

type clock = testkit.Clock

func newProvider(t *testing.T, s *ssotest.Server, change func(*oidc.Config)) (*oidc.Provider, error) {
	t.Helper()
	ep := s.OIDC()
	cfg := oidc.Config{
		Name:         "acme",
		IssuerURL:    ep.Issuer,
		ClientID:     ep.Client.ID,
		ClientSecret: ep.Client.Secret,
		RedirectURL:  "https://shop.example/auth/acme/callback",
	}
	if change != nil {
		change(&cfg)
	}
	return oidc.New(context.Background(), cfg)
}

func TestAuthCodeURLGolden(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	p, err := newProvider(t, s, func(c *oidc.Config) {
		c.Scopes = []string{"email", oidc.ScopeOfflineAccess}
		c.AuthParams = url.Values{"prompt": {"consent"}}
	})
	require.NoError(t, err)
	got := p.AuthCodeURL(sso.AuthParams{State: "st", CodeChallenge: "ch", Nonce: "nn",
		Extra: url.Values{"login_hint": {"ann@example.com"}, "client_id": {"evil"}}})
	want := s.OIDC().AuthURL + "?client_id=oidc-client&code_challenge=ch&code_challenge_method=S256" +
		"&login_hint=ann%40example.com&nonce=nn&prompt=consent" +
		"&redirect_uri=https%3A%2F%2Fshop.example%2Fauth%2Facme%2Fcallback&response_type=code" +
		"&scope=openid%20email%20offline_access&state=st"
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"openid", "email", "offline_access"}, p.RequestedScopes(), "openid added")
	assert.Equal(t, s.OIDC().TokenURL, p.Metadata().TokenEndpoint)
	assert.Equal(t, s.OIDC().Issuer+"/logout", p.Metadata().EndSessionEndpoint)
}

func TestNewRefuses(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": "http://" + r.Host, "authorization_endpoint": "http://" + r.Host + "/a", "jwks_uri": "http://" + r.Host + "/k",
		})
	}))
	t.Cleanup(other.Close)
	tests := []struct {
		name    string
		change  func(*oidc.Config)
		wantErr string
	}{
		{"no name", func(c *oidc.Config) { c.Name = "" }, "Name is required"},
		{"no client", func(c *oidc.Config) { c.ClientID = "" }, "ClientID is required"},
		{"relative redirect", func(c *oidc.Config) { c.RedirectURL = "/cb" }, "RedirectURL"},
		{"plain http elsewhere", func(c *oidc.Config) { c.IssuerURL = "http://id.example" }, "plain http"},
		{"issuer with a trailing slash", func(c *oidc.Config) { c.IssuerURL += "/" }, "iss check"},
		{"no discovery served", func(c *oidc.Config) { c.IssuerURL = s.URL() + "/istores" }, "discovery document"},
		{"no token endpoint", func(c *oidc.Config) { c.IssuerURL = other.URL }, "token_endpoint"},
		{"reserved authorize parameter", func(c *oidc.Config) { c.AuthParams = url.Values{"Redirect_URI": {"x"}} }, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newProvider(t, s, tt.change)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestExchangeClientAuthentication(t *testing.T) {
	tests := []struct {
		name       string
		client     ssotest.Client
		style      oauth2.AuthStyle
		wantBasic  bool
		wantSecret bool
	}{
		{"confidential, client_secret_basic by default", ssotest.DefaultOIDCClient(), 0, true, false},
		{"confidential, client_secret_post", ssotest.DefaultOIDCClient(), oauth2.AuthStyleInParams, false, true},
		{"public", ssotest.Client{ID: "spa"}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ssotest.NewServer(ssotest.Options{AutoApprove: true, OIDC: tt.client})
			t.Cleanup(s.Close)
			p, err := newProvider(t, s, func(c *oidc.Config) { c.AuthStyle = tt.style })
			require.NoError(t, err)
			verifier := oauth2.GenerateVerifier()
			u := p.AuthCodeURL(sso.AuthParams{State: "st", Nonce: "nn", CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier)})
			code := approve(t, u)
			tok, err := p.Exchange(context.Background(), code, verifier)
			require.NoError(t, err)
			_, err = p.VerifyIDToken(context.Background(), tok.Extra("id_token").(string), "nn")
			require.NoError(t, err)

			reqs := s.TokenRequests()
			require.Len(t, reqs, 1)
			form := reqs[0].Form
			_, _, basic := (&http.Request{Header: reqs[0].Header}).BasicAuth()
			assert.Equal(t, tt.wantBasic, basic)
			assert.Equal(t, tt.wantSecret, form.Has("client_secret"))
			assert.Equal(t, !tt.wantBasic, form.Get("client_id") == tt.client.ID, "client_id in the form unless Basic")
			assert.Equal(t, verifier, form.Get("code_verifier"))
			assert.Equal(t, "https://shop.example/auth/acme/callback", form.Get("redirect_uri"))
		})
	}
}

// approve follows an authorize URL on an auto-approving stand-in and
// returns the code.
func approve(t *testing.T, authURL string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.NotEmpty(t, loc.Query().Get("code"), loc.String())
	return loc.Query().Get("code")
}

func TestVerifyIDTokenRefusals(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	p, err := newProvider(t, s, nil)
	require.NoError(t, err)
	ep := s.OIDC()
	// IssueIDToken mints Multicart-style tokens; point them at this provider.
	base := map[string]any{"iss": ep.Issuer, "aud": ep.Client.ID, "nonce": "nn"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for bk, bv := range base {
			m[bk] = bv
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name      string
		claims    map[string]any
		nonce     string
		wantCheck string
	}{
		{"valid", base, "nn", ""},
		{"valid refresh (no nonce)", with("nonce", nil), "", ""},
		{"another issuer", with("iss", s.Multicart().Issuer), "nn", verify.CheckIss},
		{"issuer with a trailing slash", with("iss", ep.Issuer+"/"), "nn", verify.CheckIss},
		{"another audience", with("aud", "someone-else"), "nn", verify.CheckAud},
		{"wrong nonce", base, "other", verify.CheckNonce},
		{"expired", with("exp", time.Now().Add(-time.Hour).Unix()), "nn", verify.CheckExp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := p.VerifyIDToken(context.Background(), s.IssueIDToken(tt.claims), tt.nonce)
			if tt.wantCheck == "" {
				require.NoError(t, err)
				assert.Equal(t, "customer-1", c.Subject())
				return
			}
			var ce *verify.CheckError
			require.True(t, errors.As(err, &ce), "%v", err)
			assert.Equal(t, tt.wantCheck, ce.Check)
		})
	}
	_, err = p.VerifyIDToken(context.Background(), "", "nn")
	assert.Error(t, err, "an OpenID login needs an ID token")
}

func TestAccessTokenVerifierForBearerMode(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	p, err := newProvider(t, s, nil)
	require.NoError(t, err)
	v, err := p.AccessTokenVerifier(ssotest.OIDCAudience)
	require.NoError(t, err)
	tok, err := v.AccessToken(context.Background(), s.IssueAccessToken(ssotest.ProviderOIDC, nil))
	require.NoError(t, err)
	assert.Equal(t, s.OIDC().Issuer, tok.Issuer)
	_, err = v.AccessToken(context.Background(), s.IssueAccessToken(ssotest.ProviderMulticart, nil))
	assert.Error(t, err, "another provider's token")
}

// TestLoginRefreshThroughAuth logs a customer in through sso.Auth with the
// generic provider against the stand-in's OpenID Connect provider, then
// lets the access token near its expiry so that Require refreshes it.
func TestLoginRefreshThroughAuth(t *testing.T) {
	for _, public := range []bool{false, true} {
		name := map[bool]string{false: "confidential", true: "public"}[public]
		t.Run(name, func(t *testing.T) {
			clk := testkit.NewClock()
			opts := ssotest.Options{AutoApprove: true, Now: clk.Now, AccessTokenTTL: 10 * time.Minute}
			if public {
				opts.OIDC = ssotest.Client{ID: "spa"}
			}
			s := ssotest.NewServer(opts)
			t.Cleanup(s.Close)
			app := httptest.NewUnstartedServer(nil)
			base := "http://" + app.Listener.Addr().String()
			p, err := newProvider(t, s, func(c *oidc.Config) {
				c.RedirectURL = base + "/auth/acme/callback"
				c.Scopes = []string{oidc.ScopeEmail, oidc.ScopeOfflineAccess}
				c.Now = clk.Now
			})
			require.NoError(t, err)
			sm := scs.New()
			auth, err := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{p}, InsecureCookie: true,
				Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			mux := http.NewServeMux()
			mux.Handle("/auth/acme/login", auth.Login("acme"))
			mux.Handle("/auth/acme/callback", auth.Callback("acme"))
			mux.Handle("/me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tok, _ := sso.TokenFromContext(r.Context())
				id, _ := sso.IDClaimsFromContext(r.Context())
				c, _ := sso.ClaimsFromContext(r.Context())
				_ = json.NewEncoder(w).Encode(map[string]any{"provider": tok.Provider, "id_sub": id.Subject(),
					"aud": c.Audience(), "token_tail": tok.AccessToken[len(tok.AccessToken)-8:]})
			})))
			app.Config.Handler = sm.LoadAndSave(mux)
			app.Start()
			t.Cleanup(app.Close)

			jar, _ := cookiejar.New(nil)
			browser := &http.Client{Jar: jar}
			resp, err := browser.Get(app.URL + "/auth/acme/login?return_to=/me")
			require.NoError(t, err)
			first := readJSON(t, resp)
			assert.Equal(t, "acme", first["provider"])
			assert.Equal(t, "customer-1", first["id_sub"])
			assert.Equal(t, []any{ssotest.OIDCAudience}, first["aud"])
			assert.Equal(t, 1, s.TokenCalls(ssotest.ProviderOIDC, ssotest.GrantAuthorizationCode))

			clk.Advance(10*time.Minute + time.Second) // expired: Require refreshes before serving
			resp, err = browser.Get(app.URL + "/me")
			require.NoError(t, err)
			second := readJSON(t, resp)
			assert.Equal(t, 1, s.TokenCalls(ssotest.ProviderOIDC, ssotest.GrantRefreshToken), "refreshed once")
			assert.NotEqual(t, first["token_tail"], second["token_tail"], "a new access token")
			assert.Equal(t, "customer-1", second["id_sub"])

			reqs := s.TokenRequests()
			last := reqs[len(reqs)-1]
			assert.Equal(t, ssotest.GrantRefreshToken, last.Grant)
			if public {
				assert.Equal(t, "spa", last.Form.Get("client_id"))
				assert.Empty(t, last.Header.Get("Authorization"))
			} else {
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("oidc-client:oidc-secret"))
				assert.Equal(t, want, last.Header.Get("Authorization"))
			}
		})
	}
}

func TestLoginRefusesAnotherIssuersIDToken(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	t.Cleanup(s.Close)
	app := httptest.NewUnstartedServer(nil)
	base := "http://" + app.Listener.Addr().String()
	p, err := newProvider(t, s, func(c *oidc.Config) { c.RedirectURL = base + "/cb" })
	require.NoError(t, err)
	var logs strings.Builder
	var mu sync.Mutex
	sm := scs.New()
	var refused []error
	auth, err := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{p}, InsecureCookie: true,
		OnError: func(_ context.Context, err error) { mu.Lock(); refused = append(refused, err); mu.Unlock() },
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(b)
		}), nil))})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/login", auth.Login("acme"))
	mux.Handle("/cb", auth.Callback("acme"))
	app.Config.Handler = sm.LoadAndSave(mux)
	app.Start()
	t.Cleanup(app.Close)

	s.Inject(ssotest.Failure{Provider: ssotest.ProviderOIDC, IDTokenIssuer: s.Multicart().Issuer})
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(app.URL + "/login")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
	require.Len(t, refused, 1)
	assert.ErrorIs(t, refused[0], sso.ErrIDToken)
	var ce *verify.CheckError
	require.True(t, errors.As(refused[0], &ce), "%v", refused[0])
	assert.Equal(t, verify.CheckIss, ce.Check)
	assert.Equal(t, s.OIDC().Issuer, ce.Expected)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func readJSON(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

// TestLogoutAtTheProvider logs a customer in and out through sso.Auth with
// PostLogoutRedirectURL set: Logout sends the browser to the discovered
// end_session_endpoint, which returns it to LogoutCallback.
func TestLogoutAtTheProvider(t *testing.T) {
	for _, withRedirect := range []bool{true, false} {
		t.Run(map[bool]string{true: "at the provider", false: "local only"}[withRedirect], func(t *testing.T) {
			s := ssotest.NewServer(ssotest.Options{AutoApprove: true})
			t.Cleanup(s.Close)
			app := httptest.NewUnstartedServer(nil)
			base := "http://" + app.Listener.Addr().String()
			p, err := newProvider(t, s, func(c *oidc.Config) {
				c.RedirectURL = base + "/cb"
				if withRedirect {
					c.PostLogoutRedirectURL = base + "/logout/return"
				}
			})
			require.NoError(t, err)
			sm := scs.New()
			auth, err := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{p}, InsecureCookie: true,
				Logger: slog.New(slog.DiscardHandler), AfterLogoutPath: "/bye"})
			require.NoError(t, err)
			mux := http.NewServeMux()
			mux.Handle("/login", auth.Login("acme"))
			mux.Handle("/cb", auth.Callback("acme"))
			mux.Handle("POST /logout", auth.Logout())
			mux.Handle("/logout/return", auth.LogoutCallback())
			mux.Handle("/me", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
			app.Config.Handler = sm.LoadAndSave(mux)
			app.Start()
			t.Cleanup(app.Close)

			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			login := &http.Client{Jar: jar}
			resp, err := login.Get(app.URL + "/login?return_to=/me")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			req, _ := http.NewRequest(http.MethodPost, app.URL+"/logout", nil)
			req.Header.Set("Accept", "text/html")
			resp, err = c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			to, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			if !withRedirect {
				assert.Equal(t, "/bye", to.String())
				assert.Empty(t, s.EndSessionRequests())
				return
			}
			assert.Equal(t, s.OIDC().EndSessionURL, to.Scheme+"://"+to.Host+to.Path)
			assert.Equal(t, s.OIDC().Client.ID, to.Query().Get("client_id"))
			assert.NotEmpty(t, to.Query().Get("id_token_hint"))
			resp, err = c.Get(to.String())
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode, "the provider ends its session and returns")
			resp, err = c.Get(resp.Header.Get("Location"))
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			assert.Equal(t, "/bye", resp.Header.Get("Location"))
			assert.Len(t, s.EndSessionRequests(), 1)
		})
	}
}
