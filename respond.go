package sso

import (
	"context"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"strings"
)

// isBrowserNavigation reports whether r is a top-level page load by a
// browser, which may be answered with a redirect to log in. Everything else
// (API clients, XHR and fetch, non-GET requests, clients asking for JSON)
// gets a 401 instead: a redirect to an HTML login page is useless to them
// and can turn a POST into a lost GET.
func isBrowserNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" && m != "navigate" {
		return false
	}
	return acceptsHTML(r)
}

// acceptsHTML reports whether the Accept header lists text/html.
func acceptsHTML(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(a, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
				return true
			}
		}
	}
	return false
}

// noStore marks a response as not cacheable and keeps the URL (which may
// carry a code or state) out of Referer headers.
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// DefaultErrorHandler answers err with the status from [StatusCode] and a
// generic text for it: a small HTML page for browsers, a JSON object
// {"error": "..."} for others. It never writes err's text, which may come
// from a provider.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ans := describe(err)
	noStore(w)
	if acceptsHTML(r) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(ans.status)
		text := html.EscapeString(http.StatusText(ans.status))
		_, _ = w.Write([]byte("<!doctype html><meta charset=utf-8><title>" + text + "</title><h1>" + text +
			"</h1><p>" + html.EscapeString(ans.message) + "</p><p><a href=\"/\">Back to the home page</a></p>\n"))
		return
	}
	writeJSONError(w, ans.status, ans.code)
}

// answer is what a client is told about a failure: nothing of the error's
// own text, only these fixed strings.
type answer struct {
	status  int
	code    string // the API body's {"error": code}
	message string // the one sentence a customer sees
}

// describe maps err to its answer. It is the one place that decides how
// each kind of failure is answered.
func describe(err error) answer {
	var pe *ProviderError
	switch {
	case errors.Is(err, ErrMethod):
		return answer{http.StatusMethodNotAllowed, "method_not_allowed", "This request is not allowed."}
	case errors.Is(err, ErrStoreUnavailable):
		return answer{http.StatusServiceUnavailable, "store_unavailable", "The service is briefly unavailable. Please try again in a moment."}
	case errors.Is(err, ErrLoginRequired), errors.Is(err, ErrRefresh), errors.Is(err, ErrSessionEnded):
		return answer{http.StatusUnauthorized, "login_required", "Please log in."}
	case errors.Is(err, ErrInsufficientScope):
		return answer{http.StatusForbidden, "insufficient_scope", "Your login does not allow this page."}
	case errors.Is(err, ErrLoginRejected):
		return answer{http.StatusForbidden, "login_rejected", "This account cannot log in here."}
	case errors.Is(err, ErrCrossSite):
		return answer{http.StatusForbidden, "cross_site", "This request is not allowed."}
	case errors.Is(err, ErrProviderUnavailable):
		status := http.StatusBadGateway
		if isTimeoutFailure(err) {
			status = http.StatusGatewayTimeout
		}
		return answer{status, "provider_unavailable", "The login service is not answering. Please try again in a moment."}
	case errors.Is(err, ErrSession):
		return answer{http.StatusInternalServerError, "server_error", "Something went wrong on our side. Please try again."}
	case errors.As(err, &pe) && pe.Code == "access_denied":
		return answer{http.StatusForbidden, "login_failed", "The login could not be completed. Please start again."}
	default:
		return answer{http.StatusBadRequest, "login_failed", "The login could not be completed. Please start again."}
	}
}

// writeJSONError writes {"error":code}. code is one of describe's fixed
// strings, so it needs no escaping.
func writeJSONError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `"}` + "\n"))
}

// report logs err, tells OnError, and lets the ErrorHandler answer. A
// refusal because the session store is down carries Retry-After.
func (a *Auth) report(w http.ResponseWriter, r *http.Request, provider string, err error) {
	a.logFailure(r.Context(), provider, err)
	if errors.Is(err, ErrStoreUnavailable) {
		w.Header().Set("Retry-After", storeRetryAfter)
	}
	a.cfg.ErrorHandler(w, r, err)
}

// sessionErrorFunc returns the session manager's ErrorFunc (see
// [Config.Sessions]). LoadAndSave calls it when loading the session fails,
// before any middleware of this package runs, and when saving it fails.
// A store that is down is answered like any refusal of this package (503,
// Retry-After). A save refused because the session was logged out
// meanwhile writes nothing: the response goes out as the handler writes
// it, without the session cookie, so it cannot set the old one again.
// Anything else goes to prev, the ErrorFunc the manager had.
func (a *Auth) sessionErrorFunc(prev func(http.ResponseWriter, *http.Request, error)) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case errors.Is(err, ErrSessionEnded):
			if a.cfg.OnError != nil {
				a.cfg.OnError(r.Context(), err)
			}
		case errors.Is(err, ErrStoreUnavailable):
			a.report(w, r, "", err)
		case prev != nil:
			prev(w, r, err)
		default:
			a.report(w, r, "", fail(ErrSession, "session manager", err))
		}
	}
}

// logFailure logs err and tells OnError, without answering. err's text is
// safe to log: this package's errors print a kind and a short reason only.
//
// A session store that is down is not logged here: the store guard says
// "session store unavailable" at most once a minute, not once a request.
func (a *Auth) logFailure(ctx context.Context, provider string, err error) {
	if errors.Is(err, ErrStoreUnavailable) {
		if a.cfg.OnError != nil {
			a.cfg.OnError(ctx, err)
		}
		return
	}
	attrs := []slog.Attr{slog.String("reason", err.Error())}
	if provider != "" {
		attrs = append(attrs, slog.String("provider", provider))
	}
	attrs = append(attrs, failureAttrs(err)...)
	level := slog.LevelWarn
	if errors.Is(err, ErrProviderUnavailable) || errors.Is(err, ErrSession) {
		level = slog.LevelError
	}
	a.cfg.Logger.LogAttrs(ctx, level, "sso: request refused", attrs...)
	if a.cfg.OnError != nil {
		a.cfg.OnError(ctx, err)
	}
}
