package ginsso_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"

	"github.com/shopsso/sso/frameworks/ginsso"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

type ctxKey struct{}

// callsThrough passes the request on with a context value, and notes what
// runs after the rest of the chain.
func callsThrough(trace *[]string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*trace = append(*trace, "middleware")
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "customer-1")))
			*trace = append(*trace, "middleware after")
		})
	}
}

// answers refuses the request itself, as Require does without a login.
func answers(trace *[]string) func(http.Handler) http.Handler {
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*trace = append(*trace, "middleware")
			http.Error(w, "login required", http.StatusUnauthorized)
		})
	}
}

// naive is the adapter ginsso.Middleware replaces: it neither aborts nor
// passes the request on.
func naive(m func(http.Handler) http.Handler) gin.HandlerFunc {
	return gin.WrapH(m(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
}

func TestMiddleware(t *testing.T) {
	tests := []struct {
		name       string
		adapt      func(func(http.Handler) http.Handler) gin.HandlerFunc
		middleware func(trace *[]string) func(http.Handler) http.Handler
		wantStatus int
		wantTrace  []string
		wantValue  any
	}{
		{"calls through", ginsso.Middleware, callsThrough, http.StatusOK,
			[]string{"middleware", "handler", "middleware after"}, "customer-1"},
		{"answers itself", ginsso.Middleware, answers, http.StatusUnauthorized,
			[]string{"middleware"}, nil},
		// Controls: the naive adapter runs the protected handler after the
		// middleware has refused the request, and loses context values.
		{"naive adapter, answers itself", naive, answers, http.StatusUnauthorized,
			[]string{"middleware", "handler"}, nil},
		{"naive adapter, calls through", naive, callsThrough, http.StatusOK,
			[]string{"middleware", "middleware after", "handler"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var trace []string
			var value any
			r := gin.New()
			r.GET("/account", tt.adapt(tt.middleware(&trace)), func(c *gin.Context) {
				trace = append(trace, "handler")
				value = c.Request.Context().Value(ctxKey{})
				c.String(http.StatusOK, "secret")
			})
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/account", nil))
			assert.Equal(t, tt.wantStatus, rec.Code)
			assert.Equal(t, tt.wantTrace, trace)
			assert.Equal(t, tt.wantValue, value)
		})
	}
}

func TestMiddlewareAbortsTheRestOfTheChain(t *testing.T) {
	var trace []string
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		trace = append(trace, fmt.Sprint("outer after, aborted=", c.IsAborted()))
	})
	g := r.Group("/account", ginsso.Middleware(answers(&trace)))
	g.Use(func(c *gin.Context) { trace = append(trace, "inner middleware") })
	g.GET("/me", func(c *gin.Context) { trace = append(trace, "handler") })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/account/me", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, []string{"middleware", "outer after, aborted=true"}, trace)
}
