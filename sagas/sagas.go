// Package sagas wires podium's built-in saga types for an orchestrator: the order saga
// (started by podium.order.placed.v1 on orders.placed) and the returns saga (started by
// podium.return.requested.v1 on returns.requested). `podium orchestrator` runs Builtin();
// a program of its own can run them next to its own saga types:
//
//	orchestrator.Run(ctx, orchestrator.Config{Sagas: append(sagas.Builtin(), mine)})
//
// Everything here is pure and safe for concurrent use.
package sagas

import (
	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/returns"
	"github.com/podiumhq/podium/orchestrator/saga"
)

// Order is the order saga with the given options: its lifecycle events are the
// podium.order.* types (data events.OrderLifecycle).
func Order(o order.Options) orchestrator.SagaType {
	return orchestrator.SagaType{
		Definition: order.NewDefinition(o),
		Start:      events.TypeOrderPlaced,
		Topic:      events.TopicOrdersPlaced,
		Lifecycle:  order.Lifecycle,
	}
}

// Returns is the returns saga with the given options: its lifecycle events are
// podium.saga.lifecycle.v1 (data events.SagaLifecycle).
func Returns(o returns.Options) orchestrator.SagaType {
	return orchestrator.SagaType{
		Definition: returns.NewDefinition(o),
		Start:      events.TypeReturnRequested,
		Topic:      events.TopicReturnsRequested,
	}
}

// Builtin is every built-in saga type with default options: the order saga, then returns.
func Builtin() []orchestrator.SagaType { return BuiltinWith(order.Options{}) }

// BuiltinWith is every built-in saga type with the same timeouts, retry policies and
// history limit (the options of `podium orchestrator`): the order saga, then returns.
func BuiltinWith(o order.Options) []orchestrator.SagaType {
	return []orchestrator.SagaType{Order(o), Returns(o)}
}

// Definitions is the newest definition of each built-in saga type, in Builtin's order.
func Definitions() []*saga.Definition {
	var defs []*saga.Definition
	for _, t := range Builtin() {
		defs = append(defs, t.Definition)
	}
	return defs
}

// Definition is the newest built-in definition named name, nil if there is none.
func Definition(name string) *saga.Definition {
	for _, d := range Definitions() {
		if d.Name == name {
			return d
		}
	}
	return nil
}
