package bench

import (
	"bufio"
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	pkafka "github.com/podiumhq/podium/internal/kafka"
)

// The byte counters of podium's Kafka producer (internal/kafka, Producer), exported on
// /metrics by every podium process and labelled by topic.
const (
	// metricProducedBytes counts the bytes of the record batches as sent to Kafka, after
	// compression: what the broker stores.
	metricProducedBytes = "podium_kafka_produced_bytes_total"
	// metricProducedRecordBytes counts key + value + headers of every record, before
	// compression.
	metricProducedRecordBytes = "podium_kafka_produced_record_bytes_total"
)

// topicBytes is what was written to one topic: batch bytes as sent (compressed) and record
// bytes (uncompressed).
type topicBytes struct {
	batch, record float64
}

// produced is the bytes written per topic.
type produced map[string]topicBytes

// add adds q to p, topic by topic.
func (p produced) add(q produced) {
	for t, b := range q {
		a := p[t]
		p[t] = topicBytes{batch: a.batch + b.batch, record: a.record + b.record}
	}
}

// since is p - before, topic by topic; a topic that did not grow is left out.
func (p produced) since(before produced) produced {
	out := produced{}
	for t, b := range p {
		a := before[t]
		d := topicBytes{batch: max(b.batch-a.batch, 0), record: max(b.record-a.record, 0)}
		if d.batch > 0 || d.record > 0 {
			out[t] = d
		}
	}
	return out
}

// only is p restricted to the given topics.
func (p produced) only(topics []string) produced {
	out := produced{}
	for _, t := range topics {
		if b, ok := p[t]; ok {
			out[t] = b
		}
	}
	return out
}

// parseProduced reads both byte counters from a Prometheus text exposition. found reports
// whether either is there.
func parseProduced(text string) (p produced, found bool) {
	p = produced{}
	batch, ok1 := metricByLabel(text, metricProducedBytes, "topic")
	record, ok2 := metricByLabel(text, metricProducedRecordBytes, "topic")
	for t, v := range batch {
		b := p[t]
		b.batch += v
		p[t] = b
	}
	for t, v := range record {
		b := p[t]
		b.record += v
		p[t] = b
	}
	return p, ok1 || ok2
}

// metricByLabel sums the samples of the metric name in a Prometheus text exposition by the
// value of one of their labels (samples without the label count under ""). found reports
// whether there was a sample.
func metricByLabel(text, name, label string) (sums map[string]float64, found bool) {
	sums = map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		var labels map[string]string
		switch {
		case strings.HasPrefix(rest, "{"):
			var ok bool
			labels, rest, ok = parseLabels(rest)
			if !ok {
				continue
			}
		case strings.HasPrefix(rest, " "):
		default:
			continue // a longer name with the same prefix
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sums[labels[label]] += v
		found = true
	}
	return sums, found
}

// parseLabels parses the label set `{a="x",b="y\"z"}` at the start of s and returns the
// labels and the rest of s after the closing brace.
func parseLabels(s string) (labels map[string]string, rest string, ok bool) {
	labels = map[string]string{}
	i := 1 // after '{'
	for {
		for i < len(s) && (s[i] == ',' || s[i] == ' ') {
			i++
		}
		if i >= len(s) {
			return nil, "", false
		}
		if s[i] == '}' {
			return labels, s[i+1:], true
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 || i+eq+1 >= len(s) || s[i+eq+1] != '"' {
			return nil, "", false
		}
		key := strings.TrimSpace(s[i : i+eq])
		j := i + eq + 2
		var val strings.Builder
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[j])
				}
				continue
			}
			val.WriteByte(s[j])
		}
		if j >= len(s) {
			return nil, "", false
		}
		labels[key] = val.String()
		i = j + 1
	}
}

// selfRegistry holds the process-wide producer counters of internal/kafka, so that the
// benchmark can read its own writes (the load generator writes its orders with
// pkafka.Producer) as its children's /metrics show theirs.
var selfRegistry = sync.OnceValue(func() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(pkafka.Collectors()...)
	return reg
})

// selfProduced reads the byte counters of the benchmark's own process. found reports
// whether there are any (there are none before its first write).
func selfProduced() (p produced, found bool) {
	p = produced{}
	mfs, err := selfRegistry().Gather()
	if err != nil {
		return p, false
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if name != metricProducedBytes && name != metricProducedRecordBytes {
			continue
		}
		for _, m := range mf.GetMetric() {
			topic := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "topic" {
					topic = l.GetValue()
				}
			}
			v := m.GetCounter().GetValue()
			b := p[topic]
			if name == metricProducedBytes {
				b.batch += v
			} else {
				b.record += v
			}
			p[topic] = b
			found = true
		}
	}
	return p, found
}

