// Package gen is loopgen's engine: it reads spec/loop.yaml into a Spec
// (Parse), checks each Variant against the spec's rules, and emits the
// generated/ tree from them (Generate, WriteTree). cmd/loopgen is its
// command line.
package gen

// The spec model: what a variant in spec/loop.yaml may say, how the file is
// read (walking the YAML AST so every problem carries a line and column), the
// rules a variant must satisfy, and the defaults for what it leaves out.
//
// One table, specFields, drives all of it: Parse, Variant.Validate, Variant.Set and
// Variant.Get go through the same per-field decoders and checks, so a message
// reads the same whether it comes from a file, a tuner or a test.

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"go/token"
	"math"
	"math/bits"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	yamltoken "github.com/goccy/go-yaml/token"
)

// Spec is a parsed, validated, defaulted spec file.
type Spec struct {
	File     string    // as given to Parse, used in messages
	Variants []Variant // in file order
}

// Default returns the variant marked default: true, or nil when there is none
// (never for a Spec returned by Parse).
func (s *Spec) Default() *Variant {
	for i := range s.Variants {
		if s.Variants[i].Default {
			return &s.Variants[i]
		}
	}
	return nil
}

// Lookup returns the variant with the given name.
func (s *Spec) Lookup(name string) (*Variant, bool) {
	for i := range s.Variants {
		if s.Variants[i].Name == name {
			return &s.Variants[i], true
		}
	}
	return nil, false
}

// Overflow is what Post does when the inbox is full. (The ready queue behind
// CallSoon always grows: CallSoon runs on the loop goroutine, where an error
// would have nobody to go to.)
type Overflow string

const (
	OverflowGrow   Overflow = "grow"   // spill to an unbounded list; Post never fails for room
	OverflowReject Overflow = "reject" // Post returns ErrQueueFull; memory stays bounded
)

// InboxKind is the queue Post uses to hand callbacks in from other goroutines.
type InboxKind string

const (
	InboxMPSC  InboxKind = "mpsc"  // lock-free multi-producer, single-consumer
	InboxMutex InboxKind = "mutex" // a slice behind a mutex
)

// PollerKind is how the loop waits for I/O.
type PollerKind string

const (
	PollerAuto   PollerKind = "auto"   // epoll on Linux, kqueue on darwin and the BSDs
	PollerEpoll  PollerKind = "epoll"  // Linux only
	PollerPoll   PollerKind = "poll"   // poll(2), any unix
	PollerKqueue PollerKind = "kqueue" // darwin and the BSDs
	PollerNone   PollerKind = "none"   // no I/O: sleep until a timer is due or a post arrives
)

// AvailableOn reports whether a loop with poller k can start on goos (a
// runtime.GOOS value): the variant builds everywhere, but New fails where
// its poller's system calls do not exist. Auto and none work everywhere
// (auto falls back to poll, or to none where there is no poll).
func (k PollerKind) AvailableOn(goos string) bool {
	switch k {
	case PollerEpoll:
		return goos == "linux" || goos == "android"
	case PollerKqueue:
		return slices.Contains(kqueueOSes, goos)
	case PollerPoll:
		return slices.Contains(unixOSes, goos)
	}
	return true
}

// kqueueOSes and unixOSes are the GOOS values that handwritten/poller's
// kqueue and poll files build for (ios counts as darwin, android as linux).
var (
	kqueueOSes = []string{"darwin", "ios", "freebsd", "netbsd", "openbsd", "dragonfly"}
	unixOSes   = append([]string{"aix", "android", "hurd", "illumos", "linux", "solaris"}, kqueueOSes...)
)

// Variant is one event-loop variant: one generated package.
// The YAML key of each field is given beside it.
type Variant struct {
	Name       string        // name
	Default    bool          // default
	QueueDepth int           // queue_depth
	Overflow   Overflow      // overflow
	Batch      int           // batch
	Inbox      Inbox         // inbox
	Wheel      Wheel         // wheel
	Poller     PollerKind    // poller
	Spin       time.Duration // idle: 0 for "block", d for "spin:d"
	Recover    bool          // recover
	Stats      bool          // stats
}

// Inbox configures the cross-goroutine queue.
type Inbox struct {
	Kind   InboxKind     // inbox.kind
	Depth  int           // inbox.depth
	Gather time.Duration // inbox.gather; 0 turns gathering off
}

// Wheel configures the hierarchical timing wheel.
type Wheel struct {
	Tick   time.Duration // wheel.tick
	Slots  int           // wheel.slots, per level
	Levels int           // wheel.levels
}

// Horizon is Tick × Slots^Levels: how far ahead a timer lands in a slot
// directly. It saturates at the largest time.Duration when that overflows,
// which a valid wheel never does.
func (w Wheel) Horizon() time.Duration {
	h, ok := w.horizon()
	if !ok {
		return math.MaxInt64
	}
	return h
}

func (w Wheel) horizon() (time.Duration, bool) {
	if w.Tick < 0 || w.Slots < 0 {
		return 0, false
	}
	if w.Levels <= 0 || w.Slots == 1 {
		return w.Tick, true
	}
	if w.Slots == 0 {
		return 0, true
	}
	h := uint64(w.Tick)
	for range w.Levels { // ends within 64 rounds: Slots >= 2 doubles h at least
		hi, lo := bits.Mul64(h, uint64(w.Slots))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		h = lo
		if h == 0 {
			break
		}
	}
	return time.Duration(h), true
}

