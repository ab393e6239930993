package sso

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"
)

// The refresh path. What [Auth.Require] (and [Auth.Client]) may do to a
// session whose access token is due for renewal:
//
//   - call the provider's token endpoint: at most once per token lifetime
//     across every app instance that shares the session store and the
//     [Config.Locker] (a refresh token is never spent twice);
//   - wait for that call, but only when the access token has already
//     expired: a request whose token is still valid goes on at once with it
//     while one shared refresh runs in the background;
//   - remove the login from the session when the provider refuses the
//     refresh ([ErrRefresh]: the customer logs in again), or drop the
//     request's copy of a session that was logged out meanwhile, so that
//     saving it cannot bring the login back.
//
// One refresh per session and instance runs at a time (a flight); every
// request that needs it waits on the flight, each for as long as its own
// context lasts, and no mutex is held over I/O. The flight runs these
// steps inside Locker.Lock(session), each ending the refresh with one
// outcome or handing a login to the next:
//
//	re-read the session → reuse a remembered successor → call the provider → verify → store
//
// Outcomes: fresh (a usable token set), gone (logged out meanwhile),
// refused (the provider refused: log in again), unavailable (the provider,
// the store or the lock could not be reached: try again later). A flight
// logs its failure once, however many requests wait on it.
const (
	// refreshTimeout bounds one refresh's work under the lock: the
	// provider call, verification and storing the result.
	refreshTimeout = 10 * time.Second
	// lockLease is how long a refresh lock outlives a holder that died. It
	// exceeds refreshTimeout, so a live holder always finishes or gives
	// up before its lease passes and nobody else spends its refresh token.
	lockLease = refreshTimeout + 5*time.Second
	// lockWait bounds the wait for another holder of the lock. It exceeds
	// lockLease, so a holder that died is outlived by its waiters.
	lockWait = lockLease + 5*time.Second
	// rotationMemory is how long, past its expiry, a used refresh token's
	// successor is remembered (see rotatedTokens).
	rotationMemory = 10 * time.Minute
	// backoffMin and backoffMax bound the pause after a refresh found the
	// provider or the store unavailable; it doubles with each failure.
	backoffMin = time.Second
	backoffMax = time.Minute
)

// DefaultMaxRefreshes is the number of provider refresh calls one [Auth]
// makes at once when [Config.MaxRefreshes] is zero; further refreshes
// queue for a slot. It is sized so that a storm of 1,000 logins falling
// due together is one provider round trip, not two; each call under way
// holds one connection ([oauthhttp.MaxIdleConnsPerHost] are kept idle
// afterwards, as many) and a few tens of KB.
const DefaultMaxRefreshes = 1024

// outcome is how a refresh ended.
type outcome uint8

const (
	fresh       outcome = iota // a usable token set
	gone                       // the session or its login is gone: logged out
	refused                    // the provider refused: the customer logs in again
	unavailable                // the provider, store or lock failed: try later
	newer                      // the session holds a newer release's login record: left as it is
)

// result is a refresh's outcome, the token set when fresh, and the reason
// otherwise (already logged by the flight).
type result struct {
	out outcome
	l   login
	err error
}

func freshResult(l login) *result { return &result{out: fresh, l: l} }

// flight is one refresh of one session that every request of it waits on
// (the inflight pattern of go-oidc's key set): done is closed when res is set.
type flight struct {
	done chan struct{}
	res  *result
}

// flights are the refreshes running in this instance, by session and
// refresh token, and the sessions whose last refresh found something
// unavailable.
type flights struct {
	mu      sync.Mutex
	running map[string]*flight
	backoff map[string]pause
}

// pause holds back a session's refreshes after a failure.
type pause struct {
	until time.Time
	next  time.Duration
	err   error
}

// maxPaused bounds the backoff memory; a full one is emptied.
const maxPaused = 10000

