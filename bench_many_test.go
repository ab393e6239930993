package sso

// BenchmarkRequireManySessions: the cost of a logged-in request, and the
// memory of a session, as the number of logged-in customers grows.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/oauth2"

	"github.com/shopsso/sso/sessioncodec"
	"github.com/shopsso/sso/ssotest"
)

// benchMinter makes distinct tokens for many customers. Signing 200,000
// RS256 tokens would take about ten minutes on the benchmark machine (3 ms
// each), so each customer's tokens are the stand-in's signed templates with
// the customer's own "sub", "jti" and "sid" in the payload, keeping the
// template's header and signature: the same size and shape as the tokens
// the stand-in issues at login, but only the templates' signatures verify.
// Nothing on the logged-in request path checks a signature (tokens were
// verified at login), so that path does exactly what it does for real
// tokens.
type benchMinter struct {
	access, id string // signed templates
}

func newBenchMinter(stand *ssotest.Server) *benchMinter {
	now := time.Now()
	return &benchMinter{
		access: stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{
			"scope": strings.Join(benchScopes, " "),
			"azp":   ssotest.DefaultMulticartClient().ID,
			"sid":   randomString()[:22],
			"jti":   randomString()[:22],
			"sub":   "customer-0000000",
		}),
		id: stand.IssueIDToken(map[string]any{
			"nonce":     randomString(),
			"sid":       randomString()[:22],
			"sub":       "customer-0000000",
			"auth_time": now.Unix(),
		}),
	}
}

