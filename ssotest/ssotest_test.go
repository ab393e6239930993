package ssotest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/internal/testkit"
	"github.com/shopsso/sso/ssotest"
)

// ---- helpers ----

// clock is the shared settable test clock (internal/testkit).
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClockAt(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

func newServer(t *testing.T, opts ssotest.Options) *ssotest.Server {
	t.Helper()
	s := ssotest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// noFollow never follows redirects, like an OAuth client's token call must.
var noFollow = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type result struct {
	Status int
	Header http.Header
	Body   string
}

func do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := noFollow.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func get(t *testing.T, u string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return do(t, req)
}

func post(t *testing.T, u string, form url.Values, header http.Header) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

// location parses the Location of a 302.
func (r result) location(t *testing.T) *url.URL {
	t.Helper()
	require.Equal(t, http.StatusFound, r.Status, "body: %s", r.Body)
	u, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	return u
}

func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Body), &m), "body: %.200s", r.Body)
	return m
}

// oauthError asserts an RFC 6749 §5.2 answer.
func (r result) oauthError(t *testing.T, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	assert.Equal(t, code, r.json(t)["error"])
}

type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	v := rand.Text() + rand.Text() // 52 base32 characters
	sum := sha256.Sum256([]byte(v))
	return pkce{v, base64.RawURLEncoding.EncodeToString(sum[:])}
}

const (
	istoresRedirect   = "https://shop.example/auth/istores/callback"
	multicartRedirect = "https://appdomain.com/login?multicart"
)

// login is one provider's authorization request and the token form that
// redeems its code.
type login struct {
	provider string
	ep       ssotest.Endpoints
	query    url.Values
	pkce     pkce
}

func istoresLogin(s *ssotest.Server) *login {
	ep, p := s.Istores(), newPKCE()
	return &login{ssotest.ProviderIstores, ep, url.Values{
		"client_id":             {ep.Client.ID},
		"redirect_uri":          {istoresRedirect},
		"response_type":         {"code"},
		"scopes":                {"products:read customers:read"},
		"state":                 {"istores-state"},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
	}, p}
}

func multicartLogin(s *ssotest.Server) *login {
	ep, p := s.Multicart(), newPKCE()
	return &login{ssotest.ProviderMulticart, ep, url.Values{
		"application":           {ep.Client.ID},
		"return":                {multicartRedirect},
		"scope":                 {"email profile openid offline_access multicart.api"},
		"state":                 {"multicart-state"},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
		"nonce":                 {"the-nonce"},
	}, p}
}

func logins(s *ssotest.Server) []*login { return []*login{istoresLogin(s), multicartLogin(s)} }

func (l *login) authorizeURL() string { return l.ep.AuthURL + "?" + l.query.Encode() }

func (l *login) redirect() string {
	if l.provider == ssotest.ProviderIstores {
		return l.query.Get("redirect_uri")
	}
	return l.query.Get("return")
}

// code runs the authorize step with AutoApprove on and returns the code.
func (l *login) code(t *testing.T) string {
	t.Helper()
	back := get(t, l.authorizeURL()).location(t)
	require.NotEmpty(t, back.Query().Get("code"), "redirect: %s", back)
	return back.Query().Get("code")
}

// tokenForm is the form that redeems code, as each provider's guide sends it.
func (l *login) tokenForm(code string) url.Values {
	f := url.Values{"client_id": {l.ep.Client.ID}, "code": {code}, "code_verifier": {l.pkce.verifier}}
	if l.provider == ssotest.ProviderIstores {
		f.Set("client_secret", l.ep.Client.Secret)
	} else {
		f.Set("grant_type", "authorization_code")
		f.Set("redirect_uri", l.redirect())
	}
	return f
}

// exchange redeems code.
func (l *login) exchange(t *testing.T, code string) result {
	t.Helper()
	return post(t, l.ep.TokenURL, l.tokenForm(code), nil)
}

// fetchKeys reads a JWK set into public keys by kid.
func fetchKeys(t *testing.T, jwksURL string) map[string]*rsa.PublicKey {
	t.Helper()
	r := get(t, jwksURL)
	require.Equal(t, http.StatusOK, r.Status)
	var set struct {
		Keys []struct{ Kty, Kid, Use, Alg, N, E string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.Body), &set))
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		require.Equal(t, "RSA", k.Kty)
		require.Equal(t, "sig", k.Use)
		require.Equal(t, "RS256", k.Alg)
		require.NotEmpty(t, k.Kid)
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		require.NoError(t, err)
		e, err := base64.RawURLEncoding.DecodeString(k.E)
		require.NoError(t, err)
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys
}

// verify checks token's RS256 signature against the JWK set at jwksURL and
// its iss, aud and exp at now, and returns its claims.
func verify(t *testing.T, jwksURL, token, iss, aud string, now time.Time) jwt.MapClaims {
	t.Helper()
	keys := fetchKeys(t, jwksURL)
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		k, ok := keys[fmt.Sprint(tok.Header["kid"])]
		if !ok {
			return nil, errors.New("unknown kid")
		}
		return k, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(iss), jwt.WithAudience(aud),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }))
	require.NoError(t, err)
	return claims
}

// unverified decodes a token's header and claims without checking anything.
func unverified(t *testing.T, token string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(token, claims)
	require.NoError(t, err)
	return tok.Header, claims
}

// page is what the tests need from an HTML page.
type page struct {
	title   string
	method  string
	action  string
	fields  url.Values
	buttons [][2]string // name, value
}

func parsePage(t *testing.T, body string) page {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	p := page{fields: url.Values{}}
	attr := func(e xml.StartElement, name string) string {
		for _, a := range e.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	inTitle := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return p
		}
		require.NoError(t, err)
		switch e := tok.(type) {
		case xml.StartElement:
			switch e.Name.Local {
			case "title":
				inTitle = true
			case "form":
				p.method, p.action = attr(e, "method"), attr(e, "action")
			case "input":
				if attr(e, "type") == "hidden" {
					p.fields.Add(attr(e, "name"), attr(e, "value"))
				}
			case "button":
				p.buttons = append(p.buttons, [2]string{attr(e, "name"), attr(e, "value")})
			}
		case xml.EndElement:
			inTitle = inTitle && e.Name.Local != "title"
		case xml.CharData:
			if inTitle {
				p.title += string(e)
			}
		}
	}
}

// ---- authorize ----

