package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	kafkago "github.com/segmentio/kafka-go"
	"go.yaml.in/yaml/v3"

	"github.com/podiumhq/podium/api"
	pkafka "github.com/podiumhq/podium/internal/kafka"
	"github.com/podiumhq/podium/orchestrator"
	"github.com/podiumhq/podium/workers"
)

const (
	rulesFile     = "prometheus/podium-alerts.yml"
	rulesTestFile = "prometheus/podium-alerts.test.yml"
	configFile    = "prometheus/prometheus.yml"
	readmeFile    = "README.md"
	runbookPrefix = "https://github.com/podiumhq/podium/blob/main/deploy/README.md#"
)

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func readRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("parsing %s: %v", rulesFile, err)
	}
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", rulesFile)
	}
	return rules
}

// promtool returns the path of promtool, or skips the test.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not on PATH: install Debian's prometheus package (apt-get install prometheus), as .ci/run does")
	}
	return path
}

func runPromtool(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPromtool checks the rules and the example configuration with promtool and runs the
// rules' unit tests (alerts that must and must not fire).
func TestPromtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		{"check", "config", configFile},
		{"test", "rules", rulesTestFile},
	} {
		t.Run(strings.Join(args[:2], "_"), func(t *testing.T) { runPromtool(t, bin, args...) })
	}
}

// TestAlertsAreComplete checks what an operator relies on in every alert: a pending
// period, a severity, a summary, a description and a runbook link to a section of
// deploy/README.md that exists.
func TestAlertsAreComplete(t *testing.T) {
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := headingAnchors(string(readme))
	alerts := 0
	seen := map[string]bool{}
	for _, r := range readRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts++
		if seen[r.Alert] {
			t.Errorf("alert %s: defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if r.For == "" {
			t.Errorf("alert %s: no for:", r.Alert)
		}
		if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
			t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, s)
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("alert %s: no %s annotation", r.Alert, a)
			}
		}
		anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookPrefix)
		if !ok {
			t.Errorf("alert %s: runbook_url %q does not start with %s", r.Alert, r.Annotations["runbook_url"], runbookPrefix)
			continue
		}
		if !anchors[anchor] {
			t.Errorf("alert %s: runbook anchor #%s is no heading of deploy/README.md", r.Alert, anchor)
		}
	}
	if alerts == 0 {
		t.Fatalf("%s: no alerts", rulesFile)
	}
}

// headingAnchors returns the anchors GitHub makes for the Markdown headings of doc:
// lowercase, punctuation dropped, spaces as hyphens.
func headingAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		h = drop.ReplaceAllString(strings.ToLower(h), "")
		anchors[strings.ReplaceAll(h, " ", "-")] = true
	}
	return anchors
}

// TestRulesNameRegisteredMetrics fails when a rule names a metric that no podium process
// exports (a renamed or removed metric), or a recording rule that the file does not define.
func TestRulesNameRegisteredMetrics(t *testing.T) {
	cat := buildCatalogue(t)
	rules := readRules(t)
	recorded := map[string]bool{}
	for _, r := range rules {
		if r.Record != "" {
			recorded[r.Record] = true
		}
	}
	for _, r := range rules {
		name := r.Alert + r.Record
		for _, m := range metricNames(r.Expr) {
			if err := cat.check(m); err != nil {
				t.Errorf("rule %s: %v", name, err)
			}
		}
		for _, rec := range recordedNames(r.Expr) {
			if !recorded[rec] {
				t.Errorf("rule %s: uses %s, which no recording rule defines", name, rec)
			}
		}
	}
}

var (
	// metricRef matches the names of podium's metrics and of the Go and process
	// collectors every podium process registers.
	metricRef = regexp.MustCompile(`\b(?:podium|process|go)_[a-zA-Z0-9_]+`)
	// recordedRef matches the level:metric:operations names of recording rules.
	recordedRef = regexp.MustCompile(`\bpodium:[a-zA-Z0-9_:]+`)
)

func metricNames(expr string) []string   { return metricRef.FindAllString(expr, -1) }
func recordedNames(expr string) []string { return recordedRef.FindAllString(expr, -1) }

// catalogue is every metric family a podium process can export, by name, with its type
// when it is known.
type catalogue struct {
	types map[string]dto.MetricType
	// exists reports whether a family is registered whose type is unknown (a vector of the
	// API's without any series yet).
	exists func(name string) bool
}

// check reports whether the PromQL name m selects series of a registered family: the
// family itself, or the _bucket, _sum and _count series of a histogram (a histogram has
// no series under its bare name) and the _sum and _count of a summary.
func (c catalogue) check(m string) error {
	if typ, ok := c.types[m]; ok {
		if typ == dto.MetricType_HISTOGRAM {
			return fmt.Errorf("%s is a histogram: select %[1]s_bucket, %[1]s_sum or %[1]s_count", m)
		}
		return nil
	}
	suffixes := map[string][]dto.MetricType{
		"_bucket": {dto.MetricType_HISTOGRAM},
		"_sum":    {dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY},
		"_count":  {dto.MetricType_HISTOGRAM, dto.MetricType_SUMMARY},
	}
	for suffix, types := range suffixes {
		base, ok := strings.CutSuffix(m, suffix)
		if !ok {
			continue
		}
		if typ, ok := c.types[base]; ok {
			if slices.Contains(types, typ) {
				return nil
			}
			return fmt.Errorf("%s: %s is a %s, it has no %s series", m, base, typ, suffix)
		}
	}
	if c.exists(m) {
		return nil
	}
	return fmt.Errorf("%s: no podium process registers this metric", m)
}

