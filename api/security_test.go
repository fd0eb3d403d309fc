package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/returns"
	"github.com/podiumhq/podium/orchestrator/saga"
)

const testToken = "s3cret-api-token"

// serveTest serves s's handler on a local port until the test ends, ending its event
// streams first.
func serveTest(t *testing.T, s *Service) string {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.closeStreams()
		srv.Close()
	})
	return srv.URL
}

// openStream opens /events; the caller closes the body.
func openStream(t *testing.T, ctx context.Context, base string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	return resp
}

func TestTokenGuardsEveryEndpointButProbesAndMetrics(t *testing.T) {
	s, _ := newTestService(t, func(c *Config) { c.Token = testToken })
	s.model.SetReady()
	h := s.Handler()
	bearer := "Bearer " + testToken

	guarded := []string{"/orders", "/orders?status=failed", "/orders/ord-completed", "/orders/ord-completed/dag.svg",
		"/saga/diagram.svg", "/", "/ui/orders", "/ui/orders/ord-completed", "/ui/orders/ord-completed/live", "/ui/saga",
		"/ui/go?id=ord-completed", "/events", "/sagas", "/sagas?type=returns", "/sagas/ret-refunded", "/sagas/ret-refunded/dag.svg",
		"/saga/diagram.svg?definition=returns", "/ui/sagas", "/ui/sagas/ret-refunded", "/ui/sagas/ret-refunded/live"}
	for _, target := range guarded {
		// An API client without credentials: 401 with a JSON error.
		r := do(t, h, "GET", target, nil, "Accept", "application/json")
		var eb ErrorBody
		if r.code != http.StatusUnauthorized || json.Unmarshal(r.body, &eb) != nil || eb.Error == "" {
			t.Errorf("GET %s without credentials: got %d %s, want 401 with a JSON error", target, r.code, r.body)
		}
		if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("GET %s without credentials: got WWW-Authenticate %q, want Bearer", target, got)
		}
		// A browser without a session: the login page, coming back afterwards.
		r = do(t, h, "GET", target, nil, "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		if want := "/login?next=" + url.QueryEscape(target); r.code != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("GET %s from a browser without a session: got %d to %q, want 303 to %q", target, r.code, r.header.Get("Location"), want)
		}
		if target == "/events" {
			continue // a stream: checked below on a server
		}
		if r := do(t, h, "GET", target, nil, "Authorization", bearer); r.code >= 400 {
			t.Errorf("GET %s with the bearer token: got %d %s, want success", target, r.code, r.body)
		}
		if r := do(t, h, "GET", target, nil, "Authorization", "Bearer "+testToken+"x"); r.code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: got %d, want 401", target, r.code)
		}
	}
	for _, target := range []string{"/healthz", "/readyz", "/metrics", "/login", "/static/style.css", "/static/favicon.svg", "/favicon.ico"} {
		if r := do(t, h, "GET", target, nil, "Accept", "text/html"); r.code != http.StatusOK {
			t.Errorf("GET %s without credentials: got %d, want 200 (public)", target, r.code)
		}
	}
	if r := do(t, h, "GET", "/favicon.ico", nil); r.code != http.StatusOK || !strings.Contains(string(r.body), "<svg") {
		t.Errorf("GET /favicon.ico: got %d %.80q, want the dashboard's SVG icon", r.code, r.body)
	}

	base := serveTest(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := openStream(t, ctx, base)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /events without credentials: got %d, want 401", resp.StatusCode)
	}
	resp = openStream(t, ctx, base, "Authorization", bearer)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("GET /events with the bearer token: got %d %s, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestDashboardLoginSession(t *testing.T) {
	s, pub := newTestService(t, func(c *Config) { c.Token = testToken })
	h := s.Handler()
	form := func(v url.Values, header ...string) response {
		t.Helper()
		return do(t, h, "POST", "/login", []byte(v.Encode()), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
	}

	r := do(t, h, "GET", "/login?next=/ui/orders", nil)
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `name="token"`) || !strings.Contains(string(r.body), `value="/ui/orders"`) {
		t.Fatalf("login page: got %d %s, want 200 with the form", r.code, r.body)
	}
	r = form(url.Values{"token": {"wrong"}, "next": {"/ui/orders"}})
	if r.code != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" || !strings.Contains(string(r.body), "Wrong token") {
		t.Errorf("login with a wrong token: got %d cookie %q, want 401 without a cookie", r.code, r.header.Get("Set-Cookie"))
	}

	r = form(url.Values{"token": {testToken}, "next": {"/ui/orders?status=failed"}})
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/ui/orders?status=failed" {
		t.Fatalf("login: got %d to %q, want 303 back to /ui/orders?status=failed", r.code, r.header.Get("Location"))
	}
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login: got cookies %v, want one", cookies)
	}
	c := cookies[0]
	if c.Name != sessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 {
		t.Errorf("session cookie: got %+v, want %s, HttpOnly, SameSite=Strict, Path=/, a MaxAge", c, sessionCookie)
	}
	if strings.Contains(c.Value, testToken) {
		t.Errorf("session cookie %q holds the token", c.Value)
	}
	withCookie := func(v string) []string { return []string{"Cookie", sessionCookie + "=" + v} }

	for _, target := range []string{"/", "/ui/orders/ord-failed", "/orders", "/orders/ord-failed"} {
		if r := do(t, h, "GET", target, nil, withCookie(c.Value)...); r.code != http.StatusOK {
			t.Errorf("GET %s with the session: got %d, want 200", target, r.code)
		}
	}
	r = do(t, h, "POST", "/orders/ord-failed/retry", nil, withCookie(c.Value)...)
	if r.code != http.StatusAccepted || len(pub.messages()) != 1 {
		t.Errorf("retry with the session: got %d and %d records, want 202 and one", r.code, len(pub.messages()))
	}
	for name, v := range map[string]string{
		"a forged signature": strings.SplitN(c.Value, ".", 2)[0] + ".AAAA",
		"a longer expiry":    "99999999999." + strings.SplitN(c.Value, ".", 2)[1],
		"the token itself":   testToken,
		"empty":              "",
	} {
		if r := do(t, h, "GET", "/orders", nil, withCookie(v)...); r.code != http.StatusUnauthorized {
			t.Errorf("GET /orders with %s as session: got %d, want 401", name, r.code)
		}
	}
	// The session ends after its lifetime.
	s.guard.now = func() time.Time { return time.Now().Add(SessionLifetime + time.Minute) }
	if r := do(t, h, "GET", "/orders", nil, withCookie(c.Value)...); r.code != http.StatusUnauthorized {
		t.Errorf("GET /orders with an expired session: got %d, want 401", r.code)
	}
	s.guard.now = time.Now

	// The login page only sends back to this server.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout"} {
		r := form(url.Values{"token": {testToken}, "next": {next}})
		if r.code != http.StatusSeeOther || r.header.Get("Location") != "/" {
			t.Errorf("login with next %q: got %d to %q, want 303 to /", next, r.code, r.header.Get("Location"))
		}
	}
	// A cross-site login form is refused.
	if r := form(url.Values{"token": {testToken}}, "Origin", "https://evil.example"); r.code != http.StatusForbidden {
		t.Errorf("login from another origin: got %d, want 403", r.code)
	}

	r = do(t, h, "POST", "/logout", nil, append(withCookie(c.Value), "Content-Type", "application/x-www-form-urlencoded")...)
	out := (&http.Response{Header: r.header}).Cookies()
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/login" || len(out) != 1 || out[0].Name != sessionCookie || out[0].MaxAge >= 0 {
		t.Errorf("logout: got %d to %q cookies %v, want 303 to /login clearing %s", r.code, r.header.Get("Location"), out, sessionCookie)
	}
	if r := do(t, h, "GET", "/", nil, withCookie(c.Value)...); !strings.Contains(string(r.body), `action="/logout"`) {
		t.Errorf("dashboard with a token: no logout form")
	}
}

