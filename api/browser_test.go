package api

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// findChromium returns a Chromium or Chrome binary: $PODIUM_CHROMIUM, else the first of
// the usual names on PATH. The test skips when there is none (CI installs Debian's
// chromium, see .ci/run).
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PODIUM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: no chromium binary found (install Debian's chromium: apt-get install -y chromium, or set PODIUM_CHROMIUM)")
	return ""
}

// screenshotDir is where the screenshots go: $PODIUM_ARTIFACTS, else
// $TMPDIR/podium-screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PODIUM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "podium-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("creating %s: %v", dir, err)
	}
	return dir
}

// pageErrors collects JavaScript exceptions, console errors and browser log errors (CSP
// violations, failed loads) of a tab.
type pageErrors struct {
	mu   sync.Mutex
	errs []string
}

func (p *pageErrors) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		msg = "console.error"
		for _, a := range e.Args {
			msg += " " + string(a.Value) + a.Description
		}
	case *log.EventEntryAdded:
		if e.Entry.Level != log.EntryLevelError {
			return
		}
		msg = fmt.Sprintf("log %s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL)
	default:
		return
	}
	p.mu.Lock()
	p.errs = append(p.errs, msg)
	p.mu.Unlock()
}

// discard forgets what was reported so far (an expected failure, such as a 401).
func (p *pageErrors) discard() {
	p.mu.Lock()
	p.errs = nil
	p.mu.Unlock()
}

func (p *pageErrors) check(t *testing.T, when string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errs {
		t.Errorf("%s: browser reported %s", when, e)
	}
	p.errs = nil
}

// browser is a headless Chromium tab with the helpers the browser tests share; each
// action is bounded on its own (see chromedp.Run).
type browser struct {
	t     *testing.T
	ctx   context.Context
	perrs pageErrors
	dir   string
}

// newBrowser starts Chromium at path; it stops when the test ends.
func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1440, 1000),
	)...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, dir: screenshotDir(t)}
	if err := chromedp.Listen(ctx, b.perrs.listen); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return b
}

func (b *browser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, scancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer scancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	sctx, scancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer scancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func (b *browser) shot(name string) {
	b.t.Helper()
	sctx, scancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer scancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("writing %s: %v", path, err)
	}
	b.t.Logf("screenshot: %s", path)
}

