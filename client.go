package sso

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Client returns an [http.Client] that calls a store's API as the customer
// of ctx, the context of a request inside LoadAndSave: every request it
// sends carries "Authorization: Bearer <access token>", with the token
// refreshed (and the session updated) first when it is about to expire.
// Requests fail with an error wrapping [ErrLoginRequired] when the session
// has no usable login.
//
// Use it within the request it was made for; the session changes it makes
// are saved when that request's response is written.
func (a *Auth) Client(ctx context.Context) *http.Client {
	return BearerClient(customerSource{a: a, ctx: ctx})
}

// BearerClient returns an [http.Client] that sends src's token in an
// "Authorization: Bearer" header (RFC 6750 §2.1) on every request. It
// follows redirects only within the origin (scheme and host) of the first
// request: a redirect elsewhere is returned to the caller unfollowed, so
// the token never reaches another host.
func BearerClient(src oauth2.TokenSource) *http.Client {
	return &http.Client{Transport: &oauth2.Transport{Source: src}, CheckRedirect: sameOriginRedirect}
}

func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("sso: stopped after 10 redirects")
	}
	if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// customerSource reads the customer's current token from the session.
type customerSource struct {
	a   *Auth
	ctx context.Context
}

func (s customerSource) Token() (*oauth2.Token, error) {
	l, _, err := s.a.safeCurrentLogin(s.ctx)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: l.AccessToken, TokenType: l.TokenType, Expiry: l.Expiry}, nil
}

// CachedTokenSource returns a token source that keeps src's token and
// shares it between goroutines, fetching a new one only when the cached
// token expires within margin (at most half its lifetime). One fetch serves every caller waiting for
// it. now is the clock (nil: [time.Now]).
//
// It is [oauth2.ReuseTokenSourceWithExpiry] with an injectable clock, which
// tests of expiry need.
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
}

func (c *cachedSource) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && (c.expires.IsZero() || c.now().Before(c.expires.Add(-min(c.margin, c.lifetime/2)))) {
		return c.tok, nil
	}
	obtained := c.now()
	tok, err := c.src.Token()
	if err != nil {
		if c.tok != nil && obtained.Before(c.expires) {
			return c.tok, nil // renewal failed early: the cached token still works
		}
		return nil, err
	}
	c.tok = tok
	c.expires = time.Time{}
	if tok.ExpiresIn != 0 {
		c.expires = obtained.Add(time.Duration(tok.ExpiresIn) * time.Second)
	} else if !tok.Expiry.IsZero() {
		c.expires = obtained.Add(time.Until(tok.Expiry))
	}
	c.lifetime = c.expires.Sub(obtained)
	return tok, nil
}
