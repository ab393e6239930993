package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The interop suite runs the example against oidc-provider, a certified
// OpenID Provider from npm, set up like Multicart and Istores as far as a
// standard provider can be (testdata/oidc-provider/server.mjs says how).
// These helpers start it and drive it the way a customer's browser does.

const (
	// opDir holds the provider's package.json, lockfile and server.
	opDir = "testdata/oidc-provider"
	// opVersion is the oidc-provider version pinned in opDir/package.json.
	opVersion = "8.8.1"

	// Clients registered at the provider by every interop test.
	opMulticartClient = "multicart-app"     // public: PKCE, no secret
	opServiceClient   = "multicart-service" // confidential: client credentials
	opServiceSecret   = "multicart-service-secret"
	opIstoresClient   = "istores-app" // confidential: secret in the form
	opIstoresSecret   = "istores-secret"
	opGenericClient   = "generic-app" // confidential, for providers/oidc
	opGenericSecret   = "generic-secret"

	// opSubject is who the provider's login page logs in by default.
	opSubject = "customer-1"
)

// opDeps installs the provider's npm dependencies once per test process.
var opDeps struct {
	once sync.Once
	err  error
}

// ensureOPDeps runs `npm ci` in opDir when oidc-provider is not installed
// there at the pinned version, so that the README's one test command is
// enough. node_modules is ignored by git.
func ensureOPDeps(t *testing.T) {
	t.Helper()
	_, nodeErr := exec.LookPath("node")
	requireExternal(t, "Node.js (node, looked up on PATH) for the oidc-provider interop tests", nodeErr == nil)
	npm, npmErr := exec.LookPath("npm")
	requireExternal(t, "npm (looked up on PATH) for the oidc-provider interop tests", npmErr == nil)
	opDeps.once.Do(func() {
		if installedOPVersion() == opVersion {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		dir, err := filepath.Abs(opDir)
		if err != nil {
			opDeps.err = err
			return
		}
		cmd := exec.CommandContext(ctx, npm, "ci", "--prefix", dir,
			"--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			opDeps.err = fmt.Errorf("npm ci in %s: %v\n%s", opDir, err, out)
			return
		}
		if v := installedOPVersion(); v != opVersion {
			opDeps.err = fmt.Errorf("npm ci installed oidc-provider %q, want %s", v, opVersion)
		}
	})
	if opDeps.err != nil {
		t.Fatalf("installing the interop provider's dependencies: %v", opDeps.err)
	}
}

// installedOPVersion returns the version of oidc-provider in opDir's
// node_modules, or "" when it is not there.
func installedOPVersion() string {
	b, err := os.ReadFile(filepath.Join(opDir, "node_modules", "oidc-provider", "package.json"))
	if err != nil {
		return ""
	}
	var p struct{ Version string }
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}

// opConfig is what server.mjs reads from SHOPSSO_OP_CONFIG.
type opConfig struct {
	Clients        []map[string]any `json:"clients"`
	AccessTokenTTL int              `json:"accessTokenTTL,omitempty"` // seconds; zero: 60
	IssuerPath     string           `json:"issuerPath,omitempty"`     // appended to the origin
}

// interopProvider is one running oidc-provider.
type interopProvider struct {
	URL    string // origin, http://127.0.0.1:port
	Issuer string // as it signs ID tokens and tells in discovery
	logs   *logSink
}

// startOP starts server.mjs on a free loopback port and waits until it
// prints the port it listens on; the process is killed when the test ends.
func startOP(t *testing.T, cfg opConfig) *interopProvider {
	t.Helper()
	ensureOPDeps(t)
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = opDir
	cmd.Env = append(os.Environ(), "SHOPSSO_OP_CONFIG="+string(b))
	op := &interopProvider{logs: &logSink{}}
	cmd.Stderr = op.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the interop provider: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("interop provider's log:\n%s", op.logs.String())
		}
	})

	type ready struct {
		Port   int    `json:"port"`
		Issuer string `json:"issuer"`
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(op.logs, stdout) // keep the pipe drained
	}()
	select {
	case line, ok := <-lines:
		var r ready
		if !ok || json.Unmarshal([]byte(line), &r) != nil || r.Port == 0 {
			<-exited
			t.Fatalf("the interop provider did not start (first line %q):\n%s", line, op.logs.String())
		}
		op.URL = fmt.Sprintf("http://127.0.0.1:%d", r.Port)
		op.Issuer = r.Issuer
	case <-time.After(30 * time.Second):
		t.Fatalf("the interop provider did not say its port within 30s:\n%s", op.logs.String())
	}
	return op
}

