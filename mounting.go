package sso

import "context"

// sessionLoaded reports, as [ErrSessionNotLoaded], a handler of this
// package that runs outside the session manager's LoadAndSave — a mounting
// mistake that scs itself answers with a panic naming neither this package
// nor the fix.
func (a *Auth) sessionLoaded(ctx context.Context) (err error) {
	defer func() {
		if recover() != nil {
			err = fail(ErrSessionNotLoaded, "wrap the handler, or the whole router, in the scs session manager's LoadAndSave "+
				"(sm.LoadAndSave(mux)); see the package documentation of github.com/shopsso/sso", nil)
		}
	}()
	a.cfg.Sessions.Token(ctx) // panics without session data in ctx
	return nil
}
