package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// IDTokenRules checks an OpenID Connect ID token received from a token
// endpoint (OIDC Core §3.1.3.7). Providers with ID tokens use it to
// implement [IDTokenVerifier].
type IDTokenRules struct {
	// Issuer must equal the "iss" claim. Required.
	Issuer string
	// ClientID must be among the "aud" values. Required.
	ClientID string
	// Algorithms allowed in the token header. Zero: RS256 only. "none" is
	// never allowed.
	Algorithms []string
	// Keys verifies signatures. Nil: the signature is not checked, which
	// OIDC Core §3.1.3.7 permits for a token received directly from the
	// token endpoint over TLS; every other check still applies.
	Keys *JWKS
	// Leeway tolerates clock skew on "exp" and "iat". Zero: 1 minute.
	Leeway time.Duration
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// Verify checks raw and the nonce of the login it belongs to, and returns
// its claims. An empty nonce means raw came with a refresh (OIDC Core
// §12.2), where the nonce is not checked; a login always has one.
func (v IDTokenRules) Verify(ctx context.Context, raw, nonce string) (*Claims, error) {
	if raw == "" {
		return nil, errors.New("sso: the token response has no id_token")
	}
	algs := v.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	if slices.Contains(algs, "none") {
		return nil, errors.New("sso: alg none is never allowed")
	}
	now := v.Now
	if now == nil {
		now = time.Now
	}
	leeway := v.Leeway
	if leeway == 0 {
		leeway = time.Minute
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.ClientID),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	}
	mc := jwt.MapClaims{}
	if v.Keys != nil {
		if _, err := jwt.NewParser(opts...).ParseWithClaims(raw, mc, v.Keys.keyfunc(ctx)); err != nil {
			return nil, fmt.Errorf("sso: ID token: %w", err)
		}
	} else {
		tok, _, err := jwt.NewParser().ParseUnverified(raw, mc)
		if err != nil {
			return nil, fmt.Errorf("sso: ID token: %w", err)
		}
		if !slices.Contains(algs, tok.Method.Alg()) {
			return nil, fmt.Errorf("sso: ID token: %w", jwt.ErrTokenSignatureInvalid)
		}
		if err := jwt.NewValidator(opts...).Validate(mc); err != nil {
			return nil, fmt.Errorf("sso: ID token: %w", err)
		}
	}
	if nonce != "" {
		got, _ := mc["nonce"].(string)
		if subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
			return nil, errors.New("sso: ID token: nonce does not match the login")
		}
	}
	// OIDC Core §3.1.3.7 (4, 5): with several audiences, the authorized
	// party must be this client.
	if aud, _ := mc.GetAudience(); len(aud) > 1 {
		if azp, _ := mc["azp"].(string); azp != v.ClientID {
			return nil, errors.New("sso: ID token: several audiences and azp is not this client")
		}
	}
	return newClaims(mc), nil
}
