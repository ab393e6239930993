package main

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"

	sso "github.com/shopsso/sso"
)

// pageStyle is every page's stylesheet, inline: the example serves no
// assets. It matches the look of the library's own error pages.
const pageStyle = `<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--text:#1d2330;--muted:#5b6476;--accent:#2f5bd3;--accent-text:#fff;--line:#e3e6ec}
@media (prefers-color-scheme:dark){:root{--bg:#15181e;--card:#1e232c;--text:#e8ebf1;--muted:#a3abbb;--accent:#7c9cf5;--accent-text:#10131a;--line:#2d3440}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1.5rem;background:var(--bg);color:var(--text);font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:100%;max-width:30rem;background:var(--card);border:1px solid var(--line);border-radius:14px;padding:2rem 1.75rem;box-shadow:0 6px 24px rgba(16,24,40,.08)}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem}
p{margin:0 0 1.25rem;color:var(--muted)}
.actions{display:flex;flex-direction:column;gap:.75rem;margin:0 0 1.25rem;padding:0;list-style:none}
a.button,button{display:block;width:100%;padding:.75rem 1.25rem;border-radius:8px;text-decoration:none;font:inherit;font-weight:600;text-align:center;cursor:pointer;border:1px solid var(--line);background:transparent;color:var(--text)}
a.primary,button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-text)}
a.button:focus-visible,button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.small{font-size:.9rem}
main>:last-child{margin-bottom:0}
</style>`

