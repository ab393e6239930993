package sso

import (
	"sync"
	"time"
)

// maxRotated bounds the rotated-token memory; a full one is emptied.
const maxRotated = 10000

// rotatedTokens remembers, for a while, which token set replaced a used
// refresh token. scs writes a whole session at the end of each request, so
// a request that loaded the session before a refresh and changed it for
// another reason writes the old token set back. Without this memory the
// next refresh would spend the dead refresh token and log the customer out;
// with it, the successor is reused and no provider call is made.
type rotatedTokens struct {
	mu sync.Mutex
	m  map[string]rotation
}

type rotation struct {
	next  login
	until time.Time
}

func (r *rotatedTokens) put(used string, next login, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) >= maxRotated {
		r.m = make(map[string]rotation)
	}
	r.m[used] = rotation{next: next, until: until}
}

// successor returns the newest token set that replaced used, following a
// chain of rotations, if it is remembered and not past its time.
func (r *rotatedTokens) successor(used string, now time.Time) (login, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out login
	found := false
	for range 16 { // a chain longer than this is not worth following
		rot, ok := r.m[used]
		if !ok || now.After(rot.until) {
			break
		}
		out, found = rot.next, true
		used = rot.next.refreshToken()
	}
	return out, found
}
