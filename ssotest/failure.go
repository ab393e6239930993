package ssotest

import "time"

// Failure describes misbehaviour to inject with [Server.Inject]. Set the fields
// for the failures wanted; they combine (Delay first, then the first of
// Status, TokenError, MalformedJSON, Oversized, Redirect that is set; the
// token and ID-token switches alter an otherwise normal answer).
type Failure struct {
	// Provider limits the failure to ProviderIstores or ProviderMulticart;
	// "" means both.
	Provider string
	// Grant limits the token-endpoint failures to one grant type
	// (GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials);
	// "" means any. Deny ignores it.
	Grant string
	// Count applies the failure to the next Count matching calls (token calls,
	// and approvals for Deny), after which it is cleared. 0 means until
	// [Server.Reset] or the next [Server.Inject].
	Count int

	// Deny makes approval, automatic or through the page, redirect back with
	// error=access_denied, error_description and state (RFC 6749 §4.1.2.1).
	Deny bool

	// TokenError makes the token endpoint answer 400 with
	// {"error": TokenError, "error_description": "..."} (RFC 6749 §5.2).
	TokenError string
	// Status makes the token endpoint answer this HTTP status with a short
	// text body.
	Status int
	// Delay makes the token endpoint wait this long before answering. It
	// gives up early, without answering, when the request's context ends or
	// the server closes.
	Delay time.Duration
	// MalformedJSON makes the token endpoint answer 200 with a body that is
	// not JSON.
	MalformedJSON bool
	// Oversized makes the token endpoint answer 200 with a valid JSON token
	// response padded to about 2 MiB.
	Oversized bool
	// Redirect makes the token endpoint answer 302 to another URL of this
	// server that answers any request with a valid-looking token response.
	// A client must not follow it; [Server.RedirectsFollowed] counts those
	// that do.
	Redirect bool

	// ExpiredAccessToken issues an access token whose "exp" is a minute in
	// the past, with expires_in -60.
	ExpiredAccessToken bool
	// IDTokenIssuer, IDTokenAudience and IDTokenNonce, when not empty,
	// replace the ID token's "iss", "aud" and "nonce" claims.
	IDTokenIssuer, IDTokenAudience, IDTokenNonce string
	// ExpiredIDToken issues an ID token whose "exp" is a minute in the past.
	ExpiredIDToken bool
	// IDTokenUnsigned issues the ID token unsigned, with alg "none".
	IDTokenUnsigned bool
}

// Inject replaces the current failure with f. It applies to matching calls
// from now on: see [Failure.Provider], [Failure.Grant] and [Failure.Count].
func (s *Server) Inject(f Failure) {
	s.mu.Lock()
	s.failure = &f // a private copy: take counts down its Count
	s.mu.Unlock()
}

// Reset clears the injected failure.
func (s *Server) Reset() {
	s.mu.Lock()
	s.failure = nil
	s.mu.Unlock()
}

// affectsToken reports whether f changes anything at a token endpoint.
func (f *Failure) affectsToken() bool {
	return f.TokenError != "" || f.Status != 0 || f.Delay > 0 || f.MalformedJSON ||
		f.Oversized || f.Redirect || f.ExpiredAccessToken || f.IDTokenIssuer != "" ||
		f.IDTokenAudience != "" || f.IDTokenNonce != "" || f.ExpiredIDToken || f.IDTokenUnsigned
}

// take returns the current failure, using one of its Count, if match accepts
// it; otherwise it returns the zero Failure and false.
func (s *Server) take(match func(f *Failure) bool) (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failure
	if f == nil || !match(f) {
		return Failure{}, false
	}
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			s.failure = nil
		}
	}
	return *f, true
}

// takeTokenFailure returns the failure to apply to a token call.
func (s *Server) takeTokenFailure(provider, grantType string) (Failure, bool) {
	return s.take(func(f *Failure) bool {
		return f.affectsToken() && (f.Provider == "" || f.Provider == provider) &&
			(f.Grant == "" || f.Grant == grantType)
	})
}

// takeDeny reports whether an approval at provider must be denied.
func (s *Server) takeDeny(provider string) bool {
	_, ok := s.take(func(f *Failure) bool {
		return f.Deny && (f.Provider == "" || f.Provider == provider)
	})
	return ok
}
