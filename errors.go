package sso

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"

	"golang.org/x/oauth2"

	"github.com/shopsso/sso/oauthhttp"
	"github.com/shopsso/sso/verify"
)

// Sentinel errors. Every error this package reports wraps one of them, so
// callers branch with [errors.Is]. Their text never contains a code, a
// token, a secret or a provider's free-form text.
var (
	// ErrStateMissing: a callback arrived without a state parameter.
	ErrStateMissing = errors.New("sso: callback has no state")
	// ErrStateMismatch: the callback's state matches no pending login of
	// this browser for this provider (forged, replayed or cross-provider).
	ErrStateMismatch = errors.New("sso: state matches no pending login")
	// ErrStateExpired: the pending login is older than [Config.StateTTL].
	ErrStateExpired = errors.New("sso: login took too long")
	// ErrAccessDenied: the customer declined the login at the provider
	// (the callback's error=access_denied, RFC 6749 §4.1.2.1). Nothing went
	// wrong; the error page says so.
	ErrAccessDenied = errors.New("sso: the customer declined the login")
	// ErrNoPendingLogin: a callback came for a browser whose session holds
	// no login in progress at all, typically because the session cookie
	// did not come back (the login started on another host, scheme or
	// port than the redirect URL). It also matches [ErrStateMismatch].
	ErrNoPendingLogin = errors.New("sso: callback for a browser with no login in progress")
	// ErrCallbackSyntax: the callback's query is malformed: it does not
	// parse, repeats a parameter, or has a state or code over
	// [MaxStateLength] or [MaxCodeLength].
	ErrCallbackSyntax = errors.New("sso: malformed callback")
	// ErrAuthorization: the provider answered the login with an error other
	// than access_denied; a [*ProviderError] in the chain has its fields.
	ErrAuthorization = errors.New("sso: the provider refused the login")
	// ErrSessionNotLoaded: a handler of this package runs outside the
	// session manager's LoadAndSave, so it has no session to work with.
	ErrSessionNotLoaded = errors.New("sso: handler not inside the session manager's LoadAndSave")
	// ErrCodeMissing: the callback has a valid state but no code.
	ErrCodeMissing = errors.New("sso: callback has no code")
	// ErrExchange: the provider refused the token request (for example
	// invalid_grant); a [*ProviderError] in the chain has its fields.
	ErrExchange = errors.New("sso: token exchange refused")
	// ErrProviderUnavailable: the provider could not be reached, was too
	// slow, answered 5xx, or answered something that is not a token response.
	ErrProviderUnavailable = errors.New("sso: provider unavailable")
	// ErrResponseTooLarge: a token response exceeded
	// [oauthhttp.MaxResponseBytes]. It is [oauthhttp.ErrResponseTooLarge].
	ErrResponseTooLarge = oauthhttp.ErrResponseTooLarge
	// ErrTokenResponse: the provider's token response cannot be used: its
	// token_type is not Bearer, or its access token has already expired.
	ErrTokenResponse = errors.New("sso: token response refused")
	// ErrIDToken: the ID token is missing or fails a check (OIDC Core §3.1.3.7).
	ErrIDToken = errors.New("sso: ID token rejected")
	// ErrLoginRejected: [Config.OnLogin] refused the login.
	ErrLoginRejected = errors.New("sso: login rejected by the application")
	// ErrRefresh: the refresh token was refused and no newer token set was
	// found in the session; the customer must log in again.
	ErrRefresh = errors.New("sso: token refresh refused")
	// ErrLoginRequired: the request has no (longer a) valid login.
	ErrLoginRequired = errors.New("sso: login required")
	// ErrInsufficientScope: the login lacks a scope [Auth.RequireScopes] asks for.
	ErrInsufficientScope = errors.New("sso: insufficient scope")
	// ErrSession: a session operation failed.
	ErrSession = errors.New("sso: session store failed")
	// ErrStoreUnavailable: the session store failed or did not answer
	// within [Config.StoreTimeout]; answered 503 with Retry-After.
	ErrStoreUnavailable = errors.New("sso: session store unavailable")
	// ErrSessionEnded: a request tried to save a session that has been
	// destroyed (logged out) since the request loaded it; nothing was saved.
	ErrSessionEnded = errors.New("sso: session ended")
	// ErrMethod: the handler does not accept the request's method.
	ErrMethod = errors.New("sso: method not allowed")
	// ErrInternal: a hook, the store, the codec or a provider panicked
	// while this package handled the request; the panic was recovered and
	// logged with its stack, and only this request failed.
	ErrInternal = errors.New("sso: internal error")
	// ErrCrossSite: a state-changing request came from another site.
	ErrCrossSite = errors.New("sso: cross-site request refused")
)