// SlotBits is log2(Slots), rounded down; Slots is a power of two in a valid wheel.
func (w Wheel) SlotBits() int {
	if w.Slots <= 0 {
		return 0
	}
	return bits.Len(uint(w.Slots)) - 1
}

// Limits on the parameters. Powers of two are required where the generated code
// masks an index with the value minus one (inbox.depth, wheel.slots), and for
// queue_depth, which the ready queue rounds up to whole segments of 4095
// callbacks, so that a spec written when it was a ring still means the same.
const (
	specMinDepth     = 16
	specMaxDepth     = 1 << 24
	specMinBatch     = 1
	specMaxBatch     = 1 << 20
	specMinTick      = time.Microsecond
	specMaxTick      = time.Second
	specMinSlots     = 4
	specMaxSlots     = 4096
	specMinLevels    = 2 // with one level, the bucket that parks timers beyond the horizon would be a level-0 bucket, which expires
	specMaxLevels    = 8
	specMaxWheelBits = 56 // levels × log2(slots): timer positions must fit with room for a generation
	specMaxSpin      = 10 * time.Millisecond
	specMaxGather    = time.Millisecond
	// specMaxVariants keeps the generated two-tags guard under go/build's limit of
	// 1000 terms in one //go:build line: it names every pair of tags (26 variants:
	// 325 pairs, 650 terms), and tune adds a candidate to the spec it measures.
	specMaxVariants = 25
)

// specDefaults is what a variant gets for every field it leaves out: the values of
// the shipped balanced variant, not a default and without a name.
func specDefaults() Variant {
	return Variant{
		QueueDepth: 4096,
		Overflow:   OverflowGrow,
		Batch:      1024,
		Inbox:      Inbox{Kind: InboxMPSC, Depth: 4096, Gather: 4 * time.Microsecond},
		Wheel:      Wheel{Tick: time.Millisecond, Slots: 64, Levels: 4},
		Poller:     PollerAuto,
		Spin:       0,
		Recover:    true,
		Stats:      false,
	}
}

// Error is one problem in a spec, at a position.
// Line and Col are 1-based; 0 when the problem has no position (Variant.Validate, Variant.Set).
type Error struct {
	File      string
	Line, Col int
	Path      string // the field, as in variants[1].wheel.tick; "" for the document as a whole
	Msg       string // what is wrong, and what would be right
}

// Error formats the problem as file:line:col: path: msg, leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Col)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList holds every problem found, sorted by position.
type ErrorList []*Error

// Error joins the problems one per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find the *Error values.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// ParseFile reads and parses the spec file at path; messages name path as given.
func ParseFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses, validates and defaults a spec. file is used only in messages.
// The error is an ErrorList holding every problem found, sorted by line and
// column, or a single *Error when data is not valid YAML.
func Parse(file string, data []byte) (*Spec, error) {
	// A byte order mark, which some editors write, is not part of the first key.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	f, err := specParseYAML(data)
	if err != nil {
		return nil, specSyntaxError(file, err)
	}
	p := &specParser{file: file}
	var body ast.Node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil || isDirective(d.Body) {
			continue
		}
		if body != nil {
			p.errorf(d, "", "more than one YAML document (a spec is a single document: remove the extra ---)")
			break
		}
		body = d.Body
	}
	if body == nil {
		p.errs = append(p.errs, &Error{File: file, Line: 1, Col: 1,
			Msg: "empty spec (want a mapping with a variants list, as in spec/loop.yaml)"})
		return nil, p.errs
	}
	p.collectAnchors(body)
	spec := &Spec{File: file}
	spec.Variants = p.top(body)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		return nil, p.errs
	}
	return spec, nil
}

// isDirective reports whether n is a %YAML line, which the parser gives as
// a document of its own before the document it applies to.
func isDirective(n ast.Node) bool {
	_, ok := n.(*ast.DirectiveNode)
	return ok
}

// specParseYAML runs the YAML parser, turning a panic in it into an error so that
// Parse never panics whatever the input.
func specParseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	// Duplicate keys are allowed here and reported by the walk, with the
	// field's path and the line of the first one.
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// specSyntaxError turns a YAML parser error into one positioned, one-line *Error.
func specSyntaxError(file string, err error) *Error {
	e := &Error{File: file, Line: 1, Col: 1}
	msg := err.Error()
	var ye interface {
		GetToken() *yamltoken.Token
		GetMessage() string
	}
	if errors.As(err, &ye) {
		msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
		}
	}
	// The message is made one line, but a tab in it stays visible: the
	// parser quotes the character it stopped at, and a tab shown as a space
	// ("found character ' '") hid the cause.
	if strings.Contains(msg, "'\t'") {
		msg = strings.ReplaceAll(msg, "'\t'", `'\t'`) + " (a tab: indent YAML with spaces)"
	}
	e.Msg = "invalid YAML: " + strings.Join(strings.Fields(msg), " ")
	return e
}

// specParser walks one document, collecting problems.
type specParser struct {
	file    string
	errs    ErrorList
	anchors map[string][]*ast.AnchorNode // by name, in document order
}

