package main

import (
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	sso "github.com/shopsso/sso"
)

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shopsso example</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}a,button{font-size:1rem}</style>
</head><body>
<h1>shopsso example shop</h1>
{{if .LoggedIn}}
<p id="who">Logged in as <strong id="subject">{{.Subject}}</strong> through <strong id="provider">{{.Provider}}</strong>.</p>
<p>Your token expires at {{.Expiry}}. See <a href="/me">/me</a> for what the app knows.</p>
<form method="post" action="/logout"><button type="submit" id="logout">Log out</button></form>
{{else}}
<p id="who">You are not logged in.</p>
<ul>
<li><a id="login-istores" href="/auth/istores/login">Log in with Istores</a></li>
<li><a id="login-multicart" href="/auth/multicart/login">Log in with Multicart</a></li>
</ul>
<p>The protected page <a href="/me">/me</a> asks you to log in first.</p>
{{end}}
</body></html>
`))

type homeData struct {
	LoggedIn                  bool
	Subject, Provider, Expiry string
}

// home shows who is logged in and how to log in or out.
func home(w http.ResponseWriter, r *http.Request) {
	var d homeData
	if tok, ok := sso.TokenFromContext(r.Context()); ok {
		d.LoggedIn, d.Provider = true, tok.Provider
		d.Expiry = tok.Expiry.Format(time.RFC1123)
		if c, ok := sso.IDClaimsFromContext(r.Context()); ok {
			d.Subject = c.Subject()
		} else if c, ok := sso.ClaimsFromContext(r.Context()); ok {
			d.Subject = c.Subject()
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = homePage.Execute(w, d)
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