func (b *browser) poll(what, expr string) {
	b.t.Helper()
	b.step(what+": "+expr, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// TestDashboardInBrowser drives the dashboard in headless Chromium against a read model
// fed from a kfake changelog holding snapshots and timeline records made by the real saga
// engine, of orders and of returns.
func TestDashboardInBrowser(t *testing.T) {
	browser := findChromium(t)
	kc := newCluster(t, 3)
	at := time.Now().UTC().Add(-time.Minute)
	var initial []*saga.State
	runs := []*sagaRun{
		runCompleted(t, "ord-done-1", at),
		runCompleted(t, "ord-done-2", at.Add(time.Second)),
		runPending(t, "ord-waiting", at.Add(2*time.Second)),
		runDeclined(t, "ord-declined-1", at.Add(3*time.Second)),
		runCancelled(t, "ord-cancelled-1", at.Add(4*time.Second)),
		runFailed(t, "ord-failed-1", at.Add(5*time.Second)),
		runReturnRefunded(t, "ret-done-1", at.Add(6*time.Second)),
		runReturnRejected(t, "ret-rejected-1", at.Add(7*time.Second)),
	}
	for _, r := range runs {
		initial = append(initial, r.snaps...)
	}
	writeTimelines(t, kc, runs...)
	writeSnapshots(t, kc, initial...)
	s, base := startService(t, Config{Kafka: kc}, nil)
	select {
	case <-s.Restored():
	case <-time.After(30 * time.Second):
		t.Fatal("read model not restored within 30s")
	}

	b := newBrowser(t, browser)
	step, eval, shot, poll, perrs := b.step, b.eval, b.shot, b.poll, &b.perrs

	// The dashboard: counts, live connection, tables filled by script.
	step("loading the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-count="order/completed"]`)))
	poll("the live stream", `document.getElementById('live').textContent === 'live'`)
	poll("the recent sagas table", `document.querySelectorAll('#recent-orders tbody tr').length === 8`)
	poll("the failed sagas table", `document.querySelector('#failed-orders tbody tr[data-saga-id="ord-failed-1"]') !== null`)
	for key, want := range map[string]string{"order/completed": "2", "order/cancelled": "2", "order/failed": "1", "order/pending": "1",
		"order/total": "6", "returns/refunded": "1", "returns/rejected": "1", "returns/requested": "0", "returns/total": "2", "total": "8"} {
		if got := eval(`document.querySelector('[data-count="` + key + `"]').textContent`); got != want {
			t.Errorf("dashboard count of %s: got %s, want %s", key, got, want)
		}
	}
	if got := eval(`document.querySelector('#recent-orders tbody tr[data-saga-id="ret-rejected-1"] td.type').textContent`); got != "returns" {
		t.Errorf("the type of a return in the recent sagas: got %q, want returns", got)
	}
	if got := eval(`document.querySelector('#recent-orders tbody tr[data-saga-id="ret-rejected-1"] a').getAttribute('href')`); got != "/ui/sagas/ret-rejected-1" {
		t.Errorf("the link of a return in the recent sagas: got %q, want /ui/sagas/ret-rejected-1", got)
	}
	shot("dashboard-before")

	// More snapshots: three more completed orders and the waiting one completes.
	var more []*saga.State
	for i := 3; i <= 5; i++ {
		r := runCompleted(t, fmt.Sprintf("ord-done-%d", i), time.Now().UTC())
		writeTimelines(t, kc, r)
		more = append(more, r.snaps...)
	}
	waiting := runCompleted(t, "ord-waiting", at.Add(2*time.Second))
	waiting.records, waiting.snaps = waiting.records[1:], waiting.snaps[1:] // the first ones are already there
	writeTimelines(t, kc, waiting)
	more = append(more, waiting.snaps...)
	writeSnapshots(t, kc, more...)
	poll("the completed count to change", `document.querySelector('[data-count="order/completed"]').textContent === '6'`)
	poll("the pending count to drop", `document.querySelector('[data-count="order/pending"]').textContent === '0'`)
	poll("the total", `document.querySelector('[data-count="total"]').textContent === '11'`)
	poll("the throughput", `parseFloat(document.querySelector('[data-rate="completed"]').textContent) > 0`)
	poll("the recent table to show a new order", `document.querySelector('#recent-orders tbody tr[data-saga-id="ord-done-5"]') !== null`)
	shot("dashboard-after")
	perrs.check(t, "dashboard")

	// Open the cancelled orders, then the cancelled order.
	step("opening the cancelled orders", chromedp.Click(chromedp.CSS(`a.tile[data-type="order"][data-status="cancelled"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#order-list`)))
	if n := eval(`String(document.querySelectorAll('#order-list tbody tr[data-order-id]').length)`); n != "2" {
		t.Errorf("cancelled orders listed: got %s, want 2", n)
	}
	shot("orders-cancelled")
	step("opening the cancelled order", chromedp.Click(chromedp.CSS(`a.order-link[href="/ui/orders/ord-cancelled-1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.saga-diagram`)))
	if got := eval(`document.querySelector('.order-head .badge').textContent`); got != "cancelled" {
		t.Errorf("order status badge: got %q, want cancelled", got)
	}
	compensated := eval(`[...document.querySelectorAll('svg.saga-diagram g.step[data-state="compensated"]')].map(g => g.dataset.step).sort().join(',')`)
	if want := "assign-delivery,authorize-payment,prepare-shipment,reserve-inventory"; compensated != want {
		t.Errorf("DAG steps drawn compensated: got %q, want %q", compensated, want)
	}
	if n := eval(`String(document.querySelectorAll('svg.saga-diagram g.undo[data-undo-state="compensated"]').length)`); n != "4" {
		t.Errorf("DAG compensation strips drawn compensated: got %s, want 4", n)
	}
	if got := eval(`document.querySelector('svg.saga-diagram g.node.compensated').classList.contains('reached') ? 'yes' : 'no'`); got != "yes" {
		t.Errorf("DAG compensated node reached: got %s, want yes", got)
	}
	timeline := eval(`[...document.querySelectorAll('#timeline li .kind')].map(k => k.textContent).join('|')`)
	for _, want := range []string{"started", "milestone", "cancel", "compensating", "compensation sent", "compensated"} {
		if !strings.Contains("|"+timeline+"|", "|"+want+"|") {
			t.Errorf("timeline: got %q, want a %q entry", timeline, want)
		}
	}
	if got := eval(`getComputedStyle(document.querySelector('#steps tr[data-step="reserve-inventory"] .state')).color`); got != "rgb(123, 79, 201)" {
		t.Errorf("compensated state colour in the steps table: got %s, want purple rgb(123, 79, 201)", got)
	}
	if got := eval(`[...document.querySelectorAll('#actions button')].filter(b => !b.hidden).map(b => b.dataset.action).join(',')`); got != "" {
		t.Errorf("actions offered for a cancelled order: got %q, want none", got)
	}
	shot("order-cancelled")
	perrs.check(t, "order page")

	// An order page follows its order live.
	live := runApproved(t, "ord-live", time.Now().UTC())
	writeMessages(t, kc, timelineMessage(t, live.records[0]))
	writeSnapshots(t, kc, live.snaps[0])
	step("opening a pending order", chromedp.Navigate(base+"/ui/orders/ord-live"), chromedp.WaitVisible(chromedp.CSS(`svg.saga-diagram`)))
	poll("the live stream", `document.getElementById('live').textContent === 'live'`)
	live.records, live.snaps = live.records[1:], live.snaps[1:]
	writeTimelines(t, kc, live)
	writeSnapshots(t, kc, live.snaps...)
	poll("the order page to show approved", `document.querySelector('.order-live').dataset.status === 'approved'`)
	if got := eval(`[...document.querySelectorAll('#actions button')].filter(b => !b.hidden).map(b => b.dataset.action).join(',')`); got != "cancel" {
		t.Errorf("actions offered for an approved order: got %q, want cancel", got)
	}
	if got := eval(`document.querySelector('svg.saga-diagram g.milestone').classList.contains('reached') ? 'yes' : 'no'`); got != "yes" {
		t.Errorf("approved milestone after the live update: got reached %s, want yes", got)
	}
	shot("order-live-approved")
	perrs.check(t, "live order page")

	// A rejected return: its page has its DAG and its timeline.
	step("opening the rejected returns", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`a.tile[data-type="returns"][data-status="rejected"]`)),
		chromedp.Click(chromedp.CSS(`a.tile[data-type="returns"][data-status="rejected"]`)), chromedp.WaitVisible(chromedp.CSS(`#saga-list`)))
	if n := eval(`String(document.querySelectorAll('#saga-list tbody tr[data-saga-id]').length)`); n != "1" {
		t.Errorf("rejected returns listed: got %s, want 1", n)
	}
	shot("sagas-returns-rejected")
	step("opening the rejected return", chromedp.Click(chromedp.CSS(`a.order-link[href="/ui/sagas/ret-rejected-1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.saga-diagram`)))
	if got := eval(`document.querySelector('.order-head .badge').textContent`); got != "rejected" {
		t.Errorf("return status badge: got %q, want rejected", got)
	}
	compensated = eval(`[...document.querySelectorAll('svg.saga-diagram g.step[data-state="compensated"]')].map(g => g.dataset.step).sort().join(',')`)
	if want := "refund-payment,schedule-pickup"; compensated != want {
		t.Errorf("return DAG steps drawn compensated: got %q, want %q", compensated, want)
	}
	timeline = eval(`[...document.querySelectorAll('#timeline li .kind')].map(k => k.textContent).join('|')`)
	for _, want := range []string{"started", "milestone", "compensating", "compensated"} {
		if !strings.Contains("|"+timeline+"|", "|"+want+"|") {
			t.Errorf("return timeline: got %q, want a %q entry", timeline, want)
		}
	}
	shot("return-rejected")

	// A return's page follows it live: requested, then picked up, and offers a cancel.
	ret := runReturnPickedUp(t, "ret-live", time.Now().UTC())
	writeMessages(t, kc, timelineMessage(t, ret.records[0]))
	writeSnapshots(t, kc, ret.snaps[0])
	step("opening a requested return", chromedp.Navigate(base+"/ui/go?id=ret-live"), chromedp.WaitVisible(chromedp.CSS(`svg.saga-diagram`)))
	if got := eval(`location.pathname`); got != "/ui/sagas/ret-live" {
		t.Errorf("going to a return: got %s, want /ui/sagas/ret-live", got)
	}
	poll("the live stream", `document.getElementById('live').textContent === 'live'`)
	ret.records, ret.snaps = ret.records[1:], ret.snaps[1:]
	writeTimelines(t, kc, ret)
	writeSnapshots(t, kc, ret.snaps...)
	poll("the return page to show picked-up", `document.querySelector('.order-live').dataset.status === 'picked-up'`)
	if got := eval(`[...document.querySelectorAll('#actions button')].filter(b => !b.hidden).map(b => b.dataset.action).join(',')`); got != "cancel" {
		t.Errorf("actions offered for a picked-up return: got %q, want cancel", got)
	}
	if got := eval(`document.querySelector('svg.saga-diagram g.milestone').classList.contains('reached') ? 'yes' : 'no'`); got != "yes" {
		t.Errorf("picked-up milestone after the live update: got reached %s, want yes", got)
	}
	shot("return-live-picked-up")
	perrs.check(t, "return pages")
}

// TestDashboardLoginInBrowser: with a token, the dashboard starts at the login page;
// logging in with the token shows the orders, live, without a payment token or the
// customers' personal data anywhere in the pages.
func TestDashboardLoginInBrowser(t *testing.T) {
	path := findChromium(t)
	kc := newCluster(t, 3)
	at := time.Now().UTC().Add(-time.Minute)
	runs := []*sagaRun{
		runCompleted(t, "ord-done-1", at),
		runPending(t, "ord-waiting", at.Add(time.Second)),
		runDeclined(t, "ord-declined-1", at.Add(2*time.Second)),
	}
	var snaps []*saga.State
	for _, r := range runs {
		snaps = append(snaps, r.snaps...)
	}
	writeTimelines(t, kc, runs...)
	writeSnapshots(t, kc, snaps...)
	s, base := startService(t, Config{Kafka: kc, Token: testToken}, nil)
	select {
	case <-s.Restored():
	case <-time.After(30 * time.Second):
		t.Fatal("read model not restored within 30s")
	}
	// What the pages must never show: the orders' payment token (placedJSON), the
	// customer's email and street.
	secrets := []string{"tok_visa", "ada@example.com", "1 Main St"}
	br := newBrowser(t, path)
	checkPage := func(what string) {
		t.Helper()
		html := br.eval(`document.documentElement.outerHTML`)
		for _, secret := range secrets {
			if strings.Contains(html, secret) {
				t.Errorf("%s: the page shows %q", what, secret)
			}
		}
	}
	br.step("opening the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
	if got := br.eval(`location.pathname + location.search`); got != "/login?next=%2F" {
		t.Errorf("without a session: got %s, want the login page /login?next=%%2F", got)
	}
	br.shot("login")
	br.step("logging in with a wrong token", chromedp.SendKeys(chromedp.CSS(`#token`), "wrong"),
		chromedp.Submit(chromedp.CSS(`#login-form`)), chromedp.WaitVisible(chromedp.CSS(`#login-error`)))
	br.perrs.discard() // the login page answers a wrong token with 401
	br.step("logging in", chromedp.SendKeys(chromedp.CSS(`#token`), testToken),
		chromedp.Submit(chromedp.CSS(`#login-form`)), chromedp.WaitVisible(chromedp.CSS(`[data-count="order/completed"]`)))
	br.poll("the live stream", `document.getElementById('live').textContent === 'live'`)
	br.poll("the recent orders table", `document.querySelectorAll('#recent-orders tbody tr').length === 3`)
	if got := br.eval(`document.cookie`); got != "" {
		t.Errorf("document.cookie: got %q, want nothing (the session cookie is HttpOnly)", got)
	}
	checkPage("dashboard")
	br.shot("dashboard-logged-in")

	br.step("opening an order", chromedp.Navigate(base+"/ui/orders/ord-waiting"), chromedp.WaitVisible(chromedp.CSS(`svg.saga-diagram`)))
	placed := br.eval(`document.querySelector('pre.json').textContent`)
	for _, want := range []string{`"token": "[redacted]"`, `"email": "a***@example.com"`, `"city": "Berlin"`} {
		if !strings.Contains(placed, want) {
			t.Errorf("OrderPlaced on the order page: got %s, want %s", placed, want)
		}
	}
	checkPage("order page")
	br.step("opening the order's JSON", chromedp.Navigate(base+"/orders/ord-waiting"))
	checkPage("order JSON")
	br.perrs.check(t, "logged-in pages")

	br.step("logging out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`form.logout`)),
		chromedp.Submit(chromedp.CSS(`form.logout`)), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
	br.step("opening the dashboard again", chromedp.Navigate(base+"/ui/orders"), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
}
