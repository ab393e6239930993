package sso

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/shopsso/sso/sessioncodec"
)

const (
	// refreshTimeout bounds one refresh, however many requests wait on it.
	refreshTimeout = 15 * time.Second
	// staleWait is how long a request whose token is still valid waits for
	// a refresh before going on with the old token.
	staleWait = 2 * time.Second
	// newerWait is how long to look for a token set stored by another
	// request or instance after the provider refused a refresh token.
	newerWait = time.Second
	// rotationMemory is how long, past its expiry, a used refresh token's
	// successor is remembered (see rotatedTokens).
	rotationMemory = 10 * time.Minute
)

// errSessionGone marks a refresh that found the session, or its login,
// gone from the store: the customer logged out meanwhile.
var errSessionGone = errors.New("sso: session gone")

// errNoNewer: no newer token set turned up after a refused refresh.
var errNoNewer = errors.New("sso: no newer token set")

// currentLogin returns the request session's login, refreshed if it is
// about to expire. It returns an error wrapping [ErrLoginRequired] when
// there is no usable login (and then removes a dead one from the session),
// and another error only when the token has expired and could not be
// refreshed for a reason that may pass (the provider is down).
func (a *Auth) currentLogin(ctx context.Context) (login, error) {
	// A session the codec would store differently now (unsealed, or in
	// an older format) is saved again at the end of this request.
	a.cfg.Sessions.Remove(ctx, sessioncodec.RewriteKey)
	l, ok := loadLogin(ctx, a.cfg.Sessions)
	if !ok {
		return login{}, ErrLoginRequired
	}
	p, ok := a.providers[l.Provider]
	if !ok {
		a.cfg.Sessions.Remove(ctx, loginKey)
		return login{}, ErrLoginRequired
	}
	now := a.cfg.Now()
	if !a.needsRefresh(&l, now) {
		return l, nil
	}
	valid := l.Expiry.After(now)
	rf, ok := p.(Refresher)
	if !ok || l.RefreshToken == "" {
		if valid {
			return l, nil
		}
		a.cfg.Sessions.Remove(ctx, loginKey)
		return l, ErrLoginRequired
	}
	nl, err := a.refreshLogin(ctx, p, rf, l, valid)
	switch {
	case err == nil:
		return nl, nil
	case errors.Is(err, errSessionGone):
		// Logged out (on any instance) while this request ran: drop the
		// request's copy of the session, so that saving it cannot bring
		// the login back under the old session ID.
		_ = a.cfg.Sessions.Destroy(ctx)
		return l, ErrLoginRequired
	case errors.Is(err, ErrRefresh):
		a.logFailure(ctx, l.Provider, err)
		a.cfg.Sessions.Remove(ctx, loginKey)
		return l, ErrLoginRequired
	case valid:
		// The provider is down or slow: keep serving the old token.
		a.logFailure(ctx, l.Provider, err)
		return l, nil
	default:
		return l, err
	}
}

// needsRefresh reports whether l expires within the refresh margin, which
// is never more than half the token's lifetime.
func (a *Auth) needsRefresh(l *login, now time.Time) bool {
	if l.Expiry.IsZero() {
		return false
	}
	margin := min(a.cfg.RefreshMargin, l.Expiry.Sub(l.Obtained)/2)
	return !now.Before(l.Expiry.Add(-margin))
}

// refreshLogin renews l. All requests of one session that arrive while a
// refresh is running share it (one provider call), which stores the result
// in the session store itself. The result is not put into this request's
// copy of the session: saving that copy at the end of the request could
// bring back a session logged out in the meantime. When valid is true, the
// request waits at most [staleWait] and then goes on with the old token
// while the refresh finishes.
func (a *Auth) refreshLogin(ctx context.Context, p Provider, rf Refresher, l login, valid bool) (login, error) {
	sessionToken := a.cfg.Sessions.Token(ctx)
	ch := a.refresh.DoChan(sessionToken, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
		defer cancel()
		return a.doRefresh(rctx, p, rf, l, sessionToken)
	})
	var timeout <-chan time.Time
	if valid {
		t := time.NewTimer(staleWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return l, res.Err
		}
		nl := res.Val.(login)
		nl.Scopes = slices.Clone(nl.Scopes) // shared by every waiter
		return nl, nil
	case <-timeout:
		return l, fail(ErrProviderUnavailable, "refresh still running", nil)
	case <-ctx.Done():
		return l, fail(ErrProviderUnavailable, "request canceled", ctx.Err())
	}
}

