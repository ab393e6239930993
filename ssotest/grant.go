package ssotest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"time"
)

// grant is what an authorization code or a refresh token stands for.
type grant struct {
	provider    string
	clientID    string
	redirectURI string
	scopes      []string
	challenge   string // PKCE S256 code_challenge; "" if none was sent
	nonce       string
	subject     string
	authTime    time.Time
	expires     time.Time // codes only
	family      *family   // the grant's refresh-token family; nil for codes
}

// family is every refresh token issued for one authorization, through
// all its rotations. Spending a rotated-out token again revokes it whole
// (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
type family struct {
	revoked bool
	live    string // the family's one unspent refresh token
}

// newCode stores g under a fresh single-use code that expires after codeTTL.
func (s *Server) newCode(g grant) string {
	g.expires = s.opts.Now().Add(codeTTL)
	code := randomString(32)
	s.mu.Lock()
	s.codes[code] = &g
	s.mu.Unlock()
	return code
}

// takeCode removes code and returns what it stood for, or nil if it is
// unknown, already used, expired, or was issued by the other provider. Each
// provider has one client, so a code of the right provider is that client's. A code
// is spent by any attempt to redeem it, successful or not (RFC 6749 §4.1.2).
func (s *Server) takeCode(provider, code string) *grant {
	s.mu.Lock()
	g := s.codes[code]
	delete(s.codes, code)
	s.mu.Unlock()
	if g == nil || g.provider != provider || !s.opts.Now().Before(g.expires) {
		return nil
	}
	return g
}

// newRefreshToken stores g under a fresh refresh token of g's family (a
// new family when g comes from an authorization code).
func (s *Server) newRefreshToken(g grant) string {
	g.nonce = "" // a refreshed ID token carries no nonce (OIDC Core §12.2)
	rt := randomString(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.family == nil {
		g.family = &family{}
	}
	if g.family.revoked {
		return rt // issued dead: the grant was revoked meanwhile
	}
	g.family.live = rt
	s.refreshTokens[rt] = &g
	return rt
}

// rotateRefreshToken spends rt and returns its grant, or nil if rt is
// unknown, already spent or revoked. The caller issues the replacement.
// Spending a token a second time is reuse: unless [Options.SkipReuseDetection]
// is set, the grant's whole family is revoked, its newest refresh token
// included.
func (s *Server) rotateRefreshToken(rt string) *grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.refreshTokens[rt]
	delete(s.refreshTokens, rt)
	if g != nil {
		s.spent[rt] = g.family
		return g
	}
	if f := s.spent[rt]; f != nil {
		s.reuses++
		if !s.opts.SkipReuseDetection && !f.revoked {
			f.revoked = true
			delete(s.refreshTokens, f.live)
		}
	}
	return nil
}

// pkceMatches reports whether verifier is a well-formed RFC 7636 §4.1 code
// verifier whose S256 transform (§4.2) is challenge.
func pkceMatches(verifier, challenge string) bool {
	if !validVerifier(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// validVerifier checks RFC 7636 §4.1: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validChallenge checks that c is an S256 challenge: the unpadded base64url
// encoding of 32 bytes (RFC 7636 §4.2).
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}
