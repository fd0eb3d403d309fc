package client

import (
	"context"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"

	pclient "github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
)

// Writer is what placing orders needs from a Kafka writer (internal/kafka.Producer).
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafkago.Message) error
}

// OrderPlacedMessage encodes o as a structured CloudEvent for orders.placed, keyed by its
// order ID.
func OrderPlacedMessage(o events.OrderPlaced) (kafkago.Message, error) {
	env, err := events.NewEvent(events.TypeOrderPlaced, o.OrderID, o)
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("encoding order %s: %w", o.OrderID, err)
	}
	return pclient.Message(events.TopicOrdersPlaced, env)
}

// ControlMessage encodes an operator request (events.TypeOrderCancel or TypeOrderRetry with
// OrderID, events.TypeSagaCancel or TypeSagaRetry with SagaID) for orders.control, keyed by
// the saga it is about.
func ControlMessage(typ string, req events.ControlRequest) (kafkago.Message, error) {
	env, err := events.NewEvent(typ, req.Target(), req)
	if err != nil {
		return kafkago.Message{}, fmt.Errorf("encoding %s for %s: %w", typ, req.Target(), err)
	}
	return pclient.Message(events.TopicOrdersControl, env)
}

// PlaceOrders writes the orders in batches of up to batch records, synchronously, calling
// placed after each batch with the number written so far.
func PlaceOrders(ctx context.Context, w Writer, orders []events.OrderPlaced, batch int, placed func(n int)) error {
	if batch <= 0 {
		batch = 500
	}
	msgs := make([]kafkago.Message, 0, batch)
	for i, o := range orders {
		m, err := OrderPlacedMessage(o)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
		if len(msgs) == batch || i == len(orders)-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return fmt.Errorf("writing orders: %w", err)
			}
			msgs = msgs[:0]
			if placed != nil {
				placed(i + 1)
			}
		}
	}
	return nil
}