// opStats are the provider's counters (server.mjs's /_test/stats).
type opStats struct {
	Grants  map[string]int `json:"grants"` // token-endpoint successes by grant type
	Errors  map[string]int `json:"errors"` // failures by "grant:error"
	Reuse   int            `json:"reuse"`  // used refresh tokens presented again
	Revoked int            `json:"revoked"`
	Ended   int            `json:"ended"`   // RP-initiated logouts
	Fetched map[string]int `json:"fetched"` // GETs of discovery and the key set, by path
}

func (op *interopProvider) stats(t *testing.T) opStats {
	t.Helper()
	resp, err := http.Get(op.URL + "/_test/stats")
	if err != nil {
		t.Fatalf("provider stats: %v", err)
	}
	defer resp.Body.Close()
	var s opStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("provider stats: %v", err)
	}
	return s
}

// revokeGrants withdraws every grant at the provider, with its tokens.
func (op *interopProvider) revokeGrants(t *testing.T) int {
	t.Helper()
	resp, err := http.Post(op.URL+"/_test/revoke-grants", "", nil)
	if err != nil {
		t.Fatalf("revoking grants: %v", err)
	}
	defer resp.Body.Close()
	var r struct{ Revoked int }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoking grants: %s %v", resp.Status, err)
	}
	return r.Revoked
}

