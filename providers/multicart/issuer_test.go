package multicart_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

// standInProvider is a Multicart provider for s configured as the example
// is: URLs and client only — no Issuer, no JWKS URL.
func standInProvider(t *testing.T, s *ssotest.Server) *multicart.Provider {
	t.Helper()
	ep := s.Multicart()
	p, err := multicart.New(multicart.Config{ClientID: ep.Client.ID, RedirectURL: "https://app.example/cb",
		AuthURL: ep.AuthURL, TokenURL: ep.TokenURL})
	require.NoError(t, err)
	return p
}

// TestAnyPlausibleIssuer: with Config.Issuer empty, whatever spelling the
// service uses for itself is accepted — learnt from discovery when served,
// by the token endpoint's origin otherwise — with keys of every type.
func TestAnyPlausibleIssuer(t *testing.T) {
	for _, discovery := range []bool{true, false} {
		for _, iss := range []string{"", "/multicart/", "/", "/tenant/v2", "/tenant/v2/"} {
			for _, kt := range []ssotest.KeyType{ssotest.KeyRSA, ssotest.KeyECP256, ssotest.KeyECP384, ssotest.KeyEd25519} {
				name := "discovery=" + map[bool]string{true: "yes", false: "no"}[discovery] + " iss=" + iss + " key=" + string(kt)
				t.Run(name, func(t *testing.T) {
					s := ssotest.NewServer(ssotest.Options{MulticartIssuer: iss, NoDiscovery: !discovery, KeyType: kt})
					defer s.Close()
					p := standInProvider(t, s)
					claims, err := p.VerifyIDToken(context.Background(), s.IssueIDToken(map[string]any{"nonce": "n-1"}), "n-1")
					require.NoError(t, err)
					assert.Equal(t, s.Multicart().Issuer, claims.Issuer())
				})
			}
		}
	}
}

// TestForeignIssuerRefused: a token naming another provider is refused
// with or without discovery (mix-up), and the error names the check, both
// values and what to set.
func TestForeignIssuerRefused(t *testing.T) {
	tests := []struct {
		name     string
		opts     ssotest.Options
		iss      func(s *ssotest.Server) string
		expected func(s *ssotest.Server) string
	}{
		{"another host, no discovery", ssotest.Options{NoDiscovery: true},
			func(*ssotest.Server) string { return "https://evil.example" },
			func(s *ssotest.Server) string {
				return "a URL on http://127.0.0.1:" + s.URL()[len("http://127.0.0.1:"):]
			}},
		{"another port, no discovery", ssotest.Options{NoDiscovery: true},
			func(*ssotest.Server) string { return "http://127.0.0.1:1/multicart" },
			func(s *ssotest.Server) string {
				return "a URL on http://127.0.0.1:" + s.URL()[len("http://127.0.0.1:"):]
			}},
		{"another host, discovery", ssotest.Options{},
			func(*ssotest.Server) string { return "https://evil.example" },
			func(s *ssotest.Server) string { return s.URL() + "/multicart" }},
		{"same origin, other spelling than discovery's", ssotest.Options{},
			func(s *ssotest.Server) string { return s.URL() + "/multicart/" },
			func(s *ssotest.Server) string { return s.URL() + "/multicart" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ssotest.NewServer(tt.opts)
			defer s.Close()
			p := standInProvider(t, s)
			iss := tt.iss(s)
			_, err := p.VerifyIDToken(context.Background(), s.IssueIDToken(map[string]any{"nonce": "n-1", "iss": iss}), "n-1")
			var ce *verify.CheckError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, verify.CheckIss, ce.Check)
			assert.Equal(t, iss, ce.Got)
			assert.Equal(t, tt.expected(s), ce.Expected)
			assert.Contains(t, err.Error(), "multicart.Config.Issuer")
			assert.Contains(t, err.Error(), "MULTICART_ISSUER")
		})
	}
}

// TestSignatureFromDiscovery: discovery's jwks_uri makes signatures
// checked; without discovery or JWKSURL the token is trusted as received
// from the token endpoint (OIDC Core §3.1.3.7 (6)).
func TestSignatureFromDiscovery(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    ssotest.Options
		jwksURL bool
		checked bool
	}{
		{"discovery", ssotest.Options{}, false, true},
		{"JWKSURL without discovery", ssotest.Options{NoDiscovery: true}, true, true},
		{"neither", ssotest.Options{NoDiscovery: true}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := ssotest.NewServer(tt.opts)
			defer s.Close()
			ep := s.Multicart()
			cfg := multicart.Config{ClientID: ep.Client.ID, RedirectURL: "https://app.example/cb", AuthURL: ep.AuthURL, TokenURL: ep.TokenURL}
			if tt.jwksURL {
				cfg.JWKSURL = ep.JWKSURL
			}
			p, err := multicart.New(cfg)
			require.NoError(t, err)
			forged := forgeSubject(t, s.IssueIDToken(map[string]any{"nonce": "n-1"}), "admin")
			claims, err := p.VerifyIDToken(context.Background(), forged, "n-1")
			if !tt.checked {
				require.NoError(t, err)
				assert.Equal(t, "admin", claims.Subject())
				return
			}
			var ce *verify.CheckError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, verify.CheckSignature, ce.Check)
		})
	}
}

