package sso

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// DefaultStoreTimeout bounds each session-store call when
// [Config.StoreTimeout] is zero.
const DefaultStoreTimeout = time.Second

const (
	// storeLogInterval is how often, at most, "session store unavailable"
	// is logged while the store keeps failing.
	storeLogInterval = time.Minute
	// storeRetryAfter is the Retry-After (RFC 9110 §10.2.3) of a 503 sent
	// because the store failed, in seconds.
	storeRetryAfter = "5"
)

// tombstone is what a destroyed session's record is replaced with: a value
// no codec writes (a gob stream starts with a non-zero message length,
// sessioncodec with its magic byte). The guard
// reports a tombstoned token as not found and refuses to overwrite it.
var tombstone = []byte("\x00shopsso:session-ended\x00")

// storeGuard wraps the session manager's Store (see [New]). It
//   - bounds every call with the store timeout: through the context of a
//     store that takes one ([scs.CtxStore]), by waiting at most that long
//     for any other store (scs's memory store, which cannot block on a
//     network, is called directly);
//   - turns every store failure into [ErrStoreUnavailable] and logs it at
//     most once per storeLogInterval;
//   - makes a destroyed session stay destroyed: Delete replaces the record
//     with a tombstone that lives as long as the session would have, Find
//     reports a tombstone as not found, and Commit refuses to overwrite one
//     ([ErrSessionEnded]). Delete and Commit check and write under the
//     [Locker] lock named after the session, so that holds across every
//     instance that shares the Locker.
type storeGuard struct {
	inner    scs.Store
	ctxInner scs.CtxStore // inner, when it takes a context
	local    bool         // inner is scs's memory store
	sm       *scs.SessionManager
	timeout  time.Duration
	locker   Locker
	log      *slog.Logger
	now      func() time.Time // the log interval's clock

	// failedCommit is the session whose commit failed last, and when: scs
	// commits a session again when the refusal of a failed commit is
	// written, and that second try fails at once rather than waiting for
	// the deadline again.
	failedCommit atomic.Pointer[failedCommit]

	down       atomic.Bool // the last call failed
	mu         sync.Mutex
	lastLog    time.Time // when "unavailable" was last logged
	logged     bool      // it was, and the store has not answered since
	suppressed int       // failures not logged since lastLog
}

var (
	_ scs.CtxStore         = (*storeGuard)(nil)
	_ scs.IterableCtxStore = (*storeGuard)(nil)
)

func newStoreGuard(sm *scs.SessionManager, timeout time.Duration, locker Locker, log *slog.Logger, now func() time.Time) *storeGuard {
	inner := sm.Store
	if g, ok := inner.(*storeGuard); ok { // a second Auth on the same manager
		inner = g.inner
	}
	g := &storeGuard{inner: inner, sm: sm, timeout: timeout, locker: locker, log: log, now: now}
	g.ctxInner, _ = inner.(scs.CtxStore)
	_, g.local = inner.(*memstore.MemStore)
	return g
}

// Unwrap returns the store the guard wraps.
func (g *storeGuard) Unwrap() scs.Store { return g.inner }

// Find implements [scs.Store].
func (g *storeGuard) Find(token string) ([]byte, bool, error) {
	return g.FindCtx(context.Background(), token)
}

// Commit implements [scs.Store].
func (g *storeGuard) Commit(token string, b []byte, expiry time.Time) error {
	return g.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements [scs.Store].
func (g *storeGuard) Delete(token string) error {
	return g.DeleteCtx(context.Background(), token)
}

// FindCtx reports a tombstoned session as not found. It is on the path of
// every request: one store call and a prefix check.
func (g *storeGuard) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	ctx, cancel := g.bound(ctx)
	b, found, err := g.find(ctx, token)
	cancel()
	if err != nil {
		return nil, false, g.failed("finding session", err)
	}
	g.ok()
	if found && bytes.HasPrefix(b, tombstone) {
		return nil, false, nil
	}
	return b, found, nil
}

