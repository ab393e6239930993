package ssotest

import (
	"errors"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authRequest is a validated authorization request.
type authRequest struct {
	p           *provider
	clientID    string
	redirect    *url.URL
	state       string
	scopes      []string
	challenge   string
	nonce       string
	params      url.Values // the request as received, for the approval form
	redirectRaw string
}

// authorize serves GET on a provider's authorize endpoint (RFC 6749 §4.1.1):
// an error page, an error redirect, a code redirect (AutoApprove) or the
// approval page.
func (s *Server) authorize(p *provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.recordAuthorize(q)
		req, ok := s.checkAuthorize(w, r, p, q)
		if !ok {
			return
		}
		if s.autoApproving() {
			s.approve(w, r, req)
			return
		}
		s.renderApproval(w, req)
	}
}

// approval serves the approval page's POST. It validates the request again
// from the posted fields, since the page is in the customer's hands.
func (s *Server) approval(p *provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, p, "the form could not be read")
			return
		}
		form := cloneValues(r.PostForm)
		decision := form.Get("decision")
		form.Del("decision")
		req, ok := s.checkAuthorize(w, r, p, form)
		if !ok {
			return
		}
		switch decision {
		case "approve":
			s.approve(w, r, req)
		case "deny":
			s.logf("%s authorize: client %q denied by the customer", p.name, req.clientID)
			s.redirectBack(w, r, req, url.Values{
				"error":             {"access_denied"},
				"error_description": {"The customer denied the request."},
			})
		default:
			s.errorPage(w, p, "decision must be approve or deny")
		}
	}
}

// checkAuthorize validates an authorization request's parameters. When the
// client or redirect URI is bad it shows an error page (RFC 6749 §4.1.2.1:
// never redirect to an unverified URI); for other faults it redirects back
// with error=invalid_request. It reports whether the request may proceed.
func (s *Server) checkAuthorize(w http.ResponseWriter, r *http.Request, p *provider, q url.Values) (*authRequest, bool) {
	if len(q[p.clientParam]) != 1 || q.Get(p.clientParam) != p.client.ID {
		s.errorPage(w, p, "unknown or missing "+p.clientParam)
		return nil, false
	}
	if len(q[p.redirectParam]) != 1 {
		s.errorPage(w, p, "missing or repeated "+p.redirectParam)
		return nil, false
	}
	redirect, err := parseRedirect(q.Get(p.redirectParam))
	if err != nil {
		s.errorPage(w, p, p.redirectParam+": "+err.Error())
		return nil, false
	}
	req := &authRequest{
		p:           p,
		clientID:    p.client.ID,
		redirect:    redirect,
		redirectRaw: q.Get(p.redirectParam),
		state:       q.Get("state"),
		scopes:      strings.Fields(q.Get(p.scopeParam)),
		challenge:   q.Get("code_challenge"),
		nonce:       q.Get("nonce"),
		params:      q,
	}
	msg := requestFault(p, q)
	if msg == "" && p.name == ProviderOIDC {
		msg = s.oidcAuthorizeFault(q)
	}
	if msg != "" {
		s.logf("%s authorize: invalid request from client %q: %s", p.name, req.clientID, msg)
		s.redirectBack(w, r, req, url.Values{
			"error":             {"invalid_request"},
			"error_description": {msg},
		})
		return nil, false
	}
	return req, true
}

// requestFault returns what is wrong with q's parameters other than the
// client and redirect URI, or "".
func requestFault(p *provider, q url.Values) string {
	for _, name := range []string{"response_type", p.scopeParam, "state", "code_challenge", "code_challenge_method", "nonce"} {
		if len(q[name]) > 1 {
			return name + " is repeated"
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "code":
	case rt == "" && p.name == ProviderMulticart:
		// Multicart's guide sends no response_type; the code flow is implied.
	case rt == "":
		return "response_type is required"
	default:
		return "response_type must be code"
	}
	if p.name == ProviderIstores && !q.Has("scopes") && q.Has("scope") {
		return "Istores takes the scopes parameter, not scope"
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method == "":
	case method != "S256":
		return "code_challenge_method must be S256"
	case !validChallenge(challenge):
		return "code_challenge must be the base64url S256 hash of the verifier"
	}
	return ""
}

// parseRedirect accepts an absolute http or https URL without a fragment or
// user information (RFC 6749 §3.1.2).
func parseRedirect(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("must be an absolute http or https URL")
	case u.Host == "":
		return nil, errors.New("has no host")
	case u.User != nil:
		return nil, errors.New("must not carry user information")
	case strings.Contains(raw, "#"):
		return nil, errors.New("must not have a fragment")
	}
	return u, nil
}