// discovery returns the provider's OpenID Connect discovery document.
func (op *interopProvider) discovery(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get(op.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return d
}

// interopClients registers the example's clients for an app at base.
func interopClients(base string) []map[string]any {
	return []map[string]any{
		{
			"client_id":                  opMulticartClient,
			"token_endpoint_auth_method": "none",
			"grant_types":                []string{"authorization_code", "refresh_token"},
			"response_types":             []string{"code"},
			"redirect_uris":              []string{base + "/auth/multicart/callback"},
			"post_logout_redirect_uris":  []string{base + logoutReturnPath},
		},
		{
			"client_id":                  opServiceClient,
			"client_secret":              opServiceSecret,
			"token_endpoint_auth_method": "client_secret_post",
			"grant_types":                []string{"client_credentials"},
			"response_types":             []string{},
			"redirect_uris":              []string{},
		},
		{
			"client_id":                  opIstoresClient,
			"client_secret":              opIstoresSecret,
			"token_endpoint_auth_method": "client_secret_post",
			"grant_types":                []string{"authorization_code"},
			"response_types":             []string{"code"},
			"redirect_uris":              []string{base + "/auth/istores/callback"},
			"urn:shopsso:resource":       "urn:istores:api",
		},
		{
			"client_id":                  opGenericClient,
			"client_secret":              opGenericSecret,
			"token_endpoint_auth_method": "client_secret_post",
			"grant_types":                []string{"authorization_code", "refresh_token"},
			"response_types":             []string{"code"},
			"redirect_uris":              []string{base + "/auth/oidc/callback"},
			"post_logout_redirect_uris":  []string{base + "/"},
		},
	}
}

// interopEnv is the example's environment for a provider at op: client
// IDs, secrets and URLs only — no issuer, no key set.
func interopEnv(base string, op *interopProvider) map[string]string {
	return map[string]string{
		"BASE_URL":              base,
		"ISTORES_CLIENT_ID":     opIstoresClient,
		"ISTORES_CLIENT_SECRET": opIstoresSecret,
		"ISTORES_AUTH_URL":      op.URL + "/oauth/authorize",
		"ISTORES_TOKEN_URL":     op.URL + "/api/connect/token",
		"MULTICART_CLIENT_ID":   opMulticartClient,
		"MULTICART_AUTH_URL":    op.URL + "/",
		"MULTICART_TOKEN_URL":   op.URL + "/api/connect/token",
	}
}

// interop is the example app running against one oidc-provider: one
// instance, or several sharing a Redis behind a load balancer.
type interop struct {
	t     *testing.T
	op    *interopProvider
	apps  []*app
	srv   *httptest.Server
	logs  *logSink
	clock *sharedClock // the app's clock; the provider's is the real one
	env   map[string]string
}

// interopSetup holds what a test changes before the app starts.
type interopSetup struct {
	op  opConfig
	env func(base string, op *interopProvider, env map[string]string) // edits the example's environment
	// realClock gives the app the real clock instead of the test's
	// (which moves only when told).
	realClock bool
	// instances of the example, sharing a private Redis (REDIS_URL) when
	// more than one; requests alternate between them unless pinned with
	// instanceHeader ("a", "b", ...). Zero: one, with memory sessions.
	instances int
}

// newInterop starts a provider and an instance of the example configured
// only through its environment (settingsFromEnv).
func newInterop(t *testing.T, setup interopSetup) *interop {
	t.Helper()
	it := &interop{t: t, logs: &logSink{}, clock: newSharedClock()}
	it.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + it.srv.Listener.Addr().String()
	cfg := setup.op
	if cfg.Clients == nil {
		cfg.Clients = interopClients(base)
	}
	it.op = startOP(t, cfg)
	it.env = interopEnv(base, it.op)
	if setup.env != nil {
		setup.env(base, it.op, it.env)
	}
	if setup.instances > 1 {
		it.env["REDIS_URL"] = startRedisServer(t, false).url
	}
	s, err := settingsFromEnv(func(k string) string { return it.env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.usesStandIn() {
		t.Fatal("the interop example must not use the stand-in")
	}
	logger := slog.New(slog.NewTextHandler(it.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i := range max(setup.instances, 1) {
		d := deps{Now: it.clock.Now}
		if setup.realClock {
			d.Now = nil
		}
		a, err := newApp(s, base, logger.With("instance", string(rune('a'+i))), d)
		if err != nil {
			t.Fatalf("newApp: %v", err)
		}
		t.Cleanup(a.close)
		it.apps = append(it.apps, a)
	}
	if len(it.apps) == 1 {
		it.srv.Config.Handler = it.apps[0].handler
	} else {
		var next atomic.Uint64
		it.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := int(next.Add(1) % uint64(len(it.apps)))
			if pin := r.Header.Get(instanceHeader); pin != "" {
				i = int(pin[0] - 'a')
			}
			w.Header().Set(servedByHeader, string(rune('a'+i)))
			it.apps[i].handler.ServeHTTP(w, r)
		})
	}
	it.srv.Start()
	t.Cleanup(it.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("app logs:\n%s", it.logs.String())
		}
	})
	return it
}

// browser returns a new browser: a cookie jar shared by the app and the
// provider, following redirects.
func (it *interop) browser() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		it.t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

// page is a response whose body has been read.
type page struct {
	status int
	url    *url.URL // where the browser ended up
	header http.Header
	body   string
}

// get loads u in c as a page navigation (Accept: text/html) or, with
// api set, as an API call (Accept: application/json).
func (it *interop) get(c *http.Client, u string, api bool) page {
	it.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		it.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if api {
		req.Header.Set("Accept", "application/json")
	}
	return it.do(c, req)
}

func (it *interop) do(c *http.Client, req *http.Request) page {
	it.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		it.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		it.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(b)}
}

var opFormAction = regexp.MustCompile(`<form method="post" action="(/interaction/[\w-]+)" id="op-interaction">`)

// onProviderPage reports whether p is the provider's login-and-consent page.
func (it *interop) onProviderPage(p page) bool {
	return opFormAction.MatchString(p.body) // at the provider, or at a proxy in front of it
}