// mint returns template with the payload's claims overridden.
func (m *benchMinter) mint(template string, claims map[string]any) string {
	parts := strings.Split(template, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		panic(err)
	}
	mc := map[string]any{}
	if err := json.Unmarshal(payload, &mc); err != nil {
		panic(err)
	}
	for k, v := range claims {
		mc[k] = v
	}
	if payload, err = json.Marshal(mc); err != nil {
		panic(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

// tokens returns customer i's token response.
func (m *benchMinter) tokens(i int) *oauth2.Token {
	sub := fmt.Sprintf("customer-%07d", i)
	now := time.Now()
	tok := &oauth2.Token{
		AccessToken:  m.mint(m.access, map[string]any{"sub": sub, "jti": randomString()[:22], "sid": randomString()[:22], "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		TokenType:    "Bearer",
		RefreshToken: randomString(),
		ExpiresIn:    3600,
	}
	return tok.WithExtra(map[string]any{
		"id_token": m.mint(m.id, map[string]any{"sub": sub, "sid": randomString()[:22], "nonce": randomString(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}),
		"scope":    strings.Join(benchScopes, " "),
	})
}

// benchLoginProvider is a Multicart-shaped provider whose code exchange
// hands out the minter's tokens for the next customer, without a network
// round trip.
type benchLoginProvider struct {
	minter *benchMinter
	mu     sync.Mutex
	next   int
}

func (p *benchLoginProvider) Name() string { return ssotest.ProviderMulticart }

// VerifyIDToken makes the provider one that verifies ID tokens, as
// Multicart is: the ID tokens of a provider that verifies none are dropped.
// The minter's tokens are the stand-in's, so reading them is enough here;
// the checks themselves are measured in package verify.
func (p *benchLoginProvider) VerifyIDToken(_ context.Context, raw, _ string) (*Claims, error) {
	return ParseClaims(raw)
}

func (p *benchLoginProvider) AuthCodeURL(ap AuthParams) string {
	return "https://id.example/authorize?" + url.Values{"state": {ap.State}, "code_challenge": {ap.CodeChallenge}}.Encode()
}

func (p *benchLoginProvider) Exchange(_ context.Context, code, verifier string) (*oauth2.Token, error) {
	if code == "" || verifier == "" {
		return nil, fmt.Errorf("no code or verifier")
	}
	p.mu.Lock()
	i := p.next
	p.next++
	p.mu.Unlock()
	return p.minter.tokens(i), nil
}

// benchCustomers is a session manager with n customers logged in through
// Login and Callback, and what their sessions cost in memory.
type benchCustomers struct {
	sm       *scs.SessionManager
	auth     *Auth
	cookies  []string // each customer's Cookie header
	heapPer  float64  // live heap per session, bytes, all-in
	storedB  float64  // mean encoded session size
	perLogin time.Duration
}

var (
	benchCustomersMu    sync.Mutex
	benchCustomersCache = map[string]*benchCustomers{}
)

// benchLogins returns n customers logged in with codec, made once per
// process and kept for later runs of the same benchmark (-count).
func benchLogins(tb testing.TB, n int, codec scs.Codec, codecName string) *benchCustomers {
	tb.Helper()
	key := fmt.Sprint(n, codecName)
	benchCustomersMu.Lock()
	defer benchCustomersMu.Unlock()
	if c, ok := benchCustomersCache[key]; ok {
		return c
	}
	stand := ssotest.NewServer(ssotest.Options{})
	minter := newBenchMinter(stand)
	stand.Close()

	sm := scs.New()
	sm.Codec = codec
	a, err := New(Config{
		Sessions:       sm,
		Providers:      []Provider{&benchLoginProvider{minter: minter}},
		Logger:         slog.New(slog.DiscardHandler),
		InsecureCookie: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	start := sm.LoadAndSave(a.Login(ssotest.ProviderMulticart))
	callback := sm.LoadAndSave(a.Callback(ssotest.ProviderMulticart))
	c := &benchCustomers{sm: sm, auth: a, cookies: make([]string, n)}
	cookieName := sm.Cookie.Name
	// The Cookie headers are the browsers' part, not the server's: they go
	// into one block allocated before the heap is first read, so the
	// heap's growth is the server's alone.
	const maxToken = 64 // scs's session IDs are 43 characters
	arena := make([]byte, 0, n*(len(cookieName)+1+maxToken))

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	began := time.Now()
	for i := range n {
		w := httptest.NewRecorder()
		start.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/auth/multicart/login?return_to=/account", nil))
		res := w.Result()
		loc, err := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusFound || err != nil || len(res.Cookies()) != 1 {
			tb.Fatalf("login %d: status %d", i, res.StatusCode)
		}
		r := httptest.NewRequest(http.MethodGet, "/auth/multicart/callback?code=c&state="+url.QueryEscape(loc.Query().Get("state")), nil)
		r.AddCookie(res.Cookies()[0])
		w = httptest.NewRecorder()
		callback.ServeHTTP(w, r)
		res = w.Result()
		if res.StatusCode != http.StatusFound || len(res.Cookies()) != 1 {
			tb.Fatalf("callback %d: status %d %s", i, res.StatusCode, w.Body)
		}
		value := res.Cookies()[0].Value
		if len(value) > maxToken {
			tb.Fatalf("session ID of %d characters", len(value))
		}
		at := len(arena)
		arena = append(append(append(arena, cookieName...), '='), value...)
		c.cookies[i] = unsafe.String(&arena[at], len(arena)-at)
	}
	c.perLogin = time.Since(began) / time.Duration(n)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	c.heapPer = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
	total := 0
	for _, s := range c.cookies {
		data, found, err := sm.Store.Find(strings.TrimPrefix(s, cookieName+"="))
		if err != nil || !found {
			tb.Fatal("a session is missing from the store")
		}
		total += len(data)
	}
	c.storedB = float64(total) / float64(n)
	benchCustomersCache[key] = c
	return c
}

// BenchmarkRequireManySessions serves logged-in requests, each from a
// customer picked at random among n logged in (distinct tokens per
// customer, see benchMinter), through LoadAndSave → Require → a handler that
// reads the access token, its claims and the ID token's claims. The
// sessions are in scs's memory store, written by sessioncodec.Codec. It also reports the live heap per logged-in session
// (heap-B/session: everything the logins left on the heap, store included,
// over n) and the mean stored size. sessions=1 is the reference: the
// target is sessions=100000 within 1.2× of it.
func BenchmarkRequireManySessions(b *testing.B) {
	for _, codec := range []struct {
		name  string
		codec scs.Codec
	}{{"", sessioncodec.Codec{}}} {
		for _, n := range []int{1, 10000, 100000} {
			b.Run(fmt.Sprintf("%ssessions=%d", codec.name, n), func(b *testing.B) {
				c := benchLogins(b, n, codec.codec, codec.name)
				h := c.sm.LoadAndSave(c.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					tok, ok := TokenFromContext(r.Context())
					ac, aok := ClaimsFromContext(r.Context())
					ic, iok := IDClaimsFromContext(r.Context())
					if !ok || !aok || !iok || ac.Subject() == "" || ac.Subject() != ic.Subject() {
						http.Error(w, "no login in the context", http.StatusInternalServerError)
						return
					}
					benchSink += len(tok.AccessToken) + len(tok.Scopes) + len(ic.Email()) + int(ac.Expiry().Unix()&1)
					_, _ = w.Write(benchBody)
				})))
				benchManySessions(b, c, h)
			})
		}
	}
}

// BenchmarkSCSManySessions is BenchmarkRequireManySessions without this
// package on the request path: the same customers' sessions in the same
// memory store, served by a session manager of scs's own (no store guard).
// With codec=sessioncodec its handler reads the login as
// BenchmarkSCSBaseline's does; with codec=none the codec decodes nothing
// (emptyCodec), so all that is left is scs and its memory store finding
// the session. What either loses from sessions=1 to sessions=100000 is
// scs's and its store's, and Require, which runs inside LoadAndSave,
// inherits it.
func BenchmarkSCSManySessions(b *testing.B) {
	for _, codec := range []string{"sessioncodec", "none"} {
		for _, n := range []int{1, 10000, 100000} {
			b.Run(fmt.Sprintf("codec=%s/sessions=%d", codec, n), func(b *testing.B) {
				c := benchLogins(b, n, sessioncodec.Codec{}, "")
				plain := scs.New()
				plain.Store = c.sm.Store.(*storeGuard).inner
				var h http.Handler
				if codec == "none" {
					plain.Codec = emptyCodec{deadline: time.Now().Add(24 * time.Hour)}
					h = plain.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						benchSink += len(plain.GetString(r.Context(), "v"))
						_, _ = w.Write(benchBody)
					}))
				} else {
					plain.Codec = c.sm.Codec
					h = plain.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						var l login
						if !loadLogin(r.Context(), plain, &l) || l.AccessToken == "" {
							http.Error(w, "no login in the session", http.StatusInternalServerError)
							return
						}
						benchSink += len(l.AccessToken) + len(l.Scopes) + len(l.id.email)
						_, _ = w.Write(benchBody)
					}))
				}
				benchManySessions(b, c, h)
			})
		}
	}
}

