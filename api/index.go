package api

// orderKey orders the read model's lists: most recently updated first, then by order ID.
type orderKey struct {
	updated int64 // UpdatedAt in Unix nanoseconds
	id      string
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

// finishedHeap orders the finished orders by the time they finished, oldest first (ties
// by ID): the order in which retention expires them and the cap evicts them. A min-heap
// whose entries know their index, so an order that changes is fixed or removed in
// O(log n). Not safe for concurrent use; the ReadModel's lock guards it.
type finishedHeap []*entry

func (h finishedHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	if a.finished != b.finished {
		return a.finished < b.finished
	}
	return a.id < b.id
}

func (h finishedHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = int32(i), int32(j)
}

func (h finishedHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h finishedHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

// push adds e, which must not be in the heap.
func (h *finishedHeap) push(e *entry) {
	e.heapIdx = int32(len(*h))
	*h = append(*h, e)
	h.up(len(*h) - 1)
}

// fix restores the order after e's finish time changed.
func (h finishedHeap) fix(e *entry) {
	if !h.down(int(e.heapIdx)) {
		h.up(int(e.heapIdx))
	}
}

// remove takes e out of the heap.
func (h *finishedHeap) remove(e *entry) {
	i, last := int(e.heapIdx), len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	if i != last {
		h.fix((*h)[i])
	}
	e.heapIdx = -1
}

// peek returns the order that finished first, nil if none.
func (h finishedHeap) peek() *entry {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}
