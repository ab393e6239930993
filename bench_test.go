package sso

// Benchmarks of the logged-in request path, run with
//
//	go test -run '^$' -bench . -benchmem .
//
// Every benchmark serves the same realistic session: a Multicart login with
// an RS256 access token signed by the ssotest stand-in (about 1 KB, with the
// claims Multicart sends), an opaque refresh token, an ID token, an expiry
// one hour ahead and six scopes, kept in scs's memory store. Each iteration
// builds a new request carrying the session cookie and a new recorder, as a
// server would, and serves it through scs's LoadAndSave. BENCHMARKS.md has
// the results and what they mean; the peers are compared in ./bench.

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/oauth2"

	"github.com/shopsso/sso/oauthhttp"
	"github.com/shopsso/sso/sessioncodec"
	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

// benchScopes are the six scopes of the benchmark login: Multicart's
// documented default set.
var benchScopes = []string{"email", "profile", "openid", "roles", "offline_access", "multicart.api"}

// benchBody is what every benchmark handler writes.
var benchBody = []byte("ok\n")

// benchSink keeps the compiler from discarding what handlers read.
var benchSink int

// benchFixture is a stand-in provider and a login it issued.
type benchFixture struct {
	stand *ssotest.Server
	login login
}

func newBenchFixture(tb testing.TB) *benchFixture {
	tb.Helper()
	stand := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	tb.Cleanup(stand.Close)
	now := time.Now()
	access := stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{
		"scope":     strings.Join(benchScopes, " "),
		"auth_time": now.Unix(),
		"nbf":       now.Unix(),
		"azp":       ssotest.DefaultMulticartClient().ID,
		"sid":       oauth2.GenerateVerifier()[:22],
		"email":     "customer-1@example.com",
		"roles":     []string{"customer", "wholesale"},
		"shop_id":   "shop-20417",
	})
	id := stand.IssueIDToken(map[string]any{"nonce": oauth2.GenerateVerifier()})
	fx := &benchFixture{stand: stand, login: login{
		Provider:     ssotest.ProviderMulticart,
		AccessToken:  access,
		TokenType:    "Bearer",
		RefreshToken: oauth2.GenerateVerifier(), // opaque, as the stand-in issues them
		IDToken:      id,
		Expiry:       now.Add(time.Hour),
		Obtained:     now,
		Scopes:       append([]string(nil), benchScopes...),
	}}
	fx.login.decodeClaims()
	return fx
}

// benchProvider is a minimal Multicart client for the stand-in (the real
// one, providers/multicart, imports this package): its authorize URL
// format, a PKCE code exchange without secret, and ID-token verification
// against the stand-in's JWKS.
type benchProvider struct {
	ep       ssotest.Endpoints
	redirect string
	client   *http.Client
	oauth    oauth2.Config
	ids      *verify.Verifier
}

