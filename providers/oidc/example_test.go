package oidc_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/oidc"
	"github.com/shopsso/sso/ssotest"
)

// A third identity service configured by its issuer URL alone: the
// endpoints come from its discovery document.
func ExampleNew() {
	stand := ssotest.NewServer(ssotest.Options{}) // a standard OpenID provider among others
	defer stand.Close()
	ep := stand.OIDC()

	acme, err := oidc.New(context.Background(), oidc.Config{
		Name:         "acme",
		IssuerURL:    ep.Issuer,
		ClientID:     ep.Client.ID,
		ClientSecret: ep.Client.Secret,
		RedirectURL:  "https://shop.example/auth/acme/callback",
		Scopes:       []string{oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		AuthParams:   url.Values{"prompt": {"consent"}},
	})
	if err != nil {
		panic(err)
	}
	md := acme.Metadata()
	fmt.Println("token endpoint:", strings.TrimPrefix(md.TokenEndpoint, ep.Issuer))
	fmt.Println("scopes:", acme.RequestedScopes())

	u, _ := url.Parse(acme.AuthCodeURL(sso.AuthParams{State: "st", Nonce: "nn", CodeChallenge: "ch"}))
	fmt.Println("authorize:", strings.TrimPrefix(u.Scheme+"://"+u.Host+u.Path, ep.Issuer))
	fmt.Println(u.Query().Encode())
	// Output:
	// token endpoint: /token
	// scopes: [openid email offline_access]
	// authorize: /authorize
	// client_id=oidc-client&code_challenge=ch&code_challenge_method=S256&nonce=nn&prompt=consent&redirect_uri=https%3A%2F%2Fshop.example%2Fauth%2Facme%2Fcallback&response_type=code&scope=openid+email+offline_access&state=st
}
