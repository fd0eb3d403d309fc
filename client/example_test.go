package client_test

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/podiumhq/podium/client"
	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/kafkaconf"
)

// Example places an order and cancels it, against an in-process broker, then reads the
// order back from its partition.
func Example() {
	// A broker with podium's input topics (in production: `podium topics create`).
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(events.DefaultPartitions, events.TopicOrdersPlaced, events.TopicOrdersControl))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()

	c, err := client.New(kafkaconf.Config{Brokers: cluster.ListenAddrs()}, client.WithSource("shop/checkout"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	order := events.OrderPlaced{
		OrderID:  "ord-1001",
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
	if _, err := c.PlaceOrder(ctx, order); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Cancel(ctx, "ord-1001", "customer changed their mind"); err != nil {
		fmt.Println(err)
		return
	}

	// A mistake is an error from the call, not a dead letter later.
	order.OrderID, order.Total = "ord-1002", 1
	_, err = c.PlaceOrder(ctx, order)
	fmt.Println(err)

	// The order is on its murmur2 partition, where the orchestrator that owns it reads.
	partitions := make([]int, events.DefaultPartitions)
	for i := range partitions {
		partitions[i] = i
	}
	home := kafkago.Murmur2Balancer{}.Balance(kafkago.Message{Key: []byte("ord-1001")}, partitions...)
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: cluster.ListenAddrs(), Topic: events.TopicOrdersPlaced, Partition: home, MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		rec.Headers = append(rec.Headers, events.Header{Key: h.Key, Value: h.Value})
	}
	env, err := events.Decode(rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(m.Key), env.Type, env.Source)
	// Output:
	// starting saga ord-1002 (podium.order.placed.v1): invalid event: /total: total equals sum of lines: got 1, want 3998
	// ord-1001 podium.order.placed.v1 shop/checkout
}