// Personal data of the orders and returns of TestNoPaymentTokenLeaves.
const (
	secretToken    = "tok_S3CRET-9f3c2a7b"
	secretEmail    = "jane.doe@example.com"
	maskedEmail    = "j***@example.com"
	secretStreet   = "42 Hidden Lane"
	secretName     = "Jane Doe"
	secretPostCode = "7Q4-ZX9"
)

func secretPlaced(t testing.TB, id string) json.RawMessage {
	t.Helper()
	return mustJSON(t, events.OrderPlaced{
		OrderID:  id,
		Customer: events.Customer{ID: "cus-9", Email: secretEmail},
		SellerID: "sel-3",
		Currency: "EUR",
		Items:    []events.Item{{SKU: "SKU-RED-1", Quantity: 1, UnitPrice: 500}},
		Total:    500,
		Payment:  events.Payment{Token: secretToken},
		ShippingAddress: events.Address{Name: secretName, Line1: secretStreet, City: "Lyon",
			PostalCode: secretPostCode, Country: "FR"},
	})
}

func secretRequested(t testing.TB, id string) json.RawMessage {
	t.Helper()
	return mustJSON(t, events.ReturnRequested{
		ReturnID: id,
		OrderID:  "sec-completed",
		Customer: events.Customer{ID: "cus-9", Email: secretEmail},
		Currency: "EUR",
		Items:    []events.Item{{SKU: "SKU-RED-1", Quantity: 1, UnitPrice: 500}},
		Refund:   500,
		Payment:  events.Payment{Token: secretToken},
		PickupAddress: events.Address{Name: secretName, Line1: secretStreet, City: "Lyon",
			PostalCode: secretPostCode, Country: "FR"},
	})
}

