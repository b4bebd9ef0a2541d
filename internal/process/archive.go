package process

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Limits of a process function's code, packed (what is uploaded and
// stored as a blob) and unpacked (what a node writes to its disk).
const (
	MaxCodeBytes = 256 << 20 // unpacked, all files together
	MaxCodeFiles = 20000
)

// ErrBadArchive marks an archive Unpack refuses.
var ErrBadArchive = errors.New("bad code archive")

// Pack makes the archive of a process function's source directory: a
// gzipped tar of its regular files and directories, in name order, with no
// times or owners, so the same code always packs to the same bytes (and so
// the same digest: deploying unchanged code makes no new version).
// Symbolic links and special files are refused rather than followed: the
// code must not reach outside its directory.
func Pack(dir string) ([]byte, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if d.Name() == ".strata" || d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return fmt.Errorf("%s: %w: only regular files and directories are packed (a symbolic link could point outside the function's directory)", p, ErrBadArchive)
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", dir, err)
	}
	sort.Strings(files)
	if len(files) > MaxCodeFiles {
		return nil, fmt.Errorf("pack %s: %d files, more than %d: %w", dir, len(files), MaxCodeFiles, ErrBadArchive)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	var total int64
	for _, rel := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", dir, err)
		}
		h := &tar.Header{Name: rel, Mode: 0o644, Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, rel+"/", 0o755
		} else {
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
			if fi.Mode()&0o111 != 0 {
				h.Mode = 0o755
			}
			total += fi.Size()
			if total > MaxCodeBytes {
				return nil, fmt.Errorf("pack %s: more than %d MiB of code: %w", dir, MaxCodeBytes>>20, ErrBadArchive)
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if fi.IsDir() {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", dir, err)
		}
		_, err = io.CopyN(tw, f, fi.Size())
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("pack %s: %s changed while packing: %w", dir, rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unpack writes an archive made by Pack into dir, which must not exist.
// It trusts nothing in the archive (it arrives over the API): names that
// are absolute or climb out, links, devices, too many files or bytes are
// refused, and modes are only ever 0600/0700 (the data directory is the
// server user's alone; the sandbox maps the code read-only).
func Unpack(archive []byte, dir string) (err error) {
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("%w: not a gzipped tar (process functions are uploaded as strata packs them): %v", ErrBadArchive, err)
	}
	// A directory of its own, so two unpacks of the same code (two
	// deploys at once) never mix; the first rename wins.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".unpack-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	tr := tar.NewReader(zr)
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		if n >= MaxCodeFiles {
			return fmt.Errorf("%w: more than %d files", ErrBadArchive, MaxCodeFiles)
		}
		name := path.Clean(strings.TrimSuffix(h.Name, "/"))
		if name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%w: entry %q is outside the code directory", ErrBadArchive, h.Name)
		}
		target := filepath.Join(tmp, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > MaxCodeBytes {
				return fmt.Errorf("%w: more than %d MiB unpacked", ErrBadArchive, MaxCodeBytes>>20)
			}
			mode := os.FileMode(0o600)
			if h.Mode&0o111 != 0 {
				mode = 0o700
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrBadArchive, err)
			}
			_, err = io.CopyN(f, tr, h.Size)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrBadArchive, name, err)
			}
		default:
			return fmt.Errorf("%w: entry %q is not a regular file or directory", ErrBadArchive, h.Name)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			_ = os.RemoveAll(tmp) // another unpack of the same code won
			return nil
		}
		return err
	}
	return nil
}
