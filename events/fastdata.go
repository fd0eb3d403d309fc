package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/podiumhq/podium/schemas"
)

// The data fast path.
//
// The general way to check a record's data parses it into a generic document
// (jsonschema.UnmarshalJSON), runs the schema validator over that, and then parses it a
// second time into the type's payload (encoding/json), which the caller then had to parse a
// third time. For the data podium writes itself — every reply (reply.v1) and every built-in
// command — a fastDecoder does all of it in one pass: a hand-written check of each
// constraint of the type's schema (types, required members, lengths in characters, minimum
// and maximum, patterns, the email, currency and country formats) while it fills the typed
// payload, which Decode hands out as Envelope.Payload.
//
// A fastDecoder's answer is a verdict. valid means the general way accepts the data too
// (schema and payload decoding) and yields the same payload: Decode then uses the fast
// result. invalid means the general way rejects it; unsure means the check cannot judge
// exactly: a key with an escape or a non-ASCII byte, a key that only differs in case from a
// payload field (encoding/json would fill the field, the schema would not look at it), a
// duplicate member, an email with a quoted local part or an address literal, malformed or
// too deeply nested JSON. Decode takes every answer but valid the general way, which also
// words every error exactly as before: the fast path changes what Decode costs, never what
// it returns. fastdata_test.go runs every schema sample and a fuzz test through both ways
// and requires the same verdict whenever the fast check is sure, and the same payload.
//
// Untrusted inputs (orders.placed, returns.requested, control requests, registered types'
// own schemas) have no fastDecoder: they always go the general way.
//
// The rules are written for one version of each schema, identified by its SHA-256 (and
// that of defs.v1, whose building blocks they use): a schema file that changes switches its
// decoder off (and a test says so) until someone checks the rules and updates the hash.

// fastDataSchemaSHA256 holds the hashes of the schema files the fast decoders implement.
var fastDataSchemaSHA256 = map[string]string{
	"defs.v1":                                  "7dfa3085b87ca47aecaf4fcf802950343284fc8e9236c3eaf31a518b6da9a196",
	"reply.v1":                                 "ac5840f99f0bc873e79d3b2cbed1de267cdf67f45b609ddfcfed823c551ac51b",
	"inventory.reserve.v1":                     "7335d9fd9a8deee87de87c34bb3370f1c2df51ba805683a1f2ba01d811214a7f",
	"inventory.release.v1":                     "ca3398cd2babfd40d81aa5b3fcfcf868022d2822808bf22e858f4095ebd9175b",
	"inventory.restock.v1":                     "be9b1b149270ce42394fd21770e8ce145b61b64e3cfe88838e76e792e0680f79",
	"inventory.undo-restock.v1":                "58b6592ca015ecdae2a06915bdd8e4757dd688621c0f11903721f4dc914ba45e",
	"payment.authorize.v1":                     "1c2309929631e2553ac8127b241ea082dcd16ed46a1cdee66970bf00a1a28d39",
	"payment.void.v1":                          "9ddaaf8e050bc50333b1c71e4c72a04fd8200b4236a5b4d76341d20e383da4cf",
	"payment.refund.v1":                        "5595d797af601bcbb0c34202f93a8344c4a1bd4acace72b1baf485a2f5388300",
	"payment.cancel-refund.v1":                 "f42d1f921d5cf894aa231ef15881069b1920cc2de9ef0a9017f3adf254e4d84f",
	"seller.prepare-shipment.v1":               "7f344560f821855e4bd56844c91f69190232c8ec645478bd787c7a5ef836c42c",
	"seller.cancel-preparation.v1":             "adc5dbe87c63e968ec99023f7d1ab2151a0fa2015e46f24a7a27d0130c769b3b",
	"shipping.assign-delivery.v1":              "308e4c1d2e47bb00b354490e451edd2d0ffc99794800a78c175d58c93ea9d930",
	"shipping.cancel-delivery.v1":              "302ad396340d55caefe503fc411ffad4d47ad4811e95f35707e04365a7555099",
	"shipping.schedule-pickup.v1":              "4ebd3915ed2b52f6518d5afb1eb19faf703c6ea498f71f58188875c59b07fbac",
	"shipping.cancel-pickup.v1":                "bc36756a583a1a765762b8394ddf3158aa072f1541280a92a60f395e5ac2ae5d",
	"notification.send-confirmation.v1":        "c3f243cd0b5dda5596d0d116c64980c11cab0be6d14b5eecd09c082e0e91a36f",
	"notification.send-cancellation-notice.v1": "5d25adf07462d4d30e2c07eeded10acc521036f0f5052c9e111f29f2ec2b0401",
	"notification.send-refund-notice.v1":       "70973287c3b13d7315c663641e890ab077521c7b2c5911b7bb828cd460f9992c",
}

