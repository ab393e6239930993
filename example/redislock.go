package main

import (
	"github.com/redis/go-redis/v9"

	"github.com/shopsso/sso"
	"github.com/shopsso/sso/redislock"
)

// redisLocker returns a Locker in the Redis at url, so that instances
// sharing sessions there refresh a customer's token set once per lifetime
// between them, and a function that closes its client. Its client gives up
// at the caller's deadline, as the session store's does (redisOptions).
func redisLocker(url string) (sso.Locker, func(), error) {
	opts, err := redisOptions(url)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	return redislock.New(client, redislock.Options{}), func() { client.Close() }, nil
}
