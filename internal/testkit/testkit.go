// Package testkit is the test support that the modules of this repository
// share instead of copying: a settable clock, a log buffer, a cookie-jar
// browser client and both providers configured against the ssotest
// stand-in. It is for tests only; nothing outside tests imports it.
package testkit

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"
	"time"

	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/ssotest"
)

// Clock is a settable clock, safe for concurrent use, to share between an
// app (sso.Config.Now) and the stand-in (ssotest.Options.Now).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to the current time, truncated to the
// second (JWT times are whole seconds).
func NewClock() *Clock { return &Clock{now: time.Now().Truncate(time.Second)} }

// NewClockAt returns a Clock set to t, for tests that need a fixed date.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// LogBuffer collects log output (an slog handler's, a process's) from
// concurrent writers.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Browser returns a client with a cookie jar of its own that follows
// redirects, as a browser does, with a 30-second timeout per request.
func Browser(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// NoFollow returns a client sharing c's cookies and timeout that stops at
// redirects, to look at them.
func NoFollow(c *http.Client) *http.Client {
	return &http.Client{Jar: c.Jar, Timeout: c.Timeout, Transport: c.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// ProviderConfigs returns the configurations of both providers for an app
// served at base (e.g. "http://127.0.0.1:34567"), against stand: the
// registered clients, redirect URLs base+"/auth/{istores,multicart}/callback",
// the stand-in's endpoints (Multicart's issuer and key set come from its
// discovery document), and Istores' products:read and customers:read
// scopes. Tests change what they need before New.
func ProviderConfigs(stand *ssotest.Server, base string) (istores.Config, multicart.Config) {
	ie, me := stand.Istores(), stand.Multicart()
	return istores.Config{
			ClientID: ie.Client.ID, ClientSecret: ie.Client.Secret,
			RedirectURL: base + "/auth/istores/callback",
			Scopes:      []string{istores.ScopeProductsRead, istores.ScopeCustomersRead},
			AuthURL:     ie.AuthURL, TokenURL: ie.TokenURL,
		}, multicart.Config{
			ClientID: me.Client.ID, ClientSecret: me.Client.Secret,
			RedirectURL: base + "/auth/multicart/callback",
			AuthURL:     me.AuthURL, TokenURL: me.TokenURL, // issuer and keys through discovery
		}
}

// Providers builds both providers from [ProviderConfigs], after edit (nil:
// none) has changed the configurations, and fails tb if either is refused.
func Providers(tb testing.TB, stand *ssotest.Server, base string, edit func(*istores.Config, *multicart.Config)) (*istores.Provider, *multicart.Provider) {
	tb.Helper()
	ic, mc := ProviderConfigs(stand, base)
	if edit != nil {
		edit(&ic, &mc)
	}
	ist, err := istores.New(ic)
	if err != nil {
		tb.Fatalf("istores: %v", err)
	}
	mcp, err := multicart.New(mc)
	if err != nil {
		tb.Fatalf("multicart: %v", err)
	}
	return ist, mcp
}
