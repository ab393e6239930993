package sso

import (
	"context"
	"errors"
	"slices"
	"time"
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
	// rotationMemory is how long a used refresh token's successor is
	// remembered (see rotatedTokens).
	rotationMemory = 10 * time.Minute
)

// currentLogin returns the request session's login, refreshed if it is
// about to expire. It returns an error wrapping [ErrLoginRequired] when
// there is no usable login (and then removes a dead one from the session),
// and another error only when the token has expired and could not be
// refreshed for a reason that may pass (the provider is down).
func (a *Auth) currentLogin(ctx context.Context) (login, error) {
	l, ok := loadLogin(ctx, a.sm)
	if !ok {
		return login{}, ErrLoginRequired
	}
	p, ok := a.providers[l.Provider]
	if !ok {
		a.sm.Remove(ctx, loginKey)
		return login{}, ErrLoginRequired
	}
	now := a.now()
	if !a.needsRefresh(&l, now) {
		return l, nil
	}
	valid := l.Expiry.After(now)
	rf, ok := p.(Refresher)
	if !ok || l.RefreshToken == "" {
		if valid {
			return l, nil
		}
		a.sm.Remove(ctx, loginKey)
		return l, ErrLoginRequired
	}
	nl, err := a.refreshLogin(ctx, p, rf, l, valid)
	switch {
	case err == nil:
		return nl, nil
	case errors.Is(err, ErrRefresh):
		a.logFailure(ctx, l.Provider, err)
		a.sm.Remove(ctx, loginKey)
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
	margin := min(a.refreshMargin, l.Expiry.Sub(l.Obtained)/2)
	return !now.Before(l.Expiry.Add(-margin))
}

// refreshLogin renews l. All requests of one session that arrive while a
// refresh is running share it (one provider call); the result is put into
// this request's session too. When valid is true, the request waits at most
// [staleWait] and then goes on with the old token while the refresh finishes.
func (a *Auth) refreshLogin(ctx context.Context, p Provider, rf Refresher, l login, valid bool) (login, error) {
	sessionToken := a.sm.Token(ctx)
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
		a.sm.Put(ctx, loginKey, nl)
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
	sctx, fresh, err := a.reload(ctx, sessionToken)
	if err != nil {
		return stale, err
	}
	if fresh.AccessToken != stale.AccessToken && fresh.Provider == stale.Provider && !a.needsRefresh(&fresh, a.now()) {
		return fresh, nil
	}
	used := fresh.RefreshToken
	if next, ok := a.rotated.successor(used, a.now()); ok && !a.needsRefresh(&next, a.now()) {
		// A stale copy of the session was written back after we refreshed.
		return a.store(sctx, stale, next)
	}
	tok, err := rf.Refresh(ctx, used)
	if err != nil {
		cerr := classifyTokenError(p.Name(), err)
		if !errors.Is(cerr, ErrExchange) {
			return stale, cerr
		}
		// Refused: if the token was used by another instance, its result
		// shows up in the store soon; otherwise the login is over.
		if nl, ok := a.awaitNewer(ctx, sessionToken, used); ok {
			return nl, nil
		}
		return stale, fail(ErrRefresh, safeCode(oauthErrorCode(cerr)), cerr)
	}
	nl := loginFromToken(p, tok, a.now(), &fresh)
	a.rotated.put(used, nl, a.now().Add(rotationMemory))
	if _, err := a.store(sctx, stale, nl); err != nil {
		// The used refresh token is dead: keep the new set regardless. The
		// requests waiting on this refresh put it into their sessions, which
		// LoadAndSave saves at their end.
		a.logFailure(ctx, p.Name(), err)
	}
	if a.onRefresh != nil {
		a.onRefresh(ctx, a.info(&nl))
	}
	return nl, nil
}

// store puts nl into the session loaded in sctx and commits it at once, so
// other requests and instances find it. On failure it returns stale.
func (a *Auth) store(sctx context.Context, stale, nl login) (login, error) {
	a.sm.Put(sctx, loginKey, nl)
	if _, _, err := a.sm.Commit(sctx); err != nil {
		return stale, fail(ErrSession, "storing refreshed token", err)
	}
	return nl, nil
}

// reload reads the session as it is in the store now, in a context of its
// own. It fails with [ErrRefresh] when the session is gone (logged out).
func (a *Auth) reload(ctx context.Context, sessionToken string) (context.Context, login, error) {
	sctx, err := a.sm.Load(ctx, sessionToken)
	if err != nil {
		return nil, login{}, fail(ErrSession, "loading session", err)
	}
	if a.sm.Token(sctx) == "" {
		return nil, login{}, fail(ErrRefresh, "session ended", nil)
	}
	l, ok := loadLogin(sctx, a.sm)
	if !ok {
		return nil, login{}, fail(ErrRefresh, "logged out", nil)
	}
	return sctx, l, nil
}

// awaitNewer polls the store for a token set whose refresh token is not
// used, for at most [newerWait].
func (a *Auth) awaitNewer(ctx context.Context, sessionToken, used string) (login, bool) {
	deadline := time.Now().Add(newerWait)
	for pause := 10 * time.Millisecond; ; pause = min(pause*2, 200*time.Millisecond) {
		_, l, err := a.reload(ctx, sessionToken)
		if err != nil {
			return login{}, false
		}
		if l.RefreshToken != used {
			return l, true
		}
		if time.Now().Add(pause).After(deadline) {
			return login{}, false
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return login{}, false
		}
	}
}

// hasScope reports whether scope was granted.
func (l *login) hasScope(scope string) bool { return slices.Contains(l.Scopes, scope) }
