package sso

import "context"

// ctxKey is the unexported key under which [Auth.Require] stores the
// request's login; nothing outside this file reads or writes it.
type ctxKey struct{}

// reqLogin is what Require puts into the request context: the login read
// from the session and the Auth whose claim cache decodes it.
type reqLogin struct {
	l    login
	auth *Auth
}

// loginCtx carries a reqLogin. It is context.WithValue in one allocation
// instead of two: it sits on the path of every logged-in request.
type loginCtx struct {
	context.Context
	rl reqLogin
}

func (c *loginCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return &c.rl
	}
	return c.Context.Value(key)
}

func (c *loginCtx) String() string { return "sso.withLogin" }

func withLogin(ctx context.Context, a *Auth, l login) context.Context {
	return &loginCtx{Context: ctx, rl: reqLogin{l: l, auth: a}}
}

func fromContext(ctx context.Context) (*reqLogin, bool) {
	rl, ok := ctx.Value(ctxKey{}).(*reqLogin)
	return rl, ok
}

// TokenFromContext returns the logged-in customer's access token. It
// reports false outside a handler wrapped by [Auth.Require]. Its Scopes are
// this request's own copy, decoded from the session.
func TokenFromContext(ctx context.Context) (Token, bool) {
	rl, ok := fromContext(ctx)
	if !ok {
		return Token{}, false
	}
	return rl.l.token(), true
}

// ClaimsFromContext returns the claims of the logged-in customer's access
// token. It reports false outside [Auth.Require] or when the access token is
// not a JWT. Claims are decoded once per token and cached, not per request.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	rl, ok := fromContext(ctx)
	if !ok {
		return nil, false
	}
	c := rl.auth.claims.get(rl.l.AccessToken)
	return c, c != nil
}

// IDClaimsFromContext returns the claims of the customer's OpenID Connect
// ID token (Multicart). It reports false when the login has no ID token.
func IDClaimsFromContext(ctx context.Context) (*Claims, bool) {
	rl, ok := fromContext(ctx)
	if !ok || rl.l.IDToken == "" {
		return nil, false
	}
	c := rl.auth.claims.get(rl.l.IDToken)
	return c, c != nil
}

// ProviderFromContext returns the name of the provider the customer logged
// in through.
func ProviderFromContext(ctx context.Context) (string, bool) {
	rl, ok := fromContext(ctx)
	if !ok {
		return "", false
	}
	return rl.l.Provider, true
}