func (p *specParser) errorf(n ast.Node, path, format string, args ...any) {
	line, col := yamlPos(n)
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// yamlPos is where a node starts: the first key of a block mapping (its own
// token is the first ':'), the key of a key/value pair, or the node's token.
func yamlPos(n ast.Node) (line, col int) {
	var tk *yamltoken.Token
	switch n := n.(type) {
	case nil:
	case *ast.MappingNode:
		if len(n.Values) > 0 && n.Values[0] != nil && n.Values[0].Key != nil && !n.IsFlowStyle {
			tk = n.Values[0].Key.GetToken()
		} else {
			tk = n.Start
		}
	case *ast.MappingValueNode:
		if n.Key != nil {
			tk = n.Key.GetToken()
		}
	case *ast.DocumentNode: // its ---, or where its body starts
		if n.Start != nil {
			tk = n.Start
		} else {
			return yamlPos(n.Body)
		}
	default:
		tk = n.GetToken()
	}
	if tk == nil || tk.Position == nil {
		return 1, 1
	}
	return max(tk.Position.Line, 1), max(tk.Position.Column, 1)
}

type specAnchors map[string][]*ast.AnchorNode

func (v specAnchors) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		v[a.Name.GetToken().Value] = append(v[a.Name.GetToken().Value], a)
	}
	return v
}

func (p *specParser) collectAnchors(body ast.Node) {
	v := specAnchors{}
	ast.Walk(v, body)
	p.anchors = v
}

// resolve looks through anchors (&a value) and aliases (*a) to the value they
// stand for. A tag (!!str), an alias to nothing, or a cycle of aliases gives a
// message instead.
func (p *specParser) resolve(n ast.Node) (ast.Node, string) {
	for range 64 {
		switch a := n.(type) {
		case *ast.AnchorNode:
			n = a.Value
		case *ast.AliasNode:
			if a.Value == nil || a.Value.GetToken() == nil {
				return nil, "alias without a name"
			}
			name := a.Value.GetToken().Value
			al, ac := yamlPos(a)
			var target *ast.AnchorNode
			for _, c := range p.anchors[name] { // the last one defined before the alias
				cl, cc := yamlPos(c)
				if cl < al || cl == al && cc < ac {
					target = c
				}
			}
			if target == nil {
				name = yamlSafe(name)
				return nil, fmt.Sprintf("unknown alias *%s (define the anchor &%s before using it)", name, name)
			}
			n = target.Value
		case *ast.TagNode:
			tag := ""
			if a.Start != nil {
				tag = a.Start.Value
			}
			return nil, fmt.Sprintf("YAML tags such as %s are not supported (write the plain value)", yamlSafe(tag))
		default:
			return n, ""
		}
	}
	return nil, "aliases refer to each other in a cycle (write the value out)"
}

// yamlValuePos is the node to report a problem with the value of kv at: the value,
// or the key when the value is a null (often nothing at all: "key:").
func yamlValuePos(kv *ast.MappingValueNode) ast.Node {
	if kv.Value == nil {
		return kv
	}
	if _, ok := kv.Value.(*ast.NullNode); ok {
		return kv
	}
	return kv.Value
}

// yamlEntries returns the key/value pairs of a mapping node.
func yamlEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// yamlKeyName is the text of a mapping key; an anchor on the key (&a batch)
// does not change it.
func yamlKeyName(k ast.MapKeyNode) string {
	if a, ok := k.(*ast.AnchorNode); ok {
		if mk, ok := a.Value.(ast.MapKeyNode); ok {
			return yamlKeyName(mk)
		}
		return ""
	}
	if mk, ok := k.(*ast.MappingKeyNode); ok && mk.Value != nil {
		if tk := mk.Value.GetToken(); tk != nil {
			return tk.Value
		}
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// yamlKeyProblem says why the key k cannot be read as a field's name, or
// returns "": an alias (*a) or a tag (!!str) stands for a key the walk does
// not look up, and read as text it gave "unknown field" for "*" or "!!str".
func yamlKeyProblem(k ast.MapKeyNode) string {
	var n ast.Node = k
	if a, ok := n.(*ast.AnchorNode); ok {
		n = a.Value
	}
	switch n := n.(type) {
	case *ast.AliasNode:
		return "an alias as a key is not supported (write the key out)"
	case *ast.TagNode:
		tag := ""
		if n.Start != nil {
			tag = n.Start.Value
		}
		return fmt.Sprintf("YAML tags such as %s are not supported (write the plain key)", yamlSafe(tag))
	}
	return ""
}

// yamlSafe returns s as is when it is one line of printable text without
// spaces, else quoted, so that a message stays one line and unambiguous.
func yamlSafe(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r == ' ' || !strconv.IsPrint(r) }) {
		return s
	}
	return strconv.Quote(s)
}

// yamlDescribe names a value's YAML type, and the value when it is a scalar, for
// messages such as "want an integer, got string "abc"".
func yamlDescribe(n ast.Node) string {
	switch n := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.StringNode:
		return "string " + strconv.Quote(n.Value)
	case *ast.LiteralNode:
		if n.Value != nil {
			return "string " + strconv.Quote(n.Value.Value)
		}
		return "string"
	case *ast.IntegerNode:
		return "integer " + yamlSafe(n.Token.Value)
	case *ast.FloatNode:
		return "float " + yamlSafe(n.Token.Value)
	case *ast.InfinityNode:
		return "float " + yamlSafe(n.Token.Value)
	case *ast.NanNode:
		return "float " + yamlSafe(n.Token.Value)
	case *ast.BoolNode:
		return "boolean " + yamlSafe(n.Token.Value)
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return n.Type().YAMLName()
}

