package inmem_test

import (
	"context"
	"testing"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/authtest"
	"github.com/gooclaim/auth/inmem"
)

func TestQuotaCounterConformance(t *testing.T) {
	authtest.RunQuotaTests(t, func(t *testing.T) auth.QuotaCounter { return inmem.NewQuotaCounter() })
}

// TestQuotaCounterForgets: the windows that ended are dropped, so memory
// holds only the clients counted in current windows.
func TestQuotaCounterForgets(t *testing.T) {
	q := inmem.NewQuotaCounter()
	now := authtest.Epoch
	for _, id := range []string{"a", "b", "c"} {
		if _, err := q.Count(context.Background(), id, []auth.Rate{{Limit: 5, Window: time.Hour}}, false, now); err != nil {
			t.Fatal(err)
		}
	}
	if n := q.Len(); n != 3 {
		t.Fatalf("Len = %d after three clients; want 3", n)
	}
	if _, err := q.Count(context.Background(), "d", []auth.Rate{{Limit: 5, Window: time.Hour}}, false, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := q.Len(); n != 1 {
		t.Errorf("Len = %d two hours later; want 1 (the ended windows dropped)", n)
	}
}
