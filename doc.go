// Package sso logs customers in to a Go web app through the Istores and
// Multicart identity services (OAuth 2.0 authorization code, RFC 6749
// §4.1, with PKCE, RFC 7636), keeps their tokens in a server-side scs
// session, and hands handlers the access token and its decoded claims.
//
// # Request flow
//
//	browser ─► sm.LoadAndSave ─► auth.Require ─► handler ─► sso.ClaimsFromContext(ctx)
//	              │ not logged in, page load: pending login in session, 302 to provider
//	              │ not logged in, API/XHR:  401 + WWW-Authenticate + JSON
//	provider ─► /auth/{provider}/callback ─► auth.Callback: state ✓ ─► code exchange ─►
//	            ID token ✓ ─► OnLogin ─► RenewToken ─► 302 back to the page
//
// # Ordering
//
// Every handler and middleware of this package reads and writes the scs
// session, so each must run inside the session manager's LoadAndSave:
// wrap the whole router once (sm.LoadAndSave(mux)) and use [Auth.Require]
// on the routes that need a login. Require panics (through scs) when there
// is no session in the request context. Handlers that stream (flush
// before their first write) need
// [github.com/shopsso/sso/scsflush.KeepCookie] just inside LoadAndSave,
// or the session cookie may not reach the browser.
//
// # Security defaults
//
// The zero value of every [Config] field is the strict setting; opt-outs
// are named Insecure…. The state is 32 random bytes, single use, bound to
// the browser's session, valid 10 minutes, at most 5 pending per session;
// a callback whose state matches none changes nothing. Return targets are
// relative paths only. Login renews the session token. Logout is POST and
// destroys the session in the store. Error responses are generic; logs name
// a reason and never a code, token, verifier or secret.
package sso
