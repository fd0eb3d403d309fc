package saga

import (
	"encoding/json"
	"fmt"
)

// Build returns a Builder that hands f the saga's input decoded as an *In and marshals
// what f returns as the command's payload. The input is BuildContext.Decoded when it holds
// an *In (what the definition's DecodeInput made of it, shared by every builder of one
// Apply); otherwise decode, which should be the definition's DecodeInput and must return
// an *In, decodes BuildContext.Input (a builder called on its own, or a definition without
// DecodeInput). A decoding error is the builder's error: it fails the step.
//
// f must be pure, as every Builder, and must not modify the input it is handed. Build is
// the usual way to write a definition's builders:
//
//	buildReserve = saga.Build(decodeOrder, func(o *events.OrderPlaced, _ saga.BuildContext) events.ReserveInventory {
//		return events.ReserveInventory{OrderID: o.OrderID, Items: o.Items}
//	})
func Build[In, Out any](decode InputDecoder, f func(in *In, bc BuildContext) Out) Builder {
	return func(bc BuildContext) (json.RawMessage, error) {
		in, ok := bc.Decoded.(*In)
		if !ok || in == nil {
			v, err := decode(bc.SagaID, bc.Input)
			if err != nil {
				return nil, err
			}
			if in, ok = v.(*In); !ok || in == nil {
				return nil, fmt.Errorf("decoding the input of saga %q: got %T, want %T", bc.SagaID, v, in)
			}
		}
		return json.Marshal(f(in, bc))
	}
}

// ResultField is the string member field of the success result of step (in
// BuildContext.Results): "" when the step has no result (its outcome is unknown), the
// result is not a JSON object, or the member is absent or not a string. A compensation
// that sends the ID its step returned reads it this way and never fails on it.
func ResultField(bc BuildContext, step, field string) string {
	var m map[string]any
	if err := json.Unmarshal(bc.Results[step], &m); err != nil {
		return ""
	}
	s, _ := m[field].(string)
	return s
}