// CommitCtx stores a session unless it has been destroyed meanwhile; then
// it returns [ErrSessionEnded] and stores nothing.
func (g *storeGuard) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if f := g.failedCommit.Load(); f != nil && f.token == token && time.Since(f.at) < g.timeout {
		return f.err
	}
	err := g.commitChecked(ctx, token, b, expiry)
	if err != nil && errors.Is(err, ErrStoreUnavailable) {
		g.failedCommit.Store(&failedCommit{token: token, at: time.Now(), err: err})
	}
	return err
}

// failedCommit is a commit that failed (see storeGuard.failedCommit).
type failedCommit struct {
	token string
	at    time.Time
	err   error
}

func (g *storeGuard) commitChecked(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ctx, cancel := g.bound(ctx)
	defer cancel()
	unlock, err := g.lock(ctx, token)
	if err != nil {
		return g.failed("locking session", err)
	}
	defer unlock()
	old, found, err := g.find(ctx, token)
	if err != nil {
		return g.failed("finding session", err)
	}
	if found && bytes.HasPrefix(old, tombstone) {
		g.ok()
		return ErrSessionEnded
	}
	if err := g.commit(ctx, token, b, expiry); err != nil {
		return g.failed("storing session", err)
	}
	g.ok()
	return nil
}

// DeleteCtx replaces a stored session with a tombstone that expires when
// the session would have (its codec deadline), so that no copy of it still
// held by a request can be saved again. A session that is not stored, or
// already a tombstone, is left as it is.
func (g *storeGuard) DeleteCtx(ctx context.Context, token string) error {
	if g.isEmptyToken(token) {
		return nil // a session that was never stored
	}
	ctx, cancel := g.bound(ctx)
	defer cancel()
	unlock, err := g.lock(ctx, token)
	if err != nil {
		return g.failed("locking session", err)
	}
	defer unlock()
	old, found, err := g.find(ctx, token)
	if err != nil {
		return g.failed("finding session", err)
	}
	if !found || bytes.HasPrefix(old, tombstone) {
		g.ok()
		return nil
	}
	until := time.Now().Add(g.sm.Lifetime)
	if deadline, _, err := g.sm.Codec.Decode(old); err == nil && !deadline.IsZero() {
		until = deadline
	}
	if err := g.commit(ctx, token, tombstone, until); err != nil {
		return g.failed("ending session", err)
	}
	g.ok()
	return nil
}

// All implements [scs.IterableStore] when the wrapped store does.
func (g *storeGuard) All() (map[string][]byte, error) { return g.AllCtx(context.Background()) }

// AllCtx implements [scs.IterableCtxStore] when the wrapped store iterates;
// tombstones are left out.
func (g *storeGuard) AllCtx(ctx context.Context) (map[string][]byte, error) {
	var (
		m   map[string][]byte
		err error
	)
	switch s := g.inner.(type) {
	case scs.IterableCtxStore:
		ctx, cancel := g.bound(ctx)
		defer cancel()
		m, err = s.AllCtx(ctx)
	case scs.IterableStore:
		m, err = s.All()
	default:
		return nil, fmt.Errorf("sso: session store %T does not support iteration", g.inner)
	}
	if err != nil {
		return nil, g.failed("listing sessions", err)
	}
	for k, b := range m {
		if bytes.HasPrefix(b, tombstone) {
			delete(m, k)
		}
	}
	return m, nil
}

// bound gives ctx the store deadline. The memory store gets none: it
// answers from memory and cannot hang on a network.
func (g *storeGuard) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if g.local {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, g.timeout)
}

// lock takes the Locker lock named after the session; its lease outlasts
// the store deadline, so it is held while the bounded calls run.
func (g *storeGuard) lock(ctx context.Context, token string) (func(), error) {
	return g.locker.Lock(ctx, sessionLockKey(token), 2*g.timeout)
}

