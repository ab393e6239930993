package sso_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

// An API that accepts Multicart access tokens from a single-page app, with
// the stand-in minting them.
func ExampleNewBearer() {
	stand := ssotest.NewServer(ssotest.Options{})
	defer stand.Close()
	mc := stand.Multicart()

	keys, err := verify.NewKeySet(verify.KeySetConfig{URL: mc.JWKSURL})
	if err != nil {
		panic(err)
	}
	v, err := verify.New(verify.Config{Issuer: mc.Issuer, Audience: ssotest.MulticartAudience, Keys: keys})
	if err != nil {
		panic(err)
	}
	api, err := sso.NewBearer(sso.BearerConfig{Provider: "multicart", Verifier: v, Realm: "shop-api"})
	if err != nil {
		panic(err)
	}
	h := api.RequireScopes("multicart.api")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := sso.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject())
	}))

	call := func(token string) {
		req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Println(rec.Code, rec.Body.String())
			return
		}
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	call(stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"scope": "openid multicart.api"}))
	call(stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"scope": "openid"}))
	call(stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"aud": "another.api"}))
	call("")
	// Output:
	// 200 hello customer-1
	// 403 Bearer realm="shop-api", error="insufficient_scope", scope="multicart.api"
	// 401 Bearer realm="shop-api", error="invalid_token", error_description="the access token failed the aud check"
	// 401 Bearer realm="shop-api"
}
