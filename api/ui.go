package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/podiumhq/podium/api/diagram"
	"github.com/podiumhq/podium/orchestrator/order"
	"github.com/podiumhq/podium/orchestrator/saga"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows nothing but this origin: the pages load no third-party
// resource, and no inline script or style.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ui renders the dashboard pages.
type ui struct {
	s       *Service
	pages   map[string]*template.Template
	layouts map[string]*diagram.Layout // by definition name, computed once
	static  http.Handler
}

func newUI(s *Service) (*ui, error) {
	u := &ui{s: s, pages: map[string]*template.Template{}, layouts: map[string]*diagram.Layout{}}
	for _, d := range s.cfg.Definitions {
		u.layouts[d.Name] = diagram.New(d)
	}
	funcs := template.FuncMap{
		"clock":      func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
		"stamp":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") },
		"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"offset":     offset,
		"money":      Money,
		"words":      func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
		"short":      func(s string) string { return s[:min(len(s), 8)] },
		"prettyJSON": prettyJSON,
		"shortType":  diagram.ShortType,
		"join":       strings.Join,
		"dur":        func(d time.Duration) string { return d.String() },
		"window":     window,
		"attempts":   func(r saga.RetryPolicy) int { return r.WithDefaults().MaxAttempts },
	}
	for _, page := range []string{"index", "orders", "order", "saga", "notfound", "login"} {
		t, err := template.New(page).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", page, err)
		}
		u.pages[page] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	u.static = http.StripPrefix("/static/", http.FileServerFS(static))
	return u, nil
}

// layout returns the layout of a definition, nil if unknown.
func (u *ui) layout(definition string) *diagram.Layout { return u.layouts[definition] }

func (u *ui) routes(mux *http.ServeMux, handle func(string, http.HandlerFunc)) {
	handle("GET /{$}", u.index)
	handle("GET /ui/orders", u.orders)
	handle("GET /ui/orders/{id}", u.order)
	handle("GET /ui/orders/{id}/live", u.orderLive)
	handle("GET /ui/saga", u.saga)
	handle("GET /login", u.loginPage)
	handle("POST /login", u.login)
	handle("POST /logout", u.logout)
	handle("GET /ui/go", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSpace(r.URL.Query().Get("id"))
		if id == "" || strings.Contains(id, "/") {
			http.Redirect(w, r, "/ui/orders", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/ui/orders/"+url.PathEscape(id), http.StatusSeeOther)
	})
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		u.static.ServeHTTP(w, r)
	}))
}

// page is what every page template gets.
type page struct {
	Title    string
	Nav      string
	Ready    bool
	Statuses []order.Status
	// Auth is set when the API requires a token: the pages offer to log out.
	Auth bool
	Data any
}