// fastData reports whether Decode uses the fast decoders (tests switch it off to compare).
var fastData = true

// fastDecoders are the decoders in force, by schema name: those of allFastDecoders whose
// schema (and defs.v1) has the hash the rules were written for.
var fastDecoders = enabledFastDecoders()

func enabledFastDecoders() map[string]fastDecoder {
	out := make(map[string]fastDecoder, len(allFastDecoders))
	if !schemaHashMatches("defs.v1") {
		return out
	}
	for name, d := range allFastDecoders {
		if schemaHashMatches(name) {
			out[name] = d
		}
	}
	return out
}

func schemaHashMatches(name string) bool {
	want, ok := fastDataSchemaSHA256[name]
	if !ok {
		return false
	}
	b, err := schemaFile(name)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) == want
}

// verdict is a fast decoder's judgement of some data.
type verdict uint8

const (
	unsure  verdict = iota // the general way must decide
	valid                  // the general way accepts it, with the same payload
	invalid                // the general way rejects it
)

func (v verdict) String() string {
	switch v {
	case valid:
		return "valid"
	case invalid:
		return "invalid"
	}
	return "unsure"
}

// fastDecoder reads the data of one schema into a new payload (a pointer) and returns it
// with the value of the member that must equal the envelope's subject ("" for replies).
// The payload and subject mean something only when the reader's verdict is valid.
type fastDecoder func(r *dataReader) (payload any, subject string)

// undoCommand is the fast decoder of a compensation's data: the saga's ID (member saga,
// required) and the ID of what the step did (member id, optional). fields returns a new
// payload's two fields, in that order.
func undoCommand[T any](saga, id string, fields func(p *T) (sagaID, doneID *string)) fastDecoder {
	names := []string{saga, id}
	return func(r *dataReader) (any, string) {
		p := new(T)
		sagaID, doneID := fields(p)
		r.object(names, 0b01, func(i int) {
			switch i {
			case 0:
				*sagaID = r.sagaID()
			case 1:
				*doneID = r.id()
			}
		})
		return p, *sagaID
	}
}

// decodeFast runs d over data and returns its verdict.
func decodeFast(d fastDecoder, data []byte) (payload any, subject string, v verdict) {
	r := dataReader{s: scanner{b: data}}
	r.s.space()
	payload, subject = d(&r)
	r.s.space()
	if r.s.i != len(r.s.b) {
		r.broken()
	}
	return payload, subject, r.verdict()
}

