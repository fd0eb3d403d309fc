package events

// Topics shared by every podium process (DESIGN §2). Every record is keyed by its saga ID
// (the order ID of an order saga, the return ID of a returns saga).
const (
	// TopicOrdersPlaced carries OrderPlaced events from producers to the orchestrator.
	TopicOrdersPlaced = "orders.placed"
	// TopicOrdersControl carries operator signals (cancel, retry) to the orchestrator.
	TopicOrdersControl = "orders.control"
	// TopicOrdersEvents carries the public order lifecycle events written by the orchestrator.
	TopicOrdersEvents = "orders.events"
	// TopicSagaState is the orchestrator's compacted changelog: one snapshot per saga.
	TopicSagaState = "podium.saga-state"
	// TopicOrdersDLQ holds the orchestrator's dead letters.
	TopicOrdersDLQ = "orders.dlq"
	// TopicReturnsRequested carries ReturnRequested events from producers to the
	// orchestrator (keyed by the return ID).
	TopicReturnsRequested = "returns.requested"
)

// Workers lists the reference workers, in saga order. Do not modify.
var Workers = []string{"inventory", "payment", "seller", "shipping", "notification"}

// CommandsTopic is the topic the orchestrator sends worker's commands to.
func CommandsTopic(worker string) string { return worker + ".commands" }

// RepliesTopic is the topic worker writes its replies to.
func RepliesTopic(worker string) string { return worker + ".replies" }

// ProcessedTopic is worker's compacted topic: idempotency key -> the reply already sent.
func ProcessedTopic(worker string) string { return worker + ".processed" }

// DLQTopic is worker's dead-letter topic.
func DLQTopic(worker string) string { return worker + ".dlq" }

// Headers added to a dead letter, next to the original record's bytes and headers.
const (
	HeaderDLQReason    = "dlq.reason"    // why: the DecodeError (or other error) text
	HeaderDLQTopic     = "dlq.topic"     // the topic the record was read from
	HeaderDLQPartition = "dlq.partition" // its partition, decimal
	HeaderDLQOffset    = "dlq.offset"    // its offset, decimal
)

// DefaultPartitions is the default partition count P of every podium topic.
const DefaultPartitions = 12
