package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const dashboardFile = "grafana/podium-dashboard.json"

var update = flag.Bool("update", false, "rewrite grafana/podium-dashboard.json from the definition in dashboard_test.go")

// ds is the datasource of every panel, target and query variable: the ${datasource}
// variable, so the dashboard names no datasource UID.
var ds = map[string]any{"type": "prometheus", "uid": "${datasource}"}

// target is one PromQL query of a panel.
type target struct{ expr, legend string }

func q(expr, legend string) target { return target{expr, legend} }

// panelSpec is one panel before layout.
type panelSpec struct {
	kind, title, unit, description string
	w, h                           int
	targets                        []target
	row                            bool
}

func row(title string) panelSpec { return panelSpec{kind: "row", title: title, row: true} }

// graph is a time series panel half the width of the dashboard.
func graph(title, unit, description string, targets ...target) panelSpec {
	return panelSpec{kind: "timeseries", title: title, unit: unit, description: description, w: 12, h: 8, targets: targets}
}

// stat is a single-number panel, a sixth of the dashboard's width.
func stat(title, unit, description string, targets ...target) panelSpec {
	return panelSpec{kind: "stat", title: title, unit: unit, description: description, w: 4, h: 4, targets: targets}
}

// The selectors every query repeats.
const (
	job        = `job=~"$job"`
	rate       = `[$__rate_interval]`
	failedType = `type="podium.order.failed.v1"`
)

