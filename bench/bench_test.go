package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/sessioncodec"
	"github.com/shopsso/sso/ssotest"
)

// body is what every benchmark handler writes.
var body = []byte("ok\n")

// sink keeps the compiler from discarding what handlers read.
var sink int

// tokenSet is a Multicart token response as the stand-in sent it.
type tokenSet struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope"`
	Subject      string `json:"-"`
	Expiry       time.Time
}

// tokenRecorder is a transport that keeps the last token response it
// carried, so the peers can be given the very tokens our login received.
type tokenRecorder struct {
	mu   sync.Mutex
	last tokenSet
}

func (t *tokenRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var ts tokenSet
	if json.Unmarshal(b, &ts) == nil && ts.AccessToken != "" {
		ts.Expiry = time.Now().Add(time.Duration(ts.ExpiresIn) * time.Second)
		t.mu.Lock()
		t.last = ts
		t.mu.Unlock()
	}
	return resp, nil
}

func (t *tokenRecorder) tokens() tokenSet {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// ourApp is an application using shopsso through its exported API, with
// one customer logged in through Multicart.
type ourApp struct {
	sm      *scs.SessionManager
	cookie  *http.Cookie
	handler http.Handler // LoadAndSave → Require → protected
	tokens  tokenSet     // what the login received
}

// protected is the handler behind Require: it reads the token and the
// subject of its claims from the context.
func protected(w http.ResponseWriter, r *http.Request) {
	tok, ok := sso.TokenFromContext(r.Context())
	c, cok := sso.ClaimsFromContext(r.Context())
	if !ok || !cok || c.Subject() == "" {
		http.Error(w, "no login in the context", http.StatusInternalServerError)
		return
	}
	sink += len(tok.AccessToken) + len(tok.Scopes) + len(c.Subject())
	_, _ = w.Write(body)
}

// newOurApp serves an app with both providers against stand, logs one
// customer in through Multicart with a cookie-jar client, and returns the
// app's protected handler and session cookie. codec nil keeps scs's gob.
func newOurApp(tb testing.TB, stand *ssotest.Server, codec scs.Codec) *ourApp {
	tb.Helper()
	sm := scs.New()
	if codec != nil {
		sm.Codec = codec
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	rec := &tokenRecorder{}
	ist, mc := testkit.Providers(tb, stand, base, func(_ *istores.Config, mc *multicart.Config) {
		me := stand.Multicart()
		mc.Issuer, mc.JWKSURL = me.Issuer, me.JWKSURL // no discovery fetch through rec
		mc.HTTPClient = &http.Client{Transport: rec}
	})
	auth, err := sso.New(sso.Config{
		Sessions:       sm,
		Providers:      []sso.Provider{mc, ist},
		Logger:         slog.New(slog.DiscardHandler),
		InsecureCookie: true, // plain http on loopback
	})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range []string{istores.Name, multicart.Name} {
		mux.Handle("/auth/"+p+"/login", auth.Login(p))
		mux.Handle("/auth/"+p+"/callback", auth.Callback(p))
	}
	mux.Handle("/account", auth.Require(http.HandlerFunc(protected)))
	srv.Config.Handler = sm.LoadAndSave(mux)
	srv.Start()
	tb.Cleanup(srv.Close)

	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := browser.Get(base + "/auth/multicart/login?return_to=/account")
	if err != nil {
		tb.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		tb.Fatalf("login: status %d, body %q", resp.StatusCode, got)
	}
	app := &ourApp{sm: sm, handler: sm.LoadAndSave(auth.Require(http.HandlerFunc(protected))), tokens: rec.tokens()}
	u, _ := url.Parse(base)
	for _, c := range jar.Cookies(u) {
		if c.Name == sm.Cookie.Name {
			app.cookie = c
		}
	}
	if app.cookie == nil || app.tokens.AccessToken == "" {
		tb.Fatal("the login left no session cookie or no token")
	}
	claims, err := sso.ParseClaims(app.tokens.AccessToken)
	if err != nil {
		tb.Fatal(err)
	}
	app.tokens.Subject = claims.Subject()
	return app
}

// scsBaseline is LoadAndSave with a handler that takes the stored login
// straight from the session, as the root package's BenchmarkSCSBaseline
// does (here through the exported API only, so it does not read the
// login's fields; that costs nanoseconds).
func scsBaseline(sm *scs.SessionManager) http.Handler {
	return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sm.Get(r.Context(), "shopsso.login") == nil {
			http.Error(w, "no login in the session", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(body)
	}))
}

// storedBytes is the size of the app's encoded session in its store.
func (a *ourApp) storedBytes(tb testing.TB) int {
	tb.Helper()
	data, found, err := a.sm.Store.Find(a.cookie.Value)
	if err != nil || !found {
		tb.Fatalf("session not in the store: %v", err)
	}
	return len(data)
}

// gothicSessionName is gothic's cookie name.
const gothicSessionName = "_gothic_session"

// newCookieStore is gothic's default store: a gorilla CookieStore with a
// hash key only (signed, not encrypted), HttpOnly.
func newCookieStore() *sessions.CookieStore {
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(64))
	store.Options.HttpOnly = true
	return store
}