// currentLogin reads the request session's login into *l, refreshed if it
// is due. provider names the provider of the session's login, also when
// the login ended (a browser logs in again through it). err wraps
// [ErrLoginRequired] when there is no usable login (a dead one is then
// removed from the session), and is another error only when the token has
// expired and could not be refreshed for a reason that may pass. On error
// *l is zero.
//
// The login is written through l rather than returned: it is some 400
// bytes, and each copy on the request path adds to the stack that every
// request's goroutine grows (copying it) when it runs out.
func (a *Auth) currentLogin(ctx context.Context, l *login) (provider string, err error) {
	if !loadLogin(ctx, a.cfg.Sessions, l) {
		return "", ErrLoginRequired
	}
	if l.Expiry.IsZero() {
		// Stored before every login had an expiry: it lasts no longer
		// than one without a stated lifetime does now.
		l.Expiry = l.Obtained.Add(a.cfg.MaxTokenLifetime)
	}
	p, ok := a.providers[l.Provider]
	if !ok {
		*l = login{}
		a.cfg.Sessions.Remove(ctx, loginKey)
		return "", ErrLoginRequired
	}
	now := a.cfg.Now()
	if !a.needsRefresh(l, now) {
		return l.Provider, nil
	}
	return a.refreshDue(ctx, l, p, now)
}

// refreshDue is currentLogin for a login that is due for a refresh.
func (a *Auth) refreshDue(ctx context.Context, l *login, p Provider, now time.Time) (provider string, err error) {
	provider = l.Provider
	valid := l.Expiry.After(now)
	rf, ok := p.(Refresher)
	if !ok || l.refreshToken() == "" {
		if valid {
			return provider, nil
		}
		*l = login{}
		a.cfg.Sessions.Remove(ctx, loginKey)
		return provider, ErrLoginRequired
	}
	sessionToken := a.cfg.Sessions.Token(ctx)
	if err, paused := a.paused(sessionToken, now); paused {
		if valid {
			return provider, nil
		}
		*l = login{}
		return provider, err
	}
	f := a.join(sessionToken, p, rf, l, valid)
	if valid {
		return provider, nil // never wait while the token works
	}
	*l = login{}
	select {
	case <-f.done:
	case <-ctx.Done():
		return provider, fail(ErrProviderUnavailable, "request canceled", ctx.Err())
	}
	switch res := f.res; res.out {
	case fresh:
		*l = res.l
		l.Scopes = slices.Clone(l.Scopes) // shared by every waiter
		return l.Provider, nil
	case gone:
		// Logged out (on any instance) while this request ran: drop the
		// request's copy of the session, so that saving it cannot bring
		// the login back under the old session ID.
		_ = a.cfg.Sessions.Destroy(ctx)
		return provider, ErrLoginRequired
	case newer:
		// An instance of a newer release rewrote the login meanwhile (a
		// rolling deploy): logged out here, as a request that reads such
		// a record is (see loadLogin), and the session is left alone.
		return provider, ErrLoginRequired
	case refused:
		a.cfg.Sessions.Remove(ctx, loginKey)
		return provider, errors.Join(ErrLoginRequired, logged{res.err})
	default:
		return provider, logged{res.err}
	}
}

// logged marks an error a flight has logged already: the request that
// answers it does not log it again.
type logged struct{ error }

func (e logged) Unwrap() error { return e.error }

// needsRefresh reports whether l expires within the refresh margin, which
// is never more than half the token's lifetime.
func (a *Auth) needsRefresh(l *login, now time.Time) bool {
	if l.Expiry.IsZero() {
		return false
	}
	margin := min(a.cfg.RefreshMargin, l.Expiry.Sub(l.Obtained)/2)
	return !now.Before(l.Expiry.Add(-margin))
}

// paused reports whether the session's refreshes are held back after a
// failure, and that failure.
func (a *Auth) paused(sessionToken string, now time.Time) (error, bool) {
	a.flights.mu.Lock()
	defer a.flights.mu.Unlock()
	p, ok := a.flights.backoff[sessionToken]
	if !ok || !now.Before(p.until) {
		return nil, false
	}
	return logged{p.err}, true
}