// top walks the document's top-level mapping.
func (p *specParser) top(body ast.Node) []Variant {
	root, msg := p.resolve(body)
	if msg != "" {
		p.errorf(body, "", "%s", msg)
		return nil
	}
	es, ok := yamlEntries(root)
	if !ok {
		p.errorf(root, "", "the top level must be a mapping with a variants list, got %s", yamlDescribe(root))
		return nil
	}
	var variants []Variant
	var seenKey *ast.MappingValueNode
	for _, e := range es {
		if e == nil || e.Key == nil {
			continue
		}
		switch key := yamlSafe(yamlKeyName(e.Key)); {
		case yamlKeyProblem(e.Key) != "":
			p.errorf(e.Key, "", "%s", yamlKeyProblem(e.Key))
		case e.Key.IsMergeKey():
			p.errorf(e.Key, key, "merge keys are not supported (write the fields out)")
		case key != "variants":
			p.errorf(e.Key, key, "unknown field (known: variants)")
		case seenKey != nil:
			l, _ := yamlPos(seenKey)
			p.errorf(e.Key, key, "duplicate key (first at line %d; remove one)", l)
		default:
			seenKey = e
			variants = p.variants(e)
		}
	}
	if seenKey == nil {
		p.errorf(root, "variants", "missing (add a variants list with at least one variant, as in spec/loop.yaml)")
	}
	return variants
}

// variants walks the variants list, then checks what spans variants: unique
// names and exactly one default.
func (p *specParser) variants(kv *ast.MappingValueNode) []Variant {
	n, msg := p.resolve(kv.Value)
	if msg != "" {
		p.errorf(kv.Value, "variants", "%s", msg)
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		p.errorf(yamlValuePos(kv), "variants", "want a list of variants, got %s", yamlDescribe(n))
		return nil
	}
	if len(seq.Values) == 0 {
		p.errorf(seq, "variants", "empty list (add at least one variant, such as - {name: balanced, default: true})")
		return nil
	}
	if len(seq.Values) > specMaxVariants {
		p.errorf(seq.Values[specMaxVariants], "variants", "%d variants; at most %d (the build-tag guard against two variant tags names every pair)", len(seq.Values), specMaxVariants)
	}
	type first struct {
		index int
		node  ast.Node
	}
	var (
		out          []Variant
		names        = map[string]first{}
		def          *first
		defaultKnown = true // false when some variant's default could not be read
	)
	for i, item := range seq.Values {
		v, r := p.variant(i, item)
		out = append(out, v)
		if r == nil {
			defaultKnown = false
			continue
		}
		if at := r.values["name"]; at != nil && !r.bad["name"] {
			if f, dup := names[v.Name]; dup {
				l, _ := yamlPos(f.node)
				p.errorf(at, fmt.Sprintf("variants[%d].name", i),
					"duplicate name %q (first used by variants[%d] at line %d; names must be unique)", v.Name, f.index, l)
			} else {
				names[v.Name] = first{i, at}
			}
		}
		if r.bad["default"] {
			defaultKnown = false
		}
		if v.Default {
			if def != nil {
				l, _ := yamlPos(def.node)
				p.errorf(r.values["default"], fmt.Sprintf("variants[%d].default", i),
					"variants[%d] %q at line %d is already the default (mark exactly one variant default: true)",
					def.index, out[def.index].Name, l)
			} else {
				def = &first{i, r.values["default"]}
			}
		}
	}
	if def == nil && defaultKnown {
		p.errorf(kv.Key, "variants", "no variant has default: true (mark exactly one)")
	}
	return out
}

// specRead records, for one variant, the value node of each field given in the
// file and which of them had a problem.
type specRead struct {
	values map[string]ast.Node // by field key, such as "wheel.tick"
	bad    map[string]bool
}

// variant reads one entry of the variants list over the defaults. The *specRead
// is nil when the entry is not a mapping.
func (p *specParser) variant(i int, item ast.Node) (Variant, *specRead) {
	v := specDefaults()
	path := fmt.Sprintf("variants[%d]", i)
	n, msg := p.resolve(item)
	if msg != "" {
		p.errorf(item, path, "%s", msg)
		return v, nil
	}
	if _, ok := yamlEntries(n); !ok {
		p.errorf(n, path, "want a mapping of fields (%s), got %s", strings.Join(specKnownKeys(""), ", "), yamlDescribe(n))
		return v, nil
	}
	r := &specRead{values: map[string]ast.Node{}, bad: map[string]bool{}}
	p.fields(&v, r, path, "", n)
	if r.values["name"] == nil {
		p.errorf(n, path+".name", "required (a lowercase Go package name, such as fast)")
	}
	// The wheel's parameters are checked together only when each is valid alone.
	if !r.bad["wheel.tick"] && !r.bad["wheel.slots"] && !r.bad["wheel.levels"] {
		if msg := specCheckHorizon(&v); msg != "" {
			at := cmp.Or(r.values["wheel.levels"], r.values["wheel.slots"], r.values["wheel.tick"], r.values["wheel"], n)
			p.errorf(at, path+".wheel", "%s", msg)
		}
	}
	return v, r
}