// gorillaCookie saves values in a new gorilla session and returns its
// cookie.
func gorillaCookie(tb testing.TB, store *sessions.CookieStore, values map[any]any) *http.Cookie {
	tb.Helper()
	c, err := gorillaSave(store, values)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func gorillaSave(store *sessions.CookieStore, values map[any]any) (*http.Cookie, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	s, err := store.New(r, gothicSessionName)
	if err != nil && s == nil {
		return nil, err
	}
	maps.Copy(s.Values, values)
	if err := s.Save(r, w); err != nil {
		return nil, err
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		return nil, fmt.Errorf("gorilla set %d cookies", len(cs))
	}
	return cs[0], nil
}

// gorillaValues is the token set as gorillaPeer keeps it.
func gorillaValues(ts tokenSet) map[any]any {
	return map[any]any{
		"provider":      multicart.Name,
		"access_token":  ts.AccessToken,
		"token_type":    ts.TokenType,
		"refresh_token": ts.RefreshToken,
		"id_token":      ts.IDToken,
		"expiry":        ts.Expiry.Unix(),
		"scopes":        strings.Fields(ts.Scope),
		"sub":           ts.Subject,
	}
}

// gorillaPeer keeps the token set as gob-encoded values of a signed cookie
// (securecookie's default serializer), with the subject stored beside it
// at login so no request decodes the JWT; each request checks the HMAC,
// decodes the values and the expiry.
func gorillaPeer(tb testing.TB, ts tokenSet) (http.Handler, *http.Cookie) {
	store := newCookieStore()
	cookie := gorillaCookie(tb, store, gorillaValues(ts))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, gothicSessionName)
		if err != nil || s.IsNew {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		at, _ := s.Values["access_token"].(string)
		exp, _ := s.Values["expiry"].(int64)
		sub, _ := s.Values["sub"].(string)
		scopes, _ := s.Values["scopes"].([]string)
		if at == "" || sub == "" || time.Now().Unix() >= exp {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		sink += len(at) + len(scopes) + len(sub)
		_, _ = w.Write(body)
	})
	return h, cookie
}

// gothSession is the JSON goth's OpenID Connect provider keeps for a
// login (Session.Marshal).
type gothSession struct {
	AuthURL      string
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	IDToken      string
}

