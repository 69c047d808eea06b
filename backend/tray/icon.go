package tray

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Icon is a state's menu-bar icon, drawn in Go at start-up (no image
// files): Template is black on transparent for macOS, which tints it to
// the menu bar; Color is for trays that show icons as they are (Linux).
// Both are antialiased by alpha alone: every inked pixel has the glyph's
// own colour, only its alpha says how much of it is covered, so the edges
// blend into a dark and a light bar alike, without a fringe.
type Icon struct {
	Template []byte // PNG
	Color    []byte // PNG, 16 bits a channel (see trayPNG)
}

// IconSize is the icons' edge in pixels: macOS shows tray icons at 16
// points, so 32 pixels is sharp on Retina screens.
const IconSize = 32

// Icons holds each state's icon, indexed by State.
var Icons = func() [Error + 1]Icon {
	var out [Error + 1]Icon
	for st := Idle; st <= Error; st++ {
		out[st] = Icon{Template: encode(draw(st, color.NRGBA{A: 255}, true)), Color: trayPNG(draw(st, stateColor[st], false))}
	}
	return out
}()

// stateColor is each state's colour in the Color icons.
var stateColor = [...]color.NRGBA{
	Idle:     {0x8a, 0x8a, 0x8a, 0xff},
	Local:    {0x2e, 0x9d, 0x4a, 0xff},
	Cloud:    {0x2f, 0x7d, 0xe1, 0xff},
	Failover: {0xe6, 0x9a, 0x00, 0xff},
	Error:    {0xd9, 0x30, 0x25, 0xff},
}

// The glyph: three bars (modelbar's mark) and, bottom right, a badge that
// tells the states apart by shape, so the monochrome template icon shows
// them too: none (idle, bars dimmed), a dot (local), a cloud, a double
// chevron (failover), an exclamation mark (error).
func ink(st State, x, y float64) bool {
	badge := badgeShape(st, x, y)
	if badge {
		return true
	}
	if st != Idle && circle(x, y, 24, 24, 8.5) { // keep a gap around the badge
		return false
	}
	return capsule(x, y, 4, 8, 26, 8, 2.2) || capsule(x, y, 4, 16, 20, 16, 2.2) || capsule(x, y, 4, 24, 14, 24, 2.2)
}

func badgeShape(st State, x, y float64) bool {
	switch st {
	case Local:
		return circle(x, y, 24, 24, 6)
	case Cloud:
		return circle(x, y, 20.5, 25.5, 3.5) || circle(x, y, 24.5, 22, 4.5) || circle(x, y, 28, 25.5, 3.3) ||
			(x >= 20.5 && x <= 28 && y >= 25 && y <= 28.8)
	case Failover:
		return capsule(x, y, 18.5, 19, 22.5, 24, 1.5) || capsule(x, y, 22.5, 24, 18.5, 29, 1.5) ||
			capsule(x, y, 24.5, 19, 28.5, 24, 1.5) || capsule(x, y, 28.5, 24, 24.5, 29, 1.5)
	case Error:
		return capsule(x, y, 24, 17.5, 24, 24.5, 2) || circle(x, y, 24, 29, 2.1)
	}
	return false
}

func circle(x, y, cx, cy, r float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }

// capsule: within r of the segment (ax,ay)-(bx,by).
func capsule(x, y, ax, ay, bx, by, r float64) bool {
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, ((x-ax)*dx+(y-ay)*dy)/l))
	}
	px, py := ax+t*dx-x, ay+t*dy-y
	return px*px+py*py <= r*r
}

// draw rasterises the glyph in c, antialiased with 4×4 samples a pixel;
// the idle glyph is drawn at half opacity.
func draw(st State, c color.NRGBA, template bool) *image.NRGBA {
	const n = 4
	img := image.NewNRGBA(image.Rect(0, 0, IconSize, IconSize))
	opacity := 1.0
	if st == Idle && template {
		opacity = 0.5
	}
	for py := 0; py < IconSize; py++ {
		for px := 0; px < IconSize; px++ {
			hits := 0
			for sy := 0; sy < n; sy++ {
				for sx := 0; sx < n; sx++ {
					if ink(st, float64(px)+(float64(sx)+0.5)/n, float64(py)+(float64(sy)+0.5)/n) {
						hits++
					}
				}
			}
			if hits > 0 {
				a := float64(c.A) * opacity * float64(hits) / (n * n)
				img.SetNRGBA(px, py, color.NRGBA{c.R, c.G, c.B, uint8(math.Round(a))})
			}
		}
	}
	return img
}

