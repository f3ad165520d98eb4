package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Deliveries are the store's most numerous records (one per chat per post), so they
// are kept in a compact binary form rather than JSON: a version byte, then
//
//	kind, state, flags (1: silent, 2: digest)   one byte each
//	attempts                             uvarint
//	next, created, done                  varint Unix nanoseconds (done 0: not done)
//	platform, chat, chat kind, ref, last error, then the filters (count first)
//	                                     uvarint length + bytes each
//
// The id and update id are the record's key.
const deliveryCodecVersion = 1

var deliveryKinds = []DeliveryKind{PostDelivery, CorrectionDelivery}
var deliveryStates = []DeliveryState{Pending, Sent, Failed}

// encodeDelivery returns d's stored form.
func encodeDelivery(d *Delivery) []byte {
	return appendDelivery(make([]byte, 0, 64+len(d.Chat.Platform)+len(d.Chat.ID)+len(d.Ref)+len(d.LastError)), d)
}

// appendDelivery appends d's stored form to b.
func appendDelivery(b []byte, d *Delivery) []byte {
	b = append(b, deliveryCodecVersion, index(deliveryKinds, d.Kind), index(deliveryStates, d.State))
	var flags byte
	if d.Silent {
		flags |= 1
	}
	if d.Digest {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(d.Attempts))
	for _, t := range []time.Time{d.NextAttempt, d.Created, d.Done} {
		var n int64
		if !t.IsZero() {
			n = t.UnixNano()
		}
		b = binary.AppendVarint(b, n)
	}
	for _, s := range []string{d.Chat.Platform, d.Chat.ID, d.ChatKind, d.Ref, d.LastError} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(d.Filters)))
	for _, f := range d.Filters {
		b = appendString(b, f)
	}
	return b
}

// index returns the position of v in list as a byte.
func index[T comparable](list []T, v T) byte {
	for i, x := range list {
		if x == v {
			return byte(i)
		}
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// errShortDelivery reports a truncated record.
var errShortDelivery = errors.New("truncated delivery record")

// decodeDelivery reads a stored delivery.
func decodeDelivery(update, seq uint64, b []byte) (Delivery, error) {
	d := Delivery{ID: seq, UpdateID: update}
	if len(b) < 4 || b[0] != deliveryCodecVersion || int(b[1]) >= len(deliveryKinds) || int(b[2]) >= len(deliveryStates) {
		return d, fmt.Errorf("decode delivery %d: unknown format", seq)
	}
	d.Kind, d.State, d.Silent, d.Digest = deliveryKinds[b[1]], deliveryStates[b[2]], b[3]&1 != 0, b[3]&2 != 0
	r := deliveryReader{b: b[4:]}
	d.Attempts = int(r.uvarint())
	times := [3]time.Time{}
	for i := range times {
		if n := r.varint(); n != 0 {
			times[i] = time.Unix(0, n).UTC()
		}
	}
	d.NextAttempt, d.Created, d.Done = times[0], times[1], times[2]
	d.Chat.Platform, d.Chat.ID, d.ChatKind, d.Ref, d.LastError = r.string(), r.string(), r.string(), r.string(), r.string()
	if n := r.uvarint(); n > 0 && n < 1<<16 {
		d.Filters = make([]string, n)
		for i := range d.Filters {
			d.Filters[i] = r.string()
		}
	}
	if r.err != nil {
		return d, fmt.Errorf("decode delivery %d: %w", seq, r.err)
	}
	return d, nil
}

// deliveryReader reads the fields of a stored delivery, remembering the first error.
type deliveryReader struct {
	b   []byte
	err error
}

func (r *deliveryReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errShortDelivery, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *deliveryReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errShortDelivery, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *deliveryReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errShortDelivery, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
