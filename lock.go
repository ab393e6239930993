package sso

import (
	"context"
	"sync"
	"time"
)

// Locker serializes work on one key across every app instance that shares it.
//
// [Auth] takes the lock named after a session around "re-read the session,
// refresh its token set, store the result", so that a refresh token is
// spent once however many instances serve the session's requests. Set it
// through [Config.Locker]; the zero value is [NewLocalLocker], which
// serializes within one process only. Instances that share a session store
// need a Locker in a shared store too: module
// github.com/shopsso/sso/redislock (Redis) or github.com/shopsso/sso/pglock
// (PostgreSQL).
type Locker interface {
	// Lock blocks until it holds the lock named key or ctx ends. The lock is
	// held until unlock is called or lease has passed, whichever comes
	// first; the lease frees a lock whose holder died. unlock may be
	// called after the lease has passed.
	Lock(ctx context.Context, key string, lease time.Duration) (unlock func(), err error)
}

// NewLocalLocker returns a [Locker] whose locks live in this process: the
// default of [Config.Locker], right for a single app instance. A holder
// that does not unlock within its lease loses the lock to the next waiter,
// as with a shared store.
func NewLocalLocker() Locker { return &localLocker{held: make(map[string]*localLock)} }

type localLocker struct {
	mu   sync.Mutex
	held map[string]*localLock
}

// localLock is one held lock; freed is closed when it is released, by
// unlock or by the lease's timer, whichever comes first.
type localLock struct {
	freed chan struct{}
	timer *time.Timer
}

func (l *localLocker) Lock(ctx context.Context, key string, lease time.Duration) (func(), error) {
	for {
		l.mu.Lock()
		cur, busy := l.held[key]
		if !busy {
			own := &localLock{freed: make(chan struct{})}
			l.held[key] = own
			own.timer = time.AfterFunc(lease, func() { l.release(key, own) })
			l.mu.Unlock()
			return func() { l.release(key, own) }, nil
		}
		l.mu.Unlock()
		select {
		case <-cur.freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release frees own if it still holds key; a second call, or a call after
// the lease has handed the lock to someone else, does nothing.
func (l *localLocker) release(key string, own *localLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] != own {
		return
	}
	delete(l.held, key)
	own.timer.Stop()
	close(own.freed)
}
