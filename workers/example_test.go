package workers_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/podiumhq/podium/events"
	"github.com/podiumhq/podium/kafkaconf"
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
	kcfg := kafkaconf.Config{Brokers: cluster.ListenAddrs()}

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

	// A command, keyed by its order ID, on the order's home partition: murmur2 of the key,
	// as Kafka's Java client and podium's writers place it.
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
	w := &kafkago.Writer{
		Addr: kcfg.Addr(), Transport: kcfg.Transport(),
		Balancer: kafkago.Murmur2Balancer{}, RequiredAcks: kafkago.RequireAll, BatchSize: 1,
	}
	defer w.Close()
	if err := w.WriteMessages(ctx, msg); err != nil {
		fmt.Println(err)
		return
	}

	// The reply arrives on inventory.replies, on the same partition.
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: kcfg.Brokers, Topic: "inventory.replies",
		Partition: homePartition("ord-1"), MaxWait: 100 * time.Millisecond,
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

// homePartition is the partition of key among events.DefaultPartitions: murmur2, the
// partitioner of Kafka's Java client and of podium.
func homePartition(key string) int {
	partitions := make([]int, events.DefaultPartitions)
	for i := range partitions {
		partitions[i] = i
	}
	return kafkago.Murmur2Balancer{}.Balance(kafkago.Message{Key: []byte(key)}, partitions...)
}

// ExampleHandle builds a worker from typed handlers: each receives its command's data
// already decoded, so the worker never switches on type strings. Run serves the Mux like any
// Handler; here it is called directly, as a unit test of a worker would.
func ExampleHandle() {
	effects := workers.NewMemoryEffects()
	m := workers.NewMux()
	m.SyncFunc = effects.Sync // Run syncs the effect log before it replies
	workers.Handle(m, events.TypeInventoryReserve, func(ctx context.Context, cmd workers.Command, r events.ReserveInventory) workers.Result {
		for _, it := range r.Items {
			if it.Quantity > 10 {
				return workers.Failure("out_of_stock", it.SKU)
			}
		}
		id := workers.StableID("inventory", cmd.IdempotencyKey())
		if _, err := effects.Record(workers.NewEffect("inventory", cmd, "reserved", id)); err != nil {
			return workers.Retryable("effects_unavailable", err.Error())
		}
		return workers.Success(map[string]string{"reservation_id": id})
	})
	workers.Handle(m, events.TypeInventoryRelease, func(ctx context.Context, cmd workers.Command, r events.ReleaseInventory) workers.Result {
		return workers.Success(nil)
	})

	// The worker accepts exactly the types it has handlers for:
	// workers.Run(ctx, workers.Config{Worker: "inventory", Kafka: kcfg, Types: m.Types()}, m)
	fmt.Println(m.Types())

	for _, qty := range []int{2, 50} {
		env, err := events.NewEvent(events.TypeInventoryReserve, "ord-1", events.ReserveInventory{
			OrderID: "ord-1", Items: []events.Item{{SKU: "SKU-RED-1", Quantity: qty, UnitPrice: 1999}},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		env.SagaID, env.Step, env.Attempt, env.IdempotencyKey = "ord-1", "reserve-inventory", 1, "ord-1/reserve-inventory"
		res := m.Handle(context.Background(), workers.Command{Envelope: env})
		fmt.Println(strings.TrimSpace(res.Outcome + " " + res.Reason))
	}
	res := m.Handle(context.Background(), workers.Command{Envelope: events.Envelope{Type: events.TypePaymentAuthorize}})
	fmt.Println(res.Outcome, res.Reason)
	// Output:
	// [podium.inventory.reserve.v1 podium.inventory.release.v1]
	// success
	// failure out_of_stock
	// failure unknown_command
}
