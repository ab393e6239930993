package oauthhttp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"
)

const (
	// DefaultTimeout bounds one token-endpoint call when the
	// [http.Client] given to [TokenClient] has no Timeout of its own.
	DefaultTimeout = 10 * time.Second
	// MaxResponseBytes caps a token-endpoint response body. A token
	// response holds a few JWTs; anything larger is refused, not parsed.
	MaxResponseBytes = 128 << 10
	// MaxIdleConnsPerHost is how many idle connections to the token
	// endpoint the transport [TokenClient] makes keeps. A refresh storm
	// (many customers' tokens expiring together) then reuses connections
	// instead of opening one per call, which the standard transport's
	// default of 2 would do. It matches the root package's
	// DefaultMaxRefreshes, the provider refresh calls one Auth makes at
	// once, so every connection of a storm can be kept for the next one.
	MaxIdleConnsPerHost = 1024
)

// ErrResponseTooLarge: a token response exceeded [MaxResponseBytes].
var ErrResponseTooLarge = errors.New("sso: token response too large")

// TokenClient returns a copy of c (of [http.DefaultClient] when c is nil)
// fit for calling a token endpoint: it never follows redirects (a
// redirected token call could carry a secret or a code elsewhere), it is
// time-boxed by [DefaultTimeout] unless c sets its own Timeout, and it
// refuses response bodies larger than [MaxResponseBytes] with
// [ErrResponseTooLarge]. When c has no Transport of its own, the copy gets
// a transport of its own like [http.DefaultTransport] that keeps
// [MaxIdleConnsPerHost] idle connections. Providers call it on the client
// they are given.
func TokenClient(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cp := *c
	if cp.Timeout == 0 {
		cp.Timeout = DefaultTimeout
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := cp.Transport
	if base == nil {
		base = pooledTransport()
	}
	if _, ok := base.(cappedTransport); !ok {
		cp.Transport = cappedTransport{base: base}
	}
	return &cp
}

// pooledTransport is a clone of [http.DefaultTransport] (proxy from the
// environment, dial and TLS timeouts, HTTP/2) that keeps more idle
// connections per host.
func pooledTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport // replaced by the program: leave it be
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.MaxIdleConns = max(t.MaxIdleConns, MaxIdleConnsPerHost)
	return t
}

// cappedTransport reads each response body whole, up to the cap, so that an
// oversized body fails the round trip itself with an error callers can
// recognise, instead of being silently truncated and misparsed.
type cappedTransport struct{ base http.RoundTripper }

func (t cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxResponseBytes {
		return nil, ErrResponseTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxResponseBytes {
		return nil, ErrResponseTooLarge
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
