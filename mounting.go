package sso

import (
	"context"

	"github.com/shopsso/sso/sessioncodec"
)

// sessionLoaded reports, as [ErrSessionNotLoaded], a handler of this
// package that runs outside the session manager's LoadAndSave — a mounting
// mistake that scs itself answers with a panic naming neither this package
// nor the fix.
//
// Its probe is the one session call every handler needs first anyway:
// dropping the codec's rewrite marker, so a session the codec would store
// differently now (unsealed, or in an older format) is saved again at the
// end of the request. (Each scs call costs an allocation; this keeps the
// hot path at one call fewer than a separate probe.)
func (a *Auth) sessionLoaded(ctx context.Context) (err error) {
	defer func() {
		if recover() != nil {
			err = fail(ErrSessionNotLoaded, "wrap the handler, or the whole router, in the scs session manager's LoadAndSave "+
				"(sm.LoadAndSave(mux)); see the package documentation of github.com/shopsso/sso", nil)
		}
	}()
	a.cfg.Sessions.Remove(ctx, sessioncodec.RewriteKey) // panics without session data in ctx
	return nil
}
