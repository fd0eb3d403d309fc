package kafka

import (
	"bytes"
	"slices"
	"sort"

	kafkago "github.com/segmentio/kafka-go"
)

// OrderKeyBalancer is the partitioner of every podium writer: murmur2 (the Java client's
// default partitioner, identical to kafkago.Murmur2Balancer) of the key's order ID, the
// prefix up to the first '/'. Order IDs never contain '/', so "ord-1" and
// "ord-1/reserve-inventory" land on ord-1's home partition. A nil key goes to a random
// partition, like kafkago.Murmur2Balancer. It is stateless and safe for concurrent use.
type OrderKeyBalancer struct{}

// Balance implements kafkago.Balancer.
func (OrderKeyBalancer) Balance(msg kafkago.Message, partitions ...int) int {
	if msg.Key == nil {
		return kafkago.Murmur2Balancer{}.Balance(msg, partitions...)
	}
	return partitions[homeIndex(msg.Key, len(partitions))]
}

// HomePartition is the partition an order key belongs to among partitions partitions
// (numbered 0..partitions-1): murmur2 of the order ID (the key up to its first '/')
// modulo partitions. It returns 0 when partitions < 1.
func HomePartition(key []byte, partitions int) int {
	if partitions < 1 {
		return 0
	}
	return homeIndex(key, partitions)
}

func homeIndex(key []byte, n int) int {
	if i := bytes.IndexByte(key, '/'); i >= 0 {
		key = key[:i]
	}
	return int((murmur2(key) & 0x7fffffff) % uint32(n))
}

// murmur2 is the Java client's Utils.murmur2.
func murmur2(data []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[length&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// CoPartitionProtocol is the group protocol name of CoPartitionBalancer.
const CoPartitionProtocol = "podium-copartition"

// CoPartitionBalancer is a kafkago.GroupBalancer that keeps co-partitioned topics together:
// partition p of every subscribed topic goes to the same member, so one member owns an
// order's records on all of them. Partition indices (the union over all topics, sorted) are
// dealt round-robin over the members sorted by ID, so counts differ by at most one and the
// result depends neither on the order of members nor on the order of the partition list
// (kafka-go's RangeGroupBalancer depends on both).
//
// Topics with fewer partitions simply have no partition p for the larger indices. If a member
// does not subscribe to a topic, that topic's partition p goes to the subscriber chosen the
// same way among the topic's subscribers only, so no partition is left unassigned.
type CoPartitionBalancer struct{}

// ProtocolName implements kafkago.GroupBalancer.
func (CoPartitionBalancer) ProtocolName() string { return CoPartitionProtocol }

// UserData implements kafkago.GroupBalancer.
func (CoPartitionBalancer) UserData() ([]byte, error) { return nil, nil }

// AssignGroups implements kafkago.GroupBalancer.
func (CoPartitionBalancer) AssignGroups(members []kafkago.GroupMember, partitions []kafkago.Partition) kafkago.GroupMemberAssignments {
	out := kafkago.GroupMemberAssignments{}
	if len(members) == 0 {
		return out
	}
	sorted := append([]kafkago.GroupMember(nil), members...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })

	// subscribers[topic] = indices into sorted of the members subscribing to it.
	subscribers := map[string][]int{}
	for i, m := range sorted {
		out[m.ID] = map[string][]int{}
		seen := map[string]bool{}
		for _, t := range m.Topics {
			if !seen[t] {
				seen[t] = true
				subscribers[t] = append(subscribers[t], i)
			}
		}
	}

	// rank[p] = position of partition index p among all indices, ascending.
	var indices []int
	present := map[int]bool{}
	for _, p := range partitions {
		if _, ok := subscribers[p.Topic]; ok && !present[p.ID] {
			present[p.ID] = true
			indices = append(indices, p.ID)
		}
	}
	slices.Sort(indices)
	rank := make(map[int]int, len(indices))
	for i, p := range indices {
		rank[p] = i
	}

	for _, p := range partitions {
		subs, ok := subscribers[p.Topic]
		if !ok {
			continue
		}
		owner := rank[p.ID] % len(sorted)
		if !slices.Contains(subs, owner) {
			owner = subs[rank[p.ID]%len(subs)]
		}
		id := sorted[owner].ID
		if !slices.Contains(out[id][p.Topic], p.ID) {
			out[id][p.Topic] = append(out[id][p.Topic], p.ID)
		}
	}
	for _, topics := range out {
		for _, ps := range topics {
			slices.Sort(ps)
		}
	}
	return out
}
