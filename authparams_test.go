package sso_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
)

func TestCheckAuthParams(t *testing.T) {
	tests := []struct {
		name     string
		params   url.Values
		reserved []string
		wantErr  bool
	}{
		{"none", nil, nil, false},
		{"ordinary", url.Values{"prompt": {"consent"}, "acr_values": {"urn:x"}, "ui_locales": {"he"}}, nil, false},
		{"state", url.Values{"state": {"x"}}, nil, true},
		{"upper-case nonce", url.Values{"NONCE": {"x"}}, nil, true},
		{"PKCE verifier", url.Values{"code_verifier": {"x"}}, nil, true},
		{"Multicart's client name", url.Values{"application": {"x"}}, nil, true},
		{"request object", url.Values{"request": {"x"}}, nil, true},
		{"a provider's own name", url.Values{"tenant": {"x"}}, []string{"Tenant"}, true},
		{"empty name", url.Values{"": {"x"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sso.CheckAuthParams(tt.params, tt.reserved...)
			assert.Equal(t, tt.wantErr, err != nil, "%v", err)
			if tt.wantErr && tt.name != "empty name" {
				assert.True(t, errors.Is(err, sso.ErrReservedAuthParam))
			}
		})
	}
}

func TestMergeAuthParams(t *testing.T) {
	configured := url.Values{"prompt": {"consent"}, "ui_locales": {"he"}, "state": {"x"}}
	got := sso.MergeAuthParams(configured, url.Values{"prompt": {"login"}, "Code_Challenge": {"x"}, "login_hint": {"a"}})
	assert.Equal(t, url.Values{"prompt": {"login"}, "ui_locales": {"he"}, "login_hint": {"a"}}, got)
	got.Set("ui_locales", "en")
	assert.Equal(t, "he", configured.Get("ui_locales"), "the result is a copy")
}

func TestNewRefusesReservedLoginParams(t *testing.T) {
	ist, err := istores.New(istores.Config{ClientID: "c", ClientSecret: "s", RedirectURL: "https://a.example/cb"})
	require.NoError(t, err)
	for _, name := range []string{"state", "redirect_uri", "Scope", "code_challenge_method", "return"} {
		t.Run(name, func(t *testing.T) {
			sm := scs.New()
			sm.Cookie.Secure = true
			_, err := sso.New(sso.Config{Sessions: sm, Providers: []sso.Provider{ist}, LoginParams: []string{"login_hint", name}})
			assert.True(t, errors.Is(err, sso.ErrReservedAuthParam), "%v", err)
		})
	}
}

func TestLoginForwardsAllowListedParams(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		query    string
		want     url.Values // expected extra parameters at the provider
		absent   []string
	}{
		{
			name: "login_hint and prompt", provider: multicart.Name,
			query: "login_hint=ann%40example.com&prompt=login",
			want:  url.Values{"login_hint": {"ann@example.com"}, "prompt": {"login"}},
		},
		{
			name: "names outside the allow-list stay behind", provider: istores.Name,
			query:  "login_hint=ann&acr_values=urn:x&display=popup",
			want:   url.Values{"login_hint": {"ann"}},
			absent: []string{"acr_values", "display"},
		},
		{
			name: "protocol parameters in the query are not forwarded", provider: multicart.Name,
			query: "state=evil&nonce=evil&code_challenge=evil&application=evil&return=https%3A%2F%2Fevil.example%2F&scope=evil",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, withConfig(func(c *sso.Config) { c.LoginParams = []string{"login_hint", "prompt"} }))
			c := h.browser()
			resp := h.get(c, "/auth/"+tt.provider+"/login?return_to=/private&"+tt.query)
			require.Equal(t, http.StatusOK, resp.StatusCode, "the login still completes")
			reqs := h.stand.AuthorizeRequests()
			require.Len(t, reqs, 1)
			q := reqs[0]
			for k := range tt.want {
				assert.Equal(t, tt.want[k], q[k], k)
			}
			for _, k := range tt.absent {
				assert.False(t, q.Has(k), k)
			}
			for _, k := range []string{"state", "nonce", "code_challenge", "application", "return", "scope"} {
				assert.NotContains(t, q[k], "evil", k)
			}
		})
	}
}

func TestLoginDropsOverlongParam(t *testing.T) {
	h := newHarness(t, withConfig(func(c *sso.Config) { c.LoginParams = []string{"login_hint"} }))
	resp := h.get(h.browser(), "/auth/istores/login?login_hint="+strings.Repeat("a", 1025))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.False(t, h.stand.AuthorizeRequests()[0].Has("login_hint"))
	assert.Equal(t, 1, strings.Count(h.logs.String(), "authorize parameter dropped"), h.logs.String())
	assert.Contains(t, h.logs.String(), "param=login_hint")
}

func TestWithAuthParams(t *testing.T) {
	h := newHarness(t, withConfig(func(c *sso.Config) {
		c.LoginParams = []string{"login_hint", "prompt"}
		c.DefaultProvider = multicart.Name
	}))
	hint := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(sso.WithAuthParams(r.Context(), url.Values{
				"login_hint": {"ann@example.com"}, "acr_values": {"urn:mfa"}, "STATE": {"evil"}, "redirect_uri": {"https://evil.example/"},
			})))
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/hinted-login", hint(h.auth.Login(multicart.Name)))
	mux.Handle("/hinted-page", hint(h.auth.Require(http.HandlerFunc(h.private))))
	srv := httptest.NewServer(h.sm.LoadAndSave(mux))
	t.Cleanup(srv.Close)

	tests := []struct {
		name, path string
	}{
		{"Login, over the query's value", "/hinted-login?login_hint=bob&prompt=login"},
		{"Require sending a browser to log in", "/hinted-page"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.logs.String()
			resp := h.get(h.browser(), srv.URL+tt.path)
			require.Equal(t, http.StatusOK, resp.StatusCode, "the login completes")
			reqs := h.stand.AuthorizeRequests()
			require.Len(t, reqs, i+1)
			q := reqs[i]
			assert.Equal(t, "ann@example.com", q.Get("login_hint"), "the application's value wins")
			assert.Equal(t, "urn:mfa", q.Get("acr_values"))
			assert.NotEqual(t, "evil", q.Get("state"))
			assert.NotContains(t, q, "STATE")
			assert.Equal(t, h.app.URL+"/auth/multicart/callback", q.Get("return"))
			assert.NotContains(t, q, "redirect_uri")
			if i == 0 {
				assert.Equal(t, "login", q.Get("prompt"), "the query's other parameters stay")
			}
			logged := strings.TrimPrefix(h.logs.String(), before)
			assert.Equal(t, 2, strings.Count(logged, "sso: authorize parameter dropped"), logged)
			assert.Contains(t, logged, "param=STATE")
			assert.Contains(t, logged, "param=redirect_uri")
		})
	}
}
