package oauthhttp

import (
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// FailureMemory is how long [CachedTokenSource] answers with the error of
// a failed fetch instead of fetching again, when it has no usable token:
// while the token endpoint is down, callers get its error at once instead
// of one token call each.
const FailureMemory = 5 * time.Second

// CachedTokenSource returns a token source that keeps src's token and
// shares it between goroutines, fetching a new one only when the cached
// token expires within margin (at most half its lifetime). One fetch serves
// every caller waiting for it. A fetch that fails while the cached token is
// still valid keeps that token; one that fails without a usable token is
// remembered for [FailureMemory], and callers get its error without a
// fetch. now is the clock (nil: [time.Now]).
//
// It is [oauth2.ReuseTokenSourceWithExpiry] with an injectable clock, which
// tests of expiry need, and a memory of failures.
func CachedTokenSource(src oauth2.TokenSource, margin time.Duration, now func() time.Time) oauth2.TokenSource {
	if now == nil {
		now = time.Now
	}
	return &cachedSource{src: src, margin: margin, now: now}
}

type cachedSource struct {
	src    oauth2.TokenSource
	margin time.Duration
	now    func() time.Time

	mu       sync.Mutex // held during a fetch, so callers queue behind it
	tok      *oauth2.Token
	expires  time.Time
	lifetime time.Duration
	err      error     // the last fetch's failure, when no token was usable
	errUntil time.Time // when err is forgotten
}

func (c *cachedSource) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.tok != nil && (c.expires.IsZero() || now.Before(c.expires.Add(-min(c.margin, c.lifetime/2)))) {
		return c.tok, nil
	}
	if c.err != nil && now.Before(c.errUntil) {
		if c.tok != nil && now.Before(c.expires) {
			return c.tok, nil
		}
		return nil, c.err
	}
	tok, err := c.src.Token()
	if err != nil {
		// Renewal failed: remember it, and serve the cached token while
		// it still works.
		c.err, c.errUntil = err, now.Add(FailureMemory)
		if c.tok != nil && now.Before(c.expires) {
			return c.tok, nil
		}
		return nil, err
	}
	c.tok, c.err = tok, nil
	c.expires = time.Time{}
	if tok.ExpiresIn != 0 {
		c.expires = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	} else if !tok.Expiry.IsZero() {
		c.expires = now.Add(time.Until(tok.Expiry))
	}
	c.lifetime = c.expires.Sub(now)
	return tok, nil
}