func newBenchProvider(stand *ssotest.Server, transport http.RoundTripper) *benchProvider {
	ep := stand.Multicart()
	p := &benchProvider{
		ep:       ep,
		redirect: "http://app.test/auth/multicart/callback",
		client:   oauthhttp.TokenClient(&http.Client{Transport: transport}),
	}
	p.oauth = oauth2.Config{
		ClientID:    ep.Client.ID,
		RedirectURL: p.redirect,
		Endpoint:    oauth2.Endpoint{AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
	keys, err := verify.NewKeySet(verify.KeySetConfig{URL: ep.JWKSURL, HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		panic(err)
	}
	if p.ids, err = verify.New(verify.Config{Issuer: ep.Issuer, Audience: ep.Client.ID, Keys: keys}); err != nil {
		panic(err)
	}
	return p
}

func (p *benchProvider) Name() string { return ssotest.ProviderMulticart }

func (p *benchProvider) RequestedScopes() []string { return append([]string(nil), benchScopes...) }

func (p *benchProvider) AuthCodeURL(ap AuthParams) string {
	q := url.Values{
		"application":           {p.ep.Client.ID},
		"return":                {p.redirect},
		"scope":                 {strings.Join(benchScopes, " ")},
		"state":                 {ap.State},
		"code_challenge":        {ap.CodeChallenge},
		"code_challenge_method": {"S256"},
		"nonce":                 {ap.Nonce},
	}
	return p.ep.AuthURL + "?" + q.Encode()
}

func (p *benchProvider) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	return p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
}

func (p *benchProvider) VerifyIDToken(ctx context.Context, raw, nonce string) (*Claims, error) {
	if _, err := p.ids.IDToken(ctx, raw, nonce); err != nil {
		return nil, err
	}
	return ParseClaims(raw)
}

// benchApp is an application on one session manager, with fx's login in a
// session of its store.
type benchApp struct {
	sm     *scs.SessionManager
	auth   *Auth
	cookie *http.Cookie
	bare   http.Handler // no session
	scs    http.Handler // LoadAndSave → handler reading the login from the session
	sso    http.Handler // LoadAndSave → Require → handler
	// handler reads the token and the claims' subject from the context.
	handler http.Handler
}

// newBenchApp uses scs's default configuration (gob codec, memory store),
// with codec instead of gob unless it is nil.
func newBenchApp(tb testing.TB, fx *benchFixture, codec scs.Codec) *benchApp {
	tb.Helper()
	sm := scs.New()
	if codec != nil {
		sm.Codec = codec
	}
	// The baseline is scs alone: its own manager on the same store and
	// codec, without the store guard New puts around sm.Store.
	plain := scs.New()
	plain.Codec, plain.Store = sm.Codec, sm.Store
	a, err := New(Config{
		Sessions:       sm,
		Providers:      []Provider{newBenchProvider(fx.stand, nil)},
		Logger:         slog.New(slog.DiscardHandler),
		InsecureCookie: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	app := &benchApp{sm: sm, auth: a}
	app.cookie = benchPutLogin(tb, sm, fx.login)
	app.bare = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(benchBody)
	})
	app.scs = plain.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var l login
		ok := loadLogin(r.Context(), plain, &l)
		if !ok || l.AccessToken == "" {
			http.Error(w, "no login in the session", http.StatusInternalServerError)
			return
		}
		benchSink += len(l.AccessToken) + len(l.Scopes)
		_, _ = w.Write(benchBody)
	}))
	app.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := TokenFromContext(r.Context())
		c, cok := ClaimsFromContext(r.Context())
		if !ok || !cok || c.Subject() == "" {
			http.Error(w, "no login in the context", http.StatusInternalServerError)
			return
		}
		benchSink += len(tok.AccessToken) + len(tok.Scopes) + len(c.Subject())
		_, _ = w.Write(benchBody)
	})
	app.sso = sm.LoadAndSave(a.Require(app.handler))
	return app
}

// benchPutLogin stores l in a new session through a setup request and
// returns the session cookie.
func benchPutLogin(tb testing.TB, sm *scs.SessionManager, l login) *http.Cookie {
	tb.Helper()
	h := sm.LoadAndSave(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		storeLogin(r.Context(), sm, &l)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	for _, c := range w.Result().Cookies() {
		if c.Name == sm.Cookie.Name {
			return c
		}
	}
	tb.Fatal("the setup request set no session cookie")
	return nil
}

// benchClient is one logged-in client. Its request is built once and
// copied (shallowly, as a server hands each handler a request of its own)
// for every iteration, and its ResponseWriter is reset rather than
// recreated, so that the harness costs little next to what is measured.
type benchClient struct {
	base http.Request
	w    benchWriter
}

func newBenchClient(cookie *http.Cookie) *benchClient {
	r := httptest.NewRequest(http.MethodGet, "/account", nil)
	r.AddCookie(cookie)
	return &benchClient{base: *r, w: benchWriter{h: http.Header{}}}
}

// get serves one logged-in GET through h and reports whether it got 200.
func (c *benchClient) get(h http.Handler) bool {
	r := c.base
	clear(c.w.h)
	c.w.code = 0
	h.ServeHTTP(&c.w, &r)
	return c.w.code == http.StatusOK
}

// benchWriter is a ResponseWriter that keeps the status and drops the body.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *benchWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

func benchServe(b *testing.B, h http.Handler, cookie *http.Cookie) {
	b.Helper()
	c := newBenchClient(cookie)
	if !c.get(h) {
		b.Fatal("the request was not answered 200")
	}
	benchLoop(b, func() {
		if !c.get(h) {
			b.Fatal("the request was not answered 200")
		}
	})
}

// benchLoop runs op in b.Loop, reporting allocations and, besides wall
// time, the process's CPU time per op (cpu-ns/op).
func benchLoop(b *testing.B, op func()) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, ok := benchProcessCPU()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	if cpu1, ok1 := benchProcessCPU(); ok && ok1 && n > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(n), "cpu-ns/op")
	}
}

