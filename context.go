package sso

import (
	"context"
	"net/url"
	"slices"
)

// ctxKey is the unexported key under which [Auth.Require] stores the
// request's login; nothing outside this file reads or writes it.
type ctxKey struct{}

// reqLogin is what Require puts into the request context: the login read
// from the session and its tokens' claims.
type reqLogin struct {
	l      login
	access Claims
	id     Claims
	// auth is the Auth whose Require put the login here; bearer is set
	// instead by [Bearer.Require]. [CheckScopes] answers through them.
	auth   *Auth
	bearer *Bearer
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

func withLogin(ctx context.Context, l login) context.Context { return withAuthLogin(ctx, nil, &l) }

// withAuthLogin is withLogin for a login that a's Require found.
func withAuthLogin(ctx context.Context, a *Auth, l *login) context.Context {
	c := &loginCtx{Context: ctx}
	c.rl.l, c.rl.auth = *l, a
	c.rl.access.set, c.rl.access.raw = &c.rl.l.access, l.AccessToken
	c.rl.id.set = &c.rl.l.id
	c.rl.id.raw, c.rl.id.packed = l.idTokenForClaims()
	return c
}

// withBearer is withLogin for a verified bearer token, whose login holds
// the verified claims.
func withBearer(ctx context.Context, b *Bearer, l *login) context.Context {
	c := &loginCtx{Context: ctx}
	c.rl.l, c.rl.bearer = *l, b
	c.rl.access.set, c.rl.access.raw = &c.rl.l.access, l.AccessToken
	c.rl.id.set = &c.rl.l.id // none: a bearer request has no ID token
	return c
}

func fromContext(ctx context.Context) (*reqLogin, bool) {
	rl, ok := ctx.Value(ctxKey{}).(*reqLogin)
	return rl, ok
}

// TokenFromContext returns the logged-in customer's access token. Its
// Scopes are this request's own copy.
//
// When it and the other XFromContext helpers are filled: [Auth.Require]
// and [Auth.RequireScopes] put the login into the request context for the
// handler they let through, and [Bearer.Require] and
// [Bearer.RequireScopes] a verified bearer token (always: an anonymous
// request never reaches it); [Auth.Identify] does so only when the request has a valid login (an
// anonymous request reaches its handler with every helper reporting
// false). A login that Require or Identify has just refreshed is the one
// in the context. Everywhere else — handlers not wrapped by one of them,
// the Login, Callback, Logout and LogoutCallback handlers, a background
// context — every helper reports false. The helpers only read the
// context: they never call the session store or the provider.
func TokenFromContext(ctx context.Context) (Token, bool) {
	rl, ok := fromContext(ctx)
	if !ok {
		return Token{}, false
	}
	t := rl.l.token()
	if rl.bearer != nil { // its scopes are shared by every request with the token
		t.Scopes = slices.Clone(t.Scopes)
	}
	return t, true
}

// ClaimsFromContext returns the claims of the logged-in customer's access
// token, where the login is in the context (see [TokenFromContext]). It
// also reports false when the access token is not a JWT. The claims were
// decoded when the token was received (for a bearer token, when it was
// verified), not on
// each request.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	rl, ok := fromContext(ctx)
	if !ok || !rl.access.set.jwt {
		return nil, false
	}
	return &rl.access, true
}

// IDClaimsFromContext returns the claims of the customer's OpenID Connect
// ID token (Multicart), where the login is in the context (see
// [TokenFromContext]). It also reports false when the login has no ID
// token.
func IDClaimsFromContext(ctx context.Context) (*Claims, bool) {
	rl, ok := fromContext(ctx)
	if !ok || !rl.id.set.jwt {
		return nil, false
	}
	return &rl.id, true
}

// IDTokenFromContext returns the raw OpenID Connect ID token of the
// customer's login (a JWT), for example to send as id_token_hint. It is
// filled where [IDClaimsFromContext] is and reports false when the login
// has no ID token. It is a credential of the customer's identity: never
// put it into a page or a log.
func IDTokenFromContext(ctx context.Context) (string, bool) {
	rl, ok := fromContext(ctx)
	if !ok {
		return "", false
	}
	id := rl.l.idToken()
	return id, id != ""
}

// ProviderFromContext returns the name of the provider the customer logged
// in through, where the login is in the context (see [TokenFromContext]).
func ProviderFromContext(ctx context.Context) (string, bool) {
	rl, ok := fromContext(ctx)
	if !ok {
		return "", false
	}
	return rl.l.Provider, true
}

// authParamsKey is the context key of [WithAuthParams].
type authParamsKey struct{}

// WithAuthParams returns a copy of ctx carrying extra authorize parameters
// (OIDC Core §3.1.2.1: login_hint, prompt, acr_values, ui_locales, ...) for
// a login started by a request with that context: by [Auth.Login], or by
// [Auth.Require] sending a browser to log in. It is for application code
// that knows more than the login link does, for example a middleware that
// sets login_hint from a remembered e-mail address:
//
//	next.ServeHTTP(w, r.WithContext(sso.WithAuthParams(r.Context(), url.Values{"login_hint": {email}})))
//
// They override [Config.LoginParams] values and a provider's configured
// parameters of the same name. Names reserved to the protocol
// ([IsReservedAuthParam]) are dropped, each with one log line.
func WithAuthParams(ctx context.Context, params url.Values) context.Context {
	cp := make(url.Values, len(params))
	for k, vs := range params {
		cp[k] = slices.Clone(vs)
	}
	return context.WithValue(ctx, authParamsKey{}, cp)
}

// authParamsFromContext returns the parameters of [WithAuthParams].
func authParamsFromContext(ctx context.Context) url.Values {
	v, _ := ctx.Value(authParamsKey{}).(url.Values)
	return v
}
