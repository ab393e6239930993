package multicart_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/verify"
)

func TestAuthCodeURLGolden(t *testing.T) {
	p, err := multicart.New(multicart.Config{
		ClientID:    "appId",
		RedirectURL: "https://appdomain.com/login?multicart",
	})
	require.NoError(t, err)
	got := p.AuthCodeURL(sso.AuthParams{State: "st", CodeChallenge: "ch", Nonce: "nn"})
	want := "https://identity.multicartshop.com/?application=appId" +
		"&code_challenge=ch&code_challenge_method=S256&nonce=nn" +
		"&return=https%3A%2F%2Fappdomain.com%2Flogin%3Fmulticart" +
		"&scope=email%20profile%20openid%20roles%20offline_access%20multicart.api&state=st"
	assert.Equal(t, want, got)
	u, _ := url.Parse(got)
	assert.False(t, u.Query().Has("client_id"), "Multicart names the client ID application")
	assert.False(t, u.Query().Has("redirect_uri"), "Multicart names the redirect URL return")
}

// tokenServer records the form of every token call and answers with body.
type tokenServer struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
	heads []http.Header
	calls atomic.Int32
}

func newTokenServer(t *testing.T, body func(n int32) string) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		f, _ := url.ParseQuery(string(b))
		ts.mu.Lock()
		ts.forms = append(ts.forms, f)
		ts.heads = append(ts.heads, r.Header.Clone())
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body(n))
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) form(i int) url.Values {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.forms[i]
}

func TestExchangeGoldenSendsNoSecret(t *testing.T) {
	ts := newTokenServer(t, func(int32) string {
		return `{"access_token":"a.b.c","token_type":"Bearer","expires_in":86400,"scope":"multicart.api email","id_token":"i.d.t","refresh_token":"rt1"}`
	})
	p, err := multicart.New(multicart.Config{
		ClientID: "appId", ClientSecret: "only-for-client-credentials",
		RedirectURL: "https://appdomain.com/login", TokenURL: ts.URL + "/api/connect/token",
	})
	require.NoError(t, err)
	tok, err := p.Exchange(context.Background(), "auth-code", "verifier-1")
	require.NoError(t, err)
	assert.Equal(t, "rt1", tok.RefreshToken)
	assert.Equal(t, "i.d.t", tok.Extra("id_token"))
	assert.Equal(t, url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {"appId"},
		"code":          {"auth-code"},
		"redirect_uri":  {"https://appdomain.com/login"},
		"code_verifier": {"verifier-1"},
	}, ts.form(0))
	assert.Empty(t, ts.heads[0].Get("Authorization"), "a public client sends no credentials")
}

func TestRefreshGolden(t *testing.T) {
	ts := newTokenServer(t, func(int32) string {
		return `{"access_token":"a2","token_type":"Bearer","expires_in":60,"refresh_token":"rt2"}`
	})
	p, err := multicart.New(multicart.Config{ClientID: "appId", ClientSecret: "sec", RedirectURL: "https://a.example/cb", TokenURL: ts.URL})
	require.NoError(t, err)
	var _ sso.Refresher = p
	tok, err := p.Refresh(context.Background(), "rt1")
	require.NoError(t, err)
	assert.Equal(t, "rt2", tok.RefreshToken)
	assert.Equal(t, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {"rt1"},
		"client_id":     {"appId"},
	}, ts.form(0))
}

func TestServiceTokenSourceGoldenCachedAndRenewed(t *testing.T) {
	ts := newTokenServer(t, func(n int32) string {
		return fmt.Sprintf(`{"access_token":"svc%d","token_type":"Bearer","expires_in":3600,"scope":"multicart.api"}`, n)
	})
	var now atomic.Int64
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now.Store(start.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	p, err := multicart.New(multicart.Config{ClientID: "appId", ClientSecret: "sec", RedirectURL: "https://a.example/cb", TokenURL: ts.URL, Now: clock})
	require.NoError(t, err)
	src, err := p.ServiceTokenSource(multicart.ScopeAPI, multicart.ScopeRoles)
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			tok, err := src.Token()
			assert.NoError(t, err)
			assert.Equal(t, "svc1", tok.AccessToken)
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, ts.calls.Load(), "one token call for every concurrent caller")
	assert.Equal(t, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"appId"},
		"client_secret": {"sec"},
		"scope":         {"multicart.api roles"},
	}, ts.form(0))

	now.Store(start.Add(58 * time.Minute).UnixNano()) // more than a minute left
	tok, err := src.Token()
	require.NoError(t, err)
	assert.Equal(t, "svc1", tok.AccessToken)
	now.Store(start.Add(59*time.Minute + time.Second).UnixNano()) // within the margin
	tok, err = src.Token()
	require.NoError(t, err)
	assert.Equal(t, "svc2", tok.AccessToken)
	assert.EqualValues(t, 2, ts.calls.Load())

	client := multicart.ServiceClient(src)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	resp, err := client.Get(api.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "Bearer svc2", string(b))
}

