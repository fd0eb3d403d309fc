package api

import "time"

// orderKey orders the read model's lists: most recently updated first, then by order ID.
type orderKey struct {
	updated int64 // UpdatedAt in Unix nanoseconds
	id      string
}

func keyOf(updated time.Time, id string) orderKey {
	return orderKey{updated: updated.UnixNano(), id: id}
}

// before reports whether a sorts before b.
func (a orderKey) before(b orderKey) bool {
	if a.updated != b.updated {
		return a.updated > b.updated
	}
	return a.id < b.id
}

// recency is an ordered set of orders (a skip list): O(log n) insert, delete and seek, so
// a paged list costs O(log n + limit) however many orders the model holds. Not safe for
// concurrent use; the ReadModel's lock guards it.
type recency struct {
	head  slNode
	level int
	n     int
	rnd   uint64
}

type slNode struct {
	key  orderKey
	e    *entry
	next []*slNode
}

const (
	slMaxLevel = 24   // enough for 4^24 orders
	slP        = 0.25 // probability of promoting a node one level
)

func newRecency(seed uint64) *recency {
	return &recency{head: slNode{next: make([]*slNode, slMaxLevel)}, level: 1, rnd: seed | 1}
}

// randomLevel draws a level with P(level > k) = 0.25^k (xorshift64*, deterministic per list).
func (l *recency) randomLevel() int {
	lvl := 1
	for lvl < slMaxLevel {
		l.rnd ^= l.rnd >> 12
		l.rnd ^= l.rnd << 25
		l.rnd ^= l.rnd >> 27
		if (l.rnd*2685821657736338717)>>62 != 0 { // 3 in 4: stop
			break
		}
		lvl++
	}
	return lvl
}

// insert adds e under k; k must not be in the set.
func (l *recency) insert(k orderKey, e *entry) {
	var update [slMaxLevel]*slNode
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i] != nil && x.next[i].key.before(k) {
			x = x.next[i]
		}
		update[i] = x
	}
	lvl := l.randomLevel()
	if lvl > l.level {
		for i := l.level; i < lvl; i++ {
			update[i] = &l.head
		}
		l.level = lvl
	}
	n := &slNode{key: k, e: e, next: make([]*slNode, lvl)}
	for i := range lvl {
		n.next[i] = update[i].next[i]
		update[i].next[i] = n
	}
	l.n++
}

// remove deletes k and reports whether it was present.
func (l *recency) remove(k orderKey) bool {
	var update [slMaxLevel]*slNode
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i] != nil && x.next[i].key.before(k) {
			x = x.next[i]
		}
		update[i] = x
	}
	target := x.next[0]
	if target == nil || target.key != k {
		return false
	}
	for i := range len(target.next) {
		if update[i].next[i] == target {
			update[i].next[i] = target.next[i]
		}
	}
	for l.level > 1 && l.head.next[l.level-1] == nil {
		l.level--
	}
	l.n--
	return true
}

// after returns the first node strictly after k (nil k: the first node), or nil.
func (l *recency) after(k *orderKey) *slNode {
	if k == nil {
		return l.head.next[0]
	}
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i] != nil && !k.before(x.next[i].key) {
			x = x.next[i]
		}
	}
	return x.next[0]
}

// len is the number of orders in the set.
func (l *recency) len() int { return l.n }