// gothicPeer keeps the token set exactly as gothic.StoreInSession does:
// the provider session as JSON, gzipped, stored as one string value of the
// signed cookie; each request reads it back as gothic.GetFromSession and
// the provider's UnmarshalSession do (HMAC, gob, gunzip, JSON).
func gothicPeer(tb testing.TB, ts tokenSet) (http.Handler, *http.Cookie) {
	raw, err := json.Marshal(gothSession{
		AuthURL:      "https://identity.multicartshop.com/?application=multicart-app",
		AccessToken:  ts.AccessToken,
		RefreshToken: ts.RefreshToken,
		ExpiresAt:    ts.Expiry,
		IDToken:      ts.IDToken,
	})
	if err != nil {
		tb.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	store := newCookieStore()
	cookie := gorillaCookie(tb, store, map[any]any{multicart.Name: gz.String()})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, gothicSessionName)
		v, ok := s.Values[multicart.Name].(string)
		if !ok {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		zr, err := gzip.NewReader(strings.NewReader(v))
		if err != nil {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		plain, err := io.ReadAll(zr)
		var gs gothSession
		if err != nil || json.Unmarshal(plain, &gs) != nil || !time.Now().Before(gs.ExpiresAt) {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		sink += len(gs.AccessToken)
		_, _ = w.Write(body)
	})
	return h, cookie
}

// bearerPeer validates the access token of every request with
// auth0/go-jwt-middleware's validator: RS256 signature against a static
// key, issuer, audience and expiry.
func bearerPeer(tb testing.TB, key *rsa.PublicKey, issuer string) http.Handler {
	v, err := validator.New(
		func(context.Context) (any, error) { return key, nil },
		validator.RS256, issuer, []string{ssotest.MulticartAudience},
	)
	if err != nil {
		tb.Fatal(err)
	}
	return jwtmiddleware.New(v.ValidateToken).CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
		if !ok || c.RegisteredClaims.Subject == "" {
			http.Error(w, "no claims in the context", http.StatusInternalServerError)
			return
		}
		sink += len(c.RegisteredClaims.Subject)
		_, _ = w.Write(body)
	}))
}

// client is one logged-in client. Its request is built once and copied
// (shallowly, as a server hands each handler a request of its own) for every
// iteration — gorilla/sessions keeps its registry in the request it is
// given, so each iteration must have its own — and its ResponseWriter is
// reset rather than recreated, so that the harness costs little next to what
// is measured.
type client struct {
	base http.Request
	w    writer
}

func newClient(cookie *http.Cookie, bearer string) *client {
	r := httptest.NewRequest(http.MethodGet, "/account", nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	return &client{base: *r, w: writer{h: http.Header{}}}
}

// get serves one GET through h and reports whether it got 200.
func (c *client) get(h http.Handler) bool {
	r := c.base
	clear(c.w.h)
	c.w.code = 0
	h.ServeHTTP(&c.w, &r)
	return c.w.code == http.StatusOK
}

// writer is a ResponseWriter that keeps the status and drops the body.
type writer struct {
	h    http.Header
	code int
}

func (w *writer) Header() http.Header { return w.h }

func (w *writer) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *writer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// serve runs the benchmark loop. Report metrics after it: b.ResetTimer
// drops those reported before.
func serve(b *testing.B, h http.Handler, cookie *http.Cookie, bearer string) {
	b.Helper()
	c := newClient(cookie, bearer)
	if !c.get(h) {
		b.Fatal("the request was not answered 200")
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, ok := processCPU()
	n := 0
	for b.Loop() {
		if !c.get(h) {
			b.Fatal("the request was not answered 200")
		}
		n++
	}
	if cpu1, ok1 := processCPU(); ok && ok1 && n > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(n), "cpu-ns/op")
	}
}

