// Package deploy holds podium's operations files — Prometheus alerting and recording rules
// (prometheus/podium-alerts.yml, with promtool unit tests), an example Prometheus
// configuration for the compose stack (prometheus/prometheus.yml) and a Grafana dashboard
// (grafana/podium-dashboard.json) — and the tests that keep them true to the code.
//
// It has no Go API. Its tests run promtool (check rules, check config, test rules; skipped
// with a message when promtool is not on PATH), check that every metric the rules and the
// dashboard name is registered by the orchestrator, the workers, the API or the Kafka
// client, and regenerate the dashboard from dashboard_test.go: after changing a panel, run
//
//	go test ./deploy -run TestDashboardUpToDate -update
//
// See deploy/README.md.
package deploy
