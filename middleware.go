package sso

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Require lets a logged-in customer through to next, with the access token
// and its claims in the request context (see [TokenFromContext] and
// [ClaimsFromContext]). It must run inside the session manager's
// LoadAndSave.
//
// A token that is about to expire is refreshed when the provider supports
// it ([Refresher]): once per lifetime across instances, waiting only when
// it has expired (see "Refresh" in the package doc). A request without a valid login is not passed on: a browser
// navigating to a page is redirected to log in (through the provider of a
// login that has just ended, else [Config.DefaultProvider]) and comes back
// to that page afterwards; any other request (API clients, XHR, non-GET) gets 401 with a
// WWW-Authenticate challenge and a JSON body, never a redirect.
func (a *Auth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.sessionLoaded(r.Context()); err != nil {
			a.report(w, r, "", err)
			return
		}
		var l login
		provider, err := a.safeCurrentLogin(r.Context(), &l)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(withAuthLogin(r.Context(), a, &l)))
		case errors.Is(err, ErrLoginRequired):
			a.loginRequired(w, r, provider)
		default:
			a.report(w, r, provider, err)
		}
	})
}

// RequireScopes returns middleware that acts as [Auth.Require] and then
// as [CheckScopes]: a customer who lacks one of scopes gets 403 (a plain
// page for browsers, JSON for API clients).
func (a *Auth) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	check := CheckScopes(scopes...)
	return func(next http.Handler) http.Handler { return a.Require(check(next)) }
}

// loginRequired answers a request that has no valid login. A browser whose
// login has just ended logs in again through the same provider (named by
// previous); others go to [Config.LoginPath] or the default provider.
func (a *Auth) loginRequired(w http.ResponseWriter, r *http.Request, previous string) {
	noStore(w)
	if !isBrowserNavigation(r) {
		w.Header().Set("WWW-Authenticate", a.challenge)
		writeJSONError(w, http.StatusUnauthorized, "login_required")
		return
	}
	back := returnTarget(r.URL.RequestURI())
	if a.cfg.LoginPath != "" {
		sep := "?"
		if strings.Contains(a.cfg.LoginPath, "?") {
			sep = "&"
		}
		http.Redirect(w, r, a.cfg.LoginPath+sep+"return_to="+url.QueryEscape(back), http.StatusFound)
		return
	}
	p, ok := a.providers[previous]
	if !ok {
		p = a.defaultP
	}
	a.startLogin(w, r, p, back, nil)
}

// Identify puts the customer's login into the request context when there
// is one, like [Auth.Require], but lets anonymous requests through too: for
// pages that show who is logged in without asking anyone to log in.
func (a *Auth) Identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.sessionLoaded(r.Context()); err != nil {
			a.report(w, r, "", err)
			return
		}
		var l login
		if _, err := a.safeCurrentLogin(r.Context(), &l); err == nil {
			r = r.WithContext(withAuthLogin(r.Context(), a, &l))
		}
		next.ServeHTTP(w, r)
	})
}