// dashboardPanels is the dashboard's content, top to bottom.
func dashboardPanels() []panelSpec {
	return []panelSpec{
		row("Overview"),
		stat("Orders placed /s", "ops", "orders.placed records read by the orchestrators per second.",
			q(`sum(rate(podium_orchestrator_records_total{`+job+`, topic="orders.placed"}`+rate+`))`, "placed")),
		stat("Sagas in flight", "short", "Sagas held in memory by all orchestrators.",
			q(`sum(podium_orchestrator_sagas{`+job+`})`, "in flight")),
		// "or vector(0)": the counters' series only appear with the first failure or dead letter.
		stat("Failed sagas (time range)", "short", "Orders that ended in status failed during the time range: each waits for an operator's retry.",
			q(`sum(increase(podium_orchestrator_lifecycle_events_total{`+job+`, `+failedType+`}[$__range])) or vector(0)`, "failed")),
		stat("Dead letters (time range)", "short", "Records sent to orders.dlq and the workers' DLQs during the time range.",
			q(`sum(increase(podium_orchestrator_dead_letters_total{`+job+`}[$__range])) or vector(0)`, "orchestrator"),
			q(`sum(increase(podium_worker_dead_letters_total{`+job+`}[$__range])) or vector(0)`, "workers")),
		stat("Partitions owned", "short", "Input partitions owned by all orchestrators together: the partition count when all is well.",
			q(`sum(podium_orchestrator_owned_partitions{`+job+`})`, "owned")),
		stat("Processes up", "short", "Scrape targets up, of those scraped.",
			q(`sum(up{`+job+`})`, "up"),
			q(`count(up{`+job+`})`, "scraped")),

		row("Throughput"),
		graph("Orders per second", "ops", "Orders placed (orders.placed records read) and lifecycle events published, by event.",
			q(`sum(rate(podium_orchestrator_records_total{`+job+`, topic="orders.placed"}`+rate+`))`, "placed"),
			q(`label_replace(sum by (type) (rate(podium_orchestrator_lifecycle_events_total{`+job+`}`+rate+`)), "event", "$1", "type", "podium\\.order\\.(.+)\\.v1")`, "{{event}}")),
		graph("Records processed per second, by topic", "ops", "Input records the orchestrators processed: orders, operator requests and every worker's replies.",
			q(`sum by (topic) (rate(podium_orchestrator_records_total{`+job+`}`+rate+`))`, "{{topic}}")),
		graph("Commands sent per second, by worker and kind", "ops", "Commands the orchestrators sent: do (a step) and undo (a compensation).",
			q(`sum by (worker, kind) (rate(podium_orchestrator_commands_total{`+job+`}`+rate+`))`, "{{worker}} {{kind}}")),
		graph("Orders in the API's read model, by status", "short", "What the API holds (max over API instances): in flight, and finished within --retention.",
			q(`max by (status) (podium_api_orders{`+job+`})`, "{{status}}")),

		row("Saga steps"),
		graph("Step latency p50, by step", "s", "Command sent to reply applied, median.",
			q(`histogram_quantile(0.5, sum by (step, le) (rate(podium_orchestrator_step_seconds_bucket{`+job+`}`+rate+`)))`, "{{step}}")),
		graph("Step latency p99, by step", "s", "Command sent to reply applied, 99th percentile. The default step timeout is 10s.",
			q(`histogram_quantile(0.99, sum by (step, le) (rate(podium_orchestrator_step_seconds_bucket{`+job+`}`+rate+`)))`, "{{step}}")),
		graph("Step replies per second, by step and outcome", "ops", "Replies that settled a step: success, failure (business) or unknown (errors or timeouts exhausted).",
			q(`sum by (step, outcome) (rate(podium_orchestrator_step_seconds_count{`+job+`}`+rate+`))`, "{{step}} {{outcome}}")),
		graph("Batch time p99", "s", "Time to apply and write one batch: orchestrators, and workers (handle, write, commit).",
			q(`histogram_quantile(0.99, sum by (instance, le) (rate(podium_orchestrator_batch_seconds_bucket{`+job+`}`+rate+`)))`, "orchestrator {{instance}}"),
			q(`histogram_quantile(0.99, sum by (worker, le) (rate(podium_worker_batch_seconds_bucket{`+job+`, worker=~"$worker"}`+rate+`)))`, "{{worker}}")),

		row("In-flight sagas"),
		graph("Sagas in flight, by orchestrator", "short", "Sagas held in memory by each instance.",
			q(`sum by (instance) (podium_orchestrator_sagas{`+job+`})`, "{{instance}}")),
		graph("Finished sagas in the dedupe index, by orchestrator", "short", "Finished sagas kept as a hash and a status until the dedupe window passes.",
			q(`sum by (instance) (podium_orchestrator_finished_sagas{`+job+`})`, "{{instance}}")),
		graph("Partitions owned", "short", "Partitions each orchestrator and worker instance processes.",
			q(`sum by (instance) (podium_orchestrator_owned_partitions{`+job+`})`, "orchestrator {{instance}}"),
			q(`sum by (worker, instance) (podium_worker_owned_partitions{`+job+`, worker=~"$worker"})`, "{{worker}} {{instance}}")),
		graph("Restores", "s", "Partition restores from podium.saga-state: how many, and the slowest.",
			q(`sum(increase(podium_orchestrator_restore_seconds_count{`+job+`}`+rate+`))`, "restores"),
			q(`histogram_quantile(0.99, sum by (le) (rate(podium_orchestrator_restore_seconds_bucket{`+job+`}`+rate+`)))`, "p99 seconds")),

		row("Consumer lag"),
		graph("Orchestrator lag, by topic", "short", "Records behind the end of the input partitions, summed per topic (as of each processor's last fetch). The workers export no lag metric: watch their DLQs, step latency and timeouts, or the consumer group's lag from Kafka.",
			q(`sum by (topic) (max by (topic, partition) (podium_orchestrator_consumer_lag{`+job+`}))`, "{{topic}}")),
		graph("Orchestrator lag, 10 most lagging partitions", "short", "The partitions furthest behind.",
			q(`topk(10, max by (topic, partition) (podium_orchestrator_consumer_lag{`+job+`}))`, "{{topic}} [{{partition}}]")),

		row("Dead letters"),
		graph("Orchestrator dead letters per minute, by reason", "short", "Records sent to orders.dlq (malformed, a rule broken, too large, an unexpected type).",
			q(`sum by (reason) (rate(podium_orchestrator_dead_letters_total{`+job+`}`+rate+`)) * 60`, "{{reason}}")),
		graph("Worker dead letters per minute, by worker", "short", "Records sent to <worker>.dlq.",
			q(`sum by (worker) (rate(podium_worker_dead_letters_total{`+job+`, worker=~"$worker"}`+rate+`)) * 60`, "{{worker}}")),
		graph("Inputs ignored per second, by reason", "ops", "Inputs recorded and ignored: duplicates, late or unknown replies, unknown sagas.",
			q(`sum by (reason) (rate(podium_orchestrator_ignored_total{`+job+`}`+rate+`))`, "{{reason}}")),

		row("Retries, timeouts, compensations"),
		graph("Retries, timeouts and compensations per second", "ops", "Step attempts whose deadline passed, retries scheduled, compensation commands sent.",
			q(`sum(rate(podium_orchestrator_timeouts_total{`+job+`}`+rate+`))`, "timeouts"),
			q(`sum(rate(podium_orchestrator_retries_total{`+job+`}`+rate+`))`, "retries"),
			q(`sum(rate(podium_orchestrator_compensations_total{`+job+`}`+rate+`))`, "compensations")),
		graph("Re-sent and forwarded per second", "ops", "Commands re-sent after a restore; records forwarded to their order's home partition.",
			q(`sum(rate(podium_orchestrator_resent_commands_total{`+job+`}`+rate+`))`, "re-sent commands"),
			q(`sum(rate(podium_orchestrator_forwarded_total{`+job+`}`+rate+`))`, "forwarded (orchestrator)"),
			q(`sum(rate(podium_worker_forwarded_total{`+job+`, worker=~"$worker"}`+rate+`))`, "forwarded (workers)")),
		graph("Fencing and changelog", "short", "Batches refused after a stall, restores during which another writer appended, stale snapshots seen (per interval).",
			q(`sum(increase(podium_orchestrator_fenced_total{`+job+`}`+rate+`))`, "fenced batches"),
			q(`sum(increase(podium_orchestrator_restore_changelog_moved_total{`+job+`}`+rate+`))`, "changelog moved during restore"),
			q(`sum(increase(podium_orchestrator_stale_snapshots_total{`+job+`}`+rate+`))`, "stale snapshots")),
		graph("Tombstones written per second", "ops", "Tombstones the orchestrators write to podium.saga-state after --retention and the dedupe window.",
			q(`sum(rate(podium_orchestrator_tombstones_total{`+job+`}`+rate+`))`, "tombstones")),

		row("Workers"),
		graph("Worker commands per second, by worker and outcome", "ops", "Commands handled: success, failure (a business answer) or error (retried by the orchestrator).",
			q(`sum by (worker, outcome) (rate(podium_worker_commands_total{`+job+`, worker=~"$worker"}`+rate+`))`, "{{worker}} {{outcome}}")),
		graph("Handler time p99, by worker", "s", "Duration of one Handle call.",
			q(`histogram_quantile(0.99, sum by (worker, le) (rate(podium_worker_handler_seconds_bucket{`+job+`, worker=~"$worker"}`+rate+`)))`, "{{worker}}")),
		graph("Replayed replies and injected faults per second", "ops", "Stored replies re-sent for a repeated idempotency key; faults injected by --error-rate, --drop-rate, --duplicate-rate.",
			q(`sum by (worker) (rate(podium_worker_replayed_total{`+job+`, worker=~"$worker"}`+rate+`))`, "{{worker}} replayed"),
			q(`sum by (worker, fault) (rate(podium_worker_injected_faults_total{`+job+`, worker=~"$worker"}`+rate+`))`, "{{worker}} injected {{fault}}")),
		graph("Stored replies, by worker", "short", "Idempotency keys held in the processed stores (until --processed-retention).",
			q(`sum by (worker) (podium_worker_stored_replies{`+job+`, worker=~"$worker"})`, "{{worker}}")),

		row("Kafka"),
		graph("Bytes produced per second, by topic", "Bps", "Record batches written and acknowledged, as sent (compressed).",
			q(`sum by (topic) (rate(podium_kafka_produced_bytes_total{`+job+`}`+rate+`))`, "{{topic}}")),
		graph("Records produced per second, by topic", "ops", "Records written and acknowledged.",
			q(`sum by (topic) (rate(podium_kafka_produced_records_total{`+job+`}`+rate+`))`, "{{topic}}")),
		graph("Compression ratio", "short", "Record bytes before compression per byte sent.",
			q(`sum(rate(podium_kafka_produced_record_bytes_total{`+job+`}`+rate+`)) / sum(rate(podium_kafka_produced_bytes_total{`+job+`}`+rate+`))`, "ratio")),

		row("API"),
		graph("HTTP requests per second, by code", "ops", "Requests to the API and dashboard.",
			q(`sum by (code) (rate(podium_api_http_requests_total{`+job+`}`+rate+`))`, "{{code}}")),
		graph("HTTP latency p99, by route", "s", "Request duration (server-sent event streams excluded).",
			q(`histogram_quantile(0.99, sum by (route, le) (rate(podium_api_http_request_seconds_bucket{`+job+`}`+rate+`)))`, "{{route}}")),
		graph("Rejected requests per second, by reason", "ops", "Mutating requests refused: invalid, too_large, unauthorized, unknown_order, conflict.",
			q(`sum by (reason) (rate(podium_api_rejected_requests_total{`+job+`}`+rate+`))`, "{{reason}}")),
		graph("Readiness and live streams", "short", "1 once an API's read model is restored; open /events streams.",
			q(`podium_api_ready{`+job+`}`, "ready {{instance}}"),
			q(`podium_api_sse_clients{`+job+`}`, "streams {{instance}}")),

		row("Processes"),
		graph("Resident memory", "bytes", "Resident set size of each process.",
			q(`process_resident_memory_bytes{`+job+`}`, "{{job}} {{instance}}")),
		graph("CPU", "short", "CPU seconds per second (cores) of each process.",
			q(`rate(process_cpu_seconds_total{`+job+`}`+rate+`)`, "{{job}} {{instance}}")),
		graph("Go heap in use", "bytes", "Heap bytes in use (live and not yet collected).",
			q(`go_memstats_heap_inuse_bytes{`+job+`}`, "{{job}} {{instance}}")),
		graph("Goroutines", "short", "Goroutines of each process.",
			q(`go_goroutines{`+job+`}`, "{{job}} {{instance}}")),
	}
}

