// Package ssotest is an in-process stand-in for the two identity providers,
// Istores and Multicart, for tests and local development. It speaks their
// exact wire formats — Istores' "scopes" parameter and form-only client
// secret, Multicart's "application" and "return" parameters, public-client
// PKCE, ID tokens and rotating refresh tokens — and signs real JWTs (RS256,
// or ES256, ES384 or EdDSA with [Options.KeyType]) with a key it serves as a
// JWK set. Multicart also serves an OpenID Connect discovery document under
// [Endpoints.BaseURL] (unless [Options.NoDiscovery]), and its issuer can be
// spelt as a test needs ([Options.MulticartIssuer]); access tokens carry
// "typ": "at+jwt" (RFC 9068).
//
// # In tests
//
// Start a server with AutoApprove, point the client at its [Endpoints], and
// close it when the test ends:
//
//	srv := ssotest.NewServer(ssotest.Options{AutoApprove: true})
//	t.Cleanup(srv.Close)
//	ep := srv.Multicart() // AuthURL, TokenURL, JWKSURL, Issuer, BaseURL, Client
//
// With AutoApprove, GET on an authorize URL answers 302 straight to the
// redirect URI with "code" and "state" added, so a cookie-jar HTTP client can
// run a whole login. Without it the server shows an HTML approval page, whose
// first button approves; that is the mode for a human in a browser.
//
// The server records what clients send: [Server.AuthorizeRequests],
// [Server.TokenRequests] and [Server.TokenCalls] (failed calls included).
// [Server.IssueAccessToken] and [Server.IssueIDToken] mint tokens directly,
// for testing code that only consumes them. [Options.Now] injects a clock for
// "iat", "exp" and the 60-second code lifetime.
//
// # Failure switches
//
// [Server.Inject] sets one [Failure], replacing the previous one, and
// [Server.Reset] clears it. A Failure can be limited to one provider, one
// grant type and a number of calls. It can make approval answer
// access_denied; make the token endpoint answer an OAuth error, an HTTP
// status, malformed or oversized JSON, or a redirect a client must not follow,
// or answer only after a delay; or issue an expired access token, or an ID
// token that is expired, unsigned, or carries the wrong issuer, audience or
// nonce.
//
// # Strictness
//
// Where the providers' guides are silent the stand-in follows RFC 6749 and
// RFC 7636 strictly, to catch client mistakes: redirect URIs must be absolute
// http(s) URLs without fragments; PKCE accepts only S256; codes are single-use
// even when redemption fails; token endpoints take only form-encoded POSTs
// without a query string or repeated parameters, and refuse HTTP Basic client
// authentication; a code_verifier sent for a code that had no code_challenge
// is invalid_grant.
//
// ssotest imports neither the root package nor the providers, so any of them
// can use it in tests.
package ssotest
