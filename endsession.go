package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/shopsso/sso/internal/record"
)

// logoutKey is the session key of the logout in progress at a provider.
const logoutKey = "shopsso.logout"

// logoutRecordV1 is the version byte of the logout record.
const logoutRecordV1 = 1

// EndSession tells [Auth.Logout] how to log the customer out at the
// provider too (OpenID Connect RP-Initiated Logout 1.0 §2).
type EndSession struct {
	// Endpoint is the provider's end-session endpoint: discovery's
	// end_session_endpoint or a configured URL.
	Endpoint string
	// ClientID is this app's client ID at the provider, sent as client_id.
	ClientID string
	// PostLogoutRedirectURI is where the provider sends the browser back:
	// the absolute URL at which [Auth.LogoutCallback] is mounted, as
	// registered with the provider.
	PostLogoutRedirectURI string
}

// EndSessioner is implemented by providers that can end the customer's
// session at the provider too. It is opt-in per provider (see the
// provider's own Config): EndSession returns nil and no error when logout
// is to stay local — not configured, or no end-session endpoint is known.
// An error (discovery could not be fetched) is logged and logout stays
// local.
type EndSessioner interface {
	EndSession(ctx context.Context) (*EndSession, error)
}

// errLogoutReturn marks a refused return from a provider's end-session
// endpoint, so that its page says the customer is logged out of the shop.
var errLogoutReturn = errors.New("sso: logout return")

// logoutAtProvider sends the browser, whose local session has just been
// destroyed, to the end-session endpoint of l's provider, if it has one.
// It reports whether it answered the request.
//
// The request carries id_token_hint (the raw ID token, when the login has
// one), client_id, post_logout_redirect_uri and a fresh state, which a new
// session keeps for [Auth.LogoutCallback] to check (§2, §3). The ID token
// thus travels in the URL, as the specification's GET form has it; it
// identifies the customer to the provider that issued it and grants no
// access to anything (its audience is this app).
func (a *Auth) logoutAtProvider(w http.ResponseWriter, r *http.Request, l *login) bool {
	es, ok := a.providers[l.Provider].(EndSessioner)
	if !ok {
		return false
	}
	ctx := r.Context()
	end, err := es.EndSession(ctx)
	if err != nil {
		a.logFailure(ctx, l.Provider, fail(ErrProviderUnavailable, "end-session endpoint unknown, logged out of the app only", err))
		return false
	}
	if end == nil || end.Endpoint == "" {
		return false
	}
	u, err := url.Parse(end.Endpoint)
	if err != nil || !u.IsAbs() {
		a.logFailure(ctx, l.Provider, fail(ErrProviderUnavailable, "end-session endpoint is not an absolute URL, logged out of the app only", err))
		return false
	}
	state := randomString()
	a.cfg.Sessions.Put(ctx, logoutKey, logoutRecord(l.Provider, state, a.cfg.Now()))
	// Like a session holding only pending logins, this one is worth
	// nothing past the state's lifetime (scs's clock, not Config.Now).
	a.cfg.Sessions.SetDeadline(ctx, time.Now().Add(a.cfg.StateTTL))
	q := u.Query()
	if id := l.idToken(); id != "" {
		q.Set("id_token_hint", id)
	}
	if end.ClientID != "" {
		q.Set("client_id", end.ClientID)
	}
	if end.PostLogoutRedirectURI != "" {
		q.Set("post_logout_redirect_uri", end.PostLogoutRedirectURI)
	}
	q.Set("state", state)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return true
}

// logoutRecord encodes the logout in progress: provider, state, started.
func logoutRecord(provider, state string, now time.Time) string {
	w := record.NewWriter(logoutRecordV1, 16+len(provider)+len(state))
	w.String(provider)
	w.String(state)
	w.Time(now)
	return w.Done()
}

// parseLogoutRecord decodes what logoutRecord wrote.
func parseLogoutRecord(s string) (provider, state string, started time.Time, err error) {
	r, version := record.NewReader(s)
	if version != logoutRecordV1 {
		return "", "", time.Time{}, errors.New("sso: unknown logout record version")
	}
	provider, state, started = r.Text(), r.Text(), r.Time()
	return provider, state, started, r.Done()
}

// LogoutCallback returns the handler for the URL a provider's end-session
// endpoint sends the browser back to (the post_logout_redirect_uri of
// [EndSession]). It accepts GET only; it checks that the state is the one
// this browser's logout sent (single use, compared in constant time, no
// older than [Config.StateTTL]) and redirects (303) to
// [Config.AfterLogoutPath]. A return without that state — forged,
// replayed, late, or from a logout this browser did not start — is
// refused (400, [ErrStateMissing], [ErrStateMismatch] or
// [ErrStateExpired]); the customer is logged out of the app either way,
// since [Auth.Logout] ended the session before it left.
func (a *Auth) LogoutCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noStore(w)
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			a.report(w, r, "", ErrMethod)
			return
		}
		provider, err := a.checkLogoutReturn(r)
		if err != nil {
			a.report(w, r, provider, err)
			return
		}
		http.Redirect(w, r, a.cfg.AfterLogoutPath, http.StatusSeeOther)
	})
}

// checkLogoutReturn consumes the logout in progress and checks the
// returned state against it.
func (a *Auth) checkLogoutReturn(r *http.Request) (provider string, err error) {
	ctx := r.Context()
	state := r.URL.Query().Get("state")
	if state == "" {
		return "", fail(ErrStateMissing, "logout return", errLogoutReturn)
	}
	raw, _ := a.cfg.Sessions.Get(ctx, logoutKey).(string)
	if raw == "" {
		return "", fail(ErrStateMismatch, "logout return: no logout in progress", errLogoutReturn)
	}
	a.cfg.Sessions.Remove(ctx, logoutKey) // single use
	provider, want, started, err := parseLogoutRecord(raw)
	switch {
	case err != nil:
		return "", fail(ErrStateMismatch, "logout return: unreadable logout record", errLogoutReturn)
	case subtle.ConstantTimeCompare([]byte(state), []byte(want)) != 1:
		return provider, fail(ErrStateMismatch, "logout return: state differs", errLogoutReturn)
	case a.cfg.Now().Sub(started) > a.cfg.StateTTL:
		return provider, fail(ErrStateExpired, "logout return", errLogoutReturn)
	}
	return provider, nil
}