func TestAuthorizeAutoApprove(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	for _, l := range logins(s) {
		t.Run(l.provider, func(t *testing.T) {
			back := get(t, l.authorizeURL()).location(t)
			want, _ := url.Parse(l.redirect())
			assert.Equal(t, want.Scheme+"://"+want.Host+want.Path, back.Scheme+"://"+back.Host+back.Path)
			q := back.Query()
			assert.Equal(t, l.query.Get("state"), q.Get("state"))
			assert.NotEmpty(t, q.Get("code"))
			for k := range want.Query() {
				assert.True(t, q.Has(k), "the redirect URI's own parameter %q is kept", k)
			}
			assert.Equal(t, http.StatusOK, l.exchange(t, q.Get("code")).Status)
		})
	}
	reqs := s.AuthorizeRequests()
	require.Len(t, reqs, 2)
	assert.Equal(t, s.Istores().Client.ID, reqs[0].Get("client_id"))
	assert.Equal(t, s.Multicart().Client.ID, reqs[1].Get("application"))
}

func TestAuthorizeWithoutState(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	l := istoresLogin(s)
	l.query.Del("state")
	back := get(t, l.authorizeURL()).location(t)
	assert.False(t, back.Query().Has("state"))
}

func TestApprovalPage(t *testing.T) {
	t.Parallel()
	for _, decision := range []string{"approve", "deny"} {
		s := newServer(t, ssotest.Options{})
		for _, l := range logins(s) {
			t.Run(l.provider+"/"+decision, func(t *testing.T) {
				r := get(t, l.authorizeURL())
				require.Equal(t, http.StatusOK, r.Status)
				assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
				assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
				p := parsePage(t, r.Body)

				title := map[string]string{ssotest.ProviderIstores: "Istores", ssotest.ProviderMulticart: "Multicart"}[l.provider]
				assert.Contains(t, p.title, title)
				assert.Contains(t, p.title, l.ep.Client.ID)
				scopes := l.query.Get("scopes") + l.query.Get("scope")
				for _, sc := range strings.Fields(scopes) {
					assert.Contains(t, r.Body, "<code>"+sc+"</code>")
				}
				assert.Equal(t, "post", p.method)
				require.Len(t, p.buttons, 2)
				assert.Equal(t, [2]string{"decision", "approve"}, p.buttons[0], "the first button approves")
				assert.Equal(t, [2]string{"decision", "deny"}, p.buttons[1])
				assert.Equal(t, l.query, p.fields, "the form carries the request")

				action, err := url.Parse(l.ep.AuthURL)
				require.NoError(t, err)
				action, err = action.Parse(p.action)
				require.NoError(t, err)
				p.fields.Set("decision", decision)
				back := post(t, action.String(), p.fields, nil).location(t)
				q := back.Query()
				assert.Equal(t, l.query.Get("state"), q.Get("state"))
				if decision == "deny" {
					assert.Equal(t, "access_denied", q.Get("error"))
					assert.NotEmpty(t, q.Get("error_description"))
					assert.False(t, q.Has("code"))
					return
				}
				require.NotEmpty(t, q.Get("code"))
				assert.Equal(t, http.StatusOK, l.exchange(t, q.Get("code")).Status)
			})
		}
	}
}

func TestApprovalPageEscapes(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{})
	l := multicartLogin(s)
	l.query.Set("scope", `<script>alert(1)</script>`)
	l.query.Set("state", `"><img src=x>`)
	r := get(t, l.authorizeURL())
	require.Equal(t, http.StatusOK, r.Status)
	assert.NotContains(t, r.Body, "<script>alert")
	assert.NotContains(t, r.Body, "<img")
	assert.Equal(t, l.query, parsePage(t, r.Body).fields)
	assert.Contains(t, r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
}

func TestSetAutoApprove(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{})
	l := istoresLogin(s)
	assert.Equal(t, http.StatusOK, get(t, l.authorizeURL()).Status)
	s.SetAutoApprove(true)
	assert.Equal(t, http.StatusFound, get(t, l.authorizeURL()).Status)
	s.SetAutoApprove(false)
	assert.Equal(t, http.StatusOK, get(t, l.authorizeURL()).Status)
}