// allFastDecoders lists the fast decoder of each schema. Each reads the members its schema
// names and skips the others (no schema here forbids additional properties); the order of
// names is the order of the bits of the required mask.
var allFastDecoders = map[string]fastDecoder{
	replySchema: func(r *dataReader) (any, string) {
		p := new(Reply)
		r.object([]string{"reason", "message", "result"}, 0, func(i int) {
			switch i {
			case 0:
				p.Reason = r.str(0, 256)
			case 1:
				p.Message = r.str(0, 4096)
			case 2:
				p.Result = r.objectOrNull()
			}
		})
		return p, ""
	},
	"inventory.reserve.v1": func(r *dataReader) (any, string) {
		p := new(ReserveInventory)
		r.object([]string{"order_id", "items"}, 0b11, func(i int) {
			switch i {
			case 0:
				p.OrderID = r.sagaID()
			case 1:
				p.Items = r.items()
			}
		})
		return p, p.OrderID
	},
	"inventory.release.v1": undoCommand("order_id", "reservation_id", func(p *ReleaseInventory) (*string, *string) { return &p.OrderID, &p.ReservationID }),
	"inventory.restock.v1": func(r *dataReader) (any, string) {
		p := new(Restock)
		r.object([]string{"return_id", "items"}, 0b11, func(i int) {
			switch i {
			case 0:
				p.ReturnID = r.sagaID()
			case 1:
				p.Items = r.items()
			}
		})
		return p, p.ReturnID
	},
	"inventory.undo-restock.v1": undoCommand("return_id", "restock_id", func(p *UndoRestock) (*string, *string) { return &p.ReturnID, &p.RestockID }),
	"payment.authorize.v1": func(r *dataReader) (any, string) {
		p := new(AuthorizePayment)
		r.object([]string{"order_id", "amount", "currency", "token"}, 0b1111, func(i int) {
			switch i {
			case 0:
				p.OrderID = r.sagaID()
			case 1:
				p.Amount = r.amount()
			case 2:
				p.Currency = r.currency()
			case 3:
				p.Token = r.str(1, 256)
			}
		})
		return p, p.OrderID
	},
	"payment.void.v1": undoCommand("order_id", "authorization_id", func(p *VoidPayment) (*string, *string) { return &p.OrderID, &p.AuthorizationID }),
	"payment.refund.v1": func(r *dataReader) (any, string) {
		p := new(RefundPayment)
		r.object([]string{"return_id", "amount", "currency", "token"}, 0b1111, func(i int) {
			switch i {
			case 0:
				p.ReturnID = r.sagaID()
			case 1:
				p.Amount = r.amount()
			case 2:
				p.Currency = r.currency()
			case 3:
				p.Token = r.str(1, 256)
			}
		})
		return p, p.ReturnID
	},
	"payment.cancel-refund.v1": undoCommand("return_id", "refund_id", func(p *CancelRefund) (*string, *string) { return &p.ReturnID, &p.RefundID }),
	"seller.prepare-shipment.v1": func(r *dataReader) (any, string) {
		p := new(PrepareShipment)
		r.object([]string{"order_id", "seller_id", "items"}, 0b111, func(i int) {
			switch i {
			case 0:
				p.OrderID = r.sagaID()
			case 1:
				p.SellerID = r.id()
			case 2:
				p.Items = r.items()
			}
		})
		return p, p.OrderID
	},
	"seller.cancel-preparation.v1": func(r *dataReader) (any, string) {
		p := new(CancelShipmentPreparation)
		r.object([]string{"order_id", "seller_id", "preparation_id"}, 0b011, func(i int) {
			switch i {
			case 0:
				p.OrderID = r.sagaID()
			case 1:
				p.SellerID = r.id()
			case 2:
				p.PreparationID = r.id()
			}
		})
		return p, p.OrderID
	},
	"shipping.assign-delivery.v1": func(r *dataReader) (any, string) {
		p := new(AssignDelivery)
		r.object([]string{"order_id", "address"}, 0b11, func(i int) {
			switch i {
			case 0:
				p.OrderID = r.sagaID()
			case 1:
				r.address(&p.Address)
			}
		})
		return p, p.OrderID
	},
	"shipping.cancel-delivery.v1": undoCommand("order_id", "delivery_id", func(p *CancelDelivery) (*string, *string) { return &p.OrderID, &p.DeliveryID }),
	"shipping.schedule-pickup.v1": func(r *dataReader) (any, string) {
		p := new(SchedulePickup)
		r.object([]string{"return_id", "address"}, 0b11, func(i int) {
			switch i {
			case 0:
				p.ReturnID = r.sagaID()
			case 1:
				r.address(&p.Address)
			}
		})
		return p, p.ReturnID
	},
	"shipping.cancel-pickup.v1": undoCommand("return_id", "pickup_id", func(p *CancelPickup) (*string, *string) { return &p.ReturnID, &p.PickupID }),
	"notification.send-confirmation.v1": func(r *dataReader) (any, string) {
		p := new(SendConfirmation)
		r.object([]string{"order_id", "email", "total", "currency"}, 0b1111, func(i int) {
			switch i {
			case 0:
				p.OrderID = r.sagaID()
			case 1:
				p.Email = r.email()
			case 2:
				p.Total = r.amount()
			case 3:
				p.Currency = r.currency()
			}
		})
		return p, p.OrderID
	},
	"notification.send-cancellation-notice.v1": func(r *dataReader) (any, string) {
		p := new(SendCancellationNotice)
		r.object([]string{"order_id", "email", "reason"}, 0b111, func(i int) {
			switch i {
			case 0:
				p.OrderID = r.sagaID()
			case 1:
				p.Email = r.email()
			case 2:
				p.Reason = r.str(0, 1024) // defs.v1 text
			}
		})
		return p, p.OrderID
	},
	"notification.send-refund-notice.v1": func(r *dataReader) (any, string) {
		p := new(SendRefundNotice)
		r.object([]string{"return_id", "email", "amount", "currency"}, 0b1111, func(i int) {
			switch i {
			case 0:
				p.ReturnID = r.sagaID()
			case 1:
				p.Email = r.email()
			case 2:
				p.Amount = r.amount()
			case 3:
				p.Currency = r.currency()
			}
		})
		return p, p.ReturnID
	},
}