// benchManySessions serves h to c's customers, one picked at random per
// request, and reports the session metrics.
func benchManySessions(b *testing.B, c *benchCustomers, h http.Handler) {
	b.Helper()
	n := len(c.cookies)
	// The Cookie headers, back to back in one block of memory
	// (they are the same length): a real request arrives in a
	// fresh buffer, so the harness should not add cache misses
	// of its own by chasing one allocation per customer.
	width := len(c.cookies[0])
	arena := make([]byte, 0, n*width)
	for _, s := range c.cookies {
		if len(s) != width {
			b.Fatal("session cookies differ in length")
		}
		arena = append(arena, s...)
	}
	cookie := []string{""}
	header := http.Header{"Cookie": cookie}
	base := *httptest.NewRequest(http.MethodGet, "/account", nil)
	base.Header = header
	bw := benchWriter{h: http.Header{}}
	rng := rand.New(rand.NewPCG(1, 2))
	serve := func() {
		i := rng.IntN(n)
		cookie[0] = unsafe.String(&arena[i*width], width)
		r := base
		clear(bw.h)
		bw.code = 0
		h.ServeHTTP(&bw, &r)
		if bw.code != http.StatusOK {
			b.Fatalf("status %d", bw.code)
		}
	}
	serve()
	benchLoop(b, serve)
	b.ReportMetric(c.heapPer, "heap-B/session")
	b.ReportMetric(c.storedB, "stored-B")
}
