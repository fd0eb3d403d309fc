package api

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// Redacted replaces a secret (a payment token) in everything the API shows.
const Redacted = "[redacted]"

// minSecretLen is the shortest payment token also removed from free text (reasons,
// timeline details): shorter ones would mangle ordinary words.
const minSecretLen = 4

// privacy decides what of a saga's data leaves podium. It is applied in one place,
// Service.detail, which builds every view of one saga, of any type: the JSON of GET
// /orders/{id} and GET /sagas/{id}, the saga pages and their live fragments, and the DAGs.
// Summaries (lists, the dashboard, the server-sent events) carry no personal data: ID,
// type, status, amounts, step counts and the machine reason only.
//
// Rules, for the saga's input (an OrderPlaced, a ReturnRequested, ...) and the step results
// alike, at any depth of the JSON:
//   - a value under a key containing "token" (payment.token, card_token, ...) is always
//     replaced by [Redacted], and the saga's payment token (the input's payment.token) is
//     removed from every string, reasons and timeline details included;
//   - unless showPersonal: an "email" (or "*_email") is masked to its first character and
//     its domain (a***@example.com), and an "address" (or "*_address", e.g.
//     shipping_address, pickup_address) is reduced to its city and country.
//
// A document that is not JSON is not shown at all.
type privacy struct {
	showPersonal bool
}

// saga redacts what Service.detail shows of one saga, in place: the summary's reason, the
// saga state (its input, step results and reasons) and the timeline. st and history are
// the caller's copies; their JSON documents are replaced, never modified.
func (p privacy) saga(sum *Summary, st *saga.State, history []events.TimelineEntry) {
	secret := paymentToken(st.Input)
	text := func(s string) string { return scrub(s, secret) }
	if len(st.Input) > 0 {
		st.Input = p.document(st.Input, secret)
	}
	sum.Reason = text(sum.Reason)
	st.Reason = text(st.Reason)
	for _, ss := range st.Steps {
		if ss == nil {
			continue
		}
		if len(ss.Result) > 0 {
			ss.Result = p.document(ss.Result, secret)
		}
		ss.Do.Reason, ss.Undo.Reason = text(ss.Do.Reason), text(ss.Undo.Reason)
	}
	for i := range history {
		history[i].Detail = text(history[i].Detail)
	}
}

// scrubSnapshot removes a saga's payment token from the free text of its snapshot as the
// read model takes it in: the saga's and the steps' reasons, the step results and a
// format-1 history. The summaries (lists, the dashboard, the server-sent events) show the
// saga's reason.
func scrubSnapshot(js *snapshotJSON, secret string) {
	if len(secret) < minSecretLen {
		return
	}
	js.Reason = scrub(js.Reason, secret)
	for _, st := range js.Steps {
		if st == nil {
			continue
		}
		st.Do.Reason, st.Undo.Reason = scrub(st.Do.Reason, secret), scrub(st.Undo.Reason, secret)
		if bytes.Contains(st.Result, []byte(secret)) {
			st.Result = bytes.ReplaceAll(st.Result, []byte(secret), []byte(Redacted))
		}
	}
	for i := range js.History {
		js.History[i].Detail = scrub(js.History[i].Detail, secret)
	}
}

// paymentToken is the payment token of a saga's input (an OrderPlaced's or a
// ReturnRequested's payment.token), "" if it has none.
func paymentToken(input json.RawMessage) string {
	var in struct {
		Payment struct {
			Token string `json:"token"`
		} `json:"payment"`
	}
	if len(input) == 0 || json.Unmarshal(input, &in) != nil {
		return ""
	}
	return in.Payment.Token
}

// scrub removes secret from s.
func scrub(s, secret string) string {
	if len(secret) < minSecretLen || !strings.Contains(s, secret) {
		return s
	}
	return strings.ReplaceAll(s, secret, Redacted)
}

// document is a JSON document with the rules of privacy applied; nil when raw is not JSON.
func (p privacy) document(raw json.RawMessage, secret string) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep amounts and IDs exactly as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	out, err := json.Marshal(p.value("", v, secret))
	if err != nil {
		return nil
	}
	return out
}

// value applies the rules to v, found under key ("" at the top or in an array).
func (p privacy) value(key string, v any, secret string) any {
	k := strings.ToLower(key)
	if strings.Contains(k, "token") && v != nil {
		return Redacted // whatever its type
	}
	switch x := v.(type) {
	case string:
		if !p.showPersonal && (k == "email" || strings.HasSuffix(k, "_email")) {
			return MaskEmail(x)
		}
		return scrub(x, secret)
	case map[string]any:
		if !p.showPersonal && (k == "address" || strings.HasSuffix(k, "_address")) {
			return reduceAddress(x)
		}
		for name, child := range x {
			x[name] = p.value(name, child, secret)
		}
		return x
	case []any:
		for i, child := range x {
			x[i] = p.value(key, child, secret)
		}
		return x
	}
	return v
}

// reduceAddress keeps an address's city and country: enough to see where an order goes.
func reduceAddress(a map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"city", "country"} {
		if s, ok := a[k].(string); ok {
			out[k] = s
		}
	}
	return out
}

// MaskEmail keeps the first character of the local part and the domain:
// MaskEmail("ada@example.com") = "a***@example.com". Anything that is not an address
// becomes "***".
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 {
		return "***"
	}
	first := []rune(email[:at])[0]
	return string(first) + "***" + email[at:]
}
