// Package ginsso runs net/http middleware, such as sso's Auth.Require, in a
// Gin handler chain.
//
// Gin has no adapter for func(http.Handler) http.Handler middleware, and the
// obvious one-liner, gin.WrapH(m(noop)), has two faults:
//
//   - Gin runs every handler of the chain unless one calls c.Abort. A
//     middleware that answers the request itself — Require redirecting a
//     browser to log in, or answering 401 — does not call its next handler,
//     but Gin does not know that and runs the protected handler anyway, on a
//     response that has already been written.
//   - Values the middleware puts into the request context (the login that
//     [github.com/shopsso/sso.TokenFromContext] and ClaimsFromContext read)
//     live in the request it passes to its next handler, never in
//     c.Request, which is what Gin handlers read.
//
// [Middleware] fixes both. Mount the handlers (Auth.Login,
// Auth.Callback, Auth.Logout) with gin.WrapH: they answer the request and
// have no next handler to call.
//
// Run the whole engine inside the session manager's LoadAndSave:
//
//	r := gin.New()
//	r.GET("/auth/istores/login", gin.WrapH(auth.Login("istores")))
//	account := r.Group("/account", ginsso.Middleware(auth.Require))
//	account.GET("/me", me) // sso.ClaimsFromContext(c.Request.Context())
//	http.ListenAndServe(addr, sm.LoadAndSave(r)) // Gin needs no scsflush.KeepCookie
package ginsso

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Middleware adapts m to a Gin handler. It runs m with a next handler that
// sets c.Request to the request m passes on (so context values m adds reach
// the Gin handlers after it) and runs the rest of the chain with c.Next.
// When m answers the request without calling next, Middleware calls c.Abort,
// so the handlers after it do not run.
//
// Gin handlers keep writing to c.Writer: a middleware that passes its next
// handler a wrapped ResponseWriter (to compress or buffer the response, say)
// is not suited to this adapter. sso's middleware passes the writer on
// unchanged.
func Middleware(m func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		called := false
		m(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			called = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !called {
			c.Abort()
		}
	}
}
