package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shopsso/sso/internal/locktest"
	"github.com/shopsso/sso/redislock"
)

// TestRedisLocker runs the Locker contract against a real redis-server.
func TestRedisLocker(t *testing.T) {
	opts, err := redis.ParseURL(startRedisServer(t, false).url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	locktest.Run(t, redislock.New(client, redislock.Options{}))
}

// TestRedisLockerUnreachable: with Redis gone, Lock fails within its
// context's deadline instead of hanging, so a refresh is answered (and no
// provider call is made without the lock).
func TestRedisLockerUnreachable(t *testing.T) {
	port, err := freeLoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	l := redislock.New(client, redislock.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	unlock, err := l.Lock(ctx, "k", time.Second)
	if err == nil {
		unlock()
		t.Fatal("Lock succeeded with nothing listening")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Lock took %v to fail, past its context's deadline", d)
	}
	if !strings.HasPrefix(err.Error(), "sso/redislock: ") {
		t.Fatalf("error %q does not name the lock store", err)
	}
}
