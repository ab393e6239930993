package ssotest

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// endSessionPath is Multicart's end-session endpoint (OpenID Connect
// RP-Initiated Logout 1.0 §2), published in its discovery document as
// end_session_endpoint and in [Endpoints.EndSessionURL].
const endSessionPath = "/multicart/connect/endsession"

// endSession serves the end-session endpoint, GET or POST (§2). It records
// the request ([Server.EndSessionRequests]) and checks it: client_id, when
// sent, must be the Multicart client; id_token_hint, when sent, must be an
// ID token this server signed for that client (expired ones are accepted,
// §2); post_logout_redirect_uri needs one of the two, to know the client.
// Like a provider that ends the customer's session without asking, it
// then redirects (302) to post_logout_redirect_uri with the state, or
// answers a page saying the customer is logged out. It does not check the
// redirect URI against a registration: it is a stand-in, not an open
// redirect in production.
func (s *Server) endSession(p *provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed request", http.StatusBadRequest)
			return
		}
		form := cloneValues(r.Form)
		s.mu.Lock()
		s.endSessionRequests = append(s.endSessionRequests, form)
		s.mu.Unlock()

		client := form.Get("client_id")
		if client != "" && client != p.client.ID {
			s.logf("%s end-session: unknown client_id", p.name)
			http.Error(w, "unknown client_id", http.StatusBadRequest)
			return
		}
		if hint := form.Get("id_token_hint"); hint != "" {
			claims := jwt.MapClaims{}
			_, err := jwt.NewParser(jwt.WithoutClaimsValidation()).ParseWithClaims(hint, claims,
				func(*jwt.Token) (any, error) { return s.signer.Public(), nil })
			aud, _ := claims.GetAudience()
			if err != nil || !slices.Contains(aud, p.client.ID) {
				s.logf("%s end-session: id_token_hint refused", p.name)
				http.Error(w, "id_token_hint refused", http.StatusBadRequest)
				return
			}
			client = p.client.ID
		}
		back := form.Get("post_logout_redirect_uri")
		if back == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte("<!doctype html><title>Logged out</title><h1>You are logged out of " + p.title + "</h1>\n"))
			return
		}
		u, err := url.Parse(back)
		if err != nil || !u.IsAbs() || client == "" {
			s.logf("%s end-session: post_logout_redirect_uri refused", p.name)
			http.Error(w, "post_logout_redirect_uri refused", http.StatusBadRequest)
			return
		}
		if state := form.Get("state"); state != "" {
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
		}
		s.logf("%s end-session: logged out, returning to the client", p.name)
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
}

// EndSessionRequests returns the parameters of every request to the
// end-session endpoint so far, in order. They include id_token_hint as
// sent, for tests to compare.
func (s *Server) EndSessionRequests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.endSessionRequests))
	for i, f := range s.endSessionRequests {
		out[i] = cloneValues(f)
	}
	return out
}
