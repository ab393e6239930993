package verify_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopsso/sso/ssotest"
	"github.com/shopsso/sso/verify"
)

// An ID token checked with the issuer rule: no issuer configured, the
// provider's discovery document supplies it and the key set.
func ExampleVerifier_IDToken() {
	stand := ssotest.NewServer(ssotest.Options{KeyType: ssotest.KeyEd25519})
	defer stand.Close()
	ep := stand.Multicart()

	d, err := verify.NewDiscovery(verify.DiscoveryConfig{BaseURL: ep.BaseURL})
	if err != nil {
		panic(err)
	}
	v, err := verify.New(verify.Config{Discovery: d, IssuerOrigin: ep.TokenURL, Audience: ep.Client.ID})
	if err != nil {
		panic(err)
	}

	tok, err := v.IDToken(context.Background(), stand.IssueIDToken(map[string]any{"nonce": "n-1"}), "n-1")
	fmt.Println(tok.Subject, tok.Algorithm, tok.SignatureChecked, err)

	_, err = v.IDToken(context.Background(), stand.IssueIDToken(map[string]any{"nonce": "n-1", "iss": "https://evil.example"}), "n-1")
	var ce *verify.CheckError
	fmt.Println(errors.As(err, &ce), ce.Check, ce.Got)
	// Output:
	// customer-1 EdDSA true <nil>
	// true iss https://evil.example
}

// An RFC 9068 access token presented by an API client.
func ExampleVerifier_AccessToken() {
	stand := ssotest.NewServer(ssotest.Options{})
	defer stand.Close()
	ep := stand.Multicart()

	keys, err := verify.NewKeySet(verify.KeySetConfig{URL: ep.JWKSURL})
	if err != nil {
		panic(err)
	}
	v, err := verify.New(verify.Config{Issuer: ep.Issuer, Audience: ssotest.MulticartAudience, Keys: keys})
	if err != nil {
		panic(err)
	}
	tok, err := v.AccessToken(context.Background(), stand.IssueAccessToken(ssotest.ProviderMulticart, map[string]any{"scope": "multicart.api"}))
	fmt.Println(tok.Subject, tok.Claims["scope"], err)

	// An ID token is not an access token.
	_, err = v.AccessToken(context.Background(), stand.IssueIDToken(map[string]any{"aud": ssotest.MulticartAudience}))
	fmt.Println(err)
	// Output:
	// customer-1 multicart.api <nil>
	// sso: access token failed the typ check: expected "at+jwt or application/at+jwt", got "JWT"
}