// join returns the session's running flight, starting one if there is none.
// background: the request that starts it does not wait (its token is still
// valid).
func (a *Auth) join(sessionToken string, p Provider, rf Refresher, stale *login, background bool) *flight {
	// A flight renews one token set: a request that read a newer set than
	// a flight still running (started for an older one, which may answer
	// with the set this request already has) starts its own.
	key := sessionToken + "\x00" + stale.refreshToken()
	a.flights.mu.Lock()
	defer a.flights.mu.Unlock()
	if f, ok := a.flights.running[key]; ok {
		return f
	}
	if a.flights.running == nil {
		a.flights.running = make(map[string]*flight)
	}
	f := &flight{done: make(chan struct{})}
	a.flights.running[key] = f
	go a.fly(f, key, sessionToken, p, rf, *stale, background)
	return f
}

// fly runs one refresh and hands its result to every waiter. It starts from
// a background context, not a request's: the refresh outlives the request
// that started it, and scs's Load returns the session a context already
// carries, so re-reading the store needs a context that carries none.
//
// A background flight first yields the processor: a new goroutine runs
// next on its processor, ahead of requests already waiting for a CPU, and
// a refresh nobody waits for should not delay them.
func (a *Auth) fly(f *flight, key, sessionToken string, p Provider, rf Refresher, stale login, background bool) {
	if background {
		runtime.Gosched()
	}
	ctx := context.Background()
	res := a.safeRefresh(ctx, sessionToken, p, rf, stale)
	a.flights.mu.Lock()
	delete(a.flights.running, key)
	if res.out == unavailable {
		if a.flights.backoff == nil || len(a.flights.backoff) >= maxPaused {
			a.flights.backoff = make(map[string]pause)
		}
		next := max(backoffMin, min(2*a.flights.backoff[sessionToken].next, backoffMax))
		// A copy of the session ID: scs's is a piece of the request's
		// Cookie header, which the map would otherwise keep whole.
		a.flights.backoff[strings.Clone(sessionToken)] = pause{until: a.cfg.Now().Add(next), next: next, err: res.err}
	} else {
		delete(a.flights.backoff, sessionToken)
	}
	a.flights.mu.Unlock()
	f.res = res
	close(f.done)
}

// safeRefresh is refresh, with a panic in a hook, the store, the codec or
// the provider turned into one failed refresh: a refresh runs on a
// goroutine of its own, where a panic would end the process.
func (a *Auth) safeRefresh(ctx context.Context, sessionToken string, p Provider, rf Refresher, stale login) (res *result) {
	defer func() {
		if v := recover(); v != nil {
			err := fail(ErrInternal, "panic during refresh", fmt.Errorf("%v", v))
			a.logPanic(ctx, p.Name(), err, debug.Stack())
			res = &result{out: unavailable, err: err}
		}
	}()
	res = a.refresh(ctx, sessionToken, p, rf, stale)
	if res.err != nil && res.out != gone {
		a.logFailure(ctx, p.Name(), res.err)
	}
	return res
}

// refreshLockKey names the lock of a session's refresh. The session token
// is hashed: lock stores show their keys to whoever looks.
func refreshLockKey(sessionToken string) string {
	sum := sha256.Sum256([]byte(sessionToken))
	return "shopsso/refresh/" + hex.EncodeToString(sum[:16])
}

