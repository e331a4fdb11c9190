package schemaset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgschemas/pgschemas/internal/domainname"
	"github.com/pgschemas/pgschemas/internal/sqlrows"
)

// Sentinel errors of the domain operations; test for them with errors.Is.
var (
	// ErrInvalidDomain: a host or folder breaks a rule (a DNS name of letters, digits and inner
	// hyphens; a folder of one URL path segment); the message says which.
	ErrInvalidDomain = domainname.ErrInvalid
	// ErrDomainTaken: the host and folder already route to a tenant (the message names it), or the
	// host is a static tenant's in pgschemas.hcl.
	ErrDomainTaken = errors.New("domain already routed")
	// ErrNoDomain: no row of the domain table has that host and folder.
	ErrNoDomain = errors.New("no such domain")
)

// Domain routes a host, and optionally the first folder of the path, to a tenant.
type Domain struct {
	// Domain is the host name, without port. It is stored lower case, an internationalized name
	// in punycode ("xn--..."), without a trailing dot; the engine brings what it is given to that
	// form and refuses a name that DNS would not accept (internal/domainname states the rules).
	Domain string `json:"domain"`
	// Folder is the first path segment, without slashes; empty for none. It holds letters,
	// digits, '-', '.', '_' and '~', and is neither "." nor "..".
	Folder string `json:"folder"`
	// Primary marks the domain that URLs are built on; a tenant has at most one.
	Primary bool `json:"primary"`
	// RedirectToPrimary makes requests on this domain redirect (301) to the primary one.
	RedirectToPrimary bool `json:"redirect_to_primary"`
}

// ParseDomain parses "host" or "host/folder", as the CLI's --domain flag takes it, into its stored
// form, or says which rule it breaks (an error that wraps ErrInvalidDomain).
func ParseDomain(s string) (Domain, error) {
	host, folder, err := domainname.Parse(s)
	if err != nil {
		return Domain{}, fmt.Errorf("schemaset: %w", err)
	}
	return Domain{Domain: host, Folder: folder}, nil
}

func (d Domain) String() string {
	if d.Folder == "" {
		return d.Domain
	}
	return d.Domain + "/" + d.Folder
}

// normalized returns d with its host in the stored form, or says which rule d breaks.
func (d Domain) normalized() (Domain, error) {
	host, err := domainname.Host(d.Domain)
	if err != nil {
		return d, err
	}
	if err := domainname.Folder(d.Folder); err != nil {
		return d, err
	}
	d.Domain = host
	return d, nil
}

// TenantDomain is one row of the domain table: a domain and the tenant it routes to.
type TenantDomain struct {
	Tenant string `json:"tenant"`
	Domain
}

// staticOwner returns the static tenant whose pgschemas.hcl domains would shadow d, or "": a
// static domain takes its host whatever the folder, and a fallback domain its host without a
// folder (folders of a fallback host may route to dynamic tenants).
func (s *Set) staticOwner(d Domain) string {
	for _, st := range s.Config.Static {
		for _, h := range st.Domains {
			if configHost(h) == d.Domain {
				return st.Name
			}
		}
		if d.Folder != "" {
			continue
		}
		for _, h := range st.FallbackDomains {
			if configHost(h) == d.Domain {
				return st.Name
			}
		}
	}
	return ""
}

// configHost is the stored form of a domain of the config, which Validate accepted.
func configHost(h string) string {
	if host, err := domainname.Host(h); err == nil {
		return host
	}
	return h
}

// checkDomainFree refuses d when a static tenant or a row of the domain table routes it.
func (e *Engine) checkDomainFree(ctx context.Context, tx *sql.Tx, d Domain) error {
	if st := e.set.staticOwner(d); st != "" {
		return fmt.Errorf("%w: %s is a domain of the static tenant %q in the config", ErrDomainTaken, d, st)
	}
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT tenant FROM public.pgschemas_domain WHERE domain = $1 AND folder = $2`, d.Domain, d.Folder).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: %s already routes to tenant %q", ErrDomainTaken, d, owner)
}

// insertDomain inserts d for tenant; a row that appeared since checkDomainFree gives ErrDomainTaken.
func insertDomain(ctx context.Context, tx *sql.Tx, tenant string, d Domain) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO public.pgschemas_domain (domain, folder, tenant, is_primary, redirect_to_primary)
		VALUES ($1, $2, $3, $4, $5)`, d.Domain, d.Folder, tenant, d.Primary, d.RedirectToPrimary)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName != "pgschemas_domain_one_primary" {
		return fmt.Errorf("%w: %s was routed to a tenant meanwhile: %w", ErrDomainTaken, d, err) // by another transaction
	}
	return err
}