// variable builds a query variable over label values.
func variable(name, label, query, regex string) map[string]any {
	return map[string]any{
		"name": name, "label": label, "type": "query", "datasource": ds,
		"query": query, "definition": query,
		"regex": regex, "multi": true, "includeAll": true, "refresh": 2, "sort": 1,
		"current": map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
		"hide":    0, "options": []any{},
	}
}

// buildDashboard lays the panels out (rows full width, panels left to right) and returns
// the dashboard's JSON.
func buildDashboard() ([]byte, error) {
	var panels []map[string]any
	x, y, rowH := 0, 0, 0
	for i, p := range dashboardPanels() {
		id := i + 1
		if p.row {
			if x > 0 {
				y += rowH
			}
			panels = append(panels, map[string]any{
				"id": id, "type": "row", "title": p.title, "collapsed": false, "panels": []any{},
				"gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": y},
			})
			x, y, rowH = 0, y+1, 0
			continue
		}
		if x+p.w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		var targets []map[string]any
		for j, t := range p.targets {
			targets = append(targets, map[string]any{
				"refId": string(rune('A' + j)), "datasource": ds, "expr": t.expr, "legendFormat": t.legend, "range": true,
			})
		}
		panel := map[string]any{
			"id": id, "type": p.kind, "title": p.title, "description": p.description, "datasource": ds, "targets": targets,
			"gridPos":     map[string]int{"h": p.h, "w": p.w, "x": x, "y": y},
			"fieldConfig": map[string]any{"defaults": map[string]any{"unit": p.unit}, "overrides": []any{}},
		}
		switch p.kind {
		case "timeseries":
			panel["options"] = map[string]any{
				"legend":  map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
				"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
			}
		case "stat":
			panel["options"] = map[string]any{
				"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
				"colorMode":     "value", "graphMode": "area", "textMode": "value_and_name",
			}
		}
		panels = append(panels, panel)
		x += p.w
		rowH = max(rowH, p.h)
	}
	d := map[string]any{
		"title":       "podium",
		"uid":         "podium-overview",
		"description": "podium: orders, saga steps, lag, dead letters, workers, Kafka and processes. Generated by deploy/dashboard_test.go.",
		"tags":        []string{"podium", "kafka", "saga"},
		"editable":    true, "graphTooltip": 1, "refresh": "30s", "schemaVersion": 39, "version": 1,
		"time":        map[string]string{"from": "now-1h", "to": "now"},
		"timezone":    "browser",
		"links":       []any{},
		"annotations": map[string]any{"list": []any{}},
		"templating": map[string]any{"list": []any{
			map[string]any{
				"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
				"current": map[string]any{}, "hide": 0, "includeAll": false, "multi": false, "options": []any{}, "refresh": 1, "regex": "",
			},
			variable("job", "Job", "label_values(up, job)", "/^podium.*/"),
			variable("worker", "Worker", `label_values(podium_worker_commands_total{job=~"$job"}, worker)`, ""),
		}},
		"panels": panels,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TestDashboardUpToDate keeps grafana/podium-dashboard.json equal to buildDashboard's
// output; -update rewrites it.
func TestDashboardUpToDate(t *testing.T) {
	want, err := buildDashboard()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(dashboardFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the definition in dashboard_test.go: run go test ./deploy -run TestDashboardUpToDate -update", dashboardFile)
	}
}

// grafanaDashboard is the part of a dashboard's JSON the checks read.
type grafanaDashboard struct {
	SchemaVersion int `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource json.RawMessage `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Panels     []grafanaPanel  `json:"panels"`
	Targets    []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("parsing %s: %v", dashboardFile, err)
	}
	return d
}