// approve issues a code and redirects back with it, unless a Deny failure is
// injected.
func (s *Server) approve(w http.ResponseWriter, r *http.Request, req *authRequest) {
	if s.takeDeny(req.p.name) {
		s.logf("%s authorize: client %q denied (injected failure)", req.p.name, req.clientID)
		s.redirectBack(w, r, req, url.Values{
			"error":             {"access_denied"},
			"error_description": {"The customer denied the request."},
		})
		return
	}
	code := s.newCode(grant{
		provider:    req.p.name,
		clientID:    req.clientID,
		redirectURI: req.redirectRaw,
		scopes:      req.scopes,
		challenge:   req.challenge,
		nonce:       req.nonce,
		subject:     s.opts.Subject,
		authTime:    s.opts.Now(),
	})
	s.logf("%s authorize: client %q approved, scopes %q", req.p.name, req.clientID, req.scopes)
	s.redirectBack(w, r, req, url.Values{"code": {code}})
}

// redirectBack sends the browser to the request's redirect URI with params
// and the state added to the URI's own query (RFC 6749 §4.1.2).
func (s *Server) redirectBack(w http.ResponseWriter, r *http.Request, req *authRequest, params url.Values) {
	u := *req.redirect
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// pageHeaders marks an HTML page as uncacheable and unframeable.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
}

var errorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Provider}}: invalid request</title></head>
<body>
<h1>{{.Provider}}: invalid request</h1>
<p>{{.Message}}</p>
</body>
</html>
`))

// errorPage answers 400 with an HTML page naming the fault.
func (s *Server) errorPage(w http.ResponseWriter, p *provider, msg string) {
	s.logf("%s authorize: rejected: %s", p.name, msg)
	pageHeaders(w)
	w.WriteHeader(http.StatusBadRequest)
	errorTemplate.Execute(w, struct{ Provider, Message string }{p.title, msg})
}

var approvalTemplate = template.Must(template.New("approval").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Provider}}: allow {{.App}} to sign you in?</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; }
button { font-size: 1rem; padding: .5rem 1.5rem; margin-right: .5rem; }
.note { color: #666; font-size: .875rem; }
</style>
</head>
<body>
<h1>{{.Provider}}</h1>
<p><strong>{{.App}}</strong> wants to sign you in as <strong>{{.Subject}}</strong>.</p>
{{if .Scopes}}<p>It asks for these scopes:</p>
<ul>
{{range .Scopes}}<li><code>{{.}}</code></li>
{{end}}</ul>
{{else}}<p>It asks for no scopes.</p>
{{end}}<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="note">This is the ssotest stand-in for {{.Provider}}: no password is needed.</p>
</body>
</html>
`))

type field struct{ Name, Value string }

// renderApproval shows the approval page, carrying the request in hidden
// fields.
func (s *Server) renderApproval(w http.ResponseWriter, req *authRequest) {
	var fields []field
	for _, name := range slices.Sorted(maps.Keys(req.params)) {
		if name == "decision" {
			continue // the buttons carry it
		}
		for _, v := range req.params[name] {
			fields = append(fields, field{name, v})
		}
	}
	pageHeaders(w)
	approvalTemplate.Execute(w, struct {
		Provider, App, Subject, Action string
		Scopes                         []string
		Fields                         []field
	}{req.p.title, req.clientID, s.opts.Subject, req.p.authPath, req.scopes, fields})
}
