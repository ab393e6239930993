// Package sso logs customers in to a Go web app through the Istores and
// Multicart identity services (OAuth 2.0 authorization code, RFC 6749
// §4.1, with PKCE, RFC 7636), keeps their tokens in a server-side scs
// session, and hands handlers the access token and its decoded claims.
//
// # Request flow
//
// Login, from a page that needs one to the page again:
//
//	browser ─► sm.LoadAndSave ─► auth.Require ─► handler ─► sso.ClaimsFromContext(ctx)
//	              │ not logged in, page load: 302 to Config.LoginPath (the app's
//	              │   provider chooser) or straight to auth.Login's work:
//	              │   pending login (state, PKCE verifier, nonce) in session, 302 to provider
//	              │ not logged in, API/XHR:  401 + WWW-Authenticate + JSON
//	provider ─► /auth/{provider}/callback ─► auth.Callback: state ✓ ─► code exchange ─►
//	            token response ✓ ─► ID token ✓ ─► OnLogin ─► RenewToken ─► login stored ─►
//	            302 back to the page
//
// Every later request of that browser, in Require (and Identify):
//
//	login read from the session ─► access token valid for longer than
//	Config.RefreshMargin? ─► yes: handler
//	                        └► no, provider is a Refresher: one refresh per session
//	                           (Config.Locker, across instances), re-read the session
//	                           first (another request may have refreshed), refresh
//	                           grant, OnRefresh, new token set stored ─► handler
//	                           refused (invalid_grant) and no newer set: login removed,
//	                           as if never logged in; provider down while the old
//	                           token is still valid: handler with the old token
//
// Logout:
//
//	POST /logout ─► auth.Logout: same-site ✓ ─► session destroyed in the store
//	  (a tombstone: no request still in flight can save it back) ─► OnLogout ─►
//	  303 to Config.AfterLogoutPath, or, when the login's provider is an
//	  EndSessioner with an end-session endpoint (opt-in per provider), 303 to
//	  it with id_token_hint and a state ─► provider ─► auth.LogoutCallback:
//	  state ✓ ─► 303 to Config.AfterLogoutPath
//
// Any refusal on the way is logged once with its reason and answered by
// [Config.ErrorHandler]: by default a page titled in plain words (see
// [ErrorPage], [Config.ErrorTemplate]) for browsers, JSON for API clients.
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
// # Refresh
//
// For a login whose access token is due (within [Config.RefreshMargin] of
// its expiry), [Auth.Require] may call the provider, may wait, and may end
// the login — nothing else:
//
//   - it calls the provider's token endpoint at most once per token
//     lifetime across every app instance sharing the session store and the
//     [Config.Locker]: under the session's lock it re-reads the session,
//     reuses a token set another request or instance stored, and only
//     otherwise spends the refresh token and stores the result at once;
//   - it waits only when the access token has expired; a still-valid token
//     is served at once while one shared refresh runs in the background;
//   - when the provider refuses the refresh it removes the login (the
//     customer logs in again); when the session was logged out meanwhile
//     it drops the request's copy of it, so saving it cannot bring the
//     login back;
//   - when the provider, the store or the lock cannot be reached, a valid
//     token is still served, an expired one is answered 502 (provider) or
//     503 with Retry-After (store, lock), and the session's refreshes back
//     off (1 s, doubling to 1 min) instead of calling the provider on
//     every request.
//
// A lock holder that dies is outlived by its lease; the next instance
// re-reads the session and uses a result the dead holder stored. Without
// the lock (its store unreachable) the provider is never called. A panic
// in a hook, the store, the codec or the provider during a refresh fails
// the requests that waited on it ([ErrInternal], 500, logged once with its
// stack); the process keeps serving.
//
// # APIs: bearer mode
//
// Single-page and mobile clients that log in at the provider themselves
// call an API with "Authorization: Bearer <JWT>". [Bearer.Require] (built
// by [NewBearer] around a verifier of package verify) checks the token's
// signature, issuer, audience, times, algorithm and type, and puts it into
// the context as Require puts a session's login, so the same handlers and
// [CheckScopes] serve both; it never touches a session and answers
// refusals with RFC 6750 challenges. A third identity service needs no
// code of its own: providers/oidc configures one from its issuer URL.
//
// # Security defaults
//
// The zero value of every [Config] field is the strict setting; opt-outs
// are named Insecure…. The state is 32 random bytes, single use, bound to
// the browser's session, valid 10 minutes, at most 5 pending per session;
// a callback whose state matches none changes nothing. Return targets are
// relative paths only. Login renews the session token. Logout is POST and
// destroys the session in the store; logout at the provider is opt-in, and
// without it the customer's session at the provider stays. Error responses are generic; logs name
// a reason and never a code, token, verifier or secret.
package sso
