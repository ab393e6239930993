package main

// Screenshots of the pages a customer sees when a login does not go
// through, and of the page where they choose a provider, on a phone-sized
// and a desktop-sized viewport, in headless Chromium. Each page is checked
// for what makes it readable on a phone (no sideways scrolling, text at
// least 16 CSS pixels, the viewport meta honoured) and saved as a PNG to
// SHOPSSO_ARTIFACTS (default testdata/artifacts):
//
//	SHOPSSO_ARTIFACTS=/tmp/shots go test -run Screenshots -v ./example/

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// denyButton is the stand-in's Deny button on its approval page.
const denyButton = chromedp.Search(`//form//button[normalize-space(.)="Deny"]`)

// viewport is a screen size a customer may use.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
}

var screenshotViewports = []viewport{
	{name: "phone", width: 390, height: 844, scale: 2, mobile: true},
	{name: "desktop", width: 1280, height: 800, scale: 1},
}

func TestScreenshotsOfCustomerPages(t *testing.T) {
	pages := []struct {
		name  string
		title string // the page's h1
		open  func(b *browser) []chromedp.Action[chromedp.Void]
	}{
		{"error", "We couldn't log you in", func(b *browser) []chromedp.Action[chromedp.Void] {
			return []chromedp.Action[chromedp.Void]{chromedp.Navigate(b.base + "/auth/multicart/callback?state=forged&code=x")}
		}},
		{"declined", "You didn't log in", func(b *browser) []chromedp.Action[chromedp.Void] {
			return []chromedp.Action[chromedp.Void]{
				chromedp.Navigate(b.base + "/auth/multicart/login"),
				chromedp.WaitVisible(denyButton),
				chromedp.Click(denyButton),
				// The stand-in's page has an h1 too: wait until it is gone.
				chromedp.WaitNotPresent(denyButton),
			}
		}},
		{"chooser", "Log in to the shop", func(b *browser) []chromedp.Action[chromedp.Void] {
			return []chromedp.Action[chromedp.Void]{chromedp.Navigate(b.base + "/me")}
		}},
		{"not-found", "We can't find that page", func(b *browser) []chromedp.Action[chromedp.Void] {
			return []chromedp.Action[chromedp.Void]{chromedp.Navigate(b.base + "/no-such-page")}
		}},
	}
	b := newBrowser(t)
	for _, vp := range screenshotViewports {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(vp.scale)}
		if vp.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		b.do("emulating a "+vp.name, chromedp.EmulateViewport(vp.width, vp.height, opts...))
		for _, p := range pages {
			step := vp.name + " " + p.name
			b.do(step, append(p.open(b), chromedp.WaitVisible(chromedp.CSS("h1")))...)
			// A click that navigates (Deny) returns before the next page
			// is shown: the h1 found may still be the previous page's.
			// Poll for the expected one, with a deadline.
			h1 := func() string { // "" while the page is being replaced
				s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("h1"), chromedp.NodeVisible))
				if err != nil {
					return ""
				}
				return strings.TrimSpace(s)
			}
			got := h1()
			for deadline := time.Now().Add(10 * time.Second); got != p.title && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
				got = h1()
			}
			if got != p.title {
				t.Errorf("%s: h1 = %q, want %q", step, got, p.title)
			}
			sideways, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](
				`document.documentElement.scrollWidth > document.documentElement.clientWidth`))
			if err != nil {
				t.Fatalf("%s: measuring: %v", step, err)
			}
			if sideways {
				t.Errorf("%s: the page scrolls sideways", step)
			}
			font, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](
				`parseFloat(getComputedStyle(document.querySelector("p")).fontSize)`))
			if err != nil {
				t.Fatalf("%s: reading the font size: %v", step, err)
			}
			if font < 16 {
				t.Errorf("%s: text is %.1fpx, want at least 16", step, font)
			}
			if vp.mobile {
				width, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`window.innerWidth`))
				if err != nil {
					t.Fatalf("%s: reading the width: %v", step, err)
				}
				if width != float64(vp.width) {
					t.Errorf("%s: layout width %v, want %d (is the viewport meta missing?)", step, width, vp.width)
				}
			}
			png, err := b.screenshot()
			if err != nil {
				t.Fatalf("%s: screenshot: %v", step, err)
			}
			saveArtifact(t, vp.name+"-"+strings.ReplaceAll(p.name, " ", "-")+".png", png)
		}
	}
}
