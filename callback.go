package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Length caps of the callback's parameters, in bytes. This package's own
// state is 43 bytes; providers' codes are far below 4 KiB. A longer value is
// refused before it reaches the session, a log or the token endpoint.
const (
	MaxStateLength = 512
	MaxCodeLength  = 4096
)

const (
	// consumeLease bounds how long one callback holds its session's lock:
	// it covers one read and one write of the session store.
	consumeLease = 10 * time.Second
	// consumeWait bounds how long a callback waits for that lock.
	consumeWait = 10 * time.Second
)

// Callback returns the handler for the named provider's redirect URL,
// where the provider sends the customer back with a code (RFC 6749 §4.1.2).
//
// In order, it: answers with Cache-Control: no-store and
// Referrer-Policy: no-referrer; refuses a malformed query — a repeated
// parameter (RFC 6749 §3.1), a state over [MaxStateLength] or a code over
// [MaxCodeLength] bytes ([ErrCallbackSyntax]); finds the pending login whose
// state matches, in this browser's session and for this provider, comparing
// in constant time — a callback that matches none changes nothing, so a
// forged or replayed one cannot cancel the genuine login, and a browser
// whose session holds no login at all is told apart ([ErrNoPendingLogin]);
// consumes that pending login in the session store itself, under the
// session's lock, so that of several concurrent copies of one callback, on
// any number of instances, exactly one goes on (state is single use);
// refuses it if older than [Config.StateTTL]; turns a provider error into
// [ErrAccessDenied] (the customer said no) or [ErrAuthorization]; exchanges
// the code with the PKCE verifier; checks the token response; verifies the
// ID token for OpenID Connect providers; asks [Config.OnLogin]; renews the
// session token (no session fixation); stores the login and redirects to
// the page the login started from.
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
		if err := a.sessionLoaded(r.Context()); err != nil {
			a.report(w, r, provider, err)
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
	q, err := callbackQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	state := q.Get("state")
	if state == "" {
		return ErrStateMissing
	}
	list := a.pendingLogins(ctx)
	if len(list) == 0 {
		return a.noPendingLogin(r)
	}
	if matchPending(list, p.Name(), state) < 0 {
		return fail(ErrStateMismatch, "none of the session's logins in progress has this state for this provider (forged, replayed, another provider's, or dropped for newer ones)", nil)
	}
	pd, err := a.consumePending(ctx, p.Name(), state)
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	if now.Sub(pd.Created) > a.cfg.StateTTL {
		return ErrStateExpired
	}
	if code := q.Get("error"); code != "" {
		pe := &ProviderError{
			Provider:    p.Name(),
			Code:        code,
			Description: q.Get("error_description"),
			URI:         q.Get("error_uri"),
		}
		if code == "access_denied" {
			return fail(ErrAccessDenied, "", pe)
		}
		return fail(ErrAuthorization, "error "+safeCode(code), pe)
	}
	code := q.Get("code")
	if code == "" {
		return ErrCodeMissing
	}
	tok, err := p.Exchange(ctx, code, pd.verifier())
	if err != nil {
		return classifyTokenError(p.Name(), err)
	}
	if tok.AccessToken == "" {
		return fail(ErrProviderUnavailable, "no access token", nil)
	}
	l, err := loginFromToken(p, tok, now, a.cfg.MaxTokenLifetime, nil)
	if err != nil {
		return err
	}
	if v, ok := p.(IDTokenVerifier); ok {
		if _, err := v.VerifyIDToken(ctx, l.idToken(), pd.nonce()); err != nil {
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

// callbackQuery parses the callback's query and refuses what no genuine
// callback carries: a query that does not parse, any repeated parameter
// (RFC 6749 §3.1: "request and response parameters MUST NOT be included
// more than once"), and a state or code longer than its cap.
func callbackQuery(raw string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fail(ErrCallbackSyntax, "query does not parse", nil)
	}
	for name, values := range q {
		if len(values) > 1 {
			return nil, fail(ErrCallbackSyntax, "parameter "+paramForLog(name)+" repeated", nil)
		}
	}
	if len(q.Get("state")) > MaxStateLength {
		return nil, fail(ErrCallbackSyntax, "state longer than "+strconv.Itoa(MaxStateLength)+" bytes", nil)
	}
	if len(q.Get("code")) > MaxCodeLength {
		return nil, fail(ErrCallbackSyntax, "code longer than "+strconv.Itoa(MaxCodeLength)+" bytes", nil)
	}
	return q, nil
}

var paramShape = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// paramForLog quotes a parameter name short and plain enough to log.
func paramForLog(name string) string {
	if paramShape.MatchString(name) {
		return strconv.Quote(name)
	}
	return "(unprintable name)"
}

// noPendingLogin explains a callback for a browser whose session holds no
// login in progress at all — almost always a session cookie that did not
// come back, which no state check can tell the operator.
func (a *Auth) noPendingLogin(r *http.Request) error {
	var reason string
	switch {
	case !hasCookie(r, a.cfg.Sessions.Cookie.Name):
		reason = "no session cookie came back: start the login on the redirect URL's own scheme, host and port " +
			"(localhost and 127.0.0.1 are different sites, as are http and https and another port), " +
			"and keep the cookie SameSite=Lax"
	case a.cfg.Sessions.Token(r.Context()) == "":
		reason = "the session cookie names no stored session: it expired (a login may take Config.StateTTL) " +
			"or the session store lost it"
	default:
		reason = "the session has no login in progress: it already finished, or it was started on another " +
			"scheme, host or port than the redirect URL"
	}
	return fail(ErrNoPendingLogin, reason, ErrStateMismatch)
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

// consumePending removes the pending login for provider and state from the
// session as it is in the store — not only from this request's copy — and
// returns it. The lock on the session (see [Config.Locker]) makes "re-read,
// remove, commit" one step for every instance sharing the store, so of
// several copies of one callback arriving at once exactly one finds the
// pending login and goes on to the token call; the others are refused like
// a replay.
func (a *Auth) consumePending(ctx context.Context, provider, state string) (pending, error) {
	token := a.cfg.Sessions.Token(ctx)
	lctx, cancel := context.WithTimeout(ctx, consumeWait)
	defer cancel()
	unlock, err := a.cfg.Locker.Lock(lctx, "shopsso:callback:"+token, consumeLease)
	if err != nil {
		return pending{}, fail(ErrSession, "waiting for the session's lock", err)
	}
	defer unlock()
	sctx, err := a.cfg.Sessions.Load(withoutValues{ctx}, token)
	if err != nil {
		return pending{}, fail(ErrSession, "loading session", err)
	}
	if a.cfg.Sessions.Token(sctx) == "" {
		return pending{}, fail(ErrStateMismatch, "the session ended while the callback ran", nil)
	}
	stored := a.pendingLogins(sctx)
	i := matchPending(stored, provider, state)
	if i < 0 {
		return pending{}, fail(ErrStateMismatch, "the login was completed by another copy of this callback", nil)
	}
	pd := stored[i]
	a.putPending(sctx, append(stored[:i], stored[i+1:]...))
	if _, _, err := a.cfg.Sessions.Commit(sctx); err != nil {
		return pending{}, fail(ErrSession, "storing the used state", err)
	}
	// This request's own copy, which scs saves at its end, must agree.
	own := a.pendingLogins(ctx)
	if j := matchPending(own, provider, state); j >= 0 {
		a.putPending(ctx, append(own[:j], own[j+1:]...))
	}
	return pd, nil
}

// withoutValues keeps a context's deadline and cancellation but none of its
// values, so that scs's Load reads the session from the store instead of
// returning the request's copy.
type withoutValues struct{ context.Context }

func (withoutValues) Value(any) any { return nil }

// matchPending returns the index of the pending login for provider whose
// state equals state, or -1. Every candidate is compared in constant time.
func matchPending(list []pending, provider, state string) int {
	found := -1
	for i := range list {
		eq := subtle.ConstantTimeCompare([]byte(list[i].state()), []byte(state)) == 1
		if eq && list[i].Provider == provider {
			found = i
		}
	}
	return found
}
