package main

// Real-browser tests: headless Chromium, driven with chromedp, logs in to the
// example through the embedded stand-in's approval pages, as a customer
// would. Without Chromium they skip, or fail with SHOPSSO_REQUIRE_EXTERNAL=1;
// see browser_harness_test.go for the harness and its environment.
//
//	go test -race -run Browser -v ./example/

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"
)

// approveButton is the stand-in's Approve button, found by its text as a
// customer finds it: the first button of the approval page.
const approveButton = chromedp.Search(`//form//button[normalize-space(.)="Approve"]`)

func TestBrowserLoginIstores(t *testing.T) {
	testBrowserLogin(t, "istores", "Istores")
}

func TestBrowserLoginMulticart(t *testing.T) {
	testBrowserLogin(t, "multicart", "Multicart")
}

// testBrowserLogin logs in from the home page's link for provider, checks
// who the home page says is logged in, logs out, and checks that /me then
// offers the choice of provider again.
func testBrowserLogin(t *testing.T, provider, title string) {
	b := newBrowser(t)

	b.do("opening the home page",
		chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-"+provider)),
	)
	b.do("following the "+title+" login link",
		chromedp.Click(chromedp.ID("login-"+provider)),
		chromedp.WaitVisible(approveButton),
	)
	b.expectApprovalPage("the login link", title)

	b.do("approving",
		chromedp.Click(approveButton),
		chromedp.WaitVisible(chromedp.ID("subject")),
	)
	if u := b.location("after approving"); u.String() != b.base+"/" {
		t.Errorf("after approving the browser is at %s, want the home page %s/", u, b.base)
	}
	if got := b.text("after approving", "#subject"); got != "customer-1" {
		t.Errorf("#subject = %q, want customer-1", got)
	}
	if got := b.text("after approving", "#provider"); got != provider {
		t.Errorf("#provider = %q, want %s", got, provider)
	}
	b.keepForFailure("logged-in")

	// Logging out ends on the page where the customer chooses a provider.
	b.do("logging out",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("choose-istores")),
		chromedp.WaitVisible(chromedp.ID("choose-multicart")),
	)
	if got := b.text("after logging out", "#logged-out"); got != "You have logged out of the shop." {
		t.Errorf("after logging out #logged-out = %q, want %q", got, "You have logged out of the shop.")
	}

	// /me answers JSON only with a login: this browser is offered the
	// choice of provider again.
	b.do("opening /me after logging out",
		chromedp.Navigate(b.base+"/me"),
		chromedp.WaitVisible(chromedp.ID("choose-"+provider)),
		chromedp.Click(chromedp.ID("choose-"+provider)),
		chromedp.WaitVisible(approveButton),
	)
	b.expectApprovalPage("/me after logging out", title)
}

func TestBrowserProtectedPageComesBack(t *testing.T) {
	b := newBrowser(t)

	b.do("opening /me without a login",
		chromedp.Navigate(b.base+"/me"),
		chromedp.WaitVisible(chromedp.ID("choose-istores")),
		chromedp.Click(chromedp.ID("choose-istores")),
		chromedp.WaitVisible(approveButton),
	)
	b.expectApprovalPage("/me without a login", "Istores")

	// Chromium shows a JSON document as text in a <pre>.
	b.do("approving",
		chromedp.Click(approveButton),
		chromedp.WaitVisible(chromedp.CSS("body pre")),
	)
	if u := b.location("after approving"); u.String() != b.base+"/me" {
		t.Errorf("after approving the browser is at %s, want %s/me", u, b.base)
	}
	ctype, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.contentType`))
	if err != nil {
		t.Fatalf("reading the content type: %v", err)
	}
	if ctype != "application/json" {
		t.Errorf("/me content type = %q, want application/json", ctype)
	}
	body := b.text("after approving", "body pre")
	var me struct {
		Subject  string `json:"subject"`
		Provider string `json:"provider"`
	}
	if err := json.Unmarshal([]byte(body), &me); err != nil {
		t.Fatalf("/me is not JSON: %v\n%s", err, body)
	}
	if me.Subject != "customer-1" || me.Provider != "istores" {
		t.Errorf("/me = subject %q provider %q, want customer-1 through istores\n%s", me.Subject, me.Provider, body)
	}
}

// expectApprovalPage checks that the browser shows the stand-in's approval
// page for the provider titled title, on the stand-in and not on the app.
func (b *browser) expectApprovalPage(step, title string) {
	b.t.Helper()
	u := b.location(step)
	if u.Scheme+"://"+u.Host == b.base {
		b.t.Errorf("%s: the approval page is on the app (%s), want the stand-in", step, u)
	}
	if got := b.text(step, "h1"); got != title {
		b.t.Errorf("%s: approval page heading = %q, want %q (page %s)", step, got, title, u)
	}
}
