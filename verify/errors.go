package verify

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Callers branch on them with [errors.Is].
var (
	// ErrInvalid: a token failed a check. A [*CheckError] in the chain
	// names the check.
	ErrInvalid = errors.New("sso: token rejected")
	// ErrUnavailable: a key set or discovery document was needed and could
	// not be fetched (network, status, size, redirect, malformed JSON). The
	// token was not judged; trying again later may succeed.
	ErrUnavailable = errors.New("sso: key set or discovery document unavailable")
	// ErrNoDiscovery: the provider serves no discovery document (404), so
	// callers fall back to their configured rules.
	ErrNoDiscovery = errors.New("sso: no discovery document")
	// ErrTooLarge: a key set or discovery document exceeded its size cap.
	ErrTooLarge = errors.New("sso: response too large")
	// ErrRedirect: a key set or discovery URL answered with a redirect,
	// which is never followed.
	ErrRedirect = errors.New("sso: redirect refused")
)

// The checks a [CheckError] can name.
const (
	CheckMalformed = "malformed" // not a compact JWS with JSON header and claims, or over MaxTokenBytes
	CheckCrit      = "crit"      // RFC 7515 §4.1.11: no critical extension is understood
	CheckTyp       = "typ"       // wrong kind of token (RFC 8725 §3.11, RFC 9068 §4)
	CheckAlg       = "alg"       // algorithm not allowed, or not the key's
	CheckKid       = "kid"       // no key in the set has this ID
	CheckSignature = "signature" // the signature does not verify
	CheckIss       = "iss"
	CheckSub       = "sub"
	CheckAud       = "aud"
	CheckAzp       = "azp"
	CheckExp       = "exp"
	CheckIat       = "iat"
	CheckNbf       = "nbf"
	CheckNonce     = "nonce"
)

// CheckError reports the one check a token failed. Expected and Got carry
// the non-secret values involved, for iss, aud, azp, alg, kid and typ (and
// the times for exp, iat and nbf); they are empty for the nonce and the
// signature. Got comes from the token, so it is quoted and cut to a length
// when printed. A CheckError never holds the token itself.
type CheckError struct {
	// Token is "ID token" or "access token".
	Token string
	// Check is one of the Check… constants, e.g. "iss".
	Check string
	// Expected and Got are the values compared, where they may be shown.
	Expected, Got string
	// Fix, when not empty, tells an operator which setting to change
	// (from [Config.IssuerHint] for the iss check).
	Fix string
}

func (e *CheckError) Error() string {
	var b strings.Builder
	b.WriteString("sso: ")
	b.WriteString(e.Token)
	b.WriteString(" failed the ")
	b.WriteString(e.Check)
	b.WriteString(" check")
	if e.Expected != "" || e.Got != "" {
		b.WriteString(": expected ")
		b.WriteString(Quote(e.Expected))
		b.WriteString(", got ")
		b.WriteString(Quote(e.Got))
	}
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Unwrap returns [ErrInvalid].
func (e *CheckError) Unwrap() error { return ErrInvalid }

// maxShown caps a value from a token in messages and logs.
const maxShown = 200

// Quote returns s quoted as a Go string, cut to 200 bytes, so a value taken
// from a token cannot forge log lines or flood them.
func Quote(s string) string {
	if len(s) > maxShown {
		s = strings.ToValidUTF8(s[:maxShown], "") + "…"
	}
	return strconv.Quote(s)
}
