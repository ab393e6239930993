package ssotest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shopsso/sso/ssotest"
)

// A whole Istores login against the stand-in: authorize, take the code from
// the redirect, redeem it, and verify the access token with the server's key.
func Example() {
	srv := ssotest.NewServer(ssotest.Options{AutoApprove: true})
	defer srv.Close()
	ep := srv.Istores()

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := noFollow.Get(ep.AuthURL + "?" + url.Values{
		"client_id":     {ep.Client.ID},
		"redirect_uri":  {"https://shop.example/callback"},
		"response_type": {"code"},
		"scopes":        {"products:read"},
		"state":         {"xyz"},
	}.Encode())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println(back.Host+back.Path, "state:", back.Query().Get("state"))

	resp, err = http.PostForm(ep.TokenURL, url.Values{
		"client_id":     {ep.Client.ID},
		"client_secret": {ep.Client.Secret},
		"code":          {back.Query().Get("code")},
	})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		panic(err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(tok.AccessToken, claims,
		func(*jwt.Token) (any, error) { return srv.PublicKey(), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(ep.Issuer), jwt.WithAudience(ep.Client.ID))
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.TokenType, tok.ExpiresIn, claims["sub"], claims["scopes"])
	// Output:
	// shop.example/callback state: xyz
	// Bearer 3600 customer-1 [products:read]
}

// Making the next token call fail with a 503, then recover.
func ExampleServer_Inject() {
	srv := ssotest.NewServer(ssotest.Options{})
	defer srv.Close()
	ep := srv.Multicart()

	srv.Inject(ssotest.Failure{Provider: ssotest.ProviderMulticart, Status: http.StatusServiceUnavailable, Count: 1})
	for range 2 {
		resp, err := http.PostForm(ep.TokenURL, url.Values{
			"grant_type":    {"client_credentials"},
			"client_id":     {ep.Client.ID},
			"client_secret": {ep.Client.Secret},
			"scope":         {"multicart.api"},
		})
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	fmt.Println("client_credentials calls:", srv.TokenCalls(ssotest.ProviderMulticart, ssotest.GrantClientCredentials))
	// Output:
	// 503 Service Unavailable
	// 200 OK
	// client_credentials calls: 2
}
