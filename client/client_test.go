package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/trace"

	"github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/kafkaconf"
)

// A saga type of the test's own, as another module would register it.
const (
	typeTripRequested  = "clienttest.trip.requested.v1"
	topicTripRequested = "trips.requested"
	tripPartitions     = 5
)

type tripRequested struct {
	TripID string `json:"trip_id"`
	Seats  int    `json:"seats"`
}

func init() {
	events.MustRegister(events.TypeSpec{
		Type: typeTripRequested,
		Kind: events.KindEvent,
		Schema: []byte(`{
			"$schema": "https://json-schema.org/draft/2020-12/schema",
			"type": "object",
			"required": ["trip_id", "seats"],
			"properties": {
				"trip_id": {"type": "string", "minLength": 1},
				"seats": {"type": "integer", "minimum": 1, "maximum": 9}
			}
		}`),
		SubjectField: "trip_id",
		New:          func() any { return new(tripRequested) },
	})
}

// newCluster starts an in-process broker with podium's input topics (12 partitions) and the
// test's trips topic (5), and returns its configuration.
func newCluster(t *testing.T) kafkaconf.Config {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(events.DefaultPartitions, events.TopicOrdersPlaced, events.TopicReturnsRequested, events.TopicOrdersControl),
		kfake.SeedTopics(tripPartitions, topicTripRequested),
	)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return kafkaconf.Config{Brokers: c.ListenAddrs(), ClientID: "client-test"}
}

