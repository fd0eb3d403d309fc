package api

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus collectors.
type metrics struct {
	requests    *prometheus.CounterVec   // HTTP requests by route, method and code
	latency     *prometheus.HistogramVec // HTTP request duration by route
	snapshots   *prometheus.CounterVec   // changelog records by result
	events      *prometheus.CounterVec   // orders.events records by result
	transitions *prometheus.CounterVec   // status changes observed live, by saga type and new status
	published   *prometheus.CounterVec   // records published by type and result
	rejected    *prometheus.CounterVec   // requests refused by reason
	sseClients  prometheus.Gauge         // open /events streams
	ready       prometheus.Gauge         // 1 once the read model is restored
}

func newMetrics(reg prometheus.Registerer, m *ReadModel) (*metrics, error) {
	mt := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_api_http_requests_total", Help: "HTTP requests, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "podium_api_http_request_seconds", Help: "HTTP request duration by route (server-sent event streams excluded).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"route"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_api_snapshots_total", Help: "podium.saga-state records read, by result (applied, stale, tombstone, internal, invalid).",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_api_events_total", Help: "orders.events records read, by result (applied: a timeline record; stale: a redelivered one; other: a lifecycle event; invalid).",
		}, []string{"result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_api_order_transitions_total", Help: "Saga status changes seen since the read model was restored, by saga type and new status (as the type's definition names it).",
		}, []string{"type", "status"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_api_published_total", Help: "Records published by the API, by event type and result (ok, error).",
		}, []string{"type", "result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "podium_api_rejected_requests_total", Help: "Requests refused, by reason (invalid, too_large, unauthorized, forbidden_origin, unsupported_media_type, too_many_streams, unknown_order, conflict).",
		}, []string{"reason"}),
		sseClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podium_api_sse_clients", Help: "Open server-sent event streams (/events).",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podium_api_ready", Help: "1 once the read model caught up with the changelog's watermarks at start.",
		}),
	}
	for _, c := range []prometheus.Collector{mt.requests, mt.latency, mt.snapshots, mt.events, mt.transitions, mt.published,
		mt.rejected, mt.sseClients, mt.ready, &ordersCollector{m: m}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return mt, nil
}

// ordersCollector exports the read model's counts at scrape time.
type ordersCollector struct{ m *ReadModel }

var (
	ordersDesc  = prometheus.NewDesc("podium_api_orders", "Order sagas in the read model, by status (pending, approved, completed, cancelling, cancelled, failed).", []string{"status"}, nil)
	sagasDesc   = prometheus.NewDesc("podium_api_sagas", "Sagas in the read model, by saga type and status (as the type's definition names it).", []string{"type", "status"}, nil)
	totalDesc   = prometheus.NewDesc("podium_api_orders_total_known", "Sagas in the read model, of every type.", nil, nil)
	rateDesc    = prometheus.NewDesc("podium_api_throughput_per_second", "Sagas per second over the last 10s, every type together, by event (placed: started; completed; cancelled: compensated; failed).", []string{"event"}, nil)
	droppedDesc = prometheus.NewDesc("podium_api_orders_dropped_total", "Sagas that left the read model, by reason (retention: finished longer ago than --retention; max_orders: evicted by the --max-orders cap).", []string{"reason"}, nil)
)

func (c *ordersCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ordersDesc
	ch <- sagasDesc
	ch <- totalDesc
	ch <- rateDesc
	ch <- droppedDesc
}

func (c *ordersCollector) Collect(ch chan<- prometheus.Metric) {
	counts, total := c.m.Counts()
	for typ, byStatus := range counts {
		for status, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(sagasDesc, prometheus.GaugeValue, float64(n), typ, status)
			if typ == OrderType {
				ch <- prometheus.MustNewConstMetric(ordersDesc, prometheus.GaugeValue, float64(n), status)
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(totalDesc, prometheus.GaugeValue, float64(total))
	for name, v := range c.m.Throughput().PerSecond {
		ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, v, name)
	}
	expired, evicted := c.m.Dropped()
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(expired), "retention")
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(evicted), "max_orders")
}
