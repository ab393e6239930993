package sso

import (
	"context"
	"net/url"

	"golang.org/x/oauth2"
)

// Provider is an identity service customers log in through with the OAuth 2.0
// authorization-code flow (RFC 6749 §4.1). The providers/istores and
// providers/multicart packages implement it; a third store needs only these
// three methods.
//
// A Provider knows its own client ID, redirect URL and scopes: the core never
// builds a provider URL itself, because neither supported provider uses the
// standard parameter names.
type Provider interface {
	// Name identifies the provider in sessions, logs and errors, for
	// example "istores". It must be unique within a [Config].
	Name() string

	// AuthCodeURL returns the URL of the provider's authorization page for
	// one login attempt.
	AuthCodeURL(p AuthParams) string

	// Exchange trades an authorization code for a token set
	// (RFC 6749 §4.1.3), sending the PKCE verifier (RFC 7636 §4.5).
	Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error)
}

// AuthParams are the per-login values a [Provider] puts into its
// authorization URL.
type AuthParams struct {
	// State is the single-use value the provider must return unchanged
	// (RFC 6749 §10.12).
	State string
	// CodeChallenge is the PKCE S256 challenge (RFC 7636 §4.2).
	CodeChallenge string
	// Nonce binds an OpenID Connect ID token to this login (OIDC Core §3.1.2.1).
	Nonce string
	// Extra holds this login's extra authorize parameters (for example
	// login_hint, from [Config.LoginParams]), none of them reserved. A
	// provider merges them over its configured ones with
	// [MergeAuthParams] and then sets its protocol parameters, which
	// always win.
	Extra url.Values
}

// Refresher is implemented by providers that issue refresh tokens
// (RFC 6749 §6). [Auth.Require] uses it to renew access tokens before they
// expire; providers without it make the customer log in again.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error)
}

// IDTokenVerifier is implemented by OpenID Connect providers. The callback
// calls it with the raw ID token from the token response (possibly empty) and
// the nonce of the pending login, and refuses the login on error.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, rawIDToken, nonce string) (*Claims, error)
}

// ScopeRequester is implemented by providers that know which scopes they
// ask for. When a token response omits the granted scopes, they are the
// requested ones (RFC 6749 §5.1).
type ScopeRequester interface {
	RequestedScopes() []string
}
