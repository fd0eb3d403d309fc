package client

import (
	"context"
	"errors"
	"fmt"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/internal/tracing"
	"github.com/podiumhq/podium/kafkaconf"
)

// DefaultSource is the CloudEvents source of the events a Client writes, unless WithSource
// sets another.
const DefaultSource = "podium/client"

// Client publishes saga inputs to Kafka. Make one with New; it is safe for concurrent use
// (see the package documentation).
type Client struct {
	producer    *pkafka.Producer
	source      string
	requestedBy string
}

// An Option configures a Client.
type Option func(*Client)

// WithSource sets the CloudEvents source of every event the Client writes: a URI reference
// naming the producing application, such as "shop/checkout". Default: DefaultSource.
func WithSource(source string) Option { return func(c *Client) { c.source = source } }

// WithRequestedBy sets the requested_by of the control requests (Cancel, Retry), which the
// orchestrator records in the saga's history. Default: none.
func WithRequestedBy(name string) Option { return func(c *Client) { c.requestedBy = name } }

// New returns a Client that writes to the cluster cfg describes (the zero kafkaconf.Config
// is 127.0.0.1:9092). It does not connect yet: the first call does. It returns an error
// when cfg is invalid.
func New(cfg kafkaconf.Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("client configuration: %w", err)
	}
	c := &Client{source: DefaultSource}
	for _, o := range opts {
		o(c)
	}
	if c.source == "" {
		return nil, errors.New("client configuration: the source must not be empty")
	}
	c.producer = pkafka.NewProducer(cfg)
	return c, nil
}

// Start starts a saga: it writes an event of eventType (a start type registered with the
// events package, such as events.TypeOrderPlaced, or one of the program's own) about sagaID
// with data to topic, the topic the saga type starts on, and returns the event's ID.
//
// data is encoded with encoding/json (pass a json.RawMessage for data already encoded). The
// event is validated before it is written; a problem is returned as an error wrapping the
// *events.DecodeError that says which rule it broke (a field of the data against the
// type's schema, a subject that is not the data's saga ID field, an unknown type), and
// nothing is written.
func (c *Client) Start(ctx context.Context, topic, eventType, sagaID string, data any) (eventID string, err error) {
	if sagaID == "" {
		return "", fmt.Errorf("starting a saga (%s): %w", eventType, errNoSagaID)
	}
	id, err := c.publish(ctx, topic, eventType, sagaID, data)
	if err != nil {
		return "", fmt.Errorf("starting saga %s (%s): %w", sagaID, eventType, err)
	}
	return id, nil
}

// PlaceOrder starts the order saga of o: an events.TypeOrderPlaced event on
// events.TopicOrdersPlaced, keyed by o.OrderID. It returns the event's ID; see Start.
func (c *Client) PlaceOrder(ctx context.Context, o events.OrderPlaced) (eventID string, err error) {
	return c.Start(ctx, events.TopicOrdersPlaced, events.TypeOrderPlaced, o.OrderID, o)
}

// RequestReturn starts the returns saga of r: an events.TypeReturnRequested event on
// events.TopicReturnsRequested, keyed by r.ReturnID. It returns the event's ID; see Start.
func (c *Client) RequestReturn(ctx context.Context, r events.ReturnRequested) (eventID string, err error) {
	return c.Start(ctx, events.TopicReturnsRequested, events.TypeReturnRequested, r.ReturnID, r)
}

// Cancel asks the orchestrator to cancel (compensate) the saga sagaID, of any type (an
// order ID works too), for reason (free text, may be empty). It writes an
// events.TypeSagaCancel request on events.TopicOrdersControl and returns its ID: the
// orchestrator's answer, if the request is refused or deferred, is an event on
// events.TopicOrdersEvents whose data (events.ControlOutcome) has this ID as RequestID.
func (c *Client) Cancel(ctx context.Context, sagaID, reason string) (requestID string, err error) {
	return c.control(ctx, events.TypeSagaCancel, "cancelling", sagaID, reason)
}

// Retry asks the orchestrator to retry the failed saga sagaID, of any type (an order ID
// works too), for reason (free text, may be empty). It writes an events.TypeSagaRetry
// request on events.TopicOrdersControl and returns its ID; see Cancel.
func (c *Client) Retry(ctx context.Context, sagaID, reason string) (requestID string, err error) {
	return c.control(ctx, events.TypeSagaRetry, "retrying", sagaID, reason)
}

func (c *Client) control(ctx context.Context, typ, action, sagaID, reason string) (string, error) {
	if sagaID == "" {
		return "", fmt.Errorf("%s a saga: %w", action, errNoSagaID)
	}
	req := events.ControlRequest{SagaID: sagaID, Reason: reason, RequestedBy: c.requestedBy}
	id, err := c.publish(ctx, events.TopicOrdersControl, typ, sagaID, req)
	if err != nil {
		return "", fmt.Errorf("%s saga %s: %w", action, sagaID, err)
	}
	return id, nil
}

var errNoSagaID = errors.New("a saga ID is required")

// Close releases the Client's connections. Calls made after Close fail or reconnect; do not
// make any.
func (c *Client) Close() error { return c.producer.Close() }

// publish builds, validates and writes one event, and returns its ID.
func (c *Client) publish(ctx context.Context, topic, typ, sagaID string, data any) (string, error) {
	env, err := events.NewEvent(typ, sagaID, data)
	if err != nil {
		return "", err
	}
	env.Source = c.source
	env.TraceParent = tracing.TraceParent(ctx)
	msg, err := Message(topic, env)
	if err != nil {
		return "", err
	}
	if err := check(msg); err != nil {
		return "", err
	}
	if err := c.producer.WriteMessages(ctx, msg); err != nil {
		return "", fmt.Errorf("writing to %s: %w", topic, err)
	}
	return env.ID, nil
}

// check decodes msg as its reader will, and returns the *events.DecodeError it meets. The
// record is given no topic, so the error names no record position (it has none yet); the
// topic matters to Decode only for bare OrderPlaced documents, and msg is structured.
func check(msg kafkago.Message) error {
	rec := events.Record{Key: msg.Key, Value: msg.Value, Headers: make([]events.Header, len(msg.Headers))}
	for i, h := range msg.Headers {
		rec.Headers[i] = events.Header{Key: h.Key, Value: h.Value}
	}
	if _, err := events.Decode(rec); err != nil {
		return fmt.Errorf("invalid event: %w", err)
	}
	return nil
}

// Message encodes e as a structured-mode CloudEvent record for topic, keyed by e.Subject
// (the saga ID), for programs that write podium's inputs with their own kafka-go writer. Its
// partition is left to the writer's balancer: use kafkago.Murmur2Balancer (or write with a
// Client) so the record lands on its saga's partition. Message does not validate e beyond
// what events.Encode checks; events.Decode (or Envelope.Validate) does.
func Message(topic string, e events.Envelope) (kafkago.Message, error) {
	value, headers, err := events.Encode(e)
	if err != nil {
		return kafkago.Message{}, err
	}
	hs := make([]kafkago.Header, len(headers))
	for i, h := range headers {
		hs[i] = kafkago.Header{Key: h.Key, Value: h.Value}
	}
	return kafkago.Message{Topic: topic, Key: []byte(e.Subject), Value: value, Headers: hs}, nil
}