// refresh renews the session's token set under the session's lock and
// returns the outcome. If the lock cannot be had within lockWait (its store
// is unreachable, or a holder is stuck), the session is re-read once: a
// result another instance stored is used; otherwise the refresh is
// unavailable and the provider is not called, since without the lock
// another instance may be spending the same refresh token.
func (a *Auth) refresh(ctx context.Context, sessionToken string, p Provider, rf Refresher, stale login) *result {
	lctx, cancel := context.WithTimeout(ctx, lockWait)
	unlock, err := a.cfg.Locker.Lock(lctx, refreshLockKey(sessionToken), lockLease)
	cancel()
	if err != nil {
		if _, res := a.reread(ctx, sessionToken, stale); res != nil && res.out != unavailable {
			return res
		}
		err = fail(ErrStoreUnavailable, "refresh lock unavailable", err)
		// Not the session store's guard, which logs store failures: say it
		// here, once per refresh (the session then backs off).
		a.cfg.Logger.LogAttrs(ctx, slog.LevelError, "sso: request refused",
			slog.String("reason", err.Error()), slog.String("provider", p.Name()))
		return &result{out: unavailable, err: err}
	}
	defer unlock()
	ctx, cancel = context.WithTimeout(ctx, refreshTimeout)
	defer cancel()

	cur, res := a.reread(ctx, sessionToken, stale)
	if res != nil {
		return res
	}
	if cur, res = a.reuseSuccessor(ctx, sessionToken, cur); res != nil {
		return res
	}
	nl, res := a.callProvider(ctx, sessionToken, p, rf, cur)
	if res != nil {
		return res
	}
	if err := a.checkRefreshedIDToken(ctx, p, &cur, &nl); err != nil {
		return a.refuse(ctx, sessionToken, err)
	}
	return a.storeRefreshed(ctx, sessionToken, cur.refreshToken(), nl)
}

// reread is step one: the session as it is in the store now. It ends the
// refresh when the session is gone, the store fails, or another request or
// instance has stored a token set that is not due (fresh); else it hands
// on the stored login.
func (a *Auth) reread(ctx context.Context, sessionToken string, stale login) (login, *result) {
	_, cur, res := a.load(ctx, sessionToken)
	if res != nil {
		return login{}, res
	}
	if cur.Provider != stale.Provider || cur.AccessToken != stale.AccessToken && !a.needsRefresh(&cur, a.cfg.Now()) {
		return login{}, freshResult(cur)
	}
	return cur, nil
}

// load reads the session from the store, in a context of its own (see
// [Auth.fly]). Its result is gone when the session or its login is gone,
// newer when the login is a record of a newer release (which loadLogin
// leaves in the session, and a refresh must not destroy or overwrite),
// unavailable when the store fails.
func (a *Auth) load(ctx context.Context, sessionToken string) (context.Context, login, *result) {
	sctx, err := a.cfg.Sessions.Load(ctx, sessionToken)
	if err != nil {
		return nil, login{}, &result{out: unavailable, err: fail(ErrSession, "loading session", err)}
	}
	if a.cfg.Sessions.Token(sctx) == "" {
		return nil, login{}, &result{out: gone, err: errSessionGone}
	}
	var l login
	if !loadLogin(sctx, a.cfg.Sessions, &l) {
		if newerLogin(sctx, a.cfg.Sessions) {
			return nil, login{}, &result{out: newer}
		}
		return nil, login{}, &result{out: gone, err: errSessionGone}
	}
	return sctx, l, nil
}

// errSessionGone is the reason of a gone result (not logged: a logout is
// no failure).
var errSessionGone = errors.New("sso: session gone")

// reuseSuccessor is step two. A request that loaded the session before a
// refresh and saved it afterwards (scs saves whole sessions) wrote the old
// token set back; its refresh token is spent. If this instance remembers
// the set that replaced it, the refresh continues from that set — stored
// at once (fresh) when it is not due — and never spends the dead token.
func (a *Auth) reuseSuccessor(ctx context.Context, sessionToken string, cur login) (login, *result) {
	next, ok := a.rotated.successor(cur.refreshToken(), a.cfg.Now())
	if !ok {
		return cur, nil
	}
	if !a.needsRefresh(&next, a.cfg.Now()) {
		return login{}, a.storeLogin(ctx, sessionToken, next)
	}
	return next, nil
}

