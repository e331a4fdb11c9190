//go:build cgo

package apps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The apps' SQL is classified with PostgreSQL's own parser (pg_query_go, libpg_query), never by
// its words: a statement's kind is the type of its parse tree's nodes, and the schemas it names
// are read from the tree. The parser sees a file as the server sees it (comments, form feeds,
// dollar quotes and case do not hide a COMMIT from it), provided that both read string literals
// alike: the engine runs apps with standard_conforming_strings on, as the parser reads them.

// refusedKinds are the statements no app file or step may hold, by parse tree node type, with
// the command they are written as. They are refused wherever they appear in a statement's tree
// (a rule's actions, a BEGIN ATOMIC body, an EXPLAIN), not only at its top.
var refusedKinds = map[string]string{
	// The transaction: the engine owns it.
	"TransactionStmt": "", // named by txCommand
	// Code the parser cannot see into, which runs with whatever it names.
	"CallStmt": "CALL",
	// The cluster, the database and the session, which outlive a schema's transaction or reach
	// beyond the schema.
	"CreateRoleStmt": "CREATE ROLE", "AlterRoleStmt": "ALTER ROLE", "AlterRoleSetStmt": "ALTER ROLE SET",
	"DropRoleStmt": "DROP ROLE", "GrantRoleStmt": "GRANT role", "ReassignOwnedStmt": "REASSIGN OWNED",
	"DropOwnedStmt": "DROP OWNED", "AlterDefaultPrivilegesStmt": "ALTER DEFAULT PRIVILEGES",
	"CreatedbStmt": "CREATE DATABASE", "AlterDatabaseStmt": "ALTER DATABASE", "AlterDatabaseSetStmt": "ALTER DATABASE SET",
	"AlterDatabaseRefreshCollStmt": "ALTER DATABASE REFRESH COLLATION VERSION", "DropdbStmt": "DROP DATABASE",
	"CreateTableSpaceStmt": "CREATE TABLESPACE", "DropTableSpaceStmt": "DROP TABLESPACE",
	"AlterTableSpaceOptionsStmt": "ALTER TABLESPACE", "AlterTableMoveAllStmt": "ALTER ... ALL IN TABLESPACE",
	"AlterSystemStmt": "ALTER SYSTEM", "VariableSetStmt": "SET or RESET", "DiscardStmt": "DISCARD",
	"ListenStmt": "LISTEN", "UnlistenStmt": "UNLISTEN", "NotifyStmt": "NOTIFY", "LoadStmt": "LOAD",
	"CheckPointStmt": "CHECKPOINT", "VacuumStmt": "VACUUM or ANALYZE", "ClusterStmt": "CLUSTER", "ReindexStmt": "REINDEX",
	"CopyStmt": "COPY", "PrepareStmt": "PREPARE", "ExecuteStmt": "EXECUTE", "DeallocateStmt": "DEALLOCATE",
	"DeclareCursorStmt": "DECLARE CURSOR", "FetchStmt": "FETCH or MOVE", "ClosePortalStmt": "CLOSE",
	"CreateSchemaStmt": "CREATE SCHEMA", "CreateExtensionStmt": "CREATE EXTENSION", "AlterExtensionStmt": "ALTER EXTENSION",
	"AlterExtensionContentsStmt": "ALTER EXTENSION ADD or DROP", "CreatePLangStmt": "CREATE LANGUAGE",
	"CreateAmStmt": "CREATE ACCESS METHOD", "CreateCastStmt": "CREATE CAST", "CreateTransformStmt": "CREATE TRANSFORM",
	"CreateEventTrigStmt": "CREATE EVENT TRIGGER", "AlterEventTrigStmt": "ALTER EVENT TRIGGER",
	"CreatePublicationStmt": "CREATE PUBLICATION", "AlterPublicationStmt": "ALTER PUBLICATION",
	"CreateSubscriptionStmt": "CREATE SUBSCRIPTION", "AlterSubscriptionStmt": "ALTER SUBSCRIPTION",
	"DropSubscriptionStmt": "DROP SUBSCRIPTION", "CreateFdwStmt": "CREATE FOREIGN DATA WRAPPER",
	"AlterFdwStmt": "ALTER FOREIGN DATA WRAPPER", "CreateForeignServerStmt": "CREATE SERVER",
	"AlterForeignServerStmt": "ALTER SERVER", "CreateUserMappingStmt": "CREATE USER MAPPING",
	"AlterUserMappingStmt": "ALTER USER MAPPING", "DropUserMappingStmt": "DROP USER MAPPING",
	"ImportForeignSchemaStmt": "IMPORT FOREIGN SCHEMA", "SecLabelStmt": "SECURITY LABEL",
}

