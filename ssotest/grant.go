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

// newRefreshToken stores g under a fresh refresh token.
func (s *Server) newRefreshToken(g grant) string {
	g.nonce = "" // a refreshed ID token carries no nonce (OIDC Core §12.2)
	rt := randomString(32)
	s.mu.Lock()
	s.refreshTokens[rt] = &g
	s.mu.Unlock()
	return rt
}

// rotateRefreshToken spends rt and returns its grant, or nil if rt is
// unknown or already spent. The caller issues the replacement.
func (s *Server) rotateRefreshToken(rt string) *grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.refreshTokens[rt]
	delete(s.refreshTokens, rt)
	return g
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
