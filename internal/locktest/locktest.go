// Package locktest checks that an [sso.Locker] keeps the contract the
// refresh path relies on. Every Locker of this repository (the in-process
// default, redislock, pglock) runs [Run] in its tests.
package locktest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopsso/sso"
)

// Run checks l against the [sso.Locker] contract. Keys are prefixed with
// t.Name() so that Lockers sharing one store across tests do not collide.
func Run(t *testing.T, l sso.Locker) {
	t.Helper()
	key := func(t *testing.T, k string) string { return "locktest/" + t.Name() + "/" + k }

	t.Run("mutual exclusion", func(t *testing.T) {
		k := key(t, "a")
		var inside, most atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 5 {
					unlock, err := l.Lock(t.Context(), k, 10*time.Second)
					if err != nil {
						t.Errorf("Lock: %v", err)
						return
					}
					n := inside.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					inside.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		if got := most.Load(); got != 1 {
			t.Fatalf("%d holders at once, want 1", got)
		}
	})

	t.Run("other keys are independent", func(t *testing.T) {
		unlock, err := l.Lock(t.Context(), key(t, "a"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		unlock2, err := l.Lock(ctx, key(t, "b"), 10*time.Second)
		if err != nil {
			t.Fatalf("Lock of another key while one is held: %v", err)
		}
		unlock2()
	})

	t.Run("waiting ends with the context", func(t *testing.T) {
		k := key(t, "a")
		unlock, err := l.Lock(t.Context(), k, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := l.Lock(ctx, k, 10*time.Second); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock of a held key: err = %v, want one wrapping context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Lock returned %v after its context ended", d)
		}
	})

	t.Run("unlock frees the key", func(t *testing.T) {
		k := key(t, "a")
		unlock, err := l.Lock(t.Context(), k, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			u, err := l.Lock(ctx, k, 10*time.Second)
			if err == nil {
				u()
			}
			got <- err
		}()
		unlock()
		unlock() // a second call is harmless
		if err := <-got; err != nil {
			t.Fatalf("waiter after unlock: %v", err)
		}
	})

	t.Run("the lease frees a dead holder's lock", func(t *testing.T) {
		k := key(t, "a")
		lease := 300 * time.Millisecond
		stale, err := l.Lock(t.Context(), k, lease)
		if err != nil {
			t.Fatal(err)
		}
		// The holder never unlocks (it died). A waiter gets the lock once
		// the lease has passed, long before its own deadline.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		unlock, err := l.Lock(ctx, k, 10*time.Second)
		if err != nil {
			t.Fatalf("Lock after the holder's lease: %v", err)
		}
		defer unlock()
		if d := time.Since(start); d < lease/2 {
			t.Fatalf("got the lock after %v, before the holder's lease of %v passed", d, lease)
		}
		// The dead holder's late unlock must not free the new holder's lock.
		stale()
		short, cancel2 := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel2()
		if u, err := l.Lock(short, k, 10*time.Second); err == nil {
			u()
			t.Fatal("a stale unlock released the lock of the next holder")
		}
	})
}
