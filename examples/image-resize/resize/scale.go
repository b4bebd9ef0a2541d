package main

import (
	"image"
	"image/draw"
	"math"
)

// Scale resizes src to w×h with a separable tent (triangle) filter. For
// enlarging this is plain bilinear interpolation; for shrinking the filter
// widens with the scale factor so every source pixel contributes, which
// avoids the aliasing of naive bilinear sampling. It works on premultiplied
// RGBA so that transparent pixels do not bleed their colour into edges.
func Scale(src image.Image, w, h int) *image.RGBA {
	s := toRGBA(src)
	sw, sh := s.Rect.Dx(), s.Rect.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if sw == 0 || sh == 0 || w == 0 || h == 0 {
		return dst
	}
	cols := tentWeights(sw, w)
	rows := tentWeights(sh, h)

	// Horizontal pass: sh rows of w pixels, kept as float32 to avoid
	// rounding twice.
	tmp := make([]float32, sh*w*4)
	for y := range sh {
		in := s.Pix[y*s.Stride : y*s.Stride+sw*4]
		out := tmp[y*w*4 : (y+1)*w*4]
		for x, c := range cols {
			var r, g, b, a float32
			for k, wt := range c.w {
				p := in[(c.start+k)*4 : (c.start+k)*4+4 : (c.start+k)*4+4]
				r += wt * float32(p[0])
				g += wt * float32(p[1])
				b += wt * float32(p[2])
				a += wt * float32(p[3])
			}
			out[x*4], out[x*4+1], out[x*4+2], out[x*4+3] = r, g, b, a
		}
	}

	// Vertical pass into the destination.
	for y, c := range rows {
		out := dst.Pix[y*dst.Stride : y*dst.Stride+w*4]
		for x := range w {
			var r, g, b, a float32
			for k, wt := range c.w {
				i := ((c.start+k)*w + x) * 4
				r += wt * tmp[i]
				g += wt * tmp[i+1]
				b += wt * tmp[i+2]
				a += wt * tmp[i+3]
			}
			out[x*4], out[x*4+1], out[x*4+2], out[x*4+3] = clamp8(r), clamp8(g), clamp8(b), clamp8(a)
		}
	}
	return dst
}

// contrib lists the source pixels one destination pixel is made of: weights
// for the consecutive source indices start, start+1, …
type contrib struct {
	start int
	w     []float32
}

// tentWeights computes, for each of dstN destination pixels along one axis,
// the normalised tent-filter weights over srcN source pixels.
func tentWeights(srcN, dstN int) []contrib {
	scale := float64(srcN) / float64(dstN)
	radius := math.Max(1, scale) // in source pixels
	out := make([]contrib, dstN)
	for i := range out {
		// Centre of destination pixel i in source coordinates, where
		// source pixel j covers [j, j+1) and has its centre at j+0.5.
		center := (float64(i)+0.5)*scale - 0.5
		lo := max(0, int(math.Ceil(center-radius)))
		hi := min(srcN-1, int(math.Floor(center+radius)))
		ws := make([]float32, 0, hi-lo+1)
		var sum float64
		for j := lo; j <= hi; j++ {
			wt := 1 - math.Abs(float64(j)-center)/radius
			if wt < 0 {
				wt = 0
			}
			ws = append(ws, float32(wt))
			sum += wt
		}
		if sum == 0 {
			// Cannot happen for radius ≥ 1, but never divide by zero: take
			// the nearest pixel.
			j := min(srcN-1, max(0, int(math.Round(center))))
			out[i] = contrib{start: j, w: []float32{1}}
			continue
		}
		for k := range ws {
			ws[k] = float32(float64(ws[k]) / sum)
		}
		out[i] = contrib{start: lo, w: ws}
	}
	return out
}

// toRGBA returns src as an *image.RGBA whose bounds start at (0, 0).
func toRGBA(src image.Image) *image.RGBA {
	if m, ok := src.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := src.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, src, b.Min, draw.Src)
	return m
}

func clamp8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
