package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestBackupDuringWritesOpensAndPassesCheck(t *testing.T) {
	ctx := context.Background()
	s := checkedStore(t)
	subscribe(t, s, "telegram", "-200", Filter{Kind: GroupFilter, ID: "tnla"}, false)
	stop := make(chan struct{})
	posted := make(chan int)
	first := make(chan struct{}) // closed once the writer is going
	go func() {
		n := 0
		defer func() {
			if n == 0 {
				close(first) // failed before the first post: let the test go on to fail
			}
			posted <- n
		}()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := s.Post(ctx, Draft{Text: fmt.Sprintf("TNLA reports clashes near Namhsan, report %d", n), Claimant: "tnla", Author: mod}); err != nil {
				t.Error(err)
				return
			}
			if n++; n == 1 {
				close(first)
			}
		}
	}()
	<-first
	dir := t.TempDir()
	var sizes []int64
	for i := range 3 {
		n, err := s.BackupFile(ctx, filepath.Join(dir, fmt.Sprintf("backup-%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, n)
	}
	close(stop)
	n := <-posted
	t.Logf("%d posts during the backups", n)
	for i, size := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		fi, err := os.Stat(path)
		if err != nil || fi.Size() != size {
			t.Fatalf("backup %d: %v, %v; want %d bytes", i, fi, err, size)
		}
		if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("backup %d left its .tmp: %v", i, err)
		}
		b, err := Open(ctx, path, Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("backup %d does not open: %v", i, err)
		}
		rep, err := b.Check(ctx)
		_ = b.Close()
		if err != nil || !rep.OK() {
			t.Fatalf("backup %d: %+v, %v", i, rep.Problems, err)
		}
		if rep.Updates < 3 {
			t.Fatalf("backup %d holds %d updates, want at least the 3 posted before", i, rep.Updates)
		}
	}
}

func TestBackupReportsSizeFirst(t *testing.T) {
	s := checkedStore(t)
	var buf bytes.Buffer
	var announced int64
	n, err := s.Backup(context.Background(), func(size int64) (io.Writer, error) {
		announced = size
		return &buf, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if announced == 0 || n != announced || int64(buf.Len()) != n {
		t.Fatalf("announced %d, wrote %d, buffer %d: want all equal", announced, n, buf.Len())
	}
}

func TestWriteFileAtomicKeepsTheOldFileOnFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := WriteFileAtomic(path, func(w io.Writer) (int64, error) {
		_, _ = w.Write([]byte("half"))
		return 4, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Fatalf("file now %q, want old", data)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf(".tmp left behind: %v", err)
	}
}
