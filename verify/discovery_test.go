package verify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/verify"
)

// provider is a stand-in identity service: optional discovery, a key set,
// and a token endpoint path (never called here; its origin matters).
type provider struct {
	*httptest.Server
	issuer    atomic.Value // string; "" serves no discovery (404)
	discovery atomic.Int32
	keys      *keyServer
}

func newProvider(t *testing.T, s signer) *provider {
	p := &provider{keys: newKeyServer(t, s.jwk(t))}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != verify.WellKnownPath {
			http.NotFound(w, r)
			return
		}
		p.discovery.Add(1)
		iss, _ := p.issuer.Load().(string)
		if iss == "" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 iss,
			"authorization_endpoint": p.URL + "/authorize",
			"token_endpoint":         p.URL + "/api/connect/token",
			"jwks_uri":               p.keys.URL + "/jwks",
			"end_session_endpoint":   p.URL + "/logout",
		})
	}))
	p.issuer.Store("")
	t.Cleanup(p.Close)
	return p
}

func (p *provider) tokenURL() string { return p.URL + "/api/connect/token" }

// TestIssuerRule proves the rule of the package doc: exact Issuer, else
// discovery's issuer, else any URL on the token endpoint's origin.
func TestIssuerRule(t *testing.T) {
	c := newClock()
	s := rsaSigner(t, "k1")
	type setup struct {
		issuer    string // Config.Issuer
		discovery string // discovery's issuer; "" = 404
	}
	tests := []struct {
		name  string
		setup setup
		iss   func(p *provider) string
		ok    bool
	}{
		{"origin rule: base URL", setup{}, func(p *provider) string { return p.URL }, true},
		{"origin rule: trailing slash", setup{}, func(p *provider) string { return p.URL + "/" }, true},
		{"origin rule: with a path", setup{}, func(p *provider) string { return p.URL + "/tenant/v2" }, true},
		{"origin rule: upper-case scheme, default path", setup{}, func(p *provider) string { return "HTTP" + p.URL[len("http"):] + "/" }, true},
		{"origin rule: localhost for 127.0.0.1", setup{}, func(p *provider) string { return "http://localhost:" + p.URL[len("http://127.0.0.1:"):] }, false},
		{"origin rule: another port", setup{}, func(p *provider) string { return "http://127.0.0.1:1" }, false},
		{"origin rule: another host", setup{}, func(p *provider) string { return "https://evil.example" }, false},
		{"origin rule: https on the http origin", setup{}, func(p *provider) string { return "https" + p.URL[len("http"):] }, false},
		{"origin rule: query", setup{}, func(p *provider) string { return p.URL + "/?x=1" }, false},
		{"origin rule: fragment", setup{}, func(p *provider) string { return p.URL + "/#x" }, false},
		{"origin rule: user info", setup{}, func(p *provider) string { return "http://evil@" + p.URL[len("http://"):] }, false},
		{"origin rule: not a URL", setup{}, func(p *provider) string { return "identity" }, false},
		{"origin rule: empty", setup{}, func(p *provider) string { return "" }, false},
		{"discovery: its issuer", setup{discovery: "/tenant"}, func(p *provider) string { return p.URL + "/tenant" }, true},
		{"discovery: another spelling on the origin", setup{discovery: "/tenant"}, func(p *provider) string { return p.URL + "/tenant/" }, false},
		{"explicit: exact", setup{issuer: "/x"}, func(p *provider) string { return p.URL + "/x" }, true},
		{"explicit: wins over discovery", setup{issuer: "/x", discovery: "/x"}, func(p *provider) string { return p.URL + "/x" }, true},
		{"explicit: trailing slash refused", setup{issuer: "/x"}, func(p *provider) string { return p.URL + "/x/" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, s)
			if tt.setup.discovery != "" {
				p.issuer.Store(p.URL + tt.setup.discovery)
			}
			d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: p.URL, Now: c.Now})
			require.NoError(t, err)
			cfg := verify.Config{Discovery: d, IssuerOrigin: p.tokenURL(), Audience: testClient, Now: c.Now,
				Keys: keySet(t, p.keys, c), IssuerHint: "set multicart.Config.Issuer"}
			if tt.setup.issuer != "" {
				cfg.Issuer = p.URL + tt.setup.issuer
			}
			v, err := verify.New(cfg)
			require.NoError(t, err)
			iss := tt.iss(p)
			_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": iss}), nil), "n-1")
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			ce := checkOf(t, err)
			assert.Equal(t, verify.CheckIss, ce.Check)
			assert.Equal(t, iss, ce.Got)
			assert.Contains(t, err.Error(), "set multicart.Config.Issuer")
		})
	}
}