// BenchmarkLoggedInRequest serves one logged-in request per iteration
// (a copied request and a reset writer each time) through shopsso and its peers,
// all holding the same Multicart token set from one real login against the
// stand-in.
func BenchmarkLoggedInRequest(b *testing.B) {
	stand := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	b.Cleanup(stand.Close)
	gobApp := newOurApp(b, stand, nil)
	fastApp := newOurApp(b, stand, sessioncodec.Codec{})
	key := make([]byte, sessioncodec.KeySize) // a fixed key: only the cost matters here
	sealedCodec, err := sessioncodec.New(key)
	if err != nil {
		b.Fatal(err)
	}
	sealedApp := newOurApp(b, stand, sealedCodec)
	ts := gobApp.tokens

	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
		serve(b, h, gobApp.cookie, "")
	})
	b.Run("scs/codec=gob", func(b *testing.B) {
		serve(b, scsBaseline(gobApp.sm), gobApp.cookie, "")
	})
	b.Run("scs/codec=fast", func(b *testing.B) {
		serve(b, scsBaseline(fastApp.sm), fastApp.cookie, "")
	})
	b.Run("sso/codec=gob", func(b *testing.B) {
		serve(b, gobApp.handler, gobApp.cookie, "")
		b.ReportMetric(float64(gobApp.storedBytes(b)), "stored-B")
	})
	b.Run("sso/codec=fast", func(b *testing.B) {
		serve(b, fastApp.handler, fastApp.cookie, "")
		b.ReportMetric(float64(fastApp.storedBytes(b)), "stored-B")
	})
	b.Run("sso/codec=sealed", func(b *testing.B) {
		serve(b, sealedApp.handler, sealedApp.cookie, "")
		b.ReportMetric(float64(sealedApp.storedBytes(b)), "stored-B")
	})
	b.Run("gorilla-cookie", func(b *testing.B) {
		h, cookie := gorillaPeer(b, ts)
		serve(b, h, cookie, "")
		b.ReportMetric(float64(len(cookie.Value)), "cookie-B")
	})
	b.Run("gothic-cookie", func(b *testing.B) {
		h, cookie := gothicPeer(b, ts)
		serve(b, h, cookie, "")
		b.ReportMetric(float64(len(cookie.Value)), "cookie-B")
	})
	b.Run("jwt-bearer", func(b *testing.B) {
		h := bearerPeer(b, stand.PublicKey(), stand.Multicart().Issuer)
		serve(b, h, nil, ts.AccessToken)
		b.ReportMetric(float64(len("Bearer ")+len(ts.AccessToken)), "header-B")
	})
}

// TestSessionSizes logs what one login costs to keep: the raw tokens, the
// encoded session in scs's store with each codec, and the peers' cookie
// and header. Run it with -v to see the numbers.
func TestSessionSizes(t *testing.T) {
	stand := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	t.Cleanup(stand.Close)
	gobApp := newOurApp(t, stand, nil)
	fastApp := newOurApp(t, stand, sessioncodec.Codec{})
	ts := gobApp.tokens
	_, gorilla := gorillaPeer(t, ts)
	_, gothic := gothicPeer(t, ts)
	raw := len(ts.AccessToken) + len(ts.RefreshToken) + len(ts.IDToken)
	gobBytes, fastBytes := gobApp.storedBytes(t), fastApp.storedBytes(t)

	t.Logf("access token      %5d B", len(ts.AccessToken))
	t.Logf("refresh token     %5d B", len(ts.RefreshToken))
	t.Logf("ID token          %5d B", len(ts.IDToken))
	t.Logf("tokens together   %5d B", raw)
	t.Logf("scopes            %q", ts.Scope)
	t.Logf("scs store, gob    %5d B", gobBytes)
	t.Logf("scs store, Codec  %5d B", fastBytes)
	t.Logf("gorilla cookie    %5d B (value)", len(gorilla.Value))
	t.Logf("gothic cookie     %5d B (value)", len(gothic.Value))
	t.Logf("bearer header     %5d B", len("Bearer ")+len(ts.AccessToken))

	// The root package's benchmarks use a richer access token of about
	// 1 KB (more claims); securecookie refuses cookies over 4096 bytes.
	big := ts
	big.AccessToken = stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{
		"scope":     ts.Scope,
		"auth_time": time.Now().Unix(),
		"nbf":       time.Now().Unix(),
		"azp":       ssotest.DefaultMulticartClient().ID,
		"sid":       "Jm3vQ0cXk2b9TqL1sWz8aA",
		"email":     "customer-1@example.com",
		"roles":     []string{"customer", "wholesale"},
		"shop_id":   "shop-20417",
	})
	if c, err := gorillaSave(newCookieStore(), gorillaValues(big)); err != nil {
		t.Logf("gorilla cookie with a %d B access token: %v", len(big.AccessToken), err)
	} else {
		t.Logf("gorilla cookie with a %d B access token: %d B", len(big.AccessToken), len(c.Value))
	}

	if n := len(strings.Fields(ts.Scope)); n != 6 {
		t.Errorf("the login has %d scopes, want 6", n)
	}
	if fastBytes >= gobBytes {
		t.Errorf("sessioncodec.Codec stores %d bytes, gob %d: want fewer", fastBytes, gobBytes)
	}
	if fastBytes < raw {
		t.Errorf("sessioncodec.Codec stores %d bytes, less than the %d bytes of tokens", fastBytes, raw)
	}
}