func TestServiceTokenSourceNeedsSecret(t *testing.T) {
	p, err := multicart.New(multicart.Config{ClientID: "appId", RedirectURL: "https://a.example/cb"})
	require.NoError(t, err)
	_, err = p.ServiceTokenSource()
	assert.Error(t, err)
}

// keys is a signing key and a JWKS server publishing it.
type keys struct {
	priv *rsa.PrivateKey
	url  string
}

func newKeys(t *testing.T) *keys {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(priv.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(priv.E)).Bytes()),
		}}})
	}))
	t.Cleanup(srv.Close)
	return &keys{priv: priv, url: srv.URL}
}

func (k *keys) sign(t *testing.T, claims jwt.MapClaims, method jwt.SigningMethod, key any) string {
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestVerifyIDToken(t *testing.T) {
	k := newKeys(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const iss, aud, nonce = "https://id.example", "appId", "n-123"
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": iss, "aud": aud, "sub": "cust-9", "nonce": nonce,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := base(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := base(); delete(c, k); return c }

	tests := []struct {
		name    string
		jwks    bool
		token   func() string
		nonce   string
		wantErr string // the check named, "" = accepted
	}{
		{"valid, signature checked", true, func() string { return k.sign(t, base(), jwt.SigningMethodRS256, k.priv) }, nonce, ""},
		{"valid, from the token endpoint", false, func() string { return k.sign(t, base(), jwt.SigningMethodRS256, k.priv) }, nonce, ""},
		{"audience in a list, azp this client", true, func() string {
			c := with("aud", []string{"x", aud})
			c["azp"] = aud
			return k.sign(t, c, jwt.SigningMethodRS256, k.priv)
		}, nonce, ""},
		{"several audiences, no azp", true, func() string { return k.sign(t, with("aud", []string{"x", aud}), jwt.SigningMethodRS256, k.priv) }, nonce, "azp"},
		{"refresh: no nonce to check", true, func() string { return k.sign(t, without("nonce"), jwt.SigningMethodRS256, k.priv) }, "", ""},
		{"wrong issuer", true, func() string { return k.sign(t, with("iss", "https://evil.example"), jwt.SigningMethodRS256, k.priv) }, nonce, "iss"},
		{"wrong audience", true, func() string { return k.sign(t, with("aud", "other-app"), jwt.SigningMethodRS256, k.priv) }, nonce, "aud"},
		{"wrong nonce", true, func() string { return k.sign(t, base(), jwt.SigningMethodRS256, k.priv) }, "n-other", "nonce"},
		{"missing nonce", true, func() string { return k.sign(t, without("nonce"), jwt.SigningMethodRS256, k.priv) }, nonce, "nonce"},
		{"expired", true, func() string {
			return k.sign(t, with("exp", now.Add(-2*time.Minute).Unix()), jwt.SigningMethodRS256, k.priv)
		}, nonce, "exp"},
		{"no exp", true, func() string { return k.sign(t, without("exp"), jwt.SigningMethodRS256, k.priv) }, nonce, "exp"},
		{"issued in the future", true, func() string {
			return k.sign(t, with("iat", now.Add(time.Hour).Unix()), jwt.SigningMethodRS256, k.priv)
		}, nonce, "iat"},
		{"signed by another key", true, func() string { return k.sign(t, base(), jwt.SigningMethodRS256, other) }, nonce, "signature"},
		{"alg none", false, func() string { return k.sign(t, base(), jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType) }, nonce, "alg"},
		{"alg HS256", false, func() string { return k.sign(t, base(), jwt.SigningMethodHS256, []byte("key")) }, nonce, "alg"},
		{"not a JWT", false, func() string { return "garbage" }, nonce, "malformed"},
		{"missing", false, func() string { return "" }, nonce, "id_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := multicart.Config{ClientID: aud, RedirectURL: "https://a.example/cb", Issuer: iss,
				SkipDiscovery: true, Now: func() time.Time { return now }}
			if tt.jwks {
				cfg.JWKSURL = k.url
			}
			p, err := multicart.New(cfg)
			require.NoError(t, err)
			claims, err := p.VerifyIDToken(context.Background(), tt.token(), tt.nonce)
			if tt.wantErr == "id_token" {
				assert.ErrorContains(t, err, "no id_token")
				return
			}
			if tt.wantErr != "" {
				var ce *verify.CheckError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.wantErr, ce.Check)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "cust-9", claims.Subject())
			assert.Equal(t, iss, claims.Issuer())
		})
	}
}
