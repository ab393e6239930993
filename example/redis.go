package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/redis/go-redis/v9"
)

// storeTimeout bounds every session-store call, in the store's client and
// in shopsso (sso.Config.StoreTimeout): a store that is down, paused or slow
// costs a request this long at most, and it gets 503 with Retry-After.
const storeTimeout = time.Second

// redisStore returns an scs store in the Redis at url, so several instances
// of the app share sessions, and a function that closes its client.
//
// The client gives up on a command at the caller's deadline (the store
// timeout) rather than at its own, longer socket timeouts; it retries a
// command once on a fresh connection, so connections that died with a
// restarted Redis cost no failed request; and it drops connections idle
// for a while, which a restart or a firewall may have cut.
func redisStore(url string) (scs.Store, func(), error) {
	opts, err := redisOptions(url)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	return goredisstore.New(client), func() { client.Close() }, nil
}

// redisOptions are the client options of every Redis client of the app
// (the session store's, the Locker's): see redisStore.
func redisOptions(url string) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = storeTimeout
	opts.ReadTimeout = storeTimeout
	opts.WriteTimeout = storeTimeout
	opts.PoolTimeout = storeTimeout
	opts.MaxRetries = 1
	opts.DialerRetries = 1 // a refused dial is not retried past the deadline
	opts.ConnMaxIdleTime = 30 * time.Second
	// go-redis logs every failed dial: one line per request while Redis is
	// down. shopsso logs the outage itself, once a minute.
	redis.SetLogger(quietRedisLog{})
	return opts, nil
}

// quietRedisLog drops go-redis's own log lines (see redisStore).
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}
