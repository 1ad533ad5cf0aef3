package grafana_test

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gooclaim/auth/deploy/grafana"
	"github.com/gooclaim/auth/internal/testserver"
	"github.com/gooclaim/auth/metrics"
)

type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

var wantDatasource = datasource{Type: "prometheus", UID: "${datasource}"}

// scrapeAll returns the families a fully wired node exports: a server
// with every collector registered, over live objects (with Redis, at an
// address it never reaches since no request is made).
func scrapeAll(t *testing.T) map[string]*dto.MetricFamily {
	m := metrics.New(metrics.BuildInfo{Version: "test", Commit: "c", Date: "d"})
	testserver.New(t, testserver.Options{Metrics: m, RedisURL: "redis://127.0.0.1:1/0"})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

var (
	metricName = regexp.MustCompile(`\b(?:gooclaim|go|process)_[a-zA-Z0-9_]+\b`)
	selector   = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	plainWords = regexp.MustCompile(`^[a-z0-9_]+(\|[a-z0-9_]+)*$`)
)

// targetLabels are added by Prometheus when it scrapes.
var targetLabels = []string{"instance", "job"}

// family resolves a name a query uses — a histogram's _bucket, _sum and
// _count included — to the family in the scrape.
func family(fams map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, bool) {
	if f, ok := fams[name]; ok {
		return f, false
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if f := fams[base]; ok && f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
			return f, suffix == "_bucket"
		}
	}
	return nil, false
}

// labelValues returns the values of label across the family's series.
func labelValues(f *dto.MetricFamily, label string) []string {
	var vs []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && !slices.Contains(vs, l.GetValue()) {
				vs = append(vs, l.GetValue())
			}
		}
	}
	return vs
}

// TestDashboardMatchesMetrics parses the dashboard and checks each query
// against a scrape: every metric it names exists, every label it selects
// or groups by exists on those metrics, every literal label value it
// selects occurs; and every metric of the service is on the dashboard.
func TestDashboardMatchesMetrics(t *testing.T) {
	var d dashboard
	if err := json.Unmarshal(grafana.Dashboard, &d); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q", d.Title, d.UID)
	}
	fams := scrapeAll(t)

	var exprs []string
	hasDatasourceVar := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			hasDatasourceVar = v.Name == "datasource" && string(v.Query) == `"prometheus"`
		case "query":
			if v.Datasource == nil || *v.Datasource != wantDatasource {
				t.Errorf("variable %s: datasource %v, want %v", v.Name, v.Datasource, wantDatasource)
			}
			exprs = append(exprs, v.Definition)
		}
	}
	if !hasDatasourceVar {
		t.Error(`no variable "datasource" of type datasource for Prometheus`)
	}

	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || *p.Datasource != wantDatasource {
				t.Errorf("panel %q: datasource %v, want %v", p.Title, p.Datasource, wantDatasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				if q.Datasource != nil && *q.Datasource != wantDatasource {
					t.Errorf("panel %q query %s: datasource %v", p.Title, q.RefID, q.Datasource)
				}
				if q.Expr == "" || q.RefID == "" {
					t.Errorf("panel %q: a query without expr or refId", p.Title)
				}
				exprs = append(exprs, q.Expr)
			}
		}
	}
	walk(d.Panels)

	used := map[string]bool{}
	for _, expr := range exprs {
		// The labels of the metrics this query reads, for its groupings.
		var labels []string
		for _, name := range metricName.FindAllString(expr, -1) {
			f, bucket := family(fams, name)
			if f == nil {
				t.Errorf("%s, in %s: no such metric in the scrape", name, expr)
				continue
			}
			used[f.GetName()] = true
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName())
				}
			}
			if bucket {
				labels = append(labels, "le")
			}
		}
		labels = append(labels, targetLabels...)
		for _, sel := range selector.FindAllStringSubmatch(expr, -1) {
			f, _ := family(fams, sel[1])
			if f == nil {
				continue // reported above
			}
			for _, mt := range matcher.FindAllStringSubmatch(sel[2], -1) {
				label, op, value := mt[1], mt[2], mt[3]
				if slices.Contains(targetLabels, label) {
					continue
				}
				values := labelValues(f, label)
				if len(values) == 0 {
					t.Errorf("%s has no label %q (in %s)", sel[1], label, expr)
					continue
				}
				if (op == "=" || op == "=~") && plainWords.MatchString(value) {
					for _, v := range strings.Split(value, "|") {
						if !slices.Contains(values, v) {
							t.Errorf("%s{%s} selects the value %q, which never occurs (values: %v)", sel[1], label, v, values)
						}
					}
				}
			}
		}
		for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
					t.Errorf("grouping by %q, which none of the metrics of %s has", l, expr)
				}
			}
		}
	}

	var missing []string
	for name := range fams {
		if strings.HasPrefix(name, metrics.Namespace+"_") && !used[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("metrics on no panel of the dashboard: %v", missing)
	}
}
