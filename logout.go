package sso

import (
	"net/http"
)

// Logout returns the handler that logs the customer out: it destroys the whole
// session in the store, so a copy of the old cookie is worth nothing, on
// every app instance sharing the store. The logout is final: the session's
// record is replaced by a tombstone that lasts as long as the session would
// have, and a request of that session still in flight (on any instance
// sharing the [Config.Locker]) cannot save its copy back, nor set the old
// cookie again (see [ErrSessionEnded]). It accepts POST only — a GET that
// logs out can be triggered by any image tag on any site — and refuses
// cross-origin requests by the rules of [http.CrossOriginProtection]: a
// Sec-Fetch-Site other than same-origin or none (so same-site and
// cross-site are refused), or, from browsers that send no Sec-Fetch-Site,
// an Origin whose host is not the request's (Origin: null included).
// Requests with neither header (not from a browser) are let through.
// Browsers are redirected (303) to [Config.AfterLogoutPath]; API clients
// get 204.
//
// Logout at the provider too (OpenID Connect RP-Initiated Logout) is
// opt-in per provider: when the login's provider is an [EndSessioner]
// that returns an end-session endpoint, a browser is redirected (303)
// there instead, with id_token_hint, client_id, post_logout_redirect_uri
// and a state, and comes back through [Auth.LogoutCallback]. Otherwise —
// no such provider, none configured, API clients — logout is local only:
// the customer's session at the provider stays, and the next login there
// may not ask for a password.
func (a *Auth) Logout() http.Handler { return http.HandlerFunc(a.logout) }

// logout is the handler [Auth.Logout] returns.
func (a *Auth) logout(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		a.report(w, r, "", ErrMethod)
		return
	}
	if err := a.sessionLoaded(r.Context()); err != nil {
		a.report(w, r, "", err)
		return
	}
	if err := a.crossOrigin.Check(r); err != nil {
		a.report(w, r, "", crossOriginFailure(r))
		return
	}
	ctx := r.Context()
	var l login
	had := loadLogin(ctx, a.cfg.Sessions, &l)
	if err := a.cfg.Sessions.Destroy(ctx); err != nil {
		a.report(w, r, l.Provider, fail(ErrSession, "destroying session", err))
		return
	}
	if had && a.cfg.OnLogout != nil {
		a.cfg.OnLogout(ctx, a.info(&l))
	}
	if acceptsHTML(r) {
		if had && a.logoutAtProvider(w, r, &l) {
			return
		}
		http.Redirect(w, r, a.cfg.AfterLogoutPath, http.StatusSeeOther)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// crossOriginFailure names the header that made a request cross-origin.
func crossOriginFailure(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return fail(ErrCrossSite, "Sec-Fetch-Site is "+paramForLog(site), nil)
	}
	if r.Header.Get("Origin") == "null" {
		return fail(ErrCrossSite, "Origin is null", nil)
	}
	return fail(ErrCrossSite, "Origin does not match Host", nil)
}
