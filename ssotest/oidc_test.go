package ssotest_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopsso/sso/ssotest"
)

const oidcRedirect = "https://shop.example/auth/oidc/callback"

// oidcAuthorize runs an OIDC authorization request and returns the code.
func oidcAuthorize(t *testing.T, ep ssotest.Endpoints, p pkce, change func(url.Values)) result {
	t.Helper()
	q := url.Values{
		"client_id": {ep.Client.ID}, "redirect_uri": {oidcRedirect}, "response_type": {"code"},
		"scope": {"openid email offline_access"}, "state": {"st"}, "nonce": {"nn"},
		"code_challenge": {p.challenge}, "code_challenge_method": {"S256"},
	}
	if change != nil {
		change(q)
	}
	return get(t, ep.AuthURL+"?"+q.Encode())
}

func TestOIDCDiscovery(t *testing.T) {
	t.Parallel()
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	ep := s.OIDC()
	r := get(t, ep.Issuer+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, r.Status)
	m := r.json(t)
	assert.Equal(t, ep.Issuer, m["issuer"])
	assert.Equal(t, s.URL()+"/oidc", ep.Issuer)
	assert.Equal(t, ep.AuthURL, m["authorization_endpoint"])
	assert.Equal(t, ep.TokenURL, m["token_endpoint"])
	assert.Equal(t, ep.JWKSURL, m["jwks_uri"])
	assert.Equal(t, ep.Issuer+"/logout", m["end_session_endpoint"])
	assert.Equal(t, ssotest.DefaultOIDCClient(), ep.Client)
}

func TestOIDCLoginAndRefresh(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := ssotest.NewServer(ssotest.Options{AutoApprove: true, Now: c.Now})
	t.Cleanup(s.Close)
	ep := s.OIDC()
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(ep.Client.ID+":"+ep.Client.Secret))}}
	tests := []struct {
		name   string
		header http.Header
		form   url.Values
	}{
		{"client_secret_basic", basic, url.Values{}},
		{"client_secret_post", nil, url.Values{"client_id": {ep.Client.ID}, "client_secret": {ep.Client.Secret}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPKCE()
			back := oidcAuthorize(t, ep, p, nil).location(t)
			assert.Equal(t, "st", back.Query().Get("state"))
			form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
				"redirect_uri": {oidcRedirect}, "code_verifier": {p.verifier}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := post(t, ep.TokenURL, form, tt.header)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			m := r.json(t)
			id := verify(t, ep.JWKSURL, m["id_token"].(string), ep.Issuer, ep.Client.ID, c.Now())
			assert.Equal(t, "nn", id["nonce"])
			verify(t, ep.JWKSURL, m["access_token"].(string), ep.Issuer, ssotest.OIDCAudience, c.Now())
			rt := m["refresh_token"].(string)
			require.NotEmpty(t, rt)

			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			for k, v := range tt.form {
				refresh[k] = v
			}
			r = post(t, ep.TokenURL, refresh, tt.header)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			assert.NotEqual(t, rt, r.json(t)["refresh_token"], "rotated")
			post(t, ep.TokenURL, refresh, tt.header).oauthError(t, http.StatusBadRequest, "invalid_grant")
		})
	}
}

func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	s := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	t.Cleanup(s.Close)
	ep := s.OIDC()
	p := newPKCE()

	back := oidcAuthorize(t, ep, p, func(q url.Values) { q.Set("scope", "email") }).location(t)
	assert.Equal(t, "invalid_request", back.Query().Get("error"), "openid scope required")
	back = oidcAuthorize(t, ep, p, func(q url.Values) { q.Del("response_type") }).location(t)
	assert.Equal(t, "invalid_request", back.Query().Get("error"), "response_type required")

	back = oidcAuthorize(t, ep, p, nil).location(t)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
		"redirect_uri": {oidcRedirect}, "code_verifier": {p.verifier}, "client_id": {ep.Client.ID}, "client_secret": {"wrong"}}
	post(t, ep.TokenURL, form, nil).oauthError(t, http.StatusUnauthorized, "invalid_client")

	// A Multicart refresh token is not the OIDC provider's.
	mc := s.Multicart()
	mp := newPKCE()
	mq := url.Values{"application": {mc.Client.ID}, "return": {multicartRedirect}, "scope": {"openid offline_access"},
		"state": {"s"}, "code_challenge": {mp.challenge}, "code_challenge_method": {"S256"}}
	mback := get(t, mc.AuthURL+"?"+mq.Encode()).location(t)
	r := post(t, mc.TokenURL, url.Values{"grant_type": {"authorization_code"}, "client_id": {mc.Client.ID},
		"code": {mback.Query().Get("code")}, "redirect_uri": {multicartRedirect}, "code_verifier": {mp.verifier}}, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	post(t, ep.TokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.json(t)["refresh_token"].(string)},
		"client_id": {ep.Client.ID}, "client_secret": {ep.Client.Secret}}, nil).oauthError(t, http.StatusBadRequest, "invalid_grant")
}

func TestOIDCPublicClientNeedsPKCE(t *testing.T) {
	t.Parallel()
	s := ssotest.NewServer(ssotest.Options{AutoApprove: true, OIDC: ssotest.Client{ID: "spa"}})
	t.Cleanup(s.Close)
	ep := s.OIDC()
	p := newPKCE()
	back := oidcAuthorize(t, ep, p, func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }).location(t)
	assert.Equal(t, "invalid_request", back.Query().Get("error"))

	back = oidcAuthorize(t, ep, p, nil).location(t)
	r := post(t, ep.TokenURL, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"},
		"code": {back.Query().Get("code")}, "redirect_uri": {oidcRedirect}, "code_verifier": {p.verifier}}, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.NotEmpty(t, r.json(t)["id_token"])
}

func TestOIDCEndSession(t *testing.T) {
	t.Parallel()
	s := ssotest.NewServer(ssotest.Options{})
	t.Cleanup(s.Close)
	ep := s.OIDC()
	assert.Equal(t, ep.Issuer+"/logout", ep.EndSessionURL)
	hint := s.IssueIDToken(map[string]any{"iss": ep.Issuer, "aud": ep.Client.ID})
	tests := []struct {
		name         string
		query        url.Values
		wantStatus   int
		wantLocation string
	}{
		{"hint and redirect", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://shop.example/bye"}, "state": {"s1"}},
			http.StatusFound, "https://shop.example/bye?state=s1"},
		{"client_id, no redirect", url.Values{"client_id": {ep.Client.ID}}, http.StatusOK, ""},
		{"another client's ID token", url.Values{"id_token_hint": {s.IssueIDToken(nil)}}, http.StatusBadRequest, ""},
		{"unknown client", url.Values{"client_id": {"someone"}}, http.StatusBadRequest, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, ep.EndSessionURL+"?"+tt.query.Encode())
			require.Equal(t, tt.wantStatus, r.Status, r.Body)
			assert.Equal(t, tt.wantLocation, r.Header.Get("Location"))
			assert.Len(t, s.EndSessionRequests(), i+1)
		})
	}
}