// recorder is a prometheus.Registerer that keeps the collectors registered with it.
type recorder struct{ collectors []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}
func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// descName is the fully-qualified name in a Desc's String() — the only public view of it.
var descName = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)

// buildCatalogue builds the catalogue from the collectors the code registers: the
// orchestrator's and the workers' metrics, the Kafka client's, the Go and process
// collectors (cmd/podium/metrics.go), and the API's.
func buildCatalogue(t *testing.T) catalogue {
	t.Helper()
	rec := &recorder{}
	orchestrator.NewMetrics(rec)
	workers.NewMetrics(rec)
	rec.MustRegister(pkafka.Collectors()...)
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	types := map[string]dto.MetricType{}
	for _, c := range rec.collectors {
		addCollector(t, types, c)
	}

	// The API registers its collectors itself, with a *prometheus.Registry: gather what it
	// exports after one request, and ask the registry about the vectors still empty.
	reg := prometheus.NewRegistry()
	svc, err := api.New(api.Config{
		Kafka:     pkafka.Config{Brokers: []string{"127.0.0.1:9"}},
		Registry:  reg,
		Publisher: discard{},
	})
	if err != nil {
		t.Fatalf("building the API service: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	svc.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering the API's metrics: %v", err)
	}
	for _, f := range families {
		types[f.GetName()] = f.GetType()
	}
	for _, want := range []string{"podium_orchestrator_step_seconds", "podium_worker_commands_total", "podium_api_ready", "process_cpu_seconds_total"} {
		if _, ok := types[want]; !ok {
			t.Fatalf("catalogue has no %s: the catalogue is broken, not the rules", want)
		}
	}
	return catalogue{types: types, exists: func(name string) bool { return registered(reg, name) }}
}

// addCollector records the families c describes with their types: from the vector's Go
// type, or from the metrics c collects.
func addCollector(t *testing.T, types map[string]dto.MetricType, c prometheus.Collector) {
	t.Helper()
	var vecType *dto.MetricType
	switch c.(type) {
	case *prometheus.CounterVec:
		vecType = dto.MetricType_COUNTER.Enum()
	case *prometheus.GaugeVec:
		vecType = dto.MetricType_GAUGE.Enum()
	case *prometheus.HistogramVec:
		vecType = dto.MetricType_HISTOGRAM.Enum()
	case *prometheus.SummaryVec:
		vecType = dto.MetricType_SUMMARY.Enum()
	}
	if vecType != nil {
		descs := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			types[nameOf(t, d)] = *vecType
		}
		return
	}
	metrics := make(chan prometheus.Metric, 64)
	go func() { c.Collect(metrics); close(metrics) }()
	for m := range metrics {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatalf("writing %s: %v", m.Desc(), err)
		}
		typ := dto.MetricType_UNTYPED
		switch {
		case pb.Counter != nil:
			typ = dto.MetricType_COUNTER
		case pb.Gauge != nil:
			typ = dto.MetricType_GAUGE
		case pb.Histogram != nil:
			typ = dto.MetricType_HISTOGRAM
		case pb.Summary != nil:
			typ = dto.MetricType_SUMMARY
		}
		types[nameOf(t, m.Desc())] = typ
	}
}

func nameOf(t *testing.T, d *prometheus.Desc) string {
	t.Helper()
	m := descName.FindStringSubmatch(d.String())
	if m == nil {
		t.Fatalf("no fqName in %s: client_golang changed Desc.String", d)
	}
	return m[1]
}

// registered reports whether reg holds a family named name: a registry refuses a second
// descriptor with a registered name, whatever its labels.
func registered(reg *prometheus.Registry, name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "deploy test probe"})
	if err := reg.Register(probe); err != nil {
		var are prometheus.AlreadyRegisteredError
		return errors.As(err, &are) || strings.Contains(err.Error(), "previously registered descriptor with the same fully-qualified name")
	}
	reg.Unregister(probe)
	return false
}

// discard is an api.Publisher that drops what it is given.
type discard struct{}

func (discard) WriteMessages(context.Context, ...kafkago.Message) error { return nil }

// TestCatalogueCatchesRenames makes sure the name check can fail.
func TestCatalogueCatchesRenames(t *testing.T) {
	cat := buildCatalogue(t)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"podium_orchestrator_consumer_lag", true},
		{"podium_orchestrator_step_seconds_bucket", true},
		{"podium_api_http_request_seconds_count", true},
		{"podium_api_rejected_requests_total", true}, // an API vector without series
		{"go_gc_duration_seconds_sum", true},         // a summary
		{"podium_orchestrator_consumer_lags", false}, // renamed
		{"podium_orchestrator_step_seconds", false},  // a histogram's bare name
		{"podium_worker_commands_total_bucket", false},
		{"podium_worker_consumer_lag", false}, // workers export no lag
		{"podium_api_no_such_metric", false},
	} {
		err := cat.check(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("check(%s) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestExampleConfigLoadsTheRules keeps the example configuration pointing at the rules
// file next to it (promtool resolves rule_files relative to the configuration).
func TestExampleConfigLoadsTheRules(t *testing.T) {
	b, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("parsing %s: %v", configFile, err)
	}
	if !slices.Contains(cfg.RuleFiles, filepath.Base(rulesFile)) {
		t.Errorf("%s: rule_files %v, want %s", configFile, cfg.RuleFiles, filepath.Base(rulesFile))
	}
	for _, sc := range cfg.ScrapeConfigs {
		if !strings.HasPrefix(sc.JobName, "podium") {
			t.Errorf("%s: job %q: the rules expect podium's jobs to start with \"podium\"", configFile, sc.JobName)
		}
	}
	if len(cfg.ScrapeConfigs) == 0 {
		t.Errorf("%s: no scrape_configs", configFile)
	}
}