func TestAuthorizeRejections(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	tests := []struct {
		name     string
		provider string
		change   func(q url.Values)
		// wantError "" means a 400 error page, never a redirect.
		wantError string
	}{
		{"istores unknown client", ssotest.ProviderIstores, func(q url.Values) { q.Set("client_id", "other") }, ""},
		{"istores missing client", ssotest.ProviderIstores, func(q url.Values) { q.Del("client_id") }, ""},
		{"istores repeated client", ssotest.ProviderIstores, func(q url.Values) { q.Add("client_id", "x") }, ""},
		{"istores missing redirect", ssotest.ProviderIstores, func(q url.Values) { q.Del("redirect_uri") }, ""},
		{"istores relative redirect", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", "/callback") }, ""},
		{"istores protocol-relative redirect", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", "//evil.example/cb") }, ""},
		{"istores javascript redirect", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") }, ""},
		{"istores redirect with fragment", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", istoresRedirect+"#x") }, ""},
		{"istores empty redirect", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", "") }, ""},
		{"istores redirect without host", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", "https:///callback") }, ""},
		{"istores unparsable redirect", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", "http://[::1/cb") }, ""},
		{"istores redirect with userinfo", ssotest.ProviderIstores, func(q url.Values) { q.Set("redirect_uri", "https://u:p@shop.example/cb") }, ""},
		{"multicart with client_id instead of application", ssotest.ProviderMulticart, func(q url.Values) {
			q.Set("client_id", q.Get("application"))
			q.Del("application")
		}, ""},
		{"multicart unknown application", ssotest.ProviderMulticart, func(q url.Values) { q.Set("application", "other") }, ""},
		{"multicart missing return", ssotest.ProviderMulticart, func(q url.Values) { q.Del("return") }, ""},
		{"multicart ftp return", ssotest.ProviderMulticart, func(q url.Values) { q.Set("return", "ftp://appdomain.com/") }, ""},
		{"istores missing response_type", ssotest.ProviderIstores, func(q url.Values) { q.Del("response_type") }, "invalid_request"},
		{"istores token response_type", ssotest.ProviderIstores, func(q url.Values) { q.Set("response_type", "token") }, "invalid_request"},
		{"multicart token response_type", ssotest.ProviderMulticart, func(q url.Values) { q.Set("response_type", "token") }, "invalid_request"},
		{"istores plain PKCE", ssotest.ProviderIstores, func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"multicart plain PKCE", ssotest.ProviderMulticart, func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"multicart challenge without method", ssotest.ProviderMulticart, func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		{"multicart method without challenge", ssotest.ProviderMulticart, func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
		{"multicart malformed challenge", ssotest.ProviderMulticart, func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request"},
		{"istores singular scope", ssotest.ProviderIstores, func(q url.Values) { q.Set("scope", q.Get("scopes")); q.Del("scopes") }, "invalid_request"},
		{"multicart repeated state", ssotest.ProviderMulticart, func(q url.Values) { q.Add("state", "again") }, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := istoresLogin(s)
			if tt.provider == ssotest.ProviderMulticart {
				l = multicartLogin(s)
			}
			state := l.query.Get("state")
			tt.change(l.query)
			r := get(t, l.authorizeURL())
			if tt.wantError == "" {
				assert.Equal(t, http.StatusBadRequest, r.Status)
				assert.Empty(t, r.Header.Get("Location"))
				assert.Contains(t, r.Header.Get("Content-Type"), "text/html")
				return
			}
			q := r.location(t).Query()
			assert.Equal(t, tt.wantError, q.Get("error"))
			assert.NotEmpty(t, q.Get("error_description"))
			assert.False(t, q.Has("code"))
			if tt.name != "multicart repeated state" {
				assert.Equal(t, state, q.Get("state"))
			}
		})
	}
}

func TestApprovalRevalidates(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{})
	tests := []struct {
		name       string
		change     func(f url.Values)
		wantStatus int
		wantError  string
	}{
		{"other client", func(f url.Values) { f.Set("client_id", "attacker") }, http.StatusBadRequest, ""},
		{"other redirect", func(f url.Values) { f.Set("redirect_uri", "javascript:alert(1)") }, http.StatusBadRequest, ""},
		{"no decision", func(f url.Values) { f.Del("decision") }, http.StatusBadRequest, ""},
		{"unknown decision", func(f url.Values) { f.Set("decision", "maybe") }, http.StatusBadRequest, ""},
		{"plain PKCE", func(f url.Values) { f.Set("code_challenge_method", "plain") }, http.StatusFound, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := istoresLogin(s)
			f := parsePage(t, get(t, l.authorizeURL()).Body).fields
			f.Set("decision", "approve")
			tt.change(f)
			r := post(t, l.ep.AuthURL, f, nil)
			require.Equal(t, tt.wantStatus, r.Status)
			if tt.wantError != "" {
				assert.Equal(t, tt.wantError, r.location(t).Query().Get("error"))
			}
		})
	}
}

// ---- token endpoints ----

func TestIstoresToken(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newServer(t, ssotest.Options{AutoApprove: true, Now: c.Now})
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("istores-client:istores-secret"))}}
	tests := []struct {
		name       string
		change     func(f url.Values)
		header     http.Header
		wantStatus int
		wantError  string
	}{
		{"as the guide sends it", func(url.Values) {}, nil, http.StatusOK, ""},
		{"with grant_type and redirect_uri", func(f url.Values) {
			f.Set("grant_type", "authorization_code")
			f.Set("redirect_uri", istoresRedirect)
		}, nil, http.StatusOK, ""},
		{"basic auth", func(f url.Values) { f.Del("client_secret") }, basic, http.StatusUnauthorized, "invalid_client"},
		{"basic auth and form secret", func(url.Values) {}, basic, http.StatusUnauthorized, "invalid_client"},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }, nil, http.StatusUnauthorized, "invalid_client"},
		{"missing secret", func(f url.Values) { f.Del("client_secret") }, nil, http.StatusUnauthorized, "invalid_client"},
		{"other client", func(f url.Values) { f.Set("client_id", "other") }, nil, http.StatusUnauthorized, "invalid_client"},
		{"missing code", func(f url.Values) { f.Del("code") }, nil, http.StatusBadRequest, "invalid_request"},
		{"unknown code", func(f url.Values) { f.Set("code", "made-up") }, nil, http.StatusBadRequest, "invalid_grant"},
		{"other redirect_uri", func(f url.Values) { f.Set("redirect_uri", "https://shop.example/other") }, nil, http.StatusBadRequest, "invalid_grant"},
		{"wrong grant_type", func(f url.Values) { f.Set("grant_type", "password") }, nil, http.StatusBadRequest, "unsupported_grant_type"},
		{"refresh grant", func(f url.Values) { f.Set("grant_type", "refresh_token") }, nil, http.StatusBadRequest, "unsupported_grant_type"},
		{"repeated parameter", func(f url.Values) { f.Add("client_id", "istores-client") }, nil, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := istoresLogin(s)
			f := l.tokenForm(l.code(t))
			tt.change(f)
			r := post(t, l.ep.TokenURL, f, tt.header)
			if tt.wantError != "" {
				r.oauthError(t, tt.wantStatus, tt.wantError)
				return
			}
			require.Equal(t, tt.wantStatus, r.Status, r.Body)
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			m := r.json(t)
			assert.Equal(t, "Bearer", m["token_type"])
			assert.EqualValues(t, 3600, m["expires_in"])
			assert.NotContains(t, m, "refresh_token")
			assert.NotContains(t, m, "id_token")
			claims := verify(t, l.ep.JWKSURL, m["access_token"].(string), l.ep.Issuer, l.ep.Client.ID, c.Now())
			assert.Equal(t, "customer-1", claims["sub"])
			assert.Equal(t, []any{"products:read", "customers:read"}, claims["scopes"])
			assert.Equal(t, "istores-client", claims["client_id"])
			assert.Equal(t, "store-1", claims["store_id"])
			assert.EqualValues(t, c.Now().Unix(), claims["iat"])
			assert.EqualValues(t, c.Now().Add(time.Hour).Unix(), claims["exp"])
			assert.NotEmpty(t, claims["jti"])
		})
	}
}

func TestTokenRequestShape(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{})
	for _, l := range logins(s) {
		tests := []struct {
			name       string
			send       func() (*http.Response, error)
			wantStatus int
		}{
			{"GET", func() (*http.Response, error) { return noFollow.Get(l.ep.TokenURL) }, http.StatusMethodNotAllowed},
			{"JSON body", func() (*http.Response, error) {
				return noFollow.Post(l.ep.TokenURL, "application/json", strings.NewReader(`{"code":"x"}`))
			}, http.StatusBadRequest},
			{"query string", func() (*http.Response, error) {
				return noFollow.PostForm(l.ep.TokenURL+"?client_secret=x", url.Values{"code": {"x"}})
			}, http.StatusBadRequest},
		}
		for _, tt := range tests {
			t.Run(l.provider+"/"+tt.name, func(t *testing.T) {
				resp, err := tt.send()
				require.NoError(t, err)
				defer resp.Body.Close()
				var m map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
				assert.Equal(t, tt.wantStatus, resp.StatusCode)
				assert.Equal(t, "invalid_request", m["error"])
			})
		}
	}
}

