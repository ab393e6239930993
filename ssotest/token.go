package ssotest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// tokenResponse is a successful token answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// oauthError is an error answer (RFC 6749 §5.2).
type oauthError struct {
	status      int
	code        string
	description string
}

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", desc}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc}
}

func errInvalidClient(desc string) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", desc}
}

func errUnsupportedGrant(grantType string) *oauthError {
	return &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant_type " + grantType + " is not supported"}
}

// token serves a provider's token endpoint. Every call is recorded before any
// injected failure is applied.
func (s *Server) token(p *provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, formErr := readForm(w, r)
		grantType := form.Get("grant_type")
		if grantType == "" && p.name == ProviderIstores {
			grantType = GrantAuthorizationCode // Istores' guide sends no grant_type
		}
		s.recordToken(TokenRequest{Provider: p.name, Grant: grantType, Form: cloneValues(form), Header: r.Header.Clone()})

		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			s.tokenError(w, p, grantType, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST"})
			return
		}
		if formErr != nil {
			s.tokenError(w, p, grantType, errInvalidRequest(formErr.Error()))
			return
		}
		f, _ := s.takeTokenFailure(p.name, grantType)
		if s.fail(w, r, p, grantType, f) {
			return
		}
		var (
			resp *tokenResponse
			oerr *oauthError
		)
		switch {
		case p.name == ProviderOIDC:
			resp, oerr = s.oidcToken(r, form, grantType, f)
		case isBasicAuth(r):
			// Both guides put client credentials in the form (RFC 6749 §2.3.1).
			oerr = errInvalidClient("send client credentials in the form body, not HTTP Basic")
		case p.name == ProviderIstores && grantType == GrantAuthorizationCode:
			resp, oerr = s.istoresCode(form, f)
		case p.name == ProviderIstores:
			oerr = errUnsupportedGrant(grantType)
		case grantType == GrantAuthorizationCode:
			resp, oerr = s.multicartCode(form, f)
		case grantType == GrantRefreshToken:
			resp, oerr = s.multicartRefresh(form, f)
		case grantType == GrantClientCredentials:
			resp, oerr = s.multicartClientCredentials(form, f)
		case grantType == "":
			oerr = errInvalidRequest("grant_type is required")
		default:
			oerr = errUnsupportedGrant(grantType)
		}
		if oerr != nil {
			s.tokenError(w, p, grantType, oerr)
			return
		}
		if f.ExpiredAccessToken {
			resp.ExpiresIn = -60
		}
		s.logf("%s token: %s grant for client %q succeeded", p.name, grantType, form.Get("client_id"))
		writeJSON(w, http.StatusOK, resp)
	}
}

// readForm returns a POST's form body. It requires the form content type
// (RFC 6749 §3.2), no query string (credentials must not travel in URLs) and
// no repeated parameter (§3.2). The body is capped at 1 MiB.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return url.Values{}, nil
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return url.Values{}, errors.New("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return url.Values{}, errors.New("the form body could not be read")
	}
	if r.URL.RawQuery != "" {
		return r.PostForm, errors.New("parameters must be in the body, not the URL")
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 {
			return r.PostForm, errors.New(k + " is repeated")
		}
	}
	return r.PostForm, nil
}

// fail writes the answer an injected failure demands and reports whether it
// did. Delay gives up early if the request ends (writing nothing) or the
// server closes (answering 503).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, p *provider, grantType string, f Failure) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true // nobody is listening
		case <-s.closed:
			http.Error(w, "ssotest: server closing", http.StatusServiceUnavailable)
			return true
		}
	}
	switch {
	case f.Status != 0:
		s.logf("%s token: injected status %d", p.name, f.Status)
		http.Error(w, http.StatusText(f.Status), f.Status)
	case f.TokenError != "":
		s.tokenError(w, p, grantType, &oauthError{http.StatusBadRequest, f.TokenError, "injected failure"})
	case f.MalformedJSON:
		s.logf("%s token: injected malformed JSON", p.name)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Write([]byte(`{"access_token": "unterminated`))
	case f.Oversized:
		s.logf("%s token: injected oversized body", p.name)
		// The padding comes first, so a client that truncates the body at
		// any cap below 2 MiB is left without a token.
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.Write([]byte(`{"padding":"` + strings.Repeat("x", 2<<20) + `","access_token":"`))
		w.Write([]byte(s.sign(s.accessClaims(p, s.opts.Subject, p.client.ID, nil, s.opts.Now(), false), accessTokenType, false)))
		w.Write([]byte(`","token_type":"Bearer","expires_in":3600}`))
	case f.Redirect:
		s.logf("%s token: injected redirect", p.name)
		http.Redirect(w, r, s.URL()+p.prefix+"/redirected-token", http.StatusFound)
	default:
		return false
	}
	return true
}

// redirectedToken is the target of an injected redirect: it answers anything
// with a valid-looking token, so that a client that follows the redirect
// appears to succeed, and counts the call.
func (s *Server) redirectedToken(p *provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.redirectsFollowed++
		s.mu.Unlock()
		s.logf("%s token: a client followed a token-endpoint redirect", p.name)
		writeJSON(w, http.StatusOK, &tokenResponse{
			AccessToken: s.sign(s.accessClaims(p, s.opts.Subject, p.client.ID, nil, s.opts.Now(), false), accessTokenType, false),
			TokenType:   "Bearer",
			ExpiresIn:   s.expiresIn(),
		})
	}
}

// istoresCode redeems an Istores authorization code. Istores is a confidential
// client: client_id and client_secret come in the form.
func (s *Server) istoresCode(form url.Values, f Failure) (*tokenResponse, *oauthError) {
	if err := s.checkSecret(s.istores, form); err != nil {
		return nil, err
	}
	g, err := s.redeem(s.istores, form, false)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{
		AccessToken: s.accessToken(s.istores, g.subject, g.clientID, g.scopes, f),
		TokenType:   "Bearer",
		ExpiresIn:   s.expiresIn(),
	}, nil
}