// flat returns every panel, those nested in collapsed rows included.
func (d grafanaDashboard) flat() []grafanaPanel {
	var out []grafanaPanel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// checkDatasource reports a datasource reference that is not the ${datasource} variable.
func checkDatasource(raw json.RawMessage) error {
	var ref struct{ Type, UID string }
	if err := json.Unmarshal(raw, &ref); err != nil {
		return fmt.Errorf("datasource %s: %v", raw, err)
	}
	if ref.Type != "prometheus" || ref.UID != "${datasource}" {
		return fmt.Errorf("datasource %s: want {\"type\": \"prometheus\", \"uid\": \"${datasource}\"}", raw)
	}
	return nil
}

// TestDashboard checks the committed JSON: the schema version, the datasource variable and
// no datasource UID, a Prometheus query in every panel, unique IDs, a valid grid, and
// only metrics the code registers.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d, want >= 36", d.SchemaVersion)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == "datasource" && string(v.Query) == `"prometheus"` {
			hasDS = true
		}
		if v.Type == "query" {
			if err := checkDatasource(v.Datasource); err != nil {
				t.Errorf("variable %s: %v", v.Name, err)
			}
		}
	}
	if !hasDS {
		t.Error(`no Prometheus datasource variable named "datasource"`)
	}
	cat := buildCatalogue(t)
	ids := map[int]string{}
	panels := d.flat()
	if len(panels) == 0 {
		t.Fatal("no panels")
	}
	for _, p := range panels {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("%s: ID also used by %q", name, prev)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24-column grid", name, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if err := checkDatasource(p.Datasource); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no target", name)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("%s: target %s has no expr", name, tg.RefID)
			}
			if err := checkDatasource(tg.Datasource); err != nil {
				t.Errorf("%s: target %s: %v", name, tg.RefID, err)
			}
			if len(metricNames(tg.Expr)) == 0 && !upRef.MatchString(tg.Expr) {
				t.Errorf("%s: target %s names no podium, process, Go or up metric: %s", name, tg.RefID, tg.Expr)
			}
			for _, m := range metricNames(tg.Expr) {
				if err := cat.check(m); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			if recs := recordedNames(tg.Expr); len(recs) > 0 {
				t.Errorf("%s: uses recording rules %v: the dashboard must work without podium-alerts.yml loaded", name, recs)
			}
		}
	}
}

// upRef matches Prometheus's own up series of a target.
var upRef = regexp.MustCompile(`\bup\{`)

// grafanaVar matches the Grafana variables in a query: $name and ${name}.
var grafanaVar = regexp.MustCompile(`\$\{?(__rate_interval|__interval|__range|job|worker|datasource)\}?`)

// TestDashboardQueriesParse has promtool parse every dashboard query, written as a
// recording rule with the Grafana variables replaced by values.
func TestDashboardQueriesParse(t *testing.T) {
	bin := promtool(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range readDashboard(t).flat() {
		for _, tg := range p.Targets {
			expr := grafanaVar.ReplaceAllStringFunc(tg.Expr, func(v string) string {
				if strings.Contains(v, "__") {
					return "5m"
				}
				return ".+"
			})
			enc, err := json.Marshal(expr) // a JSON string is a YAML double-quoted scalar
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "      - record: dashboard:panel_%d_%s\n        expr: %s\n", p.ID, tg.RefID, enc)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no queries")
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, bin, "check", "rules", file)
}
