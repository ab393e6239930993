package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/verify"
)

// multicartAPI is bearer mode for GET /api/me: Multicart access tokens
// that a single-page or mobile client obtained itself and sends as
// "Authorization: Bearer". Their keys come from MULTICART_JWKS_URL or, without
// it, from the identity service's discovery document; their issuer is
// checked by package verify's rule (MULTICART_ISSUER exactly when set, else
// discovery's issuer, else any URL on the token endpoint's origin); their
// audience must be MULTICART_API_AUDIENCE (default multicart.api).
func multicartAPI(s settings, d deps, logger *slog.Logger) (*sso.Bearer, error) {
	authURL, tokenURL, issuer, jwksURL := s.MulticartAuthURL, s.MulticartTokenURL, s.MulticartIssuer, s.MulticartJWKSURL
	if s.MulticartClientID == "" { // the stand-in
		e := d.Stand.Multicart()
		authURL, tokenURL, issuer, jwksURL = e.AuthURL, e.TokenURL, e.Issuer, e.JWKSURL
	}
	if authURL == "" {
		authURL = multicart.AuthURL
	}
	if tokenURL == "" {
		tokenURL = multicart.TokenURL
	}
	audience := s.MulticartAPIAudience
	if audience == "" {
		audience = multicart.ScopeAPI
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	cfg := verify.Config{
		Issuer:       issuer,
		IssuerOrigin: tokenURL,
		IssuerHint:   "set MULTICART_ISSUER",
		Audience:     audience,
		// Multicart does not document its access tokens' "typ": accept
		// RFC 9068's and plain "JWT". The audience (multicart.api, not
		// the client ID) keeps ID tokens out either way.
		AccessTokenTypes: []string{"at+jwt", "application/at+jwt", "JWT"},
		Now:              now,
	}
	if jwksURL != "" {
		keys, err := verify.NewKeySet(verify.KeySetConfig{URL: jwksURL, Now: now})
		if err != nil {
			return nil, fmt.Errorf("MULTICART_JWKS_URL: %w", err)
		}
		cfg.Keys = keys
	}
	disc, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: baseOf(authURL), Issuer: issuer, Now: now})
	if err != nil {
		return nil, fmt.Errorf("multicart discovery: %w", err)
	}
	cfg.Discovery = disc
	v, err := verify.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("multicart API tokens: %w", err)
	}
	return sso.NewBearer(sso.BearerConfig{Provider: multicart.Name, Verifier: v, Realm: "shopsso-example-api", Logger: logger, Now: d.Now})
}

// baseOf is an identity service's base URL: its authorize URL without
// query, fragment or trailing slash.
func baseOf(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return authURL
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimSuffix(u.String(), "/")
}