func TestMulticartToken(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newServer(t, ssotest.Options{AutoApprove: true, Now: c.Now})
	tests := []struct {
		name       string
		scope      string
		change     func(f url.Values)
		wantStatus int
		wantError  string
	}{
		{"with offline_access", "openid email offline_access multicart.api", func(url.Values) {}, http.StatusOK, ""},
		{"without offline_access", "openid email multicart.api", func(url.Values) {}, http.StatusOK, ""},
		{"with the right secret", "openid", func(f url.Values) { f.Set("client_secret", "multicart-secret") }, http.StatusOK, ""},
		{"with a wrong secret", "openid", func(f url.Values) { f.Set("client_secret", "nope") }, http.StatusUnauthorized, "invalid_client"},
		{"other client", "openid", func(f url.Values) { f.Set("client_id", "other") }, http.StatusUnauthorized, "invalid_client"},
		{"missing grant_type", "openid", func(f url.Values) { f.Del("grant_type") }, http.StatusBadRequest, "invalid_request"},
		{"unknown grant_type", "openid", func(f url.Values) { f.Set("grant_type", "password") }, http.StatusBadRequest, "unsupported_grant_type"},
		{"missing redirect_uri", "openid", func(f url.Values) { f.Del("redirect_uri") }, http.StatusBadRequest, "invalid_request"},
		{"redirect_uri without its query", "openid", func(f url.Values) { f.Set("redirect_uri", "https://appdomain.com/login") }, http.StatusBadRequest, "invalid_grant"},
		{"missing code", "openid", func(f url.Values) { f.Del("code") }, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := multicartLogin(s)
			l.query.Set("scope", tt.scope)
			f := l.tokenForm(l.code(t))
			tt.change(f)
			r := post(t, l.ep.TokenURL, f, nil)
			if tt.wantError != "" {
				r.oauthError(t, tt.wantStatus, tt.wantError)
				return
			}
			require.Equal(t, tt.wantStatus, r.Status, r.Body)
			m := r.json(t)
			assert.Equal(t, "Bearer", m["token_type"])
			assert.EqualValues(t, 3600, m["expires_in"])
			assert.Equal(t, tt.scope, m["scope"])
			assert.Equal(t, strings.Contains(tt.scope, "offline_access"), m["refresh_token"] != nil)

			at := verify(t, l.ep.JWKSURL, m["access_token"].(string), l.ep.Issuer, "multicart.api", c.Now())
			assert.Equal(t, "customer-1", at["sub"])
			assert.Equal(t, tt.scope, at["scope"])
			assert.Equal(t, "multicart-app", at["client_id"])

			id := verify(t, l.ep.JWKSURL, m["id_token"].(string), l.ep.Issuer, l.ep.Client.ID, c.Now())
			assert.Equal(t, "customer-1", id["sub"])
			assert.Equal(t, "the-nonce", id["nonce"])
			assert.Equal(t, "customer-1@example.com", id["email"])
			assert.Equal(t, "Test Customer", id["name"])
			assert.EqualValues(t, c.Now().Unix(), id["auth_time"])
		})
	}
}