// callProvider is step three: one call of the token endpoint, queued
// behind at most [Config.MaxRefreshes] others of this instance. The
// provider's refusal ends the refresh as refused — unless the session now
// holds a newer token set (a holder whose lease ran out stored it), which
// is then used.
func (a *Auth) callProvider(ctx context.Context, sessionToken string, p Provider, rf Refresher, cur login) (login, *result) {
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return login{}, &result{out: unavailable, err: fail(ErrProviderUnavailable, "refresh queue", ctx.Err())}
	}
	tok, err := rf.Refresh(ctx, cur.refreshToken())
	<-a.slots
	if err == nil {
		nl, err := loginFromToken(p, tok, a.cfg.Now(), a.cfg.MaxTokenLifetime, &cur)
		if err != nil {
			return login{}, a.refuse(ctx, sessionToken, fail(ErrRefresh, strings.TrimPrefix(err.Error(), "sso: "), err))
		}
		return nl, nil
	}
	cerr := classifyTokenError(p.Name(), err)
	if !errors.Is(cerr, ErrExchange) {
		return login{}, &result{out: unavailable, err: cerr}
	}
	if _, now, res := a.load(ctx, sessionToken); res == nil && now.refreshToken() != cur.refreshToken() && !a.needsRefresh(&now, a.cfg.Now()) {
		return login{}, freshResult(now)
	}
	return login{}, a.refuse(ctx, sessionToken, fail(ErrRefresh, safeCode(oauthErrorCode(cerr)), cerr))
}

// refuse ends a refresh as refused: the login is removed from the stored
// session, so no instance tries its refresh token again. A newer release's
// login record found there instead is left alone (newer).
func (a *Auth) refuse(ctx context.Context, sessionToken string, err error) *result {
	sctx, _, res := a.load(ctx, sessionToken)
	switch {
	case res == nil:
		a.cfg.Sessions.Remove(sctx, loginKey)
		if _, _, cerr := a.cfg.Sessions.Commit(sctx); cerr != nil {
			a.logFailure(ctx, "", fail(ErrSession, "removing a refused login", cerr))
		}
	case res.out == newer:
		return &result{out: newer, err: err}
	}
	return &result{out: refused, err: err}
}

// checkRefreshedIDToken is step four: an ID token that came with a refresh
// passes the same checks as at login except the nonce, and names the same
// subject as the ID token it replaces (OIDC Core §12.2).
func (a *Auth) checkRefreshedIDToken(ctx context.Context, p Provider, prev, nl *login) error {
	v, ok := p.(IDTokenVerifier)
	if !ok || nl.idToken() == prev.idToken() {
		return nil
	}
	c, err := v.VerifyIDToken(ctx, nl.idToken(), "")
	if err != nil {
		return fail(ErrRefresh, "ID token rejected", err)
	}
	if prev.id.jwt && prev.id.subject != c.Subject() {
		return fail(ErrRefresh, "ID token names another subject", nil)
	}
	return nil
}

// storeRefreshed is step five: remember which set replaced the used
// refresh token, commit the new set to the store at once so that other
// requests and instances find it, and tell [Config.OnRefresh]. The used
// refresh token is dead, so a failed commit still ends fresh: the memory
// of rotated tokens hands the set to the next refresh.
func (a *Auth) storeRefreshed(ctx context.Context, sessionToken, used string, nl login) *result {
	remember := nl.Expiry
	if now := a.cfg.Now(); remember.Before(now) {
		remember = now
	}
	a.rotated.put(used, nl, remember.Add(rotationMemory))
	res := a.storeLogin(ctx, sessionToken, nl)
	if res.out == unavailable {
		a.logFailure(ctx, nl.Provider, res.err)
		res = freshResult(nl)
	}
	if res.out == fresh && a.cfg.OnRefresh != nil {
		a.cfg.OnRefresh(ctx, a.info(&nl))
	}
	return res
}

// storeLogin commits nl to the session in the store — unless the session
// has been destroyed (logged out) meanwhile, which it must not bring back.
func (a *Auth) storeLogin(ctx context.Context, sessionToken string, nl login) *result {
	sctx, _, res := a.load(ctx, sessionToken)
	if res != nil {
		return res
	}
	storeLogin(sctx, a.cfg.Sessions, &nl)
	if _, _, err := a.cfg.Sessions.Commit(sctx); err != nil {
		return &result{out: unavailable, err: fail(ErrSession, "storing refreshed token", err)}
	}
	return freshResult(nl)
}

// hasScope reports whether scope was granted.
func (l *login) hasScope(scope string) bool { return slices.Contains(l.Scopes, scope) }
