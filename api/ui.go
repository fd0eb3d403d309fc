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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/podiumhq/podium/api/diagram"
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
	layouts map[string]*diagram.Layout // by definition ID, computed once
	static  http.Handler
}

func newUI(s *Service) (*ui, error) {
	u := &ui{s: s, pages: map[string]*template.Template{}, layouts: map[string]*diagram.Layout{}}
	for _, d := range s.cfg.Definitions {
		u.layouts[d.ID()] = diagram.New(d)
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
		"sagaPage":   sagaPage,
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

// layout returns the layout of a definition by its ID, nil if unknown.
func (u *ui) layout(definition string) *diagram.Layout { return u.layouts[definition] }

// sagaPage is the dashboard page of a saga: /ui/orders/{id} for an order, /ui/sagas/{id}
// for a saga of another type.
func sagaPage(sum Summary) string {
	if sum.IsOrder() {
		return "/ui/orders/" + url.PathEscape(sum.SagaID)
	}
	return "/ui/sagas/" + url.PathEscape(sum.SagaID)
}

func (u *ui) routes(mux *http.ServeMux, handle func(string, http.HandlerFunc)) {
	handle("GET /{$}", u.index)
	handle("GET /ui/orders", u.list(true))
	handle("GET /ui/orders/{id}", u.showSaga(true))
	handle("GET /ui/orders/{id}/live", u.sagaLive(true))
	handle("GET /ui/sagas", u.list(false))
	handle("GET /ui/sagas/{id}", u.showSaga(false))
	handle("GET /ui/sagas/{id}/live", u.sagaLive(false))
	handle("GET /ui/saga", u.saga)
	handle("GET /login", u.loginPage)
	handle("POST /login", u.login)
	handle("POST /logout", u.logout)
	handle("GET /ui/go", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSpace(r.URL.Query().Get("id"))
		if id == "" || strings.Contains(id, "/") {
			http.Redirect(w, r, "/ui/sagas", http.StatusSeeOther)
			return
		}
		// A saga not held (yet) gets the order page, which waits for it.
		target := "/ui/orders/" + url.PathEscape(id)
		if sum, ok := u.s.model.Get(id); ok {
			target = sagaPage(sum)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	})
	serveStatic := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		u.static.ServeHTTP(w, r)
	}
	mux.Handle("GET /static/", http.HandlerFunc(serveStatic))
	// Browsers ask for /favicon.ico on their own for pages without a <link rel="icon">
	// (the JSON endpoints opened in a tab): the dashboard's icon, not a 404.
	mux.Handle("GET /favicon.ico", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/static/favicon.svg"
		serveStatic(w, r2)
	}))
}

// page is what every page template gets.
type page struct {
	Title string
	Nav   string
	Ready bool
	// Auth is set when the API requires a token: the pages offer to log out.
	Auth bool
	Data any
}