// secretRuns are sagas of orders with secretPlaced as input and of returns with
// secretRequested as input, in several states; workers that echo the token in a result
// and in a reason, and an operator who pasted it in a cancel reason, included.
func secretRuns(t *testing.T, at time.Time) []*sagaRun {
	t.Helper()
	start := func(id string) *sagaRun {
		r := &sagaRun{t: t, d: testDefinition, now: at}
		r.apply(saga.StartInput(id, secretPlaced(t, id), 7, ""))
		return r
	}
	echo := func(r *sagaRun, step string) {
		r.apply(saga.ReplyInput(r.s.Steps[step].Do.CommandID, step, saga.ReplySuccess, "",
			json.RawMessage(`{"authorization_id":"auth-1","card_token":"`+secretToken+`","payment":{"token":"`+secretToken+`"}}`)))
	}

	pending := start("sec-pending")
	completed := start("sec-completed").ok(order.StepReserveInventory)
	echo(completed, order.StepAuthorizePayment)
	completed.ok(order.StepPrepareShipment, order.StepAssignDelivery, order.StepSendConfirmation)
	declined := start("sec-declined").ok(order.StepReserveInventory)
	declined.reply(order.StepAuthorizePayment, false, saga.ReplyFailure, "card_declined: "+secretToken)
	cancelled := start("sec-cancelled").ok(order.StepReserveInventory)
	echo(cancelled, order.StepAuthorizePayment)
	cancelled.apply(saga.CancelInput("customer called, card " + secretToken))

	refunded := newReturnRun(t, "sec-ret-refunded", at, secretRequested(t, "sec-ret-refunded")).ok(returns.StepSchedulePickup, returns.StepRestock)
	refunded.apply(saga.ReplyInput(refunded.s.Steps[returns.StepRefundPayment].Do.CommandID, returns.StepRefundPayment, saga.ReplySuccess, "",
		json.RawMessage(`{"refund_id":"ref-1","token":"`+secretToken+`"}`)))
	refunded.ok(returns.StepSendRefundNotice)
	declinedReturn := newReturnRun(t, "sec-ret-declined", at, secretRequested(t, "sec-ret-declined")).ok(returns.StepSchedulePickup, returns.StepRestock)
	declinedReturn.reply(returns.StepRefundPayment, false, saga.ReplyFailure, "refund_declined: "+secretToken)
	cancelledReturn := newReturnRun(t, "sec-ret-cancelled", at, secretRequested(t, "sec-ret-cancelled"))
	cancelledReturn.apply(saga.CancelInput("refund to " + secretToken + " please"))
	return []*sagaRun{pending, completed, declined, cancelled, refunded, declinedReturn, cancelledReturn}
}

