package gen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// PutVariant returns data, the text of a valid spec file, with variant v in
// it: appended to the variants list (after the comment lines in comment, if
// any) when no variant has v's name, or else written over the variant of that
// name, value by value. Either way every other byte of the file stays as it
// was, so the file's comments, blank lines and order survive; an existing
// variant keeps its own comments and the fields it spells out, and gains
// only the fields that now differ from what leaving them out would give.
//
// The edit is made on the text, at the positions the YAML parser reports, and
// then checked: the result must parse, hold v exactly, and hold every other
// variant unchanged. A variant written in a form this cannot edit in place
// (flow style, anchors and aliases) is an error, and data is not changed.
func PutVariant(file string, data []byte, v Variant, comment string) ([]byte, error) {
	before, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("variant %s: %w", v.Name, err)
	}
	if msg := specCheckName(v.Name); msg != "" {
		return nil, fmt.Errorf("variant name %q: %s", v.Name, msg)
	}
	seq, err := variantsSequence(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	e := &textEdit{lines: strings.SplitAfter(string(data), "\n"), eol: "\n"}
	if strings.HasSuffix(e.lines[0], "\r\n") {
		e.eol = "\r\n" // lines added end as the file's first line does
	}
	if e.lines[len(e.lines)-1] == "" {
		e.lines = e.lines[:len(e.lines)-1]
	}
	replacing := false
	for i, item := range seq.Values {
		if before.Variants[i].Name != v.Name {
			continue
		}
		replacing = true
		if err := e.overwrite(item, &before.Variants[i], &v); err != nil {
			return nil, fmt.Errorf("%s: variant %s: %w", file, v.Name, err)
		}
	}
	if !replacing {
		if err := e.append(seq, &v, comment); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	out := []byte(e.String())

	after, err := Parse(file, out)
	if err != nil {
		return nil, fmt.Errorf("editing %s in place gave an invalid spec (a bug; the file is unchanged): %w", file, err)
	}
	want := slices.Clone(before.Variants)
	if i := slices.IndexFunc(want, func(w Variant) bool { return w.Name == v.Name }); i >= 0 {
		want[i] = v
	} else {
		want = append(want, v)
	}
	if !slices.Equal(after.Variants, want) {
		return nil, fmt.Errorf("editing %s in place did not give the intended variants (a bug; the file is unchanged)", file)
	}
	return out, nil
}

// variantsSequence finds the block-style list under the top-level variants key.
func variantsSequence(data []byte) (*ast.SequenceNode, error) {
	f, err := specParseYAML(data)
	if err != nil {
		return nil, err
	}
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		es, _ := yamlEntries(d.Body)
		for _, kv := range es {
			if kv == nil || kv.Key == nil || yamlKeyName(kv.Key) != "variants" {
				continue
			}
			seq, ok := kv.Value.(*ast.SequenceNode)
			if !ok || seq.IsFlowStyle {
				return nil, fmt.Errorf("the variants list is not a plain block list (no anchors, aliases or [...]); it cannot be edited in place")
			}
			return seq, nil
		}
	}
	return nil, fmt.Errorf("no variants list")
}

// textEdit collects changes to a file's lines and applies them bottom up, so
// that the positions the parser gave stay valid while they are collected.
type textEdit struct {
	lines   []string // each with its "\n", but perhaps the last
	eol     string   // the file's line end, "\n" or "\r\n", for the lines added
	changes []lineChange
}

// lineChange replaces the text of line (1-based) from column col (1-based)
// for n bytes with text, or, when insert, puts whole lines after line.
type lineChange struct {
	line, col, n int
	text         string
	insert       bool
}

func (e *textEdit) String() string {
	lines := slices.Clone(e.lines)
	if len(lines) > 0 && !strings.HasSuffix(lines[len(lines)-1], "\n") {
		lines[len(lines)-1] += e.eol
	}
	// Bottom up, so that earlier line numbers stay valid. Lines inserted after
	// the same line go in the order they were asked for; replacements in one
	// line go right to left.
	changes := slices.Clone(e.changes)
	slices.SortStableFunc(changes, func(a, b lineChange) int {
		if a.line != b.line {
			return b.line - a.line
		}
		if a.insert != b.insert {
			if a.insert {
				return -1
			}
			return 1
		}
		return b.col - a.col
	})
	for i := 0; i < len(changes); i++ {
		c := changes[i]
		if c.insert {
			text := c.text
			for i+1 < len(changes) && changes[i+1].insert && changes[i+1].line == c.line {
				i++
				text += changes[i].text
			}
			if e.eol != "\n" {
				text = strings.ReplaceAll(text, "\n", e.eol)
			}
			lines = slices.Insert(lines, c.line, text)
			continue
		}
		l := lines[c.line-1]
		lines[c.line-1] = l[:c.col-1] + c.text + l[c.col-1+c.n:]
	}
	return strings.Join(lines, "")
}