// stepOnlyKinds may appear in a step, which runs once in a tenant's transaction and may need
// procedural code to move data; an app file declares tables and may not run code. A DO block runs
// in the transaction and cannot end it (PostgreSQL refuses COMMIT in a DO block inside a
// transaction block), but what it runs is not seen by the parser: the outside check of Materialize
// does not apply to steps, so a step's author answers for its DO blocks.
var stepOnlyKinds = map[string]string{"DoStmt": "DO"}

// sessionFuncs are functions whose effect is not confined to the schema's transaction: session
// settings (set_config is SET), session-level advisory locks, notifications, other backends, the
// server's files and configuration, replication, and SQL passed as text, which the parser cannot
// see into. A call of one, qualified or not, is refused.
var sessionFuncs = map[string]bool{
	"set_config": true, "pg_advisory_lock": true, "pg_advisory_lock_shared": true, "pg_try_advisory_lock": true,
	"pg_try_advisory_lock_shared": true, "pg_advisory_unlock": true, "pg_advisory_unlock_shared": true,
	"pg_advisory_unlock_all": true, "pg_notify": true, "pg_terminate_backend": true, "pg_cancel_backend": true,
	"pg_reload_conf": true, "pg_rotate_logfile": true, "pg_promote": true, "pg_switch_wal": true,
	"pg_create_restore_point": true, "pg_log_backend_memory_contexts": true, "lo_import": true, "lo_export": true,
	"pg_read_file": true, "pg_read_binary_file": true, "pg_ls_dir": true, "pg_stat_file": true, "pg_file_write": true,
	"pg_create_physical_replication_slot": true, "pg_create_logical_replication_slot": true,
	"pg_drop_replication_slot": true, "pg_logical_emit_message": true, "dblink": true, "dblink_exec": true,
	"dblink_connect": true, "query_to_xml": true, "query_to_xmlschema": true, "query_to_xml_and_xmlschema": true,
}

// namedSchemasOK are the schemas a statement may name: public, which every schema's path holds
// and whose tables tenant apps reference, and the system's catalogs for types, functions and
// operators (the parser itself writes int as pg_catalog.int4) and for reading.
var namedSchemasOK = map[string]bool{"public": true, "pg_catalog": true, "information_schema": true}

// readOnlySchemas may be named for a relation only where it is read (FROM, USING).
var readOnlySchemas = map[string]bool{"pg_catalog": true, "information_schema": true}

// refusal is why a statement may not run: its kind as the parser names it, the command, and the
// reason, with the byte offset in the statement of the node that is refused (-1: unknown).
type refusal struct {
	node, command, reason string
	at                    int
}

// statements splits text into statements with PostgreSQL's parser and refuses what an app file
// (step false) or a step may not run. Text that the parser refuses is refused with its message
// and position, as the server would give them (SQLSTATE 42601), rather than sent: what it would
// do cannot be told.
//
// allowed are schemas the text may name besides public: the engine's own, for the SQL that Atlas
// writes for an app's HCL, which qualifies names with the scratch schema.
func statements(app, file, text string, step bool, allowed ...string) ([]stmt, error) {
	tree, err := pg_query.Parse(text)
	if err != nil {
		return nil, parseError(app, file, text, err)
	}
	out := make([]stmt, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		start, end := int(raw.StmtLocation), len(text)
		if raw.StmtLen > 0 {
			end = start + int(raw.StmtLen)
		}
		// The statement starts at its first token: a position the server reports counts from there.
		ft := firstToken(text[start:end])
		s := stmt{Pos: start + ft, Text: text[start+ft : end]}
		if r := classify(raw.Stmt, step, allowed); r != nil {
			if r.command == "" {
				r.command = nodeKind(raw.Stmt)
			}
			at := r.at
			if at < s.Pos || at > end {
				at = s.Pos
			}
			return nil, invalid(app, file, lineAt(text, at), "%s: %s (parsed as %s)", r.command, r.reason, r.node)
		}
		out = append(out, s)
	}
	return out, nil
}

