package sso

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
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

// DefaultErrorHandler answers err with the status from [StatusCode]: a
// page for browsers (a styled, self-contained page titled in plain words,
// with its own wording for a customer who declined, see [ErrorPage]), a
// JSON object {"error": "..."} for others. It never writes err's text,
// which may come from a provider. Its "try again" link goes to "/"; the
// handler an [Auth] uses when [Config.ErrorHandler] is nil is the same
// with the link going to [Config.LoginPath] and the page rendered by
// [Config.ErrorTemplate] when that is set.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	noStore(w)
	if acceptsHTML(r) {
		_ = writeErrorPage(w, defaultErrorTemplate, errorPage(err, ""))
		return
	}
	ans := describe(err)
	writeJSONError(w, ans.status, ans.code)
}

// errorHandler is the ErrorHandler of an Auth whose Config has none:
// [DefaultErrorHandler] with the Config's LoginPath and ErrorTemplate.
func (a *Auth) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	noStore(w)
	if !acceptsHTML(r) {
		ans := describe(err)
		writeJSONError(w, ans.status, ans.code)
		return
	}
	tmpl := a.cfg.ErrorTemplate
	if tmpl == nil {
		tmpl = defaultErrorTemplate
	}
	if terr := writeErrorPage(w, tmpl, errorPage(err, a.cfg.LoginPath)); terr != nil {
		a.cfg.Logger.LogAttrs(r.Context(), slog.LevelError, "sso: error template failed, default page shown",
			slog.String("reason", terr.Error()))
	}
}

// answer is what a client is told about a failure: nothing of the error's
// own text, only these fixed strings.
type answer struct {
	status   int
	code     string // the API body's {"error": code}
	title    string // the page's heading, in plain words
	message  string // what a customer reads under it
	declined bool   // the customer declined at the provider
	retry    bool   // trying again (logging in again) can help
}

// describe maps err to its answer. It is the one place that decides how
// each kind of failure is answered.
func describe(err error) answer {
	var pe *ProviderError
	switch {
	case errors.Is(err, ErrMethod):
		return answer{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			title:   "This page can't be used that way",
			message: "Please go back to the shop and use its buttons and links."}
	case errors.Is(err, ErrStoreUnavailable):
		return answer{status: http.StatusServiceUnavailable, code: "store_unavailable",
			title:   "We're briefly unavailable",
			message: "The shop can't reach its login records right now. Please try again in a moment.", retry: true}
	case errors.Is(err, ErrLoginRequired), errors.Is(err, ErrRefresh), errors.Is(err, ErrSessionEnded):
		return answer{status: http.StatusUnauthorized, code: "login_required",
			title:   "Please log in again",
			message: "Your login has ended. Log in again to carry on where you were.", retry: true}
	case errors.Is(err, ErrInsufficientScope):
		return answer{status: http.StatusForbidden, code: "insufficient_scope",
			title:   "You can't open this page",
			message: "Your account has not been given access to this page."}
	case errors.Is(err, ErrLoginRejected):
		return answer{status: http.StatusForbidden, code: "login_rejected",
			title:   "This account can't log in here",
			message: "The shop does not accept this account. Please use another one, or contact the shop."}
	case errors.Is(err, ErrCrossSite):
		return answer{status: http.StatusForbidden, code: "cross_site",
			title:   "We stopped a request from another site",
			message: "For your safety, this shop only accepts this request from its own pages. Please try again from the shop."}
	case errors.Is(err, ErrProviderUnavailable):
		status := http.StatusBadGateway
		if isTimeoutFailure(err) {
			status = http.StatusGatewayTimeout
		}
		return answer{status: status, code: "provider_unavailable",
			title:   "The login service isn't answering",
			message: "We couldn't reach the service you log in with. Please try again in a moment.", retry: true}
	case errors.Is(err, ErrTokenResponse):
		return answer{status: http.StatusBadGateway, code: "provider_error",
			title:   "The login service sent an answer we can't use",
			message: "Please try again later.", retry: true}
	case errors.Is(err, ErrSession), errors.Is(err, ErrInternal), errors.Is(err, ErrSessionNotLoaded):
		return answer{status: http.StatusInternalServerError, code: "server_error",
			title:   "Something went wrong on our side",
			message: "Please try again in a moment.", retry: true}
	case errors.Is(err, errLogoutReturn):
		return answer{status: http.StatusBadRequest, code: "logout_unconfirmed",
			title:   "You're logged out of the shop",
			message: "We couldn't confirm the logout at the service you log in with. To be sure, log out there too."}
	case errors.Is(err, ErrAccessDenied), errors.As(err, &pe) && pe.Code == "access_denied":
		return answer{status: http.StatusForbidden, code: "login_failed",
			title:    "You didn't log in",
			message:  "You chose not to log in, so nothing was shared with this shop. You can log in another way or carry on without an account.",
			declined: true, retry: true}
	default:
		return answer{status: http.StatusBadRequest, code: "login_failed",
			title:   "We couldn't log you in",
			message: "The login could not be completed. Please start again.", retry: true}
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
// refusal because the session store is down carries Retry-After. An error
// a shared refresh has logged already is only answered: one log record per
// failed refresh, not one per request that waited on it.
func (a *Auth) report(w http.ResponseWriter, r *http.Request, provider string, err error) {
	if !errors.As(err, new(logged)) {
		a.logFailure(r.Context(), provider, err)
	}
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
			a.cfg.Logger.LogAttrs(r.Context(), slog.LevelInfo, "sso: save refused",
				slog.String("reason", "the session was logged out while this request ran"))
			if a.cfg.OnError != nil {
				a.cfg.OnError(r.Context(), err)
			}
		case errors.Is(err, ErrStoreUnavailable):
			if w.Header().Get("Retry-After") != "" {
				// Saving failed while this package's own 503 for the
				// same outage is being written (report set the header):
				// let that answer go out alone.
				return
			}
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
	var pe *ProviderError
	if (errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrAuthorization)) && errors.As(err, &pe) && pe.Description != "" {
		attrs = append(attrs, slog.String("provider_description", logSafe(pe.Description, maxDescriptionLog)))
	}
	level := slog.LevelWarn
	if errors.Is(err, ErrProviderUnavailable) || errors.Is(err, ErrSession) || errors.Is(err, ErrSessionNotLoaded) {
		level = slog.LevelError
	}
	a.cfg.Logger.LogAttrs(ctx, level, "sso: request refused", attrs...)
	if a.cfg.OnError != nil {
		a.cfg.OnError(ctx, err)
	}
}

// maxDescriptionLog caps a provider's error_description in the log.
const maxDescriptionLog = 200

// logSafe returns s with everything but printable ASCII escaped (Go
// syntax, without the quotes), cut to at most max bytes: a provider's
// free text, fit for a log line and nothing else.
func logSafe(s string, max int) string {
	if len(s) > 4*max {
		s = s[:4*max] // escaping never shrinks; don't escape what is cut anyway
	}
	q := strconv.QuoteToASCII(s)
	q = q[1 : len(q)-1]
	if len(q) > max {
		q = q[:max] + "..."
	}
	return q
}
