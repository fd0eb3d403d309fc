package kafka

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
)

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func TestMurmur2MatchesJava(t *testing.T) {
	// Vectors from Apache Kafka's UtilsTest.testMurmur2.
	tests := []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, tt := range tests {
		if got := int32(murmur2([]byte(tt.in))); got != tt.want {
			t.Errorf("murmur2(%q): got %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestHomePartitionMatchesMurmur2Balancer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := [][]byte{{}, []byte("ord-1"), []byte("ord-1001"), []byte("x")}
	for range 5000 {
		k := make([]byte, rng.IntN(40))
		for i := range k {
			k[i] = byte(rng.IntN(256))
			if k[i] == '/' {
				k[i] = 'a'
			}
		}
		keys = append(keys, k)
	}
	for _, n := range []int{1, 2, 3, 7, 12, 64, 1000} {
		parts := seq(n)
		for _, k := range keys {
			want := kafkago.Murmur2Balancer{Consistent: true}.Balance(kafkago.Message{Key: k}, parts...)
			if got := HomePartition(k, n); got != want {
				t.Fatalf("HomePartition(%q, %d): got %d, want %d (kafkago.Murmur2Balancer)", k, n, got, want)
			}
			if got := (OrderKeyBalancer{}).Balance(kafkago.Message{Key: k}, parts...); got != want {
				t.Fatalf("OrderKeyBalancer.Balance(%q, %d partitions): got %d, want %d", k, n, got, want)
			}
		}
	}
}

func TestOrderKeyBalancerUsesOrderIDPrefix(t *testing.T) {
	tests := []struct {
		key, same string
	}{
		{"ord-1/reserve-inventory", "ord-1"},
		{"ord-1/reserve-inventory/undo", "ord-1"},
		{"ord-77/", "ord-77"},
		{"/x", ""},
	}
	parts := seq(12)
	for _, tt := range tests {
		got := (OrderKeyBalancer{}).Balance(kafkago.Message{Key: []byte(tt.key)}, parts...)
		want := HomePartition([]byte(tt.same), 12)
		if got != want {
			t.Errorf("Balance(%q): got %d, want %d (home of %q)", tt.key, got, want, tt.same)
		}
		if got := HomePartition([]byte(tt.key), 12); got != want {
			t.Errorf("HomePartition(%q): got %d, want %d", tt.key, got, want)
		}
	}
	if got := HomePartition([]byte("ord-1"), 0); got != 0 {
		t.Errorf("HomePartition with 0 partitions: got %d, want 0", got)
	}
	// Nil keys are spread, not all sent to one partition.
	seen := map[int]bool{}
	for range 200 {
		seen[(OrderKeyBalancer{}).Balance(kafkago.Message{}, parts...)] = true
	}
	if len(seen) < 2 {
		t.Errorf("nil keys went to %d partition(s), want them spread", len(seen))
	}
}

// partitionsOf lists topic partitions the way metadata may: shuffled.
func partitionsOf(rng *rand.Rand, counts map[string]int) []kafkago.Partition {
	var ps []kafkago.Partition
	for topic, n := range counts {
		for p := range n {
			ps = append(ps, kafkago.Partition{Topic: topic, ID: p})
		}
	}
	rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return ps
}

func TestCoPartitionBalancer(t *testing.T) {
	tests := []struct {
		name    string
		members int
		counts  map[string]int
	}{
		{"one member", 1, map[string]int{"a": 12, "b": 12}},
		{"three members, twelve partitions", 3, map[string]int{"orders.placed": 12, "orders.control": 12, "inventory.replies": 12, "podium.saga-state": 12}},
		{"five members, twelve partitions", 5, map[string]int{"a": 12, "b": 12, "c": 12}},
		{"more members than partitions", 7, map[string]int{"a": 4, "b": 4}},
		{"different counts", 3, map[string]int{"a": 12, "b": 6, "c": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tt.members)))
			topics := make([]string, 0, len(tt.counts))
			for topic := range tt.counts {
				topics = append(topics, topic)
			}
			var members []kafkago.GroupMember
			for i := range tt.members {
				members = append(members, kafkago.GroupMember{ID: fmt.Sprintf("m-%d", i), Topics: topics})
			}
			var first kafkago.GroupMemberAssignments
			for round := range 5 {
				// Members and partitions arrive in a different, unsorted order every round.
				rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
				got := CoPartitionBalancer{}.AssignGroups(members, partitionsOf(rng, tt.counts))
				checkCoPartitioned(t, got, tt.members, tt.counts)
				if round == 0 {
					first = got
				} else if !sameAssignments(got, first) {
					t.Fatalf("round %d: got %v, want the same assignment as round 0 %v (input order must not matter)", round, got, first)
				}
			}
		})
	}
}