// ProviderError carries an OAuth 2.0 error a provider returned, either on
// the callback (RFC 6749 §4.1.2.1) or from the token endpoint (§5.2). Its
// Error method prints only the provider name and a well-formed error code;
// Description and URI are the provider's own text and are never written to
// responses; a callback's Description is logged escaped and cut to 200 bytes.
type ProviderError struct {
	Provider    string
	Code        string // e.g. "access_denied", "invalid_grant"
	Description string
	URI         string
	// Err is the underlying error, for example an [*oauth2.RetrieveError]
	// (whose own Error text includes the raw response body).
	Err error
}

func (e *ProviderError) Error() string {
	return "sso: " + e.Provider + " answered " + safeCode(e.Code)
}

// Unwrap returns the underlying error.
func (e *ProviderError) Unwrap() error { return e.Err }

var oauthCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

// safeCode returns code if it has the shape of an RFC 6749 error code and a
// placeholder otherwise, so a hostile provider cannot smuggle text into logs.
func safeCode(code string) string {
	if oauthCode.MatchString(code) {
		return code
	}
	return "an unrecognised error"
}

// failure is an error of a known kind with a short, safe reason. Its text is
// kind + reason only; the cause stays reachable through Unwrap for callers
// who need it, but is never printed by this package.
type failure struct {
	kind   error
	reason string
	cause  error
}

func (f *failure) Error() string {
	if f.reason == "" {
		return f.kind.Error()
	}
	return f.kind.Error() + ": " + f.reason
}

func (f *failure) Unwrap() []error {
	if f.cause == nil {
		return []error{f.kind}
	}
	return []error{f.kind, f.cause}
}

func fail(kind error, reason string, cause error) error {
	return &failure{kind: kind, reason: reason, cause: cause}
}

// classifyTokenError turns an error from an x/oauth2 token call into one of
// this package's errors, keeping the original as the cause.
func classifyTokenError(provider string, err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		if re.ErrorCode != "" && status < 500 {
			return fail(ErrExchange, "", &ProviderError{
				Provider:    provider,
				Code:        re.ErrorCode,
				Description: re.ErrorDescription,
				URI:         re.ErrorURI,
				Err:         err,
			})
		}
		return fail(ErrProviderUnavailable, "status "+http.StatusText(status), err)
	case errors.Is(err, ErrResponseTooLarge):
		return fail(ErrProviderUnavailable, "response too large", err)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return fail(ErrProviderUnavailable, "timeout", err)
	case errors.Is(err, context.Canceled):
		return fail(ErrProviderUnavailable, "request canceled", err)
	default:
		var ne net.Error
		if errors.As(err, &ne) {
			return fail(ErrProviderUnavailable, "network error", err)
		}
		return fail(ErrProviderUnavailable, "malformed response", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// oauthErrorCode returns the provider's error code in err's chain, if any.
func oauthErrorCode(err error) string {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// StatusCode returns the HTTP status this package answers err with.
func StatusCode(err error) int { return describe(err).status }

func isTimeoutFailure(err error) bool {
	var f *failure
	return errors.As(err, &f) && f.reason == "timeout"
}

// failureAttrs returns the log attributes that say why err happened, for
// the one log record of a refusal: for a token that failed a check, the
// check with the expected and received values ([verify.CheckError]; never
// the token) and, where known, the setting to change; for a token-endpoint
// call the provider answered, its HTTP status and OAuth error code
// (RFC 6749 §5.2). Values from a token are length-capped; the OAuth code
// is logged only when well-formed.
func failureAttrs(err error) []slog.Attr {
	var attrs []slog.Attr
	var ce *verify.CheckError
	if errors.As(err, &ce) {
		attrs = append(attrs, slog.String("check", ce.Check))
		if ce.Expected != "" || ce.Got != "" {
			attrs = append(attrs, slog.String("expected", capLog(ce.Expected)), slog.String("got", capLog(ce.Got)))
		}
		if ce.Fix != "" {
			attrs = append(attrs, slog.String("fix", ce.Fix))
		}
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			attrs = append(attrs, slog.Int("http_status", re.Response.StatusCode))
		}
		if re.ErrorCode != "" {
			attrs = append(attrs, slog.String("oauth_error", safeCode(re.ErrorCode)))
		}
	}
	return attrs
}

// capLog cuts a value taken from a token to a length fit for a log line.
func capLog(s string) string {
	const max = 200
	if len(s) > max {
		return strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}