// dataReader reads JSON data from its scanner's position, value by value, and remembers
// what it could not accept. Each read method consumes one value, also one of the wrong
// type, so that reading goes on after a violation: invalid is only a sure verdict when no
// member of the whole document was unsure.
type dataReader struct {
	s scanner
	// unsureSeen: a member the reader cannot judge exactly, or malformed JSON.
	unsureSeen bool
	// invalidSeen: a value the schema or the payload's decoding rejects.
	invalidSeen bool
}

func (r *dataReader) verdict() verdict {
	switch {
	case r.unsureSeen:
		return unsure
	case r.invalidSeen:
		return invalid
	}
	return valid
}

// broken gives up on malformed JSON: it marks the data unsure and moves to its end, so that
// every further read fails at once.
func (r *dataReader) broken() {
	r.unsureSeen = true
	r.s.i = len(r.s.b)
}

// skip consumes one value of any type.
func (r *dataReader) skip() {
	if !r.s.value(0) {
		r.broken()
	}
}

// wrong consumes a value of the wrong type (or out of bounds) and marks the data invalid.
func (r *dataReader) wrong() {
	r.invalidSeen = true
	r.skip()
}

func (r *dataReader) peek() byte {
	if r.s.i < len(r.s.b) {
		return r.s.b[r.s.i]
	}
	return 0
}

// object reads an object whose members named names[i] (at most 32) are read by
// member(i); other members are skipped. required has bit i set for each required name.
// A value that is not an object is invalid (every schema here says type object).
func (r *dataReader) object(names []string, required uint32, member func(i int)) {
	if r.peek() != '{' {
		r.wrong()
		return
	}
	r.s.i++
	r.s.space()
	var seen uint32
	if !r.s.next('}') {
		for {
			r.s.space()
			start := r.s.i
			if !r.s.string() {
				r.broken()
				return
			}
			key := r.s.b[start+1 : r.s.i-1]
			r.s.space()
			if !r.s.next(':') {
				r.broken()
				return
			}
			r.s.space()
			switch i := memberIndex(names, key); {
			case i == -2: // escaped, non-ASCII or case-folded: encoding/json may fill a field with it
				r.unsureSeen = true
				r.skip()
			case i == -1:
				r.skip()
			case seen&(1<<i) != 0: // a duplicate: the schema and encoding/json see the last one
				r.unsureSeen = true
				r.skip()
			default:
				seen |= 1 << i
				member(i)
			}
			r.s.space()
			if r.s.next(',') {
				continue
			}
			if !r.s.next('}') {
				r.broken()
			}
			break
		}
	}
	if seen&required != required {
		r.invalidSeen = true
	}
}

