package ssotest

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// accessClaims builds an access token's claims for subject and clientID.
// scopes nil leaves out the scope claims.
func (s *Server) accessClaims(p *provider, subject, clientID string, scopes []string, now time.Time, expired bool) map[string]any {
	exp := now.Add(s.opts.AccessTokenTTL)
	if expired {
		exp = now.Add(-time.Minute)
	}
	c := map[string]any{
		"iss":       s.issuer(p),
		"sub":       subject,
		"exp":       exp.Unix(),
		"iat":       exp.Add(-s.opts.AccessTokenTTL).Unix(),
		"jti":       randomString(16),
		"client_id": clientID,
	}
	switch p.name {
	case ProviderIstores:
		c["aud"] = clientID
		c["store_id"] = s.opts.StoreID
		if scopes != nil {
			if s.opts.IstoresScopesAsString {
				c["scopes"] = strings.Join(scopes, " ")
			} else {
				c["scopes"] = scopes
			}
		}
	case ProviderMulticart:
		c["aud"] = MulticartAudience
		if scopes != nil {
			c["scope"] = strings.Join(scopes, " ")
		}
	}
	return c
}

// idClaims builds a Multicart ID token's claims (OIDC Core §2) for g, with
// f's overrides.
func (s *Server) idClaims(g *grant, now time.Time, f Failure) map[string]any {
	exp := now.Add(s.opts.AccessTokenTTL)
	if f.ExpiredIDToken {
		exp = now.Add(-time.Minute)
	}
	c := map[string]any{
		"iss":       s.issuer(s.multicart),
		"sub":       g.subject,
		"aud":       g.clientID,
		"exp":       exp.Unix(),
		"iat":       exp.Add(-s.opts.AccessTokenTTL).Unix(),
		"auth_time": g.authTime.Unix(),
		"email":     s.opts.Email,
		"name":      s.opts.Name,
	}
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	for claim, v := range map[string]string{"iss": f.IDTokenIssuer, "aud": f.IDTokenAudience, "nonce": f.IDTokenNonce} {
		if v != "" {
			c[claim] = v
		}
	}
	return c
}

// sign returns claims as an RS256 JWT with this server's kid, or, if unsigned,
// as an alg "none" JWT.
func (s *Server) sign(claims map[string]any, unsigned bool) string {
	var (
		tok string
		err error
	)
	if unsigned {
		tok, err = jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	} else {
		t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
		t.Header["kid"] = s.kid
		tok, err = t.SignedString(s.key)
	}
	if err != nil {
		panic(fmt.Sprintf("ssotest: signing a token: %v", err)) // only on a claim that cannot be JSON-encoded
	}
	return tok
}

// IssueAccessToken returns a signed RS256 access token for provider
// (ProviderIstores or ProviderMulticart) as the token endpoint would issue it:
// "iss", "sub" ([Options.Subject]), "aud", "exp", "iat", "jti", "client_id"
// and, for Istores, "store_id" are filled in; claims override them, and a claim
// set to nil is removed. It panics on an unknown provider.
func (s *Server) IssueAccessToken(provider string, claims map[string]any) string {
	p := s.provider(provider)
	if p == nil {
		panic(fmt.Sprintf("ssotest: IssueAccessToken: unknown provider %q", provider))
	}
	c := s.accessClaims(p, s.opts.Subject, p.client.ID, nil, s.opts.Now(), false)
	return s.sign(merge(c, claims), false)
}

// IssueIDToken returns a signed RS256 Multicart ID token: "iss", "sub", "aud"
// (the Multicart client ID), "exp", "iat", "auth_time", "email" and "name" are
// filled in; claims override them, and a claim set to nil is removed.
func (s *Server) IssueIDToken(claims map[string]any) string {
	now := s.opts.Now()
	g := &grant{clientID: s.multicart.client.ID, subject: s.opts.Subject, authTime: now}
	return s.sign(merge(s.idClaims(g, now, Failure{}), claims), false)
}

// merge applies overrides to c; a nil value deletes the claim.
func merge(c, overrides map[string]any) map[string]any {
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// jwk is one RSA public key in a JWK set (RFC 7517 §4, RFC 7518 §6.3.1).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// jwks serves the signing key as a JWK set.
func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	n, e := jwkNumbers(&s.key.PublicKey)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string][]jwk{
		"keys": {{Kty: "RSA", Kid: s.kid, Use: "sig", Alg: "RS256", N: n, E: e}},
	})
}

// jwkNumbers returns the key's modulus and exponent, base64url-encoded.
func jwkNumbers(k *rsa.PublicKey) (n, e string) {
	enc := base64.RawURLEncoding.EncodeToString
	return enc(k.N.Bytes()), enc(big.NewInt(int64(k.E)).Bytes())
}

// thumbprint is the key's RFC 7638 JWK thumbprint, used as its kid.
func thumbprint(k *rsa.PublicKey) string {
	n, e := jwkNumbers(k)
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
