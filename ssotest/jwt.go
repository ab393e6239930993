package ssotest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
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
	case ProviderMulticart, ProviderOIDC:
		c["aud"] = MulticartAudience
		if p.name == ProviderOIDC {
			c["aud"] = OIDCAudience
		}
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
		"iss":       s.idIssuer(g),
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

// idIssuer is the "iss" of g's ID token: that of the provider that issued
// g, Multicart's for a grant of none.
func (s *Server) idIssuer(g *grant) string {
	if p := s.provider(g.provider); p != nil {
		return s.issuer(p)
	}
	return s.issuer(s.multicart)
}

// sign returns claims as a JWT signed with this server's key and kid, with
// header "typ" set to typ unless it is empty, or, if unsigned, as an alg
// "none" JWT.
func (s *Server) sign(claims map[string]any, typ string, unsigned bool) string {
	var (
		tok string
		err error
	)
	if unsigned {
		tok, err = jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(claims)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	} else {
		t := jwt.NewWithClaims(jwt.GetSigningMethod(s.alg), jwt.MapClaims(claims))
		t.Header["kid"] = s.kid
		if typ != "" {
			t.Header["typ"] = typ
		}
		tok, err = t.SignedString(s.signer)
	}
	if err != nil {
		panic(fmt.Sprintf("ssotest: signing a token: %v", err)) // only on a claim that cannot be JSON-encoded
	}
	return tok
}

// accessTokenType is the "typ" of access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// IssueAccessToken returns a signed RS256 access token for provider
// (ProviderIstores, ProviderMulticart or ProviderOIDC) as the token endpoint would issue it:
// "iss", "sub" ([Options.Subject]), "aud", "exp", "iat", "jti", "client_id"
// and, for Istores, "store_id" are filled in; claims override them, and a claim
// set to nil is removed. It panics on an unknown provider.
func (s *Server) IssueAccessToken(provider string, claims map[string]any) string {
	p := s.provider(provider)
	if p == nil {
		panic(fmt.Sprintf("ssotest: IssueAccessToken: unknown provider %q", provider))
	}
	c := s.accessClaims(p, s.opts.Subject, p.client.ID, nil, s.opts.Now(), false)
	return s.sign(merge(c, claims), accessTokenType, false)
}

// IssueIDToken returns a signed RS256 Multicart ID token: "iss", "sub", "aud"
// (the Multicart client ID), "exp", "iat", "auth_time", "email" and "name" are
// filled in; claims override them, and a claim set to nil is removed.
func (s *Server) IssueIDToken(claims map[string]any) string {
	now := s.opts.Now()
	g := &grant{clientID: s.multicart.client.ID, subject: s.opts.Subject, authTime: now}
	return s.sign(merge(s.idClaims(g, now, Failure{}), claims), "", false)
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

// jwks serves the signing key as a JWK set (RFC 7517 §5), with "use" sig
// and its "alg".
func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	j, err := jwkset.NewJWKFromKey(s.signer.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: s.kid, USE: jwkset.UseSig, ALG: jwkset.ALG(s.alg)},
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"keys": []jwkset.JWKMarshal{j.Marshal()}})
}

// newSigner generates a key of type kt and returns it with its JWS
// algorithm and its RFC 7638 thumbprint as kid.
func newSigner(kt KeyType) (crypto.Signer, string, string) {
	var (
		key crypto.Signer
		alg string
		err error
	)
	switch kt {
	case KeyRSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		alg = "RS256"
	case KeyECP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		alg = "ES256"
	case KeyECP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		alg = "ES384"
	case KeyEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
		alg = "EdDSA"
	default:
		panic(fmt.Sprintf("ssotest: unknown KeyType %q", kt))
	}
	if err != nil {
		panic(fmt.Sprintf("ssotest: generating a %s key: %v", kt, err))
	}
	j, err := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{})
	if err != nil {
		panic(fmt.Sprintf("ssotest: %s key as JWK: %v", kt, err))
	}
	return key, alg, thumbprint(j.Marshal())
}

// thumbprint is the key's RFC 7638 JWK thumbprint: SHA-256 over its
// required members in lexicographic order.
func thumbprint(m jwkset.JWKMarshal) string {
	var members string
	switch m.KTY {
	case jwkset.KtyRSA:
		members = `{"e":"` + m.E + `","kty":"RSA","n":"` + m.N + `"}`
	case jwkset.KtyEC:
		members = `{"crv":"` + string(m.CRV) + `","kty":"EC","x":"` + m.X + `","y":"` + m.Y + `"}`
	case jwkset.KtyOKP:
		members = `{"crv":"` + string(m.CRV) + `","kty":"OKP","x":"` + m.X + `"}`
	}
	sum := sha256.Sum256([]byte(members))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
