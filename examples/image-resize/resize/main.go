// Command resize is a Strata function that scales PNG and JPEG images.
//
// POST /resize?w=64&h=64 with the image as the body answers with the image
// scaled to that size in the same format. Give only w or only h to keep the
// aspect ratio. It uses only the standard library.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log"
	"net/http"
	"strconv"

	strata "github.com/stratahq/strata/sdk/go"
)

const (
	// maxSide bounds the requested output size.
	maxSide = 4096
	// maxSourcePixels bounds the decoded input: 16 Mpx is 64 MB as RGBA,
	// which with the scaling buffers fits the function's 256 MB.
	maxSourcePixels = 16 << 20
	jpegQuality     = 85
)

func init() {
	strata.HandleFunc(handle)
}

func handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	out, format, err := resize(body, r.URL.Query().Get("w"), r.URL.Query().Get("h"))
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	log.Printf("resized %s: %d bytes -> %d bytes", format, len(body), len(out))
	w.Header().Set("Content-Type", "image/"+format)
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Write(out)
}

// resize decodes a PNG or JPEG, scales it and encodes it in the same format.
// Every error it returns is the client's fault.
func resize(data []byte, wParam, hParam string) ([]byte, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("body is not a PNG or JPEG image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxSourcePixels {
		return nil, "", fmt.Errorf("image is %dx%d; at most %d pixels are accepted", cfg.Width, cfg.Height, maxSourcePixels)
	}
	dw, dh, err := targetSize(wParam, hParam, cfg.Width, cfg.Height)
	if err != nil {
		return nil, "", err
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("decode %s: %v", format, err)
	}
	dst := Scale(src, dw, dh)
	var buf bytes.Buffer
	switch format {
	case "png":
		err = png.Encode(&buf, dst)
	case "jpeg":
		err = jpeg.Encode(&buf, dst, &jpeg.Options{Quality: jpegQuality})
	default:
		return nil, "", fmt.Errorf("body is not a PNG or JPEG image")
	}
	if err != nil {
		return nil, "", fmt.Errorf("encode %s: %v", format, err)
	}
	return buf.Bytes(), format, nil
}

// targetSize reads the w and h query parameters. With one of them missing the
// other side follows the source's aspect ratio.
func targetSize(wParam, hParam string, sw, sh int) (int, int, error) {
	parse := func(name, v string) (int, error) {
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSide {
			return 0, fmt.Errorf("%s=%s: want a whole number from 1 to %d", name, v, maxSide)
		}
		return n, nil
	}
	w, err := parse("w", wParam)
	if err != nil {
		return 0, 0, err
	}
	h, err := parse("h", hParam)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case w == 0 && h == 0:
		return 0, 0, fmt.Errorf("give the target size as ?w=<width>&h=<height> (either may be left out to keep the aspect ratio)")
	case h == 0:
		h = max(1, min(maxSide, (sh*w+sw/2)/sw))
	case w == 0:
		w = max(1, min(maxSide, (sw*h+sh/2)/sh))
	}
	return w, h, nil
}

// fail writes a JSON error like {"error":"..."}.
func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep "<width>" readable in messages
	enc.Encode(map[string]string{"error": msg})
}

func main() {}