// multicartCode redeems a Multicart authorization code. Multicart is a public
// client: no secret, but a secret that is sent must be right.
func (s *Server) multicartCode(form url.Values, f Failure) (*tokenResponse, *oauthError) {
	if form.Get("client_id") != s.multicart.client.ID {
		return nil, errInvalidClient("unknown or missing client_id")
	}
	if form.Has("client_secret") {
		if err := s.checkSecret(s.multicart, form); err != nil {
			return nil, err
		}
	}
	g, err := s.redeem(s.multicart, form, true)
	if err != nil {
		return nil, err
	}
	return s.multicartResponse(g, f), nil
}

// multicartRefresh spends a refresh token and issues a new one with the
// tokens (refresh token rotation, OAuth 2.0 Security BCP §4.14.2). The tokens
// carry the original grant's scopes; a scope parameter is ignored, which RFC
// 6749 §5.1 allows since the answer names the scopes granted.
func (s *Server) multicartRefresh(form url.Values, f Failure) (*tokenResponse, *oauthError) {
	if form.Get("client_id") != s.multicart.client.ID {
		return nil, errInvalidClient("unknown or missing client_id")
	}
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	g := s.rotateRefreshToken(rt)
	if g == nil || g.provider != ProviderMulticart {
		return nil, errInvalidGrant("the refresh token is unknown or already used")
	}
	return s.multicartResponse(g, f), nil
}

// multicartResponse issues the tokens of a user grant g: access token, ID
// token, and a refresh token when g includes offline_access.
func (s *Server) multicartResponse(g *grant, f Failure) *tokenResponse {
	return s.userResponse(s.multicart, g, f)
}

// userResponse issues p's tokens of a user grant g.
func (s *Server) userResponse(p *provider, g *grant, f Failure) *tokenResponse {
	resp := &tokenResponse{
		AccessToken: s.accessToken(p, g.subject, g.clientID, g.scopes, f),
		TokenType:   "Bearer",
		ExpiresIn:   s.expiresIn(),
		Scope:       strings.Join(g.scopes, " "),
		IDToken:     s.sign(s.idClaims(g, s.opts.Now(), f), "", f.IDTokenUnsigned),
	}
	if slices.Contains(g.scopes, "offline_access") {
		resp.RefreshToken = s.newRefreshToken(*g)
	}
	return resp
}

// multicartClientCredentials issues a service token whose subject is the
// client itself (Multicart guide §2).
func (s *Server) multicartClientCredentials(form url.Values, f Failure) (*tokenResponse, *oauthError) {
	if err := checkClient(s.multicart.service, form); err != nil {
		return nil, err
	}
	scopes := strings.Fields(form.Get("scope"))
	id := s.multicart.service.ID
	return &tokenResponse{
		AccessToken: s.accessToken(s.multicart, id, id, scopes, f),
		TokenType:   "Bearer",
		ExpiresIn:   s.expiresIn(),
		Scope:       strings.Join(scopes, " "),
	}, nil
}

// isBasicAuth reports whether r carries HTTP Basic credentials.
func isBasicAuth(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok || strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "basic")
}

// checkSecret authenticates a client by client_id and client_secret in the
// form (RFC 6749 §2.3.1).
func (s *Server) checkSecret(p *provider, form url.Values) *oauthError {
	return checkClient(p.client, form)
}

// checkClient authenticates form's client_id and client_secret as c.
func checkClient(c Client, form url.Values) *oauthError {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if id != c.ID || secret == "" ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return errInvalidClient("client authentication failed")
	}
	return nil
}

// redeem spends the form's code and checks it against the form (RFC 6749
// §4.1.3, RFC 7636 §4.6). needRedirect makes redirect_uri mandatory.
func (s *Server) redeem(p *provider, form url.Values, needRedirect bool) (*grant, *oauthError) {
	code := form.Get("code")
	if code == "" {
		return nil, errInvalidRequest("code is required")
	}
	if needRedirect && !form.Has("redirect_uri") {
		return nil, errInvalidRequest("redirect_uri is required")
	}
	g := s.takeCode(p.name, code)
	switch {
	case g == nil:
		return nil, errInvalidGrant("the code is unknown, used or expired")
	case form.Has("redirect_uri") && form.Get("redirect_uri") != g.redirectURI:
		return nil, errInvalidGrant("redirect_uri differs from the authorization request's")
	case g.challenge == "" && form.Has("code_verifier"):
		return nil, errInvalidGrant("code_verifier sent but the authorization request had no code_challenge")
	case g.challenge != "" && !pkceMatches(form.Get("code_verifier"), g.challenge):
		return nil, errInvalidGrant("code_verifier is missing or does not match the code_challenge")
	}
	return g, nil
}

// accessToken signs an access token, expired if f asks for it.
func (s *Server) accessToken(p *provider, subject, clientID string, scopes []string, f Failure) string {
	return s.sign(s.accessClaims(p, subject, clientID, scopes, s.opts.Now(), f.ExpiredAccessToken), accessTokenType, false)
}

func (s *Server) expiresIn() int64 { return int64(s.opts.AccessTokenTTL / time.Second) }

// tokenError writes an RFC 6749 §5.2 error answer.
func (s *Server) tokenError(w http.ResponseWriter, p *provider, grantType string, e *oauthError) {
	s.logf("%s token: %s grant failed: %s (%s)", p.name, grantType, e.code, e.description)
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+p.title+`"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// writeJSON writes v with the headers RFC 6749 §5.1 requires.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