// nodeKind returns the type of the node a Node holds, such as "CreateStmt".
func nodeKind(n *pg_query.Node) string {
	m := n.ProtoReflect()
	if fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("node")); fd != nil {
		return string(fd.Message().Name())
	}
	return "statement"
}

// firstToken returns the byte offset of the first token of a statement's text, past white space
// and comments, as the parser's scanner finds it; 0 if it finds none.
func firstToken(text string) int {
	res, err := pg_query.Scan(text)
	if err != nil {
		return 0
	}
	for _, t := range res.Tokens {
		if t.Token != pg_query.Token_SQL_COMMENT && t.Token != pg_query.Token_C_COMMENT {
			return int(t.Start)
		}
	}
	return 0
}

// classify returns why the statement may not run in an app file (step false) or a step, or nil.
func classify(n *pg_query.Node, step bool, allowed []string) *refusal {
	w := walker{step: step, allowed: allowed}
	w.walk(n.ProtoReflect(), nil)
	return w.found
}

// walker visits every node of a statement's tree and keeps the first refusal.
type walker struct {
	step    bool
	allowed []string // schemas that may be named besides namedSchemasOK
	found   *refusal
}

// walk visits m and its descendants; path holds the names of the fields that lead to m.
func (w *walker) walk(m protoreflect.Message, path []string) {
	if w.found != nil || !m.IsValid() {
		return
	}
	w.visit(m, path)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		p := append(path, string(fd.Name()))
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				w.walk(l.Get(i).Message(), p)
			}
		case !fd.IsMap():
			w.walk(v.Message(), p)
		}
		return w.found == nil
	})
}

// refuse keeps the first refusal.
func (w *walker) refuse(m protoreflect.Message, command, reason string, args ...any) {
	if w.found == nil {
		w.found = &refusal{node: string(m.Descriptor().Name()), command: command, reason: fmt.Sprintf(reason, args...), at: location(m)}
	}
}

// location returns the location field of a node within a statement (a name, a call), or -1. A
// statement's own location may point inside it (at PREPARE TRANSACTION's gid): it is located by its
// first token instead.
func location(m protoreflect.Message) int {
	if strings.HasSuffix(string(m.Descriptor().Name()), "Stmt") {
		return -1
	}
	fd := m.Descriptor().Fields().ByName("location")
	if fd == nil || fd.Kind() != protoreflect.Int32Kind {
		return -1
	}
	if l := int(m.Get(fd).Int()); l > 0 {
		return l
	}
	return -1
}

