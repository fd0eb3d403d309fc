package diagram

import (
	"bytes"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/podiumhq/podium/orchestrator/saga"
)

// Palette is the colour of one step state: stroke (and status text) and fill.
type Palette struct{ Stroke, Fill string }

// Colours of the step states, also used by the dashboard's CSS: pending grey, dispatched
// blue, succeeded green, failed red, compensating amber, compensated purple,
// compensation_failed dark red.
var Colours = map[saga.StepStatus]Palette{
	saga.StepPending:            {"#8a929c", "#f3f4f6"},
	saga.StepDispatched:         {"#2f6fd6", "#e6efff"},
	saga.StepRetryWait:          {"#4f8ef7", "#eef4ff"},
	saga.StepSucceeded:          {"#2e9d57", "#e5f6ec"},
	saga.StepFailed:             {"#d64545", "#fde8e8"},
	saga.StepCompensating:       {"#d99100", "#fff4d6"},
	saga.StepCompensated:        {"#7b4fc9", "#f0e9fb"},
	saga.StepCompensationFailed: {"#8b1a1a", "#f6dcdc"},
	saga.StepSkipped:            {"#b8bec6", "#fafafa"},
}

// plain is the look of a node drawn without state.
var plain = Palette{"#5b6573", "#ffffff"}

const (
	textDark  = "#1f2937"
	textMuted = "#5b6573"
	edgeIdle  = "#b3bac3"
	edgeTaken = "#4b5563"
	fontStack = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
)

// SVG renders the definition without state: every node in neutral colours, steps
// annotated with their timeout and attempt budget.
func SVG(d *saga.Definition) []byte { return New(d).SVG(nil) }

// SVG renders the layout as a standalone SVG document. With a state, steps, milestones,
// compensations and end nodes are coloured by it and annotated with attempts and reasons.
// Every node is a <g class="node …"> with data-node, and step nodes carry data-step,
// data-state and (with a compensation) a <g class="undo …" data-undo-state> strip, so
// pages and tests can find them. All text is escaped.
func (l *Layout) SVG(s *saga.State) []byte {
	var b bytes.Buffer
	name := ""
	if l.Definition != nil {
		name = l.Definition.Name
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="saga-diagram" data-definition="%s" width="%s" height="%s" viewBox="0 0 %s %s" role="img" font-family="%s">`,
		esc(name), num(l.Width), num(l.Height), num(l.Width), num(l.Height), esc(fontStack))
	title := "saga " + name
	if s != nil {
		title += " · " + s.SagaID + " · " + string(s.Status)
	}
	fmt.Fprintf(&b, "<title>%s</title>", esc(title))
	b.WriteString(`<defs>` +
		`<marker id="podium-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="` + edgeIdle + `"/></marker>` +
		`<marker id="podium-arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="` + edgeTaken + `"/></marker>` +
		`</defs>`)

	if l.BandY > 0 {
		fmt.Fprintf(&b, `<line class="band" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d5d9de" stroke-dasharray="4 4"/>`,
			num(margin), num(l.BandY+4), num(l.Width-margin), num(l.BandY+4))
		fmt.Fprintf(&b, `<text class="band-label" x="%s" y="%s" font-size="11" fill="%s">on compensation — every compensable step is undone in reverse dependency order, then:</text>`,
			num(margin), num(l.BandY+20), textMuted)
	}

	b.WriteString(`<g class="edges">`)
	for _, e := range l.Edges {
		from, ok1 := l.Node(e.From)
		to, ok2 := l.Node(e.To)
		if !ok1 || !ok2 {
			continue
		}
		x1, y1 := from.X+from.W, from.Y+from.H/2
		x2, y2 := to.X-1, to.Y+to.H/2
		dx := max((x2-x1)/2, 12)
		colour, marker, class := edgeIdle, "podium-arrow", "edge"
		if s != nil && reached(s, to) {
			colour, marker, class = edgeTaken, "podium-arrow-taken", "edge taken"
		}
		fmt.Fprintf(&b, `<path class="%s" data-from="%s" data-to="%s" d="M%s,%s C%s,%s %s,%s %s,%s" fill="none" stroke="%s" stroke-width="1.6" marker-end="url(#%s)"/>`,
			class, esc(e.From), esc(e.To), num(x1), num(y1), num(x1+dx), num(y1), num(x2-dx), num(y2), num(x2), num(y2), colour, marker)
	}
	b.WriteString(`</g><g class="nodes">`)
	for _, n := range l.Nodes {
		switch n.Kind {
		case KindStep, KindOnCompensated:
			l.step(&b, n, s)
		case KindMilestone:
			milestone(&b, n, s)
		default:
			terminal(&b, n, s)
		}
	}
	b.WriteString(`</g></svg>`)
	return b.Bytes()
}

