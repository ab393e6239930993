package sso

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shopsso/sso/internal/record"
	"github.com/shopsso/sso/internal/tokenpack"
)

// Claims are the claims of a JWT as the provider sent them, with typed
// accessors for the registered claims (RFC 7519 §4.1), for scopes and for
// the OpenID Connect standard claims name, email and email_verified (OIDC
// Core §5.1).
//
// The claims the accessors return are decoded once, when the token is
// received at login or refresh, and kept with the login in the session, so
// reading them costs nothing per request however many customers are logged
// in. [Claims.Value] and [Claims.Map] decode the token's payload on their
// first use on a Claims value (in [ClaimsFromContext]'s case, once per
// request). A Claims value is safe for concurrent use.
type Claims struct {
	set    *claimSet
	raw    string // the JWT, whose payload Value and Map decode; "" when all is given
	once   sync.Once
	packed bool // raw is the JWT packed (internal/tokenpack): its payload is JSON already
	all    jwt.MapClaims
}

// claimSet is what a login keeps of a token's claims (see login_record.go).
type claimSet struct {
	jwt           bool // the token is a JWT; nothing else is set otherwise
	emailVerified verified
	subject       string
	issuer        string
	audience      string // a list record (internal/record), "" for none
	expiry        int64  // Unix nanoseconds, 0 when absent
	issued        int64  // Unix nanoseconds, 0 when absent
	scopes        []string
	name          string
	email         string
}

// verified is the email_verified claim: absent, false or true.
type verified uint8

const (
	verifiedAbsent verified = iota
	verifiedFalse
	verifiedTrue
)

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

// newClaims returns the Claims of a decoded claim set.
func newClaims(mc jwt.MapClaims) *Claims {
	set := claimSetOf(mc)
	c := &Claims{set: &set, all: mc}
	c.once.Do(func() {})
	return c
}

// claimSetOf keeps what the accessors return of mc.
func claimSetOf(mc jwt.MapClaims) claimSet {
	s := claimSet{jwt: true}
	s.subject, _ = mc.GetSubject()
	s.issuer, _ = mc.GetIssuer()
	if aud, _ := mc.GetAudience(); len(aud) > 0 {
		s.audience = listRecord(aud)
	}
	if t, _ := mc.GetExpirationTime(); t != nil {
		s.expiry = unixNano(t.Time)
	}
	if t, _ := mc.GetIssuedAt(); t != nil {
		s.issued = unixNano(t.Time)
	}
	s.scopes = scopesFromClaims(mc)
	s.name, _ = mc["name"].(string)
	s.email, _ = mc["email"].(string)
	switch v := mc["email_verified"].(type) {
	case bool:
		s.emailVerified = verifiedFalse
		if v {
			s.emailVerified = verifiedTrue
		}
	case string: // some providers send "true"
		switch v {
		case "true":
			s.emailVerified = verifiedTrue
		case "false":
			s.emailVerified = verifiedFalse
		}
	}
	return s
}

// tokenClaims decodes the claims of token once, for a new login or a
// refreshed one. A token that is not a JWT has none.
func tokenClaims(token string) claimSet {
	if token == "" {
		return claimSet{}
	}
	mc := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, mc); err != nil {
		return claimSet{}
	}
	return claimSetOf(mc)
}

// unixNano returns t as Unix nanoseconds, the zero time as 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is the inverse of unixNano.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// listRecord encodes a list of strings as one string.
func listRecord(ss []string) string {
	w := record.NewWriter(0, 8+scopesLen(ss))
	w.Strings(ss)
	return w.Done()
}

// parseList decodes a list written by listRecord.
func parseList(s string) []string {
	if s == "" {
		return nil
	}
	r, _ := record.NewReader(s)
	return r.Strings()
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
func (c *Claims) Subject() string { return c.set.subject }

// Issuer returns the "iss" claim.
func (c *Claims) Issuer() string { return c.set.issuer }

// Audience returns the "aud" claim, a single string or a list.
func (c *Claims) Audience() []string { return parseList(c.set.audience) }

// Expiry returns the "exp" claim, or the zero time.
func (c *Claims) Expiry() time.Time { return fromUnixNano(c.set.expiry) }

// IssuedAt returns the "iat" claim, or the zero time.
func (c *Claims) IssuedAt() time.Time { return fromUnixNano(c.set.issued) }

// Scopes returns the scopes named in the "scope" or "scopes" claim.
func (c *Claims) Scopes() []string { return slices.Clone(c.set.scopes) }

// Name returns the "name" claim (OIDC Core §5.1), or "".
func (c *Claims) Name() string { return c.set.name }

// Email returns the "email" claim (OIDC Core §5.1), or "".
func (c *Claims) Email() string { return c.set.email }

// EmailVerified reports the "email_verified" claim (OIDC Core §5.1): false
// when it is false or absent.
func (c *Claims) EmailVerified() bool { return c.set.emailVerified == verifiedTrue }

// decoded returns every claim, decoding the token's payload on first use.
func (c *Claims) decoded() jwt.MapClaims {
	c.once.Do(func() {
		mc := jwt.MapClaims{}
		if c.packed {
			// As ParseUnverified decodes the payload of the same token.
			payload, _ := tokenpack.Payload(c.raw)
			if err := json.Unmarshal([]byte(payload), &mc); err == nil {
				c.all = mc
			}
		} else if _, _, err := jwt.NewParser().ParseUnverified(c.raw, mc); err == nil {
			c.all = mc
		}
	})
	return c.all
}

// Value returns one claim as decoded from JSON (string, float64, bool,
// []any, map[string]any or nil).
func (c *Claims) Value(name string) (any, bool) {
	v, ok := c.decoded()[name]
	return v, ok
}

// Map returns a copy of every claim as received. Nested maps and lists
// are shared with the original and must not be modified.
func (c *Claims) Map() map[string]any { return maps.Clone(c.decoded()) }

// Decode decodes every claim into v with [json.Unmarshal], as
// go-oidc's IDToken.Claims does: v is typically a pointer to the caller's
// own struct with json tags.
func (c *Claims) Decode(v any) error {
	if c.packed {
		payload, ok := tokenpack.Payload(c.raw)
		if !ok {
			return errors.New("sso: claims: not a JWT")
		}
		return json.Unmarshal([]byte(payload), v)
	}
	if c.raw == "" {
		b, err := json.Marshal(c.all)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, v)
	}
	parts := strings.Split(c.raw, ".")
	if len(parts) != 3 {
		return errors.New("sso: claims: not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return fmt.Errorf("sso: claims: %w", err)
	}
	return json.Unmarshal(payload, v)
}
