package sso

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a JWT as the provider sent them, with typed
// accessors for the registered claims (RFC 7519 §4.1) and for scopes. A
// Claims value is immutable and may be shared between requests.
type Claims struct {
	all      jwt.MapClaims
	subject  string
	issuer   string
	audience []string
	expiry   time.Time
	issued   time.Time
	scopes   []string
}

// ParseClaims decodes the claims of a JWT without verifying its signature.
//
// Tokens handled by this package come straight from the provider's token
// endpoint over TLS, which authenticates them (OIDC Core §3.1.3.7 makes the
// same argument for ID tokens); the access token's signature is for the
// store's API to check. Use ParseClaims only on tokens obtained that way.
func ParseClaims(token string) (*Claims, error) {
	mc := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, mc); err != nil {
		return nil, err
	}
	return newClaims(mc), nil
}

func newClaims(mc jwt.MapClaims) *Claims {
	c := &Claims{all: mc}
	c.subject, _ = mc.GetSubject()
	c.issuer, _ = mc.GetIssuer()
	c.audience, _ = mc.GetAudience()
	if t, _ := mc.GetExpirationTime(); t != nil {
		c.expiry = t.Time
	}
	if t, _ := mc.GetIssuedAt(); t != nil {
		c.issued = t.Time
	}
	c.scopes = scopesFromClaims(mc)
	return c
}

// scopesFromClaims reads "scope" (space-separated, RFC 8693 §4.2) or
// "scopes" (a string or a list, as Istores sends it).
func scopesFromClaims(mc map[string]any) []string {
	for _, name := range []string{"scope", "scopes"} {
		switch v := mc[name].(type) {
		case string:
			return strings.Fields(v)
		case []any:
			out := make([]string, 0, len(v))
			for _, s := range v {
				if s, ok := s.(string); ok && s != "" {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return nil
}

// Subject returns the "sub" claim.
func (c *Claims) Subject() string { return c.subject }

// Issuer returns the "iss" claim.
func (c *Claims) Issuer() string { return c.issuer }

// Audience returns the "aud" claim, a single string or a list.
func (c *Claims) Audience() []string { return slices.Clone(c.audience) }

// Expiry returns the "exp" claim, or the zero time.
func (c *Claims) Expiry() time.Time { return c.expiry }

// IssuedAt returns the "iat" claim, or the zero time.
func (c *Claims) IssuedAt() time.Time { return c.issued }

// Scopes returns the scopes named in the "scope" or "scopes" claim.
func (c *Claims) Scopes() []string { return slices.Clone(c.scopes) }

// Value returns one claim as decoded from JSON (string, float64, bool,
// []any, map[string]any or nil).
func (c *Claims) Value(name string) (any, bool) {
	v, ok := c.all[name]
	return v, ok
}

// Map returns a copy of every claim as received. Nested maps and lists
// are shared with the cached original and must not be modified.
func (c *Claims) Map() map[string]any { return maps.Clone(c.all) }
