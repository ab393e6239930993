package chiapp

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/frameworks/internal/fwtest"
)

// app is New with the probe handlers in the protected group, written as a
// chi app writes handlers.
func app(auth *sso.Auth, sm *scs.SessionManager, p *fwtest.Probe) http.Handler {
	return newHandler(auth, sm, func(r chi.Router) {
		r.Get("/probe", func(w http.ResponseWriter, r *http.Request) {
			p.Seen()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(p.View(r.Context()))
		})
		r.Get("/stream", func(w http.ResponseWriter, r *http.Request) {
			p.Change(r.Context())
			w.Header().Set("Content-Type", "text/plain")
			f, ok := w.(http.Flusher)
			if !ok {
				http.Error(w, "cannot stream", http.StatusInternalServerError)
				return
			}
			f.Flush()
			_, _ = io.WriteString(w, fwtest.StreamFirst)
			f.Flush()
			p.Wait(r.Context())
			_, _ = io.WriteString(w, fwtest.StreamLast)
		})
	})
}

func TestChi(t *testing.T) {
	fwtest.Run(t, app)
}