// fields reads the mapping n of the fields under prefix ("" for a variant,
// "wheel." for its wheel) into v.
func (p *specParser) fields(v *Variant, r *specRead, path, prefix string, n ast.Node) {
	es, _ := yamlEntries(n)
	seen := map[string]ast.Node{}
	for _, e := range es {
		if e == nil || e.Key == nil {
			continue
		}
		if msg := yamlKeyProblem(e.Key); msg != "" {
			p.errorf(e.Key, path, "%s", msg)
			continue
		}
		name := yamlKeyName(e.Key)
		key := prefix + yamlSafe(name)
		at := path + "." + key
		if group, sub, dotted := strings.Cut(name, "."); dotted { // a path, not a key
			if specLookupField(key) != nil {
				p.errorf(e.Key, at, "unknown field (write it nested: %s: {%s: ...})", group, sub)
			} else {
				p.errorf(e.Key, at, "unknown field (known: %s)", strings.Join(specKnownKeys(prefix), ", "))
			}
			continue
		}
		if e.Key.IsMergeKey() {
			p.errorf(e.Key, at, "merge keys are not supported (write the fields out; omitted fields take balanced's values)")
			continue
		}
		if first, dup := seen[key]; dup {
			l, _ := yamlPos(first)
			p.errorf(e.Key, at, "duplicate key (first at line %d; remove one)", l)
			continue
		}
		seen[key] = e.Key
		val, msg := p.resolve(e.Value) // a nil Value (a null) resolves to nil
		at0 := yamlValuePos(e)
		if f := specLookupField(key); f != nil {
			r.values[key] = at0
			if msg == "" {
				msg = f.decode(v, val)
				if msg == "" && f.check != nil {
					msg = f.check(v)
				}
			}
			if msg != "" {
				r.bad[key] = true
				p.errorf(at0, at, "%s", msg)
			}
			continue
		}
		if specIsGroup(key) {
			r.values[key] = at0
			if msg == "" {
				if _, ok := yamlEntries(val); !ok {
					msg = fmt.Sprintf("want a mapping (fields: %s), got %s", strings.Join(specKnownKeys(key+"."), ", "), yamlDescribe(val))
				}
			}
			if msg != "" {
				for _, k := range specKnownKeys(key + ".") {
					r.bad[key+"."+k] = true
				}
				p.errorf(at0, at, "%s", msg)
				continue
			}
			p.fields(v, r, path, key+".", val)
			continue
		}
		p.errorf(e.Key, at, "unknown field (known: %s)", strings.Join(specKnownKeys(prefix), ", "))
	}
}

// A field is one parameter of a variant.
type specField struct {
	key string // YAML path within a variant: "batch", "wheel.tick"
	// decode checks the value's type and stores it in v; it returns a message
	// saying what is wrong, or "". A nil node is a null.
	decode func(v *Variant, n ast.Node) string
	// check applies the field's own rule to the stored value: "" when valid.
	check func(v *Variant) string
	// get returns the stored value as YAML spells it.
	get func(v *Variant) string
}

// specFields lists every parameter in the order a spec shows them.
var specFields = []specField{
	{
		key: "name",
		decode: func(v *Variant, n ast.Node) string {
			s, ok := yamlString(n)
			if !ok {
				return "want a string (a lowercase Go package name), got " + yamlDescribe(n)
			}
			v.Name = s
			return ""
		},
		check: func(v *Variant) string { return specCheckName(v.Name) },
		get:   func(v *Variant) string { return v.Name },
	},
	specBoolField("default", func(v *Variant) *bool { return &v.Default }),
	specIntField("queue_depth", specMinDepth, specMaxDepth, true, func(v *Variant) *int { return &v.QueueDepth }),
	specEnumField("overflow", []Overflow{OverflowGrow, OverflowReject}, func(v *Variant) *Overflow { return &v.Overflow }),
	specIntField("batch", specMinBatch, specMaxBatch, false, func(v *Variant) *int { return &v.Batch }),
	specEnumField("inbox.kind", []InboxKind{InboxMPSC, InboxMutex}, func(v *Variant) *InboxKind { return &v.Inbox.Kind }),
	specIntField("inbox.depth", specMinDepth, specMaxDepth, true, func(v *Variant) *int { return &v.Inbox.Depth }),
	specDurationField("inbox.gather", 0, specMaxGather, true,
		"a Go duration such as 4us, or 0 for off", "such as 4us, or 0 for off",
		func(v *Variant) *time.Duration { return &v.Inbox.Gather }),
	specDurationField("wheel.tick", specMinTick, specMaxTick, false,
		"a Go duration such as 1ms or 100us", "such as 100us, 1ms or 1.5s",
		func(v *Variant) *time.Duration { return &v.Wheel.Tick }),
	specIntField("wheel.slots", specMinSlots, specMaxSlots, true, func(v *Variant) *int { return &v.Wheel.Slots }),
	specIntField("wheel.levels", specMinLevels, specMaxLevels, false, func(v *Variant) *int { return &v.Wheel.Levels }),
	specEnumField("poller", []PollerKind{PollerAuto, PollerEpoll, PollerPoll, PollerKqueue, PollerNone},
		func(v *Variant) *PollerKind { return &v.Poller }),
	{
		key: "idle",
		decode: func(v *Variant, n ast.Node) string {
			s, ok := yamlString(n)
			if !ok {
				return "want block or spin:<duration>, got " + yamlDescribe(n)
			}
			if s == "block" {
				v.Spin = 0
				return ""
			}
			ds, ok := strings.CutPrefix(s, "spin:")
			if !ok {
				return fmt.Sprintf("unknown value %q (want block or spin:<duration>, such as spin:50us)", s)
			}
			d, err := time.ParseDuration(ds)
			if err != nil {
				return fmt.Sprintf("%q is not a Go duration (want spin:<duration>, such as spin:50us)", ds)
			}
			if msg := specWholeNanoseconds(ds, d); msg != "" {
				return msg
			}
			if msg := specCheckSpin(d); msg != "" {
				return msg
			}
			v.Spin = d
			return ""
		},
		check: func(v *Variant) string {
			if v.Spin == 0 {
				return ""
			}
			return specCheckSpin(v.Spin)
		},
		get: func(v *Variant) string {
			if v.Spin == 0 {
				return "block"
			}
			return "spin:" + specDuration(v.Spin)
		},
	},
	specBoolField("recover", func(v *Variant) *bool { return &v.Recover }),
	specBoolField("stats", func(v *Variant) *bool { return &v.Stats }),
}