func TestCodeSingleUse(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	for _, l := range logins(s) {
		t.Run(l.provider, func(t *testing.T) {
			code := l.code(t)
			require.Equal(t, http.StatusOK, l.exchange(t, code).Status)
			l.exchange(t, code).oauthError(t, http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestCodeSpentByFailedRedemption(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	l := multicartLogin(s)
	code := l.code(t)
	f := l.tokenForm(code)
	f.Set("code_verifier", newPKCE().verifier)
	post(t, l.ep.TokenURL, f, nil).oauthError(t, http.StatusBadRequest, "invalid_grant")
	l.exchange(t, code).oauthError(t, http.StatusBadRequest, "invalid_grant")
}

func TestCodeBoundToProvider(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	ist, mc := istoresLogin(s), multicartLogin(s)
	mc.pkce = ist.pkce
	f := mc.tokenForm(ist.code(t))
	f.Set("redirect_uri", istoresRedirect)
	post(t, mc.ep.TokenURL, f, nil).oauthError(t, http.StatusBadRequest, "invalid_grant")
}

func TestCodeExpiry(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		after  time.Duration
		wantOK bool
	}{
		{"within 60s", 59 * time.Second, true},
		{"at 60s", 60 * time.Second, false},
		{"after 60s", 61 * time.Second, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			s := newServer(t, ssotest.Options{AutoApprove: true, Now: c.Now})
			for _, l := range logins(s) {
				code := l.code(t)
				c.Advance(tt.after)
				r := l.exchange(t, code)
				if tt.wantOK {
					assert.Equal(t, http.StatusOK, r.Status, r.Body)
				} else {
					r.oauthError(t, http.StatusBadRequest, "invalid_grant")
				}
			}
		})
	}
}

func TestPKCE(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	tests := []struct {
		name          string
		withChallenge bool
		verifier      func(l *login) (string, bool) // value, present
		wantOK        bool
	}{
		{"matching verifier", true, func(l *login) (string, bool) { return l.pkce.verifier, true }, true},
		{"other verifier", true, func(*login) (string, bool) { return newPKCE().verifier, true }, false},
		{"missing verifier", true, func(*login) (string, bool) { return "", false }, false},
		{"the challenge as verifier", true, func(l *login) (string, bool) { return l.pkce.challenge, true }, false},
		{"short verifier", true, func(l *login) (string, bool) { return l.pkce.verifier[:42], true }, false},
		{"no PKCE at all", false, func(*login) (string, bool) { return "", false }, true},
		{"verifier without challenge", false, func(l *login) (string, bool) { return l.pkce.verifier, true }, false},
	}
	for _, tt := range tests {
		for _, l := range logins(s) {
			t.Run(l.provider+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				if !tt.withChallenge {
					l.query.Del("code_challenge")
					l.query.Del("code_challenge_method")
				}
				f := l.tokenForm(l.code(t))
				f.Del("code_verifier")
				if v, ok := tt.verifier(l); ok {
					f.Set("code_verifier", v)
				}
				r := post(t, l.ep.TokenURL, f, nil)
				if tt.wantOK {
					assert.Equal(t, http.StatusOK, r.Status, r.Body)
				} else {
					r.oauthError(t, http.StatusBadRequest, "invalid_grant")
				}
			})
		}
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	c := newClock()
	// Reuse of rt1 below would revoke the grant (TestRefreshReuseRevokesGrant).
	s := newServer(t, ssotest.Options{AutoApprove: true, Now: c.Now, SkipReuseDetection: true})
	l := multicartLogin(s)
	first := l.exchange(t, l.code(t)).json(t)
	rt1 := first["refresh_token"].(string)
	require.NotEmpty(t, rt1)
	refresh := func(rt string) result {
		return post(t, l.ep.TokenURL, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {l.ep.Client.ID},
		}, nil)
	}

	c.Advance(10 * time.Minute)
	r := refresh(rt1)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	second := r.json(t)
	rt2 := second["refresh_token"].(string)
	assert.NotEqual(t, rt1, rt2)
	assert.NotEqual(t, first["access_token"], second["access_token"])
	assert.Equal(t, first["scope"], second["scope"])
	id := verify(t, l.ep.JWKSURL, second["id_token"].(string), l.ep.Issuer, l.ep.Client.ID, c.Now())
	assert.NotContains(t, id, "nonce", "a refreshed ID token has no nonce")
	assert.EqualValues(t, c.Now().Add(-10*time.Minute).Unix(), id["auth_time"], "auth_time is the login's")
	verify(t, l.ep.JWKSURL, second["access_token"].(string), l.ep.Issuer, "multicart.api", c.Now())

	refresh(rt1).oauthError(t, http.StatusBadRequest, "invalid_grant")

	tests := []struct {
		name      string
		form      url.Values
		wantCode  int
		wantError string
	}{
		{"other client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}, "client_id": {"other"}}, http.StatusUnauthorized, "invalid_client"},
		{"missing client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}, http.StatusUnauthorized, "invalid_client"},
		{"missing token", url.Values{"grant_type": {"refresh_token"}, "client_id": {l.ep.Client.ID}}, http.StatusBadRequest, "invalid_request"},
		{"made-up token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {l.ep.Client.ID}}, http.StatusBadRequest, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			post(t, l.ep.TokenURL, tt.form, nil).oauthError(t, tt.wantCode, tt.wantError)
		})
	}

	r = refresh(rt2) // the failed attempts above left rt2 valid
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	refresh(rt2).oauthError(t, http.StatusBadRequest, "invalid_grant")
	assert.Equal(t, 8, s.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantRefreshToken))
}

// TestRefreshReuseRevokesGrant: presenting a spent refresh token again
// revokes the whole grant, the newest refresh token of it included (RFC
// 9700 §4.14.2), unless detection is switched off.
func TestRefreshReuseRevokesGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		skip       bool
		newestWork bool
	}{
		{name: "detection on (default)", skip: false, newestWork: false},
		{name: "detection off", skip: true, newestWork: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, ssotest.Options{AutoApprove: true, SkipReuseDetection: tt.skip})
			l := multicartLogin(s)
			rt1 := l.exchange(t, l.code(t)).json(t)["refresh_token"].(string)
			refresh := func(rt string) result {
				return post(t, l.ep.TokenURL, url.Values{
					"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {l.ep.Client.ID},
				}, nil)
			}
			r := refresh(rt1)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			rt2 := r.json(t)["refresh_token"].(string)
			r = refresh(rt2)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			rt3 := r.json(t)["refresh_token"].(string)
			assert.Zero(t, s.Reuses())

			refresh(rt1).oauthError(t, http.StatusBadRequest, "invalid_grant") // reuse of a spent token
			assert.Equal(t, 1, s.Reuses())
			r = refresh(rt3)
			if tt.newestWork {
				assert.Equal(t, http.StatusOK, r.Status, r.Body)
			} else {
				r.oauthError(t, http.StatusBadRequest, "invalid_grant")
			}
			// Another login is another grant: untouched by the revocation.
			other := l.exchange(t, l.code(t)).json(t)["refresh_token"].(string)
			assert.Equal(t, http.StatusOK, refresh(other).Status)
		})
	}
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newServer(t, ssotest.Options{Now: c.Now})
	ep := s.Multicart()
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("multicart-app:multicart-secret"))}}
	tests := []struct {
		name       string
		change     func(f url.Values)
		header     http.Header
		wantStatus int
		wantError  string
	}{
		{"ok", func(url.Values) {}, nil, http.StatusOK, ""},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }, nil, http.StatusUnauthorized, "invalid_client"},
		{"missing secret", func(f url.Values) { f.Del("client_secret") }, nil, http.StatusUnauthorized, "invalid_client"},
		{"basic auth", func(f url.Values) { f.Del("client_secret"); f.Del("client_id") }, basic, http.StatusUnauthorized, "invalid_client"},
		{"other client", func(f url.Values) { f.Set("client_id", "other") }, nil, http.StatusUnauthorized, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := url.Values{
				"grant_type": {"client_credentials"}, "client_id": {ep.Client.ID},
				"client_secret": {ep.Client.Secret}, "scope": {"multicart.api"},
			}
			tt.change(f)
			r := post(t, ep.TokenURL, f, tt.header)
			if tt.wantError != "" {
				r.oauthError(t, tt.wantStatus, tt.wantError)
				assert.NotEmpty(t, r.Header.Get("WWW-Authenticate"))
				return
			}
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			m := r.json(t)
			assert.Equal(t, "multicart.api", m["scope"])
			assert.NotContains(t, m, "id_token")
			assert.NotContains(t, m, "refresh_token")
			claims := verify(t, ep.JWKSURL, m["access_token"].(string), ep.Issuer, "multicart.api", c.Now())
			assert.Equal(t, ep.Client.ID, claims["sub"])
		})
	}
}

// ---- failures ----

func TestFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		failure ssotest.Failure
		// check runs one Multicart login with the failure injected; tok is the
		// token answer, or the zero result if authorize already failed.
		check func(t *testing.T, s *ssotest.Server, c *clock, back *url.URL, tok result)
	}{
		{"deny", ssotest.Failure{Deny: true}, func(t *testing.T, _ *ssotest.Server, _ *clock, back *url.URL, _ result) {
			assert.Equal(t, "access_denied", back.Query().Get("error"))
			assert.NotEmpty(t, back.Query().Get("error_description"))
			assert.Equal(t, "multicart-state", back.Query().Get("state"))
		}},
		{"deny for the other provider", ssotest.Failure{Provider: ssotest.ProviderIstores, Deny: true}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			assert.Equal(t, http.StatusOK, tok.Status)
		}},
		{"token error", ssotest.Failure{TokenError: "invalid_grant"}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			tok.oauthError(t, http.StatusBadRequest, "invalid_grant")
			assert.NotEmpty(t, tok.json(t)["error_description"])
		}},
		{"status", ssotest.Failure{Status: http.StatusBadGateway}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			assert.Equal(t, http.StatusBadGateway, tok.Status)
			assert.Contains(t, tok.Header.Get("Content-Type"), "text/plain")
			assert.NotEmpty(t, tok.Body)
			assert.Less(t, len(tok.Body), 100)
		}},
		{"delay", ssotest.Failure{Delay: 50 * time.Millisecond}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			assert.Equal(t, http.StatusOK, tok.Status) // the elapsed time is checked in TestDelay
		}},
		{"malformed JSON", ssotest.Failure{MalformedJSON: true}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			assert.Equal(t, http.StatusOK, tok.Status)
			assert.False(t, json.Valid([]byte(tok.Body)))
		}},
		{"oversized", ssotest.Failure{Oversized: true}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			assert.Equal(t, http.StatusOK, tok.Status)
			assert.GreaterOrEqual(t, len(tok.Body), 2<<20)
			assert.Less(t, len(tok.Body), 3<<20)
			assert.True(t, json.Valid([]byte(tok.Body)))
			assert.Less(t, strings.Index(tok.Body, "xxxx"), strings.Index(tok.Body, "access_token"), "the padding comes first")
		}},
		{"redirect", ssotest.Failure{Redirect: true}, func(t *testing.T, s *ssotest.Server, c *clock, _ *url.URL, tok result) {
			to := tok.location(t)
			assert.Equal(t, strings.TrimPrefix(s.URL(), "http://"), to.Host)
			assert.Zero(t, s.RedirectsFollowed())
			followed := get(t, to.String())
			require.Equal(t, http.StatusOK, followed.Status)
			m := followed.json(t)
			verify(t, s.Multicart().JWKSURL, m["access_token"].(string), s.Multicart().Issuer, "multicart.api", c.Now())
			assert.Equal(t, 1, s.RedirectsFollowed())
		}},
		{"expired access token", ssotest.Failure{ExpiredAccessToken: true}, func(t *testing.T, _ *ssotest.Server, c *clock, _ *url.URL, tok result) {
			m := tok.json(t)
			assert.EqualValues(t, -60, m["expires_in"])
			_, claims := unverified(t, m["access_token"].(string))
			assert.EqualValues(t, c.Now().Add(-time.Minute).Unix(), claims["exp"])
			assert.Less(t, claims["iat"], claims["exp"])
		}},
		{"ID token claims", ssotest.Failure{IDTokenIssuer: "https://evil.example", IDTokenAudience: "someone-else", IDTokenNonce: "other-nonce"},
			func(t *testing.T, s *ssotest.Server, c *clock, _ *url.URL, tok result) {
				m := tok.json(t)
				claims := verify(t, s.Multicart().JWKSURL, m["id_token"].(string), "https://evil.example", "someone-else", c.Now())
				assert.Equal(t, "other-nonce", claims["nonce"])
				verify(t, s.Multicart().JWKSURL, m["access_token"].(string), s.Multicart().Issuer, "multicart.api", c.Now())
			}},
		{"expired ID token", ssotest.Failure{ExpiredIDToken: true}, func(t *testing.T, s *ssotest.Server, c *clock, _ *url.URL, tok result) {
			m := tok.json(t)
			_, claims := unverified(t, m["id_token"].(string))
			assert.EqualValues(t, c.Now().Add(-time.Minute).Unix(), claims["exp"])
			verify(t, s.Multicart().JWKSURL, m["access_token"].(string), s.Multicart().Issuer, "multicart.api", c.Now())
		}},
		{"unsigned ID token", ssotest.Failure{IDTokenUnsigned: true}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			raw := tok.json(t)["id_token"].(string)
			header, claims := unverified(t, raw)
			assert.Equal(t, "none", header["alg"])
			assert.True(t, strings.HasSuffix(raw, "."), "no signature")
			assert.Equal(t, "the-nonce", claims["nonce"])
		}},
		{"other grant", ssotest.Failure{Grant: ssotest.GrantRefreshToken, Status: http.StatusInternalServerError}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			assert.Equal(t, http.StatusOK, tok.Status)
		}},
		{"other provider", ssotest.Failure{Provider: ssotest.ProviderIstores, Status: http.StatusInternalServerError}, func(t *testing.T, _ *ssotest.Server, _ *clock, _ *url.URL, tok result) {
			assert.Equal(t, http.StatusOK, tok.Status)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			s := newServer(t, ssotest.Options{AutoApprove: true, Now: c.Now})
			s.Inject(tt.failure)
			l := multicartLogin(s)
			back := get(t, l.authorizeURL()).location(t)
			var tok result
			if code := back.Query().Get("code"); code != "" {
				tok = l.exchange(t, code)
				assert.Equal(t, 1, s.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantAuthorizationCode), "the call is counted")
			}
			tt.check(t, s, c, back, tok)
		})
	}
}

func TestDenyOnApprovalPage(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{})
	s.Inject(ssotest.Failure{Deny: true})
	l := istoresLogin(s)
	r := get(t, l.authorizeURL())
	require.Equal(t, http.StatusOK, r.Status, "the page is still shown")
	f := parsePage(t, r.Body).fields
	f.Set("decision", "approve")
	q := post(t, l.ep.AuthURL, f, nil).location(t).Query()
	assert.Equal(t, "access_denied", q.Get("error"))
	assert.Equal(t, "istores-state", q.Get("state"))
}

func TestFailureCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inject []ssotest.Failure // applied in order: the last one wins
		reset  bool
		want   []int // statuses of successive logins
	}{
		{"count 2", []ssotest.Failure{{Status: 503, Count: 2}}, false, []int{503, 503, 200, 200}},
		{"count 0 lasts", []ssotest.Failure{{Status: 503}}, false, []int{503, 503, 503, 503}},
		{"reset", []ssotest.Failure{{Status: 503}}, true, []int{200, 200}},
		{"inject replaces", []ssotest.Failure{{Status: 503}, {Status: 502, Count: 1}}, false, []int{502, 200}},
		{"deny is not a token failure", []ssotest.Failure{{Deny: true, Provider: ssotest.ProviderMulticart}}, false, []int{200, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, ssotest.Options{AutoApprove: true})
			for _, f := range tt.inject {
				s.Inject(f)
			}
			if tt.reset {
				s.Reset()
			}
			for i, want := range tt.want {
				l := istoresLogin(s)
				assert.Equal(t, want, l.exchange(t, l.code(t)).Status, "login %d", i)
			}
			assert.Equal(t, len(tt.want), s.TokenCalls(ssotest.ProviderIstores, ""))
			assert.Equal(t, len(tt.want), s.TokenCalls("", ssotest.GrantAuthorizationCode))
			assert.Zero(t, s.TokenCalls(ssotest.ProviderMulticart, ""))
		})
	}
}

func TestDenyCount(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	s.Inject(ssotest.Failure{Deny: true, Count: 1})
	l := multicartLogin(s)
	assert.Equal(t, "access_denied", get(t, l.authorizeURL()).location(t).Query().Get("error"))
	assert.NotEmpty(t, get(t, l.authorizeURL()).location(t).Query().Get("code"))
}

func TestDelay(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{})
	s.Inject(ssotest.Failure{Delay: 100 * time.Millisecond, TokenError: "temporarily_unavailable", Count: 1})
	ep := s.Multicart()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {ep.Client.ID}, "client_secret": {ep.Client.Secret}}
	start := time.Now()
	post(t, ep.TokenURL, form, nil).oauthError(t, http.StatusBadRequest, "temporarily_unavailable")
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "delay comes first, then the other failure")
	assert.Equal(t, http.StatusOK, post(t, ep.TokenURL, form, nil).Status)
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDelayEndsWithRequest(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{})
	s.Inject(ssotest.Failure{Delay: time.Hour})
	ep := s.Istores()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.TokenURL, strings.NewReader("code=x"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, func() bool { return s.TokenCalls("", "") == 1 })
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on a delayed handler whose client left")
	}
}

func TestCloseUnblocksDelay(t *testing.T) {
	t.Parallel()
	s := ssotest.NewServer(ssotest.Options{})
	s.Inject(ssotest.Failure{Delay: time.Hour})
	ep := s.Istores()
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.PostForm(ep.TokenURL, url.Values{"code": {"x"}})
		if err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return s.TokenCalls("", "") == 1 })
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	for _, ch := range []chan struct{}{closed, done} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("Close hangs on a delayed handler")
		}
	}
	s.Close() // a second Close is harmless
}

// ---- keys and helpers ----

func TestJWKS(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newServer(t, ssotest.Options{AutoApprove: true, Now: c.Now})
	for _, l := range logins(s) {
		t.Run(l.provider, func(t *testing.T) {
			keys := fetchKeys(t, l.ep.JWKSURL)
			require.Len(t, keys, 1)
			for kid, k := range keys {
				assert.True(t, k.Equal(s.PublicKey()))
				m := l.exchange(t, l.code(t)).json(t)
				header, _ := unverified(t, m["access_token"].(string))
				assert.Equal(t, kid, header["kid"])
				assert.Equal(t, "RS256", header["alg"])
			}
			aud := l.ep.Client.ID
			if l.provider == ssotest.ProviderMulticart {
				aud = ssotest.MulticartAudience
			}
			tok := s.IssueAccessToken(l.provider, nil)
			verify(t, l.ep.JWKSURL, tok, l.ep.Issuer, aud, c.Now())
		})
	}
	t.Run("a token signed by another key fails", func(t *testing.T) {
		other := newServer(t, ssotest.Options{Now: c.Now})
		tok := other.IssueAccessToken(ssotest.ProviderIstores, map[string]any{"iss": s.Istores().Issuer})
		keys := fetchKeys(t, s.Istores().JWKSURL)
		_, err := jwt.Parse(tok, func(tok *jwt.Token) (any, error) {
			if k, ok := keys[fmt.Sprint(tok.Header["kid"])]; ok {
				return k, nil
			}
			return s.PublicKey(), nil
		}, jwt.WithTimeFunc(c.Now))
		assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	})
}

func TestIssueAccessToken(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newServer(t, ssotest.Options{Now: c.Now, Subject: "alice", AccessTokenTTL: 90 * time.Second})
	tests := []struct {
		name     string
		provider string
		claims   map[string]any
		check    func(t *testing.T, claims jwt.MapClaims)
	}{
		{"istores defaults", ssotest.ProviderIstores, nil, func(t *testing.T, claims jwt.MapClaims) {
			assert.Equal(t, s.Istores().Issuer, claims["iss"])
			assert.Equal(t, "alice", claims["sub"])
			assert.Equal(t, "istores-client", claims["aud"])
			assert.EqualValues(t, c.Now().Unix(), claims["iat"])
			assert.EqualValues(t, c.Now().Add(90*time.Second).Unix(), claims["exp"])
			assert.NotEmpty(t, claims["jti"])
		}},
		{"multicart defaults", ssotest.ProviderMulticart, nil, func(t *testing.T, claims jwt.MapClaims) {
			assert.Equal(t, s.Multicart().Issuer, claims["iss"])
			assert.Equal(t, "multicart.api", claims["aud"])
		}},
		{"overrides and removals", ssotest.ProviderIstores, map[string]any{"sub": "bob", "scopes": []string{"charge:card"}, "jti": nil},
			func(t *testing.T, claims jwt.MapClaims) {
				assert.Equal(t, "bob", claims["sub"])
				assert.Equal(t, []any{"charge:card"}, claims["scopes"])
				assert.NotContains(t, claims, "jti")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, claims := unverified(t, s.IssueAccessToken(tt.provider, tt.claims))
			tt.check(t, claims)
		})
	}
	assert.Panics(t, func() { s.IssueAccessToken("github", nil) })
	a, b := s.IssueAccessToken(ssotest.ProviderIstores, nil), s.IssueAccessToken(ssotest.ProviderIstores, nil)
	_, ca := unverified(t, a)
	_, cb := unverified(t, b)
	assert.NotEqual(t, ca["jti"], cb["jti"])
}

