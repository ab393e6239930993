// Package verify checks JSON Web Tokens from an identity provider: OpenID
// Connect ID tokens (OIDC Core §3.1.3.7) and JWT access tokens presented by
// API clients (RFC 9068 §4), against a key set ([KeySet], a JWK Set read
// through github.com/MicahParks/jwkset) and, optionally, the provider's
// OpenID Connect Discovery document ([Discovery]).
//
// Every refusal is a [*CheckError] naming the one check that failed ("iss",
// "aud", "azp", "nonce", "exp", "iat", "nbf", "alg", "kid", "signature",
// "crit", "typ", ...) with the expected and received values where they are
// not secret, so one log line can tell an operator what to change. A key
// set or discovery document that cannot be fetched is [ErrUnavailable]
// instead: the token was not judged.
//
// # The issuer rule
//
// A [Verifier] accepts an "iss" by the first of these that applies:
//
//  1. [Config.Issuer] is set: "iss" must equal it exactly (OIDC Core
//     §3.1.3.7 (2)).
//  2. [Config.Discovery] answers: "iss" must equal the document's issuer
//     exactly, and the document's jwks_uri verifies signatures (unless
//     [Config.Keys] is set). The document is itself accepted only if its
//     issuer is on the origin it was fetched from (or equals
//     [DiscoveryConfig.Issuer] when that is set, Discovery §4.3).
//  3. Otherwise (no discovery, a 404, or an error): "iss" must be an
//     absolute URL on the same origin — scheme, host and port — as
//     [Config.IssuerOrigin], which for an OAuth client is its token
//     endpoint; any path, with or without a trailing slash; no query,
//     fragment or user information. Everything else is refused.
//
// Why rule 3 is safe: the mix-up attack (RFC 9700 §4.4) makes a client
// accept, from one provider's token endpoint, a token minted by another
// provider. Rule 3 ties the issuer to the very server the client has just
// called over TLS (the origin of the token endpoint is authenticated by
// its certificate), so a token naming any other server is refused, while
// every spelling the real service may use for itself ("https://id.example",
// "https://id.example/", "https://id.example/tenant/v2") is accepted. What
// rule 3 cannot tell apart is two issuers on one origin; a deployment that
// hosts several issuers on one host must set [Config.Issuer] or serve
// discovery. Rule 2 needs no guess at all, and rule 1 is the exact check
// OIDC Core asks for when the issuer is known.
//
// # Transport
//
// Key sets and discovery documents are fetched only over https, unless the
// host is loopback or an Insecure… setting allows plain http; redirects are
// never followed; responses are capped ([DefaultMaxBytes]); one fetch runs
// at a time and detached from the request that caused it, so a client
// hanging up cannot make it fail, and each waiting request stops waiting
// when its own context ends.
//
// # Signatures
//
// A token's signature is checked whenever a key set is known. An ID token
// received directly from the token endpoint over TLS may be accepted
// without one (OIDC Core §3.1.3.7 (6)), but only when the caller says so
// with [Config.InsecureSkipSignatureCheckWithoutKeys]; access tokens always
// need a key. A JWS with a "crit" header is always refused (RFC 7515
// §4.1.11): this package understands no extension. "none" and HMAC
// algorithms are never allowed.
package verify