// overwrite writes the values of v over the block mapping item, which holds
// old: a value the item spells out is replaced where it stands; a value it
// leaves out is added only where the default no longer gives it.
func (e *textEdit) overwrite(item ast.Node, old, v *Variant) error {
	m, ok := blockMapping(item)
	if !ok {
		return fmt.Errorf("not a plain block mapping (no anchors, aliases or {...}); it cannot be edited in place")
	}
	defaults := specDefaults()
	var missing []string // keys to add, in spec order
	for _, key := range Keys() {
		if key == "name" {
			continue
		}
		newText, _ := v.Get(key)
		oldText, _ := old.Get(key)
		kv, err := lookupEntry(m, key)
		if err != nil {
			return err
		}
		switch {
		case kv != nil:
			if newText != oldText {
				if err := e.replaceScalar(kv, newText); err != nil {
					return fmt.Errorf("%s: %w", key, err)
				}
			}
		case newText != mustGet(&defaults, key):
			missing = append(missing, key)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	indent := strings.Repeat(" ", yamlCol(m)-1)
	// Keys of a group the item already has go at the end of that group; the
	// rest, with their group headers, at the end of the item.
	var atEnd []string
	for _, key := range missing {
		group, sub, nested := strings.Cut(key, ".")
		if !nested {
			atEnd = append(atEnd, key)
			continue
		}
		kv, _ := lookupEntry(m, group)
		if kv == nil {
			atEnd = append(atEnd, key)
			continue
		}
		g, ok := blockMapping(kv.Value)
		if !ok {
			return fmt.Errorf("%s: not a plain block mapping; it cannot be edited in place", group)
		}
		text, _ := v.Get(key)
		e.changes = append(e.changes, lineChange{line: lastLine(g), insert: true,
			text: strings.Repeat(" ", yamlCol(g)-1) + sub + ": " + text + "\n"})
	}
	if len(atEnd) > 0 {
		e.changes = append(e.changes, lineChange{line: lastLine(m), insert: true,
			text: strings.Join(renderFields(v, atEnd, indent), "")})
	}
	return nil
}

// append adds v after the last variant, with the list's indentation.
func (e *textEdit) append(seq *ast.SequenceNode, v *Variant, comment string) error {
	if len(seq.Values) == 0 {
		return fmt.Errorf("the variants list is empty")
	}
	first, ok := blockMapping(seq.Values[0])
	if !ok {
		return fmt.Errorf("the first variant is not a plain block mapping; cannot tell the list's indentation")
	}
	// The dash goes where the list's first dash is, and the name where its
	// first field is: "  - name:" or "    -   name:".
	fieldCol, dashCol := yamlCol(first), yamlCol(first)-2
	if seq.Start != nil && seq.Start.Position != nil {
		dashCol = seq.Start.Position.Column
	}
	if dashCol < 1 || fieldCol <= dashCol {
		return fmt.Errorf("cannot tell the list's indentation")
	}
	fieldIndent := strings.Repeat(" ", fieldCol-1)
	dash := strings.Repeat(" ", dashCol-1)
	var out []string
	out = append(out, "\n")
	for _, c := range strings.Split(strings.TrimSpace(comment), "\n") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, dash+"# "+c+"\n")
		}
	}
	keys := slices.DeleteFunc(Keys(), func(k string) bool { return k == "name" || (k == "default" && !v.Default) })
	fields := renderFields(v, keys, fieldIndent)
	out = append(out, dash+"-"+strings.Repeat(" ", fieldCol-dashCol-1)+"name: "+v.Name+"\n")
	out = append(out, fields...)
	e.changes = append(e.changes, lineChange{line: lastLine(seq), insert: true, text: strings.Join(out, "")})
	return nil
}