// visit checks one node: its kind, and the schemas it names.
func (w *walker) visit(m protoreflect.Message, path []string) {
	kind := string(m.Descriptor().Name())
	if kind == "VariableSetStmt" && functionSetting(path) {
		// CREATE FUNCTION ... SET name = value: a setting in force while the function runs,
		// not in the session.
		return
	}
	if command, refused := refusedKinds[kind]; refused {
		if t, ok := m.Interface().(*pg_query.TransactionStmt); ok {
			w.refuse(m, txCommand(t.Kind), "the engine owns the transaction; an app may not control it")
			return
		}
		w.refuse(m, command, "this belongs to the cluster, the database or the session, not to a schema; apps and steps may not run it")
		return
	}
	if command, ok := stepOnlyKinds[kind]; ok && !w.step {
		w.refuse(m, command, "an app file declares tables and runs no procedural code (a step may)")
		return
	}
	switch n := m.Interface().(type) {
	case *pg_query.RangeVar:
		if n.Relpersistence == "t" {
			w.refuse(m, "", "a temporary relation belongs to the session, not to a schema")
			return
		}
		if n.Catalogname != "" {
			w.refuse(m, "", "%s.%s.%s names a database: an app stays in its own", n.Catalogname, n.Schemaname, n.Relname)
			return
		}
		if readOnlySchemas[n.Schemaname] && !readPosition(path) {
			w.refuse(m, "", "%s.%s: the system catalogs may only be read", n.Schemaname, n.Relname)
			return
		}
		w.schema(m, n.Schemaname, n.Relname)
	case *pg_query.FuncCall:
		if name := strName(n.Funcname[len(n.Funcname)-1]); sessionFuncs[name] {
			w.refuse(m, name+"()", "its effect is not confined to the schema's transaction, or it runs SQL given as text")
			return
		}
		w.qualified(m, n.Funcname, 2)
	case *pg_query.TypeName:
		w.qualified(m, n.Names, 2)
	case *pg_query.ColumnRef:
		w.qualified(m, n.Fields, 3)
	case *pg_query.A_Expr:
		w.qualified(m, n.Name, 2)
	case *pg_query.CollateClause:
		w.qualified(m, n.Collname, 2)
	case *pg_query.IndexElem:
		w.qualified(m, n.Collation, 2)
		w.qualified(m, n.Opclass, 2)
	case *pg_query.ObjectWithArgs:
		w.qualified(m, n.Objname, 2)
	case *pg_query.CreateFunctionStmt:
		w.qualified(m, n.Funcname, 2)
	case *pg_query.DefineStmt:
		w.qualified(m, n.Defnames, 2)
	case *pg_query.CreateEnumStmt:
		w.qualified(m, n.TypeName, 2)
	case *pg_query.AlterEnumStmt:
		w.qualified(m, n.TypeName, 2)
	case *pg_query.CreateRangeStmt:
		w.qualified(m, n.TypeName, 2)
	case *pg_query.CreateDomainStmt:
		w.qualified(m, n.Domainname, 2)
	case *pg_query.CreateStatsStmt:
		w.qualified(m, n.Defnames, 2)
	case *pg_query.CreateTrigStmt:
		w.qualified(m, n.Funcname, 2)
	case *pg_query.CreateConversionStmt:
		w.qualified(m, n.ConversionName, 2)
	case *pg_query.DefElem:
		// Sequence options: OWNED BY schema.table.column and SEQUENCE NAME schema.name.
		if l := n.Arg.GetList(); l != nil {
			switch n.Defname {
			case "owned_by":
				w.qualified(m, l.Items, 3)
			case "sequence_name":
				w.qualified(m, l.Items, 2)
			}
		}
	case *pg_query.DropStmt:
		w.objects(m, n.RemoveType, n.Objects)
	case *pg_query.CommentStmt:
		w.objects(m, n.Objtype, []*pg_query.Node{n.Object})
	case *pg_query.AlterOwnerStmt:
		w.objects(m, n.ObjectType, []*pg_query.Node{n.Object})
	case *pg_query.RenameStmt:
		if n.RenameType == pg_query.ObjectType_OBJECT_SCHEMA {
			w.refuse(m, "ALTER SCHEMA", "an app never names a schema")
			return
		}
		w.objects(m, n.RenameType, []*pg_query.Node{n.Object})
	case *pg_query.AlterObjectSchemaStmt:
		w.refuse(m, "SET SCHEMA", "an app's objects stay in the schema they were made in")
	case *pg_query.GrantStmt:
		if n.Objtype == pg_query.ObjectType_OBJECT_SCHEMA || n.Targtype == pg_query.GrantTargetType_ACL_TARGET_ALL_IN_SCHEMA {
			w.refuse(m, "GRANT", "privileges on a schema, or on all of a schema's objects, are the engine's")
			return
		}
		w.objects(m, n.Objtype, n.Objects)
	}
}