// applyRuns feeds runs to s as the orchestrator would have written them.
func applyRuns(t *testing.T, s *Service, runs ...*sagaRun) {
	t.Helper()
	for _, r := range runs {
		for i, snap := range r.snaps {
			if tl := r.records[i]; len(tl.Entries) > 0 {
				s.applyEvent(timelineMessage(t, tl))
			}
			s.apply(kafkago.Message{Key: []byte(snap.SagaID), Value: mustJSON(t, snap)})
		}
	}
}

func TestNoPaymentTokenLeaves(t *testing.T) {
	for _, show := range []bool{false, true} {
		name := "personal data masked"
		if show {
			name = "personal data shown"
		}
		t.Run(name, func(t *testing.T) {
			s, _ := newTestService(t, func(c *Config) { c.ShowPersonalData = show })
			s.model.SetReady()
			base := serveTest(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// The stream is opened first: the orders then arrive as changes.
			stream := openStream(t, ctx, base)
			defer stream.Body.Close()
			runs := secretRuns(t, t0.Add(time.Hour))
			applyRuns(t, s, runs...)

			var bodies []string
			add := func(target string, body []byte) {
				bodies = append(bodies, target+"\n"+string(body))
			}
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.s.SagaID)
			}
			targets := []string{"/", "/orders", "/orders?status=cancelled", "/orders?status=pending", "/ui/orders",
				"/ui/orders?status=cancelled", "/ui/saga", "/metrics", "/sagas", "/sagas?type=returns", "/sagas?status=rejecting",
				"/ui/sagas", "/ui/sagas?type=returns"}
			for _, id := range ids {
				targets = append(targets, "/sagas/"+id, "/sagas/"+id+"/dag.svg", "/ui/sagas/"+id, "/ui/sagas/"+id+"/live")
				if !strings.HasPrefix(id, "sec-ret-") {
					targets = append(targets, "/orders/"+id, "/orders/"+id+"/dag.svg", "/ui/orders/"+id, "/ui/orders/"+id+"/live")
				}
			}
			for _, target := range targets {
				r := do(t, s.Handler(), "GET", target, nil)
				if r.code != http.StatusOK {
					t.Errorf("GET %s: got %d, want 200", target, r.code)
				}
				add(target, r.body)
			}

			// The event stream, until it has listed every order.
			rd := &sseReader{sc: bufio.NewScanner(stream.Body)}
			rd.sc.Buffer(nil, 1<<20)
			seen := map[string]bool{}
			for len(seen) < len(ids) {
				event, data, err := rd.next()
				if err != nil {
					t.Fatalf("reading /events: %v (orders seen: %v)", err, seen)
				}
				add("/events "+event, data)
				if event == "orders" {
					var oe OrdersEvent
					if err := json.Unmarshal(data, &oe); err != nil {
						t.Fatal(err)
					}
					for _, o := range oe.Orders {
						seen[o.SagaID] = true
					}
				}
			}

			// The payment token never; the rest only when shown.
			secrets := []string{secretToken}
			if !show {
				secrets = append(secrets, secretEmail, secretStreet, secretName, secretPostCode)
			}
			for _, b := range bodies {
				for _, secret := range secrets {
					if i := strings.Index(b, secret); i >= 0 {
						target, _, _ := strings.Cut(b, "\n")
						t.Errorf("%s: the answer holds %q: …%s…", target, secret, b[max(0, i-80):min(len(b), i+80)])
					}
				}
			}

			// What the detail shows of the order instead.
			var d OrderDetail
			do(t, s.Handler(), "GET", "/orders/sec-pending", nil).json(t, &d)
			var placed events.OrderPlaced
			if err := json.Unmarshal(d.Order, &placed); err != nil {
				t.Fatalf("order: %s: %v", d.Order, err)
			}
			wantEmail, wantAddr := maskedEmail, events.Address{City: "Lyon", Country: "FR"}
			if show {
				wantEmail, wantAddr = secretEmail, events.Address{Name: secretName, Line1: secretStreet, City: "Lyon",
					PostalCode: secretPostCode, Country: "FR"}
			}
			if placed.Payment.Token != Redacted || placed.Customer.Email != wantEmail || placed.ShippingAddress != wantAddr ||
				placed.Total != 500 || placed.Items[0].SKU != "SKU-RED-1" {
				t.Errorf("order: got %s, want the token redacted, email %s and address %+v", d.Order, wantEmail, wantAddr)
			}
			do(t, s.Handler(), "GET", "/orders/sec-completed", nil).json(t, &d)
			for _, st := range d.Steps {
				var res struct {
					AuthorizationID string `json:"authorization_id"`
					CardToken       string `json:"card_token"`
				}
				if st.Name == order.StepAuthorizePayment && (json.Unmarshal(st.Result, &res) != nil || res.AuthorizationID != "auth-1" || res.CardToken != Redacted) {
					t.Errorf("authorize-payment result: got %s, want the authorization ID kept and the token redacted", st.Result)
				}
			}

			// And of a return: its ReturnRequested, the refund's result.
			var ret SagaDetail
			do(t, s.Handler(), "GET", "/sagas/sec-ret-refunded", nil).json(t, &ret)
			var requested events.ReturnRequested
			if err := json.Unmarshal(ret.Input, &requested); err != nil {
				t.Fatalf("return: %s: %v", ret.Input, err)
			}
			if requested.Payment.Token != Redacted || requested.Customer.Email != wantEmail || requested.PickupAddress != wantAddr ||
				requested.Refund != 500 || requested.OrderID != "sec-completed" {
				t.Errorf("return: got %s, want the token redacted, email %s and pickup address %+v", ret.Input, wantEmail, wantAddr)
			}
			for _, st := range ret.Steps {
				var res struct {
					RefundID string `json:"refund_id"`
					Token    string `json:"token"`
				}
				if st.Name == returns.StepRefundPayment && (json.Unmarshal(st.Result, &res) != nil || res.RefundID != "ref-1" || res.Token != Redacted) {
					t.Errorf("refund-payment result: got %s, want the refund ID kept and the token redacted", st.Result)
				}
			}
		})
	}
}