// renderFields spells the given keys of v (in spec order) as block YAML at
// indent, with a header line for each group.
func renderFields(v *Variant, keys []string, indent string) []string {
	var out []string
	group := ""
	for _, key := range keys {
		text, _ := v.Get(key)
		g, sub, nested := strings.Cut(key, ".")
		if !nested {
			out = append(out, indent+key+": "+text+"\n")
			group = ""
			continue
		}
		if g != group {
			out = append(out, indent+g+":\n")
			group = g
		}
		out = append(out, indent+"  "+sub+": "+text+"\n")
	}
	return out
}

// lookupEntry finds the entry for key ("batch", "wheel.tick") in a block
// mapping; nil when the mapping leaves it out.
func lookupEntry(m *ast.MappingNode, key string) (*ast.MappingValueNode, error) {
	head, rest, nested := strings.Cut(key, ".")
	for _, kv := range m.Values {
		if kv == nil || kv.Key == nil || yamlKeyName(kv.Key) != head {
			continue
		}
		if !nested {
			return kv, nil
		}
		g, ok := blockMapping(kv.Value)
		if !ok {
			return nil, fmt.Errorf("%s: not a plain block mapping (no anchors, aliases or {...}); it cannot be edited in place", head)
		}
		return lookupEntry(g, rest)
	}
	return nil, nil
}

// replaceScalar replaces the plain or quoted scalar value of kv, which sits on
// one line, keeping any comment after it.
func (e *textEdit) replaceScalar(kv *ast.MappingValueNode, text string) error {
	if kv.Value == nil {
		return fmt.Errorf("has no value to replace")
	}
	switch kv.Value.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.BoolNode, *ast.FloatNode:
	default:
		return fmt.Errorf("the value is not a plain scalar; it cannot be edited in place")
	}
	tk := kv.Value.GetToken()
	if tk == nil || tk.Position == nil {
		return fmt.Errorf("the value has no position")
	}
	line, col := tk.Position.Line, tk.Position.Column
	if line < 1 || line > len(e.lines) || col < 1 || col > len(e.lines[line-1]) {
		return fmt.Errorf("the value's position %d:%d is outside the file", line, col)
	}
	rest := strings.TrimRight(e.lines[line-1][col-1:], "\r\n")
	// After a tab the parser's column can fall short of the value (on the
	// tab itself): the value starts at the first byte that is not a blank.
	skip := len(rest) - len(strings.TrimLeft(rest, " \t"))
	col, rest = col+skip, rest[skip:]
	n := len(rest)
	switch {
	case strings.HasPrefix(rest, `"`) || strings.HasPrefix(rest, `'`):
		end := strings.IndexByte(rest[1:], rest[0])
		if end < 0 {
			return fmt.Errorf("quoted value spans lines; it cannot be edited in place")
		}
		n = end + 2
	default:
		// A comment starts at a # after a blank (space or tab).
		for i := 1; i < len(rest); i++ {
			if rest[i] == '#' && (rest[i-1] == ' ' || rest[i-1] == '\t') {
				n = i
				break
			}
		}
		n = len(strings.TrimRight(rest[:n], " \t"))
	}
	e.changes = append(e.changes, lineChange{line: line, col: col, n: n, text: text})
	return nil
}

// blockMapping returns n as a block-style mapping; the parser gives a mapping
// of one entry as the entry alone, which this wraps.
func blockMapping(n ast.Node) (*ast.MappingNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m, !m.IsFlowStyle
	case *ast.MappingValueNode:
		if m.IsFlowStyle {
			return nil, false
		}
		return &ast.MappingNode{BaseNode: &ast.BaseNode{}, Values: []*ast.MappingValueNode{m}}, true
	}
	return nil, false
}

// yamlCol is the 1-based column where a block mapping's first key starts.
func yamlCol(m *ast.MappingNode) int {
	_, col := yamlPos(m)
	return col
}

// lastLine is the last line that holds a token of n.
func lastLine(n ast.Node) int {
	var last lastLineVisitor
	ast.Walk(&last, n)
	return int(last)
}

type lastLineVisitor int

func (v *lastLineVisitor) Visit(n ast.Node) ast.Visitor {
	if n == nil {
		return nil
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line > int(*v) {
		*v = lastLineVisitor(tk.Position.Line)
	}
	return v
}

func mustGet(v *Variant, key string) string {
	s, err := v.Get(key)
	if err != nil {
		panic(err) // key comes from Keys()
	}
	return s
}