func specLookupField(key string) *specField {
	for i := range specFields {
		if specFields[i].key == key {
			return &specFields[i]
		}
	}
	return nil
}

// specIsGroup reports whether key is a mapping of fields, such as "wheel".
func specIsGroup(key string) bool {
	for _, f := range specFields {
		if strings.HasPrefix(f.key, key+".") {
			return true
		}
	}
	return false
}

// specKnownKeys lists the keys allowed in the mapping under prefix ("" or "wheel."),
// without the prefix, in spec order.
func specKnownKeys(prefix string) []string {
	var keys []string
	for _, f := range specFields {
		rest, ok := strings.CutPrefix(f.key, prefix)
		if !ok {
			continue
		}
		rest, _, _ = strings.Cut(rest, ".")
		if !slices.Contains(keys, rest) {
			keys = append(keys, rest)
		}
	}
	return keys
}

// Keys lists the parameters Variant.Set and Variant.Get accept, as YAML paths
// ("batch", "wheel.tick"), in the order a spec shows them.
func Keys() []string {
	keys := make([]string, len(specFields))
	for i, f := range specFields {
		keys[i] = f.key
	}
	return keys
}

// yamlString is the text of a string scalar, quoted, plain or block.
func yamlString(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		if n.Value != nil {
			return n.Value.Value, true
		}
	}
	return "", false
}

// specDurationField is a Go duration in [lo, hi]. With off, lo is 0 and means
// off, and a plain YAML 0 (a number, not a duration) is read as 0 too. want
// names the type in the message for a value that is not a string; examples
// end the message for a string that is not a duration.
func specDurationField(key string, lo, hi time.Duration, off bool, want, examples string, ptr func(*Variant) *time.Duration) specField {
	return specField{
		key: key,
		decode: func(v *Variant, n ast.Node) string {
			if i, ok := n.(*ast.IntegerNode); ok && off && fmt.Sprint(i.Value) == "0" {
				*ptr(v) = 0
				return ""
			}
			s, ok := yamlString(n)
			if !ok {
				return "want " + want + ", got " + yamlDescribe(n)
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Sprintf("%q is not a Go duration (want a number and a unit, %s)", s, examples)
			}
			if msg := specWholeNanoseconds(s, d); msg != "" {
				return msg
			}
			*ptr(v) = d
			return ""
		},
		check: func(v *Variant) string {
			if d := *ptr(v); d < lo || d > hi {
				if off {
					return fmt.Sprintf("must be between 0 (off) and %v (got %v)", hi, d)
				}
				return fmt.Sprintf("must be between %v and %v (got %v)", lo, hi, d)
			}
			return ""
		},
		get: func(v *Variant) string { return specDuration(*ptr(v)) },
	}
}

// specWholeNanoseconds says what is wrong with s, a duration that
// ParseDuration read as d, when it is not a whole number of nanoseconds, or
// returns "". ParseDuration drops what is below a nanosecond: 0.9ns would
// silently be 0, which for some fields means off, and 1.5ns would be 1ns.
func specWholeNanoseconds(s string, d time.Duration) string {
	if d == 0 && strings.ContainsAny(s, "123456789") {
		return fmt.Sprintf("%q is less than a nanosecond, the smallest duration", s)
	}
	if specSubNanosecond(s) {
		return fmt.Sprintf("%q has a fraction of a nanosecond, which a duration cannot hold (it would read as %v)", s, d)
	}
	return ""
}

// specDurationPart is one number and unit of a Go duration, such as 1.5ms.
var specDurationPart = regexp.MustCompile(`([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)`)

