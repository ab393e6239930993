package sso_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

// bearerFixture is a Bearer for the stand-in's Multicart access tokens in
// front of a handler that reports what the context holds.
type bearerFixture struct {
	stand  *ssotest.Server
	clock  *clock
	bearer *sso.Bearer
	logs   *syncBuffer
}

func newBearerFixture(t *testing.T, jwksURL string) *bearerFixture {
	t.Helper()
	f := &bearerFixture{clock: newClock(), logs: &syncBuffer{}}
	f.stand = ssotest.NewServer(ssotest.Options{Now: f.clock.Now})
	t.Cleanup(f.stand.Close)
	ep := f.stand.Multicart()
	if jwksURL == "" {
		jwksURL = ep.JWKSURL
	}
	keys, err := verify.NewKeySet(verify.KeySetConfig{URL: jwksURL, Now: f.clock.Now})
	require.NoError(t, err)
	v, err := verify.New(verify.Config{
		Issuer:   ep.Issuer,
		Audience: ssotest.MulticartAudience,
		Keys:     keys,
		Now:      f.clock.Now,
	})
	require.NoError(t, err)
	f.bearer, err = sso.NewBearer(sso.BearerConfig{
		Provider: "multicart",
		Verifier: v,
		Realm:    "shop-api",
		Logger:   slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      f.clock.Now,
	})
	require.NoError(t, err)
	return f
}

// contextView is what a handler behind bearer mode finds in its context.
type contextView struct {
	Provider  string   `json:"provider"`
	Subject   string   `json:"subject"`
	Scopes    []string `json:"scopes"`
	TokenType string   `json:"token_type"`
	SameToken bool     `json:"same_token"`
	HasID     bool     `json:"has_id"`
}

func reportContext(w http.ResponseWriter, r *http.Request) {
	var v contextView
	tok, ok := sso.TokenFromContext(r.Context())
	if !ok {
		http.Error(w, "no token", http.StatusInternalServerError)
		return
	}
	v.Provider, v.Scopes, v.TokenType = tok.Provider, tok.Scopes, tok.TokenType
	v.SameToken = "Bearer "+tok.AccessToken == r.Header.Get("Authorization")
	if c, ok := sso.ClaimsFromContext(r.Context()); ok {
		v.Subject = c.Subject()
	}
	if p, _ := sso.ProviderFromContext(r.Context()); p != tok.Provider {
		http.Error(w, "ProviderFromContext disagrees", http.StatusInternalServerError)
		return
	}
	_, v.HasID = sso.IDClaimsFromContext(r.Context())
	_ = json.NewEncoder(w).Encode(v)
	if len(tok.Scopes) > 0 {
		tok.Scopes[0] = "changed" // must not reach the next request
	}

}

func (f *bearerFixture) serve(h http.Handler, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	for _, v := range header {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestBearerPutsTokenAndClaimsIntoContext(t *testing.T) {
	f := newBearerFixture(t, "")
	tok := f.stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"scope": "openid multicart.api"})
	h := f.bearer.Require(http.HandlerFunc(reportContext))
	for i := range 2 { // the second request is served from the cache
		rec := f.serve(h, "Bearer "+tok)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var v contextView
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
		assert.Equal(t, contextView{Provider: "multicart", Subject: "customer-1", Scopes: []string{"openid", "multicart.api"},
			TokenType: "Bearer", SameToken: true}, v, "request %d", i)
	}
	assert.Empty(t, f.logs.String(), "nothing refused, nothing logged")
}