// objects checks the objects of a DROP, COMMENT, ALTER ... OWNER, RENAME or GRANT: a qualified
// name (a list), a type, a function with arguments (visited on their own) or, when the object is a
// schema, the schema's name.
func (w *walker) objects(m protoreflect.Message, kind pg_query.ObjectType, objs []*pg_query.Node) {
	if kind == pg_query.ObjectType_OBJECT_SCHEMA {
		w.refuse(m, "", "an app never names a schema, and a schema's life is the engine's")
		return
	}
	// The object of a column, or of a constraint, trigger, policy or rule, is named after its
	// table: schema.table.name.
	n := 2
	switch kind {
	case pg_query.ObjectType_OBJECT_COLUMN, pg_query.ObjectType_OBJECT_TABCONSTRAINT, pg_query.ObjectType_OBJECT_TRIGGER,
		pg_query.ObjectType_OBJECT_POLICY, pg_query.ObjectType_OBJECT_RULE:
		n = 3
	}
	for _, o := range objs {
		if l := o.GetList(); l != nil {
			w.qualified(m, l.Items, n)
		}
	}
}

// qualified checks a qualified name whose last n parts name an object in a schema (2 for
// schema.object, 3 for schema.table.column): the part before them, when there is one, is a
// catalog (a database), and is refused.
func (w *walker) qualified(m protoreflect.Message, parts []*pg_query.Node, n int) {
	switch {
	case len(parts) > n:
		w.refuse(m, "", "%s names a database: an app stays in its own", joinNames(parts))
	case len(parts) == n:
		w.schema(m, strName(parts[0]), joinNames(parts[1:]))
	}
}

// schema checks a schema that a node names, with what it names there.
func (w *walker) schema(m protoreflect.Message, schema, what string) {
	if schema == "" || namedSchemasOK[schema] || slices.Contains(w.allowed, schema) {
		return
	}
	w.refuse(m, "", "%s.%s names schema %q: an app never names its own schema, and names no other than public", schema, what, schema)
}

// functionSetting reports whether a SET at path is a clause of CREATE FUNCTION.
func functionSetting(path []string) bool {
	return slices.Equal(path, []string{"create_function_stmt", "options", "def_elem", "arg", "variable_set_stmt"})
}

// readPosition reports whether a relation at path is read rather than written or defined: it is
// in a FROM or USING list.
func readPosition(path []string) bool {
	for _, p := range path {
		if p == "from_clause" || p == "using_clause" {
			return true
		}
	}
	return false
}

// strName returns a String node's value, or "" for another node (a *).
func strName(n *pg_query.Node) string {
	if s := n.GetString_(); s != nil {
		return s.Sval
	}
	return ""
}

// joinNames writes a qualified name's parts with dots.
func joinNames(parts []*pg_query.Node) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		if s[i] = strName(p); s[i] == "" {
			s[i] = "*"
		}
	}
	return strings.Join(s, ".")
}

// txCommand names a transaction statement's kind as it is written.
func txCommand(k pg_query.TransactionStmtKind) string {
	switch k {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN:
		return "BEGIN"
	case pg_query.TransactionStmtKind_TRANS_STMT_START:
		return "START TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		return "COMMIT"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		return "ROLLBACK"
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return "SAVEPOINT"
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		return "RELEASE"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return "ROLLBACK TO SAVEPOINT"
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		return "PREPARE TRANSACTION"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		return "COMMIT PREPARED"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		return "ROLLBACK PREPARED"
	}
	return "transaction control"
}

// parseError is the *Error of text that the parser refuses, at the parser's position, wrapping a
// *pgconn.PgError like the one the server would return (SQLSTATE 42601, syntax_error).
func parseError(app, file, text string, err error) error {
	var pe *parser.Error
	if !errors.As(err, &pe) {
		return invalid(app, file, 0, "cannot split the SQL into statements: %v", err)
	}
	off := charOffset(text, pe.Cursorpos)
	line := lineAt(text, off)
	col := 1 + utf8.RuneCountInString(text[strings.LastIndexByte(text[:off], '\n')+1:off])
	pgErr := &pgconn.PgError{Severity: "ERROR", Code: "42601", Message: pe.Message, Position: int32(pe.Cursorpos)}
	return invalid(app, file, line, "cannot split the SQL into statements: %d:%d: %w", line, col, pgErr)
}
