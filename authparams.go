package sso

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ErrReservedAuthParam: an extra authorize parameter names one that the
// login protocol itself sets (see [CheckAuthParams]).
var ErrReservedAuthParam = errors.New("sso: reserved authorize parameter")

// maxAuthParamBytes caps one per-login authorize parameter value
// ([Config.LoginParams]); a longer one is dropped, with a log line.
const maxAuthParamBytes = 1024

// reservedAuthParams are the authorize parameters only the login protocol
// may set: what binds the answer to this browser and this login (state,
// nonce, PKCE, RFC 7636 §4.3), who the client is and where the code goes
// (client ID and redirect under their standard names and Multicart's), how
// the answer comes back (response_type, response_mode: a fragment would
// hide the code from the callback), what is asked for (scope, and Istores'
// scopes), and request objects (request, request_uri: RFC 9101, which
// could carry any of the others). A client secret never goes into a URL.
var reservedAuthParams = []string{
	"state", "nonce",
	"code_challenge", "code_challenge_method", "code_verifier",
	"client_id", "client_secret", "application",
	"redirect_uri", "return",
	"response_type", "response_mode",
	"scope", "scopes",
	"request", "request_uri",
}

// IsReservedAuthParam reports whether name is an authorize parameter that
// extra parameters may not set. Names are compared without regard to case,
// since some servers read their query that way.
func IsReservedAuthParam(name string) bool {
	for _, r := range reservedAuthParams {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// CheckAuthParams returns an error wrapping [ErrReservedAuthParam] when
// params (extra authorize parameters such as prompt, ui_locales,
// acr_values or login_hint) names a parameter reserved to the protocol, or
// also one of reserved (a provider's own names); and an error for an
// empty name. Providers call it when they are constructed.
func CheckAuthParams(params url.Values, reserved ...string) error {
	for name := range params {
		if name == "" {
			return errors.New("sso: an extra authorize parameter has no name")
		}
		if IsReservedAuthParam(name) {
			return fmt.Errorf("%w: %q is set by the login itself", ErrReservedAuthParam, name)
		}
		for _, r := range reserved {
			if strings.EqualFold(name, r) {
				return fmt.Errorf("%w: %q is set by the provider itself", ErrReservedAuthParam, name)
			}
		}
	}
	return nil
}

// MergeAuthParams returns a new query holding configured (a provider's
// own extra parameters) overlaid by perLogin ([AuthParams.Extra]), without
// any reserved name. A provider then sets its protocol parameters on the
// result, so they win even over a name this function did not know.
func MergeAuthParams(configured, perLogin url.Values) url.Values {
	q := make(url.Values, len(configured)+len(perLogin)+8)
	for _, src := range []url.Values{configured, perLogin} {
		for name, vs := range src {
			if name != "" && !IsReservedAuthParam(name) && len(vs) > 0 {
				q[name] = append([]string(nil), vs...)
			}
		}
	}
	return q
}

// loginParams returns the authorize parameters a login request's query
// carries under the names of [Config.LoginParams]. Only the first value of
// a name is used; a value longer than 1 KiB is dropped with one log line.
func (a *Auth) loginParams(r *http.Request) url.Values {
	if len(a.cfg.LoginParams) == 0 {
		return nil
	}
	var out url.Values
	q := r.URL.Query()
	for _, name := range a.cfg.LoginParams {
		v := q.Get(name)
		switch {
		case v == "":
			continue
		case len(v) > maxAuthParamBytes:
			a.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "sso: authorize parameter dropped",
				slog.String("param", name), slog.String("reason", "longer than 1024 bytes"))
			continue
		}
		if out == nil {
			out = url.Values{}
		}
		out.Set(name, v)
	}
	return out
}

// requestAuthParams returns a login's extra authorize parameters: those of
// the login request's query (extra, from [Config.LoginParams]) overlaid
// by those of [WithAuthParams] in its context, whose reserved names are
// dropped with one log line each.
func (a *Auth) requestAuthParams(r *http.Request, extra url.Values) url.Values {
	fromCtx := authParamsFromContext(r.Context())
	if len(fromCtx) == 0 {
		return extra
	}
	out := make(url.Values, len(extra)+len(fromCtx))
	for k, vs := range extra {
		out[k] = vs
	}
	for _, name := range slices.Sorted(maps.Keys(fromCtx)) {
		if name == "" || IsReservedAuthParam(name) {
			a.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "sso: authorize parameter dropped",
				slog.String("param", shortParam(name)), slog.String("reason", "reserved to the login protocol"))
			continue
		}
		out[name] = fromCtx[name]
	}
	return out
}

// shortParam cuts a parameter name from application code to 64 bytes for
// a log line (the log handler escapes it).
func shortParam(name string) string {
	if len(name) > 64 {
		return name[:64]
	}
	return name
}
