package main

import (
	"context"
	"time"

	"github.com/sitrep-bot/sitrep/bot"
	"github.com/sitrep-bot/sitrep/store"
)

// outbox gives a dispatcher the store's delivery queue in the chat world's terms.
type outbox struct{ st *store.Store }

var _ bot.Outbox = outbox{}

// job translates a store delivery.
func job(d store.Delivery) bot.Job {
	kind := bot.NewMessage
	if d.Kind == store.CorrectionDelivery {
		kind = bot.Correction
	}
	return bot.Job{ID: d.ID, Kind: kind, UpdateID: d.UpdateID, ChatID: d.Chat.ID, ChatKind: bot.ChatKind(d.ChatKind),
		Silent: d.Silent, Digest: d.Digest, Ref: bot.MessageRef(d.Ref), Attempts: d.Attempts}
}

func (o outbox) Due(ctx context.Context, platform string, now time.Time, limit int, skip func(uint64) bool) ([]bot.Job, error) {
	ds, err := o.st.Due(ctx, platform, now, limit, skip)
	if err != nil {
		return nil, err
	}
	jobs := make([]bot.Job, len(ds))
	for i, d := range ds {
		jobs[i] = job(d)
	}
	return jobs, nil
}

func (o outbox) Sent(ctx context.Context, j bot.Job, ref bot.MessageRef, revision int) error {
	return o.st.MarkSent(ctx, j.UpdateID, j.ID, string(ref), revision)
}

func (o outbox) Retry(ctx context.Context, j bot.Job, at time.Time, cause error, counted bool) error {
	return o.st.MarkRetry(ctx, j.UpdateID, j.ID, at, cause.Error(), counted)
}

func (o outbox) Failed(ctx context.Context, j bot.Job, cause error) error {
	return o.st.MarkFailed(ctx, j.UpdateID, j.ID, cause.Error())
}

func (o outbox) Gone(ctx context.Context, j bot.Job, cause error) error {
	return o.st.ChatGone(ctx, j.UpdateID, j.ID, cause.Error())
}

func (o outbox) Moved(ctx context.Context, j bot.Job, newChatID string) error {
	return o.st.ChatMoved(ctx, j.UpdateID, j.ID, newChatID)
}
