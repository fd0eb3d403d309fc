package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// The dashboard's session cookie.
const (
	sessionCookie = "podium_session"
	// SessionLifetime is how long a dashboard login lasts.
	SessionLifetime = 12 * time.Hour
	// maxLoginBody bounds the login form.
	maxLoginBody = 8 << 10
)

// guard authenticates requests when a token is configured: API clients send
// "Authorization: Bearer <token>", the dashboard a session cookie set by the login page.
// The cookie holds its expiry and an HMAC of it keyed by a key derived from the token,
// never the token: changing the token ends every session. Both are compared in constant
// time. A guard is safe for concurrent use (it is immutable).
type guard struct {
	tokenSum [sha256.Size]byte // SHA-256 of the token
	key      []byte            // HMAC key of the session cookies, derived from the token
	now      func() time.Time
}

func newGuard(token string) *guard {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("podium api session key v1"))
	return &guard{tokenSum: sha256.Sum256([]byte(token)), key: mac.Sum(nil), now: time.Now}
}

// tokenOK compares a presented token with the configured one in constant time (hashing
// first makes the time independent of the length too).
func (g *guard) tokenOK(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], g.tokenSum[:]) == 1
}

// sessionMAC is the MAC of a session expiring at expiry (Unix seconds).
func (g *guard) sessionMAC(expiry int64) []byte {
	mac := hmac.New(sha256.New, g.key)
	mac.Write([]byte("session|" + strconv.FormatInt(expiry, 10)))
	return mac.Sum(nil)
}

// session is the value of a new session cookie: "<expiry>.<mac>".
func (g *guard) session(expiry time.Time) string {
	exp := expiry.Unix()
	return strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(g.sessionMAC(exp))
}

// sessionOK reports whether a session cookie value is one of ours and not expired.
func (g *guard) sessionOK(v string) bool {
	expS, macS, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || g.now().Unix() >= exp {
		return false
	}
	mac, err := base64.RawURLEncoding.DecodeString(macS)
	return err == nil && hmac.Equal(mac, g.sessionMAC(exp))
}

// authenticated reports whether r carries the bearer token or a valid session cookie.
func (g *guard) authenticated(r *http.Request) bool {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return g.tokenOK(strings.TrimSpace(tok))
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && g.sessionOK(c.Value)
}

// publicPath reports whether a path is served without authentication: the probes, the
// metrics, the login page and the static files it needs (and the icon browsers ask for).
func publicPath(p string) bool {
	switch p = path.Clean(p); p {
	case "/healthz", "/readyz", "/metrics", "/login", "/logout", "/favicon.ico":
		return true
	}
	return strings.HasPrefix(p, "/static/")
}

// formRoute reports whether r is one of the two form posts of the dashboard (login,
// logout), the only POSTs that are not JSON.
func formRoute(r *http.Request) bool {
	p := path.Clean(r.URL.Path)
	return p == "/login" || p == "/logout"
}

// safeMethod reports whether a method cannot change anything.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// isJSONContent reports whether a Content-Type is application/json (parameters such as charset
// allowed).
func isJSONContent(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// protect wraps the whole API: with a token, every request but the public paths must be
// authenticated (else 401, or the login page); every request that may change something
// must come from this origin or a trusted one (else 403) and, but for the login forms, be
// JSON (else 415).
func (s *Service) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.guard != nil && !publicPath(r.URL.Path) && !s.guard.authenticated(r) {
			s.unauthorized(w, r)
			return
		}
		if !safeMethod(r.Method) {
			if err := s.origins.Check(r); err != nil {
				s.metrics.rejected.WithLabelValues("forbidden_origin").Inc()
				writeError(w, http.StatusForbidden, fmt.Sprintf("cross-origin request refused (%v): the API accepts "+
					"changes from its own origin and from --allowed-origins only", err), nil)
				return
			}
			if !formRoute(r) && !isJSONContent(r.Header.Get("Content-Type")) {
				s.metrics.rejected.WithLabelValues("unsupported_media_type").Inc()
				writeError(w, http.StatusUnsupportedMediaType,
					fmt.Sprintf("content type %q not accepted: send the body as application/json", r.Header.Get("Content-Type")), nil)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// wantsHTML reports whether r is a browser navigation (it gets the login page, not 401).
func wantsHTML(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// unauthorized answers a request without valid credentials: a browser navigation is sent
// to the login page, everything else gets 401.
func (s *Service) unauthorized(w http.ResponseWriter, r *http.Request) {
	s.metrics.rejected.WithLabelValues("unauthorized").Inc()
	if wantsHTML(r) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="podium"`)
	writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token> "+
		"(podium api --token), or log in to the dashboard at /login", nil)
}

// localPath returns next if it is a path on this server, else "/": the login page never
// redirects elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || publicPath(u.Path) {
		return "/"
	}
	return next
}

// loginData is the login page.
type loginData struct {
	Next     string
	Error    string
	Lifetime string
}

func (u *ui) renderLogin(w http.ResponseWriter, code int, d loginData) {
	d.Lifetime = fmt.Sprintf("%d hours", int(SessionLifetime/time.Hour))
	u.render(w, code, "login", "login", page{Title: "log in · podium", Data: d})
}

func (u *ui) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	g := u.s.guard
	if g == nil || g.authenticated(r) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	u.renderLogin(w, http.StatusOK, loginData{Next: next})
}

func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	g := u.s.guard
	if g == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		u.renderLogin(w, http.StatusBadRequest, loginData{Next: "/", Error: "The login form could not be read: " + err.Error()})
		return
	}
	next := localPath(r.PostForm.Get("next"))
	if !g.tokenOK(strings.TrimSpace(r.PostForm.Get("token"))) {
		u.s.metrics.rejected.WithLabelValues("unauthorized").Inc()
		u.renderLogin(w, http.StatusUnauthorized, loginData{Next: next, Error: "Wrong token."})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: g.session(g.now().Add(SessionLifetime)), Path: "/",
		MaxAge: int(SessionLifetime / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *ui) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