// reached reports whether the saga got to node n (for edge emphasis).
func reached(s *saga.State, n Node) bool {
	switch n.Kind {
	case KindStep, KindOnCompensated:
		st := s.Steps[n.Name]
		return st != nil && st.Status != saga.StepPending && st.Status != saga.StepSkipped
	case KindMilestone:
		return slices.Contains(s.Milestones, n.Name)
	case KindCompleted:
		return s.Status == saga.StatusCompleted
	case KindCompensated:
		return s.Status == saga.StatusCompensated
	}
	return true
}

func (l *Layout) step(b *bytes.Buffer, n Node, s *saga.State) {
	st := (*saga.StepState)(nil)
	if s != nil {
		st = s.Steps[n.Name]
	}
	pal, state := plain, ""
	if st != nil {
		state = string(st.Status)
		if p, ok := Colours[st.Status]; ok {
			pal = p
		}
	} else if s != nil {
		pal, state = Colours[saga.StepPending], string(saga.StepPending)
	}
	classes := "node step"
	if n.Kind == KindOnCompensated {
		classes += " on-compensated"
	}
	if n.Step.Optional || n.Kind == KindOnCompensated {
		classes += " optional"
	}
	if state != "" {
		classes += " state-" + state
	}
	fmt.Fprintf(b, `<g class="%s" data-node="%s" data-step="%s"`, classes, esc(n.ID), esc(n.Name))
	if state != "" {
		fmt.Fprintf(b, ` data-state="%s"`, esc(state))
	}
	b.WriteString(">")
	fmt.Fprintf(b, "<title>%s</title>", esc(stepTooltip(n, st)))

	dash := ""
	if n.Step.Optional || n.Kind == KindOnCompensated || state == string(saga.StepSkipped) {
		dash = ` stroke-dasharray="5 3"`
	}
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="8" fill="%s"/>`, num(n.X), num(n.Y), num(n.W), num(n.H), pal.Fill)
	inner := n.W - 24
	tx := n.X + 12
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="13" font-weight="600" fill="%s">%s</text>`,
		num(tx), num(n.Y+20), textDark, esc(fit(n.Name, inner, charName)))
	line2 := stepActionLine(*n.Step)
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="11" fill="%s">%s</text>`,
		num(tx), num(n.Y+20+lineH), textMuted, esc(fit(line2, inner, charSmall)))
	fmt.Fprintf(b, `<text class="status" x="%s" y="%s" font-size="11" font-weight="600" fill="%s">%s</text>`,
		num(tx), num(n.Y+20+2*lineH), pal.Stroke, esc(fit(statusLine(*n.Step, n.Kind == KindOnCompensated, st), inner, charSmall)))

	if n.Step.Undo != nil {
		l.undoStrip(b, n, s)
	}
	fmt.Fprintf(b, `<rect class="border" x="%s" y="%s" width="%s" height="%s" rx="8" fill="none" stroke="%s" stroke-width="2"%s/>`,
		num(n.X), num(n.Y), num(n.W), num(n.H), pal.Stroke, dash)
	b.WriteString("</g>")
}

// undoStrip draws a step's compensation, coloured by its state (saga.UndoState).
func (l *Layout) undoStrip(b *bytes.Buffer, n Node, s *saga.State) {
	u := saga.UndoState(s, n.Name)
	pal := Palette{"#9aa1ab", "#f7f7f8"}
	if p, ok := Colours[saga.StepStatus(u)]; ok {
		pal = p
	}
	y := n.Y + stepBodyH
	classes := "undo"
	if u != "" {
		classes += " undo-" + u
	}
	fmt.Fprintf(b, `<g class="%s"`, classes)
	if u != "" {
		fmt.Fprintf(b, ` data-undo-state="%s"`, esc(u))
	}
	b.WriteString(">")
	fmt.Fprintf(b, `<path d="M%s,%s H%s V%s a8,8 0 0 1 -8,8 H%s a8,8 0 0 1 -8,-8 z" fill="%s"/>`,
		num(n.X), num(y), num(n.X+n.W), num(y+undoStripH-8), num(n.X+8), pal.Fill)
	fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="3 3"/>`,
		num(n.X), num(y), num(n.X+n.W), num(y), pal.Stroke)
	label := undoLabel(u)
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="11" fill="%s">%s</text>`,
		num(n.X+12), num(y+16), pal.Stroke, esc(fit(undoLine(*n.Step), n.W-24-float64(len(label)+2)*charSmall, charSmall)))
	if label != "" {
		fmt.Fprintf(b, `<text class="undo-state" x="%s" y="%s" font-size="11" font-weight="600" text-anchor="end" fill="%s">%s</text>`,
			num(n.X+n.W-12), num(y+16), pal.Stroke, esc(label))
	}
	b.WriteString("</g>")
}

// undoLabel is the state shown at the right of a compensation strip.
func undoLabel(undoState string) string {
	switch undoState {
	case string(saga.StepCompensationFailed):
		return "failed"
	case saga.UndoNotNeeded:
		return "not needed"
	}
	return undoState
}

// statusLine is the third line of a step node: its state and attempts, or, without state,
// its policy.
func statusLine(step saga.Step, onCompensated bool, st *saga.StepState) string {
	if st == nil {
		line := fmt.Sprintf("⏱ %s · %d attempts", shortDuration(step.Do.Timeout), step.Do.Retry.WithDefaults().MaxAttempts)
		if step.Optional || onCompensated {
			line += " · optional"
		}
		return line
	}
	parts := []string{strings.ReplaceAll(string(st.Status), "_", " ")}
	switch {
	case st.Do.Attempt == 1:
		parts = append(parts, "1 attempt")
	case st.Do.Attempt > 1:
		parts = append(parts, fmt.Sprintf("%d attempts", st.Do.Attempt))
	}
	if st.Status == saga.StepFailed && st.Do.Reason != "" {
		parts = append(parts, st.Do.Reason)
	}
	return strings.Join(parts, " · ")
}

func stepTooltip(n Node, st *saga.StepState) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\n%s → %s (timeout %s, up to %d attempts)", n.Name, n.Step.Do.Worker, n.Step.Do.Type,
		shortDuration(n.Step.Do.Timeout), n.Step.Do.Retry.WithDefaults().MaxAttempts)
	if len(n.Step.After) > 0 {
		fmt.Fprintf(&sb, "\nafter %s", strings.Join(n.Step.After, ", "))
	}
	if n.Step.Undo != nil {
		fmt.Fprintf(&sb, "\ncompensation: %s → %s", n.Step.Undo.Worker, n.Step.Undo.Type)
	}
	if st != nil {
		fmt.Fprintf(&sb, "\nstate %s", st.Status)
		if st.Outcome != "" {
			fmt.Fprintf(&sb, ", outcome %s", st.Outcome)
		}
		if st.Do.Attempt > 0 {
			fmt.Fprintf(&sb, ", attempt %d", st.Do.Attempt)
		}
		if st.Do.Reason != "" {
			fmt.Fprintf(&sb, ", reason %s", st.Do.Reason)
		}
		if st.Undo.Attempt > 0 {
			fmt.Fprintf(&sb, "\ncompensation attempt %d", st.Undo.Attempt)
			if st.Undo.Reason != "" {
				fmt.Fprintf(&sb, ", reason %s", st.Undo.Reason)
			}
		}
	}
	return sb.String()
}

func milestone(b *bytes.Buffer, n Node, s *saga.State) {
	pal, class := plain, "node milestone"
	if s != nil {
		if slices.Contains(s.Milestones, n.Name) {
			pal, class = Colours[saga.StepSucceeded], class+" reached"
		} else {
			pal = Colours[saga.StepPending]
		}
	}
	fmt.Fprintf(b, `<g class="%s" data-node="%s"><title>milestone %s</title>`, class, esc(n.ID), esc(n.Name))
	k := n.H / 2
	fmt.Fprintf(b, `<polygon points="%s,%s %s,%s %s,%s %s,%s %s,%s %s,%s" fill="%s" stroke="%s" stroke-width="2"/>`,
		num(n.X), num(n.Y+k), num(n.X+k*0.7), num(n.Y), num(n.X+n.W-k*0.7), num(n.Y),
		num(n.X+n.W), num(n.Y+k), num(n.X+n.W-k*0.7), num(n.Y+n.H), num(n.X+k*0.7), num(n.Y+n.H),
		pal.Fill, pal.Stroke)
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="12" font-weight="600" text-anchor="middle" fill="%s">%s</text>`,
		num(n.X+n.W/2), num(n.Y+n.H/2+4), textDark, esc(n.Name))
	b.WriteString("</g>")
}