func (u *ui) render(w http.ResponseWriter, code int, name, tmpl string, p page) {
	p.Ready = u.s.model.Ready()
	p.Statuses = Statuses
	p.Auth = u.s.guard != nil
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, tmpl, p); err != nil {
		u.s.log.Error().Err(err).Str("page", name).Msg("rendering page")
		http.Error(w, "rendering page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// indexData is the dashboard's first paint; the script keeps it live.
type indexData struct {
	Counts map[order.Status]int
	Total  int
}

func (u *ui) index(w http.ResponseWriter, _ *http.Request) {
	counts, total := u.s.model.Counts()
	u.render(w, http.StatusOK, "index", "index", page{Title: "podium", Nav: "dashboard", Data: indexData{Counts: counts, Total: total}})
}

type ordersData struct {
	Status order.Status
	Page   Page
	Counts map[order.Status]int
	Total  int
	Error  string
	Next   string
}

func (u *ui) orders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := ordersData{Status: order.Status(q.Get("status"))}
	d.Counts, d.Total = u.s.model.Counts()
	code := http.StatusOK
	p, err := u.s.model.List(ListQuery{Status: d.Status, Cursor: q.Get("cursor")})
	if err != nil {
		code, d.Error = http.StatusBadRequest, err.Error()
		if d.Status != "" && !validStatus(d.Status) {
			d.Error += " (valid: " + joinStatuses() + ")"
		}
	}
	d.Page = p
	if p.NextCursor != "" {
		v := url.Values{"cursor": {p.NextCursor}}
		if d.Status != "" {
			v.Set("status", string(d.Status))
		}
		d.Next = "/ui/orders?" + v.Encode()
	}
	title := "orders"
	if d.Status != "" {
		title = string(d.Status) + " orders"
	}
	u.render(w, code, "orders", "orders", page{Title: title + " · podium", Nav: "orders", Data: d})
}

func joinStatuses() string {
	s := make([]string, len(Statuses))
	for i, st := range Statuses {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// orderData is the order page.
type orderData struct {
	ID     string
	Found  bool
	Detail OrderDetail
	SVG    template.HTML
	Steps  []StepView
	// Limits is the read model's window, for the page of an order it does not hold.
	Limits Limits
}

func (u *ui) orderData(id string) orderData {
	d := orderData{ID: id, Limits: u.s.model.Limits()}
	v, ok := u.s.model.view(id)
	if !ok {
		return d
	}
	det, st := u.s.detail(v)
	d.Found, d.Detail, d.Steps = true, det, det.Steps
	if lay := u.layout(st.Definition); lay != nil {
		// The SVG is built from escaped text only (package diagram escapes every string).
		d.SVG = template.HTML(lay.SVG(st)) //nolint:gosec // escaped by diagram
	}
	return d
}

func (u *ui) order(w http.ResponseWriter, r *http.Request) {
	d := u.orderData(r.PathValue("id"))
	if !d.Found {
		u.render(w, http.StatusNotFound, "notfound", "notfound", page{Title: "order not found · podium", Nav: "orders", Data: d})
		return
	}
	u.render(w, http.StatusOK, "order", "order", page{Title: d.ID + " · podium", Nav: "orders", Data: d})
}

// orderLive renders the live part of an order page, for its script to swap in.
func (u *ui) orderLive(w http.ResponseWriter, r *http.Request) {
	d := u.orderData(r.PathValue("id"))
	code := http.StatusOK
	if !d.Found {
		code = http.StatusNotFound
	}
	u.render(w, code, "order", "order-live", page{Data: d})
}

type sagaData struct {
	Definitions []sagaView
}

type sagaView struct {
	Def *saga.Definition
	SVG template.HTML
}

func (u *ui) saga(w http.ResponseWriter, _ *http.Request) {
	var d sagaData
	for _, def := range u.s.cfg.Definitions {
		d.Definitions = append(d.Definitions, sagaView{Def: def, SVG: template.HTML(u.layout(def.Name).SVG(nil))}) //nolint:gosec // escaped by diagram
	}
	u.render(w, http.StatusOK, "saga", "saga", page{Title: "saga · podium", Nav: "saga", Data: d})
}

// window writes a retention like a person would: "7 days", "36h0m0s".
func window(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n != 1 {
			return strconv.Itoa(int(n)) + " days"
		}
		return "1 day"
	}
	return d.String()
}

// offset is t relative to the start: "+1.234s".
func offset(start, t time.Time) string {
	if start.IsZero() {
		return ""
	}
	d := t.Sub(start)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}

// zeroDecimals and threeDecimals are the ISO 4217 currencies whose minor unit is not a
// hundredth.
var (
	zeroDecimals  = " BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF "
	threeDecimals = " BHD IQD JOD KWD LYD OMR TND "
)

// Money formats integer minor units of an ISO 4217 currency: Money(3998, "EUR") = "39.98 EUR".
func Money(minor int64, currency string) string {
	digits := 2
	switch {
	case strings.Contains(zeroDecimals, " "+currency+" "):
		digits = 0
	case strings.Contains(threeDecimals, " "+currency+" "):
		digits = 3
	}
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	if digits > 0 {
		for len(s) <= digits {
			s = "0" + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return strings.TrimSpace(s + " " + currency)
}

func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
