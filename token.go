package sso

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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

// loginFromToken builds the session's record of a token response. prev is
// the record being refreshed (nil on login): a refresh response may omit the
// refresh token or ID token, and then the previous ones stay (RFC 6749 §6).
func loginFromToken(p Provider, tok *oauth2.Token, now time.Time, prev *login) login {
	l := login{
		Provider:     p.Name(),
		AccessToken:  tok.AccessToken,
		TokenType:    tok.Type(),
		RefreshToken: tok.RefreshToken,
		Obtained:     now,
	}
	if id, ok := tok.Extra("id_token").(string); ok {
		l.IDToken = id
	}
	l.access = tokenClaims(l.AccessToken)
	// x/oauth2 computes Expiry from expires_in with the wall clock; keep
	// the lifetime relative to our own clock so an injected clock works.
	if tok.ExpiresIn != 0 {
		l.Expiry = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	} else if !tok.Expiry.IsZero() {
		l.Expiry = now.Add(time.Until(tok.Expiry))
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
			l.RefreshToken = prev.RefreshToken
		}
		if l.IDToken == "" {
			l.IDToken = prev.IDToken
			l.id = prev.id
		}
	}
	if l.IDToken != "" && !l.id.jwt {
		l.id = tokenClaims(l.IDToken)
	}
	return l
}
