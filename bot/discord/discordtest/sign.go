// Package discordtest helps test Discord's HTTP interactions: it posts an interaction
// signed as Discord signs them.
package discordtest

import (
	"crypto/ed25519"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Timestamp is the X-Signature-Timestamp every signed request carries.
const Timestamp = "1700000000"

// Post sends body to url as Discord sends an interaction, signed with key (Ed25519
// over the timestamp and the body), and returns the answer's status and body.
func Post(t testing.TB, url string, key ed25519.PrivateKey, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Signature-Timestamp", Timestamp)
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(key, []byte(Timestamp+body))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}
