package sso

import (
	"bytes"
	"io"
	"net/http"
	"time"
)

const (
	// DefaultTokenTimeout bounds one token-endpoint call when the
	// [http.Client] given to a provider has no Timeout of its own.
	DefaultTokenTimeout = 10 * time.Second
	// MaxTokenResponseBytes caps a token-endpoint response body. A token
	// response holds a few JWTs; anything larger is refused, not parsed.
	MaxTokenResponseBytes = 128 << 10
)

// TokenHTTPClient returns a copy of c (of [http.DefaultClient] when c is
// nil) fit for calling a token endpoint: it never follows redirects (a
// redirected token call could carry a secret or a code elsewhere), it is
// time-boxed by [DefaultTokenTimeout] unless c sets its own Timeout, and it
// refuses response bodies larger than [MaxTokenResponseBytes] with
// [ErrResponseTooLarge]. Providers call it on the client they are given.
func TokenHTTPClient(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cp := *c
	if cp.Timeout == 0 {
		cp.Timeout = DefaultTokenTimeout
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base := cp.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(cappedTransport); !ok {
		cp.Transport = cappedTransport{base: base}
	}
	return &cp
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
	if resp.ContentLength > MaxTokenResponseBytes {
		return nil, ErrResponseTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenResponseBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxTokenResponseBytes {
		return nil, ErrResponseTooLarge
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