// memberIndex returns the index of key in names, -1 for a key that no name matches, and
// -2 for one the reader cannot judge: a key with an escape or a non-ASCII byte, or one that
// matches a name only without regard to case (encoding/json would fill that name's field).
func memberIndex(names []string, key []byte) int {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return -2
		}
	}
	folded := false
	for i, n := range names {
		if string(key) == n {
			return i
		}
		if len(key) == len(n) && strings.EqualFold(string(key), n) {
			folded = true
		}
	}
	if folded {
		return -2
	}
	return -1
}

// str reads a string of min to max characters (code points, as JSON Schema counts them).
func (r *dataReader) str(min, max int) string {
	s, ok := r.stringValue()
	if !ok {
		return ""
	}
	if n := utf8.RuneCountInString(s); n < min || n > max {
		r.invalidSeen = true
	}
	return s
}

// stringValue reads a string as encoding/json decodes it; false (and invalid) for another
// type.
func (r *dataReader) stringValue() (string, bool) {
	if r.peek() != '"' {
		r.wrong()
		return "", false
	}
	start := r.s.i
	if !r.s.string() {
		r.broken()
		return "", false
	}
	raw := r.s.b[start:r.s.i]
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), true
	}
	var s string // escapes, or invalid UTF-8 that encoding/json replaces with U+FFFD
	if err := json.Unmarshal(raw, &s); err != nil {
		r.broken()
		return "", false
	}
	return s, true
}

// integer reads an integer in [min, max]. The schemas' type integer also takes 2.0 and 1e3,
// which the payload's Go integer then refuses: any fraction or exponent is invalid.
func (r *dataReader) integer(min, max int64) int64 {
	if c := r.peek(); c != '-' && (c < '0' || c > '9') {
		r.wrong()
		return 0
	}
	start := r.s.i
	if !r.s.number() {
		r.broken()
		return 0
	}
	n, ok := parseInt64(r.s.b[start:r.s.i])
	if !ok || n < min || n > max {
		r.invalidSeen = true
	}
	return n
}

// parseInt64 parses a JSON number without fraction or exponent that fits an int64.
func parseInt64(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return -int64(n), true // -(1<<63) wraps to itself: math.MinInt64
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// amount reads defs.v1 amount: an integer in [0, MaxInt64].
func (r *dataReader) amount() int64 { return r.integer(0, 1<<63-1) }

// id reads defs.v1 id: 1 to 256 characters.
func (r *dataReader) id() string { return r.str(1, 256) }

// sagaID reads defs.v1 order_id (also saga_id and return_id): 1 to 64 characters of
// [A-Za-z0-9._:-].
func (r *dataReader) sagaID() string {
	s, ok := r.stringValue()
	if !ok {
		return ""
	}
	if len(s) < 1 || len(s) > 64 {
		r.invalidSeen = true
		return s
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			r.invalidSeen = true
			break
		}
	}
	return s
}

// currency reads defs.v1 currency: ^[A-Z]{3}$ and an ISO 4217 code.
func (r *dataReader) currency() string {
	s, ok := r.stringValue()
	if ok && !(upperLetters(s, 3) && schemas.IsCurrency(s)) {
		r.invalidSeen = true
	}
	return s
}