func TestBearerRefusals(t *testing.T) {
	f := newBearerFixture(t, "")
	ep := f.stand.Multicart()
	now := f.clock.Now()
	issue := func(claims map[string]any) string { return f.stand.IssueAccessToken(ssotest.ProviderMulticart, claims) }
	valid := issue(nil)
	parts := strings.Split(valid, ".")
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iss": ep.Issuer, "aud": ssotest.MulticartAudience, "sub": "x", "exp": now.Add(time.Hour).Unix(),
	})
	none.Header["typ"] = "at+jwt" // so that alg is the check that refuses it
	unsigned, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)

	tests := []struct {
		name       string
		header     []string
		wantStatus int
		wantAuth   string // the whole WWW-Authenticate header
		wantBody   string
		wantLog    string
	}{
		{"no token", nil, 401, `Bearer realm="shop-api"`, "login_required", "no bearer token"},
		{"another scheme", []string{"Basic YTpi"}, 401, `Bearer realm="shop-api"`, "login_required", "no bearer token"},
		{"expired", []string{"Bearer " + issue(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the exp check"`, "invalid_token", "exp check"},
		{"not yet valid", []string{"Bearer " + issue(map[string]any{"nbf": now.Add(10 * time.Minute).Unix()})}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the nbf check"`, "invalid_token", "nbf check"},
		{"wrong audience", []string{"Bearer " + issue(map[string]any{"aud": "another.api"})}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the aud check"`, "invalid_token", `aud check: expected \"multicart.api\", got \"another.api\"`},
		{"wrong issuer", []string{"Bearer " + issue(map[string]any{"iss": "https://evil.example"})}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the iss check"`, "invalid_token", `got \"https://evil.example\"`},
		{"forged payload", []string{"Bearer " + parts[0] + "." + strings.Split(issue(map[string]any{"sub": "admin"}), ".")[1] + "." + parts[2]}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the signature check"`, "invalid_token", "signature check"},
		{"alg none", []string{"Bearer " + unsigned}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the alg check"`, "invalid_token", "alg check"},
		{"an ID token for the API's audience", []string{"Bearer " + f.stand.IssueIDToken(map[string]any{"aud": ssotest.MulticartAudience})}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the typ check"`, "invalid_token", "typ check"},
		{"not a JWT", []string{"Bearer abc"}, 401,
			`Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the malformed check"`, "invalid_token", "malformed"},
		{"not b64token", []string{"Bearer a b"}, 400,
			`Bearer realm="shop-api", error="invalid_request", error_description="malformed Authorization header"`, "invalid_request", "b64token"},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, 400,
			`Bearer realm="shop-api", error="invalid_request", error_description="malformed Authorization header"`, "invalid_request", "several Authorization headers"},
	}
	h := f.bearer.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a refused request reached the handler")
	}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.logs.String()
			rec := f.serve(h, tt.header...)
			assert.Equal(t, tt.wantStatus, rec.Code)
			assert.Equal(t, tt.wantAuth, rec.Header().Get("WWW-Authenticate"))
			assert.JSONEq(t, `{"error":"`+tt.wantBody+`"}`, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			logged := strings.TrimPrefix(f.logs.String(), before)
			assert.Equal(t, 1, strings.Count(logged, "sso: bearer token refused"), logged)
			assert.Contains(t, logged, tt.wantLog)
			for _, hv := range tt.header {
				if tok, ok := strings.CutPrefix(hv, "Bearer "); ok && len(tok) > 20 {
					assert.NotContains(t, logged, tok, "the token is never logged")
					assert.NotContains(t, rec.Header().Get("WWW-Authenticate"), tok)
					if sig := strings.Split(tok, ".")[2]; sig != "" {
						assert.NotContains(t, logged, sig, "nor its signature")
					}
				}
			}
		})
	}
}

func TestBearerKeysUnavailable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	f := newBearerFixture(t, dead.URL+"/jwks.json")
	rec := f.serve(f.bearer.Require(http.NotFoundHandler()), "Bearer "+f.stand.IssueAccessToken(ssotest.ProviderMulticart, nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Equal(t, "5", rec.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error":"provider_unavailable"}`, rec.Body.String())
	assert.Equal(t, 1, strings.Count(f.logs.String(), "level=ERROR msg=\"sso: bearer token refused\""), f.logs.String())
}

func TestBearerCacheHonoursExpiry(t *testing.T) {
	f := newBearerFixture(t, "")
	tok := f.stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"exp": f.clock.Now().Add(30 * time.Second).Unix()})
	h := f.bearer.Require(http.HandlerFunc(reportContext))
	require.Equal(t, http.StatusOK, f.serve(h, "Bearer "+tok).Code)
	f.clock.Advance(31 * time.Second) // past exp, within the verifier's leeway
	require.Equal(t, http.StatusOK, f.serve(h, "Bearer "+tok).Code, "the leeway still applies, checked again")
	f.clock.Advance(2 * time.Minute)
	rec := f.serve(h, "Bearer "+tok)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "never trusted from the cache past exp")
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "exp check")
}

func TestBearerScopes(t *testing.T) {
	f := newBearerFixture(t, "")
	tok := f.stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"scope": "openid multicart.api"})
	tests := []struct {
		name       string
		h          http.Handler
		wantStatus int
		wantAuth   string
	}{
		{"granted", f.bearer.RequireScopes("multicart.api")(http.HandlerFunc(reportContext)), 200, ""},
		{"CheckScopes after Require", f.bearer.Require(sso.CheckScopes("openid", "multicart.api")(http.HandlerFunc(reportContext))), 200, ""},
		{"missing", f.bearer.RequireScopes("multicart.api", "orders:write")(http.HandlerFunc(reportContext)), 403,
			`Bearer realm="shop-api", error="insufficient_scope", scope="multicart.api orders:write"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.logs.String()
			rec := f.serve(tt.h, "Bearer "+tok)
			assert.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			assert.Equal(t, tt.wantAuth, rec.Header().Get("WWW-Authenticate"))
			logged := strings.TrimPrefix(f.logs.String(), before)
			if tt.wantStatus == http.StatusForbidden {
				assert.JSONEq(t, `{"error":"insufficient_scope"}`, rec.Body.String())
				assert.Equal(t, 1, strings.Count(logged, "sso: bearer token refused"), logged)
				assert.Contains(t, logged, "needs multicart.api orders:write")
			} else {
				assert.Empty(t, logged)
			}
		})
	}
}

func TestCheckScopesAfterSessionRequire(t *testing.T) {
	h := newHarness(t)
	c := h.login("istores")
	mux := http.NewServeMux()
	mux.Handle("/products", h.auth.Require(sso.CheckScopes("products:read")(http.HandlerFunc(h.private))))
	mux.Handle("/charge", h.auth.Require(sso.CheckScopes("charge:card")(http.HandlerFunc(h.private))))
	srv := httptest.NewServer(h.sm.LoadAndSave(mux))
	t.Cleanup(srv.Close)
	resp := h.getJSON(c, srv.URL+"/products")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp = h.getJSON(c, srv.URL+"/charge")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "a session answer, not a bearer challenge")
	assert.Equal(t, 1, strings.Count(h.logs.String(), "insufficient scope"), h.logs.String())
}

func TestCheckScopesOutsideRequireFailsClosed(t *testing.T) {
	rec := httptest.NewRecorder()
	sso.CheckScopes("x")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("reached the handler")
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
}

func TestNewBearerRefuses(t *testing.T) {
	keys, err := verify.NewKeySet(verify.KeySetConfig{URL: "https://id.example/jwks"})
	require.NoError(t, err)
	v, err := verify.New(verify.Config{Issuer: "https://id.example", Audience: "api", Keys: keys})
	require.NoError(t, err)
	tests := []struct {
		name string
		cfg  sso.BearerConfig
	}{
		{"no provider", sso.BearerConfig{Verifier: v}},
		{"no verifier", sso.BearerConfig{Provider: "p"}},
		{"a quote in the realm", sso.BearerConfig{Provider: "p", Verifier: v, Realm: `a"b`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sso.NewBearer(tt.cfg)
			assert.Error(t, err)
		})
	}
}