func TestPrivacyRules(t *testing.T) {
	tests := []struct {
		name  string
		show  bool
		in    string
		want  string
		token string
	}{
		{"order masked", false,
			`{"customer":{"id":"c","email":"ada@example.com"},"payment":{"token":"tok_visa"},"total":3998,` +
				`"shipping_address":{"name":"Ada","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}}`,
			`{"customer":{"email":"a***@example.com","id":"c"},"payment":{"token":"[redacted]"},` +
				`"shipping_address":{"city":"Berlin","country":"DE"},"total":3998}`, "tok_visa"},
		{"order shown", true,
			`{"customer":{"email":"ada@example.com"},"payment":{"token":"tok_visa"},"shipping_address":{"line1":"1 Main St"}}`,
			`{"customer":{"email":"ada@example.com"},"payment":{"token":"[redacted]"},"shipping_address":{"line1":"1 Main St"}}`, "tok_visa"},
		{"tokens anywhere, any type", true, `{"a":[{"api_token":12},{"Token":{"x":1}}],"note":"paid with tok_visa"}`,
			`{"a":[{"api_token":"[redacted]"},{"Token":"[redacted]"}],"note":"paid with [redacted]"}`, "tok_visa"},
		{"other addresses and emails", false, `{"billing_address":{"city":"Paris","line1":"x"},"contact_email":"bob@x.org","email":"nope"}`,
			`{"billing_address":{"city":"Paris"},"contact_email":"b***@x.org","email":"***"}`, ""},
		{"big numbers kept exactly", false, `{"total":12345678901234567890}`, `{"total":12345678901234567890}`, ""},
		{"not JSON", true, `{"payment":{"token":"tok_visa"`, ``, "tok_visa"},
	}
	for _, tc := range tests {
		got := privacy{showPersonal: tc.show}.document(json.RawMessage(tc.in), tc.token)
		if string(got) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
	for in, want := range map[string]string{"ada@example.com": "a***@example.com", "é@x.fr": "é***@x.fr", "@x": "***", "x@": "***", "": "***"} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q): got %q, want %q", in, got, want)
		}
	}
}

