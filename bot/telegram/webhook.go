package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// secretHeader carries the webhook secret Telegram was given with setWebhook.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// SetWebhook tells Telegram to post updates to url with the given secret, which
// Telegram then sends in the X-Telegram-Bot-Api-Secret-Token header. tgbotapi v5.5.1
// predates secret_token, so the method is called with raw parameters.
func (a *Adapter) SetWebhook(ctx context.Context, url, secret string) error {
	params := tgbotapi.Params{}
	params.AddNonEmpty("url", url)
	params.AddNonEmpty("secret_token", secret)
	params.AddNonEmpty("allowed_updates", `["message","channel_post","callback_query","inline_query"]`)
	if _, err := a.bound(ctx).MakeRequest("setWebhook", params); err != nil {
		return fmt.Errorf("telegram setWebhook: %w", redact(err, a.cfg.Token))
	}
	return nil
}

// Webhook returns the HTTP handler for Telegram's webhook requests: it refuses any
// request without the secret, handles the update before answering (so a failure makes
// Telegram retry it), and answers 200.
func (a *Adapter) Webhook(ctx context.Context, secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		got := r.Header.Get(secretHeader)
		if secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
			a.log.WarnContext(ctx, "webhook request with a wrong secret", "remote", r.RemoteAddr)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !json.Valid(body) {
			http.Error(w, "bad update", http.StatusBadRequest)
			return
		}
		a.HandleUpdate(ctx, body)
		w.WriteHeader(http.StatusOK)
	})
}
