package saga

import (
	"fmt"
	"strings"
)

// Mermaid renders the definition as a Mermaid flowchart: every step with its worker,
// dependency edges, milestones, the completed node, each compensation as a dashed edge to
// its undo node, and the OnCompensated steps after the compensated node.
func (d *Definition) Mermaid() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, "    "+format+"\n", args...) }
	ids := newMermaidIDs()
	mermaidID := ids.id
	b.WriteString("flowchart LR\n")
	if d.Name != "" {
		line("%%%% saga %s", d.Name)
	}
	line(`start(("start"))`)

	hasDependents := make(map[string]bool)
	for _, s := range d.Steps {
		for _, dep := range s.After {
			hasDependents[dep] = true
		}
	}
	for _, s := range d.Steps {
		label := fmt.Sprintf("%s<br/><small>%s · %s</small>", s.Name, s.Do.Worker, s.Do.Type)
		class := ""
		if s.Optional {
			label += "<br/><i>optional</i>"
			class = ":::optional"
		}
		line(`%s["%s"]%s`, mermaidID("s", s.Name), mermaidText(label), class)
	}
	for _, m := range d.Milestones {
		line(`%s{{"%s"}}:::milestone`, mermaidID("m", m.Name), mermaidText(m.Name))
	}
	line(`completed((("completed")))`)

	for _, s := range d.Steps {
		if len(s.After) == 0 {
			line("start --> %s", mermaidID("s", s.Name))
		}
		for _, dep := range s.After {
			line("%s --> %s", mermaidID("s", dep), mermaidID("s", s.Name))
		}
	}
	for _, s := range d.Steps {
		if !hasDependents[s.Name] {
			line("%s --> completed", mermaidID("s", s.Name))
		}
	}
	for _, m := range d.Milestones {
		for _, dep := range m.After {
			line("%s -.-> %s", mermaidID("s", dep), mermaidID("m", m.Name))
		}
	}

	var undos []Step
	for _, s := range d.Steps {
		if s.Undo != nil {
			undos = append(undos, s)
		}
	}
	if len(undos) > 0 || len(d.OnCompensated) > 0 {
		line(`subgraph compensation["compensation (reverse dependency order)"]`)
		for _, s := range undos {
			label := fmt.Sprintf("undo %s<br/><small>%s · %s</small>", s.Name, s.Undo.Worker, s.Undo.Type)
			line(`    %s[/"%s"/]:::undo`, mermaidID("u", s.Name), mermaidText(label))
		}
		line(`    compensated(("compensated"))`)
		for _, s := range d.OnCompensated {
			label := fmt.Sprintf("%s<br/><small>%s · %s</small>", s.Name, s.Do.Worker, s.Do.Type)
			line(`    %s["%s"]:::optional`, mermaidID("s", s.Name), mermaidText(label))
		}
		line("end")
		for _, s := range undos {
			line("%s -. undo .-> %s", mermaidID("s", s.Name), mermaidID("u", s.Name))
			line("%s -.-> compensated", mermaidID("u", s.Name))
		}
		for _, s := range d.OnCompensated {
			line("compensated --> %s", mermaidID("s", s.Name))
		}
	}
	line("classDef optional stroke-dasharray: 4 3")
	line("classDef milestone fill:#e8f4ff,stroke:#3178c6")
	line("classDef undo fill:#fff3e0,stroke:#e08a00")
	return b.String()
}

// mermaidIDs hands out node IDs: a prefix and the name with every character other than
// ASCII letters and digits replaced by '_', made unique with a counter on collision.
type mermaidIDs struct {
	byKey map[string]string
	used  map[string]bool
}

func newMermaidIDs() *mermaidIDs {
	return &mermaidIDs{byKey: map[string]string{}, used: map[string]bool{}}
}

func (m *mermaidIDs) id(prefix, name string) string {
	key := prefix + "\x00" + name
	if id, ok := m.byKey[key]; ok {
		return id
	}
	var b strings.Builder
	b.WriteString(prefix + "_")
	for _, r := range name {
		if r < 128 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	id := b.String()
	for n := 2; m.used[id]; n++ {
		id = fmt.Sprintf("%s_%d", b.String(), n)
	}
	m.used[id] = true
	m.byKey[key] = id
	return id
}

// mermaidText escapes a quoted label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;").Replace(s)
}