func TestIssueIDToken(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newServer(t, ssotest.Options{Now: c.Now, Email: "a@example.org", Name: "Alice"})
	ep := s.Multicart()
	claims := verify(t, ep.JWKSURL, s.IssueIDToken(map[string]any{"nonce": "n-1"}), ep.Issuer, ep.Client.ID, c.Now())
	assert.Equal(t, "n-1", claims["nonce"])
	assert.Equal(t, "a@example.org", claims["email"])
	assert.Equal(t, "Alice", claims["name"])
	assert.EqualValues(t, c.Now().Unix(), claims["auth_time"])
	_, claims = unverified(t, s.IssueIDToken(map[string]any{"email": nil}))
	assert.NotContains(t, claims, "email")
}

func TestIstoresScopesClaim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		asString bool
		scopes   string
		want     any
	}{
		{"list", false, "products:read pbl:create", []any{"products:read", "pbl:create"}},
		{"string", true, "products:read pbl:create", "products:read pbl:create"},
		{"empty list", false, "", []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, ssotest.Options{AutoApprove: true, IstoresScopesAsString: tt.asString})
			l := istoresLogin(s)
			l.query.Set("scopes", tt.scopes)
			_, claims := unverified(t, l.exchange(t, l.code(t)).json(t)["access_token"].(string))
			assert.Equal(t, tt.want, claims["scopes"])
		})
	}
}

func TestCustomClients(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{
		AutoApprove: true,
		Istores:     ssotest.Client{ID: "my-store", Secret: "s3"},
		Multicart:   ssotest.Client{ID: "my-app", Secret: "s4"},
	})
	assert.Equal(t, ssotest.Client{ID: "my-store", Secret: "s3"}, s.Istores().Client)
	assert.Equal(t, ssotest.Client{ID: "my-app", Secret: "s4"}, s.Multicart().Client)
	for _, l := range logins(s) {
		assert.Equal(t, http.StatusOK, l.exchange(t, l.code(t)).Status)
	}
	assert.Equal(t, s.URL()+"/istores/oauth/authorize", s.Istores().AuthURL)
	assert.Equal(t, s.URL()+"/istores/oauth/token", s.Istores().TokenURL)
	assert.Equal(t, s.URL()+"/istores/.well-known/jwks.json", s.Istores().JWKSURL)
	assert.Equal(t, s.URL()+"/istores", s.Istores().Issuer)
	assert.Equal(t, s.URL()+"/multicart/", s.Multicart().AuthURL)
	assert.Equal(t, s.URL()+"/multicart/api/connect/token", s.Multicart().TokenURL)
	assert.Equal(t, s.URL()+"/multicart/.well-known/jwks.json", s.Multicart().JWKSURL)
	assert.Equal(t, s.URL()+"/multicart", s.Multicart().Issuer)
	assert.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
}

func TestRecording(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	l := istoresLogin(s)
	l.exchange(t, l.code(t))
	reqs := s.TokenRequests()
	require.Len(t, reqs, 1)
	assert.Equal(t, ssotest.ProviderIstores, reqs[0].Provider)
	assert.Equal(t, ssotest.GrantAuthorizationCode, reqs[0].Grant, "Istores' missing grant_type counts as the code grant")
	assert.Equal(t, "istores-secret", reqs[0].Form.Get("client_secret"))
	assert.Equal(t, "application/x-www-form-urlencoded", reqs[0].Header.Get("Content-Type"))

	reqs[0].Form.Set("client_secret", "changed")
	reqs[0].Header.Set("Content-Type", "changed")
	s.AuthorizeRequests()[0].Set("client_id", "changed")
	assert.Equal(t, "istores-secret", s.TokenRequests()[0].Form.Get("client_secret"), "TokenRequests returns a copy")
	assert.Equal(t, "application/x-www-form-urlencoded", s.TokenRequests()[0].Header.Get("Content-Type"))
	assert.Equal(t, "istores-client", s.AuthorizeRequests()[0].Get("client_id"), "AuthorizeRequests returns a copy")
}

func TestLogfKeepsSecrets(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		logs strings.Builder
	)
	s := newServer(t, ssotest.Options{AutoApprove: true, Logf: func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(&logs, format+"\n", args...)
		mu.Unlock()
	}})
	var secrets []string
	for _, l := range logins(s) {
		code := l.code(t)
		m := l.exchange(t, code).json(t)
		secrets = append(secrets, code, l.pkce.verifier, l.ep.Client.Secret, m["access_token"].(string))
		if rt, ok := m["refresh_token"].(string); ok {
			secrets = append(secrets, rt, m["id_token"].(string))
		}
		l.exchange(t, code) // a failure is logged too
	}
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, logs.String())
	for _, secret := range secrets {
		assert.NotContains(t, logs.String(), secret)
	}
}

func TestConcurrentLogins(t *testing.T) {
	t.Parallel()
	s := newServer(t, ssotest.Options{AutoApprove: true})
	const n = 200
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		jtis = map[any]bool{}
	)
	for i := range n {
		wg.Go(func() {
			l := istoresLogin(s)
			if i%2 == 1 {
				l = multicartLogin(s)
			}
			l.query.Set("state", fmt.Sprint("state-", i))
			resp, err := noFollow.Get(l.authorizeURL())
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			back, err := url.Parse(resp.Header.Get("Location"))
			if !assert.NoError(t, err) || !assert.Equal(t, fmt.Sprint("state-", i), back.Query().Get("state")) {
				return
			}
			resp, err = noFollow.PostForm(l.ep.TokenURL, l.tokenForm(back.Query().Get("code")))
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			var m struct {
				AccessToken string `json:"access_token"`
			}
			if !assert.Equal(t, http.StatusOK, resp.StatusCode) || !assert.NoError(t, json.NewDecoder(resp.Body).Decode(&m)) {
				return
			}
			claims := jwt.MapClaims{}
			_, err = jwt.ParseWithClaims(m.AccessToken, claims, func(*jwt.Token) (any, error) { return s.PublicKey(), nil },
				jwt.WithValidMethods([]string{"RS256"}))
			if assert.NoError(t, err) {
				mu.Lock()
				jtis[claims["jti"]] = true
				mu.Unlock()
			}
			_ = s.TokenCalls("", "") // readers run alongside writers
			_ = s.TokenRequests()
		})
	}
	wg.Wait()
	assert.Len(t, jtis, n, "every access token has its own jti")
	assert.Equal(t, n, s.TokenCalls("", ssotest.GrantAuthorizationCode))
	assert.Equal(t, n/2, s.TokenCalls(ssotest.ProviderMulticart, ""))
	assert.Len(t, s.AuthorizeRequests(), n)
}