// specDurationUnits are the nanoseconds in each unit ParseDuration takes.
var specDurationUnits = map[string]int64{"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}

// specSubNanosecond reports whether the duration s, which ParseDuration
// accepted, has a part finer than a nanosecond (1.5ns, 0.0000000015s), which
// ParseDuration drops without a word.
func specSubNanosecond(s string) bool {
	for _, m := range specDurationPart.FindAllStringSubmatch(s, -1) {
		frac, unit := strings.TrimRight(m[2], "0"), specDurationUnits[m[3]]
		// frac/10^len(frac) of unit is whole nanoseconds when unit*frac is a
		// multiple of 10^len(frac); unit is at most 3.6e12, so a fraction
		// longer than 13 digits that survived the trim cannot be.
		if frac == "" {
			continue
		}
		if len(frac) > 13 {
			return true
		}
		f, _ := strconv.ParseInt(frac, 10, 64)
		pow := int64(math.Pow10(len(frac)))
		hi, lo := bits.Mul64(uint64(unit), uint64(f))
		if _, rem := bits.Div64(hi, lo, uint64(pow)); rem != 0 {
			return true
		}
	}
	return false
}

func specBoolField(key string, ptr func(*Variant) *bool) specField {
	return specField{
		key: key,
		decode: func(v *Variant, n ast.Node) string {
			b, ok := n.(*ast.BoolNode)
			if !ok {
				return "want a boolean (true or false), got " + yamlDescribe(n)
			}

			*ptr(v) = b.Value
			return ""
		},
		get: func(v *Variant) string { return strconv.FormatBool(*ptr(v)) },
	}
}

// specIntField is an integer parameter in [lo, hi], a power of two when pow2.
func specIntField(key string, lo, hi int, pow2 bool, ptr func(*Variant) *int) specField {
	rangeMsg := func(got string) string {
		if pow2 {
			return fmt.Sprintf("must be a power of two between %d and %d (got %s)", lo, hi, got)
		}
		return fmt.Sprintf("must be between %d and %d (got %s)", lo, hi, got)
	}
	return specField{
		key: key,
		decode: func(v *Variant, n ast.Node) string {
			var x int64
			switch n := n.(type) {
			case *ast.IntegerNode:
				if msg := specNotDecimal(n.Token.Value); msg != "" {
					return msg
				}
				switch i := n.Value.(type) {
				case int64:
					x = i
				case uint64:
					if i > math.MaxInt64 {
						return rangeMsg(n.Token.Value)
					}
					x = int64(i)
				default:
					return "want an integer, got " + yamlDescribe(n)
				}
			case *ast.StringNode:
				// The YAML parser reads a plain integer too large for 64 bits as a string.
				// So is one with a leading zero that is not octal, such as 08192.
				if n.Token != nil && n.Token.Type == yamltoken.StringType && specTooLargeInt.MatchString(n.Value) {
					if msg := specNotDecimal(n.Value); msg != "" {
						return msg
					}
					return rangeMsg(n.Value)
				}
				return "want an integer, got " + yamlDescribe(n)
			default:
				return "want an integer, got " + yamlDescribe(n)
			}
			if x < math.MinInt || x > math.MaxInt {
				return rangeMsg(strconv.FormatInt(x, 10))
			}
			*ptr(v) = int(x)
			return ""
		},
		check: func(v *Variant) string {
			x := *ptr(v)
			if x < lo || x > hi {
				return rangeMsg(strconv.Itoa(x))
			}
			if pow2 && x&(x-1) != 0 {
				return fmt.Sprintf("%d is not a power of two (nearest: %d)", x, specNearestPow2(x))
			}
			return ""
		},
		get: func(v *Variant) string { return strconv.Itoa(*ptr(v)) },
	}
}

var specTooLargeInt = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

// specNotDecimal says what is wrong with an integer token that is not written
// in decimal, or returns "". The YAML parser follows YAML 1.1 there: 010 is
// octal 8, 0x10 is 16, and 08192 (not octal) is a string, so a leading zero
// meant as padding silently changed the value or gave a confusing message.
func specNotDecimal(tok string) string {
	if strings.Contains(tok, "_") {
		// YAML 1.1's digit separator: YAML 1.2 integers have none, and
		// the parser takes it only as it takes yes and no.
		msg := fmt.Sprintf("%q has underscores: write integers in plain decimal", tok)
		if x, err := strconv.ParseInt(strings.ReplaceAll(tok, "_", ""), 0, 64); err == nil {
			msg += fmt.Sprintf(", such as %d", x)
		}
		return msg
	}
	digits := strings.TrimLeft(tok, "+-")
	sign := tok[:len(tok)-len(digits)]
	if len(digits) < 2 || digits[0] != '0' {
		return ""
	}
	base := ""
	switch digits[1] {
	case 'x', 'X':
		base = "hexadecimal"
	case 'o', 'O':
		base = "octal"
	case 'b', 'B':
		base = "binary"
	}
	if base != "" {
		msg := fmt.Sprintf("%q is %s: write integers in decimal", tok, base)
		if x, err := strconv.ParseInt(strings.ReplaceAll(tok, "_", ""), 0, 64); err == nil {
			msg += fmt.Sprintf(", such as %d", x)
		}
		return msg
	}
	plain := strings.TrimLeft(digits, "0_")
	if plain == "" {
		plain = "0"
	}
	if x, err := strconv.ParseInt(strings.ReplaceAll(tok, "_", ""), 0, 64); err == nil && strconv.FormatInt(x, 10) != strings.TrimPrefix(sign+plain, "+") {
		return fmt.Sprintf("%q has a leading zero, so YAML reads it as octal (%d): write integers in decimal, such as %s%s", tok, x, sign, plain)
	}
	return fmt.Sprintf("%q has a leading zero: write integers in decimal, such as %s%s", tok, sign, plain)
}

// specNearestPow2 is the power of two closest to x > 0, the larger one on a tie.
func specNearestPow2(x int) int {
	below := 1 << (bits.Len(uint(x)) - 1)
	above := below << 1
	if x-below < above-x {
		return below
	}
	return above
}

// specEnumField is a string parameter with a fixed set of values.
func specEnumField[T ~string](key string, allowed []T, ptr func(*Variant) *T) specField {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	want := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	return specField{
		key: key,
		decode: func(v *Variant, n ast.Node) string {
			s, ok := yamlString(n)
			if !ok {
				return fmt.Sprintf("want %s, got %s", want, yamlDescribe(n))
			}
			*ptr(v) = T(s)
			return ""
		},
		check: func(v *Variant) string {
			if !slices.Contains(allowed, *ptr(v)) {
				return fmt.Sprintf("unknown value %q (want %s)", string(*ptr(v)), want)
			}
			return ""
		},
		get: func(v *Variant) string { return string(*ptr(v)) },
	}
}

// specReservedNames are taken by the generator's own files and build tags
// (all, conflict, generic, select), cannot name an importable package
// (internal, main, and init, which Go does not allow as an import's name;
// testdata, a directory the go command skips in ./..., so that vet and test
// would pass over the variant), or are package loop's own name, which
// bench/internal/drivegen gives the copy of the drivers for the public API
// (drive_loop_gen.go).
var specReservedNames = []string{"all", "conflict", "generic", "init", "internal", "loop", "main", "select", "testdata"}

var specNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// specMaxNameLen bounds a variant's name, which names a directory, files such
// as select_<name>_gen.go and bench/drive_<name>_gen.go, and a build tag: a
// name of a few hundred bytes passed and then failed in the file system,
// with no position in the spec.
const specMaxNameLen = 64

func specCheckName(name string) string {
	switch {
	case name == "":
		return "required (a lowercase Go package name, such as fast)"
	case len(name) > specMaxNameLen:
		return fmt.Sprintf("too long: %d bytes, at most %d (the name becomes a directory, file names and a build tag)", len(name), specMaxNameLen)
	case !specNamePattern.MatchString(name):
		msg := fmt.Sprintf("%q is not a valid variant name (want a Go package name matching ^[a-z][a-z0-9_]*$", name)
		if s := specSuggestName(name); s != "" {
			msg += ", such as " + s
		}
		return msg + ")"
	case slices.Contains(specReservedNames, name):
		such := name + "_loop"
		if name == "loop" {
			such = "event_loop"
		}
		return fmt.Sprintf("%q is reserved (reserved: %s); pick another name, such as %s",
			name, strings.Join(specReservedNames, ", "), such)
	case token.IsKeyword(name):
		return fmt.Sprintf("%q is a Go keyword and cannot name a package; pick another name, such as %s_loop", name, name)
	}
	return ""
}

// specSuggestName turns a bad name into a valid one when that is easy: "Fast-IO" → "fast_io".
func specSuggestName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '.':
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" {
		return ""
	}
	if s[0] < 'a' || s[0] > 'z' {
		s = "v" + s
	}
	if specCheckName(s) != "" {
		return ""
	}
	return s
}