// benchProcessCPU returns the CPU time (user and system, all threads) this
// process has used, read from /proc/self/stat in clock ticks of 10ms: on a
// shared machine it does not grow while other processes hold the CPU, as
// wall time does. Over a benchmark of a second the tick costs about 1%.
// It reports false where there is no /proc (the metric is then left out).
func benchProcessCPU() (time.Duration, bool) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the first, utime the 12th, stime the 13th.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const userHZ = 100 // USER_HZ, fixed by the Linux ABI
	return time.Duration(utime+stime) * (time.Second / userHZ), true
}

// benchReportSession reports the bytes app's session takes in the store.
// Call it after the timed loop: b.ResetTimer drops reported metrics.
func benchReportSession(b *testing.B, app *benchApp) {
	b.Helper()
	data, found, err := app.sm.Store.Find(app.cookie.Value)
	if err != nil || !found {
		b.Fatalf("session not in the store: %v", err)
	}
	b.ReportMetric(float64(len(data)), "stored-B")
}

// BenchmarkBare is the floor of the harness: a copied request, a reset
// writer and a handler that writes the body, with no session at all.
func BenchmarkBare(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), nil)
	benchServe(b, app.bare, app.cookie)
}

// BenchmarkSCSBaseline is scs's default configuration (gob codec, memory
// store) with a handler that reads the login straight from the session:
// what any scs application pays before this package does anything.
func BenchmarkSCSBaseline(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), nil)
	benchServe(b, app.scs, app.cookie)
	benchReportSession(b, app)
}

// BenchmarkSCSBaselineFastCodec is the baseline with sm.Codec = sessioncodec.Codec{}.
func BenchmarkSCSBaselineFastCodec(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), sessioncodec.Codec{})
	benchServe(b, app.scs, app.cookie)
	benchReportSession(b, app)
}

// BenchmarkRequireLoggedIn is the same request through LoadAndSave →
// Require → a handler reading the token and the claims' subject from the
// context, with scs's default configuration.
func BenchmarkRequireLoggedIn(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), nil)
	benchServe(b, app.sso, app.cookie)
	benchReportSession(b, app)
}

// BenchmarkRequireLoggedInFastCodec is BenchmarkRequireLoggedIn with
// sm.Codec = sessioncodec.Codec{}.
func BenchmarkRequireLoggedInFastCodec(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), sessioncodec.Codec{})
	benchServe(b, app.sso, app.cookie)
	benchReportSession(b, app)
}

// benchSealed is a sealing codec with a fixed key, for benchmarks.
func benchSealed(tb testing.TB) sessioncodec.Codec {
	tb.Helper()
	key := make([]byte, sessioncodec.KeySize)
	for i := range key {
		key[i] = byte(i)
	}
	c, err := sessioncodec.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkSCSBaselineSealedCodec is the baseline with a sealing
// sessioncodec.Codec (AES-256-GCM).
func BenchmarkSCSBaselineSealedCodec(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), benchSealed(b))
	benchServe(b, app.scs, app.cookie)
	benchReportSession(b, app)
}

// BenchmarkRequireLoggedInSealedCodec is BenchmarkRequireLoggedIn with a
// sealing sessioncodec.Codec: every request opens the sealed session.
func BenchmarkRequireLoggedInSealedCodec(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), benchSealed(b))
	benchServe(b, app.sso, app.cookie)
	benchReportSession(b, app)
}

// BenchmarkClaims compares decoding the access token's claims on every
// request (ParseClaims) with the cached ClaimsFromContext that Require's
// handlers use.
func BenchmarkClaims(b *testing.B) {
	fx := newBenchFixture(b)
	ctx := withLogin(context.Background(), fx.login)
	b.Run("ParseClaims", func(b *testing.B) {
		benchLoop(b, func() {
			c, err := ParseClaims(fx.login.AccessToken)
			if err != nil {
				b.Fatal(err)
			}
			benchSink += len(c.Subject())
		})
	})
	b.Run("ClaimsFromContext", func(b *testing.B) {
		benchLoop(b, func() {
			c, ok := ClaimsFromContext(ctx)
			if !ok {
				b.Fatal("no claims")
			}
			benchSink += len(c.Subject())
		})
	})
	b.Run("TokenFromContext", func(b *testing.B) {
		benchLoop(b, func() {
			t, ok := TokenFromContext(ctx)
			if !ok {
				b.Fatal("no token")
			}
			benchSink += len(t.AccessToken)
		})
	})
}