// TestKeySetUnavailable: a key set that cannot be fetched is the
// provider's unavailability, not a refused token.
func TestKeySetUnavailable(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{NoDiscovery: true})
	ep := s.Multicart()
	p, err := multicart.New(multicart.Config{ClientID: ep.Client.ID, RedirectURL: "https://app.example/cb",
		AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, JWKSURL: ep.JWKSURL})
	require.NoError(t, err)
	raw := s.IssueIDToken(map[string]any{"nonce": "n-1"})
	s.Close()
	_, err = p.VerifyIDToken(context.Background(), raw, "n-1")
	assert.ErrorIs(t, err, sso.ErrProviderUnavailable)
	assert.ErrorIs(t, err, verify.ErrUnavailable)
}

// TestTransportRule: plain-http key set and discovery URLs off loopback
// need InsecureAllowHTTP.
func TestTransportRule(t *testing.T) {
	base := multicart.Config{ClientID: "app", RedirectURL: "https://app.example/cb", SkipDiscovery: true}
	cfg := base
	cfg.JWKSURL = "http://keys.example.com/jwks"
	_, err := multicart.New(cfg)
	assert.Error(t, err)
	cfg.InsecureAllowHTTP = true
	_, err = multicart.New(cfg)
	assert.NoError(t, err)

	cfg = base
	cfg.SkipDiscovery = false
	cfg.DiscoveryURL = "http://id.example.com"
	_, err = multicart.New(cfg)
	assert.Error(t, err)
}

// forgeSubject replaces the subject of a signed token, keeping its header
// and signature.
func forgeSubject(t *testing.T, raw, sub string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	b = []byte(strings.Replace(string(b), `"sub":"customer-1"`, `"sub":"`+sub+`"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestCritRefused: a correctly signed ID token with a "crit" header is
// refused (RFC 7515 §4.1.11), with or without a key set.
func TestCritRefused(t *testing.T) {
	k := newKeys(t)
	now := time.Now()
	claims := jwt.MapClaims{"iss": "https://id.example", "aud": "app", "sub": "s", "nonce": "n",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "k1"
	tok.Header["crit"] = []string{"http://example.com/unknown"}
	tok.Header["http://example.com/unknown"] = true
	raw, err := tok.SignedString(k.priv)
	require.NoError(t, err)
	for _, jwks := range []string{"", k.url} {
		p, err := multicart.New(multicart.Config{ClientID: "app", RedirectURL: "https://a.example/cb",
			Issuer: "https://id.example", JWKSURL: jwks, SkipDiscovery: true})
		require.NoError(t, err)
		_, err = p.VerifyIDToken(context.Background(), raw, "n")
		var ce *verify.CheckError
		require.ErrorAs(t, err, &ce, "JWKSURL %q", jwks)
		assert.Equal(t, verify.CheckCrit, ce.Check)

		delete(tok.Header, "crit")
		plain, err := tok.SignedString(k.priv)
		require.NoError(t, err)
		_, err = p.VerifyIDToken(context.Background(), plain, "n")
		assert.NoError(t, err, "the same token without crit passes")
		tok.Header["crit"] = []string{"http://example.com/unknown"}
	}
}

// TestMetadata: the discovery document is available to callers (for
// example its end_session_endpoint), and its absence is ErrNoDiscovery.
func TestMetadata(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{})
	defer s.Close()
	md, err := standInProvider(t, s).Metadata(context.Background())
	require.NoError(t, err)
	assert.Equal(t, s.Multicart().Issuer, md.Issuer)
	assert.Equal(t, s.Multicart().JWKSURL, md.JWKSURI)

	s2 := ssotest.NewServer(ssotest.Options{NoDiscovery: true})
	defer s2.Close()
	_, err = standInProvider(t, s2).Metadata(context.Background())
	assert.ErrorIs(t, err, verify.ErrNoDiscovery)

	p, err := multicart.New(multicart.Config{ClientID: "app", RedirectURL: "https://a.example/cb", SkipDiscovery: true})
	require.NoError(t, err)
	_, err = p.Metadata(context.Background())
	assert.ErrorIs(t, err, verify.ErrNoDiscovery)
}
