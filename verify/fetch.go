package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Defaults for fetching key sets and discovery documents.
const (
	// DefaultMaxBytes caps a key set or discovery document. Real ones are a
	// few kilobytes; a set of many RSA-4096 keys with certificate chains
	// stays well under this.
	DefaultMaxBytes = 512 << 10
	// DefaultTimeout bounds one fetch.
	DefaultTimeout = 10 * time.Second
)

// fetcher makes the GET requests of a [KeySet] or [Discovery]: redirects are
// never followed (a 3xx is [ErrRedirect]), bodies over maxBytes are
// [ErrTooLarge], and only 200 is accepted.
type fetcher struct {
	client   *http.Client
	maxBytes int64
	timeout  time.Duration
}

func newFetcher(c *http.Client, maxBytes int64, timeout time.Duration) fetcher {
	if c == nil {
		c = http.DefaultClient
	}
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
		if cp.Timeout > 0 {
			timeout = cp.Timeout
		}
	}
	return fetcher{client: &cp, maxBytes: maxBytes, timeout: timeout}
}

// errNotFound marks a 404 answer inside an [ErrUnavailable] error.
var errNotFound = errors.New("status 404")

// get fetches url. Every error wraps [ErrUnavailable]; a 404 also wraps
// errNotFound.
func (f fetcher) get(ctx context.Context, what, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: fetching the %s: %w", ErrUnavailable, what, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fmt.Errorf("%w: %s: %w (status %d)", ErrUnavailable, what, ErrRedirect, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: %s: status %d", ErrUnavailable, what, resp.StatusCode)
	case resp.ContentLength > f.maxBytes:
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, ErrTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the %s: %w", ErrUnavailable, what, err)
	}
	if int64(len(body)) > f.maxBytes {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, ErrTooLarge)
	}
	return body, nil
}

// cache holds one fetched value and runs at most one fetch at a time. The
// fetch runs on its own context (the caller's values, not its deadline or
// cancellation), so a client that hangs up cannot make it fail; each waiter
// stops waiting when its own context ends (the model is go-oidc's inflight).
// No lock is held over network I/O.
type cache[T any] struct {
	fetch   func(ctx context.Context) (T, error)
	timeout time.Duration
	now     func() time.Time

	mu        sync.Mutex
	val       T
	have      bool
	fetched   time.Time // last success
	attempted time.Time // last attempt, success or not
	err       error     // last attempt's error, nil after a success
	inflight  *call
}

type call struct {
	done chan struct{}
	err  error
}

// state is a snapshot of a cache.
type state[T any] struct {
	val                T
	have               bool
	fetched, attempted time.Time
	err                error
}

func (c *cache[T]) snapshot() state[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return state[T]{c.val, c.have, c.fetched, c.attempted, c.err}
}

// refresh joins the fetch in flight or starts one, and waits for it or for
// ctx. It returns the fetch's error; on success the new value is in the
// cache.
func (c *cache[T]) refresh(ctx context.Context) error {
	c.mu.Lock()
	cl := c.inflight
	if cl == nil {
		cl = &call{done: make(chan struct{})}
		c.inflight = cl
		go c.run(context.WithoutCancel(ctx), cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, context.Cause(ctx))
	}
}

func (c *cache[T]) run(ctx context.Context, cl *call) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	v, err := c.fetch(ctx)
	cancel()
	now := c.now()
	c.mu.Lock()
	c.attempted, c.err = now, err
	if err == nil {
		c.val, c.have, c.fetched = v, true, now
	}
	c.inflight = nil
	c.mu.Unlock()
	cl.err = err
	close(cl.done)
}
