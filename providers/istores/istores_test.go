package istores_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
)

func TestNewRejectsIncompleteConfig(t *testing.T) {
	good := istores.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://app.example/cb"}
	tests := []struct {
		name string
		edit func(*istores.Config)
	}{
		{"no client id", func(c *istores.Config) { c.ClientID = "" }},
		{"no secret", func(c *istores.Config) { c.ClientSecret = "" }},
		{"no redirect", func(c *istores.Config) { c.RedirectURL = "" }},
		{"relative redirect", func(c *istores.Config) { c.RedirectURL = "/cb" }},
		{"relative token url", func(c *istores.Config) { c.TokenURL = "token" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			_, err := istores.New(cfg)
			assert.Error(t, err)
		})
	}
	_, err := istores.New(good)
	assert.NoError(t, err)
}

// TestAuthCodeURLGolden pins the authorize URL to the guide's parameter
// names: client_id, redirect_uri, response_type=code, scopes (plural).
func TestAuthCodeURLGolden(t *testing.T) {
	p, err := istores.New(istores.Config{
		ClientID:     "test_client_id",
		ClientSecret: "s3cret",
		RedirectURL:  "https://nova.istores.co.il/test/returnUrlOauth",
		Scopes:       []string{istores.ScopeProductsRead, istores.ScopePBLCreate},
	})
	require.NoError(t, err)
	got := p.AuthCodeURL(sso.AuthParams{State: "st", CodeChallenge: "ch", Nonce: "ignored"})
	want := "https://nova.istores.co.il/oauth/authorize?client_id=test_client_id" +
		"&code_challenge=ch&code_challenge_method=S256" +
		"&redirect_uri=https%3A%2F%2Fnova.istores.co.il%2Ftest%2FreturnUrlOauth" +
		"&response_type=code&scopes=products%3Aread%20pbl%3Acreate&state=st"
	assert.Equal(t, want, got)

	u, err := url.Parse(got)
	require.NoError(t, err)
	assert.Equal(t, "products:read pbl:create", u.Query().Get("scopes"))
	assert.False(t, u.Query().Has("scope"), "Istores names the parameter scopes, not scope")
	assert.False(t, u.Query().Has("nonce"), "Istores has no ID token")
}

func TestAuthCodeURLSeparatorAndOverride(t *testing.T) {
	p, err := istores.New(istores.Config{
		ClientID: "id", ClientSecret: "s", RedirectURL: "https://app.example/cb",
		Scopes: []string{"a", "b"}, ScopeSeparator: ",", AuthURL: "https://staging.example/authorize?tenant=7",
	})
	require.NoError(t, err)
	u, err := url.Parse(p.AuthCodeURL(sso.AuthParams{State: "x"}))
	require.NoError(t, err)
	assert.Equal(t, "staging.example", u.Host)
	assert.Equal(t, "7", u.Query().Get("tenant"))
	assert.Equal(t, "a,b", u.Query().Get("scopes"))
}

// TestExchangeGolden pins the token request: a form-encoded POST carrying
// client_id, client_secret and code in the body, never HTTP Basic.
func TestExchangeGolden(t *testing.T) {
	var form url.Values
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		body, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(body))
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/oauth/token", r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"header.payload.sig","token_type":"Bearer","expires_in":3600}`)
	}))
	defer srv.Close()

	p, err := istores.New(istores.Config{
		ClientID: "cid", ClientSecret: "csecret", RedirectURL: "https://app.example/cb",
		TokenURL: srv.URL + "/oauth/token",
	})
	require.NoError(t, err)
	tok, err := p.Exchange(context.Background(), "the-code", "the-verifier")
	require.NoError(t, err)

	assert.Equal(t, "header.payload.sig", tok.AccessToken)
	assert.Equal(t, "Bearer", tok.Type())
	assert.Equal(t, int64(3600), tok.ExpiresIn)
	assert.Equal(t, "application/x-www-form-urlencoded", header.Get("Content-Type"))
	assert.Empty(t, header.Get("Authorization"), "credentials go in the body, not Basic auth")
	assert.Equal(t, url.Values{
		"client_id":     {"cid"},
		"client_secret": {"csecret"},
		"code":          {"the-code"},
		"grant_type":    {"authorization_code"},
		"redirect_uri":  {"https://app.example/cb"},
		"code_verifier": {"the-verifier"},
	}, form)
}

func TestExchangeDoesNotFollowRedirects(t *testing.T) {
	var elsewhere int
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere++
		_, _ = io.WriteString(w, `{"access_token":"x","token_type":"Bearer"}`)
	}))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	p, err := istores.New(istores.Config{ClientID: "c", ClientSecret: "s", RedirectURL: "https://a.example/cb", TokenURL: srv.URL})
	require.NoError(t, err)
	_, err = p.Exchange(context.Background(), "code", "")
	assert.Error(t, err)
	assert.Zero(t, elsewhere, "the secret must not be re-posted to a redirect target")
}

func TestProviderInterfaces(t *testing.T) {
	p, err := istores.New(istores.Config{ClientID: "c", ClientSecret: "s", RedirectURL: "https://a.example/cb", Scopes: []string{"x"}})
	require.NoError(t, err)
	var sp sso.Provider = p
	assert.Equal(t, istores.Name, sp.Name())
	_, refreshes := sp.(sso.Refresher)
	assert.False(t, refreshes, "Istores documents no refresh token")
	assert.Equal(t, []string{"x"}, p.RequestedScopes())
}
