package sso

import (
	"log/slog"
	"net/http"
)

// CheckScopes returns middleware that lets a request through only when its
// token has been granted every one of scopes. It runs after [Auth.Require]
// or [Bearer.Require], whichever put the token into the context, and
// answers as that one does: for a session, 403 through
// [Config.ErrorHandler]; for a bearer token, 403 with
// WWW-Authenticate: Bearer error="insufficient_scope" and the scopes
// needed (RFC 6750 §3.1). Either way the refusal is logged once.
//
// Mounted where neither put a token into the context, it fails closed:
// 500, and a log line naming the mistake.
func CheckScopes(scopes ...string) func(http.Handler) http.Handler {
	scopes = append([]string(nil), scopes...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rl, ok := fromContext(r.Context())
			if !ok {
				slog.Default().LogAttrs(r.Context(), slog.LevelError, "sso: request refused",
					slog.String("reason", "sso: CheckScopes runs outside Auth.Require and Bearer.Require; mount it inside one of them"))
				writeJSONError(w, http.StatusInternalServerError, "server_error")
				return
			}
			for _, s := range scopes {
				if rl.l.hasScope(s) {
					continue
				}
				switch {
				case rl.bearer != nil:
					rl.bearer.insufficientScope(w, r, scopes)
				case rl.auth != nil:
					rl.auth.report(w, r, rl.l.Provider, fail(ErrInsufficientScope, "", nil))
				default:
					DefaultErrorHandler(w, r, ErrInsufficientScope)
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
