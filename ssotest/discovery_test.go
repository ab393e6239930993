package ssotest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/ssotest"
	jwtverify "github.com/shopsso/sso/verify"
)

// TestKeyTypesVerify: with each key type, the stand-in's tokens verify
// against its own JWK set and the JWK carries the key's alg.
func TestKeyTypesVerify(t *testing.T) {
	for _, kt := range []ssotest.KeyType{ssotest.KeyRSA, ssotest.KeyECP256, ssotest.KeyECP384, ssotest.KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			s := ssotest.NewServer(ssotest.Options{KeyType: kt})
			defer s.Close()
			ep := s.Multicart()
			keys, err := jwtverify.NewKeySet(jwtverify.KeySetConfig{URL: ep.JWKSURL})
			require.NoError(t, err)
			v, err := jwtverify.New(jwtverify.Config{Issuer: ep.Issuer, Audience: ep.Client.ID, Keys: keys})
			require.NoError(t, err)
			tok, err := v.IDToken(context.Background(), s.IssueIDToken(map[string]any{"nonce": "n"}), "n")
			require.NoError(t, err)
			_, alg := s.SigningKey()
			assert.Equal(t, alg, tok.Algorithm)
			assert.Equal(t, kt == ssotest.KeyRSA, s.PublicKey() != nil)

			at, err := jwtverify.New(jwtverify.Config{Issuer: ep.Issuer, Audience: ssotest.MulticartAudience, Keys: keys})
			require.NoError(t, err)
			_, err = at.AccessToken(context.Background(), s.IssueAccessToken(ssotest.ProviderMulticart, nil))
			assert.NoError(t, err, "access tokens carry typ at+jwt (RFC 9068)")
		})
	}
}

// TestDiscoveryDocument: Multicart serves discovery under its base URL
// naming its issuer (in the configured spelling), endpoints and keys;
// NoDiscovery makes it 404.
func TestDiscoveryDocument(t *testing.T) {
	tests := []struct {
		name, issuer string
		want         func(s *ssotest.Server) string
	}{
		{"default", "", func(s *ssotest.Server) string { return s.URL() + "/multicart" }},
		{"trailing slash", "/multicart/", func(s *ssotest.Server) string { return s.URL() + "/multicart/" }},
		{"root with slash", "/", func(s *ssotest.Server) string { return s.URL() + "/" }},
		{"a path", "/tenant/v2", func(s *ssotest.Server) string { return s.URL() + "/tenant/v2" }},
		{"absolute", "https://id.example", func(s *ssotest.Server) string { return "https://id.example" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ssotest.NewServer(ssotest.Options{MulticartIssuer: tt.issuer})
			defer s.Close()
			ep := s.Multicart()
			assert.Equal(t, tt.want(s), ep.Issuer)
			assert.Equal(t, s.URL()+"/multicart", ep.BaseURL)
			r := get(t, ep.BaseURL+jwtverify.WellKnownPath)
			require.Equal(t, http.StatusOK, r.Status)
			var md jwtverify.Metadata
			require.NoError(t, json.Unmarshal([]byte(r.Body), &md))
			assert.Equal(t, jwtverify.Metadata{
				Issuer: ep.Issuer, AuthorizationEndpoint: ep.AuthURL, TokenEndpoint: ep.TokenURL, JWKSURI: ep.JWKSURL, EndSessionEndpoint: ep.EndSessionURL,
				IDTokenSigningAlgValuesSupported: []string{"RS256"}, CodeChallengeMethodsSupported: []string{"S256"},
			}, md)
			_, claims := unverified(t, s.IssueIDToken(nil))
			assert.Equal(t, tt.want(s), claims["iss"])
			_, claims = unverified(t, s.IssueAccessToken(ssotest.ProviderMulticart, nil))
			assert.Equal(t, tt.want(s), claims["iss"])
		})
	}
	s := ssotest.NewServer(ssotest.Options{NoDiscovery: true})
	defer s.Close()
	assert.Equal(t, http.StatusNotFound, get(t, s.Multicart().BaseURL+jwtverify.WellKnownPath).Status)
}
