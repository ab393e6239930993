package sso

import (
	"crypto/subtle"
	"errors"
	"net/http"
)

// Callback returns the handler for the named provider's redirect URL,
// where the provider sends the customer back with a code (RFC 6749 §4.1.2).
//
// In order, it: answers with Cache-Control: no-store and
// Referrer-Policy: no-referrer; finds the pending login whose state matches,
// in this browser's session and for this provider, comparing in constant
// time — a callback that matches none changes nothing, so a forged or
// replayed one cannot cancel the genuine login; consumes that pending login
// (state is single use); refuses it if older than [Config.StateTTL]; turns a
// provider error (error=access_denied ...) into a generic 4xx page; exchanges
// the code with the PKCE verifier; verifies the ID token for OpenID Connect
// providers; asks [Config.OnLogin]; renews the session token (no session
// fixation); stores the login and redirects to the page the login started
// from.
//
// Callback panics if no provider of that name is configured.
func (a *Auth) Callback(provider string) http.Handler {
	p := a.provider(provider)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			a.report(w, r, provider, ErrMethod)
			return
		}
		if err := a.safeComplete(w, r, p); err != nil {
			a.report(w, r, provider, err)
		}
	})
}

// complete finishes a login and redirects, or returns why it cannot.
func (a *Auth) complete(w http.ResponseWriter, r *http.Request, p Provider) error {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		return ErrStateMissing
	}
	list := a.pendingLogins(r)
	i := matchPending(list, p.Name(), state)
	if i < 0 {
		return ErrStateMismatch
	}
	pd := list[i]
	list = append(list[:i], list[i+1:]...)
	if len(list) == 0 {
		a.cfg.Sessions.Remove(ctx, pendingKey)
	} else {
		a.cfg.Sessions.Put(ctx, pendingKey, list)
	}
	now := a.cfg.Now()
	if now.Sub(pd.Created) > a.cfg.StateTTL {
		return ErrStateExpired
	}
	if code := q.Get("error"); code != "" {
		return fail(ErrExchange, "", &ProviderError{
			Provider:    p.Name(),
			Code:        code,
			Description: q.Get("error_description"),
			URI:         q.Get("error_uri"),
		})
	}
	code := q.Get("code")
	if code == "" {
		return ErrCodeMissing
	}
	tok, err := p.Exchange(ctx, code, pd.Verifier)
	if err != nil {
		return classifyTokenError(p.Name(), err)
	}
	if tok.AccessToken == "" {
		return fail(ErrProviderUnavailable, "no access token", nil)
	}
	l := loginFromToken(p, tok, now, nil)
	if v, ok := p.(IDTokenVerifier); ok {
		if _, err := v.VerifyIDToken(ctx, l.IDToken, pd.Nonce); err != nil {
			if errors.Is(err, ErrProviderUnavailable) { // the key set could not be fetched
				return err
			}
			return fail(ErrIDToken, "", err)
		}
	}
	if a.cfg.OnLogin != nil {
		if err := a.cfg.OnLogin(ctx, a.info(&l)); err != nil {
			return fail(ErrLoginRejected, "", err)
		}
	}
	if err := a.cfg.Sessions.RenewToken(ctx); err != nil {
		return fail(ErrSession, "renewing session token", err)
	}
	storeLogin(ctx, a.cfg.Sessions, &l)
	// Store the login before answering: a store that is down refuses the
	// callback (503) with nothing stored, instead of failing after the
	// redirect has been written.
	if _, _, err := a.cfg.Sessions.Commit(ctx); err != nil {
		return fail(ErrSession, "storing login", err)
	}
	http.Redirect(w, r, pd.ReturnTo, http.StatusFound)
	return nil
}

// matchPending returns the index of the pending login for provider whose
// state equals state, or -1. Every candidate is compared in constant time.
func matchPending(list []pending, provider, state string) int {
	found := -1
	for i := range list {
		eq := subtle.ConstantTimeCompare([]byte(list[i].State), []byte(state)) == 1
		if eq && list[i].Provider == provider {
			found = i
		}
	}
	return found
}
