package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store, as of one read transaction, while
// writers go on. It first calls start with the copy's exact size in bytes (so an HTTP
// handler can send its Content-Length) and writes the copy to the writer start
// returns. It returns the number of bytes written. The copy is a complete sitrep store
// that Open accepts.
func (s *Store) Backup(ctx context.Context, start func(size int64) (io.Writer, error)) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		w, err := start(tx.Size())
		if err != nil {
			return err
		}
		n, err = tx.WriteTo(ctxWriter{ctx: ctx, w: w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up %s: %w", s.path, err)
	}
	return n, nil
}

// BackupFile writes a consistent copy of the store to path, through path.tmp that is
// synced and then renamed, so that path is either the whole copy or left as it was.
func (s *Store) BackupFile(ctx context.Context, path string) (int64, error) {
	return WriteFileAtomic(path, func(w io.Writer) (int64, error) {
		return s.Backup(ctx, func(int64) (io.Writer, error) { return w, nil })
	})
}

// WriteFileAtomic creates path with what write writes: it writes path.tmp (mode 0600),
// syncs it, renames it to path and syncs the directory. On failure it removes path.tmp
// and leaves path as it was. It returns what write returned.
func WriteFileAtomic(path string, write func(io.Writer) (int64, error)) (n int64, err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if n, err = write(f); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, fmt.Errorf("write %s: sync: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return n, fmt.Errorf("write %s: close: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return n, fmt.Errorf("write %s: %w", path, err)
	}
	if dir, derr := os.Open(filepath.Dir(path)); derr == nil {
		err = dir.Sync()
		_ = dir.Close()
		if err != nil {
			return n, fmt.Errorf("write %s: sync directory: %w", path, err)
		}
	}
	return n, nil
}

// ctxWriter stops a long copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
