package schemaset

import (
	"cmp"
	"container/heap"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// dstMark stands for the destination schema's quoted name in a generated script. PostgreSQL text
// cannot hold a NUL byte, so no definition read from the catalog contains one.
const dstMark = "\x00"

// cloneScript is the SQL that recreates a source schema, with its rows, in an empty destination:
// statements in order, with dstMark where the destination's name goes. It does not depend on the
// destination otherwise, so one script serves every clone of the source.
type cloneScript struct {
	stmts []string
	// data marks the statements of phaseData (rows, sequence values, materialized views'
	// contents), which a copy of the structure alone leaves out.
	data []bool
}

// cloneContent is what a clone copies.
type cloneContent int

const (
	// cloneWithRows copies the structure and the contents: rows, sequence values and
	// materialized views' contents (a tenant made from the reference, a pooled copy).
	cloneWithRows cloneContent = iota
	// cloneStructure copies the structure alone: the scratch copy in which a plan runs a schema's
	// pending steps (plan_scratch.go) needs what the diff sees, not the rows.
	cloneStructure
)

// render returns the statements for the destination dst.
func (s *cloneScript) render(dst string, what cloneContent) []string {
	q := quoteIdent(dst)
	out := make([]string, 0, len(s.stmts))
	for i, st := range s.stmts {
		if what == cloneStructure && s.data[i] {
			continue
		}
		out = append(out, strings.ReplaceAll(st, dstMark, q))
	}
	return out
}

// The phases of a script. Within the order that dependencies impose, statements run by phase,
// then in the order they were made: the rows are copied into bare tables (no index to maintain, no
// foreign key to check, no trigger to fire), and the foreign keys that lock another schema's table
// come last, so that concurrent clones hold those locks for the shortest time.
const (
	phaseDefine  = iota // collations, types, sequences, functions, tables, partitions, views
	phaseData           // rows, sequence values, materialized views' contents
	phaseIndex          // keys, indexes, foreign keys inside the schema, triggers, rules, policies
	phaseOutside        // foreign keys to tables of other schemas
)

// cloneNode is one step of a script: the statements that create one object (with what belongs to
// it: a table's columns, defaults and checks, comments).
type cloneNode struct {
	what  string
	phase int
	seq   int
	stmts []string
	// after counts the unsorted nodes this one waits for; users wait for this one.
	after int
	users []*cloneNode
	deps  map[*cloneNode]bool
	index int // in the sort's heap
}

func (n *cloneNode) add(stmts ...string) { n.stmts = append(n.stmts, stmts...) }

// comment adds COMMENT ON target IS text, when text is not empty.
func (n *cloneNode) comment(target, text string) {
	if text != "" {
		n.add("COMMENT ON " + target + " IS " + cloneLiteral(text))
	}
}

// enabled adds what gives a trigger or a rule (kind) of the table t its state, as pg_trigger's
// tgenabled or pg_rewrite's ev_enabled says it ('O', the default, needs nothing), and its comment.
func (n *cloneNode) enabled(kind, name, t, state, comment string) {
	if s := map[string]string{"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}[state]; s != "" {
		n.add("ALTER TABLE " + t + " " + s + " " + kind + " " + quoteIdent(name))
	}
	n.comment(kind+" "+quoteIdent(name)+" ON "+t, comment)
}

// objRef names a catalog row: the catalog's oid and the row's oid.
type objRef struct{ class, oid uint32 }

// cloneGen builds the script of one source schema.
type cloneGen struct {
	src string
	nsp uint32
	// viaRoot copies a partition's rows through its root partitioned table: Citus refuses an
	// INSERT ... SELECT from a distributed table into a partition ("relation ... is not
	// distributed"), and takes it into the root, which routes each row to the same partition.
	viaRoot bool
	nodes   []*cloneNode
	// made maps each object to the node that creates it; alias maps objects created along with
	// another (a table's row type, a constraint's index) to that object.
	made  map[objRef]*cloneNode
	alias map[objRef]objRef
	// names are the names of the source's relations, types and functions, for rewriting
	// qualified names in function bodies.
	names    map[string]bool
	problems []string
	// ownedSeqs are the sequences owned by a column (serial): their dependency on the column is
	// ownership, made after the table, not a prerequisite of the sequence.
	ownedSeqs map[uint32]bool
	depends   []dependRow
}

func (g *cloneGen) node(phase int, what string, refs ...objRef) *cloneNode {
	n := &cloneNode{what: what, phase: phase, seq: len(g.nodes), deps: map[*cloneNode]bool{}}
	g.nodes = append(g.nodes, n)
	for _, r := range refs {
		g.made[r] = n
	}
	return n
}

// q qualifies a name of the source with the destination.
func (g *cloneGen) q(name string) string { return dstMark + "." + quoteIdent(name) }

// from names a relation of the source.
func (g *cloneGen) from(name string) string { return quoteIdent(g.src) + "." + quoteIdent(name) }

func (g *cloneGen) owner(r objRef) *cloneNode {
	for range 8 {
		if n := g.made[r]; n != nil {
			return n
		}
		a, ok := g.alias[r]
		if !ok {
			return nil
		}
		r = a
	}
	return nil
}

func (g *cloneGen) problem(format string, args ...any) {
	g.problems = append(g.problems, fmt.Sprintf(format, args...))
}

// need makes n wait for m.
func need(n, m *cloneNode) {
	if n != nil && m != nil && n != m && !n.deps[m] {
		n.deps[m] = true
		m.users = append(m.users, n)
		n.after++
	}
}

// The catalog rows generateClone reads.
type (
	cloneRel struct {
		oid                                        uint32
		name, kind, persistence                    string
		partition, typed, rls, forceRLS, populated bool
		options, toastOptions, partKey, bound, am  string
		parent                                     uint32
		replident, viewdef, comment                string
		cols                                       []*cloneCol
		// inline are the constraints written in the table's CREATE TABLE (or, for a partition,
		// added right after it); inlineAfter are statements about them (comments, their indexes).
		inline, inlineAfter []string
		node                *cloneNode
	}
	cloneCol struct {
		name, typ, identity, generated, def, collation, storage, compression, comment string
		notNull, cast, parentNotNull                                                  bool
		defOID                                                                        uint32
		stat                                                                          int
		parentDef                                                                     string
	}
	cloneSeq struct {
		oid                                      uint32
		typ, start, inc, max, min, cache, column string
		cycle                                    bool
		owner                                    uint32
		deptype                                  string
	}
	cloneCon struct {
		oid                      uint32
		name, kind, def, comment string
		rel, typ, index, parent  uint32
		validated, outside       bool
		inherited                int
		// indexExtra are the statements about the constraint's index (readIndexes).
		indexExtra []string
	}
)

// generateClone reads the catalog of src in tx and returns the script that recreates it. It sets
// the search path to src first (and leaves it so); the caller's replay sets its own.
func (e *Engine) generateClone(ctx context.Context, tx *sql.Tx, src string, key cloneKey) (*cloneScript, error) {
	extra := ""
	for _, x := range e.set.Config.ExtraSearchPaths {
		extra += ", " + quoteIdent(x)
	}
	// Rendered with src first and pg_catalog next, src's objects print unqualified and resolve, on
	// replay with the destination first, to the destination's copies.
	if err := setLocal(ctx, tx, "search_path", quoteIdent(src)+", pg_catalog, public"+extra); err != nil {
		return nil, err
	}
	g := &cloneGen{src: src, nsp: key.oid, made: map[objRef]*cloneNode{}, alias: map[objRef]objRef{},
		names: map[string]bool{}, ownedSeqs: map[uint32]bool{}, viaRoot: e.onCitus()}
	if err := g.read(ctx, tx); err != nil {
		return nil, fmt.Errorf("read the catalog of %q: %w", src, err)
	}
	if len(g.problems) > 0 {
		slices.Sort(g.problems)
		return nil, fmt.Errorf("schema %q holds what a clone cannot copy: %s", src, strings.Join(g.problems, "; "))
	}
	body, data, err := g.sort()
	if err != nil {
		return nil, fmt.Errorf("schema %q: %w", src, err)
	}
	// check_function_bodies off lets functions be created before the tables their bodies name, as
	// pg_dump does; row_security off makes a row level security policy that would hide source rows
	// an error rather than a silent loss. Both are restored afterwards, and the search path is left
	// at the destination's.
	const saved = "pg_catalog.current_setting('pgschemas.clone_saved')"
	stmts := []string{"SELECT pg_catalog.set_config('pgschemas.clone_saved', " +
		"pg_catalog.current_setting('check_function_bodies') || ',' || pg_catalog.current_setting('row_security'), true), " +
		"pg_catalog.set_config('search_path', " + cloneLiteral(dstMark+", pg_catalog, public"+extra) + ", true), " +
		"pg_catalog.set_config('check_function_bodies', 'off', true), pg_catalog.set_config('row_security', 'off', true)"}
	stmts = append(stmts, body...)
	stmts = append(stmts, "SELECT pg_catalog.set_config('check_function_bodies', pg_catalog.split_part("+saved+", ',', 1), true), "+
		"pg_catalog.set_config('row_security', pg_catalog.split_part("+saved+", ',', 2), true), "+
		"pg_catalog.set_config('search_path', "+cloneLiteral(dstMark+", public"+extra)+", true)")
	return &cloneScript{stmts: stmts, data: append(append([]bool{false}, data...), false)}, nil
}

// read reads the catalog and makes the nodes.
func (g *cloneGen) read(ctx context.Context, tx *sql.Tx) error {
	byClass := map[uint32]oidList{}
	var classes, objids oidList
	err := sqlrows.Each(ctx, tx, cloneListSQL, func(r *sql.Rows) error {
		var c, o uint32
		var other string
		if err := r.Scan(&c, &o, &other); err != nil {
			return err
		}
		if other != "" {
			g.problem("%s", other)
			return nil
		}
		byClass[c] = append(byClass[c], o)
		classes, objids = append(classes, c), append(objids, o)
		return nil
	}, g.src)
	if err != nil {
		return err
	}
	if err := g.readDepends(ctx, tx, classes, objids); err != nil {
		return err
	}
	rels, err := g.readRels(ctx, tx, byClass[catClass])
	if err != nil {
		return err
	}
	seqs, err := g.readSequences(ctx, tx, byClass[catClass])
	if err != nil {
		return err
	}
	cons, err := g.readConstraints(ctx, tx, byClass[catConstraint])
	if err != nil {
		return err
	}
	if err := g.readCollations(ctx, tx, byClass[catCollation]); err != nil {
		return err
	}
	if err := g.readTypes(ctx, tx, byClass[catType], rels, cons); err != nil {
		return err
	}
	if err := g.readIndexes(ctx, tx, byClass[catClass], rels, cons); err != nil {
		return err
	}
	// After every other name is known: function bodies are rewritten by name.
	if err := g.readFunctions(ctx, tx, byClass[catProc]); err != nil {
		return err
	}
	g.makeSequences(rels, seqs)
	g.collectInline(rels, cons)
	g.makeRels(rels, seqs)
	g.makeConstraints(rels, cons)
	if err := g.readTriggers(ctx, tx, byClass[catTrigger], rels); err != nil {
		return err
	}
	if err := g.readRules(ctx, tx, byClass[catRewrite], rels); err != nil {
		return err
	}
	if err := g.readPolicies(ctx, tx, byClass[catPolicy], rels); err != nil {
		return err
	}
	g.makeData(rels, seqs)
	g.order()
	return nil
}

func (g *cloneGen) readRels(ctx context.Context, tx *sql.Tx, oids oidList) (map[uint32]*cloneRel, error) {
	rels := map[uint32]*cloneRel{}
	var withCols oidList
	err := sqlrows.Each(ctx, tx, cloneRelsSQL, func(r *sql.Rows) error {
		x := &cloneRel{}
		if err := r.Scan(&x.oid, &x.name, &x.kind, &x.persistence, &x.partition, &x.options, &x.toastOptions, &x.partKey,
			&x.bound, &x.parent, &x.typed, &x.am, &x.rls, &x.forceRLS, &x.replident, &x.populated, &x.viewdef, &x.comment); err != nil {
			return err
		}
		rels[x.oid] = x
		g.names[x.name] = true
		if x.kind != "S" {
			withCols = append(withCols, x.oid)
		}
		return nil
	}, oids.String())
	if err != nil {
		return nil, err
	}
	err = sqlrows.Each(ctx, tx, cloneColumnsSQL, func(r *sql.Rows) error {
		var rel uint32
		c := &cloneCol{}
		if err := r.Scan(&rel, &c.name, &c.typ, &c.notNull, &c.identity, &c.generated, &c.def, &c.defOID, &c.collation,
			&c.stat, &c.storage, &c.compression, &c.comment, &c.cast, &c.parentNotNull, &c.parentDef); err != nil {
			return err
		}
		if x := rels[rel]; x != nil {
			x.cols = append(x.cols, c)
			if c.defOID != 0 {
				g.alias[objRef{catAttrdef, c.defOID}] = objRef{catClass, rel}
			}
		}
		return nil
	}, withCols.String(), int64(g.nsp))
	return rels, err
}

func (g *cloneGen) readSequences(ctx context.Context, tx *sql.Tx, oids oidList) (map[uint32]*cloneSeq, error) {
	seqs := map[uint32]*cloneSeq{}
	err := sqlrows.Each(ctx, tx, cloneSequencesSQL, func(r *sql.Rows) error {
		s := &cloneSeq{}
		if err := r.Scan(&s.oid, &s.typ, &s.start, &s.inc, &s.max, &s.min, &s.cache, &s.cycle, &s.owner, &s.deptype, &s.column); err != nil {
			return err
		}
		seqs[s.oid] = s
		return nil
	}, oids.String())
	return seqs, err
}

func (g *cloneGen) readConstraints(ctx context.Context, tx *sql.Tx, oids oidList) (map[uint32]*cloneCon, error) {
	cons := map[uint32]*cloneCon{}
	err := sqlrows.Each(ctx, tx, cloneConstraintsSQL, func(r *sql.Rows) error {
		k := &cloneCon{}
		if err := r.Scan(&k.oid, &k.name, &k.kind, &k.rel, &k.typ, &k.index, &k.parent, &k.inherited,
			&k.validated, &k.def, &k.outside, &k.comment); err != nil {
			return err
		}
		cons[k.oid] = k
		return nil
	}, oids.String(), int64(g.nsp))
	return cons, err
}

func (g *cloneGen) readCollations(ctx context.Context, tx *sql.Tx, oids oidList) error {
	return sqlrows.Each(ctx, tx, cloneCollationsSQL, func(r *sql.Rows) error {
		var oid uint32
		var name, comment string
		if err := r.Scan(&oid, &name, &comment); err != nil {
			return err
		}
		n := g.node(phaseDefine, "collation "+name, objRef{catCollation, oid})
		n.add("CREATE COLLATION " + g.q(name) + " FROM " + g.from(name))
		n.comment("COLLATION "+g.q(name), comment)
		return nil
	}, oids.String())
}

// readTypes makes the enum, domain and composite types; array and row types go with their element
// or relation.
func (g *cloneGen) readTypes(ctx context.Context, tx *sql.Tx, oids oidList, rels map[uint32]*cloneRel, cons map[uint32]*cloneCon) error {
	return sqlrows.Each(ctx, tx, cloneTypesSQL, func(r *sql.Rows) error {
		var oid, rel, elem uint32
		var name, kind, base, def, collation, comment string
		var notNull bool
		var labels []string
		if err := r.Scan(&oid, &name, &kind, &rel, &elem, &base, &notNull, &def, &collation, typeMap.SQLScanner(&labels), &comment); err != nil {
			return err
		}
		ref := objRef{catType, oid}
		switch {
		case elem != 0:
			g.alias[ref] = objRef{catType, elem}
			return nil
		case rel != 0 && rels[rel] != nil && rels[rel].kind != "c":
			g.alias[ref] = objRef{catClass, rel}
			return nil
		}
		g.names[name] = true
		switch kind {
		case "e":
			n := g.node(phaseDefine, "type "+name, ref)
			quoted := make([]string, len(labels))
			for i, l := range labels {
				quoted[i] = cloneLiteral(l)
			}
			n.add("CREATE TYPE " + g.q(name) + " AS ENUM (" + strings.Join(quoted, ", ") + ")")
			n.comment("TYPE "+g.q(name), comment)
		case "d":
			n := g.node(phaseDefine, "domain "+name, ref)
			s := "CREATE DOMAIN " + g.q(name) + " AS " + base
			if collation != "" {
				s += " COLLATE " + collation
			}
			if def != "" {
				s += " DEFAULT " + def
			}
			if notNull {
				s += " NOT NULL"
			}
			var later []*cloneCon
			for _, k := range byOID(cons) {
				if k.typ != oid {
					continue
				}
				if k.validated {
					s += " CONSTRAINT " + quoteIdent(k.name) + " " + k.def
					g.made[objRef{catConstraint, k.oid}] = n
				} else {
					later = append(later, k)
				}
			}
			n.add(s)
			n.comment("DOMAIN "+g.q(name), comment)
			for _, k := range byOID(cons) {
				if k.typ == oid && k.validated {
					n.comment("CONSTRAINT "+quoteIdent(k.name)+" ON DOMAIN "+g.q(name), k.comment)
				}
			}
			// A NOT VALID constraint would check the copied rows: it comes after them.
			for _, k := range later {
				m := g.node(phaseIndex, "constraint "+k.name+" on domain "+name, objRef{catConstraint, k.oid})
				m.add("ALTER DOMAIN " + g.q(name) + " ADD CONSTRAINT " + quoteIdent(k.name) + " " + k.def)
				m.comment("CONSTRAINT "+quoteIdent(k.name)+" ON DOMAIN "+g.q(name), k.comment)
				need(m, n)
			}
		case "c":
			x := rels[rel]
			if x == nil {
				return fmt.Errorf("composite type %s: no relation", name)
			}
			n := g.node(phaseDefine, "type "+name, ref, objRef{catClass, rel})
			x.node = n
			var cols []string
			for _, c := range x.cols {
				s := quoteIdent(c.name) + " " + c.typ
				if c.collation != "" {
					s += " COLLATE " + c.collation
				}
				cols = append(cols, s)
			}
			n.add("CREATE TYPE " + g.q(name) + " AS (" + strings.Join(cols, ", ") + ")")
			n.comment("TYPE "+g.q(name), comment)
			for _, c := range x.cols {
				n.comment("COLUMN "+g.q(name)+"."+quoteIdent(c.name), c.comment)
			}
		default:
			g.problem("type %s (%s)", name, map[string]string{"b": "a base type", "r": "a range type", "m": "a multirange type",
				"p": "a pseudo-type"}[kind])
		}
		return nil
	}, oids.String())
}

// byOID returns the values of m in the order of their oids: the order of creation, mostly.
func byOID[T any](m map[uint32]T) []T {
	out := make([]T, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

func (g *cloneGen) readFunctions(ctx context.Context, tx *sql.Tx, oids oidList) error {
	type fn struct {
		oid                                uint32
		name, kind, args, def, head, cmmnt string
		config                             []string
	}
	var fns []fn
	err := sqlrows.Each(ctx, tx, cloneFunctionsSQL, func(r *sql.Rows) error {
		var f fn
		if err := r.Scan(&f.oid, &f.name, &f.kind, &f.args, &f.def, &f.head, typeMap.SQLScanner(&f.config), &f.cmmnt); err != nil {
			return err
		}
		fns = append(fns, f)
		g.names[f.name] = true
		return nil
	}, oids.String())
	if err != nil {
		return err
	}
	// Made after reading them all: a body may name any function of the schema.
	for _, f := range fns {
		if f.kind == "a" {
			g.problem("aggregate %s(%s)", f.name, f.args)
			continue
		}
		rest, ok := strings.CutPrefix(f.def, f.head)
		if !ok {
			return fmt.Errorf("function %s(%s): unexpected definition %q", f.name, f.args, oneLine(f.def))
		}
		word := "FUNCTION"
		if f.kind == "p" {
			word = "PROCEDURE"
		}
		sig := g.q(f.name) + "(" + f.args + ")"
		n := g.node(phaseDefine, strings.ToLower(word)+" "+f.name+"("+f.args+")", objRef{catProc, f.oid})
		n.add("CREATE " + word + " " + g.q(f.name) + "(" + strings.TrimRight(rewriteQualified(rest, g.src, g.names), " \n"))
		for _, c := range f.config {
			if v, ok := strings.CutPrefix(c, "search_path="); ok {
				if path, changed := rewritePath(v, g.src); changed {
					n.add("ALTER " + word + " " + sig + " SET search_path = " + path)
				}
			}
		}
		n.comment(word+" "+sig, f.cmmnt)
	}
	return nil
}

// makeSequences makes the sequences that are not identity sequences (which their table creates).
func (g *cloneGen) makeSequences(rels map[uint32]*cloneRel, seqs map[uint32]*cloneSeq) {
	for _, x := range byOID(rels) {
		s := seqs[x.oid]
		if x.kind != "S" || s == nil {
			continue
		}
		if s.deptype == "i" {
			g.alias[objRef{catClass, x.oid}] = objRef{catClass, s.owner}
			continue
		}
		n := g.node(phaseDefine, "sequence "+x.name, objRef{catClass, x.oid})
		x.node = n
		kw := "SEQUENCE "
		if x.persistence == "u" {
			kw = "UNLOGGED SEQUENCE "
		}
		n.add("CREATE " + kw + g.q(x.name) + " AS " + s.typ + " " + seqOptions(s))
		n.comment("SEQUENCE "+g.q(x.name), x.comment)
		if s.deptype == "a" && rels[s.owner] != nil {
			g.ownedSeqs[x.oid] = true
		}
	}
}

func seqOptions(s *cloneSeq) string {
	o := "INCREMENT BY " + s.inc + " MINVALUE " + s.min + " MAXVALUE " + s.max + " START WITH " + s.start + " CACHE " + s.cache
	if s.cycle {
		return o + " CYCLE"
	}
	return o + " NO CYCLE"
}

// makeRels makes the tables, partitions, views and materialized views.
func (g *cloneGen) makeRels(rels map[uint32]*cloneRel, seqs map[uint32]*cloneSeq) {
	identity := map[string]*cloneSeq{} // "table oid/column" -> identity sequence
	seqName := map[uint32]string{}
	for _, s := range seqs {
		if s.deptype == "i" {
			identity[fmt.Sprint(s.owner, "/", s.column)] = s
		}
	}
	for _, x := range rels {
		seqName[x.oid] = x.name
	}
	for _, x := range byOID(rels) {
		switch {
		case x.typed:
			g.problem("typed table %s", x.name)
			continue
		case x.parent != 0 && !x.partition:
			g.problem("table %s inherits from another table (only partitioning is copied)", x.name)
			continue
		case x.partition && rels[x.parent] == nil:
			g.problem("partition %s of a table of another schema", x.name)
			continue
		}
		switch x.kind {
		case "r", "p":
			g.makeTable(x, rels, identity, seqName)
		case "v", "m":
			g.makeView(x)
		case "f":
			g.problem("foreign table %s", x.name)
		}
	}
}

func (g *cloneGen) makeTable(x *cloneRel, rels map[uint32]*cloneRel, identity map[string]*cloneSeq, seqName map[uint32]string) {
	what := "table " + x.name
	if x.partition {
		what = "partition " + x.name
	}
	n := g.node(phaseDefine, what, objRef{catClass, x.oid})
	x.node = n
	t := g.q(x.name)
	var b strings.Builder
	b.WriteString("CREATE ")
	if x.persistence == "u" {
		b.WriteString("UNLOGGED ")
	}
	b.WriteString("TABLE " + t)
	var alter []string
	if x.partition {
		b.WriteString(" PARTITION OF " + g.q(rels[x.parent].name) + " " + x.bound)
		// A partition takes its columns, defaults, NOT NULL and checks from its parent; what is
		// its own is added after.
		for _, c := range x.cols {
			col := "ALTER TABLE ONLY " + t + " ALTER COLUMN " + quoteIdent(c.name)
			switch {
			case c.generated != "":
			case c.def == "" && c.parentDef != "":
				alter = append(alter, col+" DROP DEFAULT")
			case c.def != c.parentDef:
				alter = append(alter, col+" SET DEFAULT "+c.def)
			}
			if c.notNull && !c.parentNotNull {
				alter = append(alter, col+" SET NOT NULL")
			}
		}
		for _, k := range x.inline {
			alter = append(alter, "ALTER TABLE "+t+" ADD "+k)
		}
	} else {
		var defs []string
		for _, c := range x.cols {
			if c.defOID != 0 && c.generated == "" && g.callsOwnFunction(c.defOID) {
				// Set after the table, as pg_dump does: the function may take or return the
				// table's row type, and so need the table first.
				m := g.node(phaseDefine, "default of "+x.name+"."+c.name, objRef{catAttrdef, c.defOID})
				m.add("ALTER TABLE ONLY " + t + " ALTER COLUMN " + quoteIdent(c.name) + " SET DEFAULT " + c.def)
				need(m, n)
				cc := *c
				cc.def = ""
				c = &cc
			}
			defs = append(defs, columnDef(g, c, identity[fmt.Sprint(x.oid, "/", c.name)], seqName))
		}
		defs = append(defs, x.inline...)
		b.WriteString(" (\n\t" + strings.Join(defs, ",\n\t") + "\n)")
	}
	if x.partKey != "" {
		b.WriteString(" PARTITION BY " + x.partKey)
	}
	if x.am != "" {
		b.WriteString(" USING " + quoteIdent(x.am))
	}
	if opts := joinNonEmpty(", ", x.options, x.toastOptions); opts != "" {
		b.WriteString(" WITH (" + opts + ")")
	}
	n.add(b.String())
	n.add(alter...)
	for _, c := range x.cols {
		col := "ALTER TABLE ONLY " + t + " ALTER COLUMN " + quoteIdent(c.name)
		if c.stat >= 0 {
			n.add(fmt.Sprintf("%s SET STATISTICS %d", col, c.stat))
		}
		if s := map[string]string{"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}[c.storage]; s != "" {
			n.add(col + " SET STORAGE " + s)
		}
	}
	switch x.replident {
	case "n":
		n.add("ALTER TABLE ONLY " + t + " REPLICA IDENTITY NOTHING")
	case "f":
		n.add("ALTER TABLE ONLY " + t + " REPLICA IDENTITY FULL")
	}
	n.comment("TABLE "+t, x.comment)
	for _, c := range x.cols {
		n.comment("COLUMN "+t+"."+quoteIdent(c.name), c.comment)
	}
	n.add(x.inlineAfter...)
	for _, c := range x.cols {
		if s := identity[fmt.Sprint(x.oid, "/", c.name)]; s != nil && rels[s.oid] != nil {
			n.comment("SEQUENCE "+g.q(rels[s.oid].name), rels[s.oid].comment)
		}
	}
	if x.rls || x.forceRLS {
		// After the rows: with FORCE and no policy yet, the copy itself would be refused.
		m := g.node(phaseIndex, "row level security of "+x.name)
		if x.rls {
			m.add("ALTER TABLE ONLY " + t + " ENABLE ROW LEVEL SECURITY")
		}
		if x.forceRLS {
			m.add("ALTER TABLE ONLY " + t + " FORCE ROW LEVEL SECURITY")
		}
		need(m, n)
	}
}

// columnDef renders a column of CREATE TABLE.
func columnDef(g *cloneGen, c *cloneCol, ident *cloneSeq, seqName map[uint32]string) string {
	s := quoteIdent(c.name) + " " + c.typ
	switch c.compression {
	case "p":
		s += " COMPRESSION pglz"
	case "l":
		s += " COMPRESSION lz4"
	}
	if c.collation != "" {
		s += " COLLATE " + c.collation
	}
	switch {
	case c.generated == "s":
		s += " GENERATED ALWAYS AS (" + c.def + ") STORED"
	case c.def != "":
		s += " DEFAULT " + c.def
	}
	if c.notNull {
		s += " NOT NULL"
	}
	if c.identity != "" && ident != nil {
		kind := "ALWAYS"
		if c.identity == "d" {
			kind = "BY DEFAULT"
		}
		s += " GENERATED " + kind + " AS IDENTITY (SEQUENCE NAME " + g.q(seqName[ident.oid]) + " " + seqOptions(ident) + ")"
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), sep)
}

func (g *cloneGen) makeView(x *cloneRel) {
	word := "VIEW"
	if x.kind == "m" {
		word = "MATERIALIZED VIEW"
	}
	n := g.node(phaseDefine, strings.ToLower(word)+" "+x.name, objRef{catClass, x.oid})
	x.node = n
	v := g.q(x.name)
	s := "CREATE " + word + " " + v
	if x.am != "" {
		s += " USING " + quoteIdent(x.am)
	}
	if x.options != "" {
		s += " WITH (" + x.options + ")"
	}
	s += " AS\n" + strings.TrimSuffix(x.viewdef, ";")
	if x.kind == "m" {
		s += "\nWITH NO DATA"
	}
	n.add(s)
	for _, c := range x.cols {
		if c.def != "" {
			n.add("ALTER " + word + " " + v + " ALTER COLUMN " + quoteIdent(c.name) + " SET DEFAULT " + c.def)
		}
	}
	n.comment(word+" "+v, x.comment)
	for _, c := range x.cols {
		n.comment("COLUMN "+v+"."+quoteIdent(c.name), c.comment)
	}
}

// readIndexes makes the indexes that back no constraint, and notes, for those that do, what the
// constraint's node must add (CLUSTER, REPLICA IDENTITY, the index's comment, the attachment to a
// partitioned parent's index).
func (g *cloneGen) readIndexes(ctx context.Context, tx *sql.Tx, oids oidList, rels map[uint32]*cloneRel, cons map[uint32]*cloneCon) error {
	backing := map[uint32]*cloneCon{}
	for _, k := range cons {
		if k.rel != 0 && k.index != 0 && (k.kind == "p" || k.kind == "u" || k.kind == "x") {
			backing[k.index] = k
		}
	}
	type index struct {
		oid, rel, parent     uint32
		name, def, comment   string
		clustered, replident bool
	}
	var list []index
	names := map[uint32]string{}
	err := sqlrows.Each(ctx, tx, cloneIndexesSQL, func(r *sql.Rows) error {
		var i index
		if err := r.Scan(&i.oid, &i.name, &i.rel, &i.def, &i.clustered, &i.replident, &i.parent, &i.comment); err != nil {
			return err
		}
		list = append(list, i)
		names[i.oid] = i.name
		g.names[i.name] = true
		return nil
	}, oids.String())
	if err != nil {
		return err
	}
	for _, i := range list {
		x := rels[i.rel]
		if x == nil {
			continue
		}
		var extra []string
		if i.parent != 0 && names[i.parent] != "" {
			extra = append(extra, "ALTER INDEX "+g.q(names[i.parent])+" ATTACH PARTITION "+g.q(i.name))
		}
		if i.clustered {
			extra = append(extra, "ALTER TABLE "+g.q(x.name)+" CLUSTER ON "+quoteIdent(i.name))
		}
		if i.replident {
			extra = append(extra, "ALTER TABLE ONLY "+g.q(x.name)+" REPLICA IDENTITY USING INDEX "+quoteIdent(i.name))
		}
		if i.comment != "" {
			extra = append(extra, "COMMENT ON INDEX "+g.q(i.name)+" IS "+cloneLiteral(i.comment))
		}
		if k := backing[i.oid]; k != nil {
			k.indexExtra = extra
			g.alias[objRef{catClass, i.oid}] = objRef{catConstraint, k.oid}
			continue
		}
		n := g.node(phaseIndex, "index "+i.name, objRef{catClass, i.oid})
		n.add(i.def)
		n.add(extra...)
	}
	return nil
}

// makeConstraints makes the table constraints that are not in their table (see collectInline):
// foreign keys, NOT VALID checks, and the keys of partitioned tables and partitions.
func (g *cloneGen) makeConstraints(rels map[uint32]*cloneRel, cons map[uint32]*cloneCon) {
	for _, k := range byOID(cons) {
		x := rels[k.rel]
		if k.rel == 0 || x == nil {
			continue
		}
		ref := objRef{catConstraint, k.oid}
		t := g.q(x.name)
		switch k.kind {
		case "c":
			if g.owner(ref) != nil {
				continue
			}
			n := g.node(phaseIndex, "constraint "+k.name+" on "+x.name, ref)
			n.add("ALTER TABLE " + t + " ADD CONSTRAINT " + quoteIdent(k.name) + " " + k.def)
			n.comment("CONSTRAINT "+quoteIdent(k.name)+" ON "+t, k.comment)
		case "p", "u", "x":
			if g.owner(ref) != nil {
				continue
			}
			n := g.node(phaseIndex, "constraint "+k.name+" on "+x.name, ref)
			n.add("ALTER TABLE ONLY " + t + " ADD CONSTRAINT " + quoteIdent(k.name) + " " + k.def)
			n.add(k.indexExtra...)
			n.comment("CONSTRAINT "+quoteIdent(k.name)+" ON "+t, k.comment)
		case "f":
			if k.parent != 0 {
				// Made by the parent's foreign key, on every partition.
				g.alias[ref] = objRef{catConstraint, k.parent}
				continue
			}
			phase := phaseIndex
			if k.outside {
				phase = phaseOutside
			}
			n := g.node(phase, "constraint "+k.name+" on "+x.name, ref)
			n.add("ALTER TABLE " + t + " ADD CONSTRAINT " + quoteIdent(k.name) + " " + k.def)
			n.comment("CONSTRAINT "+quoteIdent(k.name)+" ON "+t, k.comment)
		default: // "t": a constraint trigger's, made with the trigger
			g.alias[ref] = objRef{catClass, k.rel}
		}
	}
}

// collectInline puts constraints in their table's CREATE TABLE, where PostgreSQL makes them
// faster than one ALTER TABLE each: the CHECK constraints that hold on the rows (NOT VALID ones
// would be enforced on the copied rows; inherited ones come with their partition), and the
// primary keys, unique and exclusion constraints of tables that are neither partitioned nor
// partitions (those go in pg_dump's order, so that each partition keeps its own constraint's name).
// What is left is made by makeConstraints.
func (g *cloneGen) collectInline(rels map[uint32]*cloneRel, cons map[uint32]*cloneCon) {
	for _, k := range byOID(cons) {
		x := rels[k.rel]
		if x == nil {
			continue
		}
		ref := objRef{catConstraint, k.oid}
		switch {
		case k.kind == "c" && k.validated && k.inherited > 0 && x.partition:
		case k.kind == "c" && k.validated,
			(k.kind == "p" || k.kind == "u" || k.kind == "x") && x.kind == "r" && !x.partition:
			x.inline = append(x.inline, "CONSTRAINT "+quoteIdent(k.name)+" "+k.def)
			x.inlineAfter = append(x.inlineAfter, k.indexExtra...)
			if k.comment != "" {
				x.inlineAfter = append(x.inlineAfter, "COMMENT ON CONSTRAINT "+quoteIdent(k.name)+" ON "+g.q(x.name)+" IS "+cloneLiteral(k.comment))
			}
		default:
			continue
		}
		g.alias[ref] = objRef{catClass, x.oid}
	}
}

func (g *cloneGen) readTriggers(ctx context.Context, tx *sql.Tx, oids oidList, rels map[uint32]*cloneRel) error {
	return sqlrows.Each(ctx, tx, cloneTriggersSQL, func(r *sql.Rows) error {
		var oid, rel uint32
		var name, def, enabled, comment string
		var skip bool
		if err := r.Scan(&oid, &name, &rel, &skip, &def, &enabled, &comment); err != nil {
			return err
		}
		x := rels[rel]
		if x == nil {
			return nil
		}
		ref := objRef{catTrigger, oid}
		if skip {
			// A foreign key's, or a partition's copy of its parent's: made with those, and left
			// out of the ordering (a key's trigger depends on the key, which needs the table).
			return nil
		}
		n := g.node(phaseIndex, "trigger "+name+" on "+x.name, ref)
		n.add(def)
		n.enabled("TRIGGER", name, g.q(x.name), enabled, comment)
		return nil
	}, oids.String())
}

func (g *cloneGen) readRules(ctx context.Context, tx *sql.Tx, oids oidList, rels map[uint32]*cloneRel) error {
	return sqlrows.Each(ctx, tx, cloneRulesSQL, func(r *sql.Rows) error {
		var oid, rel uint32
		var name, def, enabled, comment string
		if err := r.Scan(&oid, &name, &rel, &def, &enabled, &comment); err != nil {
			return err
		}
		x := rels[rel]
		ref := objRef{catRewrite, oid}
		if x == nil || def == "" { // a view's _RETURN rule is the view
			g.alias[ref] = objRef{catClass, rel}
			return nil
		}
		n := g.node(phaseIndex, "rule "+name+" on "+x.name, ref)
		n.add(strings.TrimSuffix(def, ";"))
		n.enabled("RULE", name, g.q(x.name), enabled, comment)
		return nil
	}, oids.String())
}

func (g *cloneGen) readPolicies(ctx context.Context, tx *sql.Tx, oids oidList, rels map[uint32]*cloneRel) error {
	return sqlrows.Each(ctx, tx, clonePoliciesSQL, func(r *sql.Rows) error {
		var oid, rel uint32
		var name, cmd, roles, qual, check, comment string
		var permissive bool
		if err := r.Scan(&oid, &name, &rel, &cmd, &permissive, &roles, &qual, &check, &comment); err != nil {
			return err
		}
		x := rels[rel]
		if x == nil {
			return nil
		}
		t := g.q(x.name)
		s := "CREATE POLICY " + quoteIdent(name) + " ON " + t + " AS PERMISSIVE"
		if !permissive {
			s = "CREATE POLICY " + quoteIdent(name) + " ON " + t + " AS RESTRICTIVE"
		}
		s += " FOR " + map[string]string{"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}[cmd] + " TO " + roles
		if qual != "" {
			s += " USING (" + qual + ")"
		}
		if check != "" {
			s += " WITH CHECK (" + check + ")"
		}
		n := g.node(phaseIndex, "policy "+name+" on "+x.name, objRef{catPolicy, oid})
		n.add(s)
		n.comment("POLICY "+quoteIdent(name)+" ON "+t, comment)
		return nil
	}, oids.String())
}

// makeData makes the steps that copy rows, move sequences and fill materialized views, and the
// serial sequences' ownership.
func (g *cloneGen) makeData(rels map[uint32]*cloneRel, seqs map[uint32]*cloneSeq) {
	for _, x := range byOID(rels) {
		if x.kind != "r" || x.node == nil {
			continue
		}
		var cols, vals []string
		for _, c := range x.cols {
			if c.generated != "" {
				continue
			}
			cols = append(cols, quoteIdent(c.name))
			if c.cast {
				// The source's enum, domain or composite type is another type than the
				// destination's copy: go through text.
				vals = append(vals, quoteIdent(c.name)+"::text::"+c.typ)
			} else {
				vals = append(vals, quoteIdent(c.name))
			}
		}
		n := g.node(phaseData, "rows of "+x.name)
		into := x.name
		for r := x; g.viaRoot && r.partition && rels[r.parent] != nil; r = rels[r.parent] {
			into = rels[r.parent].name
		}
		if len(cols) == 0 {
			n.add("INSERT INTO " + g.q(into) + " SELECT FROM ONLY " + g.from(x.name))
		} else {
			n.add("INSERT INTO " + g.q(into) + " (" + strings.Join(cols, ", ") + ") OVERRIDING SYSTEM VALUE SELECT " +
				strings.Join(vals, ", ") + " FROM ONLY " + g.from(x.name))
		}
		need(n, x.node)
	}
	for _, x := range byOID(rels) {
		s := seqs[x.oid]
		if s == nil {
			continue
		}
		made := g.owner(objRef{catClass, x.oid})
		if made == nil {
			continue
		}
		n := g.node(phaseData, "value of sequence "+x.name)
		n.add("SELECT pg_catalog.setval(" + cloneLiteral(g.q(x.name)) + ", last_value, is_called) FROM " + g.from(x.name))
		need(n, made)
		if g.ownedSeqs[x.oid] {
			t := rels[s.owner]
			m := g.node(phaseIndex, "owner of sequence "+x.name)
			m.add("ALTER SEQUENCE " + g.q(x.name) + " OWNED BY " + g.q(t.name) + "." + quoteIdent(s.column))
			need(m, made)
			need(m, t.node)
		}
	}
	for _, x := range byOID(rels) {
		if x.kind == "m" && x.populated && x.node != nil {
			n := g.node(phaseData, "contents of materialized view "+x.name)
			n.add("REFRESH MATERIALIZED VIEW " + g.q(x.name))
			need(n, x.node)
		}
	}
}

// dependRow is a row of pg_depend between two objects of the source.
type dependRow struct {
	class, oid, refClass, refOID uint32
	deptype                      string
}

// readDepends reads the dependencies between the source's objects.
func (g *cloneGen) readDepends(ctx context.Context, tx *sql.Tx, classes, objids oidList) error {
	return sqlrows.Each(ctx, tx, cloneDependsSQL, func(r *sql.Rows) error {
		var d dependRow
		var ext string
		if err := r.Scan(&d.class, &d.oid, &d.refClass, &d.refOID, &d.deptype, &ext); err != nil {
			return err
		}
		if ext != "" {
			g.problem("%s", ext)
			return nil
		}
		g.depends = append(g.depends, d)
		return nil
	}, classes.String(), objids.String())
}

// order makes each node wait for the nodes of what its objects depend on.
func (g *cloneGen) order() {
	for _, d := range g.depends {
		if d.class == catClass && d.refClass == catClass && d.deptype == "a" && g.ownedSeqs[d.oid] {
			continue // a serial sequence's ownership, made after the table
		}
		need(g.owner(objRef{d.class, d.oid}), g.owner(objRef{d.refClass, d.refOID}))
	}
}

// callsOwnFunction reports whether a column default calls one of the source's functions.
func (g *cloneGen) callsOwnFunction(attrdef uint32) bool {
	for _, d := range g.depends {
		if d.class == catAttrdef && d.oid == attrdef && d.refClass == catProc {
			return true
		}
	}
	return false
}

// nodeHeap orders ready nodes by phase, then by the order they were made.
type nodeHeap []*cloneNode

func (h nodeHeap) Len() int { return len(h) }
func (h nodeHeap) Less(i, j int) bool {
	return h[i].phase < h[j].phase || h[i].phase == h[j].phase && h[i].seq < h[j].seq
}
func (h nodeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)   { *h = append(*h, x.(*cloneNode)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// sort returns the statements of every node, each node after those it needs, and for each
// statement whether its node is of phaseData.
func (g *cloneGen) sort() ([]string, []bool, error) {
	h := &nodeHeap{}
	for _, n := range g.nodes {
		if n.after == 0 {
			heap.Push(h, n)
		}
	}
	var out []string
	var data []bool
	done := 0
	for h.Len() > 0 {
		n := heap.Pop(h).(*cloneNode)
		out = append(out, n.stmts...)
		for range n.stmts {
			data = append(data, n.phase == phaseData)
		}
		done++
		for _, u := range n.users {
			if u.after--; u.after == 0 {
				heap.Push(h, u)
			}
		}
	}
	if done < len(g.nodes) {
		return nil, nil, errors.New("cannot order a dependency cycle: " + strings.Join(cycle(g.nodes), " needs "))
	}
	return out, data, nil
}

// cycle returns one dependency cycle among the nodes that sort could not order.
func cycle(nodes []*cloneNode) []string {
	var start *cloneNode
	for _, n := range nodes {
		if n.after > 0 {
			start = n
			break
		}
	}
	seen := map[*cloneNode]int{}
	var path []*cloneNode
	for n := start; n != nil; {
		if i, ok := seen[n]; ok {
			var out []string
			for _, m := range append(path[i:], n) {
				out = append(out, m.what)
			}
			return out
		}
		seen[n] = len(path)
		path = append(path, n)
		var next *cloneNode
		for _, m := range slices.SortedFunc(maps.Keys(n.deps), func(a, b *cloneNode) int { return cmp.Compare(a.seq, b.seq) }) {
			if m.after > 0 {
				next = m
				break
			}
		}
		n = next
	}
	return nil
}
