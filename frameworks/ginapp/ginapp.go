// Package ginapp is a Gin app that logs customers in with sso.
//
// The Gin engine is an http.Handler and runs inside the session manager's
// LoadAndSave. [sso.Auth.Require] joins the chain through
// [ginsso.Middleware], which aborts the chain when Require answers the
// request itself (without that, Gin runs the protected handler anyway) and
// hands Gin handlers the request carrying the login. The sso handlers are
// mounted with gin.WrapH and gin.WrapF.
//
// Gin handlers must change the session before they write the response
// (c.JSON, c.String, c.Writer.Flush...): scs adds the session cookie when
// the header is written, and a change made after that is saved in the store
// under a session ID the browser may never receive.
package ginapp

import (
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/frameworks/ginsso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
)

// New returns the app's handler: the Gin engine wrapped in sm.LoadAndSave.
// (Gin needs no scsflush.KeepCookie: c.Writer.Flush writes the header, and with it
// the session cookie, through scs before it flushes.)
func New(auth *sso.Auth, sm *scs.SessionManager) http.Handler {
	return newHandler(auth, sm, nil)
}

// newHandler is New; more, if not nil, adds routes to the protected group
// (tests add probes there).
func newHandler(auth *sso.Auth, sm *scs.SessionManager, more func(*gin.RouterGroup)) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	for _, p := range []string{istores.Name, multicart.Name} {
		r.GET("/auth/"+p+"/login", gin.WrapH(auth.Login(p)))
		r.GET("/auth/"+p+"/callback", gin.WrapH(auth.Callback(p)))
	}
	r.POST("/logout", gin.WrapH(auth.Logout()))

	account := r.Group("/account", ginsso.Middleware(auth.Require))
	account.GET("/me", func(c *gin.Context) {
		c.JSON(http.StatusOK, me(c, sm))
	})
	account.POST("/visits", func(c *gin.Context) {
		ctx := c.Request.Context()
		sm.Put(ctx, "visits", sm.GetInt(ctx, "visits")+1) // before c.JSON writes
		c.JSON(http.StatusOK, me(c, sm))
	})
	if more != nil {
		more(account)
	}
	return sm.LoadAndSave(r)
}

// account is the body of /account/me and /account/visits.
type account struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Visits   int    `json:"visits"`
}

// me reads the login that auth.Require put into the request context;
// ginsso.Middleware made it c.Request.
func me(c *gin.Context, sm *scs.SessionManager) account {
	ctx := c.Request.Context()
	a := account{Visits: sm.GetInt(ctx, "visits")}
	if tok, ok := sso.TokenFromContext(ctx); ok {
		a.Provider = tok.Provider
	}
	if cl, ok := sso.ClaimsFromContext(ctx); ok {
		a.Subject = cl.Subject()
	}
	return a
}