// decide answers the provider's page p as the customer does (decision
// "approve" or "deny", logging in as opSubject) and returns the page the
// browser ends up on.
func (it *interop) decide(c *http.Client, p page, decision string) page {
	it.t.Helper()
	m := opFormAction.FindStringSubmatch(p.body)
	if m == nil {
		it.t.Fatalf("not the provider's interaction page (%s, %d):\n%s", p.url, p.status, p.body)
	}
	form := url.Values{"login": {opSubject}, "decision": {decision}}
	req, err := http.NewRequest(http.MethodPost, p.url.Scheme+"://"+p.url.Host+m[1], strings.NewReader(form.Encode()))
	if err != nil {
		it.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return it.do(c, req)
}

// approveAll answers every provider page from p on with Approve (login,
// then consent) and returns the first page that is not the provider's.
func (it *interop) approveAll(c *http.Client, p page) page {
	it.t.Helper()
	for range 4 {
		if !it.onProviderPage(p) {
			return p
		}
		p = it.decide(c, p, "approve")
	}
	it.t.Fatalf("the provider kept asking: %s\n%s", p.url, p.body)
	return p
}

// login logs a new browser in through provider ("istores", "multicart")
// and returns it with the page it landed on (/me, as JSON).
func (it *interop) login(provider string) (*http.Client, meResponse) {
	it.t.Helper()
	c := it.browser()
	p := it.approveAll(c, it.get(c, it.srv.URL+"/auth/"+provider+"/login?return_to=/me", false))
	if p.status != http.StatusOK || p.url.Path != "/me" {
		it.t.Fatalf("login through %s ended at %s with %d:\n%s", provider, p.url, p.status, p.body)
	}
	var me meResponse
	if err := json.Unmarshal([]byte(p.body), &me); err != nil {
		it.t.Fatalf("login landing: %v\n%s", err, p.body)
	}
	return c, me
}

// me calls GET /me as an API client with c's cookies.
func (it *interop) me(c *http.Client) (int, meResponse) {
	it.t.Helper()
	p := it.get(c, it.srv.URL+"/me", true)
	var me meResponse
	if p.status == http.StatusOK {
		if err := json.Unmarshal([]byte(p.body), &me); err != nil {
			it.t.Fatalf("/me: %v\n%s", err, p.body)
		}
	}
	return p.status, me
}

// withConsent makes the example ask Multicart with prompt=consent, which a
// standard provider needs before it grants offline_access (OIDC Core §11).
func withConsent(_ string, _ *interopProvider, env map[string]string) {
	env["MULTICART_AUTH_PARAMS"] = "prompt=consent"
}

// eventually polls cond until it holds or 15 s have passed.
func (it *interop) eventually(cond func() bool, what string) {
	it.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for pause := 5 * time.Millisecond; !cond(); pause = min(pause*2, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			it.t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(pause)
	}
}

// jti is the ID of the access token an answer of /me was made with.
func jti(me meResponse) string { s, _ := me.Claims["jti"].(string); return s }

// codeFlow runs the authorization-code flow with PKCE for conf's client
// as a single-page or mobile app does on its own (not through the
// example): a browser approves at the provider, the redirect is stopped
// at conf.RedirectURL and the code exchanged here.
func (it *interop) codeFlow(conf oauth2.Config, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	it.t.Helper()
	verifier := oauth2.GenerateVerifier()
	c := it.browser()
	c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if r.URL.Scheme+"://"+r.URL.Host+r.URL.Path == conf.RedirectURL {
			return http.ErrUseLastResponse // the code, for this test to exchange
		}
		return nil
	}
	opts = append(opts, oauth2.S256ChallengeOption(verifier))
	p := it.approveAll(c, it.get(c, conf.AuthCodeURL("st", opts...), false))
	loc, err := url.Parse(p.header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		it.t.Fatalf("no code from the provider (%d, %q):\n%s", p.status, p.header.Get("Location"), p.body)
	}
	tok, err := conf.Exchange(it.t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		it.t.Fatalf("exchanging the code: %v", err)
	}
	return tok
}