// sessionLockKey names the lock of the session stored under token. The
// token is hashed: lock stores show their keys to whoever looks.
func sessionLockKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "shopsso/session/" + hex.EncodeToString(sum[:16])
}

func (g *storeGuard) find(ctx context.Context, token string) ([]byte, bool, error) {
	switch {
	case g.ctxInner != nil:
		return g.ctxInner.FindCtx(ctx, token)
	case g.local:
		return g.inner.Find(token)
	}
	type found struct {
		b  []byte
		ok bool
	}
	r, err := wait(ctx, func() (found, error) {
		b, ok, err := g.inner.Find(token)
		return found{b, ok}, err
	})
	return r.b, r.ok, err
}

// commit stores b under token. The token scs passes is usually a piece of
// the request's Cookie header, which a store that keeps it as a key (scs's
// memory store does) would keep alive whole for the session's lifetime, a
// few KB with a shop's other cookies; the store gets a copy of its own.
func (g *storeGuard) commit(ctx context.Context, token string, b []byte, expiry time.Time) error {
	token = strings.Clone(token)
	switch {
	case g.ctxInner != nil:
		return g.ctxInner.CommitCtx(ctx, token, b, expiry)
	case g.local:
		return g.inner.Commit(token, b, expiry)
	}
	_, err := wait(ctx, func() (struct{}, error) { return struct{}{}, g.inner.Commit(token, b, expiry) })
	return err
}

// wait runs call, a store call that takes no context, and waits for it
// until ctx ends. A call still running then is left to finish on its own;
// a panic in it becomes an error.
func wait[T any](ctx context.Context, call func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("sso: session store panicked: %v", p)}
			}
		}()
		v, err := call()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// isEmptyToken reports whether token is what scs passes for a session that
// has no token yet (the empty string, or its hash with HashTokenInStore).
func (g *storeGuard) isEmptyToken(token string) bool {
	return token == "" || (g.sm.HashTokenInStore && token == emptyTokenHash)
}

// emptyTokenHash is scs's hash of the empty token (SHA-256, base64url).
var emptyTokenHash = func() string {
	h := sha256.Sum256(nil)
	return base64.RawURLEncoding.EncodeToString(h[:])
}()

// failed wraps a store failure in [ErrStoreUnavailable] and logs it, at
// most once per storeLogInterval.
func (g *storeGuard) failed(op string, err error) error {
	if errors.Is(err, ErrSessionEnded) {
		return err
	}
	reason := op + ": error"
	if errors.Is(err, context.DeadlineExceeded) {
		reason = op + ": timeout"
	}
	g.down.Store(true)
	now := g.now()
	g.mu.Lock()
	logIt := g.lastLog.IsZero() || now.Sub(g.lastLog) >= storeLogInterval
	suppressed := g.suppressed
	if logIt {
		g.lastLog, g.logged, g.suppressed = now, true, 0
	} else {
		g.suppressed++
	}
	g.mu.Unlock()
	if logIt {
		// The error's type only: a store's error text may hold a key,
		// which is a session token unless HashTokenInStore is set.
		g.log.LogAttrs(context.Background(), slog.LevelError, "sso: session store unavailable",
			slog.String("reason", reason), slog.String("error_type", fmt.Sprintf("%T", err)),
			slog.Int("not_logged_since_last", suppressed))
	}
	return fail(ErrStoreUnavailable, reason, err)
}

// ok notes a store call that succeeded: after a logged outage, it logs
// once that the store answers again.
func (g *storeGuard) ok() {
	if !g.down.Load() || !g.down.CompareAndSwap(true, false) {
		return
	}
	g.mu.Lock()
	logged, suppressed := g.logged, g.suppressed
	g.logged, g.suppressed = false, 0
	g.mu.Unlock()
	if logged {
		g.log.LogAttrs(context.Background(), slog.LevelInfo, "sso: session store available again",
			slog.Int("not_logged_since_last", suppressed))
	}
}