// doRefresh looks at the stored session first (another request or app
// instance may have refreshed already), then calls the provider, and stores
// the new token set at once so others find it.
func (a *Auth) doRefresh(ctx context.Context, p Provider, rf Refresher, stale login, sessionToken string) (login, error) {
	_, fresh, err := a.reload(ctx, sessionToken)
	if err != nil {
		return stale, err
	}
	if fresh.AccessToken != stale.AccessToken && fresh.Provider == stale.Provider && !a.needsRefresh(&fresh, a.cfg.Now()) {
		return fresh, nil
	}
	if next, ok := a.rotated.successor(fresh.RefreshToken, a.cfg.Now()); ok {
		// A stale copy of the session was written back after a refresh:
		// continue from the newest token set, never the dead refresh token.
		if !a.needsRefresh(&next, a.cfg.Now()) {
			return a.store(ctx, sessionToken, next)
		}
		fresh = next
	}
	used := fresh.RefreshToken
	tok, err := rf.Refresh(ctx, used)
	if err != nil {
		cerr := classifyTokenError(p.Name(), err)
		if !errors.Is(cerr, ErrExchange) {
			return stale, cerr
		}
		// Refused: if the token was used by another instance, its result
		// shows up in the store soon; otherwise the login is over.
		nl, err := a.awaitNewer(ctx, sessionToken, used)
		if err == nil {
			return nl, nil
		}
		if errors.Is(err, errSessionGone) {
			return stale, err
		}
		return stale, fail(ErrRefresh, safeCode(oauthErrorCode(cerr)), cerr)
	}
	nl := loginFromToken(p, tok, a.cfg.Now(), &fresh)
	if err := a.checkRefreshedIDToken(ctx, p, &fresh, &nl); err != nil {
		return stale, err
	}
	remember := nl.Expiry
	if now := a.cfg.Now(); remember.Before(now) {
		remember = now
	}
	a.rotated.put(used, nl, remember.Add(rotationMemory))
	if nl, err = a.store(ctx, sessionToken, nl); err != nil {
		if errors.Is(err, errSessionGone) {
			return nl, err
		}
		// The used refresh token is dead: keep the new set regardless; the
		// rotated-token memory hands it to the next request.
		a.logFailure(ctx, p.Name(), err)
	}
	if a.cfg.OnRefresh != nil {
		a.cfg.OnRefresh(ctx, a.info(&nl))
	}
	return nl, nil
}

// checkRefreshedIDToken verifies an ID token that came with a refresh: the
// same checks as at login except the nonce, and the same subject as the ID
// token it replaces (OIDC Core §12.2).
func (a *Auth) checkRefreshedIDToken(ctx context.Context, p Provider, prev, nl *login) error {
	v, ok := p.(IDTokenVerifier)
	if !ok || nl.IDToken == prev.IDToken {
		return nil
	}
	c, err := v.VerifyIDToken(ctx, nl.IDToken, "")
	if err != nil {
		return fail(ErrRefresh, "ID token rejected", err)
	}
	if prev.id.jwt && prev.id.subject != c.Subject() {
		return fail(ErrRefresh, "ID token names another subject", nil)
	}
	return nil
}

// store commits nl to the session in the store at once, so that other
// requests and instances find it — unless the session has been destroyed
// (logged out) meanwhile, which it must not bring back.
func (a *Auth) store(ctx context.Context, sessionToken string, nl login) (login, error) {
	sctx, _, err := a.reload(ctx, sessionToken)
	if err != nil {
		return nl, err
	}
	storeLogin(sctx, a.cfg.Sessions, &nl)
	if _, _, err := a.cfg.Sessions.Commit(sctx); err != nil {
		return nl, fail(ErrSession, "storing refreshed token", err)
	}
	return nl, nil
}

// reload reads the session as it is in the store now, in a context of its
// own. It fails with [ErrRefresh] when the session is gone (logged out).
func (a *Auth) reload(ctx context.Context, sessionToken string) (context.Context, login, error) {
	sctx, err := a.cfg.Sessions.Load(ctx, sessionToken)
	if err != nil {
		return nil, login{}, fail(ErrSession, "loading session", err)
	}
	if a.cfg.Sessions.Token(sctx) == "" {
		return nil, login{}, fail(ErrRefresh, "session ended", errSessionGone)
	}
	l, ok := loadLogin(sctx, a.cfg.Sessions)
	if !ok {
		return nil, login{}, fail(ErrRefresh, "logged out", errSessionGone)
	}
	return sctx, l, nil
}

// awaitNewer polls the store for a token set whose refresh token is not
// used, for at most [newerWait]. It fails with errSessionGone when the
// session disappears, and with errNoNewer when nothing newer turns up.
func (a *Auth) awaitNewer(ctx context.Context, sessionToken, used string) (login, error) {
	deadline := time.Now().Add(newerWait)
	for pause := 10 * time.Millisecond; ; pause = min(pause*2, 200*time.Millisecond) {
		_, l, err := a.reload(ctx, sessionToken)
		if err != nil {
			return login{}, err
		}
		if l.RefreshToken != used {
			return l, nil
		}
		if time.Now().Add(pause).After(deadline) {
			return login{}, errNoNewer
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return login{}, ctx.Err()
		}
	}
}

// hasScope reports whether scope was granted.
func (l *login) hasScope(scope string) bool { return slices.Contains(l.Scopes, scope) }
