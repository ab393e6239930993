package verify

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shopsso/sso/internal/secureurl"
)

// DefaultAlgorithms are the signature algorithms allowed when
// [Config.Algorithms] is empty: every asymmetric algorithm of RFC 7518 §3.1
// and RFC 8037 whose key type this package supports. A key is used only
// for the algorithm that fits its type (and its "alg", when the key names
// one), so HMAC with a public key (RFC 8725 §2.1) and "none" can never
// pass.
func DefaultAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// MaxTokenBytes caps the size of a token: a larger one is refused as
// malformed before any part of it is decoded, so a client presenting a
// bearer token cannot make each request split and decode up to the
// server's header limit (a megabyte by default). Real JWTs are a few
// kilobytes; one with hundreds of claims stays well under this.
const MaxTokenBytes = 64 << 10

// DefaultLeeway is the clock skew tolerated on exp, iat and nbf.
const DefaultLeeway = time.Minute

// Config configures a [Verifier]: where tokens must come from and who they
// must be for. The issuer rule is described in the package documentation.
type Config struct {
	// Issuer, when set, must equal "iss" exactly (OIDC Core §3.1.3.7 (2);
	// RFC 9068 §4).
	Issuer string
	// Discovery, when set and Issuer is empty, supplies the issuer while
	// it answers; when Keys is nil it also supplies the key set (its
	// jwks_uri). Zero, or not answering: the IssuerOrigin rule.
	Discovery *Discovery
	// IssuerOrigin is the URL — for an OAuth client, its token endpoint —
	// on whose origin (scheme, host and port) an "iss" must lie when
	// neither Issuer nor Discovery decides. It must pass the transport
	// rule (https, or http on loopback, or InsecureAllowHTTP).
	IssuerOrigin string
	// InsecureAllowHTTP lets IssuerOrigin be plain http on a host that is
	// not loopback.
	InsecureAllowHTTP bool
	// IssuerHint, when set, is added to an iss [CheckError] as its Fix, to
	// tell an operator which setting to change, for example "set
	// multicart.Config.Issuer".
	IssuerHint string

	// Audience must be among the "aud" values: for an ID token, the
	// client ID (OIDC Core §3.1.3.7 (3)); for an access token, this
	// resource server's identifier (RFC 9068 §4). Required.
	Audience string
	// Algorithms allowed in the header. Zero: [DefaultAlgorithms]. "none"
	// and the HMAC algorithms are refused by New.
	Algorithms []string

	// Keys verifies signatures. Zero: the key set of Discovery, when it
	// answers.
	Keys KeySource
	// InsecureSkipSignatureCheckWithoutKeys accepts ID tokens without
	// checking their signature when no key set is known (Keys is nil and
	// Discovery does not answer). OIDC Core §3.1.3.7 (6) allows it for an ID
	// token received directly from the token endpoint over TLS, which
	// authenticates the provider; every other check still applies, and
	// "none" stays refused. Never set it for tokens that reach you any
	// other way (bearer tokens from clients); [Verifier.AccessToken]
	// ignores it. Without it, New refuses a config that can find no keys.
	InsecureSkipSignatureCheckWithoutKeys bool

	// AccessTokenTypes are the "typ" header values [Verifier.AccessToken]
	// accepts. Zero: "at+jwt" and "application/at+jwt" (RFC 9068 §2.1,
	// §4), so an ID token cannot pass as an access token.
	AccessTokenTypes []string

	// Leeway tolerates clock skew on exp, iat and nbf. Zero: [DefaultLeeway].
	Leeway time.Duration
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// Verifier checks JWTs against a [Config]. It is safe for concurrent use.
type Verifier struct {
	cfg   Config
	algs  []string
	types []string
}

// New validates cfg and returns a verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Audience == "" {
		return nil, errors.New("sso: verify: Audience is required")
	}
	if cfg.Issuer == "" && cfg.Discovery == nil && cfg.IssuerOrigin == "" {
		return nil, errors.New("sso: verify: one of Issuer, Discovery or IssuerOrigin is required")
	}
	if cfg.IssuerOrigin != "" {
		if err := secureurl.Check(cfg.IssuerOrigin, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("sso: verify: IssuerOrigin: %w", err)
		}
	}
	if cfg.Keys == nil && cfg.Discovery == nil && !cfg.InsecureSkipSignatureCheckWithoutKeys {
		return nil, errors.New("sso: verify: no key set: set Keys or Discovery, or InsecureSkipSignatureCheckWithoutKeys for ID tokens from the token endpoint")
	}
	algs := slices.Clone(cfg.Algorithms)
	if len(algs) == 0 {
		algs = DefaultAlgorithms()
	}
	for _, a := range algs {
		if keyTypeFor(a) == "" {
			return nil, fmt.Errorf("sso: verify: algorithm %s is not allowed", Quote(a))
		}
	}
	types := slices.Clone(cfg.AccessTokenTypes)
	if len(types) == 0 {
		types = []string{"at+jwt", "application/at+jwt"}
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, algs: algs, types: types}, nil
}