// BenchmarkLoginCompletion is a whole login against the stand-in: the
// login handler, the provider's approval (an HTTP round trip), and the
// callback (a token call over loopback HTTP, ID-token verification, session
// renewal and commit). "oauth2" is the bare equivalent with
// golang.org/x/oauth2 alone: the same approval and code exchange with
// PKCE, and no session, state or ID-token checks. Both are dominated by
// the stand-in, which runs in this process and signs two RS256 tokens per
// login; cpu-ns/op counts its work too.
func BenchmarkLoginCompletion(b *testing.B) {
	fx := newBenchFixture(b)
	transport := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(transport.CloseIdleConnections)
	noFollow := &http.Client{Transport: transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	approve := func(b *testing.B, authURL string) *url.URL {
		resp, err := noFollow.Get(authURL)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound || u.Query().Get("code") == "" {
			b.Fatalf("approval: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		return u
	}

	b.Run("sso", func(b *testing.B) {
		for _, bc := range []struct {
			name  string
			codec scs.Codec
		}{{"codec=gob", nil}, {"codec=fast", sessioncodec.Codec{}}} {
			b.Run(bc.name, func(b *testing.B) {
				sm := scs.New()
				if bc.codec != nil {
					sm.Codec = bc.codec
				}
				a, err := New(Config{
					Sessions:       sm,
					Providers:      []Provider{newBenchProvider(fx.stand, transport)},
					Logger:         slog.New(slog.DiscardHandler),
					InsecureCookie: true,
				})
				if err != nil {
					b.Fatal(err)
				}
				start := sm.LoadAndSave(a.Login(ssotest.ProviderMulticart))
				callback := sm.LoadAndSave(a.Callback(ssotest.ProviderMulticart))
				benchLoop(b, func() {
					w := httptest.NewRecorder()
					start.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/auth/multicart/login?return_to=/account", nil))
					res := w.Result()
					if res.StatusCode != http.StatusFound || len(res.Cookies()) != 1 {
						b.Fatalf("login: status %d", res.StatusCode)
					}
					back := approve(b, res.Header.Get("Location"))
					r := httptest.NewRequest(http.MethodGet, back.String(), nil)
					r.AddCookie(res.Cookies()[0])
					w = httptest.NewRecorder()
					callback.ServeHTTP(w, r)
					if w.Code != http.StatusFound || w.Header().Get("Location") != "/account" {
						b.Fatalf("callback: status %d", w.Code)
					}
				})
			})
		}
	})

	b.Run("oauth2", func(b *testing.B) {
		p := newBenchProvider(fx.stand, transport)
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: transport})
		benchLoop(b, func() {
			state, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
			back := approve(b, p.AuthCodeURL(AuthParams{
				State:         state,
				CodeChallenge: oauth2.S256ChallengeFromVerifier(verifier),
				Nonce:         oauth2.GenerateVerifier(),
			}))
			if back.Query().Get("state") != state {
				b.Fatal("state mismatch")
			}
			tok, err := p.oauth.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
			if err != nil || tok.AccessToken == "" {
				b.Fatalf("exchange: %v", err)
			}
		})
	})
}

// benchMaxAddedAllocs bounds the allocations Require and the context
// helpers add to a logged-in request over reading the session directly:
// today the context value, the request copy, the context's login record
// and the Token's scope slice.
const benchMaxAddedAllocs = 8

// TestHotPathAllocations checks that Require adds at most
// benchMaxAddedAllocs allocations to a logged-in request, with either codec.
// Allocation counts are stable where times are not.
func TestHotPathAllocations(t *testing.T) {
	fx := newBenchFixture(t)
	t.Logf("tokens: access %d B, refresh %d B, ID %d B, %d scopes",
		len(fx.login.AccessToken), len(fx.login.RefreshToken), len(fx.login.IDToken), len(fx.login.Scopes))
	for _, tc := range []struct {
		name  string
		codec scs.Codec
	}{{"codec=gob", nil}, {"codec=fast", sessioncodec.Codec{}}} {
		t.Run(tc.name, func(t *testing.T) {
			app := newBenchApp(t, fx, tc.codec)
			c := newBenchClient(app.cookie)
			count := func(h http.Handler) float64 {
				if !c.get(h) {
					t.Fatal("the request was not answered 200")
				}
				return testing.AllocsPerRun(200, func() { c.get(h) })
			}
			bare, base, req := count(app.bare), count(app.scs), count(app.sso)
			t.Logf("allocs/request: bare %.0f, scs baseline %.0f, Require %.0f (+%.0f)", bare, base, req, req-base)
			if req-base > benchMaxAddedAllocs {
				t.Errorf("Require adds %.0f allocations per request over the scs baseline; want at most %d", req-base, benchMaxAddedAllocs)
			}
		})
	}
}

// floorKey is the context key of BenchmarkFloor.
type floorKey struct{}

// BenchmarkFloor is the least any cookie-session middleware does for a
// logged-in request: parse the cookie, look its value up in a map (the
// store, without a lock) and put what it finds into the request context,
// for a handler that reads it back and writes the body. It runs in the
// same harness as the other benchmarks, so it includes the harness's
// own cost (BenchmarkBare).
func BenchmarkFloor(b *testing.B) {
	fx := newBenchFixture(b)
	app := newBenchApp(b, fx, sessioncodec.Codec{})
	data, found, err := app.sm.Store.Find(app.cookie.Value)
	if err != nil || !found {
		b.Fatal("no session in the store")
	}
	store := map[string][]byte{app.cookie.Value: data}
	name := app.sm.Cookie.Name
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(name)
		if err != nil {
			http.Error(w, "no cookie", http.StatusUnauthorized)
			return
		}
		v, ok := store[c.Value]
		if !ok {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), floorKey{}, v))
		benchSink += len(r.Context().Value(floorKey{}).([]byte))
		_, _ = w.Write(benchBody)
	})
	benchServe(b, h, app.cookie)
}

