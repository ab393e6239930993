package sso

import (
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// Login returns the handler that starts a login through the named
// provider. It accepts GET with an optional return_to query parameter: a
// relative path on this site where the customer lands after logging in
// (anything else is replaced by "/"), and the extra authorize parameters
// named in [Config.LoginParams] (for example login_hint), which it passes
// on to the provider.
//
// Login panics if no provider of that name is configured, as
// [http.ServeMux.Handle] panics on a bad pattern: it is a mounting mistake.
func (a *Auth) Login(provider string) http.Handler {
	p := a.provider(provider)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.report(w, r, provider, ErrMethod)
			return
		}
		if err := a.sessionLoaded(r.Context()); err != nil {
			a.report(w, r, provider, err)
			return
		}
		a.startLogin(w, r, p, returnTarget(r.URL.Query().Get("return_to")), a.loginParams(r))
	})
}

// startLogin records a pending login in the session and redirects the
// browser to the provider, with extra authorize parameters when not nil.
func (a *Auth) startLogin(w http.ResponseWriter, r *http.Request, p Provider, returnTo string, extra url.Values) {
	now := a.cfg.Now()
	pd := newPending(p.Name(), returnTo, now)
	ctx := r.Context()
	list := a.livePending(a.pendingLogins(ctx), now)
	if len(list) >= a.cfg.MaxPending {
		list = list[len(list)-a.cfg.MaxPending+1:] // drop the oldest
	}
	a.putPending(ctx, append(list, pd))
	if a.holdsOnlyPending(ctx) {
		// An anonymous visitor's session exists only for its logins in
		// progress: it ends when the newest of them expires, instead of
		// after the session manager's Lifetime (scs's clock, not
		// Config.Now). Completing a login renews the session and with it
		// the full Lifetime.
		a.cfg.Sessions.SetDeadline(ctx, time.Now().Add(a.cfg.StateTTL))
	}
	// Store the pending login now, so that a store that is down refuses
	// the login here (503) instead of after the redirect has been written.
	// (LoadAndSave writes the same session again when the response starts.)
	if _, _, err := a.cfg.Sessions.Commit(ctx); err != nil {
		a.report(w, r, p.Name(), fail(ErrSession, "storing pending login", err))
		return
	}

	target := p.AuthCodeURL(AuthParams{
		State:         pd.state(),
		CodeChallenge: oauth2.S256ChallengeFromVerifier(pd.verifier()),
		Nonce:         pd.nonce(),
		Extra:         a.requestAuthParams(r, extra),
	})
	noStore(w)
	http.Redirect(w, r, target, http.StatusFound)
}

// livePending drops pending logins older than the state lifetime.
func (a *Auth) livePending(list []pending, now time.Time) []pending {
	out := list[:0]
	for _, pd := range list {
		if now.Sub(pd.Created) <= a.cfg.StateTTL {
			out = append(out, pd)
		}
	}
	return out
}