// TestDiscoveryKeysAndCache: discovery supplies issuer and key set, is
// fetched once and cached, and refreshed after its lifetime.
func TestDiscoveryKeysAndCache(t *testing.T) {
	c := newClock()
	s := rsaSigner(t, "k1")
	p := newProvider(t, s)
	p.issuer.Store(p.URL + "/")
	d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: p.URL + "/", Now: c.Now, Lifetime: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, p.URL+verify.WellKnownPath, d.URL())
	v, err := verify.New(verify.Config{Discovery: d, Audience: testClient, Now: c.Now})
	require.NoError(t, err)
	for range 5 {
		_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": p.URL + "/"}), nil), "n-1")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, p.discovery.Load())
	assert.Equal(t, 1, p.keys.fetches())
	md, err := d.Metadata(context.Background())
	require.NoError(t, err)
	assert.Equal(t, p.URL+"/logout", md.EndSessionEndpoint)
	assert.Equal(t, p.tokenURL(), md.TokenEndpoint)
	assert.Equal(t, p.URL+"/authorize", md.AuthorizationEndpoint)

	c.Advance(time.Hour)
	_, err = d.Metadata(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 2, p.discovery.Load(), "refreshed after its lifetime")

	// A token from another issuer is refused although it is signed by the
	// same keys (mix-up).
	_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": "https://evil.example"}), nil), "n-1")
	ce := checkOf(t, err)
	assert.Equal(t, p.URL+"/", ce.Expected)
}

// TestDiscovery404FallsBack: no discovery served → the origin rule and the
// configured keys; the 404 is remembered, not asked again per token.
func TestDiscovery404FallsBack(t *testing.T) {
	c := newClock()
	s := rsaSigner(t, "k1")
	p := newProvider(t, s)
	d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: p.URL, Now: c.Now})
	require.NoError(t, err)
	_, err = d.Metadata(context.Background())
	assert.ErrorIs(t, err, verify.ErrNoDiscovery)

	v, err := verify.New(verify.Config{Discovery: d, IssuerOrigin: p.tokenURL(), Audience: testClient, Keys: keySet(t, p.keys, c), Now: c.Now})
	require.NoError(t, err)
	for range 3 {
		_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": p.URL + "/whatever"}), nil), "n-1")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, p.discovery.Load(), "a 404 is remembered")

	// Without keys and without the opt-out, a token cannot be verified.
	v, err = verify.New(verify.Config{Discovery: d, IssuerOrigin: p.tokenURL(), Audience: testClient, Now: c.Now})
	require.NoError(t, err)
	_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": p.URL}), nil), "n-1")
	assert.ErrorIs(t, err, verify.ErrUnavailable)

	// Discovery appears later: after the interval it is used.
	p.issuer.Store(p.URL + "/real")
	c.Advance(verify.DefaultNotFoundInterval)
	_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": p.URL + "/real"}), nil), "n-1")
	assert.NoError(t, err)
}