// country reads defs.v1 country: ^[A-Z]{2}$ and an ISO 3166-1 alpha-2 code.
func (r *dataReader) country() string {
	s, ok := r.stringValue()
	if ok && !(upperLetters(s, 2) && schemas.IsCountry(s)) {
		r.invalidSeen = true
	}
	return s
}

func upperLetters(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// email reads defs.v1 email: 3 to 254 characters and the format email.
func (r *dataReader) email() string {
	s, ok := r.stringValue()
	if !ok {
		return ""
	}
	if n := utf8.RuneCountInString(s); n < 3 || n > 254 {
		r.invalidSeen = true
		return s
	}
	switch emailFormat(s) {
	case invalid:
		r.invalidSeen = true
	case unsure:
		r.unsureSeen = true
	}
	return s
}

// emailFormat judges s as the format email of santhosh-tekuri/jsonschema v6.0.3
// (format.go, validateEmail): a dot-atom local part of at most 64 bytes, "@", a host name.
// A quoted local part and an address literal ([192.0.2.1], [IPv6:...]) are left unsure.
func emailFormat(s string) verdict {
	if len(s) > 254 {
		return invalid
	}
	at := strings.LastIndexByte(s, '@')
	if at == -1 {
		return invalid
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return invalid
	}
	if len(local) > 1 && strings.HasPrefix(local, `"`) && strings.HasSuffix(local, `"`) {
		return unsure
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return invalid
	}
	for _, c := range local { // by rune, as the library: non-ASCII is refused
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune(".!#$%&'*+-/=?^_`{|}~", c):
		default:
			return invalid
		}
	}
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		return unsure
	}
	// validateHostname
	domain = strings.TrimSuffix(domain, ".")
	if len(domain) > 253 {
		return invalid
	}
	for label := range strings.SplitSeq(domain, ".") {
		if len(label) < 1 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return invalid
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return invalid
			}
		}
	}
	return valid
}

// objectOrNull reads reply.v1 result: an object or null, kept as JSON (a copy, as
// json.RawMessage's UnmarshalJSON keeps it; null as "null").
func (r *dataReader) objectOrNull() json.RawMessage {
	c := r.peek()
	if c != '{' && c != 'n' {
		r.wrong()
		return nil
	}
	start := r.s.i
	r.skip()
	if r.unsureSeen {
		return nil
	}
	return bytes.Clone(r.s.b[start:r.s.i])
}

// items reads defs.v1 items: 1 to 1000 items.
func (r *dataReader) items() []Item {
	if r.peek() != '[' {
		r.wrong()
		return nil
	}
	r.s.i++
	r.s.space()
	items := make([]Item, 0, 4)
	if !r.s.next(']') {
		for {
			r.s.space()
			items = append(items, Item{})
			r.item(&items[len(items)-1])
			r.s.space()
			if r.s.next(',') {
				continue
			}
			if !r.s.next(']') {
				r.broken()
			}
			break
		}
	}
	if len(items) < 1 || len(items) > 1000 {
		r.invalidSeen = true
	}
	return items
}

// item reads defs.v1 item.
func (r *dataReader) item(it *Item) {
	r.object([]string{"sku", "quantity", "unit_price"}, 0b111, func(i int) {
		switch i {
		case 0:
			it.SKU = r.str(1, 128)
		case 1:
			it.Quantity = int(r.integer(1, 10000))
		case 2:
			it.UnitPrice = r.amount()
		}
	})
}

// address reads defs.v1 address.
func (r *dataReader) address(a *Address) {
	r.object([]string{"name", "line1", "line2", "city", "postal_code", "country"}, 0b111011, func(i int) {
		switch i {
		case 0:
			a.Name = r.str(1, 256)
		case 1:
			a.Line1 = r.str(1, 256)
		case 2:
			a.Line2 = r.str(0, 256)
		case 3:
			a.City = r.str(1, 256)
		case 4:
			a.PostalCode = r.str(0, 32)
		case 5:
			a.Country = r.country()
		}
	})
}