func (u *ui) render(w http.ResponseWriter, code int, name, tmpl string, p page) {
	p.Ready = u.s.model.Ready()
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

// tile is one status of a saga type with its count, on the dashboard and the list pages.
type tile struct {
	Type, Status string
	// Tone is the engine's status of Status (running, completed, ...), which colours it
	// where the stylesheet does not know the label.
	Tone  string
	Count int
	Href  string
}

// typeTiles are the counts of one saga type.
type typeTiles struct {
	Type  string
	Href  string // the list of its sagas
	Tiles []tile
	Total int
}

// listHref is the dashboard's list of the sagas of type typ (every type for ""), in
// status ("" every status).
func listHref(typ, status string) string {
	v := url.Values{}
	if status != "" {
		v.Set("status", status)
	}
	base := "/ui/orders"
	if typ != OrderType {
		base = "/ui/sagas"
		if typ != "" {
			v.Set("type", typ)
		}
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// tiles are the counts by status of every saga type held or served: the served types first,
// in the order of Config.Definitions, each with every one of its statuses.
func (u *ui) tiles() ([]typeTiles, int) {
	counts, total := u.s.model.Counts()
	types := u.s.model.Types()
	var others []string
	for t := range counts {
		if !slices.Contains(types, t) {
			others = append(others, t)
		}
	}
	slices.Sort(others)
	var out []typeTiles
	for _, t := range append(types, others...) {
		tt := typeTiles{Type: t, Href: listHref(t, "")}
		d := u.s.model.byName[t] // nil for a type not served
		seen := map[string]bool{}
		for _, ls := range labelStates(d) {
			seen[ls.label] = true
			tt.Tiles = append(tt.Tiles, tile{Type: t, Status: ls.label, Tone: string(ls.state.Status), Count: counts[t][ls.label], Href: listHref(t, ls.label)})
		}
		var odd []string // statuses of sagas the definitions do not name
		for st := range counts[t] {
			if !seen[st] {
				odd = append(odd, st)
			}
		}
		slices.Sort(odd)
		for _, st := range odd {
			tt.Tiles = append(tt.Tiles, tile{Type: t, Status: st, Tone: st, Count: counts[t][st], Href: listHref(t, st)})
		}
		for _, tl := range tt.Tiles {
			tt.Total += tl.Count
		}
		if d == nil && tt.Total == 0 {
			continue
		}
		out = append(out, tt)
	}
	return out, total
}

// indexData is the dashboard's first paint; the script keeps it live.
type indexData struct {
	Types []typeTiles
	Total int
}

func (u *ui) index(w http.ResponseWriter, _ *http.Request) {
	types, total := u.tiles()
	u.render(w, http.StatusOK, "index", "index", page{Title: "podium", Nav: "dashboard", Data: indexData{Types: types, Total: total}})
}

// listData is a list page: the orders (/ui/orders), or the sagas of any or one type
// (/ui/sagas).
type listData struct {
	// Orders is set for /ui/orders.
	Orders bool
	// Type and Status are the filters ("" for none).
	Type, Status string
	// Noun names what is listed: "orders", "sagas", "returns sagas".
	Noun string
	// Types are the type filters of /ui/sagas, AllTypes its unfiltered list; Filters the
	// status filters of the type (every type's statuses, summed, for none); All the list of
	// the type in every status.
	Types    []typeTiles
	AllTypes tile
	Filters  []tile
	All      tile
	Page     SagaPage
	Error    string
	Next     string
}

// list serves /ui/orders (orders set) and /ui/sagas.
func (u *ui) list(orders bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		d := listData{Orders: orders, Type: OrderType, Status: q.Get("status"), Noun: "orders"}
		if !orders {
			d.Type, d.Noun = q.Get("type"), "sagas"
			if d.Type != "" {
				d.Noun = d.Type + " sagas"
			}
		}
		types, total := u.tiles()
		d.All = tile{Type: d.Type, Status: "all", Count: total, Href: listHref(d.Type, "")}
		if !orders {
			d.Types, d.AllTypes = types, tile{Count: total, Href: listHref("", "")}
		}
		if d.Type == "" {
			sum := map[string]int{}
			var order []string
			for _, tt := range types {
				for _, tl := range tt.Tiles {
					if _, ok := sum[tl.Status]; !ok {
						order = append(order, tl.Status)
					}
					sum[tl.Status] += tl.Count
				}
			}
			for _, st := range order {
				d.Filters = append(d.Filters, tile{Status: st, Count: sum[st], Href: listHref("", st)})
			}
		} else {
			d.All.Count = 0
			for _, tt := range types {
				if tt.Type == d.Type {
					d.Filters, d.All.Count = tt.Tiles, tt.Total
				}
			}
		}
		code := http.StatusOK
		lq := ListQuery{Type: d.Type, Status: d.Status, Cursor: q.Get("cursor")}
		var err error
		switch {
		case !orders && d.Type != "" && !u.s.model.KnownType(d.Type):
			err = fmt.Errorf("unknown saga type %q (valid: %s)", d.Type, strings.Join(u.s.model.Types(), ", "))
		case d.Status != "" && !u.s.model.ValidStatus(d.Type, d.Status):
			err = fmt.Errorf("unknown status %q (valid: %s)", d.Status, strings.Join(u.s.model.Statuses(d.Type), ", "))
		default:
			d.Page, err = u.s.model.List(lq)
		}
		if err != nil {
			code, d.Error = http.StatusBadRequest, err.Error()
		}
		if d.Page.NextCursor != "" {
			d.Next = listHref(d.Type, d.Status)
			sep := "?"
			if strings.Contains(d.Next, "?") {
				sep = "&"
			}
			d.Next += sep + url.Values{"cursor": {d.Page.NextCursor}}.Encode()
		}
		title := d.Noun
		if d.Status != "" {
			title = d.Status + " " + d.Noun
		}
		nav := "sagas"
		if orders {
			nav = "orders"
		}
		u.render(w, code, "orders", "orders", page{Title: title + " · podium", Nav: nav, Data: d})
	}
}

// orderData is the page of one saga: an order's (/ui/orders/{id}) or a saga's of any
// type (/ui/sagas/{id}).
type orderData struct {
	ID string
	// Orders is set for /ui/orders/{id}: the links are the /orders endpoints.
	Orders bool
	// Noun names the saga: "order", "saga".
	Noun string
	// API and UI are the saga's JSON (/orders/{id}, /sagas/{id}) and page.
	API, UI string
	Found   bool
	Detail  SagaDetail
	SVG     template.HTML
	Steps   []StepView
	// Limits is the read model's window, for the page of a saga it does not hold.
	Limits Limits
}

func (u *ui) orderData(id string, orders bool) orderData {
	d := orderData{ID: id, Orders: orders, Noun: "saga", API: "/sagas/" + url.PathEscape(id), UI: "/ui/sagas/" + url.PathEscape(id),
		Limits: u.s.model.Limits()}
	if orders {
		d.Noun, d.API, d.UI = "order", "/orders/"+url.PathEscape(id), "/ui/orders/"+url.PathEscape(id)
	}
	v, ok := u.s.model.view(id)
	if !ok || (orders && !v.IsOrder()) {
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

// showSaga serves /ui/orders/{id} (orders set) and /ui/sagas/{id}. The order page of a
// saga of another type sends the browser to its saga page.
func (u *ui) showSaga(orders bool) http.HandlerFunc {
	nav := "sagas"
	if orders {
		nav = "orders"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if sum, ok := u.s.model.Get(id); ok && orders && !sum.IsOrder() {
			http.Redirect(w, r, sagaPage(sum), http.StatusSeeOther)
			return
		}
		d := u.orderData(id, orders)
		if !d.Found {
			u.render(w, http.StatusNotFound, "notfound", "notfound", page{Title: d.Noun + " not found · podium", Nav: nav, Data: d})
			return
		}
		u.render(w, http.StatusOK, "order", "order", page{Title: d.ID + " · podium", Nav: nav, Data: d})
	}
}

// sagaLive renders the live part of a saga page, for its script to swap in.
func (u *ui) sagaLive(orders bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := u.orderData(r.PathValue("id"), orders)
		code := http.StatusOK
		if !d.Found {
			code = http.StatusNotFound
		}
		u.render(w, code, "order", "order-live", page{Data: d})
	}
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
		d.Definitions = append(d.Definitions, sagaView{Def: def, SVG: template.HTML(u.layout(def.ID()).SVG(nil))}) //nolint:gosec // escaped by diagram
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
