// Package echoapp is an Echo v4 app that logs customers in with sso.
//
// The Echo instance is an http.Handler; it runs inside the session manager's
// LoadAndSave, not the other way round. Mounted as Echo middleware
// (echo.WrapMiddleware(sm.LoadAndSave)), LoadAndSave saves the session when
// the handler returns — and a handler that returns an error has not written
// its response yet: Echo's error handler writes it afterwards, through scs's
// writer, which saves the session a second time and sends a second
// Set-Cookie. Outside Echo, LoadAndSave sees one response, written once.
//
// Inside Echo, [sso.Auth.Require] is adapted with echo.WrapMiddleware, which
// stops the chain when Require does not call through and hands the handler
// the request carrying the login; the sso handlers are mounted with
// echo.WrapHandler.
package echoapp

import (
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	sso "github.com/shopsso/sso"
	"github.com/shopsso/sso/providers/istores"
	"github.com/shopsso/sso/providers/multicart"
	"github.com/shopsso/sso/scsflush"
)

// New returns the app's handler: the Echo instance wrapped in sm.LoadAndSave,
// and in [scsflush.KeepCookie] so that a streaming handler that flushes before
// writing (c.Response().Flush()) still sends the session cookie.
func New(auth *sso.Auth, sm *scs.SessionManager) http.Handler {
	return newHandler(auth, sm, nil)
}

// newHandler is New; more, if not nil, adds routes to the protected group
// (tests add probes there).
func newHandler(auth *sso.Auth, sm *scs.SessionManager, more func(*echo.Group)) http.Handler {
	return sm.LoadAndSave(scsflush.KeepCookie(newEcho(auth, sm, more)))
}

// newEcho returns the Echo instance of newHandler, without the session
// middleware.
func newEcho(auth *sso.Auth, sm *scs.SessionManager, more func(*echo.Group)) *echo.Echo {
	e := echo.New()
	for _, p := range []string{istores.Name, multicart.Name} {
		e.GET("/auth/"+p+"/login", echo.WrapHandler(auth.Login(p)))
		e.GET("/auth/"+p+"/callback", echo.WrapHandler(auth.Callback(p)))
	}
	e.POST("/logout", echo.WrapHandler(auth.Logout()))

	g := e.Group("/account", echo.WrapMiddleware(auth.Require))
	g.GET("/me", func(c echo.Context) error {
		return c.JSON(http.StatusOK, me(c, sm))
	})
	g.POST("/visits", func(c echo.Context) error {
		ctx := c.Request().Context()
		sm.Put(ctx, "visits", sm.GetInt(ctx, "visits")+1)
		return c.JSON(http.StatusOK, me(c, sm))
	})
	g.POST("/cart", func(c echo.Context) error {
		// A session change followed by an error: Echo's error handler
		// writes the response, and the session is saved once.
		sm.Put(c.Request().Context(), "flash", "Your cart could not be saved.")
		return echo.NewHTTPError(http.StatusConflict, "cart changed elsewhere")
	})
	if more != nil {
		more(g)
	}
	return e
}

// account is the body of /account/me and /account/visits.
type account struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Visits   int    `json:"visits"`
	Flash    string `json:"flash,omitempty"`
}

// me reads the login that auth.Require put into the request context.
func me(c echo.Context, sm *scs.SessionManager) account {
	ctx := c.Request().Context()
	a := account{Visits: sm.GetInt(ctx, "visits"), Flash: sm.GetString(ctx, "flash")}
	if tok, ok := sso.TokenFromContext(ctx); ok {
		a.Provider = tok.Provider
	}
	if cl, ok := sso.ClaimsFromContext(ctx); ok {
		a.Subject = cl.Subject()
	}
	return a
}
