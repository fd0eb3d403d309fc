package workers_test

import (
	"context"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/podiumhq/podium/events"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/workers"
)

// ExampleRun runs an inventory worker with a plain handler function against an in-process
// broker, sends it one command the way the orchestrator does, and reads the reply.
func ExampleRun() {
	// A broker with the worker's topics (in production: `podium topics create`).
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(events.DefaultPartitions,
		"inventory.commands", "inventory.replies", "inventory.processed", "inventory.dlq"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	kcfg := pkafka.Config{Brokers: cluster.ListenAddrs()}

	// The business logic: a handler from a command to a result.
	reserve := workers.HandlerFunc(func(ctx context.Context, cmd workers.Command) workers.Result {
		var req events.ReserveInventory
		if err := cmd.Decode(&req); err != nil {
			return workers.Failure("invalid_command", err.Error())
		}
		return workers.Success(map[string]string{"reservation_id": "res-" + req.OrderID})
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- workers.Run(ctx, workers.Config{Worker: "inventory", Kafka: kcfg}, reserve) }()

	// A command, keyed by its order ID (the writer puts it on the order's home partition).
	cmd, err := events.NewEvent(events.TypeInventoryReserve, "ord-1", events.ReserveInventory{
		OrderID: "ord-1", Items: []events.Item{{SKU: "SKU-RED-1", Quantity: 2, UnitPrice: 1999}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cmd.SagaID, cmd.Step, cmd.Attempt, cmd.IdempotencyKey = "ord-1", "reserve-inventory", 1, "ord-1/reserve-inventory"
	value, headers, err := events.Encode(cmd)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg := kafkago.Message{Topic: "inventory.commands", Key: []byte("ord-1"), Value: value}
	for _, h := range headers {
		msg.Headers = append(msg.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
	}
	w := pkafka.NewProducer(kcfg)
	defer w.Close()
	if err := w.WriteMessages(ctx, msg); err != nil {
		fmt.Println(err)
		return
	}

	// The reply arrives on inventory.replies, on the same partition.
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: kcfg.Brokers, Topic: "inventory.replies",
		Partition: pkafka.HomePartition([]byte("ord-1"), events.DefaultPartitions), MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	readCtx, readCancel := context.WithTimeout(ctx, 30*time.Second)
	defer readCancel()
	m, err := r.ReadMessage(readCtx)
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := events.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		rec.Headers = append(rec.Headers, events.Header{Key: h.Key, Value: h.Value})
	}
	reply, err := events.Decode(rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	var data events.Reply
	if err := reply.DecodeData(&data); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(reply.Type, reply.Outcome)
	fmt.Println("answers the command:", reply.CorrelationID == cmd.ID)
	fmt.Println(string(data.Result))

	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// podium.inventory.reserve.reply.v1 success
	// answers the command: true
	// {"reservation_id":"res-ord-1"}
	// run: <nil>
}