// trayPNG encodes img (straight, not premultiplied, colour) for
// fyne.io/systray v1.12 on Linux, which turns a PNG into the
// StatusNotifierItem's ARGB32 pixmap by taking the low byte of each
// premultiplied 16-bit channel (argbForImage: byte(r) of img.At().RGBA()).
// An 8-bit PNG's partly covered edge pixels come out of that in unrelated
// colours, a ragged dark and coloured fringe. So each channel is stored
// in 16 bits, chosen as close as possible to the true value among those
// whose premultiplied low byte is the straight 8-bit value the pixmap
// needs: that library then shows the exact colour, and a reader that
// decodes the PNG correctly sees it within a few levels at the faintest
// edge pixels.
func trayPNG(img *image.NRGBA) []byte {
	out := image.NewNRGBA64(img.Bounds())
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			c := img.NRGBAAt(x, y)
			a := uint32(c.A) * 0x101 // its low byte is c.A: the pixmap's alpha is exact
			out.SetNRGBA64(x, y, color.NRGBA64{R: lowByteChannel(c.R, a), G: lowByteChannel(c.G, a), B: lowByteChannel(c.B, a), A: uint16(a)})
		}
	}
	return encode(out)
}

// lowByteChannel is a 16-bit straight channel value for v at alpha a
// (a = A*0x101, A >= 1): its premultiplied value v16*a/0xffff, as
// color.NRGBA64.RGBA computes it, has v as its low byte, and is the one
// such value nearest the premultiplied value a correct reader expects.
// Every premultiplied value from 0 to a is reachable (a/0xffff <= 1), and
// a >= 257 > v, so there always is one. 0 when a is 0 (transparent).
func lowByteChannel(v uint8, a uint32) uint16 {
	if a == 0 {
		return 0
	}
	want := uint32(v) * 0x101 * a / 0xffff
	best, dist := uint32(v), max(uint32(v), want)-min(uint32(v), want)
	for k := max(want>>8, 1) - 1; k <= want>>8+1; k++ {
		p := k<<8 | uint32(v)
		if d := max(p, want) - min(p, want); p <= a && d < dist {
			best, dist = p, d
		}
	}
	return uint16(min((best*0xffff+a-1)/a, 0xffff)) // the least v16 whose premultiplied value is best
}

func encode(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("tray: encode icon: " + err.Error()) // in-memory PNG encoding does not fail
	}
	return b.Bytes()
}

// AppIcon is the application icon (build/appicon.png, from which `wails
// build` makes the macOS .icns): the glyph of the local state in white on
// a blue rounded square, size pixels wide.
func AppIcon(size int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const n = 3
	scale := float64(IconSize) / float64(size) / 0.62 // the glyph fills 62% of the square
	off := (1 - 0.62) / 2 * float64(size)
	bg := color.NRGBA{0x2f, 0x6f, 0xe1, 0xff}
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			inSquare, inGlyph := 0, 0
			for sy := 0; sy < n; sy++ {
				for sx := 0; sx < n; sx++ {
					x, y := float64(px)+(float64(sx)+0.5)/n, float64(py)+(float64(sy)+0.5)/n
					if roundedSquare(x/float64(size), y/float64(size)) {
						inSquare++
						if ink(Local, (x-off)*scale, (y-off)*scale) {
							inGlyph++
						}
					}
				}
			}
			if inSquare == 0 {
				continue
			}
			f := float64(inGlyph) / float64(inSquare)
			mix := func(a uint8) uint8 { return uint8(math.Round(float64(a)*(1-f) + 255*f)) }
			img.SetNRGBA(px, py, color.NRGBA{mix(bg.R), mix(bg.G), mix(bg.B), uint8(255 * inSquare / (n * n))})
		}
	}
	return encode(img)
}

// roundedSquare: inside macOS's icon shape (a square inset by 10%, corner
// radius 22% of it), in unit coordinates.
func roundedSquare(x, y float64) bool {
	const inset, r = 0.1, 0.8 * 0.225
	cx := math.Max(inset+r, math.Min(1-inset-r, x))
	cy := math.Max(inset+r, math.Min(1-inset-r, y))
	return x >= inset && x <= 1-inset && y >= inset && y <= 1-inset && (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
}
