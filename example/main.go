// Command example is a runnable shop app that logs customers in through
// Istores and Multicart with shopsso.
//
//	go run ./example
//
// With no provider configured in the environment it starts, in the same
// process, the ssotest stand-in for both providers (which logs anyone in
// without a password: development only, and it says so in the log) and
// prints the URL to open. With one provider configured, only that one is
// served; a provider with only some of its variables stops the start.
// Environment:
//
//	ADDR                      listen address (default 127.0.0.1:8080; port 0 picks a free one)
//	BASE_URL                  public URL used to build redirect URIs (default from ADDR); plain http only on loopback
//	INSECURE_COOKIE           1: allow a plain-http BASE_URL off loopback (the session cookie is then not Secure)
//	ISTORES_CLIENT_ID         use the real (or given) Istores; needs ISTORES_CLIENT_SECRET
//	ISTORES_CLIENT_SECRET
//	ISTORES_AUTH_URL          default https://nova.istores.co.il/oauth/authorize
//	ISTORES_TOKEN_URL         default https://nova.istores.co.il/oauth/token
//	MULTICART_CLIENT_ID       use the real (or given) Multicart; needed by any other MULTICART_ variable
//	MULTICART_CLIENT_SECRET   for the Admin API's client-credentials token
//	MULTICART_SERVICE_CLIENT_ID      a separate confidential client for that token (default: MULTICART_CLIENT_ID)
//	MULTICART_SERVICE_CLIENT_SECRET  its secret (default: MULTICART_CLIENT_SECRET)
//	MULTICART_AUTH_PARAMS     extra authorize parameters as a query string, e.g. prompt=consent
//	                          (a standard OpenID provider grants offline_access, so a refresh
//	                          token, only with it: OIDC Core §11)
//	MULTICART_AUTH_URL        default https://identity.multicartshop.com/
//	MULTICART_TOKEN_URL       default https://identity.multicartshop.com/api/connect/token
//	MULTICART_ISSUER          expected ID-token issuer (default: discovery's, else any URL on the token URL's origin; see README)
//	MULTICART_JWKS_URL        verify ID-token signatures with this key set (default: discovery's jwks_uri; see README),
//	                          also for the access tokens of GET /api/me
//	MULTICART_API_AUDIENCE    "aud" of the access tokens GET /api/me accepts (default multicart.api)
//	MULTICART_LOGOUT_AT_PROVIDER=1  log out of Multicart too (RP-initiated logout; register
//	                          BASE_URL/logout/return there); always on with the stand-in
//	REDIS_URL                 keep sessions in Redis (redis://127.0.0.1:6379/0) so instances share them
//	DATABASE_URL              or in PostgreSQL (postgres://user:pass@host/db); the sessions table is created when missing
//	SESSION_KEYS              seal sessions at rest: comma-separated base64 keys of 32 bytes, the current one first
//	                          (openssl rand -base64 32); a warning at start when a shared store has none
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	settings, err := settingsFromEnv(os.Getenv)
	if err == nil {
		err = run(ctx, settings, logger, func(url string) {
			fmt.Printf("shopsso example: open %s\n", url)
		})
	}
	if err != nil {
		logger.Error("example stopped", "err", err)
		os.Exit(1)
	}
}