// specDuration spells d as the spec's comments and examples do: 100us, not
// time.Duration's 100µs, so that what a tool writes into a spec can be typed.
func specDuration(d time.Duration) string {
	return strings.Replace(d.String(), "µs", "us", 1)
}

func specCheckSpin(d time.Duration) string {
	if d <= 0 || d > specMaxSpin {
		return fmt.Sprintf("spin duration must be greater than 0 and at most %v (got %v)", specMaxSpin, d)
	}
	return ""
}

// specCheckHorizon is the rule across the wheel's three parameters, each valid alone.
func specCheckHorizon(v *Variant) string {
	w := v.Wheel
	if _, ok := w.horizon(); !ok || w.Levels*w.SlotBits() > specMaxWheelBits {
		return "horizon tick×slots^levels overflows int64 nanoseconds (use fewer levels or slots)"
	}
	return ""
}

// Validate applies the rules Parse applies to one variant (every rule but the
// ones across variants: unique names, exactly one default) and returns an
// ErrorList of every problem, without positions: "wheel.tick: must be ...".
func (v *Variant) Validate() error {
	var errs ErrorList
	bad := map[string]bool{}
	for _, f := range specFields {
		if f.check == nil {
			continue
		}
		if msg := f.check(v); msg != "" {
			bad[f.key] = true
			errs = append(errs, &Error{Path: f.key, Msg: msg})
		}
	}
	if !bad["wheel.tick"] && !bad["wheel.slots"] && !bad["wheel.levels"] {
		if msg := specCheckHorizon(v); msg != "" {
			errs = append(errs, &Error{Path: "wheel", Msg: msg})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Set sets one parameter, named by its YAML path (as Keys lists them), from
// value written as in a spec: "256", "1ms", "spin:50us", "true". It applies the
// same type checks and rules as Parse, with the same messages, and leaves v
// unchanged on error. Rules across parameters (the wheel's horizon) are left to
// Validate, so that a tuner may pass through an invalid combination on its way
// to a valid one.
func (v *Variant) Set(key, value string) error {
	f := specLookupField(key)
	if f == nil {
		return &Error{Path: key, Msg: "unknown field (known: " + strings.Join(Keys(), ", ") + ")"}
	}
	n := yamlScalar(value)
	w := *v
	msg := f.decode(&w, n)
	if msg == "" && f.check != nil {
		msg = f.check(&w)
	}
	if msg != "" {
		return &Error{Path: key, Msg: msg}
	}
	*v = w
	return nil
}

// Get returns one parameter, named by its YAML path, as a spec would write it;
// Set(key, Get(key)) changes nothing.
func (v *Variant) Get(key string) (string, error) {
	f := specLookupField(key)
	if f == nil {
		return "", &Error{Path: key, Msg: "unknown field (known: " + strings.Join(Keys(), ", ") + ")"}
	}
	return f.get(v), nil
}

// yamlScalar reads value as the YAML of a single value, so that Set types it
// exactly as Parse would ("4096" is an integer, "\"4096\"" a string). Text that
// is not one YAML value is taken as a plain string.
func yamlScalar(value string) ast.Node {
	f, err := specParseYAML([]byte(value))
	if err == nil && len(f.Docs) == 1 && f.Docs[0] != nil {
		if f.Docs[0].Body == nil {
			return nil // null
		}
		switch n := f.Docs[0].Body.(type) {
		case *ast.AnchorNode, *ast.AliasNode, *ast.TagNode:
		default:
			return n
		}
	}
	return ast.String(yamltoken.New(value, value, &yamltoken.Position{Line: 1, Column: 1}))
}
