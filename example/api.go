package main

import (
	"fmt"
	"log/slog"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/multicart"
)

// multicartAPI is bearer mode for GET /api/me: Multicart access tokens
// that a single-page or mobile client obtained itself and sends as
// "Authorization: Bearer". They are checked with the login provider's
// issuer rule and keys (MULTICART_ISSUER exactly when set, else the
// discovery document's issuer, else any URL on the token endpoint's origin;
// MULTICART_JWKS_URL, else the key set discovery names); their audience
// must be MULTICART_API_AUDIENCE (default multicart.api).
func multicartAPI(mc *multicart.Provider, s settings, d deps, logger *slog.Logger) (*sso.Bearer, error) {
	audience := s.MulticartAPIAudience
	if audience == "" {
		audience = multicart.ScopeAPI
	}
	// Multicart does not document its access tokens' "typ": accept
	// RFC 9068's and plain "JWT". The audience (multicart.api, not the
	// client ID) keeps ID tokens out either way.
	v, err := mc.AccessTokenVerifier(audience, "at+jwt", "application/at+jwt", "JWT")
	if err != nil {
		return nil, fmt.Errorf("GET /api/me: %w", err)
	}
	return sso.NewBearer(sso.BearerConfig{Provider: multicart.Name, Verifier: v, Realm: "shopsso-example-api", Logger: logger, Now: d.Now})
}
