package tenantsql_test

import (
	"os"
	"testing"

	"github.com/pgschemas/pgschemas/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
