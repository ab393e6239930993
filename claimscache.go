package sso

import "sync"

// maxCachedClaims bounds the claim cache. A full cache is emptied and
// refilled rather than tracked entry by entry: decoding a token again costs
// a few microseconds, once.
const maxCachedClaims = 10000

// claimCache maps a token to its decoded claims so a logged-in request does
// not decode its JWT again. This is safe because claims are a pure function
// of the token string, and tokens only reach the cache from the session,
// which only holds what the token endpoint returned.
type claimCache struct {
	mu sync.RWMutex
	m  map[string]*Claims
}

// get returns the claims of token, or nil when token is not a JWT.
func (c *claimCache) get(token string) *Claims {
	c.mu.RLock()
	cl, ok := c.m[token]
	c.mu.RUnlock()
	if ok {
		return cl
	}
	cl, err := ParseClaims(token)
	if err != nil {
		cl = nil // remember the failure too; it will not change
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedClaims {
		c.m = make(map[string]*Claims)
	}
	c.m[token] = cl
	c.mu.Unlock()
	return cl
}
