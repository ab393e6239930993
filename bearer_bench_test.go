package sso

// Benchmarks of bearer mode, next to the session path
// (BenchmarkRequireLoggedInFastCodec) and a plain golang-jwt verification of
// the same token, in one run:
//
//	go test -run '^$' -bench 'RequireLoggedInFastCodec$|Bearer' -benchmem -count 5 .
//
// The token is the benchmark login's Multicart access token (RS256, about
// 1 KB), sent as "Authorization: Bearer"; the handler reads the token and
// its claims from the context, as the session benchmarks' handler does.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

// newBearerBench returns bearer mode for the fixture's stand-in, with the
// given cache lifetime, and a client sending the fixture's access token.
func newBearerBench(tb testing.TB, fx *benchFixture, ttl time.Duration) (*Bearer, *benchClient) {
	tb.Helper()
	ep := fx.stand.Multicart()
	keys, err := verify.NewKeySet(verify.KeySetConfig{URL: ep.JWKSURL})
	if err != nil {
		tb.Fatal(err)
	}
	v, err := verify.New(verify.Config{
		Issuer: ep.Issuer, Audience: ssotest.MulticartAudience, Keys: keys,
	})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := NewBearer(BearerConfig{Provider: ssotest.ProviderMulticart, Verifier: v, CacheTTL: ttl, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+fx.login.AccessToken)
	return b, &benchClient{base: *r, w: benchWriter{h: http.Header{}}}
}

// benchAPIHandler reads what a protected API handler reads.
var benchAPIHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	tok, ok := TokenFromContext(r.Context())
	c, cok := ClaimsFromContext(r.Context())
	if !ok || !cok || c.Subject() == "" {
		http.Error(w, "no token in the context", http.StatusInternalServerError)
		return
	}
	benchSink += len(tok.AccessToken) + len(tok.Scopes) + len(c.Subject())
	_, _ = w.Write(benchBody)
})

func benchBearer(b *testing.B, ttl time.Duration) {
	bearer, c := newBearerBench(b, newBenchFixture(b), ttl)
	h := bearer.Require(benchAPIHandler)
	if !c.get(h) {
		b.Fatal("the request was not answered 200")
	}
	benchLoop(b, func() {
		if !c.get(h) {
			b.Fatal("the request was not answered 200")
		}
	})
}

// BenchmarkBearer is a verified bearer request as an API client repeats
// it: the token was verified on its first request and is trusted from the
// cache (the default, [DefaultBearerCacheTTL]).
func BenchmarkBearer(b *testing.B) { benchBearer(b, 0) }

// BenchmarkBearerUncached verifies the token on every request: header,
// claims, issuer, audience, times and the RS256 signature.
func BenchmarkBearerUncached(b *testing.B) { benchBearer(b, -1) }

// benchJWTKey is the context key of the plain golang-jwt middleware.
type benchJWTKey struct{}

// BenchmarkBearerPlainJWT is the same request through the smallest
// golang-jwt middleware doing the same checks (RS256 only, iss, aud, exp
// with a leeway) against the same public key, with no key set to consult.
func BenchmarkBearerPlainJWT(b *testing.B) {
	fx := newBenchFixture(b)
	ep := fx.stand.Multicart()
	key := fx.stand.PublicKey()
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(ep.Issuer),
		jwt.WithAudience(ssotest.MulticartAudience), jwt.WithExpirationRequired(), jwt.WithLeeway(time.Minute))
	keyfunc := func(*jwt.Token) (any, error) { return key, nil }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		mc := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(raw, mc, keyfunc); !ok || err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), benchJWTKey{}, mc)
		c := ctx.Value(benchJWTKey{}).(jwt.MapClaims)
		sub, _ := c.GetSubject()
		if sub == "" {
			http.Error(w, "no subject", http.StatusInternalServerError)
			return
		}
		benchSink += len(raw) + len(sub)
		_, _ = w.Write(benchBody)
	})
	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+fx.login.AccessToken)
	c := &benchClient{base: *r, w: benchWriter{h: http.Header{}}}
	if !c.get(h) {
		b.Fatal("the request was not answered 200")
	}
	benchLoop(b, func() {
		if !c.get(h) {
			b.Fatal("the request was not answered 200")
		}
	})
}