// Token is a verified JWT.
type Token struct {
	// Claims are every claim as received.
	Claims jwt.MapClaims
	// Algorithm and KeyID are from the header; KeyID may be empty.
	Algorithm, KeyID string
	// Issuer, Subject, Audience, Expiry and IssuedAt are the registered
	// claims (RFC 7519 §4.1), decoded.
	Issuer, Subject string
	Audience        []string
	Expiry          time.Time
	IssuedAt        time.Time
	// SignatureChecked is false only for an ID token accepted under
	// InsecureSkipSignatureCheckWithoutKeys.
	SignatureChecked bool
}

// kind of token being verified.
type kind struct {
	name    string // "ID token" or "access token"
	idToken bool
}

var (
	idTokenKind     = kind{"ID token", true}
	accessTokenKind = kind{"access token", false}
)

// IDToken verifies an OpenID Connect ID token (OIDC Core §3.1.3.7) and the
// nonce of the login it completes. An empty nonce means raw came with a
// refresh (OIDC Core §12.2), where none is checked; a login always has one.
//
// In order: the JWS header (no "crit", "typ" absent or "JWT", an allowed
// "alg"); iss; sub present; aud contains Audience; azp, when present or
// when there are several audiences, equals Audience; the signature with a
// key from the set (kid and alg must match one); exp (required), iat
// (required, not in the future), nbf; the nonce, in constant time. Each
// failure is a [*CheckError]; a key set that cannot be fetched is
// [ErrUnavailable].
func (v *Verifier) IDToken(ctx context.Context, raw, nonce string) (*Token, error) {
	t, err := v.verify(ctx, raw, idTokenKind)
	if err != nil {
		return nil, err
	}
	if nonce != "" {
		got, _ := t.Claims["nonce"].(string)
		if subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
			return nil, &CheckError{Token: idTokenKind.name, Check: CheckNonce}
		}
	}
	return t, nil
}

// AccessToken verifies a JWT access token presented by a client
// (RFC 9068 §4): the JWS header ("typ" one of AccessTokenTypes, no "crit",
// an allowed "alg"); iss; sub present (RFC 9068 §2.2), so a handler that
// keys on the subject never sees an empty one; aud contains Audience; the
// signature (always —
// an access token never came from our own token call); exp (required),
// iat (not in the future), nbf.
func (v *Verifier) AccessToken(ctx context.Context, raw string) (*Token, error) {
	return v.verify(ctx, raw, accessTokenKind)
}