// terminal draws the start, completed and compensated pills.
func terminal(b *bytes.Buffer, n Node, s *saga.State) {
	pal, label, class := plain, n.Name, "node "+string(n.Kind)
	textFill := textDark
	switch n.Kind {
	case KindStart:
		pal, textFill = Palette{"#334155", "#334155"}, "#ffffff"
	case KindCompleted:
		if s != nil && s.Status == saga.StatusCompleted {
			pal, textFill, class = Colours[saga.StepSucceeded], "#ffffff", class+" reached"
			pal.Fill = pal.Stroke
		}
	case KindCompensated:
		if s != nil {
			switch s.Status {
			case saga.StatusCompensated:
				pal, textFill, class = Colours[saga.StepCompensated], "#ffffff", class+" reached"
				pal.Fill = pal.Stroke
			case saga.StatusCompensating:
				pal = Colours[saga.StepCompensating]
				label = "compensating"
			case saga.StatusFailed:
				pal, textFill = Colours[saga.StepCompensationFailed], "#ffffff"
				pal.Fill = pal.Stroke
				label = "failed"
			}
		}
	}
	fmt.Fprintf(b, `<g class="%s" data-node="%s"><title>%s</title>`, class, esc(n.ID), esc(label))
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" rx="%s" fill="%s" stroke="%s" stroke-width="2"/>`,
		num(n.X), num(n.Y), num(n.W), num(n.H), num(n.H/2), pal.Fill, pal.Stroke)
	fmt.Fprintf(b, `<text x="%s" y="%s" font-size="12" font-weight="600" text-anchor="middle" fill="%s">%s</text>`,
		num(n.X+n.W/2), num(n.Y+n.H/2+4), textFill, esc(label))
	b.WriteString("</g>")
}

// fit cuts text with an ellipsis so that it fits width at an average advance of charW.
func fit(text string, width, charW float64) string {
	r := []rune(text)
	maxChars := int(width / charW)
	if len(r) <= maxChars || maxChars < 2 {
		return text
	}
	return string(r[:maxChars-1]) + "…"
}

func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// esc escapes text for XML content and attribute values.
func esc(s string) string { return html.EscapeString(s) }
