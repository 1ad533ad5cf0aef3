package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gooclaim/auth"
	"github.com/gooclaim/auth/issuer"
)

// The parent's side of the ceiling (ceiling.go): what it needs is prepared
// here, with this module's packages, so that the ceiling needs none.

// ceilingServer is the running ceiling.
type ceilingServer struct {
	*child
	addr, opsAddr string
	readySeconds  float64
}

// startCeiling writes the ceiling's inputs into the workspace and starts
// it (on cpus, if any) with the service's issuer, audience, default scope
// and token lifetime, so that both sign the same claims, and over HTTPS
// with the service's certificate when tlsCert is set.
func (m *Main) startCeiling(ctx context.Context, exe string, ws *workspace, creds []credential, clients []*auth.Client,
	iss, tlsCert, tlsKey string, cpus []int) (*ceilingServer, error) {
	in, err := writeCeilingInputs(ctx, ws.dir, ws.database, ws.kekFile, creds, clients)
	if err != nil {
		return nil, err
	}
	addr, opsAddr, err := freeLoopbackPair()
	if err != nil {
		return nil, err
	}
	args := []string{ceilingCommand, "--key", in.keyFile, "--kid", in.kid, "--clients", in.clientsFile,
		"--listen", addr, "--ops-listen", opsAddr, "--issuer", iss, "--audience", issuer.DefaultAudience,
		"--scope", testScope, "--token-ttl", issuer.DefaultTokenTTL.String()}
	if tlsCert != "" {
		args = append(args, "--tls-cert", tlsCert, "--tls-key", tlsKey)
	}
	m.logf("starting %s %v", exe, args)
	t0 := time.Now()
	ch, err := startChildOn(ctx, "ceiling", exe, args, filepath.Join(ws.dir, "ceiling.log"), cpus)
	if err != nil {
		return nil, err
	}
	m.onClose(ch.stop)
	if err := ch.waitReady(ctx, "http://"+opsAddr+"/readyz", m.Config.StartTimeout); err != nil {
		return nil, err
	}
	return &ceilingServer{child: ch, addr: addr, opsAddr: opsAddr, readySeconds: since(t0)}, nil
}

// ceilingInputs are the files the ceiling server reads, in the run's
// temporary directory: the service's active signing key unsealed, and the
// clients with their secrets.
type ceilingInputs struct {
	keyFile, kid, clientsFile string
}

// writeCeilingInputs unseals the active signing key of database — the key
// the service signs with — and writes it as PKCS #8 PEM (owner-only: it is
// a private key, and the directory is removed at exit unless --keep), with
// the clients' credentials and incarnations. Done here, in the parent,
// so that the ceiling needs nothing of this module to read them.
func writeCeilingInputs(ctx context.Context, dir, database, kekFile string, creds []credential, clients []*auth.Client) (*ceilingInputs, error) {
	k, kek, err := activeKey(ctx, database, kekFile)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	der, err := kek.Open(k.Sealed, []byte(k.ID))
	if err != nil {
		return nil, fmt.Errorf("ceiling: open signing key %s with %s: %w", k.ID, kekFile, err)
	}
	in := &ceilingInputs{
		keyFile:     filepath.Join(dir, "ceiling-key.pem"),
		kid:         k.ID,
		clientsFile: filepath.Join(dir, "ceiling-clients.json"),
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	err = os.WriteFile(in.keyFile, keyPEM, 0o600)
	clear(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ceiling: write its key: %w", err)
	}
	list := make([]ceilingClient, len(creds))
	for i, c := range creds {
		list[i] = ceilingClient{ClientID: c.ClientID, ClientSecret: c.ClientSecret}
		if i < len(clients) && clients[i].ID == c.ClientID {
			list[i].Incarnation = clients[i].Incarnation
			list[i].Reuse = clients[i].TokenReuse == auth.ReuseOn
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(in.clientsFile, b, 0o600); err != nil {
		return nil, fmt.Errorf("ceiling: write its clients: %w", err)
	}
	return in, nil
}