func (v *Verifier) verify(ctx context.Context, raw string, k kind) (*Token, error) {
	fail := func(check, expected, got string) error {
		return &CheckError{Token: k.name, Check: check, Expected: expected, Got: got}
	}
	if len(raw) > MaxTokenBytes {
		return nil, fail(CheckMalformed, fmt.Sprintf("at most %d bytes", MaxTokenBytes), strconv.Itoa(len(raw))+" bytes")
	}
	parts := strings.SplitN(raw, ".", 4)
	if len(parts) != 3 {
		return nil, fail(CheckMalformed, "", "")
	}
	mc := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, mc)
	if err != nil {
		return nil, fail(CheckMalformed, "", "")
	}
	t := &Token{Claims: mc}
	t.Algorithm, _ = tok.Header["alg"].(string)
	t.KeyID, _ = tok.Header["kid"].(string)

	// Header.
	if _, ok := tok.Header["crit"]; ok { // RFC 7515 §4.1.11: we understand no extension
		return nil, fail(CheckCrit, "", "")
	}
	typ, _ := tok.Header["typ"].(string)
	if k.idToken {
		if typ != "" && !strings.EqualFold(typ, "JWT") {
			return nil, fail(CheckTyp, "JWT", typ)
		}
	} else if !slices.ContainsFunc(v.types, func(s string) bool { return strings.EqualFold(s, typ) }) {
		return nil, fail(CheckTyp, strings.Join(v.types, " or "), typ)
	}
	if !slices.Contains(v.algs, t.Algorithm) {
		return nil, fail(CheckAlg, strings.Join(v.algs, " "), t.Algorithm)
	}

	// Issuer, subject, audience, authorized party.
	t.Issuer, _ = mc.GetIssuer()
	keys, err := v.checkIssuer(ctx, t.Issuer, k)
	if err != nil {
		return nil, err
	}
	t.Subject, _ = mc.GetSubject()
	if t.Subject == "" { // OIDC Core §2; RFC 9068 §2.2 (a client's own token names the client)
		return nil, fail(CheckSub, "a subject", "")
	}
	t.Audience, err = mc.GetAudience()
	if err != nil || !slices.Contains(t.Audience, v.cfg.Audience) {
		return nil, fail(CheckAud, v.cfg.Audience, strings.Join(t.Audience, " "))
	}
	if k.idToken {
		azp, present := mc["azp"]
		s, _ := azp.(string)
		if (present || len(t.Audience) > 1) && s != v.cfg.Audience {
			return nil, fail(CheckAzp, v.cfg.Audience, s)
		}
	}

	// Signature.
	if keys == nil && k.idToken && v.cfg.InsecureSkipSignatureCheckWithoutKeys {
		t.SignatureChecked = false
	} else {
		if keys == nil {
			return nil, fmt.Errorf("%w: no key set to verify the %s", ErrUnavailable, k.name)
		}
		if err := verifySignature(ctx, keys, parts, t.KeyID, t.Algorithm); err != nil {
			var ce *CheckError
			if errors.As(err, &ce) {
				ce.Token = k.name
			}
			return nil, err
		}
		t.SignatureChecked = true
	}

	// Times.
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	exp, err := mc.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, fail(CheckExp, "a number", "")
	}
	t.Expiry = exp.Time
	if !now.Before(exp.Add(leeway)) {
		return nil, fail(CheckExp, "after "+now.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339))
	}
	iat, err := mc.GetIssuedAt()
	if err != nil || (iat == nil && k.idToken) {
		return nil, fail(CheckIat, "a number", "")
	}
	if iat != nil {
		t.IssuedAt = iat.Time
		if iat.After(now.Add(leeway)) {
			return nil, fail(CheckIat, "not after "+now.UTC().Format(time.RFC3339), iat.UTC().Format(time.RFC3339))
		}
	}
	nbf, err := mc.GetNotBefore()
	if err != nil {
		return nil, fail(CheckNbf, "a number", "")
	}
	if nbf != nil && nbf.After(now.Add(leeway)) {
		return nil, fail(CheckNbf, "not after "+now.UTC().Format(time.RFC3339), nbf.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// checkIssuer applies the issuer rule and returns the key source that goes
// with it (nil if none is known).
func (v *Verifier) checkIssuer(ctx context.Context, iss string, k kind) (KeySource, error) {
	mismatch := func(expected string) error {
		return &CheckError{Token: k.name, Check: CheckIss, Expected: expected, Got: iss, Fix: v.cfg.IssuerHint}
	}
	keys := v.cfg.Keys
	var md *Metadata
	if v.cfg.Discovery != nil {
		var err error
		md, err = v.cfg.Discovery.metadata(ctx)
		if err == nil && keys == nil && md.JWKSURI != "" {
			ks, err := v.cfg.Discovery.KeySet(ctx)
			if err != nil {
				return nil, err
			}
			keys = ks
		} else if err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
	switch {
	case v.cfg.Issuer != "":
		if iss != v.cfg.Issuer {
			return nil, mismatch(v.cfg.Issuer)
		}
	case md != nil:
		if iss != md.Issuer {
			return nil, mismatch(md.Issuer)
		}
	case v.cfg.IssuerOrigin != "":
		if !sameOrigin(iss, v.cfg.IssuerOrigin) {
			return nil, mismatch("a URL on " + origin(v.cfg.IssuerOrigin))
		}
	default:
		return nil, fmt.Errorf("%w: the discovery document is needed to check the issuer", ErrUnavailable)
	}
	return keys, nil
}

// verifySignature checks the JWS signature (RFC 7515 §5.2) with the keys
// the source offers for kid and alg.
func verifySignature(ctx context.Context, src KeySource, parts []string, kid, alg string) error {
	keys, err := src.Keys(ctx, kid, alg)
	if err != nil {
		return err
	}
	method := jwt.GetSigningMethod(alg)
	// Strict: only the canonical spelling (unused bits zero, RFC 4648
	// §3.5), so one signature cannot be written several ways.
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if method == nil || err != nil {
		return &CheckError{Check: CheckSignature}
	}
	signed := parts[0] + "." + parts[1]
	for _, key := range keys {
		if method.Verify(signed, sig, key) == nil {
			return nil
		}
	}
	return &CheckError{Check: CheckSignature}
}
