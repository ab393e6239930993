package sso

import (
	"bytes"
	"html/template"
	"net/http"
)

// ErrorPage is what an error page tells a customer. It is the data
// [Config.ErrorTemplate] is executed with; every field is one of this
// package's fixed strings or a configured path, never text from an error or
// a provider, so a template may print any of them.
type ErrorPage struct {
	// Status is the HTTP status of the answer, e.g. 400 (see [StatusCode]).
	Status int
	// Title is the page's heading in plain words, e.g. "We couldn't log
	// you in".
	Title string
	// Message is one or two sentences: what happened and what to do.
	Message string
	// Code is the machine-readable code API clients get as {"error": Code},
	// e.g. "login_failed"; for a template that wants to vary by kind.
	Code string
	// Declined reports that the customer declined at the provider (pressed
	// Deny): see [ErrAccessDenied]. Nothing went wrong; the page should not
	// say it did.
	Declined bool
	// RetryURL is where a "try again" link goes: [Config.LoginPath] when
	// it is set, else "/". Empty when trying again cannot help (a refused
	// method, a cross-site request, a missing scope, a login the
	// application rejected).
	RetryURL string
	// HomeURL is the shop's home page, "/".
	HomeURL string
}

// errorPage returns the page for err, with RetryURL pointing at loginPath
// (or "/" when it is empty).
func errorPage(err error, loginPath string) ErrorPage {
	ans := describe(err)
	p := ErrorPage{
		Status:   ans.status,
		Title:    ans.title,
		Message:  ans.message,
		Code:     ans.code,
		Declined: ans.declined,
		HomeURL:  "/",
	}
	if ans.retry {
		p.RetryURL = loginPath
		if p.RetryURL == "" {
			p.RetryURL = "/"
		}
	}
	return p
}

// defaultErrorTemplate is the page [DefaultErrorHandler] shows browsers:
// self-contained (inline CSS, no images, fonts or scripts, so it renders
// under any Content-Security-Policy that allows inline styles and when
// the shop's assets are down), readable on a phone, light or dark.
var defaultErrorTemplate = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--text:#1d2330;--muted:#5b6476;--accent:#2f5bd3;--accent-text:#fff;--line:#e3e6ec}
@media (prefers-color-scheme:dark){:root{--bg:#15181e;--card:#1e232c;--text:#e8ebf1;--muted:#a3abbb;--accent:#7c9cf5;--accent-text:#10131a;--line:#2d3440}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1.5rem;background:var(--bg);color:var(--text);font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:100%;max-width:30rem;background:var(--card);border:1px solid var(--line);border-radius:14px;padding:2rem 1.75rem;box-shadow:0 6px 24px rgba(16,24,40,.08)}
.mark{width:3rem;height:3rem;border-radius:50%;display:flex;align-items:center;justify-content:center;font-size:1.5rem;font-weight:700;margin-bottom:1rem;background:var(--line);color:var(--muted)}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem}
p{margin:0 0 1.5rem;color:var(--muted)}
.actions{display:flex;flex-wrap:wrap;gap:.75rem}
a.button{display:inline-block;padding:.7rem 1.25rem;border-radius:8px;text-decoration:none;font-weight:600;text-align:center;flex:1 1 auto}
a.primary{background:var(--accent);color:var(--accent-text)}
a.secondary{border:1px solid var(--line);color:var(--text)}
a.button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
</style>
</head>
<body>
<main>
<div class="mark" aria-hidden="true">{{if .Declined}}&#8617;{{else}}!{{end}}</div>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<div class="actions">
{{- if .RetryURL}}
<a class="button primary" href="{{.RetryURL}}">{{if .Declined}}Choose how to log in{{else}}Try again{{end}}</a>
{{- end}}
{{- if ne .RetryURL .HomeURL}}
<a class="button {{if .RetryURL}}secondary{{else}}primary{{end}}" href="{{.HomeURL}}">Back to the shop</a>
{{- end}}
</div>
</main>
</body>
</html>
`))

// writeErrorPage answers with page rendered by tmpl, or with the default
// template's page when tmpl fails (a broken shop template must not turn an
// error page into an empty 200).
func writeErrorPage(w http.ResponseWriter, tmpl *template.Template, page ErrorPage) error {
	var buf bytes.Buffer
	err := tmpl.Execute(&buf, page)
	if err != nil {
		buf.Reset()
		if derr := defaultErrorTemplate.Execute(&buf, page); derr != nil {
			return derr
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(page.Status)
	_, _ = w.Write(buf.Bytes())
	return err
}
