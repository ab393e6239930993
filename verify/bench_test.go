package verify_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shopsso/sso/verify"
)

// BenchmarkAccessToken measures one verified access token per key type
// (keys cached), next to a plain golang-jwt parse with the same key and
// the registered-claim checks golang-jwt offers, as the baseline.
func BenchmarkAccessToken(b *testing.B) {
	testKeys(b)
	c := newClock()
	for _, s := range []signer{
		{kid: "r", alg: "RS256", priv: rsaKey},
		{kid: "e", alg: "ES256", priv: p256Key},
		{kid: "d", alg: "EdDSA", priv: edKey},
	} {
		ks := newKeyServer(b, s.jwk(b))
		set, err := verify.NewKeySet(verify.KeySetConfig{URL: ks.URL, Now: c.Now})
		if err != nil {
			b.Fatal(err)
		}
		v, err := verify.New(verify.Config{Issuer: testIssuer, Audience: "api", Keys: set, Now: c.Now})
		if err != nil {
			b.Fatal(err)
		}
		raw := s.sign(b, idClaims(c, map[string]any{"aud": "api", "nonce": nil}), map[string]any{"typ": "at+jwt"})
		if _, err := v.AccessToken(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
		b.Run("verify/"+s.alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.AccessToken(context.Background(), raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		pub := s.priv.Public()
		p := jwt.NewParser(jwt.WithValidMethods([]string{s.alg}), jwt.WithIssuer(testIssuer), jwt.WithAudience("api"),
			jwt.WithExpirationRequired(), jwt.WithTimeFunc(c.Now))
		b.Run("golang-jwt/"+s.alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(raw, func(*jwt.Token) (any, error) { return pub, nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
