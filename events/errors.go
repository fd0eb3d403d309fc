package events

import (
	"strconv"
	"strings"
)

// Rules of a DecodeError that are not schema keywords. Schema violations have the rule
// "schema: <keyword>" ("schema: minimum", "schema: required", "schema: format", ...).
const (
	RuleTooLarge       = "record too large"           // value over MaxRecordSize
	RuleMalformedJSON  = "malformed JSON"             // value or data is not one JSON document
	RuleNotCloudEvent  = "not a CloudEvent"           // no CloudEvents content mode recognised
	RuleContentType    = "content type"               // unsupported content-type / datacontenttype
	RuleUnknownType    = "unknown type"               // type (or its version) is not known
	RuleAttribute      = "attribute"                  // an attribute value that cannot be read (attempt "x", bad time)
	RulePayload        = "payload"                    // data that fits the schema but not the Go payload (2.0 or 1e3 for an integer)
	RuleSubjectOrderID = "subject equals order_id"    // subject differs from the data's order_id
	RuleSubjectSagaID  = "subject equals saga id"     // subject differs from the data's saga ID member of another name (return_id, saga_id, a registered SubjectField)
	RuleTotal          = "total equals sum of lines"  // OrderPlaced total
	RuleRefund         = "refund equals sum of lines" // ReturnRequested refund
	RuleAmountOverflow = "amount overflow"            // quantity × unit_price or the sum overflows int64
)

// fieldData is the Field of a problem with the data as a whole.
const fieldData = "data"

// DecodeError says why a record (or a document given to ValidateOrderPlaced) was rejected:
// which record, which field, which rule. The consumer loops dead-letter such records with
// the Error text as the dlq.reason header.
type DecodeError struct {
	Topic     string // the record's topic; "" when not decoding a record
	Partition int
	Offset    int64
	// Field locates the problem: an envelope attribute by its CloudEvents name ("type",
	// "correlationid", "attempt"), a value in the data by its JSON pointer relative to the
	// data ("/items/3/quantity", "/customer/email"), the data as a whole as "data", and the
	// record as a whole as "".
	Field string
	// Rule is the rule that failed: "schema: <keyword>" for a schema violation, or one of
	// the Rule* constants.
	Rule string
	Err  error // what exactly was wrong, may be nil
}

// Error returns "orders.placed[3]@17: /items/0/quantity: schema: minimum: must be >= 1, got 0";
// without a topic the "topic[partition]@offset: " prefix is left out.
func (e *DecodeError) Error() string {
	var sb strings.Builder
	if e.Topic != "" {
		sb.WriteString(e.Topic)
		sb.WriteByte('[')
		sb.WriteString(strconv.Itoa(e.Partition))
		sb.WriteString("]@")
		sb.WriteString(strconv.FormatInt(e.Offset, 10))
		sb.WriteString(": ")
	}
	if e.Field != "" {
		sb.WriteString(e.Field)
		sb.WriteString(": ")
	}
	sb.WriteString(e.Rule)
	if e.Err != nil {
		sb.WriteString(": ")
		sb.WriteString(e.Err.Error())
	}
	return sb.String()
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }
