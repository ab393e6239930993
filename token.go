package sso

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Token is the customer's access token and what is known about it. Its
// String, GoString and LogValue methods leave the token itself out, so
// printing or logging a Token does not leak it.
type Token struct {
	Provider    string    // name of the provider that issued it
	AccessToken string    // the bearer token; never log it
	TokenType   string    // "Bearer"
	Expiry      time.Time // zero when the provider gave no lifetime
	Scopes      []string  // granted scopes
}

// HasScope reports whether scope was granted.
func (t Token) HasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// SetAuthHeader sets the Authorization header of r (RFC 6750 §2.1).
func (t Token) SetAuthHeader(r *http.Request) {
	r.Header.Set("Authorization", "Bearer "+t.AccessToken)
}

func (t Token) String() string {
	return fmt.Sprintf("sso.Token{Provider:%q TokenType:%q Expiry:%s Scopes:%q AccessToken:[redacted]}",
		t.Provider, t.TokenType, t.Expiry.Format(time.RFC3339), t.Scopes)
}

// GoString keeps %#v from printing the token.
func (t Token) GoString() string { return t.String() }

// LogValue keeps log/slog from printing the token.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("provider", t.Provider),
		slog.Time("expiry", t.Expiry),
		slog.String("scopes", strings.Join(t.Scopes, " ")),
	)
}

func (l *login) token() Token {
	return Token{
		Provider:    l.Provider,
		AccessToken: l.AccessToken,
		TokenType:   l.TokenType,
		Expiry:      l.Expiry,
		Scopes:      l.Scopes,
	}
}

// maxExpiresIn is the longest expires_in taken at its word. A longer one
// (a provider's mistake, or a token meant to outlive its signature) is
// ignored in favour of the access token's own "exp" or
// [Config.MaxTokenLifetime].
const maxExpiresIn = 365 * 24 * time.Hour

// loginFromToken builds the session's record of a token response, or
// refuses the response ([ErrTokenResponse]). prev is the record being
// refreshed (nil on login): a refresh response may omit the refresh token or
// ID token, and then the previous ones stay (RFC 6749 §6).
//
// The rules, in order:
//   - token_type must be Bearer, in any case (RFC 6749 §5.1, §7.1; RFC 6750
//     §4): this package sends the token as a bearer token and nothing else;
//   - the login expires at the earliest of now + expires_in and the access
//     token's "exp" when it is a JWT (read on the provider's clock, see
//     [tokenExpiry]); an expires_in ≤ 0 or over a year is ignored; with
//     neither, after maxLifetime. It is never unbounded;
//   - an access token that has already expired is refused, so a login that
//     could not be used even once never reaches the session (and an
//     expired login without a refresh token cannot loop through the
//     provider, spending a code on every turn);
//   - an id_token is kept only from a provider that verifies ID tokens
//     ([IDTokenVerifier]); any other provider's is dropped unread, so an
//     unchecked token never names the customer.
func loginFromToken(p Provider, tok *oauth2.Token, now time.Time, maxLifetime time.Duration, prev *login) (login, error) {
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return login{}, fail(ErrTokenResponse, "token_type "+tokenTypeForLog(tok.TokenType)+" is not Bearer", nil)
	}
	l := login{
		Provider:     p.Name(),
		AccessToken:  tok.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: tok.RefreshToken,
		Obtained:     now,
	}
	_, verifies := p.(IDTokenVerifier)
	if id, ok := tok.Extra("id_token").(string); ok && verifies {
		l.IDToken = id
	}
	l.access = tokenClaims(l.AccessToken)
	l.Expiry = tokenExpiry(tok, now, fromUnixNano(l.access.expiry), fromUnixNano(l.access.issued), maxLifetime)
	if !l.Expiry.After(now) {
		return login{}, fail(ErrTokenResponse, "access token already expired", nil)
	}
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		l.Scopes = strings.Fields(s)
	} else if len(l.access.scopes) > 0 {
		l.Scopes = l.access.scopes
	} else if prev != nil {
		l.Scopes = prev.Scopes
	} else if sr, ok := p.(ScopeRequester); ok {
		l.Scopes = slices.Clone(sr.RequestedScopes())
	}
	if prev != nil {
		if l.RefreshToken == "" {
			l.RefreshToken = prev.refreshToken()
		}
		if l.IDToken == "" && verifies {
			l.IDToken = prev.idToken()
			l.id = prev.id
		}
	}
	if l.IDToken != "" && !l.id.jwt {
		l.id = tokenClaims(l.IDToken)
	}
	return l, nil
}

// maxClockSkew is how far the provider's clock may be from ours for a
// token's "iat" to be taken as "just now" (see [tokenExpiry]).
const maxClockSkew = 5 * time.Minute

// tokenExpiry returns when a token expires: the earliest of the response's
// lifetime (when it is positive and at most [maxExpiresIn]) and the access
// token's exp (when not zero); with neither, now + maxLifetime. Lifetimes
// are measured on our own clock, so an injected clock works.
//
// exp is a time on the provider's clock. When the token also carries an
// iat within [maxClockSkew] of now — a token issued just now, as one from
// the token endpoint is — its lifetime exp − iat counts from now, so a
// provider whose clock is a few minutes behind ours does not hand out
// tokens that look expired on arrival. A token whose iat is further away
// (or absent) is judged by exp as an absolute time: an old token replayed
// as a fresh response is expired however long its original lifetime.
func tokenExpiry(tok *oauth2.Token, now, exp, iat time.Time, maxLifetime time.Duration) time.Time {
	var lifetime time.Duration
	switch {
	case tok.ExpiresIn != 0:
		lifetime = time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		// x/oauth2 fills only Expiry, from the wall clock, for a
		// form-encoded response.
		lifetime = time.Until(tok.Expiry)
	}
	var out time.Time
	if lifetime > 0 && lifetime <= maxExpiresIn {
		out = now.Add(lifetime)
	}
	if !exp.IsZero() && !iat.IsZero() && now.Sub(iat).Abs() <= maxClockSkew {
		exp = now.Add(exp.Sub(iat))
	}
	if !exp.IsZero() && (out.IsZero() || exp.Before(out)) {
		out = exp
	}
	if out.IsZero() {
		out = now.Add(maxLifetime)
	}
	return out
}

// tokenTypeForLog quotes a token_type short and plain enough to log;
// anything else is described, not repeated.
func tokenTypeForLog(t string) string {
	switch {
	case t == "":
		return "missing"
	case len(t) <= 32 && tokenTypeShape.MatchString(t):
		return strconv.Quote(t)
	default:
		return "(unprintable)"
	}
}

var tokenTypeShape = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