// emptyCodec is an scs.Codec that reads nothing: every Decode returns a
// session of one short value, whatever the store holds. It is the least any
// codec can do, so scs with it is the least any middleware inside
// LoadAndSave can cost (BenchmarkSCSNullCodec).
type emptyCodec struct{ deadline time.Time }

func (c emptyCodec) Encode(time.Time, map[string]any) ([]byte, error) { return []byte{0}, nil }

func (c emptyCodec) Decode([]byte) (time.Time, map[string]any, error) {
	return c.deadline, map[string]any{"v": "ok"}, nil
}

// BenchmarkSCSNullCodec is scs's LoadAndSave with a codec that decodes
// nothing (emptyCodec) and a handler that reads one value from the
// session: scs's own part of every logged-in request (cookie, store
// lookup, session data, context, response wrapper, commit check), with no
// codec and no SSO work. Set beside BenchmarkFloor it bounds from below
// what Require, which runs inside LoadAndSave, can cost.
func BenchmarkSCSNullCodec(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), emptyCodec{deadline: time.Now().Add(24 * time.Hour)})
	sm := app.sm
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		benchSink += len(sm.GetString(r.Context(), "v"))
		_, _ = w.Write(benchBody)
	}))
	benchServe(b, h, app.cookie)
}

// BenchmarkSCSContextFastCodec is BenchmarkSCSBaselineFastCodec plus the
// least a middleware that hands the login to handlers must add: the login
// put into the request's context (one context value, one request copy)
// and read back by the handler as BenchmarkRequireLoggedInFastCodec's
// handler reads it — without Require's store guard, rewrite check, expiry
// check or panic recovery. Beside BenchmarkSCSBaselineFastCodec it bounds
// from below what Require can cost over scs alone.
func BenchmarkSCSContextFastCodec(b *testing.B) {
	app := newBenchApp(b, newBenchFixture(b), sessioncodec.Codec{})
	plain := scs.New()
	plain.Codec, plain.Store = app.sm.Codec, app.sm.Store.(*storeGuard).inner
	h := plain.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var l login
		if !loadLogin(r.Context(), plain, &l) {
			http.Error(w, "no login in the session", http.StatusInternalServerError)
			return
		}
		app.handler.ServeHTTP(w, r.WithContext(withAuthLogin(r.Context(), app.auth, &l)))
	}))
	benchServe(b, h, app.cookie)
}