// lockTenantRow locks the registry row of the dynamic tenant name (FOR UPDATE with update, else
// FOR SHARE), or refuses a name that has none.
func (e *Engine) lockTenantRow(ctx context.Context, tx *sql.Tx, name string, update bool) error {
	if t, ok := e.set.KindOf(name); ok {
		return fmt.Errorf("%w: %q is the set's %s %q, declared in the config", ErrNotTenant, name, t.Kind, t.Schema)
	}
	mode := "SHARE"
	if update {
		mode = "UPDATE"
	}
	var found bool
	err := tx.QueryRowContext(ctx, `SELECT true FROM public.pgschemas_tenant WHERE schema_name = $1 FOR `+mode, name).Scan(&found)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: no tenant %q", ErrNotTenant, name)
	}
	return err
}

// AddDomain routes d to the dynamic tenant. d's host and folder are checked and brought to their
// stored form (ErrInvalidDomain); a host and folder that already route somewhere, or a host of a
// static tenant, are refused with ErrDomainTaken, which names the owner. With d.Primary, or when
// the tenant has no primary domain yet, d becomes its primary domain (the previous one stays, as
// a plain domain). A primary domain cannot also redirect to the primary. It returns the row as
// stored. The routers of every process (resolve, through LISTEN) see the change within a second.
func (e *Engine) AddDomain(ctx context.Context, tenant string, d Domain) (TenantDomain, error) {
	return e.changeDomain(ctx, OpAddDomain, "add domain "+d.String()+" to "+strconv.Quote(tenant), d, tenant, func(nd Domain) (TenantDomain, error) {
		row := TenantDomain{Tenant: tenant}
		if nd.Primary && nd.RedirectToPrimary {
			return row, fmt.Errorf("%w: %s cannot be the primary domain and redirect to the primary domain", ErrInvalidDomain, nd)
		}
		err := inTx(ctx, e.db, func(tx *sql.Tx) error {
			// FOR UPDATE: the domain changes of one tenant take turns, so that two never both
			// find it without a primary.
			if err := e.lockTenantRow(ctx, tx, tenant, true); err != nil {
				return err
			}
			if err := e.checkDomainFree(ctx, tx, nd); err != nil {
				return err
			}
			var hasPrimary bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM public.pgschemas_domain WHERE tenant = $1 AND is_primary)`, tenant).Scan(&hasPrimary); err != nil {
				return err
			}
			if nd.Primary && hasPrimary {
				if _, err := tx.ExecContext(ctx, `UPDATE public.pgschemas_domain SET is_primary = false WHERE tenant = $1 AND is_primary`, tenant); err != nil {
					return err
				}
			}
			nd.Primary = nd.Primary || !hasPrimary && !nd.RedirectToPrimary
			return insertDomain(ctx, tx, tenant, nd)
		})
		row.Domain = nd
		return row, err
	})
}

// changeDomain runs change on d's stored form once the registry exists, gives its event
// (EventDomainChanged, or EventFailed) and wraps its error with what it did.
func (e *Engine) changeDomain(ctx context.Context, op, what string, d Domain, tenant string, change func(nd Domain) (TenantDomain, error)) (TenantDomain, error) {
	start := time.Now()
	row := TenantDomain{Tenant: tenant}
	nd, err := d.normalized()
	if err == nil {
		err = e.ensureRegistry(ctx)
	}
	if err == nil {
		row, err = change(nd)
	}
	e.event(start, Event{Kind: EventDomainChanged, Op: op, Schema: row.Tenant, SchemaKind: KindDynamic, Domain: nd.String()}, err)
	if err != nil {
		return TenantDomain{}, fmt.Errorf("schemaset: %s: %w", what, err)
	}
	return row, nil
}

// RemoveDomain removes the row of d's host and folder from the domain table and returns it. When
// it was the tenant's primary domain, the tenant has none until SetPrimaryDomain or AddDomain
// gives it one (its URLs are then built on the host of each request). No such row gives
// ErrNoDomain.
func (e *Engine) RemoveDomain(ctx context.Context, d Domain) (TenantDomain, error) {
	return e.changeDomain(ctx, OpRemoveDomain, "remove domain "+d.String(), d, "", func(nd Domain) (TenantDomain, error) {
		var row TenantDomain
		err := e.db.QueryRowContext(ctx, `DELETE FROM public.pgschemas_domain WHERE domain = $1 AND folder = $2
			RETURNING tenant, domain, folder, is_primary, redirect_to_primary`, nd.Domain, nd.Folder).
			Scan(&row.Tenant, &row.Domain.Domain, &row.Folder, &row.Primary, &row.RedirectToPrimary)
		if errors.Is(err, sql.ErrNoRows) {
			err = fmt.Errorf("%w: no tenant is routed by %s", ErrNoDomain, nd)
		}
		return row, err
	})
}

// SetPrimaryDomain makes d the primary domain of the tenant it routes to, the one its URLs are
// built on and its redirect_to_primary domains redirect to; the tenant's previous primary stays
// as a plain domain. d itself stops redirecting. It returns the row as it now is. No such row
// gives ErrNoDomain.
func (e *Engine) SetPrimaryDomain(ctx context.Context, d Domain) (TenantDomain, error) {
	return e.changeDomain(ctx, OpSetPrimaryDomain, "set primary domain "+d.String(), d, "", func(nd Domain) (TenantDomain, error) {
		var row TenantDomain
		err := inTx(ctx, e.db, func(tx *sql.Tx) error {
			err := tx.QueryRowContext(ctx, `SELECT tenant FROM public.pgschemas_domain WHERE domain = $1 AND folder = $2`, nd.Domain, nd.Folder).Scan(&row.Tenant)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: no tenant is routed by %s", ErrNoDomain, nd)
			}
			if err != nil {
				return err
			}
			// The tenant's row first, as AddDomain and RenameTenant lock it, then the domain's again:
			// it may have moved or gone meanwhile.
			if err := e.lockTenantRow(ctx, tx, row.Tenant, true); err != nil {
				return err
			}
			var still bool
			err = tx.QueryRowContext(ctx, `SELECT true FROM public.pgschemas_domain WHERE domain = $1 AND folder = $2 AND tenant = $3 FOR UPDATE`,
				nd.Domain, nd.Folder, row.Tenant).Scan(&still)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: %s was removed or moved meanwhile", ErrNoDomain, nd)
			}
			if err != nil {
				return err
			}
			// Two statements: the one-primary index is checked row by row.
			if _, err := tx.ExecContext(ctx, `UPDATE public.pgschemas_domain SET is_primary = false
				WHERE tenant = $1 AND is_primary AND (domain, folder) <> ($2, $3)`, row.Tenant, nd.Domain, nd.Folder); err != nil {
				return err
			}
			row.Domain = Domain{Domain: nd.Domain, Folder: nd.Folder, Primary: true}
			_, err = tx.ExecContext(ctx, `UPDATE public.pgschemas_domain SET is_primary = true, redirect_to_primary = false
				WHERE domain = $1 AND folder = $2 AND NOT (is_primary AND NOT redirect_to_primary)`, nd.Domain, nd.Folder)
			return err
		})
		return row, err
	})
}

// Domains returns the rows of the domain table, of one dynamic tenant or, with tenant "", of
// all, sorted by tenant, then the primary first, then by host and folder. An unknown tenant gives
// ErrNotTenant.
func (e *Engine) Domains(ctx context.Context, tenant string) ([]TenantDomain, error) {
	if err := e.ensureRegistry(ctx); err != nil {
		return nil, err
	}
	out := []TenantDomain{}
	err := inTx(ctx, e.db, func(tx *sql.Tx) error {
		if tenant != "" {
			if err := e.lockTenantRow(ctx, tx, tenant, false); err != nil {
				return err
			}
		}
		return sqlrows.Each(ctx, tx, `SELECT tenant, domain, folder, is_primary, redirect_to_primary FROM public.pgschemas_domain
			WHERE $1 = '' OR tenant = $1 ORDER BY tenant, is_primary DESC, domain, folder`, func(rows *sql.Rows) error {
			var r TenantDomain
			if err := rows.Scan(&r.Tenant, &r.Domain.Domain, &r.Folder, &r.Primary, &r.RedirectToPrimary); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		}, tenant)
	})
	if err != nil {
		return nil, fmt.Errorf("schemaset: list domains: %w", err)
	}
	return out, nil
}
