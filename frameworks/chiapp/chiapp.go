// Package chiapp is a chi v5 app that logs customers in with sso.
//
// chi routes net/http handlers and runs func(http.Handler) http.Handler
// middleware natively, so [sso.Auth.Require] goes straight into r.Use and
// the login, callback and logout handlers are mounted as they are. The whole
// router runs inside the session manager's LoadAndSave, so every route,
// including chi's own 404 and 405 answers, sees the session.
package chiapp

import (
	"encoding/json"
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/scsflush"
)

// New returns the app's handler: the chi router wrapped in sm.LoadAndSave
// (and [scsflush.KeepCookie], so streaming handlers keep the session cookie).
func New(auth *sso.Auth, sm *scs.SessionManager) http.Handler {
	return newHandler(auth, sm, nil)
}

// newHandler is New; more, if not nil, adds routes to the protected group
// (tests add probes there).
func newHandler(auth *sso.Auth, sm *scs.SessionManager, more func(chi.Router)) http.Handler {
	r := chi.NewRouter()
	for _, p := range []string{istores.Name, multicart.Name} {
		r.Method(http.MethodGet, "/auth/"+p+"/login", auth.Login(p))
		r.Method(http.MethodGet, "/auth/"+p+"/callback", auth.Callback(p))
	}
	r.Method(http.MethodPost, "/logout", auth.Logout())

	r.Route("/account", func(r chi.Router) {
		r.Use(auth.Require)
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, me(r, sm))
		})
		r.Post("/visits", func(w http.ResponseWriter, r *http.Request) {
			// Change the session before writing: scs adds the cookie on the
			// first write.
			sm.Put(r.Context(), "visits", sm.GetInt(r.Context(), "visits")+1)
			writeJSON(w, me(r, sm))
		})
		if more != nil {
			more(r)
		}
	})
	return sm.LoadAndSave(scsflush.KeepCookie(r))
}

// account is the body of /account/me and /account/visits.
type account struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Visits   int    `json:"visits"`
}

// me reads the login that auth.Require put into the request context.
func me(r *http.Request, sm *scs.SessionManager) account {
	a := account{Visits: sm.GetInt(r.Context(), "visits")}
	if tok, ok := sso.TokenFromContext(r.Context()); ok {
		a.Provider = tok.Provider
	}
	if c, ok := sso.ClaimsFromContext(r.Context()); ok {
		a.Subject = c.Subject()
	}
	return a
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