// layout is the layout every page of the example uses.
var layout = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">` + pageStyle + `
<title>{{.Title}}</title></head><body><main>
{{template "body" .}}
</main></body></html>
`))

// newPage returns the layout with body as its content.
func newPage(body string) *template.Template {
	t := template.Must(layout.Clone())
	template.Must(t.New("body").Parse(body))
	return t
}

var homePage = newPage(`
<h1>{{if .Greeting}}{{.Greeting}}{{else}}shopsso example shop{{end}}</h1>
{{if .LoggedIn}}
<p id="who">Logged in as <strong id="subject">{{.Subject}}</strong> through <strong id="provider">{{.Provider}}</strong>.</p>
<p>Your token expires at {{.Expiry}}. See <a href="/me">/me</a> for what the app knows.</p>
<form method="post" action="/logout"><button type="submit" id="logout" class="primary">Log out</button></form>
{{else}}
<p id="who">You are not logged in.</p>
<ul class="actions">
{{range $i, $p := .Choices}}<li><a class="button{{if eq $i 0}} primary{{end}}" id="login-{{$p.Name}}" href="/auth/{{$p.Name}}/login">Log in with {{$p.Label}}</a></li>
{{end}}</ul>
<p class="small">The protected page <a href="/me">/me</a> asks you to log in first.</p>
{{end}}`)

// choice is a provider this instance serves, as its pages offer it.
type choice struct{ Name, Label string }

// choicesOf lists the providers ps in the pages' words.
func choicesOf(ps []sso.Provider) []choice {
	out := make([]choice, 0, len(ps))
	for _, p := range ps {
		n := p.Name()
		out = append(out, choice{Name: n, Label: strings.ToUpper(n[:1]) + n[1:]})
	}
	return out
}

type homeData struct {
	Title                     string
	Choices                   []choice // the providers served, to log in with
	LoggedIn                  bool
	Greeting                  string // "Hello, Ada" when the provider sent a name
	Subject, Provider, Expiry string
}

// home returns the page that shows who is logged in and how to log in
// (through the providers this instance serves) or out.
func home(choices []choice) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { homePageFor(w, r, choices) }
}

func homePageFor(w http.ResponseWriter, r *http.Request, choices []choice) {
	d := homeData{Title: "shopsso example shop", Choices: choices}
	if tok, ok := sso.TokenFromContext(r.Context()); ok {
		d.LoggedIn, d.Provider = true, tok.Provider
		d.Expiry = tok.Expiry.Format(time.RFC1123)
		c, ok := sso.IDClaimsFromContext(r.Context())
		if !ok {
			c, ok = sso.ClaimsFromContext(r.Context())
		}
		if ok {
			d.Subject = c.Subject()
			if name := displayName(c); name != "" {
				d.Greeting = "Hello, " + name
			}
		}
	}
	render(w, http.StatusOK, homePage, d)
}

// displayName is what the shop calls the customer: the name the provider
// sent, else the given name, else the preferred username; "" without one.
func displayName(c *sso.Claims) string {
	for _, n := range []string{c.Name(), c.GivenName(), c.PreferredUsername()} {
		if n != "" {
			return n
		}
	}
	return ""
}

// logoutReturnPath is where a provider's end-session endpoint sends the
// browser back after logging it out there too (Auth.LogoutCallback).
const logoutReturnPath = "/logout/return"

// loginPath is the page where customers choose how to log in: where
// Require sends them (Config.LoginPath) and where logging out ends.
const loginPath = "/login"

var choosePage = newPage(`
<h1>{{.Title}}</h1>
{{if .LoggedOut}}<p id="logged-out">You have logged out of the shop.</p>{{end}}
<p>Choose the account you use with us.</p>
<ul class="actions">
{{range $i, $p := .Choices}}<li><a class="button{{if eq $i 0}} primary{{end}}" id="choose-{{$p.Name}}" href="/auth/{{$p.Name}}/login?return_to={{$.ReturnTo}}">Continue with {{$p.Label}}</a></li>
{{end}}</ul>
<p class="small"><a href="/">Back to the shop</a></p>`)

// choose returns the login page: one button per provider served, each
// bringing the customer back to return_to (which the library checks again)
// afterwards.
func choose(choices []choice) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { choosePageFor(w, r, choices) }
}

func choosePageFor(w http.ResponseWriter, r *http.Request, choices []choice) {
	q := r.URL.Query()
	back := q.Get("return_to")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.Contains(back, `\`) {
		back = "/"
	}
	d := struct {
		Title, ReturnTo string
		LoggedOut       bool
		Choices         []choice
	}{"Log in to the shop", back, q.Has("logged_out"), choices}
	render(w, http.StatusOK, choosePage, d)
}

var logoutPage = newPage(`
<h1>{{.Title}}</h1>
{{if .LoggedIn}}
<p>You will be logged out of this shop on this device.</p>
<form method="post" action="/logout"><button type="submit" id="logout" class="primary">Log out</button></form>
<p class="small"><a href="/">Stay logged in</a></p>
{{else}}
<p>You are not logged in.</p>
<ul class="actions"><li><a class="button primary" href="/login">Log in</a></li><li><a class="button" href="/">Back to the shop</a></li></ul>
{{end}}`)

// logoutForm answers GET /logout with a page that asks to confirm: a GET
// never logs out (any page could embed one), the form's POST does.
func logoutForm(w http.ResponseWriter, r *http.Request) {
	_, loggedIn := sso.TokenFromContext(r.Context())
	title := "Log out?"
	if !loggedIn {
		title = "You're logged out"
	}
	render(w, http.StatusOK, logoutPage, struct {
		Title    string
		LoggedIn bool
	}{title, loggedIn})
}

var problemPage = newPage(`
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<ul class="actions"><li><a class="button primary" href="/">Back to the shop</a></li></ul>`)

type problem struct{ Title, Message string }

// withPages answers what mux has no route for with the example's own
// pages: 404 for an unknown path, 405 (with Allow) for a known path asked
// with another method. API clients get JSON.
func withPages(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allow = append(allow, m)
			}
		}
		status := http.StatusNotFound
		p := problem{"We can't find that page", "The link may be old, or the address mistyped."}
		if len(allow) > 0 {
			status = http.StatusMethodNotAllowed
			p = problem{"This page can't be used that way", "Please go back to the shop and use its buttons and links."}
			w.Header().Set("Allow", strings.Join(allow, ", "))
		}
		if !acceptsHTML(r) {
			code := "not_found"
			if status == http.StatusMethodNotAllowed {
				code = "method_not_allowed"
			}
			writeJSON(w, status, map[string]string{"error": code})
			return
		}
		render(w, status, problemPage, struct{ Title, Message string }{p.Title, p.Message})
	})
}

// acceptsHTML reports whether the client lists text/html in Accept.
func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// render writes a page; the template is executed into memory first so a
// failure is a 500, not half a page.
func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// meResponse is what /me tells about the customer: never a raw token.
type meResponse struct {
	Provider  string         `json:"provider"`
	Subject   string         `json:"subject"`
	Scopes    []string       `json:"scopes"`
	ExpiresAt time.Time      `json:"expires_at"`
	Claims    map[string]any `json:"claims"`
	IDClaims  map[string]any `json:"id_claims,omitempty"`
}

// me answers the logged-in customer's provider, subject, claims and expiry.
func me(w http.ResponseWriter, r *http.Request) {
	tok, _ := sso.TokenFromContext(r.Context())
	resp := meResponse{Provider: tok.Provider, Scopes: tok.Scopes, ExpiresAt: tok.Expiry}
	if c, ok := sso.ClaimsFromContext(r.Context()); ok {
		resp.Subject, resp.Claims = c.Subject(), c.Map()
	}
	if c, ok := sso.IDClaimsFromContext(r.Context()); ok {
		resp.Subject, resp.IDClaims = c.Subject(), c.Map()
	}
	writeJSON(w, http.StatusOK, resp)
}

// whoami fetches (once, then from cache) a Multicart service token through
// client credentials and answers its subject and expiry — never the token.
func (a *app) whoami(w http.ResponseWriter, r *http.Request) {
	if a.service == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "service_credentials_not_configured"})
		return
	}
	tok, err := a.service.Token()
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "provider_unavailable"})
		return
	}
	resp := map[string]any{"expires_at": tok.Expiry.UTC().Format(time.RFC3339)}
	if c, err := sso.ParseClaims(tok.AccessToken); err == nil {
		resp["subject"] = c.Subject()
		resp["expires_at"] = c.Expiry().UTC().Format(time.RFC3339)
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