// The request counters of internal/kafka: how many Produce and Fetch requests a process
// sent, which shows how well it batches.
const (
	metricProduceRequests = "podium_kafka_produce_requests_total"
	metricFetchRequests   = "podium_kafka_fetch_requests_total"
)

// requestCounts is one process's Produce and Fetch requests so far.
type requestCounts struct {
	produce, fetch float64
}

// setRequests sets the requests per order of the window from the counters at its start and
// end (none when orders is 0 or the process exports no counters).
func (pr *ProcResult) setRequests(from, to requestCounts, orders int64) {
	if orders <= 0 {
		return
	}
	pr.ProduceRequestsPerOrder = max(to.produce-from.produce, 0) / float64(orders)
	pr.FetchRequestsPerOrder = max(to.fetch-from.fetch, 0) / float64(orders)
}

// parseRequests reads the request counters from a Prometheus text exposition.
func parseRequests(text string) (r requestCounts, found bool) {
	produce, ok1 := metricByLabel(text, metricProduceRequests, "")
	fetch, ok2 := metricByLabel(text, metricFetchRequests, "")
	return requestCounts{produce: produce[""], fetch: fetch[""]}, ok1 || ok2
}

// selfRequests reads the request counters of the benchmark's own process.
func selfRequests() (r requestCounts, found bool) {
	mfs, err := selfRegistry().Gather()
	if err != nil {
		return r, false
	}
	for _, mf := range mfs {
		var dst *float64
		switch mf.GetName() {
		case metricProduceRequests:
			dst = &r.produce
		case metricFetchRequests:
			dst = &r.fetch
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			*dst += m.GetCounter().GetValue()
			found = true
		}
	}
	return r, found
}

// producedSnapshot is the byte and request counters of every podium process at one moment.
type producedSnapshot struct {
	bytes    produced
	exported []string                 // processes whose byte counters were found
	requests map[string]requestCounts // by process name
}

// produced scrapes the byte counters of every child that serves /metrics and adds the
// benchmark's own.
func (s *stack) produced(ctx context.Context) producedSnapshot {
	snap := producedSnapshot{bytes: produced{}, requests: map[string]requestCounts{}}
	for _, m := range s.members {
		if m.metrics == "" {
			continue
		}
		text, err := scrape(ctx, m.metrics)
		if err != nil {
			continue
		}
		if p, ok := parseProduced(text); ok {
			snap.bytes.add(p)
			snap.exported = append(snap.exported, m.name)
		}
		if r, ok := parseRequests(text); ok {
			snap.requests[m.name] = r
		}
	}
	if p, ok := selfProduced(); ok {
		snap.bytes.add(p)
		snap.exported = append(snap.exported, selfName)
	}
	if r, ok := selfRequests(); ok {
		snap.requests[selfName] = r
	}
	return snap
}

// TopicBytes is what one run wrote to one topic, in total and per order.
type TopicBytes struct {
	Bytes               int64   `json:"bytes"`        // record batches as sent, after compression
	RecordBytes         int64   `json:"record_bytes"` // key + value + headers, before compression
	BytesPerOrder       float64 `json:"bytes_per_order"`
	RecordBytesPerOrder float64 `json:"record_bytes_per_order"`
}

// bytesPerOrder divides what was written between two snapshots by the orders of the window:
// the total over every topic (compressed and uncompressed) and each topic's share.
func bytesPerOrder(before, after produced, orders int64) (batch, record float64, byTopic map[string]TopicBytes) {
	d := after.since(before)
	byTopic = make(map[string]TopicBytes, len(d))
	var sumBatch, sumRecord float64
	for _, t := range slices.Sorted(maps.Keys(d)) {
		b := d[t]
		sumBatch += b.batch
		sumRecord += b.record
		tb := TopicBytes{Bytes: int64(b.batch), RecordBytes: int64(b.record)}
		if orders > 0 {
			tb.BytesPerOrder = b.batch / float64(orders)
			tb.RecordBytesPerOrder = b.record / float64(orders)
		}
		byTopic[t] = tb
	}
	if orders > 0 {
		batch, record = sumBatch/float64(orders), sumRecord/float64(orders)
	}
	return batch, record, byTopic
}