// TestDiscoveryIssuerMismatch: a document naming another issuer than the
// configured one, or an issuer off its own origin, is refused.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	c := newClock()
	s := rsaSigner(t, "k1")
	tests := []struct {
		name, configured, served string
	}{
		{"configured issuer differs", "/a", "/b"},
		{"configured issuer differs by a slash", "/a", "/a/"},
		{"issuer on another origin", "", "https://evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, s)
			served := tt.served
			if served[0] == '/' {
				served = p.URL + served
			}
			p.issuer.Store(served)
			cfg := verify.DiscoveryConfig{BaseURL: p.URL, Now: c.Now}
			if tt.configured != "" {
				cfg.Issuer = p.URL + tt.configured
			}
			d, err := verify.NewDiscovery(cfg)
			require.NoError(t, err)
			_, err = d.Metadata(context.Background())
			require.ErrorIs(t, err, verify.ErrUnavailable)
			ce := checkOf(t, err)
			assert.Equal(t, verify.CheckIss, ce.Check)
			assert.Equal(t, served, ce.Got)

			// The verifier does not take that document's word: the token
			// naming the served issuer is refused.
			v, err := verify.New(verify.Config{Discovery: d, IssuerOrigin: p.tokenURL(), Audience: testClient, Keys: keySet(t, p.keys, c), Now: c.Now})
			require.NoError(t, err)
			if tt.configured == "" {
				_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": served}), nil), "n-1")
				assert.Equal(t, verify.CheckIss, checkOf(t, err).Check)
			}
		})
	}
}

// TestDiscoveryTransport: http off loopback refused; redirects not followed;
// oversized refused; jwks_uri over plain http off loopback refused.
func TestDiscoveryTransport(t *testing.T) {
	_, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: "http://id.example.com"})
	assert.Error(t, err)
	_, err = verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: "http://id.example.com", InsecureAllowHTTP: true})
	assert.NoError(t, err)

	var srvURL string
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		}, verify.ErrRedirect},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, verify.DefaultMaxBytes+1))
		}, verify.ErrTooLarge},
		{"jwks_uri over http off loopback", func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srvURL, "jwks_uri": "http://keys.example.com/jwks"})
		}, verify.ErrUnavailable},
		{"server error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 500) }, verify.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			srvURL = srv.URL
			d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: srv.URL})
			require.NoError(t, err)
			_, err = d.Metadata(context.Background())
			assert.ErrorIs(t, err, tt.want)
			assert.NotErrorIs(t, err, verify.ErrNoDiscovery)
		})
	}
}

// TestDiscoverySurvivesCancelledRequest: the request that triggered the
// discovery fetch hangs up; the document is still cached.
func TestDiscoverySurvivesCancelledRequest(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srvURL})
	}))
	defer srv.Close()
	srvURL = srv.URL
	d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: srv.URL})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := d.Metadata(ctx)
		errc <- err
	}()
	waitFor(t, func() bool { return calls.Load() == 1 })
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	close(release)
	waitFor(t, func() bool {
		md, err := d.Metadata(context.Background())
		return err == nil && md.Issuer == srvURL
	})
	assert.EqualValues(t, 1, calls.Load())
}

// TestMetadataIsACopy: what Metadata returns is the caller's to change; the
// issuer and key set the verifier goes by stay the provider's.
func TestMetadataIsACopy(t *testing.T) {
	c := newClock()
	s := rsaSigner(t, "k1")
	p := newProvider(t, s)
	p.issuer.Store(p.URL)
	d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: p.URL, Now: c.Now})
	require.NoError(t, err)
	v, err := verify.New(verify.Config{Discovery: d, Audience: testClient, Now: c.Now})
	require.NoError(t, err)
	md, err := d.Metadata(context.Background())
	require.NoError(t, err)
	md.Issuer, md.JWKSURI = "https://evil.example", "http://127.0.0.1:1/jwks" // never fetched

	_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": "https://evil.example"}), nil), "n-1")
	assert.Equal(t, verify.CheckIss, checkOf(t, err).Check)
	_, err = v.IDToken(context.Background(), s.sign(t, idClaims(c, map[string]any{"iss": p.URL}), nil), "n-1")
	require.NoError(t, err)
	again, err := d.Metadata(context.Background())
	require.NoError(t, err)
	assert.Equal(t, p.URL, again.Issuer)
	assert.Equal(t, p.keys.URL+"/jwks", again.JWKSURI)
}