func TestMutatingRequestsNeedJSONFromThisOrigin(t *testing.T) {
	s, pub := newTestService(t, func(c *Config) { c.AllowedOrigins = []string{"https://ops.example"} })
	h := s.Handler()
	// httptest.NewRequest's host is example.com.
	tests := []struct {
		name     string
		header   []string
		wantCode int
	}{
		{"json", nil, 202},
		{"json with a charset", []string{"Content-Type", "application/json; charset=utf-8"}, 202},
		{"text/plain", []string{"Content-Type", "text/plain"}, 415},
		{"a form", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"no content type", []string{"Content-Type", ""}, 415},
		{"another origin", []string{"Origin", "https://evil.example"}, 403},
		{"another origin as text/plain", []string{"Origin", "https://evil.example", "Content-Type", "text/plain"}, 403},
		{"a null origin", []string{"Origin", "null"}, 403},
		{"the same origin", []string{"Origin", "http://example.com"}, 202},
		{"an allowed origin", []string{"Origin", "https://ops.example"}, 202},
		{"a browser's cross-site request", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"a browser's same-site request", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://sub.example.com"}, 403},
		{"a browser's same-origin request", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"}, 202},
		{"a cross-site request from an allowed origin", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://ops.example"}, 202},
	}
	accepted := 0
	for _, target := range []string{"/orders/ord-pending/cancel", "/sagas/ret-requested/cancel"} {
		for _, tc := range tests {
			r := do(t, h, "POST", target, []byte(`{"reason":"test"}`), tc.header...)
			if r.code != tc.wantCode {
				t.Errorf("%s %s: got %d %s, want %d", target, tc.name, r.code, r.body, tc.wantCode)
			}
			var eb ErrorBody
			if r.code >= 400 && (json.Unmarshal(r.body, &eb) != nil || eb.Error == "") {
				t.Errorf("%s %s: got %s, want a JSON error", target, tc.name, r.body)
			}
			if tc.wantCode == 202 {
				accepted++
			}
		}
	}
	if n := len(pub.messages()); n != accepted {
		t.Errorf("got %d records published, want %d (the accepted requests)", n, accepted)
	}
	// Reads from anywhere are not affected.
	if r := do(t, h, "GET", "/orders", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.code != 200 {
		t.Errorf("cross-origin GET: got %d, want 200", r.code)
	}

	err := Config{Kafka: s.cfg.Kafka, AllowedOrigins: []string{"ops.example", "https://ops.example/path"}, MaxSSEClients: -1}.Validate()
	for _, want := range []string{`"ops.example"`, `"https://ops.example/path"`, "max SSE clients -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: got %v, want a problem naming %s", err, want)
		}
	}
}

func TestEventsStreamLimit(t *testing.T) {
	const limit = 2
	s, _ := newTestService(t, func(c *Config) { c.MaxSSEClients = limit })
	base := serveTest(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var open []*http.Response
	for range limit {
		resp := openStream(t, ctx, base)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d of %d: got %d, want 200", len(open)+1, limit, resp.StatusCode)
		}
		open = append(open, resp)
	}
	resp := openStream(t, ctx, base)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "--max-sse-clients") {
		t.Fatalf("stream %d: got %d Retry-After %q %s, want 503 with Retry-After", limit+1, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// A stream that ends frees its place.
	open[0].Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := openStream(t, ctx, base)
		if resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no place for a stream within 10s after one ended: last %d", resp.StatusCode)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestServerTimeouts(t *testing.T) {
	s, _ := newTestService(t, nil)
	srv := s.httpServer()
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.WriteTimeout <= publishTimeout {
		t.Fatalf("server timeouts: read header %s, read %s, write %s, idle %s; want all set, write above the publish timeout %s",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, publishTimeout)
	}

	// A stream outlives the write timeout: it sets a deadline per write.
	s.timeouts.write = 200 * time.Millisecond
	srv = s.httpServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		s.closeStreams()
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := openStream(t, ctx, "http://"+ln.Addr().String())
	defer resp.Body.Close()
	rd := &sseReader{sc: bufio.NewScanner(resp.Body)}
	start := time.Now()
	for n := 1; n <= 3; n++ { // at once, then one a second
		if event, _, err := rd.next(); err != nil || event != "stats" {
			t.Fatalf("stats event %d after %s: got %q (%v), want stats", n, time.Since(start).Round(time.Millisecond), event, err)
		}
	}
	if took := time.Since(start); took <= s.timeouts.write {
		t.Fatalf("three events in %s: the test proves nothing below the write timeout %s", took, s.timeouts.write)
	}
}
