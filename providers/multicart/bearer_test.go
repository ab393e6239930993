package multicart_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

func TestAccessTokenVerifier(t *testing.T) {
	for _, discovery := range []bool{true, false} {
		name := map[bool]string{true: "keys and issuer from discovery", false: "JWKSURL, issuer by origin"}[discovery]
		t.Run(name, func(t *testing.T) {
			s := ssotest.NewServer(ssotest.Options{NoDiscovery: !discovery, MulticartIssuer: "/tenant/v2"})
			t.Cleanup(s.Close)
			ep := s.Multicart()
			cfg := multicart.Config{ClientID: ep.Client.ID, RedirectURL: "https://app.example/cb", AuthURL: ep.AuthURL, TokenURL: ep.TokenURL}
			if !discovery {
				cfg.JWKSURL = ep.JWKSURL
			}
			p, err := multicart.New(cfg)
			require.NoError(t, err)
			v, err := p.AccessTokenVerifier(multicart.ScopeAPI)
			require.NoError(t, err)
			issue := func(claims map[string]any) string { return s.IssueAccessToken(ssotest.ProviderMulticart, claims) }
			tests := []struct {
				name      string
				token     string
				wantCheck string
			}{
				{"valid", issue(nil), ""},
				{"another audience", issue(map[string]any{"aud": ep.Client.ID}), verify.CheckAud},
				{"another host", issue(map[string]any{"iss": "https://evil.example/tenant/v2"}), verify.CheckIss},
				{"an ID token", s.IssueIDToken(nil), verify.CheckTyp},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tok, err := v.AccessToken(context.Background(), tt.token)
					if tt.wantCheck == "" {
						require.NoError(t, err)
						assert.Equal(t, ep.Issuer, tok.Issuer)
						assert.True(t, tok.SignatureChecked)
						return
					}
					var ce *verify.CheckError
					require.True(t, errors.As(err, &ce), "%v", err)
					assert.Equal(t, tt.wantCheck, ce.Check)
				})
			}
		})
	}
}

// An ID token's audience is the client ID: an access-token audience equal
// to it is refused unless only RFC 9068's typ is accepted.
func TestAccessTokenVerifierRefusesClientIDAudience(t *testing.T) {
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	ep := s.Multicart()
	p, err := multicart.New(multicart.Config{ClientID: ep.Client.ID, RedirectURL: "https://app.example/cb", AuthURL: ep.AuthURL, TokenURL: ep.TokenURL})
	require.NoError(t, err)
	_, err = p.AccessTokenVerifier(ep.Client.ID, "at+jwt", "JWT")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "client ID")
	_, err = p.AccessTokenVerifier(ep.Client.ID)
	require.NoError(t, err, "at+jwt alone keeps ID tokens out")
	_, err = p.AccessTokenVerifier(multicart.ScopeAPI, "at+jwt", "JWT")
	require.NoError(t, err)
}

func TestAccessTokenVerifierNeedsKeys(t *testing.T) {
	p, err := multicart.New(multicart.Config{ClientID: "app", RedirectURL: "https://app.example/cb", SkipDiscovery: true})
	require.NoError(t, err)
	_, err = p.AccessTokenVerifier(multicart.ScopeAPI)
	assert.ErrorContains(t, err, "key set")
}