func checkCoPartitioned(t *testing.T, got kafkago.GroupMemberAssignments, members int, counts map[string]int) {
	t.Helper()
	if len(got) != members {
		t.Fatalf("got assignments for %d members, want %d", len(got), members)
	}
	owner := map[int]string{}            // partition index -> member
	owned := map[string]map[string]int{} // topic -> "p" -> times assigned
	perMember := map[string]int{}
	for m, topics := range got {
		indices := map[int]bool{}
		for topic, ps := range topics {
			if !slices.IsSorted(ps) {
				t.Errorf("member %s topic %s: partitions %v not sorted", m, topic, ps)
			}
			for _, p := range ps {
				if o, ok := owner[p]; ok && o != m {
					t.Errorf("partition index %d: owned by %s and %s, want one member", p, o, m)
				}
				owner[p] = m
				indices[p] = true
				if owned[topic] == nil {
					owned[topic] = map[string]int{}
				}
				owned[topic][fmt.Sprint(p)]++
			}
		}
		perMember[m] = len(indices)
	}
	for topic, n := range counts {
		for p := range n {
			if c := owned[topic][fmt.Sprint(p)]; c != 1 {
				t.Errorf("%s[%d]: assigned %d times, want 1", topic, p, c)
			}
		}
	}
	lo, hi := int(^uint(0)>>1), 0
	for _, n := range perMember {
		lo, hi = min(lo, n), max(hi, n)
	}
	if hi-lo > 1 {
		t.Errorf("partition indices per member range from %d to %d, want a spread of at most 1 (%v)", lo, hi, perMember)
	}
}

func sameAssignments(a, b kafkago.GroupMemberAssignments) bool {
	if len(a) != len(b) {
		return false
	}
	for m, ta := range a {
		tb := b[m]
		if len(ta) != len(tb) {
			return false
		}
		for topic, pa := range ta {
			if !slices.Equal(pa, tb[topic]) {
				return false
			}
		}
	}
	return true
}

func TestCoPartitionBalancerPartialSubscriptions(t *testing.T) {
	// m-b does not subscribe to "b": its share of "b" must go to a subscriber, not vanish.
	members := []kafkago.GroupMember{
		{ID: "m-c", Topics: []string{"a", "b"}},
		{ID: "m-b", Topics: []string{"a"}},
		{ID: "m-a", Topics: []string{"b", "a"}},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	got := CoPartitionBalancer{}.AssignGroups(members, partitionsOf(rng, map[string]int{"a": 6, "b": 6, "unsubscribed": 3}))
	count := map[string]int{}
	for m, topics := range got {
		if _, ok := topics["unsubscribed"]; ok {
			t.Errorf("member %s: got partitions of a topic nobody subscribes to", m)
		}
		if _, ok := topics["b"]; ok && m == "m-b" {
			t.Errorf("member m-b: got partitions of b, which it does not subscribe to")
		}
		for topic, ps := range topics {
			count[topic] += len(ps)
		}
	}
	if count["a"] != 6 || count["b"] != 6 {
		t.Errorf("assigned partitions: got a=%d b=%d, want a=6 b=6", count["a"], count["b"])
	}
	// Where the owner of index p subscribes to both topics, they stay together.
	for _, m := range []string{"m-a", "m-c"} {
		for _, p := range got[m]["a"] {
			if !slices.Contains(got[m]["b"], p) {
				t.Errorf("member %s owns a[%d] but not b[%d]", m, p, p)
			}
		}
	}
}

func TestCoPartitionBalancerNoMembers(t *testing.T) {
	got := CoPartitionBalancer{}.AssignGroups(nil, []kafkago.Partition{{Topic: "a", ID: 0}})
	if len(got) != 0 {
		t.Errorf("got %v, want no assignments", got)
	}
	if got := (CoPartitionBalancer{}).ProtocolName(); got != "podium-copartition" {
		t.Errorf("ProtocolName: got %q, want %q", got, "podium-copartition")
	}
}
