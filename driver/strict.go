package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file is the strict mode (Config.Strict): each tenant schema has its own NOLOGIN role, which
// the engine (schemaset, with strict = true) creates, grants and drops with the tenant, and every
// statement runs as that role: its stamp (internal/stamp) sets the role with the path, in the same
// transaction. PostgreSQL does not report a change of role to the client (role is not
// GUC_REPORT), so the driver cannot know whether user SQL ran RESET ROLE or SET ROLE, and it
// asserts role and path again with every statement.

// Sentinel errors of the strict mode.
var (
	// ErrStrictUnsafe: the login role can escape its tenant roles, so strict mode would protect
	// nothing. It is a superuser, it inherits the rights of the roles it is a member of (the tenant
	// roles among them: it must be NOINHERIT), or it owns, or is a member of the owner of, a schema
	// other than public and the system schemas. Connect refuses such a login.
	ErrStrictUnsafe = errors.New("strict mode: the login role can escape the tenant roles")

	// ErrTenantRole: the tenant's role does not exist, or the login role is not a member of it and
	// may not SET ROLE to it. The statement did not run. Run the engine's apply with strict = true
	// and strict_login_role set to the login role.
	ErrTenantRole = errors.New("strict mode: cannot set the tenant's role")
)

// Role name prefixes: rolePrefix+schema when that fits in NAMEDATALEN-1 bytes, else
// hashedRolePrefix + the schema's first bytes + "_" + a hash of the whole name. The prefixes differ,
// so a name of one form never equals a name of the other.
const (
	rolePrefix       = "pgschemas_t_"
	hashedRolePrefix = "pgschemas_h_"
	roleHashLen      = 12 // hex digits of SHA-256: 48 bits
)

// TenantRole returns the name of the role that strict mode runs schema's statements as. It is
// derived from the schema name alone, so that the driver and the engine agree without a lookup:
// "pgschemas_t_<schema>" when that fits in PostgreSQL's 63-byte limit, else
// "pgschemas_h_<the first 38 bytes of schema>_<12 hex digits of SHA-256(schema)>", 63 bytes. Case
// is kept: quote the name in SQL. Roles belong to the cluster, not to a database: a tenant of the
// same name in two databases of one cluster has the same role (see the package documentation).
func TenantRole(schema string) string {
	if len(rolePrefix)+len(schema) <= MaxSchemaNameLen {
		return rolePrefix + schema
	}
	sum := sha256.Sum256([]byte(schema))
	keep := MaxSchemaNameLen - len(hashedRolePrefix) - 1 - roleHashLen
	return hashedRolePrefix + schema[:keep] + "_" + hex.EncodeToString(sum[:])[:roleHashLen]
}

// roleNone is the value of the role setting that means the session user, the login role.
const roleNone = "none"

// SQLSTATEs of set_config('role', ...): a role that does not exist, and one that the session user
// is not a member of.
const (
	pgInvalidParameterValue = "22023"
	pgInsufficientPrivilege = "42501"
)

// strictRoleErr returns the error of a strict set that failed on the role, or nil.
func strictRoleErr(schema string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || (pgErr.Code != pgInvalidParameterValue && pgErr.Code != pgInsufficientPrivilege) {
		return nil
	}
	role := roleNone
	if schema != "" {
		role = TenantRole(schema)
	}
	return &SchemaError{Schema: schema, Err: fmt.Errorf("%w %q: %w", ErrTenantRole, role, err)}
}

// checkLoginSQL reads what decides whether the login role can escape the tenant roles: superuser,
// INHERIT, and the schemas (other than public and the system's) that it owns or may SET ROLE to
// the owner of.
const checkLoginSQL = `SELECT r.rolname, r.rolsuper, r.rolinherit,
	coalesce((SELECT string_agg(pg_catalog.quote_ident(n.nspname), ', ' ORDER BY n.nspname)
		FROM pg_catalog.pg_namespace n
		WHERE pg_catalog.pg_has_role(r.oid, n.nspowner, 'MEMBER')
		AND n.nspname <> 'public' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'), '')
	FROM pg_catalog.pg_roles r WHERE r.rolname = session_user`

// checkLogin refuses, with ErrStrictUnsafe, a login role that strict mode cannot confine.
func checkLogin(ctx context.Context, c *pgconn.PgConn) error {
	res := c.ExecParams(ctx, checkLoginSQL, nil, nil, nil, nil).Read()
	if res.Err == nil && len(res.Rows) != 1 {
		res.Err = errors.New("the login role is not in pg_roles")
	}
	if res.Err != nil {
		return fmt.Errorf("pgschemas: strict mode: check the login role: %w", res.Err)
	}
	row := res.Rows[0]
	name, super, inherit, owns := string(row[0]), string(row[1]) == "t", string(row[2]) == "t", string(row[3])
	var why []string
	if super {
		why = append(why, "it is a superuser")
	}
	if inherit {
		why = append(why, fmt.Sprintf("it inherits the rights of the roles it is a member of, the tenant roles among them (ALTER ROLE %s NOINHERIT)", pgx.Identifier{name}.Sanitize()))
	}
	if owns != "" {
		why = append(why, "it owns, or may SET ROLE to the owner of, the schemas "+owns)
	}
	if len(why) > 0 {
		return fmt.Errorf("pgschemas: login role %q: %w: %s", name, ErrStrictUnsafe, strings.Join(why, "; "))
	}
	return nil
}
