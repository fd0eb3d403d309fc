package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// metricSum sums every sample of the Prometheus text exposition whose metric name is
// name, whatever its labels. found reports whether there was one.
func metricSum(text, name string) (sum float64, found bool) {
	sums, found := metricByLabel(text, name, "")
	return sums[""], found
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// scrape fetches the /metrics text of a process's metrics server at addr.
func scrape(ctx context.Context, addr string) (string, error) {
	b, err := httpGet(ctx, "http://"+addr+"/metrics")
	return string(b), err
}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}
