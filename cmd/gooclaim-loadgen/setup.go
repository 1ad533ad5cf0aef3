package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/admin"
	"github.com/gooclaim/auth/signing"
	"github.com/gooclaim/auth/sqlite"
)

// credential is one client's id and secret, as in --clients-file.
type credential struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// testScope is every created client's only scope.
const testScope = "claims:read"

// workspace is the temporary directory of a run and what it holds.
type workspace struct {
	dir         string
	database    string
	kekFile     string
	clientsFile string
}

func newWorkspace() (*workspace, error) {
	dir, err := os.MkdirTemp("", "gooclaim-loadgen-")
	if err != nil {
		return nil, fmt.Errorf("create temporary directory: %w", err)
	}
	return &workspace{
		dir:         dir,
		database:    filepath.Join(dir, "auth.db"),
		kekFile:     filepath.Join(dir, "auth.kek"),
		clientsFile: filepath.Join(dir, "clients.json"),
	}, nil
}

// createBatch is how many clients createClients stores per transaction.
const createBatch = 5000

// createClients makes a fresh database holding n clients with generated
// secrets and scope claims:read, and returns their credentials, and the
// clients as stored (for --scaleout to store them in PostgreSQL too). Each
// client is made by admin.Service.CreateClient, as an operator's command
// would (the same checks, ID and secret generation, hashing), but its
// store is a collector, and the collected clients are written with
// sqlite.DB.CreateClients, createBatch per transaction: one commit per
// client would make a million clients take many minutes.
func createClients(ctx context.Context, database string, n int) ([]credential, []*auth.Client, error) {
	return createClientsWith(ctx, database, n, func(i int) admin.ClientSpec {
		return admin.ClientSpec{Name: fmt.Sprintf("loadgen-%07d", i), Scopes: []string{testScope}}
	})
}

// createClientsWith is createClients with client i made from spec(i)
// (--policies gives half of them claims, a condition and metadata).
func createClientsWith(ctx context.Context, database string, n int, spec func(i int) admin.ClientSpec) ([]credential, []*auth.Client, error) {
	db, err := sqlite.Open(ctx, database, sqlite.Options{})
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return nil, nil, fmt.Errorf("migrate %s: %w", database, err)
	}
	col := &collector{}
	svc := &admin.Service{Store: col}
	creds := make([]credential, 0, n)
	clients := make([]*auth.Client, 0, n)
	for i := range n {
		_, secret, err := svc.CreateClient(ctx, spec(i))
		if err != nil {
			return nil, nil, fmt.Errorf("create client %d of %d: %w", i+1, n, err)
		}
		c := col.batch[len(col.batch)-1]
		creds = append(creds, credential{ClientID: c.ID, ClientSecret: secret})
		clients = append(clients, c)
		if len(col.batch) == createBatch || i == n-1 {
			if err := db.CreateClients(ctx, col.batch); err != nil {
				return nil, nil, fmt.Errorf("store clients %d to %d of %d: %w", i+2-len(col.batch), i+1, n, err)
			}
			col.batch = col.batch[:0]
		}
	}
	return creds, clients, nil
}

// collector is the store of the admin.Service createClients uses: it keeps
// the clients CreateClient is given, for them to be stored in bulk. Any
// other method would panic (the embedded Store is nil); CreateClient uses none.
type collector struct {
	auth.Store
	batch []*auth.Client
}

func (c *collector) CreateClient(_ context.Context, cl *auth.Client) error {
	c.batch = append(c.batch, cl)
	return nil
}

// writeClientsFile saves the credentials for a later --clients-file run
// (only readable by the owner: they are secrets).
func writeClientsFile(path string, creds []credential) error {
	b, err := json.MarshalIndent(creds, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write clients file: %w", err)
	}
	return nil
}

// readClientsFile reads --clients-file.
func readClientsFile(path string) ([]credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--clients-file: %w", err)
	}
	var creds []credential
	if err := json.Unmarshal(b, &creds); err != nil {
		return nil, fmt.Errorf("--clients-file %s: want a JSON array of {\"client_id\":…,\"client_secret\":…}: %w", path, err)
	}
	for i, c := range creds {
		if c.ClientID == "" || c.ClientSecret == "" {
			return nil, fmt.Errorf("--clients-file %s: entry %d lacks client_id or client_secret", path, i)
		}
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("--clients-file %s: no clients", path)
	}
	return creds, nil
}

// createKEK writes a new key-encryption key for the server and the baseline.
func createKEK(path string) error {
	_, err := signing.CreateKEKFile(path)
	return err
}

// since returns the seconds elapsed since t, rounded to milliseconds.
func since(t time.Time) float64 {
	return float64(time.Since(t).Milliseconds()) / 1000
}
