// Package redislock is an [sso.Locker] in Redis, for app instances that
// share their sessions in Redis: with it, a customer's token set is
// refreshed once per lifetime however many instances serve the customer.
//
// A lock is a Redis key set with SET NX PX (its lease) to a random token,
// through [github.com/bsm/redislock]; it is released by a script that
// deletes the key only while it still holds that token, so a holder whose
// lease has passed cannot free the next holder's lock. A waiter polls with
// exponential backoff (10 ms doubling to 200 ms) until it gets the lock or
// its context ends.
//
// When Redis cannot be reached, Lock fails once its context ends (or at
// once, on a refused connection); [sso.Auth] then serves a still-valid
// token and answers an expired one as a store failure, and never calls
// the provider without the lock.
package redislock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bsm/redislock"
	"github.com/redis/go-redis/v9"

	"github.com/shopsso/sso"
)

// DefaultPrefix is prepended to every lock key when [Options.Prefix] is
// empty.
const DefaultPrefix = "shopsso:lock:"

// releaseTimeout bounds the call that releases a lock. A release that
// fails leaves the lock to its lease.
const releaseTimeout = time.Second

// Options configures [New].
type Options struct {
	// Prefix is prepended to every key. Zero: [DefaultPrefix].
	Prefix string
}

// Locker is an [sso.Locker] in Redis. It is safe for concurrent use.
type Locker struct {
	client *redislock.Client
	prefix string
}

var _ sso.Locker = (*Locker)(nil)

// New returns a Locker whose locks live in the Redis that client talks
// to. client may be shared with the session store.
func New(client redis.UniversalClient, opts Options) *Locker {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Locker{client: redislock.New(client), prefix: opts.Prefix}
}

// Lock blocks until it holds the lock named key or ctx ends; see
// [sso.Locker]. Without a deadline on ctx it waits at most lease.
func (l *Locker) Lock(ctx context.Context, key string, lease time.Duration) (func(), error) {
	lock, err := l.client.Obtain(ctx, l.prefix+key, lease, &redislock.Options{
		RetryStrategy: redislock.ExponentialBackoff(10*time.Millisecond, 200*time.Millisecond),
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = errors.Join(cerr, err)
		}
		return nil, fmt.Errorf("sso/redislock: %w", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		_ = lock.Release(ctx) // ErrLockNotHeld: the lease passed; nothing to free
	}, nil
}
