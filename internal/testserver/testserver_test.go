package testserver_test

import (
	"context"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gooclaim/auth/internal/testserver"
)

func TestServerIssuesTokens(t *testing.T) {
	s := testserver.New(t, testserver.Options{})
	id, secret := s.CreateClient(t, []string{"a"})
	tok, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.TokenURL()}).Token(context.Background())
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
}