func newClient(t *testing.T, cfg kafkaconf.Config, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// written is one record read back, decoded.
type written struct {
	partition int
	key       string
	env       events.Envelope
}

// readTopic reads every partition of topic to its end and decodes each record.
func readTopic(t *testing.T, cfg kafkaconf.Config, topic string, partitions int) []written {
	t.Helper()
	var got []written
	for p := range partitions {
		_, err := pkafka.ReadPartition(testContext(t), cfg, topic, p, func(m kafkago.Message) error {
			rec := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
			for _, h := range m.Headers {
				rec.Headers = append(rec.Headers, events.Header{Key: h.Key, Value: h.Value})
			}
			env, err := events.Decode(rec)
			if err != nil {
				return fmt.Errorf("decoding %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, err)
			}
			if ct, _ := header(m.Headers, events.HeaderContentType); ct != events.ContentTypeCloudEvents {
				return fmt.Errorf("%s[%d]@%d: got content-type %q, want %s", m.Topic, m.Partition, m.Offset, ct, events.ContentTypeCloudEvents)
			}
			got = append(got, written{partition: m.Partition, key: string(m.Key), env: env})
			return nil
		})
		if err != nil {
			t.Fatalf("reading %s[%d]: %v", topic, p, err)
		}
	}
	return got
}

func header(hs []kafkago.Header, key string) (string, bool) {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// murmur2Partition is the partition kafka-go's Murmur2Balancer — the Java client's default
// partitioner — picks for key among n partitions: what the orchestrator expects.
func murmur2Partition(key string, n int) int {
	ps := make([]int, n)
	for i := range ps {
		ps[i] = i
	}
	return kafkago.Murmur2Balancer{}.Balance(kafkago.Message{Key: []byte(key)}, ps...)
}

func order(id string) events.OrderPlaced {
	return events.OrderPlaced{
		OrderID:  id,
		Customer: events.Customer{ID: "cus-7", Email: "ada@example.com"},
		SellerID: "sel-3",
		Currency: "EUR",
		Items:    []events.Item{{SKU: "SKU-RED-1", Quantity: 2, UnitPrice: 1999}},
		Total:    3998,
		Payment:  events.Payment{Token: "tok_visa"},
		ShippingAddress: events.Address{
			Name: "Ada L.", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE",
		},
	}
}

func returnRequest(id string) events.ReturnRequested {
	return events.ReturnRequested{
		ReturnID: id,
		OrderID:  "ord-1001",
		Customer: events.Customer{ID: "cus-7", Email: "ada@example.com"},
		Currency: "EUR",
		Items:    []events.Item{{SKU: "SKU-RED-1", Quantity: 2, UnitPrice: 1999}},
		Refund:   3998,
		Payment:  events.Payment{Token: "tok_visa"},
		PickupAddress: events.Address{
			Name: "Ada L.", Line1: "1 Main St", City: "Berlin", PostalCode: "10115", Country: "DE",
		},
	}
}

func TestPlaceOrderLandsOnTheOrdersHomePartition(t *testing.T) {
	cfg := newCluster(t)
	c := newClient(t, cfg)
	ctx := testContext(t)

	ids := map[string]string{} // order ID -> event ID
	for i := range 40 {
		o := order(fmt.Sprintf("ord-%d", i))
		id, err := c.PlaceOrder(ctx, o)
		if err != nil {
			t.Fatalf("PlaceOrder(%s): %v", o.OrderID, err)
		}
		ids[o.OrderID] = id
	}

	got := readTopic(t, cfg, events.TopicOrdersPlaced, events.DefaultPartitions)
	if len(got) != len(ids) {
		t.Fatalf("got %d records on %s, want %d", len(got), events.TopicOrdersPlaced, len(ids))
	}
	partitions := map[int]bool{}
	for _, w := range got {
		if want := murmur2Partition(w.key, events.DefaultPartitions); w.partition != want {
			t.Errorf("key %s: got partition %d, want murmur2 partition %d", w.key, w.partition, want)
		}
		partitions[w.partition] = true
		if w.env.Type != events.TypeOrderPlaced || w.env.Subject != w.key || w.env.ID != ids[w.key] || w.env.Source != client.DefaultSource {
			t.Errorf("key %s: got type %s subject %s id %s source %s, want %s, %s, %s, %s",
				w.key, w.env.Type, w.env.Subject, w.env.ID, w.env.Source, events.TypeOrderPlaced, w.key, ids[w.key], client.DefaultSource)
		}
		var data events.OrderPlaced
		if err := w.env.DecodeData(&data); err != nil || data.OrderID != w.key || data.Total != 3998 {
			t.Errorf("key %s: got data %+v (%v), want the order placed", w.key, data, err)
		}
	}
	if len(partitions) < 2 {
		t.Errorf("got every record on %d partition(s), want them spread", len(partitions))
	}
}

func TestStartsAndControlRequests(t *testing.T) {
	tests := []struct {
		name       string
		call       func(ctx context.Context, c *client.Client) (string, error)
		topic      string
		partitions int
		wantType   string
		wantKey    string
		check      func(t *testing.T, env events.Envelope)
	}{
		{
			name: "request a return",
			call: func(ctx context.Context, c *client.Client) (string, error) {
				return c.RequestReturn(ctx, returnRequest("ret-2001"))
			},
			topic: events.TopicReturnsRequested, partitions: events.DefaultPartitions,
			wantType: events.TypeReturnRequested, wantKey: "ret-2001",
			check: func(t *testing.T, env events.Envelope) {
				var r events.ReturnRequested
				if err := env.DecodeData(&r); err != nil || r.ReturnID != "ret-2001" || r.Refund != 3998 {
					t.Errorf("got data %+v (%v), want return ret-2001 refunding 3998", r, err)
				}
			},
		},
		{
			name: "start a registered saga type of one's own",
			call: func(ctx context.Context, c *client.Client) (string, error) {
				return c.Start(ctx, topicTripRequested, typeTripRequested, "trip-42", tripRequested{TripID: "trip-42", Seats: 2})
			},
			topic: topicTripRequested, partitions: tripPartitions,
			wantType: typeTripRequested, wantKey: "trip-42",
			check: func(t *testing.T, env events.Envelope) {
				if string(env.Data) != `{"trip_id":"trip-42","seats":2}` {
					t.Errorf("got data %s, want the trip", env.Data)
				}
			},
		},
		{
			name: "cancel",
			call: func(ctx context.Context, c *client.Client) (string, error) {
				return c.Cancel(ctx, "ret-2001", "customer changed their mind")
			},
			topic: events.TopicOrdersControl, partitions: events.DefaultPartitions,
			wantType: events.TypeSagaCancel, wantKey: "ret-2001",
			check: func(t *testing.T, env events.Envelope) {
				var r events.ControlRequest
				if err := env.DecodeData(&r); err != nil || r.SagaID != "ret-2001" || r.Reason != "customer changed their mind" || r.RequestedBy != "ops" {
					t.Errorf("got request %+v (%v), want saga ret-2001, the reason, requested by ops", r, err)
				}
			},
		},
		{
			name:  "retry an order",
			call:  func(ctx context.Context, c *client.Client) (string, error) { return c.Retry(ctx, "ord-7", "") },
			topic: events.TopicOrdersControl, partitions: events.DefaultPartitions,
			wantType: events.TypeSagaRetry, wantKey: "ord-7",
			check: func(t *testing.T, env events.Envelope) {
				var r events.ControlRequest
				if err := env.DecodeData(&r); err != nil || r.Target() != "ord-7" || r.OrderID != "" {
					t.Errorf("got request %+v (%v), want saga_id ord-7 and no order_id", r, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newCluster(t)
			c := newClient(t, cfg, client.WithSource("shop/returns"), client.WithRequestedBy("ops"))
			id, err := tt.call(testContext(t), c)
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			got := readTopic(t, cfg, tt.topic, tt.partitions)
			if len(got) != 1 {
				t.Fatalf("got %d records on %s, want 1", len(got), tt.topic)
			}
			w := got[0]
			if want := murmur2Partition(tt.wantKey, tt.partitions); w.key != tt.wantKey || w.partition != want {
				t.Errorf("got key %s on partition %d, want %s on %d", w.key, w.partition, tt.wantKey, want)
			}
			if w.env.ID != id || w.env.Type != tt.wantType || w.env.Subject != tt.wantKey || w.env.Source != "shop/returns" {
				t.Errorf("got id %s type %s subject %s source %s, want %s, %s, %s, shop/returns",
					w.env.ID, w.env.Type, w.env.Subject, w.env.Source, id, tt.wantType, tt.wantKey)
			}
			tt.check(t, w.env)
		})
	}
}

func TestInvalidEventsAreErrorsAndNotWritten(t *testing.T) {
	badTotal := order("ord-1")
	badTotal.Total = 1
	slash := order("ord/1")
	tests := []struct {
		name     string
		call     func(ctx context.Context, c *client.Client) (string, error)
		wantRule string // substring of the error; "" for an error that is not a DecodeError
		decode   bool   // the error wraps an *events.DecodeError
	}{
		{"total mismatch", func(ctx context.Context, c *client.Client) (string, error) { return c.PlaceOrder(ctx, badTotal) }, "total", true},
		{"order ID with a slash", func(ctx context.Context, c *client.Client) (string, error) { return c.PlaceOrder(ctx, slash) }, "order_id", true},
		{"subject is not the data's saga ID", func(ctx context.Context, c *client.Client) (string, error) {
			return c.Start(ctx, topicTripRequested, typeTripRequested, "trip-1", tripRequested{TripID: "trip-2", Seats: 1})
		}, "subject", true},
		{"data against the registered schema", func(ctx context.Context, c *client.Client) (string, error) {
			return c.Start(ctx, topicTripRequested, typeTripRequested, "trip-1", tripRequested{TripID: "trip-1", Seats: 12})
		}, "seats", true},
		{"unknown type", func(ctx context.Context, c *client.Client) (string, error) {
			return c.Start(ctx, topicTripRequested, "clienttest.unknown.v1", "trip-1", tripRequested{TripID: "trip-1", Seats: 1})
		}, "clienttest.unknown.v1", true},
		{"no saga ID to cancel", func(ctx context.Context, c *client.Client) (string, error) { return c.Cancel(ctx, "", "") }, "saga ID is required", false},
		{"no saga ID to start", func(ctx context.Context, c *client.Client) (string, error) {
			return c.Start(ctx, topicTripRequested, typeTripRequested, "", tripRequested{Seats: 1})
		}, "saga ID is required", false},
		{"data that is not JSON", func(ctx context.Context, c *client.Client) (string, error) {
			return c.Start(ctx, topicTripRequested, typeTripRequested, "trip-1", func() {})
		}, "encoding", false},
	}
	cfg := newCluster(t)
	c := newClient(t, cfg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.call(testContext(t), c)
			if err == nil || !strings.Contains(err.Error(), tt.wantRule) || id != "" {
				t.Fatalf("got id %q, error %v; want no id and an error mentioning %q", id, err, tt.wantRule)
			}
			var de *events.DecodeError
			if errors.As(err, &de) != tt.decode {
				t.Errorf("errors.As(%v, *events.DecodeError): got %v, want %v", err, !tt.decode, tt.decode)
			}
		})
	}
	for _, topic := range []string{events.TopicOrdersPlaced, events.TopicOrdersControl} {
		if got := readTopic(t, cfg, topic, events.DefaultPartitions); len(got) != 0 {
			t.Errorf("got %d records on %s, want none", len(got), topic)
		}
	}
	if got := readTopic(t, cfg, topicTripRequested, tripPartitions); len(got) != 0 {
		t.Errorf("got %d records on %s, want none", len(got), topicTripRequested)
	}
}

func TestStartCarriesTheCallersTrace(t *testing.T) {
	cfg := newCluster(t)
	c := newClient(t, cfg)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(testContext(t), sc)
	if _, err := c.PlaceOrder(ctx, order("ord-1")); err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	if _, err := c.PlaceOrder(testContext(t), order("ord-2")); err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	got := map[string]string{}
	for _, w := range readTopic(t, cfg, events.TopicOrdersPlaced, events.DefaultPartitions) {
		got[w.key] = w.env.TraceParent
	}
	want := map[string]string{"ord-1": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "ord-2": ""}
	for k, tp := range want {
		if got[k] != tp {
			t.Errorf("%s: got traceparent %q, want %q", k, got[k], tp)
		}
	}
}

func TestNewRejectsInvalidConfiguration(t *testing.T) {
	tests := []struct {
		name string
		cfg  kafkaconf.Config
		opts []client.Option
		want string
	}{
		{"broker without port", kafkaconf.Config{Brokers: []string{"kafka"}}, nil, `broker "kafka"`},
		{"empty source", kafkaconf.Config{}, []client.Option{client.WithSource("")}, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(tt.cfg, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || c != nil {
				t.Errorf("got %v, %v; want no client and an error mentioning %q", c, err, tt.want)
			}
		})
	}
}

func TestWriteErrorIsReturned(t *testing.T) {
	cfg := newCluster(t)
	c := newClient(t, cfg)
	_, err := c.Start(testContext(t), "no.such.topic", events.TypeOrderPlaced, "ord-1", order("ord-1"))
	if err == nil || !strings.Contains(err.Error(), "no.such.topic") {
		t.Errorf("got %v, want an error naming the missing topic", err)
	}
}

func TestMessage(t *testing.T) {
	env, err := events.NewEvent(events.TypeOrderPlaced, "ord-1", order("ord-1"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := client.Message(events.TopicOrdersPlaced, env)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	if m.Topic != events.TopicOrdersPlaced || string(m.Key) != "ord-1" {
		t.Errorf("got topic %s key %s, want %s ord-1", m.Topic, m.Key, events.TopicOrdersPlaced)
	}
	if ct, _ := header(m.Headers, events.HeaderContentType); ct != events.ContentTypeCloudEvents {
		t.Errorf("got content-type %q, want %s", ct, events.ContentTypeCloudEvents)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(m.Value, &doc); err != nil {
		t.Fatalf("value is not JSON: %v", err)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	for _, k := range []string{"specversion", "id", "source", "type", "subject", "data"} {
		if !slices.Contains(keys, k) {
			t.Errorf("got members %q, want %s among them", keys, k)
		}
	}
	if _, err := client.Message("t", events.Envelope{}); err == nil {
		t.Error("an envelope without id, source and type: got nil, want an error")
	}
}
