package main

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestResizeFixtures(t *testing.T) {
	for _, tt := range []struct {
		file, format string
		w, h         string
		wantW, wantH int
	}{
		{"in.png", "png", "64", "64", 64, 64},
		{"in.png", "png", "20", "", 20, 15},
		{"in.png", "png", "", "60", 80, 60},
		{"in.jpg", "jpeg", "16", "12", 16, 12},
		{"in.jpg", "jpeg", "1", "1", 1, 1},
	} {
		t.Run(tt.file+"/"+tt.w+"x"+tt.h, func(t *testing.T) {
			in, err := os.ReadFile("../testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			out, format, err := resize(in, tt.w, tt.h)
			if err != nil {
				t.Fatal(err)
			}
			if format != tt.format {
				t.Errorf("format = %s, want %s", format, tt.format)
			}
			img, gotFormat, err := image.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if gotFormat != tt.format {
				t.Errorf("output encoded as %s, want %s", gotFormat, tt.format)
			}
			if b := img.Bounds(); b.Dx() != tt.wantW || b.Dy() != tt.wantH {
				t.Errorf("size = %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.wantW, tt.wantH)
			}
		})
	}
}

func TestResizeKeepsContent(t *testing.T) {
	// The fixture has a red square in its centre: it must still be there
	// after scaling up and after scaling down.
	in, err := os.ReadFile("../testdata/in.png")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []string{"80", "20"} {
		out, _, err := resize(in, size, "")
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		r, g, bl, _ := img.At(b.Dx()/2, b.Dy()/2).RGBA()
		if r>>8 < 250 || g>>8 > 5 || bl>>8 > 5 {
			t.Errorf("w=%s: centre pixel = %d,%d,%d, want red", size, r>>8, g>>8, bl>>8)
		}
	}
}

func TestResizeRejects(t *testing.T) {
	png, err := os.ReadFile("../testdata/in.png")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		body []byte
		w, h string
		want string
	}{
		{"text body", []byte("hello"), "10", "10", "not a PNG or JPEG"},
		{"empty body", nil, "10", "10", "not a PNG or JPEG"},
		{"truncated png", png[:60], "10", "10", "decode png"},
		{"no size", png, "", "", "give the target size"},
		{"zero", png, "0", "10", "w=0:"},
		{"negative", png, "10", "-3", "h=-3:"},
		{"too big", png, "5000", "10", "w=5000:"},
		{"not a number", png, "ten", "10", "w=ten:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := resize(tt.body, tt.w, tt.h)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestScaleAveragesWhenShrinking(t *testing.T) {
	// Alternating black and white columns shrink to an even grey rather
	// than to whichever column a point sampler would hit.
	src := image.NewRGBA(image.Rect(0, 0, 64, 4))
	for x := range 64 {
		for y := range 4 {
			if x%2 == 0 {
				src.Set(x, y, color.White)
			} else {
				src.Set(x, y, color.Black)
			}
		}
	}
	dst := Scale(src, 8, 1)
	for x := range 8 {
		c := dst.RGBAAt(x, 0)
		if c.R < 112 || c.R > 144 || c.A != 255 {
			t.Errorf("pixel %d = %v, want mid grey", x, c)
		}
	}
}

func TestScaleSolidAndTransparent(t *testing.T) {
	src := image.NewNRGBA(image.Rect(3, 5, 13, 12)) // non-zero origin on purpose
	for y := 5; y < 12; y++ {
		for x := 3; x < 13; x++ {
			src.Set(x, y, color.NRGBA{10, 200, 30, 255})
			if x >= 8 {
				src.Set(x, y, color.NRGBA{255, 255, 255, 0})
			}
		}
	}
	dst := Scale(src, 40, 21)
	if c := dst.RGBAAt(0, 10); c != (color.RGBA{10, 200, 30, 255}) {
		t.Errorf("opaque side = %v", c)
	}
	if c := dst.RGBAAt(39, 10); c != (color.RGBA{}) {
		t.Errorf("transparent side = %v", c)
	}
	// Premultiplied: at the border, colour never exceeds alpha (no white
	// fringe from the transparent pixels).
	for x := range 40 {
		c := dst.RGBAAt(x, 10)
		if c.R > c.A || c.G > c.A || c.B > c.A {
			t.Errorf("pixel %d = %v is not valid premultiplied colour", x, c)
		}
	}
}

func TestJPEGOutputIsJPEG(t *testing.T) {
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 9, 9))
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	out, format, err := resize(buf.Bytes(), "3", "3")
	if err != nil {
		t.Fatal(err)
	}
	if format != "jpeg" || !bytes.HasPrefix(out, []byte{0xff, 0xd8}) {
		t.Errorf("format %s, prefix % x", format, out[:2])
	}
}

func TestHandle(t *testing.T) {
	png, err := os.ReadFile("../testdata/in.png")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query string
		body        []byte
		status      int
		ctype, resp string
	}{
		{"png", "w=64&h=64", png, 200, "image/png", ""},
		{"not an image", "w=64&h=64", []byte("hello"), 400, "application/json", `{"error":"body is not a PNG or JPEG image"}`},
		{"no size", "", png, 400, "application/json", `{"error":"give the target size as ?w=<width>&h=<height> (either may be left out to keep the aspect ratio)"}`},
		{"zero", "w=0&h=10", png, 400, "application/json", `{"error":"w=0: want a whole number from 1 to 4096"}`},
		{"too big", "w=5000&h=10", png, 400, "application/json", `{"error":"w=5000: want a whole number from 1 to 4096"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			handle(rec, httptest.NewRequest("POST", "/resize?"+tt.query, bytes.NewReader(tt.body)))
			if rec.Code != tt.status || rec.Header().Get("Content-Type") != tt.ctype {
				t.Fatalf("got %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			if tt.resp != "" && rec.Body.String() != tt.resp+"\n" {
				t.Errorf("body = %s, want %s", rec.Body, tt.resp)
			}
			if tt.status == 200 {
				cfg, format, err := image.DecodeConfig(rec.Body)
				if err != nil || format != "png" || cfg.Width != 64 || cfg.Height != 64 {
					t.Errorf("answer: %v %s %dx%d", err, format, cfg.Width, cfg.Height)
				}
			}
		})
	}
}
